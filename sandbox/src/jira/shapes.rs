//! Issues and projects as Jira's REST API v3 writes them, and the `fields`
//! parameter that chooses what an issue carries.

use std::collections::BTreeSet;
use std::convert::Infallible;

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::header::HOST;
use axum::http::request::Parts;
use serde_json::{json, Map, Value};

use crate::clock::utc;
use crate::jira::tracker::{Issue, Project};

/// Where this request's Jira API lives as its caller sees it,
/// `http://{Host}{mount}/ex/jira/{cloudId}`: the start of every `self` link.
/// Atlassian's links start with `https://api.atlassian.com/ex/jira/{cloudId}`;
/// the sandbox's point back at the sandbox, wherever it is mounted.
#[derive(Debug, Clone)]
pub struct ApiBase(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ApiBase {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let path = parts
            .extensions
            .get::<OriginalUri>()
            .map_or(parts.uri.path(), |uri| uri.path());
        let prefix = path.find("/rest/api/3/").map_or(path, |end| &path[..end]);
        let host = parts
            .headers
            .get(HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()))
            .unwrap_or("localhost");
        Ok(ApiBase(format!("http://{host}{prefix}")))
    }
}

/// The fields the sandbox's issues have.
pub const ISSUE_FIELDS: [&str; 7] = [
    "summary",
    "status",
    "issuetype",
    "project",
    "created",
    "updated",
    "assignee",
];

/// Which fields an issue carries, from Jira's `fields` parameter: `*all` or
/// `*navigable` (every field), field names, `-name` to leave one out. Names
/// the sandbox does not have are ignored, as Jira ignores unknown fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSelection(BTreeSet<&'static str>);

impl FieldSelection {
    /// Every field (the default of `GET .../issue/{key}`).
    pub fn all() -> Self {
        Self(ISSUE_FIELDS.into_iter().collect())
    }

    /// No field (the default of search: ids only).
    pub fn none() -> Self {
        Self(BTreeSet::new())
    }

    /// The selection `lists` ask for (each a comma list, as the parameter may
    /// repeat); `default` when there are none.
    pub fn parse(lists: &[String], default: Self) -> Self {
        let names: Vec<&str> = lists
            .iter()
            .flat_map(|list| list.split(','))
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .collect();
        if names.is_empty() {
            return default;
        }
        let mut selected = BTreeSet::new();
        for name in &names {
            match *name {
                "*all" | "*navigable" => selected.extend(ISSUE_FIELDS),
                _ => selected.extend(ISSUE_FIELDS.into_iter().filter(|f| f == name)),
            }
        }
        for name in names.iter().filter_map(|n| n.strip_prefix('-')) {
            selected.remove(name);
        }
        Self(selected)
    }

    pub fn includes(&self, field: &str) -> bool {
        self.0.contains(field)
    }
}

/// An issue: `id`, `key`, `self`, and `fields` with the selected fields
/// (left out when none is).
pub fn issue(issue: &Issue, base: &ApiBase, selection: &FieldSelection) -> Value {
    let mut answer = json!({
        "id": issue.id.to_string(),
        "key": issue.key,
        "self": format!("{}/rest/api/3/issue/{}", base.0, issue.id),
    });
    let fields: Map<String, Value> = ISSUE_FIELDS
        .into_iter()
        .filter(|name| selection.includes(name))
        .map(|name| (name.to_owned(), field(issue, name, base)))
        .collect();
    if !fields.is_empty() {
        answer["fields"] = Value::Object(fields);
    }
    answer
}

fn field(issue: &Issue, name: &str, base: &ApiBase) -> Value {
    match name {
        "summary" => json!(issue.fields.summary),
        "status" => json!({
            "id": issue.fields.status.id(),
            "name": issue.fields.status.name(),
            "statusCategory": {"key": issue.fields.status.category_key(), "name": issue.fields.status.name()},
        }),
        "issuetype" => json!({
            "id": issue.fields.issue_type.id(),
            "name": issue.fields.issue_type.name(),
            "subtask": false,
        }),
        "project" => project(&issue.fields.project, base),
        "created" => json!(timestamp(issue.fields.created)),
        "updated" => json!(timestamp(issue.fields.updated)),
        "assignee" => issue.fields.assignee.map_or(Value::Null, |a| {
            json!({
                "accountId": a.account_id,
                "accountType": "atlassian",
                "displayName": a.name,
                "active": true,
            })
        }),
        _ => Value::Null,
    }
}

/// A project, as in `project/search` and in an issue's `project` field.
pub fn project(project: &Project, base: &ApiBase) -> Value {
    json!({
        "id": project.id.to_string(),
        "key": project.key,
        "name": project.name,
        "self": format!("{}/rest/api/3/project/{}", base.0, project.id),
        "projectTypeKey": "software",
    })
}

/// Jira's timestamp format, e.g. `2027-01-15T08:00:00.000+0000`.
pub fn timestamp(secs: i64) -> String {
    let (y, mo, d, h, mi, s) = utc(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.000+0000")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selection(lists: &[&str]) -> Vec<&'static str> {
        let lists: Vec<String> = lists.iter().map(|s| (*s).to_owned()).collect();
        FieldSelection::parse(&lists, FieldSelection::none())
            .0
            .into_iter()
            .collect()
    }

    #[test]
    fn fields_select_by_name_star_and_minus() {
        assert!(selection(&[]).is_empty());
        assert_eq!(
            selection(&["summary, status", "bogus"]),
            ["status", "summary"]
        );
        assert_eq!(selection(&["*all"]).len(), ISSUE_FIELDS.len());
        assert_eq!(
            selection(&["*navigable,-assignee,-created,-updated,-project"]),
            ["issuetype", "status", "summary"]
        );
        assert!(selection(&["id"]).is_empty());
    }

    #[test]
    fn timestamps_are_in_jiras_format() {
        assert_eq!(timestamp(1_800_000_000), "2027-01-15T08:00:00.000+0000");
    }
}
