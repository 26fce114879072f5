//! The projects and issues every site starts with: fixed tables, dated back
//! from the day the sandbox starts, so a demo always shows recent work and a
//! test always sees the same issues in the same order.

use crate::jira::tracker::IssueType::{Bug, Story, Task};
use crate::jira::tracker::Status::{Done, InProgress, ToDo};
use crate::jira::tracker::{IssueFields, IssueType, Project, SiteTracker, Status};
use crate::settings::{Account, Site, ACCOUNTS};

const ADA: Option<&Account> = Some(&ACCOUNTS[0]);
const GRACE: Option<&Account> = Some(&ACCOUNTS[1]);
const NOBODY: Option<&Account> = None;

/// One seeded issue: created `days_ago` days before the sandbox's start day
/// at `hour` (UTC), last updated `updated_after_hours` later.
struct SeedIssue {
    summary: &'static str,
    issue_type: IssueType,
    status: Status,
    assignee: Option<&'static Account>,
    days_ago: i64,
    hour: i64,
    updated_after_hours: i64,
}

/// A seeded project and its issues.
struct SeedProject {
    key: &'static str,
    name: &'static str,
    issues: &'static [SeedIssue],
}

const fn seed(
    summary: &'static str,
    issue_type: IssueType,
    status: Status,
    assignee: Option<&'static Account>,
    (days_ago, hour, updated_after_hours): (i64, i64, i64),
) -> SeedIssue {
    SeedIssue {
        summary,
        issue_type,
        status,
        assignee,
        days_ago,
        hour,
        updated_after_hours,
    }
}

#[rustfmt::skip]
const ACME_PROJECTS: [SeedProject; 2] = [
    SeedProject {
        key: "ACME",
        name: "Acme Platform",
        issues: &[
            seed("Set up single sign-on with the corporate identity provider", Story, Done, ADA, (44, 9, 120)),
            seed("Billing page shows the wrong currency for EU customers", Bug, Done, GRACE, (41, 14, 30)),
            seed("Add audit log export to CSV", Story, Done, ADA, (38, 10, 200)),
            seed("Password reset email arrives twice", Bug, Done, GRACE, (35, 16, 8)),
            seed("Upgrade the search index to the new schema", Task, InProgress, ADA, (31, 11, 500)),
            seed("Dashboard widgets load slowly with many projects", Bug, InProgress, GRACE, (27, 15, 300)),
            seed("Let admins invite users in bulk", Story, InProgress, ADA, (24, 9, 150)),
            seed("Dark mode for the settings pages", Story, ToDo, NOBODY, (20, 13, 2)),
            seed("Session expires while a form is being filled in", Bug, ToDo, GRACE, (17, 10, 50)),
            seed("Document the public webhooks API", Task, ToDo, NOBODY, (14, 17, 1)),
            seed("Rate-limit login attempts per account", Story, InProgress, GRACE, (10, 9, 60)),
            seed("CSV import rejects files with a byte order mark", Bug, ToDo, ADA, (7, 12, 20)),
            seed("Remove the legacy v1 reports endpoint", Task, ToDo, NOBODY, (4, 15, 3)),
            seed("Onboarding checklist for new workspaces", Story, ToDo, NOBODY, (2, 10, 1)),
        ],
    },
    SeedProject {
        key: "OPS",
        name: "Acme Operations",
        issues: &[
            seed("Rotate the database credentials", Task, Done, GRACE, (43, 8, 4)),
            seed("Nightly backup job fails on the reporting replica", Bug, Done, ADA, (40, 11, 26)),
            seed("Move staging to the new Kubernetes cluster", Task, Done, GRACE, (36, 10, 240)),
            seed("Alert when disk usage on the log servers passes 80%", Story, Done, ADA, (33, 15, 48)),
            seed("Renew the TLS certificate of the status page", Task, Done, GRACE, (29, 9, 5)),
            seed("Runbook for failing over the primary database", Task, InProgress, ADA, (26, 14, 400)),
            seed("Deploy pipeline hangs when the artifact cache is cold", Bug, InProgress, GRACE, (22, 11, 90)),
            seed("Cut cloud spend on idle preview environments", Story, ToDo, NOBODY, (19, 16, 6)),
            seed("On-call rota for the holidays", Task, InProgress, GRACE, (15, 10, 100)),
            seed("Upgrade the load balancers to the supported release", Task, ToDo, ADA, (12, 13, 24)),
            seed("Memory leak in the metrics collector", Bug, InProgress, ADA, (9, 9, 30)),
            seed("Centralise cron jobs in the scheduler", Story, ToDo, NOBODY, (6, 14, 2)),
            seed("Page the on-call engineer when the queue backs up", Story, ToDo, GRACE, (3, 11, 5)),
        ],
    },
];

