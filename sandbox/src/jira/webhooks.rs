//! Jira's dynamic webhooks, as an OAuth 2.0 (3LO) app registers them
//! (`/ex/jira/{cloudId}/rest/api/3/webhook`; Atlassian's "Webhooks" page and
//! the REST API's webhooks group, `shared/ATLASSIAN.md`):
//!
//! - `POST` registers `{"url", "webhooks": [{"events", "jqlFilter",
//!   "fieldIdsFilter"?}]}` and answers `{"webhookRegistrationResult":
//!   [{"createdWebhookId"} | {"errors"}]}`, one result per webhook, in order;
//! - `GET` lists the app's webhooks on the site (`startAt`, `maxResults`),
//!   each with its `expirationDate`;
//! - `DELETE` with `{"webhookIds"}` removes the app's (others' ids are
//!   ignored) and answers `202`;
//! - `PUT .../webhook/refresh` with `{"webhookIds"}` extends them and
//!   answers `{"expirationDate"}`.
//!
//! A webhook lives 30 days from its registration or last refresh, on the
//! sandbox's clock; an expired one is gone (no longer listed, refreshed or
//! delivered). An app has a single delivery URL; the filter takes only
//! Jira's JQL subset ([`domain::jira_webhook_filter`]); each call needs the
//! `manage:jira-webhook` scope. The registry lives in memory, like the
//! issues created through the API.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::jira::error::JiraError;
use crate::jira::issues::json_body;
use crate::jira::params::{page_size, QueryParams};
use crate::jira::JiraRequest;

/// How long a webhook lives after its registration or last refresh.
pub const LIFETIME_SECS: i64 = 30 * 86_400;
/// The most webhooks one app may have on one site.
pub const MAX_PER_APP_AND_SITE: usize = 100;
/// The scope every webhook call needs.
pub const SCOPE: &str = "manage:jira-webhook";
/// The events a webhook may ask for.
pub const EVENTS: [&str; 8] = [
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
    "issue_property_set",
    "issue_property_deleted",
];

/// One registered webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: u64,
    pub client_id: String,
    pub cloud_id: String,
    pub url: String,
    pub events: Vec<String>,
    pub jql_filter: String,
    pub field_ids_filter: Option<Vec<String>>,
    /// UNIX seconds.
    pub expires_at: i64,
}

/// Every app's webhooks on every site.
#[derive(Debug, Default)]
pub struct WebhookRegistry {
    next_id: u64,
    hooks: Vec<Webhook>,
}

/// One webhook of a registration request.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDetails {
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub jql_filter: Option<String>,
    pub field_ids_filter: Option<Vec<String>>,
}

/// A registration request.
#[derive(Debug, Clone, Deserialize)]
pub struct Registration {
    pub url: String,
    pub webhooks: Vec<WebhookDetails>,
}

impl WebhookRegistry {
    /// Forgets the webhooks expired at `now`.
    fn expire(&mut self, now: i64) {
        self.hooks.retain(|h| h.expires_at > now);
    }

    /// Registers `request`'s webhooks for `client_id` on `cloud_id`: the id
    /// of each, or why it was refused, in order.
    pub fn register(
        &mut self,
        client_id: &str,
        cloud_id: &str,
        request: &Registration,
        now: i64,
    ) -> Result<Vec<Result<u64, Vec<String>>>, String> {
        self.expire(now);
        if request.webhooks.len() > MAX_PER_APP_AND_SITE {
            return Err(format!(
                "At most {MAX_PER_APP_AND_SITE} webhooks can be registered at once."
            ));
        }
        let url = request.url.trim();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err("The webhook URL must be an absolute http(s) URL.".to_owned());
        }
        // One delivery URL per app.
        if let Some(other) = self
            .hooks
            .iter()
            .find(|h| h.client_id == client_id && h.url != url)
        {
            return Err(format!(
                "Only a single URL per app is allowed to be registered: this app's webhooks go to {}.",
                other.url
            ));
        }
        let mut results = Vec::new();
        for details in &request.webhooks {
            let mine = self
                .hooks
                .iter()
                .filter(|h| h.client_id == client_id && h.cloud_id == cloud_id)
                .count();
            let errors = problems(details, mine);
            if !errors.is_empty() {
                results.push(Err(errors));
                continue;
            }
            self.next_id += 1;
            let id = 10_000 + self.next_id;
            self.hooks.push(Webhook {
                id,
                client_id: client_id.to_owned(),
                cloud_id: cloud_id.to_owned(),
                url: url.to_owned(),
                events: details.events.clone(),
                jql_filter: details.jql_filter.clone().unwrap_or_default(),
                field_ids_filter: details.field_ids_filter.clone(),
                expires_at: now + LIFETIME_SECS,
            });
            results.push(Ok(id));
        }
        Ok(results)
    }

    /// The app's live webhooks on the site, oldest first.
    pub fn list(&mut self, client_id: &str, cloud_id: &str, now: i64) -> Vec<Webhook> {
        self.expire(now);
        self.hooks
            .iter()
            .filter(|h| h.client_id == client_id && h.cloud_id == cloud_id)
            .cloned()
            .collect()
    }

    /// Extends the app's webhooks among `ids` to 30 days from `now`: the
    /// new expiry (`now` + 30 days, whether or not any id was the app's).
    pub fn refresh(&mut self, client_id: &str, cloud_id: &str, ids: &[u64], now: i64) -> i64 {
        self.expire(now);
        let until = now + LIFETIME_SECS;
        for hook in self
            .hooks
            .iter_mut()
            .filter(|h| h.client_id == client_id && h.cloud_id == cloud_id && ids.contains(&h.id))
        {
            hook.expires_at = until;
        }
        until
    }

    /// Removes the app's webhooks among `ids` (others' are ignored).
    pub fn delete(&mut self, client_id: &str, cloud_id: &str, ids: &[u64]) {
        self.hooks.retain(|h| {
            !(h.client_id == client_id && h.cloud_id == cloud_id && ids.contains(&h.id))
        });
    }
}

