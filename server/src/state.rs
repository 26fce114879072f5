//! [`AppState`]: what the axum handlers share, and the site options it carries.
//! Built once by `crate::application`; every route reads its parts
//! (`State<Engine>`, `State<LiveSettings>`, ...).

use std::net::SocketAddr;

use engine::Engine;
use leptos::config::{Env, LeptosOptions};

use crate::guard::access::PublicOrigin;
use crate::routes::events::LiveSettings;
use crate::routes::v1::ProxyClient;
use crate::session::client_address::TrustedProxies;

/// Everything the axum handlers share.
#[derive(Clone, axum::extract::FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub engine: Engine,
    pub public: PublicOrigin,
    pub proxies: TrustedProxies,
    pub live: LiveSettings,
    /// The service API's HTTP client towards Jira.
    pub proxy: ProxyClient,
    /// What `/metrics` renders.
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// `PRODUCT_NAME`: the company's product, on a connect link's pages.
    pub product: ProductName,
}

/// `PRODUCT_NAME`.
#[derive(Clone)]
pub struct ProductName(pub std::sync::Arc<str>);

/// Site options: cargo-leptos passes them as `LEPTOS_*` variables; a server run
/// by hand (or by tests) falls back to the workspace's values.
pub fn leptos_options(addr: SocketAddr) -> LeptosOptions {
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let env = match var("LEPTOS_ENV", "PROD").to_ascii_uppercase().as_str() {
        "DEV" | "DEVELOPMENT" => Env::DEV,
        _ => Env::PROD,
    };
    LeptosOptions::builder()
        .output_name(var("LEPTOS_OUTPUT_NAME", "jira-dashboard"))
        .site_root(var("LEPTOS_SITE_ROOT", "target/site"))
        .site_pkg_dir(var("LEPTOS_SITE_PKG_DIR", "pkg"))
        .site_addr(addr)
        .reload_port(
            var("LEPTOS_RELOAD_PORT", "3001")
                .parse::<u32>()
                .unwrap_or(3001),
        )
        .env(env)
        .build()
}
