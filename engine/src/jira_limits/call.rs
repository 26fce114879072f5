//! A Jira call as the rate limits see it, and the scopes a `429` holds
//! (pure). Atlassian's limits are per app (the global quota), per tenant (a
//! tenant's quota), per tenant, endpoint and method (bursts) and per issue
//! (writes): developer.atlassian.com/cloud/jira/platform/rate-limiting/.

/// One call to Jira's REST API: the tenant (cloud id) it reaches, its
/// method, its endpoint (the path with ids and issue keys replaced by
/// `{id}`, so `issue/ACME-1` and `issue/10001` are one endpoint), and for a
/// write under `issue/{key}`, the issue it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JiraCall {
    pub tenant: String,
    pub method: String,
    pub endpoint: String,
    pub issue: Option<String>,
}

impl JiraCall {
    /// The call `method path` makes, for a path under Jira's API base
    /// (`ex/jira/{cloudId}/rest/...`, as the proxy takes it); `None` for any
    /// other path.
    pub fn of(method: &str, path: &str) -> Option<JiraCall> {
        let rest = path.trim_start_matches('/').strip_prefix("ex/jira/")?;
        let (tenant, rest) = rest.split_once('/')?;
        if tenant.is_empty() || tenant.len() > MAX_SEGMENT {
            return None;
        }
        let rest = rest.split(['?', '#']).next().unwrap_or_default();
        // One spelling per resource: `%69ssue/ACME%2D1` is `issue/ACME-1`.
        let decoded: Vec<String> = rest
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .collect();
        let segments: Vec<&str> = decoded.iter().map(String::as_str).collect();
        let under_rest = segments.first() == Some(&"rest");
        let endpoint = segments
            .iter()
            .enumerate()
            .take(MAX_SEGMENTS)
            .map(|(i, s)| match (i, *s) {
                // `rest/api/{2,3,latest}/...`: one API, one set of endpoints.
                (2, "2" | "3" | "latest") if under_rest => "3",
                // A word names a kind of resource; anything else one record.
                _ if is_word(s) => s,
                _ => "{id}",
            })
            .collect::<Vec<_>>()
            .join("/");
        let method = method.to_ascii_uppercase();
        let writes = !matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS");
        let issue = segments
            .windows(2)
            .find(|pair| pair[0] == "issue" && names_one(pair[1]) && pair[1].len() <= MAX_SEGMENT)
            .map(|pair| pair[1].to_ascii_uppercase())
            .filter(|_| writes);
        Some(JiraCall {
            tenant: tenant.to_owned(),
            method,
            endpoint,
            issue,
        })
    }

    /// Whether the call writes.
    pub fn writes(&self) -> bool {
        !matches!(self.method.as_str(), "GET" | "HEAD" | "OPTIONS")
    }

    /// The key of `scope` for this call: what a hold is stored under.
    pub fn key(&self, scope: Scope) -> String {
        match scope {
            Scope::App => "app".to_owned(),
            Scope::Tenant => format!("tenant {}", self.tenant),
            Scope::Endpoint => {
                format!("endpoint {} {} {}", self.tenant, self.method, self.endpoint)
            }
            Scope::Issue => format!(
                "issue {} {}",
                self.tenant,
                self.issue.as_deref().unwrap_or_default()
            ),
            // A budget belongs to a key, not to a call: no call names it.
            Scope::Key => "key".to_owned(),
        }
    }

    /// Every scope that may hold this call, widest first.
    pub fn scopes(&self) -> Vec<Scope> {
        let mut scopes = vec![Scope::App, Scope::Tenant, Scope::Endpoint];
        if self.issue.is_some() {
            scopes.push(Scope::Issue);
        }
        scopes
    }

    /// The scope a `429` with `reason` (`RateLimit-Reason`) holds.
    pub fn scope_of(&self, reason: &str) -> Scope {
        match reason {
            "jira-quota-global-based" => Scope::App,
            "jira-quota-tenant-based" => Scope::Tenant,
            "jira-per-issue-on-write" if self.issue.is_some() => Scope::Issue,
            // A burst, a per-issue limit on a call naming no issue, or a
            // reason Atlassian has not documented: the narrowest scope that
            // certainly covers the call.
            _ => Scope::Endpoint,
        }
    }
}

/// The most path segments an endpoint's key keeps, and the longest word:
/// what callers write into the keys stays bounded.
const MAX_SEGMENTS: usize = 12;
const MAX_SEGMENT: usize = 64;

/// Whether a path segment is a word of Jira's API (`issue`, `search`,
/// `createmeta`, `field-configuration`): letters, dashes and underscores,
/// short, and no issue key.
fn is_word(segment: &str) -> bool {
    !segment.is_empty()
        && segment.len() <= MAX_SEGMENT
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphabetic() || b == b'-' || b == b'_')
        && !names_one(segment)
}