/// Why one webhook of a registration is refused (none: it is registered).
fn problems(details: &WebhookDetails, already: usize) -> Vec<String> {
    let mut errors = Vec::new();
    if details.events.is_empty() {
        errors.push("A webhook needs at least one event.".to_owned());
    }
    for event in &details.events {
        if !EVENTS.contains(&event.as_str()) {
            errors.push(format!("The event {event} is not supported."));
        }
    }
    match details.jql_filter.as_deref() {
        None => errors.push("A webhook needs a jqlFilter.".to_owned()),
        Some(jql) => {
            if let Err(sentence) = domain::jira_webhook_filter::check_filter(jql) {
                errors.push(sentence);
            }
        }
    }
    if already >= MAX_PER_APP_AND_SITE {
        errors.push(format!(
            "The app already has {MAX_PER_APP_AND_SITE} webhooks on this site: delete some first."
        ));
    }
    errors
}

/// The refusal of a caller whose token lacks `manage:jira-webhook`.
fn lacks_scope(req: &JiraRequest) -> Option<Response> {
    if req.caller.scopes.iter().any(|s| s == SCOPE) {
        return None;
    }
    let body = json!({
        "errorMessages": [format!("The token does not have the {SCOPE} scope.")],
        "errors": {}
    });
    Some((StatusCode::FORBIDDEN, Json(body)).into_response())
}

/// Jira's date format: `2026-12-08T12:00:00.000+0000`.
fn jira_date(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.000+0000",
        secs / 3_600,
        secs % 3_600 / 60,
        secs % 60
    )
}

/// The calendar date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn shape(hook: &Webhook) -> Value {
    let mut value = json!({
        "id": hook.id,
        "events": hook.events,
        "jqlFilter": hook.jql_filter,
        "expirationDate": jira_date(hook.expires_at),
        "url": hook.url,
    });
    if let Some(fields) = &hook.field_ids_filter {
        value["fieldIdsFilter"] = json!(fields);
    }
    value
}

/// `POST .../webhook`.
pub async fn register(req: JiraRequest, body: Bytes) -> Result<Response, JiraError> {
    if let Some(refused) = lacks_scope(&req) {
        return Ok(refused);
    }
    let request: Registration = json_body(
        &body,
        r#"{"url": "https://...", "webhooks": [{"events": ["jira:issue_created"], "jqlFilter": "project = ACME"}]}"#,
    )?;
    let now = req.sandbox.now();
    let results = req.sandbox.jira().webhooks.register(
        &req.caller.client_id,
        &req.caller.cloud_id,
        &request,
        now,
    );
    let results = results.map_err(JiraError::BadRequest)?;
    let shaped: Vec<Value> = results
        .into_iter()
        .map(|r| match r {
            Ok(id) => json!({"createdWebhookId": id}),
            Err(errors) => json!({"errors": errors}),
        })
        .collect();
    Ok(Json(json!({"webhookRegistrationResult": shaped})).into_response())
}

/// `GET .../webhook[?startAt=&maxResults=]`.
pub async fn list(req: JiraRequest, params: QueryParams) -> Result<Response, JiraError> {
    if let Some(refused) = lacks_scope(&req) {
        return Ok(refused);
    }
    let start_at = params.number("startAt")?.unwrap_or(0);
    let start_at = usize::try_from(start_at).map_err(|_| {
        JiraError::BadRequest(format!("startAt must be 0 or more, not {start_at}."))
    })?;
    let max_results = page_size(params.number("maxResults")?)?;
    let now = req.sandbox.now();
    let hooks = req
        .sandbox
        .jira()
        .webhooks
        .list(&req.caller.client_id, &req.caller.cloud_id, now);
    let total = hooks.len();
    let page: Vec<Value> = hooks
        .iter()
        .skip(start_at)
        .take(max_results)
        .map(shape)
        .collect();
    let is_last = start_at + page.len() >= total;
    Ok(Json(json!({
        "startAt": start_at,
        "maxResults": max_results,
        "total": total,
        "isLast": is_last,
        "values": page,
    }))
    .into_response())
}

