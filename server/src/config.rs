//! Configuration: each setting is a flag and an environment variable (a `.env`
//! file is read first when present). Values are parsed into their real types
//! here, so a bad one stops start-up with a line naming the variable.

use std::net::SocketAddr;

use clap::Parser;
use domain::RefreshPolicy;
use url::Url;

/// The dashboard's configuration. Its `Debug` redacts the client secret and
/// the token encryption key.
#[derive(Clone, Parser)]
#[command(name = "server", about = "Jira OAuth integration dashboard")]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "LEPTOS_SITE_ADDR", default_value = "127.0.0.1:3000")]
    pub leptos_site_addr: SocketAddr,

    /// SQLite database (the file and its folder are created when missing),
    /// or PostgreSQL: `postgres://user:password@host:port/database`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/dashboard.db"
    )]
    pub database_url: String,

    /// OAuth client id from the Atlassian developer console; unset = sandbox mode.
    #[arg(long, env = "JIRA_CLIENT_ID")]
    pub jira_client_id: Option<String>,

    /// OAuth client secret; required with JIRA_CLIENT_ID.
    #[arg(long, env = "JIRA_CLIENT_SECRET", hide_env_values = true)]
    pub jira_client_secret: Option<String>,

    /// The callback registered with the provider.
    #[arg(
        long,
        env = "JIRA_REDIRECT_URI",
        default_value = "http://localhost:3000/oauth/callback"
    )]
    pub jira_redirect_uri: Url,

    /// Space-separated scopes to request.
    #[arg(
        long,
        env = "JIRA_SCOPES",
        default_value = "read:jira-work read:jira-user read:me offline_access"
    )]
    pub jira_scopes: String,

    /// Consent page URL (default: Atlassian's, or the sandbox's in sandbox mode).
    #[arg(long, env = "JIRA_AUTH_URL")]
    pub jira_auth_url: Option<Url>,

    /// Token endpoint URL (default: Atlassian's, or the sandbox's in sandbox mode).
    #[arg(long, env = "JIRA_TOKEN_URL")]
    pub jira_token_url: Option<Url>,

    /// Base of accessible-resources, /me and /ex/jira/... (default: Atlassian's API).
    #[arg(long, env = "JIRA_API_URL")]
    pub jira_api_url: Option<Url>,

    /// Base64 of 32 bytes: the key that encrypts tokens at rest.
    #[arg(long, env = "TOKEN_ENCRYPTION_KEY", hide_env_values = true)]
    pub token_encryption_key: Option<String>,

    /// Several keys, newest first, separated by commas: the newest encrypts,
    /// any decrypts (key rotation). Takes the place of TOKEN_ENCRYPTION_KEY.
    #[arg(long, env = "TOKEN_ENCRYPTION_KEYS", hide_env_values = true)]
    pub token_encryption_keys: Option<String>,

    /// Re-encrypt every stored token with the newest key, then exit.
    #[arg(long)]
    pub reseal_tokens: bool,

    /// Forget the failed sign-ins counted against this email (someone kept
    /// out while strangers guess at it), then exit.
    #[arg(long, value_name = "EMAIL")]
    pub clear_sign_in_throttle: Option<String>,

    /// Refresh access tokens this many seconds before they expire.
    #[arg(long, env = "REFRESH_MARGIN_SECS", default_value_t = 300)]
    pub refresh_margin_secs: u32,

    /// When access tokens are refreshed: `scheduled` keeps every one fresh
    /// (refreshed within the margin of its expiry, about 26 token requests a day per
    /// integration); `on-demand` refreshes one only when something needs it
    /// (a button, a token hand-out, the proxy, a connection test) and keeps
    /// the refresh tokens alive against the 90-day inactivity expiry.
    #[arg(long, env = "REFRESH_POLICY", default_value = "scheduled", value_parser = refresh_policy)]
    pub refresh_policy: RefreshPolicy,

    /// Give up on a request to Atlassian after this many seconds (a timeout is
    /// a transient failure: the tokens are kept and the refresh retried).
    #[arg(long, env = "PROVIDER_TIMEOUT_SECS", default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..))]
    pub provider_timeout_secs: u32,

    /// How often the background scheduler looks for work, in seconds (at most
    /// 300, so a refresh whose answer was lost is retried inside the 10-minute leeway).
    #[arg(long, env = "SCHEDULER_INTERVAL_SECS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=300))]
    pub scheduler_interval_secs: u32,

    /// The most token requests the scheduler keeps in flight at once. Below
    /// it the number adapts to the provider: it grows while answers come
    /// back as fast as ever, shrinks when they slow down, halves on a 429.
    #[arg(long, env = "SCHEDULER_MAX_CONCURRENCY", default_value_t = 256, value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub scheduler_max_concurrency: u16,

    /// Sandbox mode only: lifetime of the access tokens the sandbox issues
    /// (Atlassian's is 3600; 60 makes a demo's countdown visible).
    #[arg(long, env = "SANDBOX_ACCESS_TOKEN_SECS", default_value_t = 3600, value_parser = clap::value_parser!(i64).range(1..=31_536_000))]
    pub sandbox_access_token_secs: i64,

    /// Sandbox mode: every provider endpoint answers after this many
    /// milliseconds (the real Atlassian: tens to hundreds; at most 60000).
    #[arg(long, env = "SANDBOX_LATENCY_MS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(..=60_000))]
    pub sandbox_latency_ms: u64,

    /// Sandbox mode's local files (its token key; on PostgreSQL, the
    /// emulator's own state, `sandbox.db`); unset = beside the SQLite
    /// database, or `data` on PostgreSQL.
    #[arg(long, env = "DATA_DIR")]
    pub data_dir: Option<std::path::PathBuf>,

    /// Sandbox mode only: issue no refresh tokens, like an app registered
    /// without offline access.
    #[arg(long, env = "SANDBOX_WITHHOLD_REFRESH_TOKENS", default_value_t = false)]
    pub sandbox_withhold_refresh_tokens: bool,

    /// Sandbox mode only: Jira's rate limits (the quota's points and tier,
    /// the burst and per-issue write limits).
    #[command(flatten)]
    pub sandbox_jira_limits: sandbox::jira::rate_limit::limits::LimitArgs,

    /// The address people use to reach the dashboard (default: the redirect
    /// URI's origin). Only its host and the loopback names are served; an
    /// https one makes the session cookie `Secure`.
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: Option<Url>,

    /// With ADMIN_PASSWORD, and while no account exists: this administrator is
    /// created at start-up (containers, tests). Otherwise a one-time setup link is printed.
    #[arg(long, env = "ADMIN_EMAIL")]
    pub admin_email: Option<String>,

    /// The password of ADMIN_EMAIL (at least 10 characters). Prefer the
    /// environment variable: a command-line flag is visible to `ps`.
    #[arg(long, env = "ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,

    /// Reverse proxies in front of the server (IP addresses, comma-separated):
    /// from their requests the sign-in throttle counts the client address
    /// they forward in X-Forwarded-For, not their own.
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,

    /// Seconds between the heartbeats of an idle live event stream (`/events`).
    #[arg(long, env = "LIVE_HEARTBEAT_SECS", default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..=300))]
    pub live_heartbeat_secs: u32,

    /// Live event streams (`/events`) one user may hold open at once (a page
    /// per open tab); one more is refused with `429`.
    #[arg(long, env = "LIVE_STREAMS_PER_USER", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub live_streams_per_user: u32,

    /// Live event streams this process holds open at once, all users
    /// together; one more is refused with `429`.
    #[arg(long, env = "LIVE_STREAMS_MAX", default_value_t = 2_000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub live_streams_max: u32,

    /// A webhook endpoint for automation (with WEBHOOK_SECRET): it receives
    /// every event type. The operator's own choice, so it may be anywhere,
    /// private addresses included.
    #[arg(long, env = "WEBHOOK_URL")]
    pub webhook_url: Option<Url>,

    /// The name of the company's product, on the pages a connect link's
    /// visitor sees ("Connect Jira to <name>").
    #[arg(long, env = "PRODUCT_NAME", default_value = "Jira Integrations")]
    pub product_name: String,

    /// The origins a connect link's `returnUrl` may be on (comma-separated,
    /// like https://app.example.com); none: links end on this product's own
    /// result page.
    #[arg(long, env = "CONNECT_RETURN_ORIGINS", value_delimiter = ',')]
    pub connect_return_origins: Vec<Url>,

    /// The signing secret of WEBHOOK_URL, in the Standard Webhooks format:
    /// `whsec_` followed by the base64 of at least 16 random bytes.
    #[arg(long, env = "WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
}

