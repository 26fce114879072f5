//! `GET /v1/integrations` and `GET /v1/integrations/{id}`: the same views the
//! dashboard shows (never a token), for a key with `integrations:read`. The
//! listing comes a bounded page at a time (`limit`, an opaque `cursor`; see
//! `engine::listing`): the whole fleet in one answer was 94.5 MB at 200,000
//! integrations and would not fit in memory at a million.

use axum::extract::{Path, RawQuery, State};
use axum::Json;
use serde::Serialize;

use domain::views::IntegrationView;
use domain::IntegrationId;
use engine::listing::{cursor_after, parse_cursor, parse_limit, DEFAULT_LISTING_LIMIT};
use engine::Engine;

use super::caller::Caller;
use super::errors::ApiError;

/// One page of the connected integrations, oldest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationList {
    pub items: Vec<IntegrationView>,
    /// Pass it back as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
    /// Every connected integration, on every page.
    pub total: i64,
}

/// What a listing's address asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ListQuery {
    after: Option<IntegrationId>,
    limit: i64,
}

/// Reads `?limit=N&cursor=C`: each at most once, nothing else (a misspelt
/// parameter would otherwise be ignored without a word).
fn list_query(raw: Option<&str>) -> Result<ListQuery, ApiError> {
    let mut limit = None;
    let mut cursor = None;
    for (name, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let slot = match &*name {
            "limit" => &mut limit,
            "cursor" => &mut cursor,
            other => {
                return Err(ApiError::bad_request(format!(
                    "Unknown parameter \"{}\": /v1/integrations takes limit and cursor.",
                    other.chars().take(40).collect::<String>()
                )))
            }
        };
        if slot.replace(value).is_some() {
            return Err(ApiError::bad_request(format!(
                "{name} is given more than once: give it once."
            )));
        }
    }
    let bad = |e: engine::listing::ListingError| ApiError::bad_request(e.to_string());
    Ok(ListQuery {
        after: cursor
            .as_deref()
            .map(parse_cursor)
            .transpose()
            .map_err(bad)?,
        limit: limit
            .as_deref()
            .map(parse_limit)
            .transpose()
            .map_err(bad)?
            .unwrap_or(DEFAULT_LISTING_LIMIT),
    })
}

/// The connected integrations, oldest first, a page at a time: follow
/// `nextCursor` until it is `null` to read them all.
#[utoipa::path(
    get,
    path = "/v1/integrations",
    params(
        ("limit" = Option<i64>, Query, description = "Integrations per page: 1 to 500, default 100"),
        ("cursor" = Option<String>, Query, description = "The previous page's `nextCursor`, as it was given; none for the first page"),
    ),
    security(("api_key" = ["integrations:read"])),
    responses(
        (status = 200, description = "One page of connected integrations, oldest first, the cursor of the next and the total", body = IntegrationList),
        (status = 400, description = "A limit out of 1 to 500, a cursor this API did not give, or another parameter"),
        (status = 401, description = "No valid API key"),
        (status = 403, description = "The key lacks integrations:read"),
    )
)]
pub async fn list(
    State(engine): State<Engine>,
    // The key that passed its scope (`crate::router`).
    _caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<IntegrationList>, ApiError> {
    let asked = list_query(raw.as_deref())?;
    let page = engine.integrations_page(asked.after, asked.limit).await?;
    Ok(Json(IntegrationList {
        items: page
            .items
            .into_iter()
            .map(|i| engine.integration_view(i))
            .collect(),
        next_cursor: page.next_after.map(cursor_after),
        total: page.total,
    }))
}

/// One connected integration.
#[utoipa::path(
    get,
    path = "/v1/integrations/{id}",
    params(("id" = i64, Path, description = "The integration's id")),
    security(("api_key" = ["integrations:read"])),
    responses(
        (status = 200, description = "The integration", body = IntegrationView),
        (status = 401, description = "No valid API key"),
        (status = 403, description = "The key lacks integrations:read"),
        (status = 404, description = "No such connected integration"),
    )
)]
pub async fn one(
    State(engine): State<Engine>,
    // The key that passed its scope (`crate::router`).
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<IntegrationView>, ApiError> {
    let integration = engine.integration(super::integration_id(&id)?).await?;
    Ok(Json(engine.integration_view(integration)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_gives_a_limit_and_a_cursor_or_the_defaults() {
        let cursor = cursor_after(IntegrationId(7));
        assert_eq!(
            list_query(Some(&format!("limit=5&cursor={cursor}"))).expect("ok"),
            ListQuery {
                after: Some(IntegrationId(7)),
                limit: 5
            }
        );
        for raw in [None, Some("")] {
            assert_eq!(
                list_query(raw).expect("ok"),
                ListQuery {
                    after: None,
                    limit: DEFAULT_LISTING_LIMIT
                }
            );
        }
        for raw in [
            "limit=0",
            "limit=501",
            "limit=x",
            "cursor=42",
            "page=2",
            "limit=5&limit=6",
        ] {
            assert!(list_query(Some(raw)).is_err(), "{raw}");
        }
    }
}
