//! One module per route.

mod dashboard;
mod integration_detail;
mod not_found;
#[cfg(feature = "ssr")]
mod settings;

pub use dashboard::Dashboard;
pub use integration_detail::IntegrationDetail;
pub use not_found::NotFound;
#[cfg(feature = "ssr")]
pub use settings::settings_document;
