//! The fleet listing (`GET /v1/integrations`, `POST /api/list_integrations`):
//! the connected integrations a page at a time, oldest first. Never the whole
//! fleet in one answer: at 200,000 integrations that was 94.5 MB of JSON and
//! a quarter of a gigabyte of memory per call, at a million more than the
//! server has. Pages are a keyset on the id (each starts after the last id of
//! the one before), so a deep page costs what the first one does and a
//! connection or a disconnect between two pages neither repeats nor skips
//! anyone else; the size is bounded; the total is the fleet's count, which
//! the database keeps (`fleet_counts`), not a count of rows.
//!
//! The service API hands its callers an opaque cursor ([`cursor_after`]):
//! programs pass it back as they got it, so its spelling may change; the
//! dashboard's server function, whose callers are this product's own pages
//! and tests, takes the id itself (`after`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use domain::IntegrationId;

use crate::db::{IntegrationsPage, ListingFilter, MAX_PAGE_SIZE};
use crate::engine_handle::storage;
use crate::{Engine, EngineError};

/// A page's size when the caller names none.
pub const DEFAULT_LISTING_LIMIT: i64 = 100;

/// The largest page a caller may ask for (the dashboard's largest page too).
pub(crate) const MAX_LISTING_LIMIT: i64 = MAX_PAGE_SIZE;

/// What a cursor says before it is encoded (a version, should it ever change).
const CURSOR_PREFIX: &str = "after:";

/// The longest cursor text worth decoding (ours are about 30 characters).
const MAX_CURSOR_CHARS: usize = 64;

/// Why a listing's parameters were refused: a sentence for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ListingError {
    #[error(
        "limit must be a whole number from 1 to {MAX_LISTING_LIMIT} (the default is {DEFAULT_LISTING_LIMIT}); page through the rest with the cursor."
    )]
    Limit,
    #[error(
        "The cursor is not one this API gave: pass nextCursor from the previous page as it is, or leave cursor out for the first page."
    )]
    Cursor,
    #[error(
        "after must be an integration id (a whole number, 0 or more): the last id of the previous page, from its X-Next-After header."
    )]
    After,
}

/// The page size asked for: the default without one, else 1 to
/// [`MAX_LISTING_LIMIT`] (anything else is refused, not silently clamped:
/// a caller asking for 10,000 should learn it gets fewer).
pub(crate) fn listing_limit(asked: Option<i64>) -> Result<i64, ListingError> {
    match asked {
        None => Ok(DEFAULT_LISTING_LIMIT),
        Some(n) if (1..=MAX_LISTING_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(ListingError::Limit),
    }
}

/// A `limit` as written in an address.
pub fn parse_limit(text: &str) -> Result<i64, ListingError> {
    let n = text.trim().parse().map_err(|_| ListingError::Limit)?;
    listing_limit(Some(n))
}

/// A server function's `after` as the form writes it: the page after
/// integration `after`; 0 for the first page.
pub fn parse_after(text: &str) -> Result<Option<IntegrationId>, ListingError> {
    match text.trim().parse::<i64>() {
        Ok(0) => Ok(None),
        Ok(n) if n > 0 => Ok(Some(IntegrationId(n))),
        _ => Err(ListingError::After),
    }
}

/// The service API's cursor for the page after integration `id`.
pub fn cursor_after(id: IntegrationId) -> String {
    URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{id}"))
}

/// The integration a cursor from [`cursor_after`] starts after.
pub fn parse_cursor(text: &str) -> Result<IntegrationId, ListingError> {
    if text.len() > MAX_CURSOR_CHARS {
        return Err(ListingError::Cursor);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| ListingError::Cursor)?;
    std::str::from_utf8(&bytes)
        .ok()
        .and_then(|t| t.strip_prefix(CURSOR_PREFIX))
        .filter(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|digits| digits.parse().ok())
        .ok_or(ListingError::Cursor)
}

impl Engine {
    /// Up to `limit` connected integrations after integration `after` (from
    /// the first without it), oldest first; `limit` is clamped to 1 to
    /// [`MAX_LISTING_LIMIT`] (callers check it first, with [`listing_limit`]).
    #[tracing::instrument(skip(self))]
    pub async fn integrations_page(
        &self,
        after: Option<IntegrationId>,
        limit: i64,
    ) -> Result<IntegrationsPage, EngineError> {
        self.integrations_page_filtered(after, limit, &ListingFilter::default())
            .await
    }

    /// The same, of the integrations `filter` lets through (the total counts
    /// those).
    #[tracing::instrument(skip(self))]
    pub async fn integrations_page_filtered(
        &self,
        after: Option<IntegrationId>,
        limit: i64,
        filter: &ListingFilter,
    ) -> Result<IntegrationsPage, EngineError> {
        self.db()
            .integrations_filtered_after(after, limit.clamp(1, MAX_LISTING_LIMIT), filter)
            .await
            .map_err(storage("list the integrations"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_the_id_it_was_made_from() {
        for id in [1, 42, i64::MAX] {
            let cursor = cursor_after(IntegrationId(id));
            assert!(cursor.len() <= MAX_CURSOR_CHARS, "{cursor}");
            assert_eq!(parse_cursor(&cursor), Ok(IntegrationId(id)));
        }
    }

    #[test]
    fn anything_else_is_not_a_cursor() {
        let forged = |text: &str| URL_SAFE_NO_PAD.encode(text);
        for text in [
            String::new(),
            "42".to_owned(),
            "not base64!".to_owned(),
            forged("after:"),
            forged("after:-3"),
            forged("after:+3"),
            forged("after:0"),
            forged("after:99999999999999999999"),
            forged("before:3"),
            "A".repeat(MAX_CURSOR_CHARS + 1),
        ] {
            assert_eq!(parse_cursor(&text), Err(ListingError::Cursor), "{text}");
        }
    }

    #[test]
    fn limits_default_and_stay_within_bounds() {
        assert_eq!(listing_limit(None), Ok(DEFAULT_LISTING_LIMIT));
        assert_eq!(listing_limit(Some(1)), Ok(1));
        assert_eq!(
            listing_limit(Some(MAX_LISTING_LIMIT)),
            Ok(MAX_LISTING_LIMIT)
        );
        for bad in [0, -1, MAX_LISTING_LIMIT + 1, i64::MAX, i64::MIN] {
            assert_eq!(listing_limit(Some(bad)), Err(ListingError::Limit), "{bad}");
        }
        assert_eq!(parse_limit("25"), Ok(25));
        for bad in ["", "ten", "1.5", "99999999999999999999", "501"] {
            assert_eq!(parse_limit(bad), Err(ListingError::Limit), "{bad}");
        }
    }

    #[test]
    fn after_is_an_id_or_the_start() {
        assert_eq!(parse_after("0"), Ok(None));
        assert_eq!(parse_after("7"), Ok(Some(IntegrationId(7))));
        for bad in ["-1", "", "x", "99999999999999999999"] {
            assert_eq!(parse_after(bad), Err(ListingError::After), "{bad}");
        }
    }
}
