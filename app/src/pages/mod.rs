//! One module per route.

#[cfg(feature = "ssr")]
mod connect_link;
mod dashboard;
#[cfg(feature = "ssr")]
mod error_page;
mod integration_detail;
mod not_found;
#[cfg(feature = "ssr")]
mod settings;
#[cfg(feature = "ssr")]
mod sign_in;

#[cfg(feature = "ssr")]
pub use connect_link::{connect_link_document, link_outcome_document, LinkPageView};
pub use dashboard::Dashboard;
#[cfg(feature = "ssr")]
pub use error_page::error_document;
pub use integration_detail::{owner_text, IntegrationDetail};
pub use not_found::NotFound;
#[cfg(feature = "ssr")]
pub use settings::settings_document;
#[cfg(feature = "ssr")]
pub use sign_in::{setup_document, setup_link_invalid_document, sign_in_document, SignInView};
