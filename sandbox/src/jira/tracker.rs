//! The projects and issues of one Jira site, and how a JQL [`Query`] selects
//! and orders them.

use std::cmp::Ordering;

use crate::jira::jql::{Clause, JqlError, Query, SortField, SortOrder};
use crate::settings::Account;

/// An issue's workflow status (the three of Jira's default workflow);
/// `seed.json` names it by its variant (`"InProgress"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub enum Status {
    ToDo,
    InProgress,
    Done,
}

impl Status {
    pub const ALL: [Status; 3] = [Status::ToDo, Status::InProgress, Status::Done];

    pub fn name(self) -> &'static str {
        match self {
            Status::ToDo => "To Do",
            Status::InProgress => "In Progress",
            Status::Done => "Done",
        }
    }

    /// Jira Cloud's ids for its default statuses.
    pub fn id(self) -> &'static str {
        match self {
            Status::ToDo => "10000",
            Status::InProgress => "3",
            Status::Done => "10001",
        }
    }

    /// The status category's key (`new`, `indeterminate`, `done`).
    pub fn category_key(self) -> &'static str {
        match self {
            Status::ToDo => "new",
            Status::InProgress => "indeterminate",
            Status::Done => "done",
        }
    }

    /// The status with this name, ignoring case (as JQL does).
    pub fn named(name: &str) -> Option<Status> {
        Status::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(name))
    }
}

/// An issue's type (`seed.json` names it by its variant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub enum IssueType {
    Task,
    Story,
    Bug,
}

impl IssueType {
    pub const ALL: [IssueType; 3] = [IssueType::Task, IssueType::Story, IssueType::Bug];

    pub fn name(self) -> &'static str {
        match self {
            IssueType::Task => "Task",
            IssueType::Story => "Story",
            IssueType::Bug => "Bug",
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            IssueType::Task => "10001",
            IssueType::Story => "10002",
            IssueType::Bug => "10003",
        }
    }

    /// The type with this name, ignoring case.
    pub fn named(name: &str) -> Option<IssueType> {
        IssueType::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(name))
    }
}

/// A Jira project (all of them "software" projects).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: u64,
    pub key: String,
    pub name: String,
}

/// A Jira issue.
#[derive(Debug, Clone)]
pub struct Issue {
    pub id: u64,
    /// `{project key}-{number}`.
    pub key: String,
    /// The number in the key, counted per project from 1.
    pub number: u64,
    pub fields: IssueFields,
}

/// An issue's fields (Jira's `fields`): what makes an issue, before the site
/// gives it an id and a key.
#[derive(Debug, Clone)]
pub struct IssueFields {
    pub project: Project,
    pub summary: String,
    pub status: Status,
    pub issue_type: IssueType,
    /// UNIX seconds.
    pub created: i64,
    /// UNIX seconds.
    pub updated: i64,
    pub assignee: Option<&'static Account>,
}

/// The first issue id of a site (Jira Cloud's ids start there too).
const FIRST_ISSUE_ID: u64 = 10_001;

/// The projects and issues of one site.
#[derive(Debug, Clone, Default)]
pub struct SiteTracker {
    projects: Vec<Project>,
    issues: Vec<Issue>,
}

/// A [`Clause`] with its values resolved against the site.
enum Filter {
    Projects(Vec<u64>),
    Statuses(Vec<Status>),
    Assignee(Option<String>),
    SummaryContains(String),
}

impl Filter {
    fn admits(&self, issue: &Issue) -> bool {
        let fields = &issue.fields;
        match self {
            Filter::Projects(ids) => ids.contains(&fields.project.id),
            Filter::Statuses(statuses) => statuses.contains(&fields.status),
            Filter::Assignee(account_id) => {
                fields.assignee.map(|a| a.account_id) == account_id.as_deref()
            }
            Filter::SummaryContains(word) => fields.summary.to_lowercase().contains(word),
        }
    }
}

impl SiteTracker {
    pub fn new(projects: Vec<Project>) -> Self {
        Self {
            projects,
            issues: Vec::new(),
        }
    }

    pub fn projects(&self) -> &[Project] {
        &self.projects
    }

    /// The project with this key (ignoring case) or id.
    pub fn project(&self, key_or_id: &str) -> Option<&Project> {
        self.projects
            .iter()
            .find(|p| p.key.eq_ignore_ascii_case(key_or_id) || p.id.to_string() == key_or_id)
    }

    /// The issue with this key (ignoring case) or id.
    pub fn issue(&self, key_or_id: &str) -> Option<&Issue> {
        self.issues
            .iter()
            .find(|i| i.key.eq_ignore_ascii_case(key_or_id) || i.id.to_string() == key_or_id)
    }

    /// The issue with this key (ignoring case) or id, to change it.
    pub fn issue_mut(&mut self, key_or_id: &str) -> Option<&mut Issue> {
        self.issues
            .iter_mut()
            .find(|i| i.key.eq_ignore_ascii_case(key_or_id) || i.id.to_string() == key_or_id)
    }

    /// Adds an issue: the next id of the site, the next number of its project.
    pub fn add(&mut self, fields: IssueFields) -> &Issue {
        let id = FIRST_ISSUE_ID + self.issues.len() as u64;
        let number = 1 + self
            .issues
            .iter()
            .filter(|i| i.fields.project.id == fields.project.id)
            .count() as u64;
        let issue = Issue {
            id,
            key: format!("{}-{number}", fields.project.key),
            number,
            fields,
        };
        self.issues.push(issue);
        &self.issues[self.issues.len() - 1]
    }

