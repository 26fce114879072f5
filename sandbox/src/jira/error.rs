//! Everything a Jira route can refuse, answered in Atlassian's error shape:
//! `{"errorMessages": [sentences], "errors": {field: sentence}}`.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::jira::jql::JqlError;
use crate::resources::SITE_NOT_REACHABLE;

/// Why a Jira route refuses a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JiraError {
    /// A JQL query that cannot run: `400`, the parser's or the site's sentence.
    Jql(JqlError),
    /// A parameter or body the route cannot read: `400` with this sentence.
    BadRequest(String),
    /// `404`, in Jira's words (which do not reveal whether the issue exists).
    IssueNotFound,
    /// A site the caller reaches but the sandbox holds no Jira data for: `404`.
    SiteNotFound,
    /// Field-level errors of a create request: `400`, `errorMessages` empty.
    InvalidFields(BTreeMap<&'static str, String>),
}

impl From<JqlError> for JiraError {
    fn from(e: JqlError) -> Self {
        JiraError::Jql(e)
    }
}

impl IntoResponse for JiraError {
    fn into_response(self) -> Response {
        let (status, messages, errors) = match self {
            JiraError::Jql(JqlError(sentence)) | JiraError::BadRequest(sentence) => {
                (StatusCode::BAD_REQUEST, vec![sentence], BTreeMap::new())
            }
            JiraError::IssueNotFound => (
                StatusCode::NOT_FOUND,
                vec!["Issue does not exist or you do not have permission to see it.".to_owned()],
                BTreeMap::new(),
            ),
            JiraError::SiteNotFound => (
                StatusCode::NOT_FOUND,
                vec![SITE_NOT_REACHABLE.to_owned()],
                BTreeMap::new(),
            ),
            JiraError::InvalidFields(errors) => (StatusCode::BAD_REQUEST, Vec::new(), errors),
        };
        (
            status,
            Json(json!({"errorMessages": messages, "errors": errors})),
        )
            .into_response()
    }
}
