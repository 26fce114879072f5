//! `GET|POST /ex/jira/{cloudId}/rest/api/3/search/jql`: Jira's enhanced
//! search. Both methods take the same request (query parameters or a JSON
//! body) and answer `{"issues", "isLast", "nextPageToken"}`.
//!
//! As in Jira, issues carry only `id`, `key` and `self` unless `fields` asks
//! for more. Unlike Jira, an empty JQL query is accepted (every issue of the
//! site): Atlassian refuses unbounded queries on this endpoint.

use axum::body::Bytes;
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::jira::error::JiraError;
use crate::jira::jql;
use crate::jira::params::{page_size, QueryParams};
use crate::jira::rate_limit::ObjectsReturned;
use crate::jira::shapes::{self, FieldSelection};
use crate::jira::JiraRequest;

/// A search, as either method asks for it.
#[derive(Debug, Default)]
struct SearchRequest {
    jql: String,
    max_results: Option<i64>,
    next_page_token: Option<String>,
    /// Comma lists of field names.
    fields: Vec<String>,
}

/// `POST`'s body: `{"jql", "maxResults", "nextPageToken", "fields"}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchBody {
    jql: Option<String>,
    max_results: Option<i64>,
    next_page_token: Option<String>,
    fields: Option<FieldNames>,
}

/// `fields` as Jira documents it (a list), or as a comma list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum FieldNames {
    List(Vec<String>),
    CommaList(String),
}

/// `GET .../search/jql?jql=...&maxResults=...&nextPageToken=...&fields=...`.
pub async fn search_by_query(
    req: JiraRequest,
    params: QueryParams,
) -> Result<(ObjectsReturned, Json<Value>), JiraError> {
    let request = SearchRequest {
        jql: params.first("jql").unwrap_or_default().to_owned(),
        max_results: params.number("maxResults")?,
        next_page_token: params.first("nextPageToken").map(str::to_owned),
        fields: params.all("fields"),
    };
    search(&req, request)
}

/// `POST .../search/jql` with the same parameters as a JSON body.
pub async fn search_by_body(
    req: JiraRequest,
    body: Bytes,
) -> Result<(ObjectsReturned, Json<Value>), JiraError> {
    let body: SearchBody = serde_json::from_slice(&body).map_err(|e| {
        JiraError::BadRequest(format!(
            "The request body must be a JSON object such as {{\"jql\": \"project = KEY\", \"maxResults\": 50, \"fields\": [\"summary\"]}}: {e}"
        ))
    })?;
    let request = SearchRequest {
        jql: body.jql.unwrap_or_default(),
        max_results: body.max_results,
        next_page_token: body.next_page_token,
        fields: match body.fields {
            Some(FieldNames::List(names)) => names,
            Some(FieldNames::CommaList(list)) => vec![list],
            None => Vec::new(),
        },
    };
    search(&req, request)
}

/// The page of issues, and how many it holds (what the call costs).
fn search(
    req: &JiraRequest,
    request: SearchRequest,
) -> Result<(ObjectsReturned, Json<Value>), JiraError> {
    let (caller, base) = (&req.caller, &req.base);
    let query = jql::parse(&request.jql)?;
    let page_size = page_size(request.max_results)?;
    let offset = match request.next_page_token.as_deref() {
        Some(token) => page_offset(token)?,
        None => 0,
    };
    let selection = FieldSelection::parse(&request.fields, FieldSelection::none());
    let jira = req.sandbox.jira();
    let site = jira.site(&caller.cloud_id).ok_or(JiraError::SiteNotFound)?;
    let found = site.search(&query, caller.account.account_id)?;
    let issues: Vec<Value> = found
        .iter()
        .skip(offset)
        .take(page_size)
        .map(|issue| shapes::issue(issue, base, &selection))
        .collect();
    let next = offset.saturating_add(page_size);
    let objects = ObjectsReturned(issues.len() as u64);
    let mut answer = json!({"issues": issues, "isLast": next >= found.len()});
    if next < found.len() {
        answer["nextPageToken"] = json!(page_token(next));
    }
    Ok((objects, Json(answer)))
}

/// The opaque token of the page starting at `offset`.
fn page_token(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("offset:{offset}"))
}

/// The offset a [`page_token`] stands for.
fn page_offset(token: &str) -> Result<usize, JiraError> {
    URL_SAFE_NO_PAD
        .decode(token.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix("offset:")?.parse().ok())
        .ok_or_else(|| {
            JiraError::BadRequest(
                "The nextPageToken is not one this search gave out; search again without it."
                    .to_owned(),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_strangers_are_refused() {
        assert_eq!(page_offset(&page_token(150)), Ok(150));
        assert!(page_offset("not a token").is_err());
        assert!(page_offset(&URL_SAFE_NO_PAD.encode("offset:-1")).is_err());
    }
}
