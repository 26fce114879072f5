//! What one of Jira's answers says about its rate limits (pure), read from
//! the headers Atlassian documents ("Rate limiting", "Build an app that
//! respects rate limits", developer.atlassian.com/cloud/jira/platform/):
//! `Beta-RateLimit-Policy: "tenant-app-quota";q=100100;w=3600`,
//! `Beta-RateLimit: "tenant-app-quota";r=17842;t=2107`,
//! `X-Beta-RateLimit-NearLimit: true`, `X-RateLimit-Limit`,
//! `X-RateLimit-Remaining`, and on a `429`, `RateLimit-Reason` and
//! `Retry-After`.
//!
//! No header is trusted alone: a malformed one is ignored, the policy may
//! be missing once the pool is spent (vendors report it), and a wait is
//! bounded whatever it says ([`MIN_WAIT_SECS`] to [`MAX_WAIT_SECS`]).

use domain::UnixTime;
use reqwest::header::HeaderMap;

/// The shortest wait a `429` holds its scope for.
pub const MIN_WAIT_SECS: i64 = 1;
/// The longest: a quota's window. A `Retry-After` years ahead is a fault,
/// not a reason to stop calling Jira for years.
pub const MAX_WAIT_SECS: i64 = 3_600;
/// A quota refusal that says neither `Retry-After` nor its reset waits this.
const UNSAID_QUOTA_WAIT_SECS: i64 = 60;
/// A `Retry-After` that is neither seconds nor an HTTP date waits this.
const UNREADABLE_WAIT_SECS: i64 = 60;

/// Atlassian's documented reasons, kept as they are; any other becomes
/// `other` (an answer's words never reach a page, a label or a row).
fn known_reason(reason: &str) -> String {
    const KNOWN: [&str; 4] = [
        "jira-quota-global-based",
        "jira-quota-tenant-based",
        "jira-burst-based",
        "jira-per-issue-on-write",
    ];
    let reason = reason.trim();
    match KNOWN.into_iter().find(|k| *k == reason) {
        Some(known) => known.to_owned(),
        None if reason.is_empty() => String::new(),
        None => "other".to_owned(),
    }
}

/// A quota pool's state, as an answer tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaReading {
    /// The pool's name (`global-app-quota`, `tenant-app-quota`).
    pub pool: String,
    /// Points left in the window.
    pub remaining: u64,
    /// Seconds until the window resets.
    pub resets_in_secs: i64,
    /// The window's points, when the policy header came.
    pub points: Option<u64>,
}

/// A refusal: why, and how long its scope is held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `RateLimit-Reason` (empty when the answer gave none).
    pub reason: String,
    pub wait_secs: i64,
}

/// Everything one answer says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reading {
    pub quota: Option<QuotaReading>,
    pub near_limit: bool,
    /// Calls left this second on the call's endpoint and method.
    pub burst_remaining: Option<u64>,
    /// Set on a `429`.
    pub refusal: Option<Refusal>,
}

/// Reads an answer's `status` and `headers`, received at `now` (what an
/// HTTP-date `Retry-After` is counted from).
pub fn read(status: u16, headers: &HeaderMap, now: UnixTime) -> Reading {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // A list header may come as several lines, each a list of pools.
    let list = |name: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|line| line.split(','))
            .filter_map(structured)
            .collect::<Vec<_>>()
    };
    let policies = list("beta-ratelimit-policy");
    // Of the pools an answer names, the one with the fewest points left binds.
    let quota = list("beta-ratelimit")
        .into_iter()
        .filter_map(|(pool, params)| {
            let remaining = param(&params, "r")?;
            let resets_in_secs = i64::try_from(param(&params, "t")?).ok()?;
            let points = policies
                .iter()
                .find(|(name, _)| *name == pool)
                .and_then(|(_, params)| param(params, "q"));
            Some(QuotaReading {
                pool,
                remaining,
                resets_in_secs: resets_in_secs.min(MAX_WAIT_SECS),
                points,
            })
        })
        .min_by_key(|q| q.remaining);
    let near_limit =
        text("x-beta-ratelimit-nearlimit").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let burst_remaining = text("x-ratelimit-remaining").and_then(|v| v.trim().parse().ok());
    let refusal = (status == 429).then(|| {
        let reason = known_reason(text("ratelimit-reason").unwrap_or_default());
        let quota_reset = quota.as_ref().map(|q| q.resets_in_secs);
        // Seconds, or an HTTP date; anything else counts as a minute.
        let said = text("retry-after")
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| match v.parse::<i64>() {
                Ok(secs) => secs,
                Err(_) => chrono::DateTime::parse_from_rfc2822(v)
                    .map(|at| at.timestamp().saturating_sub(now.secs()))
                    .unwrap_or(UNREADABLE_WAIT_SECS),
            });
        let unsaid = if reason.starts_with("jira-quota") {
            quota_reset.unwrap_or(UNSAID_QUOTA_WAIT_SECS)
        } else {
            MIN_WAIT_SECS
        };
        Refusal {
            reason,
            wait_secs: said.unwrap_or(unsaid).clamp(MIN_WAIT_SECS, MAX_WAIT_SECS),
        }
    });
    Reading {
        quota,
        near_limit,
        burst_remaining,
        refusal,
    }
}

/// `"name";k=v;k=v` (an item with parameters, RFC 8941's shape): the name
/// and the parameters.
fn structured(value: &str) -> Option<(String, Vec<(String, String)>)> {
    let mut parts = value.split(';').map(str::trim);
    let name = parts.next()?.strip_prefix('"')?.strip_suffix('"')?;
    if name.is_empty() {
        return None;
    }
    let params = parts
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Some((name.to_owned(), params))
}