/// The client the built-in sandbox registers in sandbox mode.
pub const SANDBOX_CLIENT_ID: &str = "sandbox-client-id";
/// Its secret (the sandbox checks it like Atlassian does).
pub const SANDBOX_CLIENT_SECRET: &str = "sandbox-client-secret";

/// A configuration that cannot run, in one sentence naming the variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Invalid(String),
    #[error("JIRA_CLIENT_SECRET must be set when JIRA_CLIENT_ID is set")]
    MissingSecret,
    #[error("JIRA_SCOPES must name at least one scope")]
    NoScopes,
    #[error("ADMIN_EMAIL and ADMIN_PASSWORD must be set together")]
    AdminHalfSet,
    #[error("ADMIN_EMAIL: {0}")]
    AdminEmail(String),
    #[error("ADMIN_PASSWORD: {0}")]
    AdminPassword(String),
    #[error("WEBHOOK_URL and WEBHOOK_SECRET must be set together")]
    WebhookHalfSet,
    #[error("WEBHOOK_URL must be an http or https address with a host and no user name or password, like https://hooks.example.com/jira")]
    WebhookUrl,
    #[error("WEBHOOK_SECRET {0}")]
    WebhookSecret(&'static str),
    #[error("PUBLIC_URL must be an http or https address with a host, like https://jira-dash.example.com")]
    PublicUrl,
    #[error("CONNECT_RETURN_ORIGINS must list origins only (http or https, a host, an optional port, no path), like https://app.example.com: {0} is not one")]
    ReturnOrigin(String),
    #[error("PRODUCT_NAME must be 1 to 80 characters without control characters")]
    ProductName,
    #[error("PUBLIC_URL ({public}) and JIRA_REDIRECT_URI ({redirect}) must share their origin: the OAuth flow ends where people sign in")]
    PublicUrlElsewhere { public: String, redirect: String },
}

