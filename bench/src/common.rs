//! What the parts share: the benchmark's instance (a `LocalInstance` on a
//! hand-moved clock, signed in), seeding, the real server binary, medians and
//! verdicts.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::{IntegrationId, UnixTime};
use engine::db::{ConnectionColumns, Database};
use engine::vault::Column;
use engine::{ManualClock, Secret, Site};
use testkit::LocalInstance;

pub(crate) const NOW: i64 = 1_800_000_000;

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Awaits `work`: what it answered, and how long that took in ms.
pub(crate) async fn timed<T>(work: impl Future<Output = T>) -> (T, f64) {
    let started = Instant::now();
    let answer = work.await;
    (answer, started.elapsed().as_secs_f64() * 1e3)
}

/// `GET path` on the instance, signed in: the body of its successful answer.
pub(crate) async fn get_page(b: &Bench, path: &str) -> String {
    let res = b
        .http
        .get(format!("{}{path}", b.instance.base))
        .send()
        .await
        .expect("get");
    assert!(res.status().is_success(), "{path}: {}", res.status());
    res.text().await.expect("body")
}

/// The median time in ms of `runs` GETs of the dashboard page `path` (each
/// read to its end and checked to be the dashboard).
pub(crate) async fn median_page_ms(b: &Bench, path: &str, runs: usize) -> f64 {
    let mut times = Vec::new();
    for _ in 0..runs {
        let (body, ms) = timed(get_page(b, path)).await;
        times.push(ms);
        assert!(body.contains("Jira Integrations"));
    }
    median(times)
}

/// The size of the SQLite database behind `pool`, in bytes.
pub(crate) async fn database_bytes(pool: &sqlx::SqlitePool) -> i64 {
    sqlx::query_scalar("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()")
        .fetch_one(pool)
        .await
        .expect("size")
}

pub(crate) fn verdict(ok: bool) -> &'static str {
    if ok {
        "within budget"
    } else {
        "OVER BUDGET"
    }
}

pub(crate) struct Bench {
    /// The engine's and the sandbox's clock, moved by hand.
    pub(crate) clock: ManualClock,
    pub(crate) http: reqwest::Client,
    /// A folder for the extra databases the benchmark makes.
    pub(crate) scratch: tempfile::TempDir,
    pub(crate) instance: LocalInstance,
}

pub(crate) async fn start() -> Bench {
    start_with(&[]).await
}

/// Signs `client` (with a cookie store) in as the instance's administrator.
pub(crate) async fn sign_in(client: &reqwest::Client, base: &str) {
    let signed_in = client
        .post(format!("{base}/login"))
        .form(&[
            ("email", testkit::ADMIN_EMAIL),
            ("password", testkit::ADMIN_PASSWORD),
        ])
        .send()
        .await
        .expect("sign in");
    assert!(
        signed_in.status().is_success(),
        "sign in: {}",
        signed_in.status()
    );
}

/// [`start`] with extra server flags.
pub(crate) async fn start_with(args: &[&str]) -> Bench {
    let clock = ManualClock::new(NOW);
    let instance = LocalInstance::start(args, Arc::new(clock.clone()))
        .await
        .expect("start the dashboard");
    // Signed in as the instance's administrator (pages need a session).
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client");
    sign_in(&http, &instance.base).await;
    Bench {
        clock,
        http,
        scratch: tempfile::tempdir().expect("temp dir"),
        instance,
    }
}

/// A fresh token family at the sandbox (a real code exchange over HTTP).
pub(crate) async fn sandbox_tokens(b: &Bench) -> engine::oauth::TokenSet {
    let code = b.instance.sandbox.store().issue_code(
        sandbox::rules::CodeGrant {
            client_id: "sandbox-client-id".into(),
            redirect_uri: b.instance.engine.redirect_uri().to_string(),
            scopes: vec![
                "read:jira-work".into(),
                "read:me".into(),
                "offline_access".into(),
            ],
            account_id: "557058:ada-lovelace".into(),
            cloud_ids: vec!["11111111-aaaa-4aaa-8aaa-111111111111".into()],
            code_challenge: None,
        },
        b.instance.sandbox.now(),
    );
    b.instance
        .atlassian
        .exchange_code(
            &code,
            &Secret::new("unused-verifier-unused-verifier-unused-verifier"),
        )
        .await
        .expect("exchange")
}

/// Connects `n` integrations (distinct accounts), each with its own family,
/// writing them as the connect flow does (without the browser's round trips).
pub(crate) async fn connect_many(b: &Bench, n: usize) -> Vec<IntegrationId> {
    let (db, vault) = (&b.instance.database, &b.instance.vault);
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let tokens = sandbox_tokens(b).await;
        let account_id = format!("bench-account-{i}");
        let account_name = format!("Bench {i}");
        let sites = [Site {
            cloud_id: format!("cloud-{i}"),
            name: format!("site-{i}"),
            url: format!("https://site-{i}.atlassian.net"),
        }];
        let mut write = db.begin_connection().await.expect("begin");
        let id = write
            .create(&account_id, &account_name, UnixTime(NOW))
            .await
            .expect("create");
        let columns = ConnectionColumns {
            account_id: &account_id,
            account_name: &account_name,
            account_email: None,
            scopes: &tokens.scopes,
            access_token: vault
                .encrypt(id, Column::AccessToken, &tokens.access_token)
                .expect("seal"),
            refresh_token: tokens
                .refresh_token
                .as_ref()
                .map(|t| vault.encrypt(id, Column::RefreshToken, t).expect("seal")),
            expires_in: tokens.expires_in,
            sites: &sites,
        };
        write
            .store(id, &columns, UnixTime(NOW))
            .await
            .expect("store");
        write.commit().await.expect("commit");
        ids.push(id);
    }
    ids
}

