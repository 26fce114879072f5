//! [`Application`]: the bound listener and the router, built from a [`Config`].
//! Tests build one on port 0 with their own database file.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use engine::oauth::{AtlassianClient, ProviderSettings};
use engine::vault::VaultError;
use engine::{
    Clock, Database, DatabaseError, Engine, EngineSettings, Secret, SystemClock, TokenVault,
};
use tokio::net::TcpListener;

use crate::config::{Config, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET};
use crate::guard::access::PublicOrigin;
use crate::guard::hosts::ServedHosts;
use crate::routes::events::streams::LiveStreams;
use crate::routes::events::LiveSettings;
use crate::session::{self, client_address::TrustedProxies};
use crate::state::{leptos_options, AppState};

/// Why the server could not start: one sentence naming the setting at fault.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0}")]
    Database(#[from] DatabaseError),
    #[error("{0}")]
    Vault(#[from] VaultError),
    #[error("{0}")]
    KeyCheck(#[from] engine::db::KeyCheckError),
    #[error("cannot create the HTTP client: {0}")]
    HttpClient(String),
    #[error("{0}")]
    Sandbox(#[from] sandbox::OpenError),
    #[error("{0}")]
    Accounts(String),
    #[error("WEBHOOK_URL: {0}")]
    Webhook(String),
    #[error("DATABASE_URL: cannot create the sessions table: {0}")]
    Sessions(String),
    #[error("LEPTOS_SITE_ADDR: cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A server ready to serve: its listener is bound, its database migrated.
pub struct Application {
    listener: TcpListener,
    router: Router,
    engine: Engine,
    sandbox: Option<sandbox::Sandbox>,
    /// What the engine was built from, kept for test harnesses and the
    /// benchmark (which seed rows and time bare token requests). The routes
    /// only ever reach them through the engine.
    database: Database,
    vault: TokenVault,
    atlassian: AtlassianClient,
    /// While no account exists: the one-time link that creates the first administrator.
    setup_link: Option<String>,
    /// Told `true` when the server stops: the live event streams end.
    stopping: tokio::sync::watch::Sender<bool>,
}

impl Application {
    /// Opens the database, binds the address and assembles the router.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// [`Application::build`] with a chosen clock (tests move time by hand).
    pub async fn build_with_clock(
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartupError> {
        let addr = config.leptos_site_addr;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartupError::Bind { addr, source })?;
        Self::build_on(config, listener, clock).await
    }

    /// Builds on a listener the caller bound (tests bind port 0 first, so the
    /// redirect URI can name the real port).
    pub async fn build_on(
        config: Config,
        listener: TcpListener,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartupError> {
        let addr = config.leptos_site_addr;
        let bound = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { addr, source })?;
        let (db, vault) = open_store(&config, clock.as_ref()).await?;
        let atlassian = AtlassianClient::new(provider_settings(&config, bound))
            .map_err(|e| StartupError::HttpClient(e.to_string()))?;
        let engine = Engine::new(
            db.clone(),
            clock.clone(),
            vault.clone(),
            atlassian.clone(),
            EngineSettings {
                sandbox_mode: config.sandbox_mode(),
                refresh_margin_secs: i64::from(config.refresh_margin_secs),
                max_concurrency: usize::from(config.scheduler_max_concurrency),
                refresh_policy: config.refresh_policy,
            },
        );
        let public_url = url::Url::parse(&config.public_origin())
            .unwrap_or_else(|_| config.jira_redirect_uri.clone());
        let engine = engine.with_connect_links(engine::connect::links::LinkSettings {
            public_url: public_url.clone(),
            return_origins: config.return_origins(),
        });
        let webhook = match (&config.webhook_url, &config.webhook_secret) {
            (Some(url), Some(secret)) => Some((url, Secret::new(secret.clone()))),
            _ => None,
        };
        engine
            .configure_environment_webhook(webhook.as_ref().map(|(url, secret)| (*url, secret)))
            .await
            .map_err(|e| StartupError::Webhook(e.to_string()))?;
        let setup_link = first_admin(&config, &engine).await?;
        let (stopping, _) = tokio::sync::watch::channel(false);
        // The decoy hash an unknown email is checked against, made now.
        engine::accounts::hashing::warm_up().await;
        let public = PublicOrigin {
            origin: config.public_origin(),
            host: public_url
                .host_str()
                .unwrap_or("localhost")
                .to_ascii_lowercase(),
        };
        let state = AppState {
            leptos_options: leptos_options(bound),
            engine: engine.clone(),
            public,
            proxies: TrustedProxies(Arc::new(config.trusted_proxies.clone())),
            live: LiveSettings {
                stopping: stopping.subscribe(),
                heartbeat: std::time::Duration::from_secs(u64::from(config.live_heartbeat_secs)),
                streams: LiveStreams::new(
                    usize::try_from(config.live_streams_per_user).unwrap_or(usize::MAX),
                    usize::try_from(config.live_streams_max).unwrap_or(usize::MAX),
                ),
            },
            proxy: crate::routes::v1::ProxyClient::new()
                .map_err(|e| StartupError::HttpClient(e.to_string()))?,
            metrics: crate::routes::metrics::recorder(),
            product: crate::state::ProductName(config.product_name.trim().into()),
        };
        // Its state in a file of its own: demo integrations survive a restart.
        let sandbox = match config.sandbox_mode() {
            true => Some(sandbox_for(&config, clock, &db).await?),
            false => None,
        };
        let router = crate::router::router(state, sandbox.as_ref().map(sandbox::Sandbox::router));
        let sessions = db
            .sessions()
            .await
            .map_err(|e| StartupError::Sessions(e.to_string()))?;
        let router = with_layers(
            router,
            Guards {
                hosts: ServedHosts::new(config.served_hosts()),
                https: config.secure_cookies(),
                auth: session::auth_layer(engine.clone(), sessions, config.secure_cookies()),
                hop_tickets: engine.hop_tickets(),
            },
        );
        Ok(Self {
            listener,
            router,
            engine,
            sandbox,
            database: db,
            vault,
            atlassian,
            setup_link: setup_link
                .map(|token| format!("{}/setup?token={token}", config.public_origin())),
            stopping,
        })
    }

    /// While no account exists: the link that creates the first administrator
    /// (printed at start-up; it changes at every start until it is used).
    pub fn setup_link(&self) -> Option<&str> {
        self.setup_link.as_deref()
    }

    /// The built-in sandbox, in sandbox mode (tests read its counters).
    pub fn sandbox(&self) -> Option<&sandbox::Sandbox> {
        self.sandbox.as_ref()
    }

    /// The port actually bound (useful when the configuration asked for port 0).
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// `host:port` actually bound, for the start-up log line.
    pub fn local_addr_text(&self) -> String {
        self.listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default()
    }

    /// The engine the routes use.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The database under the engine (test harnesses seed and inspect rows).
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// The token vault (test harnesses check what is stored is ciphertext).
    pub fn vault(&self) -> &TokenVault {
        &self.vault
    }

    /// The OAuth client (the benchmark times a bare token request).
    pub fn atlassian(&self) -> &AtlassianClient {
        &self.atlassian
    }

    /// Serves until the process is stopped (Ctrl-C or SIGTERM).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` completes; then the live event streams end, no
    /// new request is accepted, and those in progress finish.
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let stopping = self.stopping;
        let feed_stops = stopping.subscribe();
        let stop = async move {
            stop.await;
            let _ = stopping.send(true);
        };
        // The peer's address reaches the handlers: the sign-in throttle counts it.
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        // Changes made by other processes sharing the database reach this
        // one's live streams, and this one's reach theirs.
        let feed = engine::change_feed::spawn(self.engine.clone(), feed_stops);
        let served = axum::serve(self.listener, service)
            .with_graceful_shutdown(stop)
            .await;
        // It stops between two looks; the caller flushes what is left
        // after the last refreshes (`Engine::flush_feed`).
        let _ = feed.await;
        served
    }
}

/// The database and the token key, checked against each other.
async fn open_store(
    config: &Config,
    clock: &dyn Clock,
) -> Result<(Database, TokenVault), StartupError> {
    carry_sandbox_state_over(config).await?;
    let db = Database::open(&config.database_url).await?;
    let vault = token_vault(config, &db)?;
    db.check_token_key(&vault, clock.now()).await?;
    Ok((db, vault))
}

/// `server --clear-sign-in-throttle EMAIL`: forgets the failed sign-ins
/// counted against `email` (the server does not start).
pub async fn clear_sign_in_throttle(config: &Config, email: &str) -> Result<u64, StartupError> {
    let (db, _vault) = open_store(config, &SystemClock).await?;
    Ok(engine::accounts::clear_sign_in_throttle(&db, email).await?)
}

/// `server --reseal-tokens`: re-encrypts every stored token with the newest
/// key and answers how many rows changed (the server does not start).
pub async fn reseal_tokens(config: &Config) -> Result<u64, StartupError> {
    let (db, vault) = open_store(config, &SystemClock).await?;
    Ok(db.reseal_tokens(&vault).await?)
}

/// The token key: `TOKEN_ENCRYPTION_KEY`, or in sandbox mode a key file kept
/// beside the database (created, mode 0600, when missing).
fn token_vault(config: &Config, db: &Database) -> Result<TokenVault, StartupError> {
    if let Some(keys) = &config.token_encryption_keys {
        return Ok(TokenVault::from_key_list(keys)?);
    }
    match (&config.token_encryption_key, config.sandbox_mode()) {
        (Some(key), _) => Ok(TokenVault::from_base64(key)?),
        (None, true) => Ok(TokenVault::load_or_create(
            &local_folder(config, db).join("token-encryption.key"),
        )?),
        (None, false) => Err(VaultError::MissingKey.into()),
    }
}

/// Where the OAuth client talks to: the configured URLs, else Atlassian's, or
/// in sandbox mode this very process under `/sandbox`.
fn provider_settings(config: &Config, bound: SocketAddr) -> ProviderSettings {
    let scopes = config
        .jira_scopes
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let (client_id, client_secret, auth, token, api) = if config.sandbox_mode() {
        // The browser reaches the consent page on the redirect URI's host; the
        // server reaches the token endpoint on the address it is bound to.
        let mut browser = config.jira_redirect_uri.clone();
        browser.set_path("/sandbox/authorize");
        browser.set_query(None);
        let ip = if bound.ip().is_unspecified() {
            std::net::IpAddr::from([127, 0, 0, 1])
        } else {
            bound.ip()
        };
        let local = format!("http://{}/sandbox", SocketAddr::new(ip, bound.port()));
        (
            SANDBOX_CLIENT_ID.to_owned(),
            SANDBOX_CLIENT_SECRET.to_owned(),
            browser,
            parse_known(&format!("{local}/oauth/token")),
            parse_known(&local),
        )
    } else {
        (
            config.jira_client_id.clone().unwrap_or_default(),
            config.jira_client_secret.clone().unwrap_or_default(),
            parse_known("https://auth.atlassian.com/authorize"),
            parse_known("https://auth.atlassian.com/oauth/token"),
            parse_known("https://api.atlassian.com"),
        )
    };
    ProviderSettings {
        client_id,
        client_secret: Secret::new(client_secret),
        redirect_uri: config.jira_redirect_uri.clone(),
        scopes,
        auth_url: config.jira_auth_url.clone().unwrap_or(auth),
        token_url: config.jira_token_url.clone().unwrap_or(token),
        api_url: config.jira_api_url.clone().unwrap_or(api),
        timeout: std::time::Duration::from_secs(u64::from(config.provider_timeout_secs)),
    }
}

/// A URL built from known-good parts.
fn parse_known(text: &str) -> url::Url {
    url::Url::parse(text)
        .unwrap_or_else(|_| unreachable!("built from a valid socket address: {text}"))
}

/// Where sandbox mode keeps its local files (the token key; the sandbox's
/// state on PostgreSQL): `DATA_DIR`, else beside a SQLite database, else `data/`.
fn local_folder(config: &Config, db: &Database) -> std::path::PathBuf {
    if let Some(dir) = &config.data_dir {
        return dir.clone();
    }
    db.sqlite_pool()
        .and_then(|pool| {
            pool.connect_options()
                .get_filename()
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map(std::path::Path::to_path_buf)
        })
        .unwrap_or_else(|| std::path::PathBuf::from("data"))
}

/// The built-in sandbox's own SQLite file beside the dashboard's:
/// `data/dashboard.db` keeps it in `data/dashboard-sandbox.db`.
fn sandbox_file_beside(dashboard: &std::path::Path) -> std::path::PathBuf {
    let stem = dashboard
        .file_stem()
        .map_or_else(|| "dashboard".into(), |s| s.to_string_lossy());
    dashboard.with_file_name(format!("{stem}-sandbox.db"))
}

/// Before the dashboard's SQLite database is migrated (which drops the
/// sandbox's old tables there): any sandbox state it still holds moves to the
/// sandbox's own file (see `sandbox::persist::carry_over`).
async fn carry_sandbox_state_over(config: &Config) -> Result<(), StartupError> {
    let Some(dashboard) = sandbox::persist::sqlite_file(&config.database_url) else {
        return Ok(());
    };
    let into = sandbox_file_beside(&dashboard);
    let moved = sandbox::persist::carry_over(&dashboard, &format!("sqlite://{}", into.display()))
        .await
        .map_err(sandbox::OpenError::Database)?;
    if moved {
        tracing::info!(
            "the built-in sandbox's state moved from {} to {}",
            dashboard.display(),
            into.display()
        );
    }
    Ok(())
}

/// The built-in sandbox: one registered client whose callback is ours; its
/// state in a SQLite file of its own, beside the dashboard's SQLite database
/// (`<name>-sandbox.db`), or on PostgreSQL in the data folder
/// (`data/sandbox.db`): the emulated Atlassian is one process's, not the
/// cluster's (`scripts/cluster` runs it as its own process).
async fn sandbox_for(
    config: &Config,
    clock: Arc<dyn Clock>,
    db: &Database,
) -> Result<sandbox::Sandbox, sandbox::OpenError> {
    let client = sandbox::Client {
        id: SANDBOX_CLIENT_ID.to_owned(),
        secret: SANDBOX_CLIENT_SECRET.to_owned(),
        redirect_uris: vec![config.jira_redirect_uri.to_string()],
    };
    let settings = sandbox::Settings {
        access_token_lifetime_secs: config.sandbox_access_token_secs,
        latency_ms: config.sandbox_latency_ms,
        withhold_refresh_tokens: config.sandbox_withhold_refresh_tokens,
        jira_limits: (&config.sandbox_jira_limits).into(),
        ..sandbox::Settings::default()
    };
    let path = match sandbox::persist::sqlite_file(&config.database_url) {
        Some(dashboard) => sandbox_file_beside(&dashboard),
        None => {
            if db.sqlite_pool().is_none() {
                tracing::warn!(
                    "sandbox mode on PostgreSQL: the built-in sandbox keeps its state in this process (DATA_DIR/sandbox.db); several processes sharing the database need a sandbox of their own (JIRA_* pointing at `cargo run -p sandbox`, as scripts/cluster does)"
                );
            }
            let folder = local_folder(config, db);
            // A missing folder makes the open below fail with a sentence.
            let _ = std::fs::create_dir_all(&folder);
            folder.join("sandbox.db")
        }
    };
    let pool = sandbox::persist::open_database(&format!("sqlite://{}", path.display()))
        .await
        .map_err(sandbox::OpenError::Database)?;
    sandbox::Sandbox::open(
        vec![client],
        settings,
        Arc::new(move || clock.now().secs()),
        pool,
    )
    .await
}

/// `ADMIN_EMAIL` / `ADMIN_PASSWORD` create the first administrator; without
/// them, while no account exists, a setup token is issued (for the link).
async fn first_admin(config: &Config, engine: &Engine) -> Result<Option<String>, StartupError> {
    if let (Some(email), Some(password)) = (&config.admin_email, &config.admin_password) {
        engine
            .ensure_admin_from_settings(email, password)
            .await
            .map_err(|e| StartupError::Accounts(format!("ADMIN_EMAIL: {e}")))?;
        return Ok(None);
    }
    engine
        .issue_setup_token()
        .await
        .map_err(|e| StartupError::Accounts(e.to_string()))
}

/// What the guards need: the names it answers to, and the session layer.
struct Guards {
    hosts: ServedHosts,
    /// Served over https: browsers are told to keep to it (HSTS).
    https: bool,
    auth: axum_login::AuthManagerLayer<session::Backend, engine::db::Sessions>,
    /// The hop tickets the start handler issues and the cross-site guard spends.
    hop_tickets: crate::guard::cross_site::HopTickets,
}

/// The layers around every route, the sandbox's included, innermost first.
fn with_layers(router: Router, guards: Guards) -> Router {
    let router = router
        .layer(axum::middleware::from_fn(
            crate::guard::bad_input::bad_arguments_are_400,
        ))
        // Plain paths only; who may pass is declared per group of routes
        // (`crate::router`), inside the session layer.
        .layer(axum::middleware::from_fn(
            crate::guard::access::plain_paths_only,
        ))
        .layer(guards.auth);
    with_outer_layers(router, guards.hosts, guards.https)
        // Outside the cross-site guard, which reads them.
        .layer(axum::Extension(guards.hop_tickets))
}

/// The layers that need no session: cross-site refusal, host allowlist,
/// security headers, panics and tracing.
fn with_outer_layers(router: Router, hosts: ServedHosts, https: bool) -> Router {
    let router = router
        .layer(axum::middleware::from_fn(
            crate::guard::cross_site::reject_cross_site,
        ))
        // Only our own names (DNS rebinding), before anything else looks at the request.
        .layer(axum::middleware::from_fn_with_state(
            hosts,
            crate::guard::hosts::only_served_hosts,
        ))
        // A panic is logged and answered with a generic page, never its text;
        // inside the header layers (the page carries them too) and the trace
        // layer (it is traced as a 500).
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            crate::errors::panic_page,
        ));
    crate::guard::security_headers::with_security_headers(router, https)
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(request_span))
        // Every answer counted, refusals by the layers above included.
        .layer(axum::middleware::from_fn(crate::routes::metrics::track))
}

