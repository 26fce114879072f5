//! Several real `server` processes on one PostgreSQL database, with the
//! sandbox as a server of its own (`server::local_cluster`): the refresh is
//! single-flight across processes, a process killed while it holds a lease
//! leaves the refresh to another inside Atlassian's leeway, and the
//! schedulers share the due integrations, each refreshed by exactly one.
//!
//! PostgreSQL is `TEST_POSTGRES_URL`'s (scripts/test starts one) or a
//! throw-away one started here with `scripts/postgres`. Every test name
//! starts with `cluster_` (scripts/test runs them in its PostgreSQL pass).

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::header::{AUTHORIZATION, COOKIE};
use sandbox::rules::FaultKind;
use sha2::{Digest, Sha256};
use testkit::local_cluster::Cluster;

const ADA: &str = "557058:ada-lovelace";

/// Looks every `every` until `not_yet` answers `None`; fails with its last
/// answer (what it was still waiting for) after `within`.
async fn wait_until<F, Fut>(within: Duration, every: Duration, mut not_yet: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<String>>,
{
    let deadline = Instant::now() + within;
    loop {
        let Some(waiting) = not_yet().await else {
            return;
        };
        assert!(Instant::now() < deadline, "{waiting}");
        tokio::time::sleep(every).await;
    }
}

fn binary() -> &'static Path {
    testkit::server_binary!()
}

async fn start(servers: usize, extra: &[(&str, &str)]) -> Cluster {
    Cluster::start(binary(), servers, extra, sandbox::Settings::default())
        .await
        .expect("start the cluster")
}

/// A cluster of `servers` processes with one integration (Ada's, expiring in
/// an hour: only a button refreshes it), the administrator signed in on the
/// first process (the session cookie), Ada's token requests so far, and the
/// next token request held in flight for `delay_ms`.
async fn one_integration(
    servers: usize,
    extra: &[(&str, &str)],
    delay_ms: u64,
) -> (Cluster, String, u64) {
    let cluster = start(servers, extra).await;
    let now = cluster.sandbox.sandbox.now();
    cluster.seed(1..=1, |_| now + 3_600).await;
    let cookie = testkit::sign_in(
        &cluster.servers[0].base,
        testkit::ADMIN_EMAIL,
        testkit::ADMIN_PASSWORD,
    )
    .await
    .expect("sign in");
    let before = ada(&cluster).token_requests;
    cluster
        .sandbox
        .sandbox
        .inject_fault(FaultKind::Delay { ms: delay_ms }, 1);
    (cluster, cookie, before)
}

/// The dashboard's Refresh button, on `base`: (ok, message).
async fn refresh(http: &reqwest::Client, base: &str, cookie: &str, id: i64) -> (bool, String) {
    let res = http
        .post(format!("{base}/api/refresh_integration"))
        .header(COOKIE, cookie)
        .form(&[("id", id.to_string())])
        .send()
        .await
        .expect("refresh");
    assert!(res.status().is_success(), "{base}: {}", res.status());
    let outcome: serde_json::Value = res.json().await.expect("json");
    (
        outcome["ok"].as_bool().expect("ok"),
        outcome["message"].as_str().unwrap_or_default().to_owned(),
    )
}

fn ada(cluster: &Cluster) -> sandbox::rules::GrantStats {
    let (grants, _) = cluster.sandbox.sandbox.store().stats();
    grants
        .into_iter()
        .find(|g| g.account_id == ADA)
        .expect("Ada's grant")
}