    /// The issues `query` selects for `account_id` (`currentUser()`), in the
    /// query's order. A project or status the site does not know is an error,
    /// as in Jira.
    pub fn search(&self, query: &Query, account_id: &str) -> Result<Vec<&Issue>, JqlError> {
        let filters = query
            .clauses
            .iter()
            .map(|clause| self.filter(clause, account_id))
            .collect::<Result<Vec<_>, _>>()?;
        let mut found: Vec<&Issue> = self
            .issues
            .iter()
            .filter(|issue| filters.iter().all(|f| f.admits(issue)))
            .collect();
        found.sort_by(|a, b| compare(a, b, query.sort_field, query.sort_order));
        Ok(found)
    }

    fn filter(&self, clause: &Clause, account_id: &str) -> Result<Filter, JqlError> {
        Ok(match clause {
            Clause::ProjectIn(values) => Filter::Projects(
                values
                    .iter()
                    .map(|v| {
                        self.project(v)
                            .map(|p| p.id)
                            .ok_or_else(|| no_such_value(v, "project"))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Clause::StatusIn(values) => Filter::Statuses(
                values
                    .iter()
                    .map(|v| Status::named(v).ok_or_else(|| no_such_value(v, "status")))
                    .collect::<Result<_, _>>()?,
            ),
            Clause::AssigneeIsCurrentUser => Filter::Assignee(Some(account_id.to_owned())),
            Clause::AssigneeIsEmpty => Filter::Assignee(None),
            Clause::TextContains(word) => Filter::SummaryContains(word.to_lowercase()),
        })
    }
}

fn no_such_value(value: &str, field: &str) -> JqlError {
    JqlError(format!(
        "The value '{value}' does not exist for the field '{field}'."
    ))
}

/// Orders by the field, then by id, so that pages never overlap; descending
/// is the exact reverse of ascending.
fn compare(a: &Issue, b: &Issue, field: SortField, order: SortOrder) -> Ordering {
    let (x, y) = (&a.fields, &b.fields);
    let by_field = match field {
        SortField::Created => x.created.cmp(&y.created),
        SortField::Updated => x.updated.cmp(&y.updated),
        SortField::Key => (&x.project.key, a.number).cmp(&(&y.project.key, b.number)),
    };
    let ascending = by_field.then(a.id.cmp(&b.id));
    match order {
        SortOrder::Ascending => ascending,
        SortOrder::Descending => ascending.reverse(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jira::jql::parse;
    use crate::settings::ACCOUNTS;

    fn tracker() -> SiteTracker {
        let alpha = Project {
            id: 10_000,
            key: "ALPHA".into(),
            name: "Alpha".into(),
        };
        let beta = Project {
            id: 10_001,
            key: "BETA".into(),
            name: "Beta".into(),
        };
        let mut site = SiteTracker::new(vec![alpha.clone(), beta.clone()]);
        let issues = [
            (
                &alpha,
                "Fix the login page",
                Status::Done,
                Some(&ACCOUNTS[0]),
                100,
            ),
            (&beta, "Write the release notes", Status::ToDo, None, 300),
            (
                &alpha,
                "Login is slow",
                Status::InProgress,
                Some(&ACCOUNTS[1]),
                200,
            ),
        ];
        for (project, summary, status, assignee, created) in issues {
            site.add(IssueFields {
                project: project.clone(),
                summary: summary.into(),
                status,
                issue_type: IssueType::Task,
                created,
                updated: created + 1_000 - created / 10,
                assignee,
            });
        }
        site
    }

    fn keys(site: &SiteTracker, jql: &str) -> Vec<String> {
        let query = parse(jql).expect("valid JQL");
        site.search(&query, ACCOUNTS[0].account_id)
            .expect("search")
            .into_iter()
            .map(|i| i.key.clone())
            .collect()
    }

    #[test]
    fn keys_and_ids_are_counted_per_project_and_per_site() {
        let site = tracker();
        assert_eq!(site.issue("alpha-2").map(|i| i.id), Some(10_003));
        assert_eq!(site.issue("10002").map(|i| i.key.as_str()), Some("BETA-1"));
        assert!(site.issue("BETA-2").is_none());
    }

    #[test]
    fn clauses_select_and_order_by_sorts() {
        let site = tracker();
        assert_eq!(keys(&site, ""), ["BETA-1", "ALPHA-2", "ALPHA-1"]);
        assert_eq!(keys(&site, "project = alpha"), ["ALPHA-2", "ALPHA-1"]);
        assert_eq!(keys(&site, "status = 'to do'"), ["BETA-1"]);
        assert_eq!(keys(&site, "assignee = currentUser()"), ["ALPHA-1"]);
        assert_eq!(keys(&site, "assignee is EMPTY"), ["BETA-1"]);
        assert_eq!(
            keys(&site, "text ~ LOGIN order by key"),
            ["ALPHA-1", "ALPHA-2"]
        );
        assert_eq!(
            keys(&site, "ORDER BY updated ASC"),
            ["ALPHA-1", "ALPHA-2", "BETA-1"]
        );
    }

    #[test]
    fn unknown_values_are_jql_errors() {
        let site = tracker();
        let query = parse("project in (ALPHA, GAMMA)").expect("valid JQL");
        let error = site.search(&query, "me").expect_err("GAMMA is unknown");
        assert_eq!(
            error.0,
            "The value 'GAMMA' does not exist for the field 'project'."
        );
        let query = parse("status = Blocked").expect("valid JQL");
        assert!(site.search(&query, "me").is_err());
    }
}
