//! A small Jira Cloud REST API (v3) on each seeded site, behind the same
//! access check as `myself` ([`crate::resources::JiraCaller`]), so the
//! product's service API and its demo have realistic issues to read:
//!
//! - `GET|POST /ex/jira/{cloudId}/rest/api/3/search/jql`: enhanced search
//!   ([`search`]) with a small JQL subset ([`jql`]) and `nextPageToken` paging;
//! - `GET .../issue/{issueIdOrKey}` and `POST .../issue` ([`issues`]);
//! - `GET .../project/search` ([`projects`]);
//! - `PUT .../issue/{issueIdOrKey}` (an edit: a write to one issue);
//! - `POST|GET|DELETE .../webhook` and `PUT .../webhook/refresh`: dynamic
//!   webhooks with their 30-day life on the sandbox's clock ([`webhooks`]);
//! - Atlassian's three rate limits on every Jira route, `myself` included
//!   ([`rate_limit`]): the hourly points quota, the burst limit per site,
//!   endpoint and method, and the per-issue write limit, with their headers,
//!   and `429`s planned by `/control/jira-rate-limit`.
//!
//! Each site starts from the same deterministic seed ([`seed`]), dated back
//! from the day the sandbox started. Issues created through `POST .../issue`
//! live in memory only: unlike tokens they are not persisted, and a restart
//! brings back the seed alone.
//!
//! Files: [`tracker`] (projects and issues of a site, and how a query selects
//! and orders them), [`shapes`] (their JSON as Atlassian writes it, and the
//! `fields` parameter), [`params`] (query strings and page sizes), [`error`]
//! (Atlassian's error bodies).

pub mod error;
pub mod issues;
pub mod jql;
pub mod params;
pub mod projects;
pub mod rate_limit;
pub mod search;
pub mod seed;
pub mod shapes;
pub mod tracker;
pub mod webhooks;

use std::collections::BTreeMap;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::resources::{JiraAccessDenied, JiraCaller};
use crate::settings::SITES;
use crate::Sandbox;
use rate_limit::{LimitSettings, RateLimiter};
use shapes::ApiBase;
use tracker::SiteTracker;

/// What every Jira route starts from: the sandbox, the caller that passed
/// the access check, and the base of the links it answers.
pub struct JiraRequest {
    pub sandbox: Sandbox,
    pub caller: JiraCaller,
    pub base: ApiBase,
}

impl FromRequestParts<Sandbox> for JiraRequest {
    type Rejection = JiraAccessDenied;

    async fn from_request_parts(
        parts: &mut Parts,
        sandbox: &Sandbox,
    ) -> Result<Self, JiraAccessDenied> {
        let caller = JiraCaller::from_request_parts(parts, sandbox).await?;
        let Ok(base) = ApiBase::from_request_parts(parts, sandbox).await;
        Ok(Self {
            sandbox: sandbox.clone(),
            caller,
            base,
        })
    }
}

/// The Jira data of every site, and the rate limiter in front of them.
pub struct JiraStore {
    sites: BTreeMap<&'static str, SiteTracker>,
    pub rate_limiter: RateLimiter,
    /// Every app's dynamic webhooks.
    pub webhooks: webhooks::WebhookRegistry,
}

impl JiraStore {
    /// Every seeded site with its seeded projects and issues, dated back from
    /// `now` (UNIX seconds).
    pub fn seeded(now: i64, limits: LimitSettings) -> Self {
        Self {
            sites: SITES
                .iter()
                .map(|site| (site.cloud_id, seed::site_tracker(site, now)))
                .collect(),
            rate_limiter: RateLimiter::new(limits),
            webhooks: webhooks::WebhookRegistry::default(),
        }
    }

    /// The projects and issues of the site `cloud_id`.
    pub fn site(&self, cloud_id: &str) -> Option<&SiteTracker> {
        self.sites.get(cloud_id)
    }

    pub fn site_mut(&mut self, cloud_id: &str) -> Option<&mut SiteTracker> {
        self.sites.get_mut(cloud_id)
    }
}
