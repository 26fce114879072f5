//! What the dashboard asks for: one page of the fleet, filtered by status
//! and a search, in an order (the server functions read it from the page's
//! address; the engine's storage answers it).

use crate::Status;

/// The order of the dashboard's listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PageOrder {
    /// Oldest connection first (the default).
    #[default]
    Oldest,
    /// Soonest access-token expiry first.
    Expiry,
    /// What needs a person first: needs re-auth, expired, expiring, active;
    /// soonest expiry first within each.
    Status,
}

impl PageOrder {
    /// The name used in addresses (`?sort=expiry`); `None` for the default.
    pub fn as_str(self) -> Option<&'static str> {
        match self {
            PageOrder::Oldest => None,
            PageOrder::Expiry => Some("expiry"),
            PageOrder::Status => Some("status"),
        }
    }

    /// The order named by [`PageOrder::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "expiry" => Some(PageOrder::Expiry),
            "status" => Some(PageOrder::Status),
            _ => None,
        }
    }
}

/// What the dashboard asks for.
#[derive(Debug, Clone, Default)]
pub struct PageQuery {
    /// 0-based page number.
    pub page: i64,
    pub page_size: i64,
    pub status: Option<Status>,
    /// Matches site name or URL, account name or email (case-insensitive).
    pub search: Option<String>,
    pub order: PageOrder,
}