/// `{"webhookIds": [...]}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WebhookIds {
    webhook_ids: Vec<u64>,
}

/// The ids a delete or refresh names: at most [`MAX_PER_APP_AND_SITE`].
fn webhook_ids(body: &[u8]) -> Result<Vec<u64>, JiraError> {
    let ids: WebhookIds = json_body(body, r#"{"webhookIds": [10001]}"#)?;
    if ids.webhook_ids.len() > MAX_PER_APP_AND_SITE {
        return Err(JiraError::BadRequest(format!(
            "At most {MAX_PER_APP_AND_SITE} webhook ids at once."
        )));
    }
    Ok(ids.webhook_ids)
}

/// `DELETE .../webhook`.
pub async fn delete(req: JiraRequest, body: Bytes) -> Result<Response, JiraError> {
    if let Some(refused) = lacks_scope(&req) {
        return Ok(refused);
    }
    let ids = webhook_ids(&body)?;
    req.sandbox
        .jira()
        .webhooks
        .delete(&req.caller.client_id, &req.caller.cloud_id, &ids);
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `PUT .../webhook/refresh`.
pub async fn refresh(req: JiraRequest, body: Bytes) -> Result<Response, JiraError> {
    if let Some(refused) = lacks_scope(&req) {
        return Ok(refused);
    }
    let ids = webhook_ids(&body)?;
    let now = req.sandbox.now();
    let until =
        req.sandbox
            .jira()
            .webhooks
            .refresh(&req.caller.client_id, &req.caller.cloud_id, &ids, now);
    Ok(Json(json!({"expirationDate": jira_date(until)})).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_731_200; // 2026-12-08T12:00:00Z

    fn registration(url: &str, jql: &str) -> Registration {
        Registration {
            url: url.to_owned(),
            webhooks: vec![WebhookDetails {
                events: vec!["jira:issue_created".to_owned()],
                jql_filter: Some(jql.to_owned()),
                field_ids_filter: None,
            }],
        }
    }

    #[test]
    fn a_webhook_lives_thirty_days_unless_refreshed() {
        let mut registry = WebhookRegistry::default();
        let made = registry
            .register(
                "app",
                "site",
                &registration("https://a/jira", "project = ACME"),
                NOW,
            )
            .expect("registered");
        let Ok(id) = made[0] else { panic!("{made:?}") };
        assert_eq!(
            registry.list("app", "site", NOW + LIFETIME_SECS - 1).len(),
            1
        );
        let until = registry.refresh("app", "site", &[id], NOW + 29 * 86_400);
        assert_eq!(until, NOW + 59 * 86_400);
        assert_eq!(registry.list("app", "site", NOW + 31 * 86_400).len(), 1);
        assert!(registry.list("app", "site", until).is_empty(), "expired");
        assert!(registry.refresh("app", "site", &[id], until) > until);
        assert!(
            registry.list("app", "site", until).is_empty(),
            "gone for good"
        );
    }

    #[test]
    fn one_url_per_app_the_jql_subset_and_known_events() {
        let mut registry = WebhookRegistry::default();
        registry
            .register(
                "app",
                "site",
                &registration("https://a/jira", "project = ACME"),
                NOW,
            )
            .expect("registered");
        let other = registry.register(
            "app",
            "site",
            &registration("https://b/jira", "project = ACME"),
            NOW,
        );
        assert!(other.is_err_and(|e| e.contains("single URL")));
        let bad = registry
            .register(
                "app",
                "site",
                &registration("https://a/jira", "priority = High"),
                NOW,
            )
            .expect("answered");
        assert!(matches!(&bad[0], Err(errors) if errors[0].contains("priority")));
        let mut request = registration("https://a/jira", "project = ACME");
        request.webhooks[0].events = vec!["jira:issue_exploded".to_owned()];
        let bad = registry
            .register("app", "site", &request, NOW)
            .expect("answered");
        assert!(matches!(&bad[0], Err(errors) if errors[0].contains("not supported")));
        // Another app's ids are not this app's to delete.
        let mine = registry.list("app", "site", NOW)[0].id;
        registry.delete("other-app", "site", &[mine]);
        assert_eq!(registry.list("app", "site", NOW).len(), 1);
        registry.delete("app", "site", &[mine]);
        assert!(registry.list("app", "site", NOW).is_empty());
    }

    #[test]
    fn dates_are_written_the_way_jira_writes_them() {
        assert_eq!(jira_date(NOW), "2026-12-08T12:00:00.000+0000");
        assert_eq!(jira_date(0), "1970-01-01T00:00:00.000+0000");
        assert_eq!(jira_date(951_782_400), "2000-02-29T00:00:00.000+0000");
    }
}
