//! `scripts/bench`: seeds the database with generated integrations and prints each
//! figure of the performance budget next to its budget. Medians over repeated
//! runs; a ratio is measured in the same run as its reference.
//!
//! Measured here: refresh throughput and latency against the in-process sandbox
//! (and the bare token request as the floor), the scheduler's "due soon" query
//! at 100,000 integrations with its query plan, the server-side render of a
//! dashboard page at 10,000 integrations, and the server's resident memory idle
//! and with 100,000 integrations. scripts/bench adds the wasm size and the
//! browser's per-tick cost. The service API: token hand-outs under load, the
//! proxy's overhead, memory while a 50 MB answer streams (`bench service`
//! alone). `bench refresh` runs the refresh figures alone;
//! `bench seed <db> <n>` only seeds a database (for the browser measurement).
//! Issue 18's scale: `bench pace` (the scheduler against a 150 ms provider),
//! `bench policy` (token requests per integration per day under each refresh
//! policy), `bench search` (search at 1,000,000) and `bench scale` (ten minutes
//! of scheduling at 1,000,000, then the pages, the database's size, the
//! server's start-up and memory). Issue 17's: `bench replicas` (refreshes
//! per second of one and of three `server` processes on PostgreSQL, which it
//! starts like the cluster tests do). Without a mode, everything.

use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::{EventKind, EventOutcome, IntegrationId, UnixTime};
use engine::db::{ConnectionColumns, Database};
use engine::vault::Column;
use engine::{Clock, ManualClock, Secret, Site};
use server::LocalInstance;

const NOW: i64 = 1_800_000_000;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "within budget"
    } else {
        "OVER BUDGET"
    }
}

struct Bench {
    /// The engine's and the sandbox's clock, moved by hand.
    clock: ManualClock,
    http: reqwest::Client,
    /// A folder for the extra databases the benchmark makes.
    scratch: tempfile::TempDir,
    instance: LocalInstance,
}

async fn start() -> Bench {
    start_with(&[]).await
}

/// [`start`] with extra server flags.
async fn start_with(args: &[&str]) -> Bench {
    let clock = ManualClock::new(NOW);
    let instance = LocalInstance::start(args, Arc::new(clock.clone()))
        .await
        .expect("start the dashboard");
    // Signed in as the instance's administrator (pages need a session).
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client");
    let signed_in = http
        .post(format!("{}/login", instance.base))
        .form(&[
            ("email", server::ADMIN_EMAIL),
            ("password", server::ADMIN_PASSWORD),
        ])
        .send()
        .await
        .expect("sign in");
    assert!(
        signed_in.status().is_success(),
        "sign in: {}",
        signed_in.status()
    );
    Bench {
        clock,
        http,
        scratch: tempfile::tempdir().expect("temp dir"),
        instance,
    }
}

