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
use domain::Tags;
use engine::db::ListingFilter;
use engine::listing::{cursor_after, parse_cursor, parse_limit, DEFAULT_LISTING_LIMIT};
use engine::Engine;

use super::caller::Caller;
use super::documented::NoValidKey;
use super::errors::ApiError;

/// One page of the connected integrations, oldest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationList {
    pub items: Vec<IntegrationView>,
    /// Pass it back as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
    /// Every connected integration the filters (and the key's tags) let
    /// through, on every page.
    pub total: i64,
}

/// What a listing's address asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ListQuery {
    after: Option<IntegrationId>,
    limit: i64,
    filter: ListingFilter,
}

/// Reads `?limit=N&cursor=C&endUserId=U&tag=key:value`: each at most once
/// (`tag` as often as wanted), nothing else (a misspelt parameter would
/// otherwise be ignored without a word).
fn list_query(raw: Option<&str>) -> Result<ListQuery, ApiError> {
    let mut limit = None;
    let mut cursor = None;
    let mut end_user = None;
    let mut filter = ListingFilter::default();
    for (name, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let slot = match &*name {
            "limit" => &mut limit,
            "cursor" => &mut cursor,
            "endUserId" => &mut end_user,
            "tag" => {
                if filter.tags.len() >= domain::end_user::MAX_TAGS {
                    return Err(ApiError::bad_request(format!(
                        "At most {} tag filters are allowed.",
                        domain::end_user::MAX_TAGS
                    )));
                }
                filter
                    .tags
                    .push(Tags::parse_filter(&value).map_err(ApiError::bad_request)?);
                continue;
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "Unknown parameter \"{}\": /v1/integrations takes limit, cursor, endUserId and tag.",
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
    if let Some(id) = &end_user {
        domain::end_user::check_end_user_id(id).map_err(ApiError::bad_request)?;
    }
    filter.end_user_id = end_user.map(|id| id.into_owned());
    let bad = |e: engine::listing::ListingError| ApiError::bad_request(e.to_string());
    Ok(ListQuery {
        filter,
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
        ("cursor" = Option<String>, Query, description = "The previous page's `nextCursor`, as it was given (with the same filters); none for the first page"),
        ("endUserId" = Option<String>, Query, description = "Only this end user's integrations (connected through connect links)"),
        ("tag" = Option<Vec<String>>, Query, description = "Only integrations carrying this tag, written key:value; repeat it to require several"),
    ),
    security(("api_key" = ["integrations:read"])),
    responses(
        (status = 200, description = "One page of the connected integrations the filters and the key's own tags let through, oldest first, the cursor of the next and the total", body = IntegrationList),
        (status = 400, description = "A limit out of 1 to 500, a cursor this API did not give, or another parameter"),
        (status = 403, description = "The key lacks integrations:read"),
        NoValidKey,
    )
)]
pub async fn list(
    State(engine): State<Engine>,
    // The key that passed its scope (`crate::router`).
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<IntegrationList>, ApiError> {
    let mut asked = list_query(raw.as_deref())?;
    // A confined key lists only what carries its tags.
    asked
        .filter
        .tags
        .extend(caller.0.tags.0.iter().map(|(k, v)| (k.clone(), v.clone())));
    let page = engine
        .integrations_page_filtered(asked.after, asked.limit, &asked.filter)
        .await?;
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
        (status = 403, description = "The key lacks integrations:read"),
        (status = 404, description = "No such connected integration (or one outside the key's tags)"),
        NoValidKey,
    )
)]
pub async fn one(
    State(engine): State<Engine>,
    // The key that passed its scope (`crate::router`).
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<IntegrationView>, ApiError> {
    let id = super::integration_id(&id)?;
    let integration = engine.integration(id).await?;
    if !integration.tags.includes(&caller.0.tags) {
        return Err(engine::EngineError::NotFound(id).into());
    }
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
                limit: 5,
                filter: ListingFilter::default(),
            }
        );
        for raw in [None, Some("")] {
            assert_eq!(
                list_query(raw).expect("ok"),
                ListQuery {
                    after: None,
                    limit: DEFAULT_LISTING_LIMIT,
                    filter: ListingFilter::default(),
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
            "endUserId=a&endUserId=b",
            "endUserId=",
            "tag=tenant",
            "tag=ten%20ant:acme",
        ] {
            assert!(list_query(Some(raw)).is_err(), "{raw}");
        }
    }

    #[test]
    fn the_address_filters_by_end_user_and_tags() {
        let asked =
            list_query(Some("endUserId=customer-42&tag=tenant:acme&tag=region:eu")).expect("ok");
        assert_eq!(
            asked.filter,
            ListingFilter {
                end_user_id: Some("customer-42".to_owned()),
                tags: vec![
                    ("tenant".to_owned(), "acme".to_owned()),
                    ("region".to_owned(), "eu".to_owned())
                ],
            }
        );
    }
}