fn param(params: &[(String, String)], key: &str) -> Option<u64> {
    params.iter().find(|(k, _)| k == key)?.1.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    /// Tue, 08 Dec 2026 12:00:00 GMT.
    const NOW: UnixTime = UnixTime(1_796_731_200);

    fn read(status: u16, headers: &HeaderMap) -> Reading {
        super::read(status, headers, NOW)
    }

    #[test]
    fn a_retry_after_date_counts_from_now_and_is_bounded() {
        let wait = |date: &'static str| {
            let map = headers(&[("retry-after", date)]);
            read(429, &map).refusal.expect("refusal").wait_secs
        };
        assert_eq!(wait("Tue, 08 Dec 2026 12:00:30 GMT"), 30);
        assert_eq!(
            wait("Tue, 08 Dec 2026 11:00:00 GMT"),
            MIN_WAIT_SECS,
            "in the past"
        );
        assert_eq!(
            wait("Fri, 08 Dec 2034 12:00:00 GMT"),
            MAX_WAIT_SECS,
            "years ahead"
        );
        assert_eq!(wait("soon"), UNREADABLE_WAIT_SECS);
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("value"));
        }
        map
    }

    #[test]
    fn a_healthy_answer_tells_the_pool_and_the_burst() {
        let reading = read(
            200,
            &headers(&[
                (
                    "beta-ratelimit-policy",
                    "\"tenant-app-quota\";q=100100;w=3600",
                ),
                ("beta-ratelimit", "\"tenant-app-quota\";r=17842;t=2107"),
                ("x-ratelimit-remaining", "7"),
            ]),
        );
        assert_eq!(
            reading.quota,
            Some(QuotaReading {
                pool: "tenant-app-quota".into(),
                remaining: 17_842,
                resets_in_secs: 2_107,
                points: Some(100_100),
            })
        );
        assert_eq!(reading.burst_remaining, Some(7));
        assert!(!reading.near_limit);
        assert_eq!(reading.refusal, None);
    }

    #[test]
    fn of_several_pools_on_one_answer_the_one_with_fewest_points_binds() {
        let mut map = headers(&[(
            "beta-ratelimit-policy",
            "\"global-app-quota\";q=65000;w=3600, \"tenant-app-quota\";q=100100;w=3600",
        )]);
        map.append(
            "beta-ratelimit",
            HeaderValue::from_static("\"global-app-quota\";r=30000;t=900"),
        );
        map.append(
            "beta-ratelimit",
            HeaderValue::from_static("\"tenant-app-quota\";r=17842;t=2107, \"junk\""),
        );
        let quota = read(200, &map).quota.expect("a pool");
        assert_eq!(quota.pool, "tenant-app-quota");
        assert_eq!(quota.remaining, 17_842);
        assert_eq!(quota.points, Some(100_100));
    }

    #[test]
    fn a_spent_pool_without_its_policy_still_reads() {
        let reading = read(
            429,
            &headers(&[
                ("beta-ratelimit", "\"global-app-quota\";r=0;t=1200"),
                ("x-beta-ratelimit-nearlimit", "true"),
                ("ratelimit-reason", "jira-quota-global-based"),
            ]),
        );
        let quota = reading.quota.expect("quota");
        assert_eq!((quota.remaining, quota.points), (0, None));
        assert!(reading.near_limit);
        // No Retry-After: the pool's reset says how long.
        assert_eq!(
            reading.refusal,
            Some(Refusal {
                reason: "jira-quota-global-based".into(),
                wait_secs: 1_200
            })
        );
    }

    #[test]
    fn absurd_or_malformed_headers_change_nothing_they_should_not() {
        for (retry_after, wait) in [
            ("-5", 1),
            ("0", 1),
            ("99999999999", 3_600),
            ("soon", 60),
            ("Wed, 21 Oct 2026 07:28:00 GMT", 1),
            ("30", 30),
        ] {
            let reading = read(
                429,
                &headers(&[
                    ("retry-after", retry_after),
                    ("ratelimit-reason", "jira-burst-based"),
                ]),
            );
            assert_eq!(
                reading.refusal.expect("refusal").wait_secs,
                wait,
                "{retry_after}"
            );
        }
        for broken in [
            "tenant-app-quota;r=1;t=2",
            "\"\";r=1;t=2",
            "\"q\";r=x;t=2",
            "\"q\";t=2",
            "\"q\";r=1;t=-4",
        ] {
            let reading = read(200, &headers(&[("beta-ratelimit", broken)]));
            assert_eq!(reading.quota, None, "{broken}");
        }
        let reading = read(429, &headers(&[("ratelimit-reason", "<script>x</script>")]));
        assert_eq!(reading.refusal.expect("refusal").reason, "other");
        let reading = read(200, &headers(&[("x-ratelimit-remaining", "lots")]));
        assert_eq!(reading.burst_remaining, None);
        // A policy naming another pool says nothing of this one's points.
        let reading = read(
            200,
            &headers(&[
                ("beta-ratelimit-policy", "\"other\";q=5;w=3600"),
                ("beta-ratelimit", "\"global-app-quota\";r=3;t=99999999"),
            ]),
        );
        let quota = reading.quota.expect("quota");
        assert_eq!((quota.points, quota.resets_in_secs), (None, 3_600));
        assert_eq!(reading.refusal, None, "only a 429 refuses");
    }
}
