//! The sandbox on its own: `cargo run -p sandbox`, then point an OAuth client at
//! it (the printed client id and secret, the configured redirect URI).
//!
//! A developer tool, for this machine: it has no accounts or sessions, so its
//! `/control/...` routes (revoke any grant, inject faults, move the clock,
//! change token lifetimes) answer whoever reaches it. It listens on loopback
//! (`127.0.0.1:4000`) unless `SANDBOX_ADDR` says otherwise, and says so
//! loudly when it does. (Inside the dashboard, under `/sandbox`, those routes
//! need an administrator's session.)

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use sandbox::{clock, control, Client, Sandbox, Settings};

#[derive(Parser)]
#[command(about = "Emulates Atlassian's OAuth 2.0 (3LO) endpoints")]
struct Args {
    /// Address to listen on: loopback, as the controls are open to anyone
    /// who reaches it.
    #[arg(long, env = "SANDBOX_ADDR", default_value = "127.0.0.1:4000")]
    sandbox_addr: SocketAddr,
    /// The registered app's client id.
    #[arg(long, env = "SANDBOX_CLIENT_ID", default_value = "sandbox-client-id")]
    sandbox_client_id: String,
    /// The registered app's client secret.
    #[arg(
        long,
        env = "SANDBOX_CLIENT_SECRET",
        default_value = "sandbox-client-secret"
    )]
    sandbox_client_secret: String,
    /// The registered callback URL(s), comma separated.
    #[arg(
        long,
        env = "SANDBOX_REDIRECT_URIS",
        default_value = "http://localhost:3000/oauth/callback"
    )]
    sandbox_redirect_uris: String,
    /// Access token lifetime (Atlassian: 3600).
    #[arg(long, env = "SANDBOX_ACCESS_TOKEN_SECS", default_value_t = 3600, value_parser = clap::value_parser!(i64).range(1..=control::MAX_ACCESS_TOKEN_LIFETIME_SECS))]
    sandbox_access_token_secs: i64,

    /// Every provider endpoint answers after this many milliseconds (the real
    /// Atlassian: tens to hundreds).
    #[arg(long, env = "SANDBOX_LATENCY_MS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(..=control::MAX_LATENCY_MS))]
    sandbox_latency_ms: u64,
    /// Issue no refresh tokens, as for an app without offline access.
    #[arg(long, env = "SANDBOX_WITHHOLD_REFRESH_TOKENS", default_value_t = false)]
    sandbox_withhold_refresh_tokens: bool,
    /// Keep the state in this SQLite database (e.g. `sqlite://data/sandbox.db`,
    /// created if missing) so it survives a restart; unset = in memory only.
    #[arg(long, env = "SANDBOX_DATABASE_URL")]
    sandbox_database_url: Option<String>,
    #[command(flatten)]
    jira_limits: sandbox::jira::rate_limit::limits::LimitArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.to_string();
            eprintln!(
                "{}",
                text.lines().next().unwrap_or("error: invalid arguments")
            );
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt().init();
    let client = Client {
        id: args.sandbox_client_id,
        secret: args.sandbox_client_secret,
        redirect_uris: args
            .sandbox_redirect_uris
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
    };
    let settings = Settings {
        access_token_lifetime_secs: args.sandbox_access_token_secs,
        latency_ms: args.sandbox_latency_ms,
        withhold_refresh_tokens: args.sandbox_withhold_refresh_tokens,
        jira_limits: (&args.jira_limits).into(),
        ..Settings::default()
    };
    let sandbox = match &args.sandbox_database_url {
        None => Sandbox::new(vec![client.clone()], settings, clock::system_time()),
        Some(url) => {
            let opened = match sandbox::persist::open_database(url).await {
                Ok(pool) => {
                    Sandbox::open(vec![client.clone()], settings, clock::system_time(), pool)
                        .await
                        .map_err(|e| e.to_string())
                }
                Err(e) => Err(format!("cannot open {url}: {e}")),
            };
            match opened {
                Ok(sandbox) => sandbox,
                Err(e) => {
                    eprintln!("error: SANDBOX_DATABASE_URL: {e}");
                    return ExitCode::from(1);
                }
            }
        }
    };
    let listener = match tokio::net::TcpListener::bind(args.sandbox_addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "error: SANDBOX_ADDR: cannot listen on {}: {e}",
                args.sandbox_addr
            );
            return ExitCode::from(1);
        }
    };
    if !args.sandbox_addr.ip().is_loopback() {
        eprintln!(
            "warning: SANDBOX_ADDR {} is not a loopback address: anyone who reaches it can use /control (revoke grants, inject faults, move the clock)",
            args.sandbox_addr
        );
    }
    println!(
        "Atlassian sandbox on http://{addr}  (authorize: http://{addr}/authorize, client id: {id}, redirect URIs: {uris})",
        addr = args.sandbox_addr,
        id = client.id,
        uris = client.redirect_uris.join(", ")
    );
    if let Err(e) = axum::serve(listener, sandbox.router()).await {
        eprintln!("error: the sandbox stopped: {e}");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
