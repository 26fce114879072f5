//! One module per route.

mod dashboard;
mod integration_detail;
mod not_found;
mod settings;

pub use dashboard::Dashboard;
pub use integration_detail::IntegrationDetail;
pub use not_found::NotFound;
pub use settings::Settings;
