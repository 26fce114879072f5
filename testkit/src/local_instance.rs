//! A whole dashboard in sandbox mode on a free local port, with a throw-away
//! database and the redirect URI on the real port: what the integration
//! tests and the benchmark run against. The database is a SQLite file, or,
//! when `TEST_POSTGRES_URL` names a PostgreSQL server
//! (`postgres://user@host:port`), a fresh database of its own there: the
//! same tests then run on PostgreSQL (`scripts/test` does both).

use std::sync::Arc;

use engine::oauth::AtlassianClient;
use engine::{Clock, Database, Engine, TokenVault};
use tokio::net::TcpListener;

use server::{Application, Config};

/// The administrator every [`LocalInstance::start`] creates (`ADMIN_EMAIL`).
pub const ADMIN_EMAIL: &str = "admin@example.com";
/// Their password (`ADMIN_PASSWORD`).
pub const ADMIN_PASSWORD: &str = "local-instance-password";

/// A running local dashboard; its database folder is removed when dropped.
pub struct LocalInstance {
    /// `http://127.0.0.1:<port>`
    pub base: String,
    pub engine: Engine,
    pub sandbox: sandbox::Sandbox,
    /// The engine's database, vault and OAuth client, for seeding and inspecting.
    pub database: Database,
    pub vault: TokenVault,
    pub atlassian: AtlassianClient,
    /// The SQLite file it runs on (unused on PostgreSQL).
    pub database_file: std::path::PathBuf,
    /// Its `DATABASE_URL`.
    pub database_url: String,
    /// While no account exists: the first administrator's setup link.
    pub setup_link: Option<String>,
    stop: tokio::sync::watch::Sender<bool>,
    place: Arc<Place>,
}

/// Where an instance's data lives: a folder (the SQLite file, the token key,
/// the sandbox's state) and the database's URL; a restart reuses both.
struct Place {
    dir: tempfile::TempDir,
    database_url: String,
}

impl Place {
    async fn new() -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let database_url = match std::env::var("TEST_POSTGRES_URL") {
            Ok(server) if !server.is_empty() => fresh_postgres_database(&server).await?,
            _ => format!("sqlite://{}", dir.path().join("dashboard.db").display()),
        };
        Ok(Self { dir, database_url })
    }
}

/// Creates a new, empty database on the PostgreSQL server at `server`; its URL.
pub(crate) async fn fresh_postgres_database(server: &str) -> Result<String, String> {
    use sqlx::Connection;
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let server = server.trim_end_matches('/');
    let name = format!(
        "test_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    );
    let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres"))
        .await
        .map_err(|e| format!("TEST_POSTGRES_URL: {e}"))?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .map_err(|e| format!("TEST_POSTGRES_URL: create database: {e}"))?;
    let _ = admin.close().await;
    Ok(format!("{server}/{name}"))
}

impl LocalInstance {
    /// Binds port 0, builds the application with `clock` and the extra
    /// command-line flags `extra` (e.g. `["--refresh-margin-secs", "0"]`), and
    /// serves it on a task of its own. Its administrator is [`ADMIN_EMAIL`].
    pub async fn start(extra: &[&str], clock: Arc<dyn Clock>) -> Result<Self, String> {
        let mut with_admin = vec![
            "--admin-email",
            ADMIN_EMAIL,
            "--admin-password",
            ADMIN_PASSWORD,
        ];
        with_admin.extend_from_slice(extra);
        Self::start_in(Arc::new(Place::new().await?), &with_admin, clock).await
    }

    /// [`LocalInstance::start`] without any account: a first start, whose
    /// setup link is in [`LocalInstance::setup_link`].
    pub async fn start_without_accounts(
        extra: &[&str],
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        Self::start_in(Arc::new(Place::new().await?), extra, clock).await
    }

    /// Connected integrations `ids` (none may exist yet), each holding a
    /// real token family of the in-process sandbox: see [`seed_families`].
    pub async fn seed_sandbox_families(
        &self,
        ids: std::ops::RangeInclusive<i64>,
        t0: i64,
        expires_at: impl Fn(i64) -> i64,
    ) {
        let to = Seeding {
            database: &self.database,
            vault: &self.vault,
            sandbox: &self.sandbox,
            client_id: &self.atlassian.settings().client_id,
            redirect_uri: self.engine.redirect_uri().as_str(),
        };
        seed_families(&to, ids, t0, expires_at).await;
    }

    /// Stops serving, as a stopping server does: the live event streams end
    /// and no new request is accepted.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// A restart, as far as the data can tell: a second dashboard on this one's
    /// database file and token key, on a new port. (This one keeps serving;
    /// a test simply stops talking to it.)
    pub async fn restart(&self, extra: &[&str], clock: Arc<dyn Clock>) -> Result<Self, String> {
        Self::start_in(self.place.clone(), extra, clock).await
    }

    async fn start_in(
        place: Arc<Place>,
        extra: &[&str],
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("bind: {e}"))?;
        let addr = listener.local_addr().map_err(|e| format!("bind: {e}"))?;
        let db = place.database_url.clone();
        let data_dir = place.dir.path().display().to_string();
        let redirect = format!("http://{addr}/oauth/callback");
        let site_addr = addr.to_string();
        let mut args = vec![
            "server",
            "--leptos-site-addr",
            site_addr.as_str(),
            "--database-url",
            db.as_str(),
            "--data-dir",
            data_dir.as_str(),
        ];
        // The redirect URI on the real port, unless the caller names another.
        if !extra.contains(&"--jira-redirect-uri") {
            args.extend(["--jira-redirect-uri", redirect.as_str()]);
        }
        args.extend_from_slice(extra);
        let config = Config::from_args(args)
            .map_err(|e| e.to_string())?
            .ok_or("--help is not a configuration")?;
        let app = Application::build_on(config, listener, clock)
            .await
            .map_err(|e| e.to_string())?;
        let engine = app.engine().clone();
        let database = app.database().clone();
        let vault = app.vault().clone();
        let atlassian = app.atlassian().clone();
        let sandbox = app.sandbox().ok_or("not in sandbox mode")?.clone();
        let setup_link = app.setup_link().map(str::to_owned);
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(app.run_until(async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        }));
        Ok(Self {
            base: format!("http://{addr}"),
            database_file: place.dir.path().join("dashboard.db"),
            database_url: place.database_url.clone(),
            engine,
            sandbox,
            database,
            vault,
            atlassian,
            setup_link,
            stop,
            place,
        })
    }
}

