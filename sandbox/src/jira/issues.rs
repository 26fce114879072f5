//! `GET` and `PUT /ex/jira/{cloudId}/rest/api/3/issue/{issueIdOrKey}`, and
//! `POST /ex/jira/{cloudId}/rest/api/3/issue`.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::jira::error::JiraError;
use crate::jira::params::QueryParams;
use crate::jira::rate_limit::ObjectsReturned;
use crate::jira::shapes::{self, FieldSelection};
use crate::jira::tracker::{IssueFields, IssueType, Project, Status};
use crate::jira::JiraRequest;

/// `body` read as JSON, or Jira's `400` naming an `example` of what it
/// should be.
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(
    body: &[u8],
    example: &str,
) -> Result<T, JiraError> {
    serde_json::from_slice(body).map_err(|e| {
        JiraError::BadRequest(format!(
            "The request body must be JSON such as {example}: {e}"
        ))
    })
}

/// Jira's limit on a summary's length.
const MAX_SUMMARY_CHARS: usize = 254;

/// `GET .../issue/{issueIdOrKey}[?fields=...]`: every field unless `fields`
/// says otherwise.
pub async fn get_issue(
    req: JiraRequest,
    Path((_cloud_id, id_or_key)): Path<(String, String)>,
    params: QueryParams,
) -> Result<Response, JiraError> {
    let fields = params.all("fields");
    let selection = FieldSelection::parse(&fields, FieldSelection::all());
    let jira = req.sandbox.jira();
    let site = jira
        .site(&req.caller.cloud_id)
        .ok_or(JiraError::SiteNotFound)?;
    let issue = site.issue(&id_or_key).ok_or(JiraError::IssueNotFound)?;
    let answer = Json(shapes::issue(issue, &req.base, &selection));
    Ok((ObjectsReturned(1), answer).into_response())
}

/// `{"fields": {"summary"}}`: what an edit may change here.
#[derive(Debug, Deserialize)]
struct EditBody {
    fields: EditFields,
}

#[derive(Debug, Deserialize)]
struct EditFields {
    summary: Option<String>,
}

/// `PUT .../issue/{issueIdOrKey}`: changes the summary and the time of the
/// last update; answers `204`. A write: it counts against the issue's
/// write limit.
pub async fn edit_issue(
    req: JiraRequest,
    Path((_cloud_id, id_or_key)): Path<(String, String)>,
    body: Bytes,
) -> Result<StatusCode, JiraError> {
    let body: EditBody = json_body(&body, r#"{"fields": {"summary": "..."}}"#)?;
    let now = req.sandbox.now();
    let mut jira = req.sandbox.jira();
    let site = jira.site_mut(&req.caller.cloud_id);
    let site = site.ok_or(JiraError::SiteNotFound)?;
    let issue = site.issue_mut(&id_or_key).ok_or(JiraError::IssueNotFound)?;
    if let Some(summary) = body.fields.summary.as_deref().map(str::trim) {
        if let Some(problem) = summary_problem(summary) {
            let errors = BTreeMap::from([("summary", problem.to_owned())]);
            return Err(JiraError::InvalidFields(errors));
        }
        issue.fields.summary = summary.to_owned();
    }
    issue.fields.updated = now;
    Ok(StatusCode::NO_CONTENT)
}

/// `{"fields": {"project": {"key"|"id"}, "summary", "issuetype": {"name"|"id"}}}`.
#[derive(Debug, Deserialize)]
struct CreateBody {
    fields: CreateFields,
}

#[derive(Debug, Deserialize)]
struct CreateFields {
    project: Option<Reference>,
    summary: Option<String>,
    issuetype: Option<Reference>,
}

/// A project or issue type, named by key, id or name.
#[derive(Debug, Deserialize)]
struct Reference {
    key: Option<String>,
    id: Option<String>,
    name: Option<String>,
}

/// `POST .../issue`: creates a `To Do` issue, unassigned, now; answers
/// `201 {"id", "key", "self"}`.
pub async fn create_issue(
    req: JiraRequest,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), JiraError> {
    let body: CreateBody = json_body(
        &body,
        r#"{"fields": {"project": {"key": "KEY"}, "summary": "...", "issuetype": {"name": "Task"}}}"#,
    )?;
    let now = req.sandbox.now();
    let mut jira = req.sandbox.jira();
    let site = jira
        .site_mut(&req.caller.cloud_id)
        .ok_or(JiraError::SiteNotFound)?;
    let project = body
        .fields
        .project
        .as_ref()
        .and_then(|p| p.key.as_deref().or(p.id.as_deref()))
        .and_then(|key_or_id| site.project(key_or_id))
        .cloned();
    let (project, summary, issue_type) = validate(project, &body.fields)?;
    let issue = site.add(IssueFields {
        project,
        summary,
        status: Status::ToDo,
        issue_type,
        created: now,
        updated: now,
        assignee: None,
    });
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": issue.id.to_string(),
            "key": issue.key,
            "self": format!("{}/rest/api/3/issue/{}", req.base.0, issue.id),
        })),
    ))
}

/// The new issue's project, summary and type, or every field's error in
/// Jira's words.
fn validate(
    project: Option<Project>,
    fields: &CreateFields,
) -> Result<(Project, String, IssueType), JiraError> {
    let mut errors = BTreeMap::new();
    if project.is_none() {
        errors.insert("project", "Specify a valid project ID or key".to_owned());
    }
    let summary = fields.summary.as_deref().map(str::trim).unwrap_or_default();
    if let Some(problem) = summary_problem(summary) {
        errors.insert("summary", problem.to_owned());
    }
    let issue_type = match &fields.issuetype {
        None => {
            errors.insert("issuetype", "Specify an issue type".to_owned());
            None
        }
        Some(reference) => {
            let found = issue_type(reference);
            if found.is_none() {
                errors.insert(
                    "issuetype",
                    "The issue type selected is invalid.".to_owned(),
                );
            }
            found
        }
    };
    match (project, issue_type) {
        (Some(project), Some(issue_type)) if errors.is_empty() => {
            Ok((project, summary.to_owned(), issue_type))
        }
        _ => Err(JiraError::InvalidFields(errors)),
    }
}

fn summary_problem(summary: &str) -> Option<&'static str> {
    if summary.is_empty() {
        Some("You must specify a summary of the issue.")
    } else if summary.contains(['\n', '\r']) {
        Some("The summary is invalid because it contains newline characters.")
    } else if summary.chars().count() > MAX_SUMMARY_CHARS {
        Some("Summary must be less than 255 characters.")
    } else {
        None
    }
}

fn issue_type(reference: &Reference) -> Option<IssueType> {
    match (&reference.name, &reference.id) {
        (Some(name), _) => IssueType::named(name),
        (None, Some(id)) => IssueType::ALL.into_iter().find(|t| t.id() == id),
        (None, None) => None,
    }
}