/// Whether a path segment names one record (an id or an issue key such as
/// `ACME-12`) rather than a kind of resource.
fn names_one(segment: &str) -> bool {
    if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    match segment.rsplit_once('-') {
        Some((project, number)) => {
            !project.is_empty()
                && project
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && project
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphabetic())
                && !number.is_empty()
                && number.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// What a hold covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every call of the app (the global quota).
    App,
    /// Every call to one tenant (its quota).
    Tenant,
    /// One tenant's endpoint and method (a burst).
    Endpoint,
    /// Writes to one issue.
    Issue,
    /// One API key's calls, while it has spent its hourly points budget
    /// (this product's own limit, never Jira's).
    Key,
}

impl Scope {
    /// The name the service API gives it (`scope` in a `rate_limited` answer).
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::App => "app",
            Scope::Tenant => "tenant",
            Scope::Endpoint => "endpoint",
            Scope::Issue => "issue",
            Scope::Key => "key",
        }
    }

    /// The scope of a stored key.
    pub fn of_key(key: &str) -> Option<Scope> {
        match key.split(' ').next()? {
            "app" => Some(Scope::App),
            "tenant" => Some(Scope::Tenant),
            "endpoint" => Some(Scope::Endpoint),
            "issue" => Some(Scope::Issue),
            "key" => Some(Scope::Key),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLOUD: &str = "11111111-aaaa-4aaa-8aaa-111111111111";

    #[test]
    fn ids_and_issue_keys_make_one_endpoint_and_writes_name_their_issue() {
        let by_key =
            JiraCall::of("put", &format!("ex/jira/{CLOUD}/rest/api/3/issue/ACME-1")).expect("call");
        let by_id =
            JiraCall::of("PUT", &format!("ex/jira/{CLOUD}/rest/api/3/issue/10001")).expect("call");
        assert_eq!(by_key.endpoint, "rest/api/3/issue/{id}");
        assert_eq!(by_key.endpoint, by_id.endpoint);
        assert_eq!(by_key.issue.as_deref(), Some("ACME-1"));
        assert_eq!(by_key.method, "PUT");
        let comment = JiraCall::of(
            "POST",
            &format!("ex/jira/{CLOUD}/rest/api/3/issue/acme-7/comment"),
        )
        .expect("call");
        assert_eq!(comment.endpoint, "rest/api/3/issue/{id}/comment");
        assert_eq!(comment.issue.as_deref(), Some("ACME-7"));
        let read =
            JiraCall::of("GET", &format!("ex/jira/{CLOUD}/rest/api/3/issue/ACME-1")).expect("call");
        assert_eq!(read.issue, None, "a read holds no issue");
        let search = JiraCall::of(
            "GET",
            &format!("ex/jira/{CLOUD}/rest/api/3/search/jql?jql=x"),
        )
        .expect("call");
        assert_eq!(search.endpoint, "rest/api/3/search/jql");
        assert_eq!(search.tenant, CLOUD);
        // Spellings of one resource are one endpoint and one issue.
        let spelt = JiraCall::of(
            "PUT",
            &format!("ex/jira/{CLOUD}/rest/api/latest/%69ssue/ACME%2D1"),
        )
        .expect("call");
        assert_eq!(spelt.endpoint, "rest/api/3/issue/{id}");
        assert_eq!(spelt.issue.as_deref(), Some("ACME-1"));
        let v2 = JiraCall::of("GET", &format!("ex/jira/{CLOUD}/rest/api/2/myself")).expect("call");
        assert_eq!(v2.endpoint, "rest/api/3/myself");
        // Anything but a word is one record; keys stay short.
        let long = "z".repeat(5_000);
        let odd = format!("ex/jira/{CLOUD}/rest/api/3/issue/ACME-1/properties/x.y.{long}");
        let odd = JiraCall::of("GET", &odd).expect("call");
        assert_eq!(odd.endpoint, "rest/api/3/issue/{id}/properties/{id}");
        let deep = format!("ex/jira/{CLOUD}/rest/{}", "a/".repeat(500));
        assert!(JiraCall::of("GET", &deep).expect("call").endpoint.len() < 40);
        // Words with a dash are not keys.
        let meta = JiraCall::of(
            "GET",
            &format!("ex/jira/{CLOUD}/rest/api/3/issue/createmeta"),
        )
        .expect("call");
        assert_eq!(meta.endpoint, "rest/api/3/issue/createmeta");
        assert!(!names_one("field-configuration"));
        assert!(!names_one("-12"));
        assert!(names_one("OPS_2-3"));
    }

    #[test]
    fn paths_outside_jira_make_no_call() {
        for path in [
            "oauth/token",
            "ex/jira/",
            "ex/jira//rest",
            "ex/confluence/x/rest",
        ] {
            assert_eq!(JiraCall::of("GET", path), None, "{path}");
        }
    }

    #[test]
    fn each_reason_holds_its_scope_and_an_unknown_one_the_narrowest() {
        let write =
            JiraCall::of("PUT", &format!("ex/jira/{CLOUD}/rest/api/3/issue/ACME-1")).expect("call");
        let read =
            JiraCall::of("GET", &format!("ex/jira/{CLOUD}/rest/api/3/myself")).expect("call");
        for (reason, call, scope) in [
            ("jira-quota-global-based", &read, Scope::App),
            ("jira-quota-tenant-based", &read, Scope::Tenant),
            ("jira-burst-based", &read, Scope::Endpoint),
            ("jira-per-issue-on-write", &write, Scope::Issue),
            ("jira-per-issue-on-write", &read, Scope::Endpoint),
            ("something-new", &read, Scope::Endpoint),
            ("", &write, Scope::Endpoint),
        ] {
            assert_eq!(call.scope_of(reason), scope, "{reason}");
            assert_eq!(Scope::of_key(&call.key(scope)), Some(scope));
        }
        assert_eq!(write.key(Scope::Issue), format!("issue {CLOUD} ACME-1"));
        assert_eq!(
            read.key(Scope::Endpoint),
            format!("endpoint {CLOUD} GET rest/api/3/myself")
        );
        assert_eq!(write.scopes().len(), 4);
        assert_eq!(read.scopes().len(), 3);
    }
}
