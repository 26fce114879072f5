//! `GET /ex/jira/{cloudId}/rest/api/3/project/search`: the site's projects,
//! a page at a time (`startAt`, `maxResults`).

use axum::Json;
use serde_json::{json, Value};

use crate::jira::error::JiraError;
use crate::jira::params::{page_size, QueryParams};
use crate::jira::rate_limit::ObjectsReturned;
use crate::jira::shapes;
use crate::jira::JiraRequest;

/// `{"self", "nextPage"?, "maxResults", "startAt", "total", "isLast", "values"}`.
pub async fn search_projects(
    req: JiraRequest,
    params: QueryParams,
) -> Result<(ObjectsReturned, Json<Value>), JiraError> {
    let page_size = page_size(params.number("maxResults")?)?;
    let start_at = match params.number("startAt")? {
        None => 0,
        Some(n) => usize::try_from(n)
            .map_err(|_| JiraError::BadRequest(format!("startAt must be 0 or more, not {n}.")))?,
    };
    let jira = req.sandbox.jira();
    let site = jira
        .site(&req.caller.cloud_id)
        .ok_or(JiraError::SiteNotFound)?;
    let projects = site.projects();
    let values: Vec<Value> = projects
        .iter()
        .skip(start_at)
        .take(page_size)
        .map(|project| shapes::project(project, &req.base))
        .collect();
    let values_len = values.len() as u64;
    let page = |start: usize| {
        format!(
            "{}/rest/api/3/project/search?maxResults={page_size}&startAt={start}",
            req.base.0
        )
    };
    let next = start_at.saturating_add(page_size);
    let mut answer = json!({
        "self": page(start_at),
        "maxResults": page_size,
        "startAt": start_at,
        "total": projects.len(),
        "isLast": next >= projects.len(),
        "values": values,
    });
    if next < projects.len() {
        answer["nextPage"] = json!(page(next));
    }
    Ok((ObjectsReturned(values_len), Json(answer)))
}