/// Bulk-inserts `n` integrations with sites (fast: one transaction).
pub(crate) async fn seed_rows(db: &Database, from: i64, n: i64) {
    seed_rows_at(sqlite(db), from, n, NOW).await;
}

/// Bulk-inserts `n` integrations whose expiries spread over the hour after `now`.
/// Their tokens are placeholders, not sealed with any key: no access token
/// (a server's start-up key check judges the database by one), and a refresh
/// token that no refresh can open.
pub(crate) async fn seed_rows_at(pool: &sqlx::SqlitePool, from: i64, n: i64, now: i64) {
    seed_placeholders(pool, from, n, now, now + 60, 3_540).await;
}

/// [`seed_rows_at`] with the expiries spread over `span` seconds from
/// `expiries_from`. Each chunk of rows is one statement (a recursive count),
/// so the rows never cross to the client: a million take about a minute.
pub(crate) async fn seed_placeholders(
    pool: &sqlx::SqlitePool,
    from: i64,
    n: i64,
    now: i64,
    expiries_from: i64,
    span: i64,
) {
    const CHUNK: i64 = 50_000;
    let mut first = from;
    while first < from + n {
        let last = (first + CHUNK).min(from + n) - 1;
        let mut tx = pool.begin().await.expect("tx");
        // A few inactive; refresh tokens issued up to 19 days ago.
        sqlx::query(
            "INSERT INTO integrations (id, account_id, account_name, account_email, scopes, refresh_token,
                access_token, expires_at, access_token_lifetime, is_active, refresh_token_issued_at,
                consented_at, created_at, updated_at)
             WITH RECURSIVE n(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
             SELECT i, 'seed-' || i, 'Seeded Person ' || i, 'person' || i || '@example.com',
                'read:jira-work read:me offline_access', x'00', NULL, ?3 + (i * 7919) % ?4, 3600,
                i % 50 != 0, ?5 - (i % 20) * 86400, ?5, ?5, ?5
             FROM n",
        )
        .bind(first)
        .bind(last)
        .bind(expiries_from)
        .bind(span)
        .bind(now)
        .execute(&mut *tx)
        .await
        .expect("insert");
        sqlx::query(
            "INSERT INTO integration_sites
             WITH RECURSIVE n(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
             SELECT i, 'cloud-' || i, 'site-' || i, 'https://site-' || i || '.atlassian.net' FROM n",
        )
        .bind(first)
        .bind(last)
        .execute(&mut *tx)
        .await
        .expect("site");
        tx.commit().await.expect("commit");
        first = last + 1;
    }
}

/// The scheduler's "due soon" query at `now`, with its claim (the rows it
/// finds are claimed for the scheduler that asks, here one named "bench"):
/// rows found, median of 50 runs in ms.
pub(crate) async fn time_due_soon(db: &Database, now: UnixTime, margin: i64) -> (usize, f64) {
    let mut times = Vec::new();
    let mut due = 0;
    for _ in 0..50 {
        let (claimed, ms) = timed(db.claim_due_for_refresh(
            "bench",
            now + margin,
            now - engine::scheduler::IDLE_REFRESH_SECS,
            now,
            engine::scheduler::BATCH,
        ))
        .await;
        times.push(ms);
        due = claimed.expect("due").ids.len();
    }
    (due, median(times))
}

/// The real server binary, on a free port and `db`, with `env` added; answers
/// once `/healthz` does. Its base URL and the child process.
pub(crate) async fn spawn_server(db: &str, env: &[(&str, &str)]) -> (String, std::process::Child) {
    let exe = std::env::current_exe()
        .expect("exe")
        .with_file_name("server");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let child = std::process::Command::new(exe)
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", db)
        .env("JIRA_REDIRECT_URI", format!("{base}/oauth/callback"))
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start the server binary (build it with --release)");
    let client = reqwest::Client::new();
    for _ in 0..1_000 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (base, child)
}

/// Resident memory of the real server binary, idle on `db`.
pub(crate) async fn server_rss_mb(db: &str) -> f64 {
    let (_, mut child) = spawn_server(db, &[]).await;
    // Let the first scheduler tick run, then sit idle.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss = rss_mb(child.id());
    let _ = child.kill();
    let _ = child.wait();
    rss
}

/// Resident memory of process `pid`, in MB.
pub(crate) fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// The SQLite pool of a benchmark's database (the measurements at scale
/// seed and inspect SQLite directly).
pub(crate) fn sqlite(db: &engine::Database) -> &sqlx::SqlitePool {
    db.sqlite_pool()
        .expect("the benchmarks at scale run on SQLite")
}