async fn count(cluster: &Cluster, sql: &'static str) -> i64 {
    engine::db::query(sql)
        .scalar::<i64>(&cluster.database)
        .await
        .expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cluster_150_concurrent_refreshes_over_three_processes_make_one_token_request() {
    // One sign-in: the session lives in the database, so every process
    // knows it. A slow answer keeps the one token request in flight while
    // all 150 arrive, 50 on each process.
    let (cluster, cookie, before) = one_integration(3, &[], 3_000).await;
    let http = reqwest::Client::new();
    let sent = Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..150 {
        let (http, cookie) = (http.clone(), cookie.clone());
        let base = cluster.servers[i % 3].base.clone();
        calls.spawn(async move { refresh(&http, &base, &cookie, 1).await });
    }
    let mut outcomes = Vec::new();
    while let Some(done) = calls.join_next().await {
        outcomes.push(done.expect("call"));
    }
    assert!(
        sent.elapsed() >= Duration::from_secs(3),
        "the calls all waited for the one request"
    );
    assert_eq!(outcomes.len(), 150);
    assert!(outcomes.iter().all(|(ok, _)| *ok), "{outcomes:?}");
    let grant = ada(&cluster);
    assert_eq!(
        grant.token_requests - before,
        1,
        "one token request for one rotation"
    );
    assert_eq!(grant.live_families, 1);
    assert_eq!(
        count(
            &cluster,
            "SELECT COUNT(*) FROM token_events WHERE kind = 'refresh' AND outcome = 'ok'"
        )
        .await,
        1,
        "one rotation stored"
    );
    // The rotated token works: the next refresh, on another process, rotates again.
    let (ok, message) = refresh(&http, &cluster.servers[2].base, &cookie, 1).await;
    assert!(ok, "{message}");
    assert_eq!(ada(&cluster).token_requests - before, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cluster_a_process_killed_holding_the_lease_leaves_the_refresh_to_another() {
    // The survivor's scheduler looks every second.
    let (mut cluster, cookie, before) =
        one_integration(2, &[("SCHEDULER_INTERVAL_SECS", "1")], 2_000).await;
    let base = cluster.servers[0].base.clone();
    let (http, cookie_a) = (reqwest::Client::new(), cookie.clone());
    let doomed = tokio::spawn(async move {
        let _ = http
            .post(format!("{base}/api/refresh_integration"))
            .header(COOKIE, cookie_a)
            .form(&[("id", "1")])
            .send()
            .await;
    });
    // Once the token request is in flight (the lease taken, the token
    // marked as sent), the process dies without a word.
    let c = &cluster;
    wait_until(Duration::from_secs(10), Duration::from_millis(20), || async move {
        let leased = count(
            c,
            "SELECT COUNT(*) FROM integrations WHERE lease_owner IS NOT NULL AND refresh_sent_at IS NOT NULL",
        )
        .await;
        (leased != 1).then(|| "the refresh never started".to_owned())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    cluster.servers[0].kill();
    let _ = doomed.await;
    // The survivor retries the unknown outcome once the dead lease expires
    // (LEASE_SECS, 15 s), with the same refresh token: inside the leeway
    // even if the sandbox rotated it. A dead holder is found within 15 s:
    // with the survivor's next tick (1 s) and its 2 s token request, the
    // refresh is done well within 25 s of the kill.
    let c = &cluster;
    wait_until(
        Duration::from_secs(25),
        Duration::from_millis(250),
        || async move {
            let settled = count(
                c,
                "SELECT COUNT(*) FROM integrations
             WHERE refresh_sent_at IS NULL AND lease_owner IS NULL AND is_active = 1",
            )
            .await;
            let stored = count(
                c,
                "SELECT COUNT(*) FROM token_events WHERE kind = 'refresh' AND outcome = 'ok'",
            )
            .await;
            (settled != 1 || stored != 1)
                .then(|| "the survivor never finished the refresh".to_owned())
        },
    )
    .await;
    let grant = ada(&cluster);
    assert_eq!(
        grant.live_families, 1,
        "the family survived: no reuse outside the leeway"
    );
    assert!(
        (1..=2).contains(&(grant.token_requests - before)),
        "the lost request and the retry at most"
    );
    // And the stored token is the family's current one: a refresh works.
    let (ok, message) = refresh(
        &reqwest::Client::new(),
        &cluster.servers[1].base,
        &cookie,
        1,
    )
    .await;
    assert!(ok, "{message}");
    assert_eq!(ada(&cluster).live_families, 1);
}

/// Each process's refreshes, from its `/metrics` (all results).
async fn refreshes_by_process(cluster: &Cluster, key: &str) -> Vec<u64> {
    let http = reqwest::Client::new();
    let mut counts = Vec::new();
    for server in &cluster.servers {
        let text = http
            .get(format!("{}/metrics", server.base))
            .header(AUTHORIZATION, format!("Bearer {key}"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("body");
        let done: f64 = text
            .lines()
            .filter(|l| l.starts_with("jira_dashboard_refreshes_total"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        counts.push(done as u64);
    }
    counts
}

/// An API key that may read the metrics, stored as the dashboard stores one.
async fn metrics_key(cluster: &Cluster) -> String {
    let key = format!(
        "jdk_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
    );
    let hash: [u8; 32] = Sha256::digest(key.as_bytes()).into();
    cluster
        .database
        .insert_api_key(
            &engine::db::NewApiKey {
                name: "cluster test",
                prefix: &key[..8],
                key_hash: &hash,
                scopes: "metrics:read",
                tags: "{}",
                created_by: "user:admin@example.com",
            },
            &engine::db::NewAccountEvent {
                actor: "user:admin@example.com",
                action: "create_api_key",
                subject: "cluster test",
                message: "Created the cluster test's key",
            },
            domain::UnixTime(cluster.sandbox.sandbox.now()),
        )
        .await
        .expect("key");
    key
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cluster_three_schedulers_refresh_3000_due_integrations_exactly_once() {
    // Seeded before the processes start, so all three find them due.
    let mut cluster = start(0, &[("SCHEDULER_INTERVAL_SECS", "1")]).await;
    let now = cluster.sandbox.sandbox.now();
    // All inside the margin (5 minutes): due now.
    cluster.seed(1..=3_000, |id| now + 60 + id % 120).await;
    let before = ada(&cluster).token_requests;
    for _ in 0..3 {
        cluster.add_server().expect("server");
    }
    let key = metrics_key(&cluster).await;
    let c = &cluster;
    wait_until(
        Duration::from_secs(180),
        Duration::from_millis(500),
        || async move {
            let refreshed = count(
                c,
                "SELECT COUNT(*) FROM token_events WHERE kind = 'refresh' AND outcome = 'ok'",
            )
            .await;
            (refreshed < 3_000).then(|| format!("{refreshed} of 3,000 refreshed in 3 minutes"))
        },
    )
    .await;
    // A few more ticks: nothing is refreshed twice.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        count(
            &cluster,
            "SELECT COUNT(*) FROM token_events WHERE kind = 'refresh'"
        )
        .await,
        3_000,
        "each refreshed exactly once, none failed"
    );
    let grant = ada(&cluster);
    assert_eq!(
        grant.token_requests - before,
        3_000,
        "one token request each"
    );
    let renewed = engine::db::query("SELECT COUNT(*) FROM integrations WHERE expires_at > $1")
        .bind(now + 3_000)
        .scalar::<i64>(&cluster.database)
        .await
        .expect("count");
    assert_eq!(renewed, 3_000, "every access token renewed");
    assert_eq!(grant.live_families, 3_000);
    let by_process = refreshes_by_process(&cluster, &key).await;
    assert_eq!(by_process.iter().sum::<u64>(), 3_000, "{by_process:?}");
    assert!(
        by_process.iter().all(|n| *n > 0),
        "every process took a share: {by_process:?}"
    );
}