impl Config {
    /// Reads `.env` (if present), then flags and the environment.
    ///
    /// `Ok(None)` means clap printed help or the version and the process should exit 0.
    pub fn from_env_and_args() -> Result<Option<Self>, ConfigError> {
        // A missing .env is normal; a malformed one is reported like any bad value.
        if let Err(e) = dotenvy::dotenv() {
            if !e.not_found() {
                return Err(ConfigError::Invalid(format!(".env could not be read: {e}")));
            }
        }
        Self::from_args(std::env::args_os())
    }

    /// Parses `args` (and the environment) and checks the combination.
    pub fn from_args<I, T>(args: I) -> Result<Option<Self>, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        match Self::try_parse_from(args) {
            Ok(config) => config.validated().map(Some),
            Err(e) if !e.use_stderr() => {
                // --help / --version
                let _ = e.print();
                Ok(None)
            }
            Err(e) => {
                let rendered = e.to_string();
                let first = rendered.lines().next().unwrap_or("invalid configuration");
                Err(ConfigError::Invalid(
                    first.trim_start_matches("error: ").to_owned(),
                ))
            }
        }
    }

    fn validated(self) -> Result<Self, ConfigError> {
        if self.jira_client_id.is_some() && self.jira_client_secret.is_none() {
            return Err(ConfigError::MissingSecret);
        }
        if self.jira_scopes.split_whitespace().next().is_none() {
            return Err(ConfigError::NoScopes);
        }
        match (&self.admin_email, &self.admin_password) {
            (None, None) => {}
            (Some(email), Some(password)) => {
                use engine::accounts::rules;
                rules::normalized_email(email).map_err(ConfigError::AdminEmail)?;
                rules::check_new_password(password).map_err(ConfigError::AdminPassword)?;
            }
            _ => return Err(ConfigError::AdminHalfSet),
        }
        match (&self.webhook_url, &self.webhook_secret) {
            (None, None) => {}
            (Some(url), Some(secret)) => {
                if !matches!(url.scheme(), "http" | "https")
                    || url.host_str().is_none()
                    || !url.username().is_empty()
                    || url.password().is_some()
                {
                    return Err(ConfigError::WebhookUrl);
                }
                engine::webhooks::signing::check_secret(secret)
                    .map_err(ConfigError::WebhookSecret)?;
            }
            _ => return Err(ConfigError::WebhookHalfSet),
        }
        for origin in &self.connect_return_origins {
            let bare = matches!(origin.scheme(), "http" | "https")
                && origin.host_str().is_some()
                && origin.username().is_empty()
                && origin.password().is_none()
                && origin.path() == "/"
                && origin.query().is_none()
                && origin.fragment().is_none();
            if !bare {
                return Err(ConfigError::ReturnOrigin(origin.to_string()));
            }
        }
        let name = self.product_name.trim();
        if name.is_empty() || name.chars().count() > 80 || name.chars().any(char::is_control) {
            return Err(ConfigError::ProductName);
        }
        if let Some(url) = &self.public_url {
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return Err(ConfigError::PublicUrl);
            }
            let (public, redirect) = (url.origin(), self.jira_redirect_uri.origin());
            if public != redirect {
                return Err(ConfigError::PublicUrlElsewhere {
                    public: public.ascii_serialization(),
                    redirect: redirect.ascii_serialization(),
                });
            }
        }
        Ok(self)
    }

    /// Where people reach the dashboard: `PUBLIC_URL`'s origin, else the
    /// redirect URI's (the OAuth flow ends on that host, so its cookie lives there).
    pub fn public_origin(&self) -> String {
        self.public_url
            .as_ref()
            .unwrap_or(&self.jira_redirect_uri)
            .origin()
            .ascii_serialization()
    }

    /// The host names served besides the loopback ones: the public URL's and
    /// the redirect URI's.
    pub fn served_hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = [self.public_url.as_ref(), Some(&self.jira_redirect_uri)]
            .into_iter()
            .flatten()
            .filter_map(|u| u.host_str().map(str::to_ascii_lowercase))
            .collect();
        hosts.dedup();
        hosts
    }

    /// Whether the session cookie must be `Secure` (the public URL is https).
    pub fn secure_cookies(&self) -> bool {
        self.public_origin().starts_with("https://")
    }

    /// The page a user should open: the public origin + `/dashboard`.
    pub fn dashboard_url(&self) -> String {
        format!("{}/dashboard", self.public_origin())
    }

    /// The origins a connect link may return to, as `Url::origin` writes them.
    pub fn return_origins(&self) -> Vec<String> {
        self.connect_return_origins
            .iter()
            .map(|u| u.origin().ascii_serialization())
            .collect()
    }

    /// Sandbox mode: no client id configured, the built-in emulator stands in.
    pub fn sandbox_mode(&self) -> bool {
        self.jira_client_id.is_none()
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |set: &Option<String>| set.as_ref().map(|_| "<redacted>");
        let url = |u: &Url| without_password(u.as_str());
        let optional_url = |u: &Option<Url>| u.as_ref().map(url);
        f.debug_struct("Config")
            .field("leptos_site_addr", &self.leptos_site_addr)
            .field("database_url", &without_password(&self.database_url))
            .field("jira_client_id", &self.jira_client_id)
            .field("jira_client_secret", &redacted(&self.jira_client_secret))
            .field("jira_redirect_uri", &url(&self.jira_redirect_uri))
            .field("jira_scopes", &self.jira_scopes)
            .field("jira_auth_url", &optional_url(&self.jira_auth_url))
            .field("jira_token_url", &optional_url(&self.jira_token_url))
            .field("jira_api_url", &optional_url(&self.jira_api_url))
            .field(
                "token_encryption_key",
                &redacted(&self.token_encryption_key),
            )
            .field(
                "token_encryption_keys",
                &redacted(&self.token_encryption_keys),
            )
            .field("reseal_tokens", &self.reseal_tokens)
            .field("clear_sign_in_throttle", &self.clear_sign_in_throttle)
            .field("refresh_margin_secs", &self.refresh_margin_secs)
            .field("refresh_policy", &self.refresh_policy)
            .field("provider_timeout_secs", &self.provider_timeout_secs)
            .field("scheduler_interval_secs", &self.scheduler_interval_secs)
            .field("scheduler_max_concurrency", &self.scheduler_max_concurrency)
            .field("sandbox_access_token_secs", &self.sandbox_access_token_secs)
            .field("sandbox_latency_ms", &self.sandbox_latency_ms)
            .field("data_dir", &self.data_dir)
            .field(
                "sandbox_withhold_refresh_tokens",
                &self.sandbox_withhold_refresh_tokens,
            )
            .field("public_url", &self.public_url.as_ref().map(url))
            .field("admin_email", &self.admin_email)
            .field("admin_password", &redacted(&self.admin_password))
            .field("trusted_proxies", &self.trusted_proxies)
            .field("product_name", &self.product_name)
            .field("connect_return_origins", &self.return_origins())
            .field("live_heartbeat_secs", &self.live_heartbeat_secs)
            .field("live_streams_per_user", &self.live_streams_per_user)
            .field("live_streams_max", &self.live_streams_max)
            // The origin only: a hook's path may carry its own credential.
            .field(
                "webhook_url",
                &self
                    .webhook_url
                    .as_ref()
                    .map(|u| u.origin().ascii_serialization()),
            )
            .field("webhook_secret", &redacted(&self.webhook_secret))
            .finish()
    }
}

