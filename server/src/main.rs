//! Starts the dashboard: configuration, then [`server::Application`]. Any
//! start-up failure is one line on stderr and a non-zero exit.

use std::process::ExitCode;

use server::{Application, Config};

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::from_env_and_args() {
        Ok(Some(config)) => config,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,tower_http=info".into()),
        )
        .init();
    if config.reseal_tokens {
        return match server::application::reseal_tokens(&config).await {
            Ok(n) => {
                println!("re-sealed {n} row(s) (integration tokens, webhook secrets) with the newest key");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        };
    }
    if let Some(email) = config.clear_sign_in_throttle.clone() {
        return match server::application::clear_sign_in_throttle(&config, &email).await {
            Ok(n) => {
                println!("forgot {n} failed sign-in(s) counted against {email}: they may sign in again now");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        };
    }
    let interval = std::time::Duration::from_secs(u64::from(config.scheduler_interval_secs));
    let timeout = config.provider_timeout_secs;
    let open = config.dashboard_url();
    let admin_email = config.admin_email.clone();
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    // The address to open is the redirect URI's origin, not the bound one: the
    // OAuth flow ends there, and starting elsewhere costs a hop between names.
    tracing::info!("listening on {}", app.local_addr_text());
    match (app.setup_link(), admin_email) {
        (Some(link), _) => {
            println!("No account exists yet. To create the first administrator, open this one-time link:");
            println!("open {link}");
        }
        (None, Some(email)) => println!("open {open} and sign in as {email} (ADMIN_PASSWORD)"),
        (None, None) => println!("open {open} and sign in"),
    }
    let engine = app.engine().clone();
    let scheduler = engine::scheduler::spawn(engine.clone(), interval);
    let webhooks = engine::webhooks::delivery::spawn(engine.clone());
    let served = app.run_until_stopped().await;
    // Stopping: start no new refresh, and let the ones already sent store
    // their answer (a cut-off rotation would wait for the leeway retry).
    scheduler.abort();
    // An attempt cut off here is retried after the restart (at least once).
    webhooks.abort();
    engine
        .finish_refreshes(std::time::Duration::from_secs(u64::from(timeout) + 5))
        .await;
    // The API keys' counters and hand-out events still queued, and the
    // changes other processes' dashboards have not heard of yet.
    engine.flush_usage().await;
    engine.flush_feed().await;
    if let Err(e) = served {
        eprintln!("error: the server stopped: {e}");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