#[rustfmt::skip]
const GLOBEX_PROJECTS: [SeedProject; 2] = [
    SeedProject {
        key: "GLX",
        name: "Globex Platform",
        issues: &[
            seed("Migrate the order service to the event bus", Story, Done, GRACE, (45, 10, 300)),
            seed("Invoice PDFs render blank in Safari", Bug, Done, ADA, (42, 15, 20)),
            seed("Add retries to the payment provider client", Task, Done, GRACE, (39, 9, 36)),
            seed("Customer API answers 500 for unknown country codes", Bug, Done, ADA, (34, 13, 10)),
            seed("Split the user module out of the monolith", Story, InProgress, GRACE, (30, 11, 450)),
            seed("Inventory counts drift after partial refunds", Bug, InProgress, ADA, (25, 16, 200)),
            seed("GraphQL schema for the partner API", Story, InProgress, NOBODY, (21, 10, 70)),
            seed("Feature flags for the checkout redesign", Task, ToDo, GRACE, (18, 14, 12)),
            seed("Timezone bug in the weekly sales report", Bug, ToDo, NOBODY, (13, 9, 4)),
            seed("Archive orders older than seven years", Task, ToDo, NOBODY, (11, 15, 1)),
            seed("Webhook deliveries are not signed", Bug, InProgress, GRACE, (8, 10, 40)),
            seed("Bulk price update endpoint", Story, ToDo, ADA, (5, 12, 6)),
            seed("Upgrade the ORM to its next major version", Task, ToDo, NOBODY, (1, 16, 1)),
        ],
    },
    SeedProject {
        key: "WEB",
        name: "Globex Website",
        issues: &[
            seed("Redesign the pricing page", Story, Done, ADA, (44, 11, 200)),
            seed("Contact form spam filter lets bots through", Bug, Done, GRACE, (40, 14, 60)),
            seed("Cookie banner hides the menu on small screens", Bug, Done, ADA, (37, 10, 12)),
            seed("Move the blog to the new CMS", Task, Done, GRACE, (32, 9, 320)),
            seed("Localise the homepage into German and French", Story, InProgress, ADA, (28, 13, 250)),
            seed("Mobile performance score below 60 on the homepage", Bug, InProgress, NOBODY, (23, 15, 48)),
            seed("Careers page lists closed positions", Bug, ToDo, GRACE, (19, 10, 3)),
            seed("Structured data for product pages", Task, ToDo, NOBODY, (16, 11, 2)),
            seed("Newsletter sign-up sends two confirmations", Bug, InProgress, ADA, (12, 16, 20)),
            seed("Accessibility fixes for the footer", Task, ToDo, GRACE, (9, 9, 4)),
            seed("Case studies section", Story, ToDo, NOBODY, (6, 14, 1)),
            seed("Broken links after the docs move", Bug, ToDo, NOBODY, (3, 10, 2)),
            seed("Suggestions in the search box", Story, ToDo, ADA, (2, 15, 1)),
        ],
    },
];

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

/// The seeded projects of a site, by its name (none for a site the seed
/// does not know).
fn projects_of(site: &Site) -> &'static [SeedProject] {
    match site.name {
        "acme" => &ACME_PROJECTS,
        "globex" => &GLOBEX_PROJECTS,
        _ => &[],
    }
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
            key: p.key.to_owned(),
            name: p.name.to_owned(),
        })
        .collect();
    let mut issues: Vec<IssueFields> = projects
        .iter()
        .zip(seeds)
        .flat_map(|(project, seed)| {
            (0..).zip(seed.issues).map(move |(n, issue)| {
                let created = start_of_day - issue.days_ago * DAY + issue.hour * HOUR + n * 7 * 60;
                IssueFields {
                    project: project.clone(),
                    summary: issue.summary.to_owned(),
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
