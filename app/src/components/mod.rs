//! Pieces the pages share.

mod account_menu;
mod dashboard_ctx;
mod dialog;
mod disconnect_dialog;
mod empty_state;
mod filters;
mod header;
mod integration_card;
mod pager;
mod reauth_dialog;

pub use account_menu::AccountMenu;
pub use dashboard_ctx::{error_text, DashboardCtx, Notice, NoticeTone};
pub use dialog::Dialog;
pub use disconnect_dialog::DisconnectDialog;
pub use empty_state::EmptyState;
pub use filters::Filters;
pub use header::Header;
pub use integration_card::IntegrationCard;
pub use pager::Pager;
pub use reauth_dialog::ReauthDialog;
