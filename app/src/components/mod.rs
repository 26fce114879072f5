//! Pieces the pages share.

mod account_menu;
mod dashboard_ctx;
mod data_table;
mod dialog;
mod disconnect_dialog;
mod empty_state;
mod filters;
mod fleet_summary;
mod header;
mod integration_card;
mod integration_table;
mod jira_quota;
mod live_indicator;
mod pager;
mod reauth_dialog;
mod view_switch;

pub use account_menu::AccountMenu;
pub use dashboard_ctx::{error_text, DashboardCtx, Notice, NoticeTone};
pub use data_table::DataTable;
pub use dialog::Dialog;
pub use disconnect_dialog::DisconnectDialog;
pub use empty_state::EmptyState;
pub use filters::Filters;
pub use fleet_summary::FleetSummary;
pub use header::Header;
pub use integration_card::IntegrationCard;
pub use integration_table::TableHead;
pub use jira_quota::JiraQuotaPanel;
pub use live_indicator::LiveIndicator;
pub use pager::Pager;
pub use reauth_dialog::ReauthDialog;
pub use view_switch::ViewSwitch;