/// The span of one request: its method and path, never its query string (the
/// callback's carries the authorization code and the state). The status and
/// latency are the trace layer's response event's fields.
fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    tracing::debug_span!(
        "request",
        method = %request.method(),
        path = %crate::guard::loggable_path(request.uri().path()),
    )
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layers' answer to a panicking handler, over real HTTP.
    #[tokio::test]
    async fn a_panic_is_answered_with_a_generic_page_never_its_text() {
        let app = with_outer_layers(
            Router::new().route(
                "/boom",
                axum::routing::get(|| async {
                    let secret = "the-panic-text-with-a-secret";
                    if !secret.is_empty() {
                        panic!("{secret}");
                    }
                    "unreachable"
                }),
            ),
            ServedHosts::new(Vec::new()),
            false,
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        let res = reqwest::get(format!("http://{addr}/boom"))
            .await
            .expect("an answer, not a dropped connection");
        assert_eq!(res.status(), reqwest::StatusCode::INTERNAL_SERVER_ERROR);
        let body = res.text().await.expect("body");
        assert!(!body.contains("the-panic-text"), "{body}");
        assert!(body.contains("/pkg/jira-dashboard.css"), "{body}");
        assert!(body.contains("Something went wrong"), "{body}");
        assert!(body.contains(r#"href="/dashboard""#), "{body}");
    }

    /// Even a panic's page carries the security headers.
    #[tokio::test]
    async fn a_panic_page_carries_the_security_headers() {
        let app = with_outer_layers(
            Router::new().route(
                "/boom",
                axum::routing::get(|| async {
                    if std::hint::black_box(true) {
                        panic!("boom");
                    }
                    "unreachable"
                }),
            ),
            ServedHosts::new(Vec::new()),
            true,
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        let res = reqwest::get(format!("http://{addr}/boom"))
            .await
            .expect("answer");
        assert_eq!(res.status(), reqwest::StatusCode::INTERNAL_SERVER_ERROR);
        let csp = res.headers()["content-security-policy"]
            .to_str()
            .expect("ascii");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(
            res.headers()["strict-transport-security"],
            "max-age=31536000"
        );
    }
}