/// Where [`seed_families`] writes: a dashboard's database and token key, and
/// the sandbox (with its registered client and callback) that issues the
/// families.
pub struct Seeding<'a> {
    pub database: &'a Database,
    pub vault: &'a TokenVault,
    pub sandbox: &'a sandbox::Sandbox,
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
}

/// Connected integrations `ids` (none may exist yet), each holding a
/// real token family of `to.sandbox` (issued by its consent
/// and code exchange, without the HTTP round trips) sealed as the
/// connect flow seals it: Ada's grant on one site, issued at `t0`, the
/// access token expiring at `expires_at(id)`. A thousand rows per
/// transaction, the sandbox's record of them stored after each.
///
/// # Panics
/// When the database or the sandbox refuse a write: seeding is set-up.
pub async fn seed_families(
    to: &Seeding<'_>,
    ids: std::ops::RangeInclusive<i64>,
    t0: i64,
    expires_at: impl Fn(i64) -> i64,
) {
    use domain::IntegrationId;
    use engine::vault::Column;
    use engine::Secret;
    const CHUNK: i64 = 1_000;
    let redirect_uri = to.redirect_uri.to_owned();
    let client_id = to.client_id.to_owned();
    use engine::db::query;
    let (mut first, end) = ids.into_inner();
    while first <= end {
        let last = (first + CHUNK - 1).min(end);
        let issued: Vec<_> = {
            let mut store = to.sandbox.store();
            (first..=last)
                .map(|_| {
                    let code = store.issue_code(
                        sandbox::rules::CodeGrant {
                            client_id: client_id.clone(),
                            redirect_uri: redirect_uri.clone(),
                            scopes: vec!["read:jira-work".into(), "offline_access".into()],
                            account_id: "557058:ada-lovelace".into(),
                            cloud_ids: vec!["11111111-aaaa-4aaa-8aaa-111111111111".into()],
                            code_challenge: None,
                        },
                        t0,
                    );
                    store
                        .exchange_code(&client_id, &code, &redirect_uri, None, t0)
                        .expect("exchange")
                })
                .collect()
        };
        let mut tx = to.database.begin().await.expect("tx");
        for (id, tokens) in (first..=last).zip(issued) {
            let iid = IntegrationId(id);
            let access = to
                .vault
                .encrypt(iid, Column::AccessToken, &Secret::new(tokens.access_token))
                .expect("seal");
            let refresh = to
                .vault
                .encrypt(
                    iid,
                    Column::RefreshToken,
                    &Secret::new(tokens.refresh_token.expect("a refresh token")),
                )
                .expect("seal");
            query(
                "INSERT INTO integrations (id, account_id, account_name, account_email, scopes, refresh_token,
                    access_token, expires_at, access_token_lifetime, is_active, refresh_token_issued_at,
                    consented_at, created_at, updated_at)
                 VALUES ($1, 'family-' || CAST($1 AS TEXT), 'Family ' || CAST($1 AS TEXT), NULL,
                    'read:jira-work offline_access', $2, $3, $4, 3600, 1, $5, $5, $5, $5)",
            )
            .bind(id)
            .bind(refresh)
            .bind(access)
            .bind(expires_at(id))
            .bind(t0)
            .execute(&mut tx)
            .await
            .expect("insert");
            query(
                "INSERT INTO integration_sites VALUES ($1, 'cloud-' || CAST($1 AS TEXT),
                    'site-' || CAST($1 AS TEXT),
                    'https://site-' || CAST($1 AS TEXT) || '.atlassian.net')",
            )
            .bind(id)
            .execute(&mut tx)
            .await
            .expect("site");
        }
        if tx.is_postgres() {
            // Rows inserted with their ids: the next id the database
            // hands out must come after them.
            query(
                "SELECT setval(pg_get_serial_sequence('integrations', 'id'),
                    (SELECT max(id) FROM integrations))",
            )
            .execute(&mut tx)
            .await
            .expect("sequence");
        }
        tx.commit().await.expect("commit");
        to.sandbox.flush().await.expect("sandbox state");
        first = last + 1;
    }
}