/// `REFRESH_POLICY`'s value.
fn refresh_policy(text: &str) -> Result<RefreshPolicy, String> {
    RefreshPolicy::parse(text).ok_or_else(|| "use scheduled or on-demand".to_owned())
}

/// A URL as text, with any password in it replaced.
fn without_password(text: &str) -> String {
    match Url::parse(text) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("redacted"));
            url.to_string()
        }
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_sandbox_mode_on_port_3000() {
        let config = Config::from_args(["server"])
            .expect("valid")
            .expect("not help");
        assert!(config.sandbox_mode());
        assert_eq!(config.leptos_site_addr.port(), 3000);
        assert_eq!(config.refresh_margin_secs, 300);
        assert_eq!(config.refresh_policy, RefreshPolicy::Scheduled);
    }

    #[test]
    fn the_refresh_policy_is_scheduled_or_on_demand() {
        let config = Config::from_args(["server", "--refresh-policy", "on-demand"])
            .expect("valid")
            .expect("not help");
        assert_eq!(config.refresh_policy, RefreshPolicy::OnDemand);
        let err = Config::from_args(["server", "--refresh-policy", "lazy"]).expect_err("must fail");
        let text = err.to_string();
        assert!(text.contains("REFRESH_POLICY"), "{text}");
        assert!(text.contains("scheduled or on-demand"), "{text}");
        assert_eq!(text.lines().count(), 1, "{text}");
    }

    #[test]
    fn a_bad_url_names_its_variable_in_one_line() {
        let err =
            Config::from_args(["server", "--jira-token-url", "not a url"]).expect_err("must fail");
        let text = err.to_string();
        assert!(text.contains("JIRA_TOKEN_URL"), "{text}");
        assert_eq!(text.lines().count(), 1, "{text}");
    }

    #[test]
    fn debug_never_prints_the_client_secret_or_the_token_key() {
        let key = "S2V5S2V5S2V5S2V5S2V5S2V5S2V5S2V5S2V5S2V5S2U=";
        let config = Config::from_args([
            "server",
            "--jira-client-id",
            "the-client-id",
            "--jira-client-secret",
            "the-client-secret",
            "--token-encryption-key",
            key,
            "--jira-api-url",
            "https://user:the-url-password@api.example.com",
        ])
        .expect("valid")
        .expect("not help");
        let printed = format!("{config:?} {config:#?}");
        assert!(!printed.contains("the-client-secret"), "{printed}");
        assert!(!printed.contains(key), "{printed}");
        assert!(!printed.contains("the-url-password"), "{printed}");
        assert!(printed.contains("the-client-id"), "{printed}");
        assert!(printed.contains("<redacted>"), "{printed}");
    }

    #[test]
    fn the_dashboard_to_open_is_on_the_redirect_uris_origin() {
        let config = Config::from_args(["server"])
            .expect("valid")
            .expect("not help");
        assert_eq!(config.dashboard_url(), "http://localhost:3000/dashboard");
        let config = Config::from_args([
            "server",
            "--jira-redirect-uri",
            "https://jira-dash.example.com/oauth/callback",
        ])
        .expect("valid")
        .expect("not help");
        assert_eq!(
            config.dashboard_url(),
            "https://jira-dash.example.com/dashboard"
        );
    }

    #[test]
    fn connect_settings_are_checked() {
        let config = Config::from_args([
            "server",
            "--connect-return-origins",
            "https://app.example.com,http://localhost:8080",
        ])
        .expect("valid")
        .expect("not help");
        assert_eq!(
            config.return_origins(),
            ["https://app.example.com", "http://localhost:8080"]
        );
        assert_eq!(config.product_name, "Jira Integrations");
        for bad in [
            "https://app.example.com/return",
            "ftp://app.example.com",
            "https://u:p@app.example.com",
        ] {
            let e = Config::from_args(["server", "--connect-return-origins", bad])
                .expect_err("must fail")
                .to_string();
            assert!(e.starts_with("CONNECT_RETURN_ORIGINS"), "{e}");
        }
        let e = Config::from_args(["server", "--product-name", " "])
            .expect_err("must fail")
            .to_string();
        assert!(e.starts_with("PRODUCT_NAME"), "{e}");
    }

    #[test]
    fn admin_settings_come_in_pairs_and_are_checked() {
        let one_line = |args: &[&str]| {
            let mut all = vec!["server"];
            all.extend_from_slice(args);
            Config::from_args(all).expect_err("must fail").to_string()
        };
        assert!(one_line(&["--admin-email", "a@b.c"]).contains("ADMIN_PASSWORD"));
        assert!(one_line(&[
            "--admin-email",
            "nobody",
            "--admin-password",
            "long enough password"
        ])
        .starts_with("ADMIN_EMAIL"));
        assert!(
            one_line(&["--admin-email", "a@b.c", "--admin-password", "short"])
                .starts_with("ADMIN_PASSWORD")
        );
        assert!(one_line(&["--public-url", "ftp://example.com"]).starts_with("PUBLIC_URL"));
        assert!(
            one_line(&["--public-url", "https://elsewhere.example.com"]).starts_with("PUBLIC_URL")
        );
        assert!(one_line(&["--trusted-proxies", "10.0.0.1,nonsense"]).contains("TRUSTED_PROXIES"));
    }

    #[test]
    fn the_public_url_decides_the_hosts_served_and_the_cookie() {
        let config = Config::from_args([
            "server",
            "--public-url",
            "https://dash.example.com",
            "--jira-redirect-uri",
            "https://dash.example.com/oauth/callback",
        ])
        .expect("valid")
        .expect("not help");
        assert_eq!(config.served_hosts(), vec!["dash.example.com"]);
        assert!(config.secure_cookies());
        assert_eq!(config.dashboard_url(), "https://dash.example.com/dashboard");
        let local = Config::from_args(["server"])
            .expect("valid")
            .expect("not help");
        assert!(!local.secure_cookies());
    }

    #[test]
    fn a_client_id_without_secret_is_refused() {
        let err = Config::from_args(["server", "--jira-client-id", "abc"]).expect_err("must fail");
        assert!(err.to_string().contains("JIRA_CLIENT_SECRET"));
    }

    #[test]
    fn the_webhook_settings_come_in_pairs_and_the_secret_is_checked() {
        let one_line = |args: &[&str]| {
            let mut all = vec!["server"];
            all.extend_from_slice(args);
            Config::from_args(all).expect_err("must fail").to_string()
        };
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        assert!(one_line(&["--webhook-url", "https://hooks.example.com/j"])
            .starts_with("WEBHOOK_URL and WEBHOOK_SECRET"));
        assert!(
            one_line(&["--webhook-secret", secret]).starts_with("WEBHOOK_URL and WEBHOOK_SECRET")
        );
        assert!(
            one_line(&["--webhook-url", "ftp://x/", "--webhook-secret", secret])
                .starts_with("WEBHOOK_URL must")
        );
        assert!(one_line(&[
            "--webhook-url",
            "https://u:p@x/",
            "--webhook-secret",
            secret
        ])
        .starts_with("WEBHOOK_URL must"));
        assert!(
            one_line(&["--webhook-url", "https://h/", "--webhook-secret", "hunter2"])
                .starts_with("WEBHOOK_SECRET must")
        );
        let config = Config::from_args([
            "server",
            "--webhook-url",
            "http://10.0.0.5/hook",
            "--webhook-secret",
            secret,
        ])
        .expect("valid")
        .expect("config");
        assert!(!format!("{config:?}").contains("MfKQ9r8"));
    }
}
