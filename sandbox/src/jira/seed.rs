//! The projects and issues every site starts with: a fixed table
//! (`seed.json`, read once), dated back from the day the sandbox starts, so a
//! demo always shows recent work and a test always sees the same issues in
//! the same order.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

use crate::jira::tracker::{IssueFields, IssueType, Project, SiteTracker, Status};
use crate::settings::{Account, Site, ACCOUNTS};

/// One seeded issue: created `days_ago` days before the sandbox's start day
/// at `hour` (UTC), last updated `updated_after_hours` later. In `seed.json`
/// an array of its fields in this order, the assignee by nickname (`"ada"`)
/// or `null`.
#[derive(Deserialize)]
struct SeedIssue {
    summary: String,
    issue_type: IssueType,
    status: Status,
    #[serde(deserialize_with = "assignee")]
    assignee: Option<&'static Account>,
    days_ago: i64,
    hour: i64,
    updated_after_hours: i64,
}

/// A seeded project and its issues.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedProject {
    key: String,
    name: String,
    issues: Vec<SeedIssue>,
}

/// An assignee of `seed.json`: a seeded account's nickname, or `null`.
fn assignee<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'static Account>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|nickname| {
            ACCOUNTS
                .iter()
                .find(|a| a.nickname == nickname)
                .ok_or_else(|| D::Error::custom(format!("no seeded account {nickname:?}")))
        })
        .transpose()
}

/// `seed.json`: the seeded projects of each site, by the site's name.
static SEEDS: LazyLock<HashMap<String, Vec<SeedProject>>> = LazyLock::new(|| {
    serde_json::from_str(include_str!("seed.json")).expect("seed.json is a valid seed table")
});

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

/// The seeded projects of a site, by its name (none for a site the seed
/// does not know).
fn projects_of(site: &Site) -> &'static [SeedProject] {
    SEEDS.get(site.name).map_or(&[], Vec::as_slice)
}

/// `site`'s seeded projects and issues, dated back from the start of the
/// UTC day of `now`. Ids and key numbers follow creation order, as in Jira.
pub fn site_tracker(site: &Site, now: i64) -> SiteTracker {
    let start_of_day = now - now.rem_euclid(DAY);
    let seeds = projects_of(site);
    let projects: Vec<Project> = (0u64..)
        .zip(seeds)
        .map(|(n, p)| Project {
            id: 10_000 + n,
            key: p.key.clone(),
            name: p.name.clone(),
        })
        .collect();
    let mut issues: Vec<IssueFields> = projects
        .iter()
        .zip(seeds)
        .flat_map(|(project, seed)| {
            (0..).zip(&seed.issues).map(move |(n, issue)| {
                let created = start_of_day - issue.days_ago * DAY + issue.hour * HOUR + n * 7 * 60;
                IssueFields {
                    project: project.clone(),
                    summary: issue.summary.clone(),
                    status: issue.status,
                    issue_type: issue.issue_type,
                    created,
                    updated: created + issue.updated_after_hours * HOUR,
                    assignee: issue.assignee,
                }
            })
        })
        .collect();
    issues.sort_by_key(|issue| issue.created);
    let mut tracker = SiteTracker::new(projects);
    for issue in issues {
        tracker.add(issue);
    }
    tracker
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jira::jql::parse;
    use crate::settings::SITES;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn every_site_has_two_projects_of_twelve_to_fifteen_varied_issues() {
        for site in &SITES {
            let tracker = site_tracker(site, NOW);
            assert_eq!(tracker.projects().len(), 2, "{}", site.name);
            for project in tracker.projects() {
                let query = parse(&format!("project = {}", project.key)).expect("JQL");
                let issues = tracker.search(&query, "nobody").expect("search");
                assert!((12..=15).contains(&issues.len()), "{}", project.key);
                for status in Status::ALL {
                    assert!(
                        issues.iter().any(|i| i.fields.status == status),
                        "{status:?}"
                    );
                }
                for issue_type in IssueType::ALL {
                    assert!(issues.iter().any(|i| i.fields.issue_type == issue_type));
                }
                assert!(issues.iter().any(|i| i.fields.assignee.is_none()));
                assert!(issues.iter().any(|i| i.fields.assignee.is_some()));
            }
        }
    }

    #[test]
    fn seeded_issues_are_in_the_past_and_created_one_at_a_time() {
        for site in &SITES {
            let tracker = site_tracker(site, NOW);
            let everything = tracker
                .search(&parse("ORDER BY created ASC").expect("JQL"), "nobody")
                .expect("search");
            let mut previous = i64::MIN;
            for (n, issue) in (10_001..).zip(&everything) {
                assert_eq!(issue.id, n, "ids follow creation order");
                assert!(
                    issue.fields.created > previous,
                    "{} created after the one before",
                    issue.key
                );
                assert!(
                    issue.fields.updated >= issue.fields.created && issue.fields.updated <= NOW,
                    "{}",
                    issue.key
                );
                assert!(issue.fields.created >= NOW - 50 * DAY);
                previous = issue.fields.created;
            }
        }
    }

    #[test]
    fn the_oldest_issue_of_acme_is_acme_1() {
        let tracker = site_tracker(&SITES[0], NOW);
        let first = tracker.issue("10001").expect("seeded");
        assert_eq!(first.key, "ACME-1");
        assert_eq!(
            first.fields.summary,
            "Set up single sign-on with the corporate identity provider"
        );
    }
}