/// A fresh token family at the sandbox (a real code exchange over HTTP).
async fn sandbox_tokens(b: &Bench) -> engine::oauth::TokenSet {
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
async fn connect_many(b: &Bench, n: usize) -> Vec<IntegrationId> {
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

async fn bench_refresh(b: &Bench) {
    println!("\n## 1. Refresh, end to end against the in-process sandbox");
    // Interleaved, one at a time, so that the floor and what is compared with
    // it see the same machine: a bare token request from this process (the
    // floor); one refresh through the engine; one durable (fsynced) commit of a
    // row and an event on the same database (what a refresh cannot do without);
    // and the engine's own two database steps alone (read the row; store a
    // rotation: compare-and-swap, row and event, one commit).
    let ids = connect_many(b, 1_200).await;
    let (mut floor, mut one, mut commit) = (Vec::new(), Vec::new(), Vec::new());
    let (mut read, mut store) = (Vec::new(), Vec::new());
    for id in ids[..200].iter().copied() {
        let rt = sandbox_tokens(b)
            .await
            .refresh_token
            .expect("refresh token");
        let started = Instant::now();
        b.instance.atlassian.refresh(&rt).await.expect("refresh");
        floor.push(started.elapsed().as_secs_f64() * 1e3);

        let started = Instant::now();
        let outcome = b
            .instance
            .engine
            .refresh(id, &domain::Actor::Scheduler)
            .await;
        assert!(outcome.ok(), "{}", outcome.message);
        one.push(started.elapsed().as_secs_f64() * 1e3);

        let started = Instant::now();
        sqlx::raw_sql(&format!(
            "BEGIN IMMEDIATE;
             UPDATE integrations SET updated_at = updated_at + 1 WHERE id = {id};
             INSERT INTO token_events (integration_id, at, kind, outcome, message)
                VALUES ({id}, {NOW}, 'bench', 'ok', 'durable commit floor');
             COMMIT;"
        ))
        .execute(sqlite(&b.instance.database))
        .await
        .expect("commit");
        commit.push(started.elapsed().as_secs_f64() * 1e3);

        let started = Instant::now();
        let row = b
            .instance
            .database
            .refresh_row(id)
            .await
            .expect("read")
            .expect("row");
        read.push(started.elapsed().as_secs_f64() * 1e3);
        let sent = row.refresh_token.expect("refresh token");
        let rotation = engine::db::Rotation {
            access_token: b
                .instance
                .vault
                .encrypt(id, Column::AccessToken, &Secret::new("bench-access"))
                .expect("encrypt"),
            refresh_token: Some(sent.clone()),
            expires_in: 3_600,
        };
        let event = engine::db::NewEvent {
            integration_id: Some(id),
            kind: EventKind::Refresh,
            outcome: EventOutcome::Ok,
            http_status: Some(200),
            error_code: None,
            message: "bench",
            actor: Some("scheduler"),
        };
        let started = Instant::now();
        assert!(b
            .instance
            .database
            .store_rotation(
                engine::db::Fenced {
                    id,
                    sent: Some(&sent),
                    fence: row.lease_fence,
                },
                &rotation,
                &event,
                None,
                UnixTime(NOW)
            )
            .await
            .expect("store"));
        store.push(started.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "  read the row: median {:.3} ms; store the rotation: median {:.3} ms",
        median(read),
        median(store)
    );
    let (floor, one, commit) = (median(floor), median(one), median(commit));
    let ratio = one / floor;
    println!("bare token request (floor): median {floor:.3} ms");
    println!("one refresh (engine):       median {one:.3} ms");
    println!(
        "ratio: {ratio:.2} (budget <= 1.5): {}",
        verdict(ratio <= 1.5)
    );
    println!(
        "  of which one durable commit (synchronous=FULL, measured alone): median {commit:.3} ms"
    );
    println!(
        "  the rest of the engine (read, decrypt, encrypt, single-flight): {:.3} ms; \
         ratio without the commit: {:.2}",
        (one - floor - commit).max(0.0),
        (one - commit) / floor
    );

    // Throughput: 1,000 refreshes, 8 at a time (the scheduler's starting pace).
    let rest = ids[200..].to_vec();
    let mut rates = Vec::new();
    for chunk in rest.chunks(rest.len() / 5) {
        let permits = Arc::new(tokio::sync::Semaphore::new(engine::provider_pace::INITIAL));
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for id in chunk.iter().copied() {
            let engine = b.instance.engine.clone();
            let permits = permits.clone();
            tasks.spawn(async move {
                let _p = permits.acquire_owned().await;
                engine.refresh(id, &domain::Actor::Scheduler).await.ok()
            });
        }
        let mut ok = 0;
        while let Some(r) = tasks.join_next().await {
            if r.unwrap_or(false) {
                ok += 1;
            }
        }
        assert_eq!(ok, chunk.len(), "every refresh succeeded");
        rates.push(chunk.len() as f64 / started.elapsed().as_secs_f64());
    }
    let rate = median(rates);
    println!(
        "throughput: median {rate:.0} refreshes/s over 5 runs of {} (budget >= 500): {}",
        rest.len() / 5,
        verdict(rate >= 500.0)
    );
}

/// Bulk-inserts `n` integrations with sites (fast: one transaction).
async fn seed_rows(db: &Database, from: i64, n: i64) {
    seed_rows_at(sqlite(db), from, n, NOW).await;
}

/// Bulk-inserts `n` integrations whose expiries spread over the hour after `now`.
/// Their tokens are placeholders, not sealed with any key: no access token
/// (a server's start-up key check judges the database by one), and a refresh
/// token that no refresh can open.
async fn seed_rows_at(pool: &sqlx::SqlitePool, from: i64, n: i64, now: i64) {
    seed_placeholders(pool, from, n, now, now + 60, 3_540).await;
}

/// [`seed_rows_at`] with the expiries spread over `span` seconds from
/// `expiries_from`. Each chunk of rows is one statement (a recursive count),
/// so the rows never cross to the client: a million take about a minute.
async fn seed_placeholders(
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

async fn bench_dashboard(b: &Bench) {
    println!("\n## 3. Dashboard render with 10,000 integrations (100 per page)");
    let have: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM integrations")
        .fetch_one(sqlite(&b.instance.database))
        .await
        .expect("count");
    seed_rows(&b.instance.database, 1_000_000, 10_000 - have).await;
    for path in [
        "/dashboard",
        "/dashboard?page=50",
        "/dashboard?status=expiring",
        "/dashboard?q=site-99",
    ] {
        let mut times = Vec::new();
        for _ in 0..30 {
            let started = Instant::now();
            let res = b
                .http
                .get(format!("{}{path}", b.instance.base))
                .send()
                .await
                .expect("get");
            assert!(res.status().is_success());
            let body = res.text().await.expect("body");
            times.push(started.elapsed().as_secs_f64() * 1e3);
            assert!(body.contains("Jira Integrations"));
        }
        let t = median(times);
        println!(
            "GET {path}: median {t:.2} ms (budget <= 20): {}",
            verdict(t <= 20.0)
        );
    }
}

async fn bench_due_soon(b: &Bench) {
    println!("\n## 2. Scheduler \"due soon\" query at 100,000 integrations");
    let have: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM integrations")
        .fetch_one(sqlite(&b.instance.database))
        .await
        .expect("count");
    seed_rows(&b.instance.database, 2_000_000, 100_000 - have).await;
    sqlx::query("ANALYZE")
        .execute(sqlite(&b.instance.database))
        .await
        .expect("analyze");
    let (due, t) = time_due_soon(&b.instance.database, UnixTime(NOW), 300).await;
    println!(
        "due_for_refresh -> {due} rows: median {t:.3} ms (budget <= 5): {}",
        verdict(t <= 5.0)
    );
    let mut scans = false;
    for (sql, bound) in [
        (engine::db::DUE_FOR_REFRESH_SQL, NOW + 300),
        (engine::db::IDLE_REFRESH_SQL, NOW - 30 * 86_400),
    ] {
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
                .bind(NOW)
                .bind(engine::scheduler::BATCH)
                .bind("bench")
                .bind(bound)
                .fetch_all(sqlite(&b.instance.database))
                .await
                .expect("plan");
        println!("EXPLAIN QUERY PLAN:");
        for (_, _, _, detail) in &plan {
            println!("  {detail}");
            scans |= detail.starts_with("SCAN") || detail.contains("TEMP B-TREE");
        }
    }
    println!("index walks only (no scan, no sort): {}", verdict(!scans));
}

/// The scheduler's "due soon" query at `now`, with its claim (the rows it
/// finds are claimed for the scheduler that asks, here one named "bench"):
/// rows found, median of 50 runs in ms.
async fn time_due_soon(db: &Database, now: UnixTime, margin: i64) -> (usize, f64) {
    let mut times = Vec::new();
    let mut due = 0;
    for _ in 0..50 {
        let started = Instant::now();
        due = db
            .claim_due_for_refresh(
                "bench",
                now + margin,
                now - engine::scheduler::IDLE_REFRESH_SECS,
                now,
                engine::scheduler::BATCH,
            )
            .await
            .expect("due")
            .ids
            .len();
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    (due, median(times))
}

/// The real server binary, on a free port and `db`, with `env` added; answers
/// once `/healthz` does. Its base URL and the child process.
async fn spawn_server(db: &str, env: &[(&str, &str)]) -> (String, std::process::Child) {
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
async fn server_rss_mb(db: &str) -> f64 {
    let (_, mut child) = spawn_server(db, &[]).await;
    // Let the first scheduler tick run, then sit idle.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss = rss_mb(child.id());
    let _ = child.kill();
    let _ = child.wait();
    rss
}

async fn bench_memory(b: &Bench) {
    println!("\n## 5. Server resident memory");
    let empty = b.scratch.path().join("empty.db");
    let idle = server_rss_mb(&format!("sqlite://{}", empty.display())).await;
    println!(
        "idle, empty database: {idle:.1} MB (budget <= 40): {}",
        verdict(idle <= 40.0)
    );
    let full = server_rss_mb(&format!("sqlite://{}", b.instance.database_file.display())).await;
    println!(
        "idle, 100,000 integrations: {full:.1} MB (budget <= 80): {}",
        verdict(full <= 80.0)
    );
}

/// Resident memory of process `pid`, in MB.
fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// Live updates: 1,000 open event streams on the real server binary (its
/// memory growth), and how long a change takes to reach all of them.
async fn bench_live(b: &Bench) {
    const STREAMS: usize = 1_000;
    println!("\n## 6. Live updates: {STREAMS} open event streams");
    let db = b.scratch.path().join("live.db");
    let url = format!("sqlite://{}", db.display());
    let (base, mut child) = spawn_server(
        &url,
        &[
            ("ADMIN_EMAIL", server::ADMIN_EMAIL),
            ("ADMIN_PASSWORD", server::ADMIN_PASSWORD),
            ("SCHEDULER_INTERVAL_SECS", "300"),
            // One user opens them all: the figure is the streams' cost,
            // not the per-user ceiling's.
            ("LIVE_STREAMS_PER_USER", "2000"),
        ],
    )
    .await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    {
        // One integration whose refresh (it fails: its token is not one the
        // sandbox issued, and the failure is a change) is what is broadcast
        // (written beside the running server, which made the token key).
        let seeded = engine::Database::open(&url).await.expect("open");
        seed_rows(&seeded, 1, 1).await;
    }
    let signed_in = client
        .post(format!("{base}/login"))
        .form(&[
            ("email", server::ADMIN_EMAIL),
            ("password", server::ADMIN_PASSWORD),
        ])
        .send()
        .await
        .expect("sign in");
    assert!(
        signed_in.status().is_success(),
        "sign in: {}",
        signed_in.status()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = rss_mb(child.id());
    let (heard, mut hearing) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let (opened, mut opening) = tokio::sync::mpsc::unbounded_channel::<()>();
    for _ in 0..STREAMS {
        let client = client.clone();
        let url = format!("{base}/events");
        let heard = heard.clone();
        let opened = opened.clone();
        tokio::spawn(async move {
            let Ok(mut res) = client.get(url).send().await else {
                return;
            };
            let mut text = String::new();
            while let Ok(Some(chunk)) = res.chunk().await {
                text.push_str(&String::from_utf8_lossy(&chunk));
                if text.contains("event: ready") {
                    let _ = opened.send(());
                    text = text.replace("event: ready", "");
                }
                while let Some(at) = text.find("event: integration") {
                    let _ = heard.send(Instant::now());
                    text.drain(..at + "event: integration".len());
                }
            }
        });
    }
    for _ in 0..STREAMS {
        opening.recv().await.expect("a stream opened");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_mb(child.id());
    let growth = after - before;
    println!(
        "server RSS {before:.1} MB before, {after:.1} MB with {STREAMS} streams: +{growth:.1} MB (budget <= 50): {}",
        verdict(growth <= 50.0)
    );
    let mut lasts = Vec::new();
    let mut medians = Vec::new();
    for _ in 0..10 {
        let sent = Instant::now();
        let res = client
            .post(format!("{base}/api/refresh_integration"))
            .form(&[("id", "1")])
            .send()
            .await
            .expect("refresh");
        assert!(res.status().is_success(), "refresh: {}", res.status());
        let mut arrivals = Vec::with_capacity(STREAMS);
        for _ in 0..STREAMS {
            let at = tokio::time::timeout(Duration::from_secs(10), hearing.recv())
                .await
                .expect("every stream hears the change within 10 s")
                .expect("open");
            arrivals.push((at - sent).as_secs_f64() * 1e3);
        }
        arrivals.sort_by(f64::total_cmp);
        medians.push(arrivals[STREAMS / 2]);
        lasts.push(arrivals[STREAMS - 1]);
    }
    let worst = lasts.iter().copied().fold(0.0, f64::max);
    println!(
        "a change reaches all {STREAMS} (from the request that commits it, 10 changes): median client {:.1} ms, last client median {:.1} ms, max {worst:.1} ms (budget <= 1000): {}",
        median(medians),
        median(lasts.clone()),
        verdict(worst <= 1000.0)
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// `bench seed <database file> <count>`: a database for the browser benchmark,
/// with expiries spread over the next hour of the wall clock.
async fn seed_only(path: &str, count: i64) {
    let db = engine::Database::open(&format!("sqlite://{path}"))
        .await
        .expect("open");
    let now = engine::Clock::now(&engine::SystemClock).secs();
    seed_rows_at(sqlite(&db), 1, count, now).await;
    println!("seeded {count} integrations into {path}");
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, mode, path, count] = args.as_slice() {
        if mode == "seed" {
            seed_only(path, count.parse().expect("count")).await;
            return;
        }
    }
    println!(
        "# Jira dashboard benchmark ({} cores)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    if args.get(1).map(String::as_str) == Some("replicas") {
        bench_replicas().await;
        return;
    }
    let b = start().await;
    if args.get(1).map(String::as_str) == Some("live") {
        bench_live(&b).await;
        return;
    }
    if args.get(1).map(String::as_str) == Some("service") {
        bench_service(&b).await;
        return;
    }
    if args.get(1).map(String::as_str) == Some("search") {
        bench_search(&b).await;
        return;
    }
    if args.get(1).map(String::as_str) == Some("policy") {
        bench_policy().await;
        return;
    }
    if args.get(1).map(String::as_str) == Some("scale") {
        bench_scale(&b).await;
        return;
    }
    if args.get(1).map(String::as_str) == Some("pace") {
        bench_pace(&b).await;
        return;
    }
    bench_refresh(&b).await;
    if args.get(1).map(String::as_str) == Some("refresh") {
        return;
    }
    bench_dashboard(&b).await;
    bench_due_soon(&b).await;
    bench_memory(&b).await;
    bench_live(&b).await;
    bench_service(&b).await;
    bench_pace(&b).await;
    bench_policy().await;
    // A million integrations each, on fresh instances (the last takes about 20 minutes).
    bench_search(&start().await).await;
    bench_scale(&start().await).await;
    bench_replicas().await;
}

/// Refreshes in flight per process in `bench replicas` (`BENCH_REPLICA_CONCURRENCY`
/// changes it): one process is then bound by the provider's latency (8 at
/// 100 ms: at most 80 per second), as it would be on a machine of its own,
/// and not by this machine's cores, which every process, PostgreSQL and the
/// sandbox share here.
const REPLICA_CONCURRENCY: &str = "8";
/// Integrations due at the start, at least: a window must never run out of
/// work, so the fleet is sized for three processes at their ceiling
/// ([`replica_fleet`]).
const REPLICA_FLEET: i64 = 12_000;
const REPLICA_WARMUP: Duration = Duration::from_secs(5);
const REPLICA_WINDOW: Duration = Duration::from_secs(30);
/// The sandbox's answer time in `bench replicas`.
const REPLICA_LATENCY_MS: u64 = 100;

/// Integrations to seed so that three processes with `concurrency` in flight
/// each, at most one answer per [`REPLICA_LATENCY_MS`] each, cannot refresh
/// them all before the window ends (with a fifth to spare). A fleet that
/// runs dry mid-window measures the fleet, not the processes: so did this
/// benchmark's first version at 24 and 64 in flight.
fn replica_fleet(concurrency: u64) -> i64 {
    let ceiling_per_s = 3 * concurrency * 1_000 / REPLICA_LATENCY_MS;
    let seconds = (REPLICA_WARMUP + REPLICA_WINDOW).as_secs();
    REPLICA_FLEET.max(i64::try_from(ceiling_per_s * seconds * 6 / 5).unwrap_or(i64::MAX))
}

/// Issue 17: refreshes per second on PostgreSQL with one server process and
/// with three (the release `server` binary, a sandbox answering in 100 ms,
/// every integration due), side by side; three must do 2.5 times one.
async fn bench_replicas() {
    println!("\n## Replicas on PostgreSQL: one process and three");
    let binary = std::env::current_exe()
        .expect("the benchmark's path")
        .with_file_name("server");
    let one = replica_rate(&binary, 1).await;
    let three = replica_rate(&binary, 3).await;
    let ratio = three / one;
    println!(
        "one process: {one:.0} refreshes/s; three: {three:.0} refreshes/s; {ratio:.2}x (budget >= 2.5x): {}",
        verdict(ratio >= 2.5)
    );
}

/// Refreshes per second, over [`REPLICA_WINDOW`] after a warm-up, of
/// `processes` servers sharing a fresh PostgreSQL database.
async fn replica_rate(binary: &std::path::Path, processes: usize) -> f64 {
    let settings = sandbox::Settings {
        latency_ms: REPLICA_LATENCY_MS,
        ..sandbox::Settings::default()
    };
    let concurrency = std::env::var("BENCH_REPLICA_CONCURRENCY")
        .unwrap_or_else(|_| REPLICA_CONCURRENCY.to_owned());
    let fleet =
        replica_fleet(concurrency.parse().unwrap_or_else(|_| {
            panic!("BENCH_REPLICA_CONCURRENCY is not a number: {concurrency}")
        }));
    let env = [
        ("SCHEDULER_INTERVAL_SECS", "1"),
        ("SCHEDULER_MAX_CONCURRENCY", concurrency.as_str()),
        ("RUST_LOG", "warn"),
    ];
    let mut cluster = server::local_cluster::Cluster::start(binary, 0, &env, settings)
        .await
        .expect("start the cluster");
    let now = cluster.sandbox.sandbox.now();
    cluster.seed(1..=fleet, |id| now + 60 + id % 240).await;
    for _ in 0..processes {
        cluster.add_server().expect("start a server");
    }
    let refreshed = || async {
        engine::db::query(
            "SELECT COUNT(*) FROM token_events WHERE kind = 'refresh' AND outcome = 'ok'",
        )
        .scalar::<i64>(&cluster.database)
        .await
        .expect("count")
    };
    tokio::time::sleep(REPLICA_WARMUP).await;
    let (before, started) = (refreshed().await, Instant::now());
    tokio::time::sleep(REPLICA_WINDOW).await;
    let total = refreshed().await;
    let done = total - before;
    let rate = done as f64 / started.elapsed().as_secs_f64();
    // What the processes complained of, if anything (a figure that falls
    // short says why here).
    for (n, server) in cluster.servers.iter().enumerate() {
        let said = server
            .output
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let complaints: Vec<&String> = said
            .iter()
            .filter(|l| l.contains("WARN") || l.contains("ERROR"))
            .collect();
        if let Some(first) = complaints.first() {
            println!(
                "  process {}: {} warnings or errors, the first: {}",
                n + 1,
                complaints.len(),
                first.chars().take(300).collect::<String>()
            );
        }
    }
    println!(
        "{processes} process(es), {concurrency} refreshes in flight each: {done} refreshes in {:.0} s, {rate:.0}/s ({} of {fleet} due left)",
        started.elapsed().as_secs_f64(),
        fleet - total
    );
    assert!(
        total < fleet,
        "all {fleet} integrations were refreshed before the window ended: the figure measures the fleet"
    );
    rate
}

/// The service API: token hand-outs under load, the proxy's overhead over
/// calling the same upstream directly, and memory while a 50 MB answer streams.
async fn bench_service(b: &Bench) {
    println!("\n## 7. Service API");
    let id = connect_many(b, 1).await[0];
    let admin = domain::Actor::User(server::ADMIN_EMAIL.into());
    let key = b
        .instance
        .engine
        .create_api_key(
            "bench",
            &[domain::ApiScope::TokensRead, domain::ApiScope::Proxy],
            &admin,
        )
        .await
        .expect("key")
        .key;
    let base = b.instance.base.clone();

    // Hand-outs of a fresh token: 64 clients, paced to 1,000 requests/s in all.
    const CLIENTS: usize = 64;
    const RATE: f64 = 1_000.0;
    const SECS: f64 = 5.0;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .build()
        .expect("client");
    let url = format!("{base}/v1/integrations/{id}/access-token");
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..CLIENTS {
        let (client, url, key) = (client.clone(), url.clone(), key.clone());
        tasks.spawn(async move {
            let every = Duration::from_secs_f64(CLIENTS as f64 / RATE);
            let mut next = Instant::now() + every.mul_f64(c as f64 / CLIENTS as f64);
            let mut times = Vec::new();
            while next.duration_since(started).as_secs_f64() < SECS {
                tokio::time::sleep_until(next.into()).await;
                let sent = Instant::now();
                let res = client
                    .post(&url)
                    .bearer_auth(&key)
                    .send()
                    .await
                    .expect("hand-out");
                assert!(res.status().is_success(), "hand-out: {}", res.status());
                let _ = res.bytes().await;
                times.push(sent.elapsed().as_secs_f64() * 1000.0);
                next += every;
            }
            times
        });
    }
    let mut times = Vec::new();
    while let Some(t) = tasks.join_next().await {
        times.extend(t.expect("client"));
    }
    let achieved = times.len() as f64 / started.elapsed().as_secs_f64();
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let p99 = sorted[(sorted.len() * 99 / 100).min(sorted.len() - 1)];
    let handout = median(times);
    println!(
        "token hand-out (fresh token), {CLIENTS} clients at {achieved:.0} requests/s: median {handout:.2} ms, p99 {p99:.2} ms (budget <= 1 ms median at 1,000/s): {}",
        verdict(handout <= 1.0 && achieved >= 900.0)
    );

    // The proxy's overhead: the same Jira call (the sandbox's `myself`),
    // directly with the token and through the proxy with the key, alternated.
    let token = b
        .instance
        .engine
        .fresh_access_token(id, 0, &admin)
        .await
        .expect("token");
    let cloud = "11111111-aaaa-4aaa-8aaa-111111111111";
    let direct_url = format!("{base}/sandbox/ex/jira/{cloud}/rest/api/3/myself");
    let proxy_url = format!("{base}/v1/integrations/{id}/proxy/ex/jira/{cloud}/rest/api/3/myself");
    let (mut direct, mut proxied) = (Vec::new(), Vec::new());
    for _ in 0..600 {
        let sent = Instant::now();
        let res = client
            .get(&direct_url)
            .bearer_auth(token.token.expose())
            .send()
            .await
            .expect("direct");
        assert!(res.status().is_success(), "direct: {}", res.status());
        let _ = res.bytes().await;
        direct.push(sent.elapsed().as_secs_f64() * 1000.0);
        let sent = Instant::now();
        let res = client
            .get(&proxy_url)
            .bearer_auth(&key)
            .send()
            .await
            .expect("proxied");
        assert!(res.status().is_success(), "proxied: {}", res.status());
        let _ = res.bytes().await;
        proxied.push(sent.elapsed().as_secs_f64() * 1000.0);
    }
    let (direct, proxied) = (median(direct), median(proxied));
    println!(
        "proxy overhead: direct {direct:.2} ms, through the proxy {proxied:.2} ms, +{:.2} ms median (budget <= +1 ms): {}",
        proxied - direct,
        verdict(proxied - direct <= 1.0)
    );

    bench_proxy_memory().await;
}

/// The real server binary proxies a 50 MB answer from a local upstream: its
/// resident memory, sampled while the answer streams, next to before.
async fn bench_proxy_memory() {
    const MB: usize = 50;
    let upstream = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let upstream_base = format!("http://{}", upstream.local_addr().expect("addr"));
    let router = axum::Router::new().fallback(|| async {
        let chunk = axum::body::Bytes::from(vec![b'x'; 1024 * 1024]);
        let chunks = futures_util::stream::iter(
            (0..MB).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
        );
        axum::body::Body::from_stream(chunks)
    });
    tokio::spawn(async move { axum::serve(upstream, router).await });

    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("proxy.db").display());
    let key_text = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 32]);
    let (base, mut child) = spawn_server(
        &url,
        &[
            ("TOKEN_ENCRYPTION_KEY", key_text.as_str()),
            ("JIRA_API_URL", upstream_base.as_str()),
            ("SCHEDULER_INTERVAL_SECS", "300"),
        ],
    )
    .await;
    // One integration with a long-lived token and one key, written beside
    // the running server (it made the tables).
    let db = Database::open(&url).await.expect("open");
    let vault = engine::TokenVault::from_base64(&key_text).expect("vault");
    let now = engine::Clock::now(&engine::SystemClock);
    let mut write = db.begin_connection().await.expect("begin");
    let id = write
        .create("proxy-bench", "Proxy Bench", now)
        .await
        .expect("create");
    let sites = [Site {
        cloud_id: "cloud".into(),
        name: "site".into(),
        url: "https://site.atlassian.net".into(),
    }];
    let scopes = vec!["read:jira-work".to_owned()];
    write
        .store(
            id,
            &ConnectionColumns {
                account_id: "proxy-bench",
                account_name: "Proxy Bench",
                account_email: None,
                scopes: &scopes,
                access_token: vault
                    .encrypt(
                        id,
                        Column::AccessToken,
                        &Secret::new("upstream-does-not-check"),
                    )
                    .expect("seal"),
                refresh_token: None,
                expires_in: 86_400,
                sites: &sites,
            },
            now,
        )
        .await
        .expect("store");
    write.commit().await.expect("commit");
    let api_key = "jdk_proxy-bench-key-proxy-bench-key-proxy-bench-k";
    let hash: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(api_key.as_bytes()).into();
    sqlx::query("INSERT INTO api_keys (name, prefix, key_hash, scopes, created_at, created_by) VALUES ('bench', 'jdk_proxy-be', ?, 'proxy', 0, 'bench')")
        .bind(&hash[..])
        .execute(sqlite(&db))
        .await
        .expect("key");

    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = rss_mb(child.id());
    let pid = child.id();
    let peak = Arc::new(std::sync::Mutex::new(before));
    let sampling = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                let now = rss_mb(pid);
                {
                    let mut p = peak.lock().expect("peak");
                    *p = p.max(now);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let mut res = reqwest::Client::new()
        .get(format!(
            "{base}/v1/integrations/{id}/proxy/ex/jira/cloud/rest/api/3/big"
        ))
        .bearer_auth(api_key)
        .send()
        .await
        .expect("proxied");
    assert!(res.status().is_success(), "proxied: {}", res.status());
    let mut total = 0;
    while let Some(chunk) = res.chunk().await.expect("chunk") {
        total += chunk.len();
    }
    sampling.abort();
    assert_eq!(total, MB * 1024 * 1024);
    let peak = *peak.lock().expect("peak");
    println!(
        "proxying a {MB} MB answer (the real server binary): RSS {before:.1} MB before, at most {peak:.1} MB while streaming, +{:.1} MB (budget < 10 MB): {}",
        peak - before,
        verdict(peak - before < 10.0)
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// The scheduler against a provider that answers in 150 ms: how many
/// refreshes a second it sustains once its pace has adapted (issue 18's
/// budget is 400/s; a fixed 8 in flight would give about 53/s).
async fn bench_pace(b: &Bench) {
    const FLEET: usize = 6_000;
    const LATENCY_MS: u64 = 150;
    println!("\n## 8. Scheduler pace against a {LATENCY_MS} ms provider");
    let started = Instant::now();
    connect_many(b, FLEET).await;
    println!(
        "connected {FLEET} integrations in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    b.instance.sandbox.store().settings.latency_ms = LATENCY_MS;
    // An hour later every access token is within the margin: all are due.
    let engine = &b.instance.engine;
    b.clock.advance(3_600);
    let started = Instant::now();
    let mut refreshed = 0;
    let mut per_second = Vec::new();
    let mut window = (Instant::now(), 0usize);
    loop {
        let report = engine::scheduler::tick(engine).await;
        let ok = report.refreshed.iter().filter(|o| o.ok()).count();
        refreshed += ok;
        window.1 += ok;
        if window.0.elapsed() >= Duration::from_secs(5) {
            per_second.push(window.1 as f64 / window.0.elapsed().as_secs_f64());
            window = (Instant::now(), 0);
        }
        if report.due == 0 {
            break;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let rate = refreshed as f64 / secs;
    println!(
        "refreshed {refreshed} in {secs:.1} s: {rate:.0} refreshes/s overall; per 5 s: {}",
        per_second
            .iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let steady = per_second
        .iter()
        .skip(1)
        .copied()
        .fold(f64::INFINITY, f64::min);
    println!(
        "sustained (slowest 5 s after the first): {steady:.0} refreshes/s (budget >= 400): {}; pace now {} in flight",
        verdict(steady >= 400.0),
        engine.provider_pace_limit()
    );
    assert_eq!(refreshed, FLEET, "every refresh succeeded");
}

/// Issue 18's search budget: a search by site or account among 1,000,000
/// integrations <= 50 ms (the trigram index), with the count of matches; the
/// database's size per integration.
async fn bench_search(b: &Bench) {
    const FLEET: i64 = 1_000_000;
    println!("\n## 9. Search among {FLEET} integrations");
    let started = Instant::now();
    let db = &b.instance.database;
    seed_rows(db, 2_000_000, FLEET).await;
    println!("seeded in {:.0} s", started.elapsed().as_secs_f64());
    let size: i64 = sqlx::query_scalar(
        "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
    )
    .fetch_one(sqlite(db))
    .await
    .expect("size");
    println!(
        "database: {:.0} MB, {:.0} bytes per integration (with its site, both indexes and the search index)",
        size as f64 / 1e6,
        size as f64 / FLEET as f64
    );
    for text in [
        "site-2345678.",
        "person 2999999",
        "erson299999",
        "erson25",
        "-2",
    ] {
        let mut times = Vec::new();
        let mut total = 0;
        for _ in 0..10 {
            let started = Instant::now();
            let page = b
                .instance
                .engine
                .dashboard_page(domain::PageQuery {
                    page: 0,
                    page_size: 100,
                    status: None,
                    search: Some(text.to_owned()),
                    order: domain::PageOrder::Oldest,
                })
                .await
                .expect("page");
            times.push(started.elapsed().as_secs_f64() * 1e3);
            total = page.total;
        }
        let t = median(times);
        println!(
            "search {text:?}: {total} match(es), median {t:.1} ms with the total (budget <= 50): {}",
            verdict(t <= 50.0)
        );
    }
}

/// Integrations whose refresh tokens are real families at the sandbox,
/// sealed as the connect flow seals them, with ids `1..=n`: each expires
/// `margin - 30` seconds after `t0` plus its share of `window`, so that `n /
/// window` a second fall due, evenly, from 30 seconds before `t0` (the run
/// starts with one scheduler interval's backlog, as a running server would).
async fn seed_families(b: &Bench, n: i64, t0: i64, window: i64) {
    let margin = b.instance.engine.settings().refresh_margin_secs;
    b.instance
        .seed_sandbox_families(1..=n, t0, |id| t0 + margin - 30 + (id - 1) * window / n)
        .await;
}

/// Issue 18 at full size: 1,000,000 integrations in SQLite, a provider that
/// answers in 150 ms, and the production scheduler (its default interval,
/// its adaptive pace) for ten minutes of wall-clock time while 450
/// integrations a second fall due (the fleet's average need is 280 a second).
/// Prints the refreshes per second and the scheduler's lag (how long the
/// oldest due refresh has waited) against the refresh margin; then, on the
/// fleet as the run left it, the "due soon" query, dashboard pages, status
/// filters, searches, the database's size, and the real server binary's
/// start-up time and resident memory.
async fn bench_scale(b: &Bench) {
    const FLEET: i64 = 1_000_000;
    const WINDOW: i64 = 600;
    const DUE_PER_SEC: i64 = 450;
    const LATENCY_MS: u64 = 150;
    // Falling due from 30 s before the run to a minute after it.
    let families = (WINDOW + 90) * DUE_PER_SEC;
    let engine = &b.instance.engine;
    let margin = engine.settings().refresh_margin_secs;
    println!("\n## 10. A million integrations");

    let started = Instant::now();
    let t0 = NOW;
    seed_families(b, families, t0, WINDOW + 90).await;
    // The rest fall due only after the run.
    seed_placeholders(
        sqlite(&b.instance.database),
        families + 1,
        FLEET - families,
        t0,
        t0 + margin + WINDOW + 180,
        3_300,
    )
    .await;
    sqlx::query("ANALYZE")
        .execute(sqlite(&b.instance.database))
        .await
        .expect("analyze");
    println!(
        "seeded {FLEET} integrations ({families} of them real token families at the sandbox) in {:.0} s",
        started.elapsed().as_secs_f64()
    );

    // The clock follows the wall clock from t0 on; the sandbox answers in 150 ms.
    b.clock.set(t0);
    b.instance.sandbox.store().settings.latency_ms = LATENCY_MS;
    let run_started = Instant::now();
    let ticking = {
        let clock = b.clock.clone();
        tokio::spawn(async move {
            loop {
                clock.set(t0 + run_started.elapsed().as_secs() as i64);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let requests_before = b.instance.sandbox.token_requests_for("557058:ada-lovelace");
    let scheduler = engine::scheduler::spawn(engine.clone(), Duration::from_secs(30));
    let mut worst_lag = 0;
    let mut minutes = Vec::new();
    let mut minute = (Instant::now(), requests_before);
    while run_started.elapsed() < Duration::from_secs(WINDOW as u64 + 5) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = b.clock.now().secs();
        // The oldest refresh that is due: its due time is its expiry less the margin.
        let oldest: Option<i64> = sqlx::query_scalar(
            "SELECT min(expires_at) FROM integrations
             WHERE is_active = 1 AND refresh_token IS NOT NULL AND disconnected_at IS NULL",
        )
        .fetch_one(sqlite(&b.instance.database))
        .await
        .expect("oldest");
        if let Some(oldest) = oldest {
            worst_lag = worst_lag.max(now - (oldest - margin));
        }
        if minute.0.elapsed() >= Duration::from_secs(60) {
            let count = b.instance.sandbox.token_requests_for("557058:ada-lovelace");
            minutes.push((count - minute.1) as f64 / minute.0.elapsed().as_secs_f64());
            minute = (Instant::now(), count);
        }
    }
    scheduler.abort();
    ticking.abort();
    let requests = b.instance.sandbox.token_requests_for("557058:ada-lovelace") - requests_before;
    let secs = run_started.elapsed().as_secs_f64();
    // Due more than a scheduler interval before the end, and still waiting.
    let stale: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM integrations WHERE id <= ?1 AND last_refresh_at IS NULL
           AND expires_at - ?2 <= ?3 - 30",
    )
    .bind(families)
    .bind(margin)
    .bind(b.clock.now().secs())
    .fetch_one(sqlite(&b.instance.database))
    .await
    .expect("stale");
    println!(
        "{requests} token requests in {secs:.0} s: {:.0} refreshes/s overall; per minute: {}",
        requests as f64 / secs,
        minutes
            .iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let slowest = minutes.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "sustained (slowest minute of ten): {slowest:.0} refreshes/s (budget >= 400): {}; pace {} in flight at the end",
        verdict(slowest >= 400.0),
        engine.provider_pace_limit()
    );
    println!(
        "scheduler lag (the oldest due refresh's wait), worst: {worst_lag} s (budget <= the margin, {margin} s): {}",
        verdict(worst_lag <= margin)
    );
    println!("due a scheduler interval before the end and not refreshed: {stale}");

    scale_queries(b).await;
    scale_server(b).await;
}

/// The read budgets at a million integrations, as the sustained run left them.
async fn scale_queries(b: &Bench) {
    let db = &b.instance.database;
    let now = b.clock.now();
    let margin = b.instance.engine.settings().refresh_margin_secs;
    let (due, t) = time_due_soon(db, now, margin).await;
    println!(
        "\"due soon\" -> {due} rows: median {t:.2} ms (budget <= 5): {}",
        verdict(t <= 5.0)
    );
    for (path, budget) in [
        ("/dashboard", 20.0),
        ("/dashboard?page=100", 20.0),
        ("/dashboard?sort=status", 20.0),
        ("/dashboard?sort=expiry", 20.0),
        ("/dashboard?sort=status&page=300", 20.0),
        ("/dashboard?status=active", 30.0),
        ("/dashboard?status=expiring", 30.0),
        ("/dashboard?status=expired", 30.0),
        ("/dashboard?status=needs_reauth", 30.0),
        ("/dashboard?q=site-987654.", 50.0),
        ("/dashboard?q=seeded%20person%20876543", 50.0),
        ("/dashboard?q=person12345", 50.0),
    ] {
        let mut times = Vec::new();
        for _ in 0..10 {
            let started = Instant::now();
            let res = b
                .http
                .get(format!("{}{path}", b.instance.base))
                .send()
                .await
                .expect("get");
            assert!(res.status().is_success(), "{path}: {}", res.status());
            let body = res.text().await.expect("body");
            times.push(started.elapsed().as_secs_f64() * 1e3);
            assert!(body.contains("Jira Integrations"));
        }
        let t = median(times);
        println!(
            "GET {path}: median {t:.1} ms (budget <= {budget}): {}",
            verdict(t <= budget)
        );
    }
    // The last page: an offset walks the index up to it (time, not memory;
    // the RSS check below serves it too).
    for path in ["/dashboard?sort=expiry&page=9999", "/dashboard?page=9999"] {
        let started = Instant::now();
        let res = b
            .http
            .get(format!("{}{path}", b.instance.base))
            .send()
            .await
            .expect("get");
        assert!(res.status().is_success(), "{path}: {}", res.status());
        let _ = res.text().await.expect("body");
        println!(
            "GET {path} (the last page; not budgeted): {:.0} ms",
            started.elapsed().as_secs_f64() * 1e3
        );
    }
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(sqlite(db))
        .await
        .expect("checkpoint");
    let size: i64 = sqlx::query_scalar(
        "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
    )
    .fetch_one(sqlite(db))
    .await
    .expect("size");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM integrations")
        .fetch_one(sqlite(db))
        .await
        .expect("count");
    println!(
        "database: {:.0} MB for {rows} integrations, {:.0} bytes each (with a site, the indexes, the search index, events)",
        size as f64 / 1e6,
        size as f64 / rows as f64
    );
}

/// The real server binary on the million: start-up to `/healthz`, then its
/// resident memory idle and after serving pages. Against Atlassian (a client
/// id, the token key given), as in production; and in sandbox mode, where the
/// built-in sandbox also loads its own record of the 310,500 families it
/// issued in the run.
async fn scale_server(b: &Bench) {
    let db = format!("sqlite://{}", b.instance.database_file.display());
    let key_file = b
        .instance
        .database_file
        .with_file_name("token-encryption.key");
    let key = std::fs::read_to_string(&key_file).expect("the sandbox's token key");
    let atlassian = [
        ("JIRA_CLIENT_ID", "bench-client"),
        ("JIRA_CLIENT_SECRET", "bench-secret"),
        ("TOKEN_ENCRYPTION_KEY", key.trim()),
    ];
    for (mode, env) in [
        ("against Atlassian", &atlassian[..]),
        ("in sandbox mode", &[][..]),
    ] {
        let mut startups = Vec::new();
        let mut rss = (0.0, 0.0);
        for round in 0..3 {
            let started = Instant::now();
            let (base, mut child) = spawn_server(&db, env).await;
            startups.push(started.elapsed().as_secs_f64() * 1e3);
            if round == 0 {
                tokio::time::sleep(Duration::from_secs(3)).await;
                let idle = rss_mb(child.id());
                // Then signed in (the same database holds the administrator),
                // a page of each status and a few searches.
                let client = reqwest::Client::builder()
                    .cookie_store(true)
                    .build()
                    .expect("client");
                let _ = client
                    .post(format!("{base}/login"))
                    .form(&[
                        ("email", server::ADMIN_EMAIL),
                        ("password", server::ADMIN_PASSWORD),
                    ])
                    .send()
                    .await;
                for query in [
                    "",
                    "?page=100",
                    "?status=active",
                    "?status=needs_reauth",
                    "?sort=status",
                    // The last pages: memory must not grow with the offset.
                    "?sort=expiry&page=9999",
                    "?sort=status&page=9999",
                    "?q=site-5",
                    "?q=person7",
                ] {
                    let res = client
                        .get(format!("{base}/dashboard{query}"))
                        .send()
                        .await
                        .expect("page");
                    assert!(res.status().is_success(), "{query}: {}", res.status());
                }
                rss = (idle, rss_mb(child.id()));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let t = median(startups.clone());
        println!(
            "start-up to /healthz {mode}: {} ms, median {t:.0} ms (budget <= 1000): {}",
            startups
                .iter()
                .map(|s| format!("{s:.0}"))
                .collect::<Vec<_>>()
                .join(", "),
            verdict(t <= 1000.0)
        );
        println!(
            "server RSS {mode}: {:.1} MB idle, {:.1} MB after serving pages (budget <= 100): {}",
            rss.0,
            rss.1,
            verdict(rss.0 <= 100.0 && rss.1 <= 100.0)
        );
    }
}

/// Token requests per integration per day under each refresh policy, counted
/// by the sandbox while a controlled clock walks the scheduler (its real
/// ticks) through simulated days: scheduled for one day (a tick every 30 s),
/// on demand for 90 days unused (a tick an hour), and on demand for a week in
/// which a service asks for each integration's token every working hour.
async fn bench_policy() {
    const FLEET: usize = 100;
    const DAY: i64 = 86_400;
    println!("\n## 11. Token requests per integration per day, by refresh policy");
    let per_day = |b: &Bench, before: u64, days: i64| {
        (b.instance.sandbox.token_requests_for("557058:ada-lovelace") - before) as f64
            / FLEET as f64
            / days as f64
    };

    let b = start_with(&[]).await;
    connect_many(&b, FLEET).await;
    let before = b.instance.sandbox.token_requests_for("557058:ada-lovelace");
    for _ in 0..DAY / 30 {
        b.clock.advance(30);
        engine::scheduler::tick(&b.instance.engine).await;
    }
    println!(
        "REFRESH_POLICY=scheduled: {:.1} token requests per integration per day (one-hour tokens, refreshed 300 s before expiry)",
        per_day(&b, before, 1)
    );

    let b = start_with(&["--refresh-policy", "on-demand"]).await;
    connect_many(&b, FLEET).await;
    let before = b.instance.sandbox.token_requests_for("557058:ada-lovelace");
    for _ in 0..90 * 24 {
        b.clock.advance(3_600);
        engine::scheduler::tick(&b.instance.engine).await;
    }
    println!(
        "REFRESH_POLICY=on-demand, never used: {:.3} token requests per integration per day over 90 days (a refresh token is used once every 30 idle days)",
        per_day(&b, before, 90)
    );

    let b = start_with(&["--refresh-policy", "on-demand"]).await;
    let ids = connect_many(&b, FLEET).await;
    let before = b.instance.sandbox.token_requests_for("557058:ada-lovelace");
    let service = domain::Actor::ApiKey {
        id: 1,
        name: "bench".into(),
    };
    for _ in 0..7 {
        for hour in 0..24 {
            b.clock.advance(3_600);
            engine::scheduler::tick(&b.instance.engine).await;
            if (9..17).contains(&hour) {
                for &id in &ids {
                    b.instance
                        .engine
                        .fresh_access_token(id, 60, &service)
                        .await
                        .expect("a token");
                }
            }
        }
    }
    println!(
        "REFRESH_POLICY=on-demand, a token asked for every working hour (8 a day): {:.1} token requests per integration per day over a week",
        per_day(&b, before, 7)
    );
}

/// The SQLite pool of a benchmark's database (the measurements at scale
/// seed and inspect SQLite directly).
fn sqlite(db: &engine::Database) -> &sqlx::SqlitePool {
    db.sqlite_pool()
        .expect("the benchmarks at scale run on SQLite")
}
