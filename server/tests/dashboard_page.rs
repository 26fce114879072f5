//! The dashboard's paging, status filter and search, against a real database
//! (SQLite, or PostgreSQL when `TEST_POSTGRES_URL` is set).

use engine::db::query;
use reqwest::StatusCode;
use serde_json::Value;
use testkit::TestApp;

const NOW: i64 = 1_800_000_000;

/// Seeds `n` integrations: every 4th expiring, every 5th inactive, the rest active.
async fn seed(app: &TestApp, n: i64) {
    let mut tx = app.database.begin().await.expect("tx");
    for i in 1..=n {
        let expires_at = if i % 4 == 0 { NOW + 100 } else { NOW + 3_000 };
        let active = i % 5 != 0;
        // The refresh token is bound (`x'00'` is a bit string on PostgreSQL).
        query(
            "INSERT INTO integrations (id, account_id, account_name, account_email, scopes, refresh_token,
                expires_at, access_token_lifetime, is_active, consented_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, 'read:me offline_access', $5, $6, 3600, $7, $8, $8, $8)",
        )
        .bind(i)
        .bind(format!("account-{i}"))
        .bind(format!("Person {i}"))
        .bind(format!("person{i}@example.com"))
        .bind(vec![0_u8])
        .bind(expires_at)
        .bind(active)
        .bind(NOW)
        .execute(&mut tx)
        .await
        .expect("insert");
        let site = if i % 2 == 0 { "acme" } else { "globex" };
        query("INSERT INTO integration_sites VALUES ($1, $2, $3, $4)")
            .bind(i)
            .bind(format!("cloud-{i}"))
            .bind(format!("{site}-{i}"))
            .bind(format!("https://{site}-{i}.atlassian.net"))
            .execute(&mut tx)
            .await
            .expect("site");
    }
    testkit::integration_ids_taken(&mut tx).await;
    tx.commit().await.expect("commit");
}

async fn page(app: &TestApp, form: &[(&str, &str)]) -> (StatusCode, Value) {
    app.post_form("/api/dashboard_page", form).await
}

#[tokio::test]
async fn pages_of_100_with_totals() {
    let app = TestApp::spawn().await;
    seed(&app, 250).await;
    let (status, first) = page(&app, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["total"], 250);
    assert_eq!(first["page"], 1);
    assert_eq!(first["items"].as_array().expect("items").len(), 100);
    assert_eq!(first["items"][0]["id"], 1);
    let (_, third) = page(&app, &[("page", "3")]).await;
    assert_eq!(third["items"].as_array().expect("items").len(), 50);
    assert_eq!(third["items"][0]["id"], 201);
    assert_eq!(third["items"][0]["sites"][0]["name"], "globex-201");
}

#[tokio::test]
async fn the_status_filter_matches_the_badges() {
    let app = TestApp::spawn().await;
    seed(&app, 100).await;
    let count = |v: &Value| v["total"].as_i64().expect("total");
    let (_, inactive) = page(&app, &[("status", "needs_reauth")]).await;
    assert_eq!(count(&inactive), 20);
    assert!(inactive["items"]
        .as_array()
        .expect("items")
        .iter()
        .all(|i| i["status"] == "needs_reauth"));
    let (_, expiring) = page(&app, &[("status", "expiring")]).await;
    // Every 4th is expiring, minus those that are also every 5th (inactive): 25 - 5.
    assert_eq!(count(&expiring), 20);
    assert!(expiring["items"]
        .as_array()
        .expect("items")
        .iter()
        .all(|i| i["status"] == "expiring"));
    let (_, active) = page(&app, &[("status", "active")]).await;
    assert_eq!(count(&active), 60);
    let (_, expired) = page(&app, &[("status", "expired")]).await;
    assert_eq!(count(&expired), 0);
    let (status, body) = page(&app, &[("status", "sleepy")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn search_matches_site_or_account_case_insensitively() {
    let app = TestApp::spawn().await;
    seed(&app, 100).await;
    let (_, acme) = page(&app, &[("search", "ACME")]).await;
    assert_eq!(acme["total"], 50);
    let (_, person) = page(&app, &[("search", "person 42")]).await;
    assert_eq!(person["total"], 1);
    assert_eq!(person["items"][0]["accountName"], "Person 42");
    let (_, email) = page(&app, &[("search", "person7@")]).await;
    assert_eq!(email["total"], 1);
    let (_, both) = page(&app, &[("search", "globex"), ("status", "needs_reauth")]).await;
    assert_eq!(both["total"], 10);
    let (_, wildcard) = page(&app, &[("search", "%")]).await;
    assert_eq!(wildcard["total"], 0, "LIKE wildcards are literal");
    // Control characters are dropped, not handed to FTS5 (a NUL fails it).
    let (status, nul) = page(&app, &[("search", "pers\u{0}on 42\u{7}")]).await;
    assert_eq!(status, StatusCode::OK, "{nul}");
    assert_eq!(nul["total"], 1);
    let (status, only_controls) = page(&app, &[("search", "\u{0}\u{1}")]).await;
    assert_eq!(status, StatusCode::OK, "{only_controls}");
    assert_eq!(only_controls["total"], 100, "no search at all");
}

async fn render(app: &TestApp, path: &str) -> String {
    let res = app.get(path).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.text().await.expect("body")
}

#[tokio::test]
async fn the_rendered_dashboard_shows_one_page_and_the_pager() {
    let app = TestApp::spawn().await;
    seed(&app, 150).await;
    let html = render(&app, "/dashboard").await;
    assert_eq!(html.matches("data-integration-id=").count(), 100);
    assert!(html.contains("Page 1 of 2"));
    assert!(html.contains("href=\"/dashboard?page=2\""));
    let html = render(&app, "/dashboard?page=2").await;
    assert_eq!(html.matches("data-integration-id=").count(), 50);
    let html = render(&app, "/dashboard?q=globex&status=").await;
    assert_eq!(html.matches("data-integration-id=").count(), 75);
    assert!(html.contains("Page 1 of 1"));
    let html = render(&app, "/dashboard?q=nobody-at-all").await;
    assert!(html.contains("No integration matches this filter."));
}

/// The status filter (SQL) and the badge (Rust, `app::status::status_at`) are
/// written twice; on every boundary they must agree: each row lands in exactly
/// one filter, and that filter is its badge.
#[tokio::test]
async fn the_status_filter_and_the_badge_agree_on_every_boundary() {
    filters_and_badges_agree(
        &[],
        &[
            ("active", "active"),
            ("expiring", "expiring"),
            ("expired", "expired"),
            ("needs_reauth", "needsReauth"),
        ],
        &["needs_reauth", "expired", "expiring", "active"],
    )
    .await;
}

/// On demand nothing is "expiring" or "expired": a token that ran out with a
/// refresh token alive is "idle", in the filter as on the badge.
#[tokio::test]
async fn on_demand_the_filter_and_the_badge_agree_on_idle() {
    filters_and_badges_agree(
        &["--refresh-policy", "on-demand"],
        &[
            ("active", "active"),
            ("idle", "idle"),
            ("needs_reauth", "needsReauth"),
        ],
        &["needs_reauth", "idle", "active"],
    )
    .await;
}

/// Rows on every boundary of the margin, active or not, with a refresh token
/// or not, under the server flags `args`: each lands in exactly one of
/// `filters` (name, summary field), and that filter is its badge; sorted by
/// status, the badges follow `ranks`.
async fn filters_and_badges_agree(args: &[&str], filters: &[(&str, &str)], ranks: &[&str]) {
    let app = TestApp::spawn_with(args).await;
    let margin = 300; // the default REFRESH_MARGIN_SECS
    let offsets = [-1, 0, 1, margin - 1, margin, margin + 1];
    let mut tx = app.database.begin().await.expect("tx");
    let mut id = 0_i64;
    for offset in offsets {
        for active in [true, false] {
            for refresh_token in [Some(vec![0_u8]), None] {
                id += 1;
                query(
                    "INSERT INTO integrations (id, account_id, account_name, scopes, refresh_token,
                        expires_at, access_token_lifetime, is_active, consented_at, created_at, updated_at)
                     VALUES ($1, $2, 'Edge', 'read:me', $3, $4, 3600, $5, $6, $6, $6)",
                )
                .bind(id)
                .bind(format!("edge-{id}"))
                .bind(refresh_token)
                .bind(NOW + offset)
                .bind(active)
                .bind(NOW)
                .execute(&mut tx)
                .await
                .expect("insert");
            }
        }
    }
    testkit::integration_ids_taken(&mut tx).await;
    tx.commit().await.expect("commit");

    let (_, summary) = app.post_form("/api/fleet_summary", &[]).await;
    let mut seen = 0;
    for &(filter, counted) in filters {
        let (status, body) = page(&app, &[("status", filter), ("size", "500")]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let items = body["items"].as_array().expect("items");
        for item in items {
            assert_eq!(item["status"], filter, "{item}");
        }
        assert_eq!(summary[counted], items.len(), "the summary counts {filter}");
        seen += items.len();
    }
    assert_eq!(seen, id as usize, "every row in exactly one filter");
    let total: i64 = filters
        .iter()
        .map(|(_, counted)| summary[counted].as_i64().expect("a count"))
        .sum();
    assert_eq!(
        total, id,
        "the summary's other statuses are empty: {summary}"
    );

    // Sorted by status, the badges come most urgent first.
    let rank = |s: &Value| ranks.iter().position(|r| s == r).expect("a known status");
    let (_, sorted) = page(&app, &[("sort", "status"), ("size", "500")]).await;
    let ranks: Vec<usize> = sorted["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| rank(&i["status"]))
        .collect();
    assert_eq!(ranks.len(), id as usize);
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{ranks:?}");
}

#[tokio::test]
async fn the_fleet_summary_counts_the_whole_fleet_whatever_the_filter() {
    let app = TestApp::spawn().await;
    seed(&app, 100).await;
    let expected = serde_json::json!({"active": 60, "expiring": 20, "expired": 0, "idle": 0, "needsReauth": 20});
    let (status, summary) = app.post_form("/api/fleet_summary", &[]).await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    assert_eq!(summary, expected);
    let (_, filtered) = page(&app, &[("status", "expiring"), ("search", "acme")]).await;
    assert_eq!(filtered["summary"], expected);
    // A disconnected integration leaves the counts.
    let (status, _) = app
        .post_form("/api/disconnect_integration", &[("id", "1")])
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, summary) = app.post_form("/api/fleet_summary", &[]).await;
    assert_eq!(summary["active"], 59);
}

#[tokio::test]
async fn pages_sort_by_expiry_or_by_status() {
    let app = TestApp::spawn().await;
    seed(&app, 100).await;
    let ids = |v: &Value| -> Vec<i64> {
        v["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["id"].as_i64().expect("id"))
            .collect()
    };
    // Every 4th expires first (oldest first among equals), active or not.
    let (_, by_expiry) = page(&app, &[("sort", "expiry"), ("size", "5")]).await;
    assert_eq!(ids(&by_expiry), [4, 8, 12, 16, 20]);
    // Needs re-auth first (every 5th), then expiring, then active.
    let (_, by_status) = page(&app, &[("sort", "status"), ("size", "25")]).await;
    let first = ids(&by_status);
    assert_eq!(
        first[..5],
        [20, 40, 60, 80, 100],
        "the soonest expiry first within a status"
    );
    assert!(first[..20].iter().all(|id| id % 5 == 0), "{first:?}");
    assert_eq!(first[20..], [4, 8, 12, 16, 24]);
    // The second page goes on in the same order.
    let (_, next) = page(&app, &[("sort", "status"), ("size", "25"), ("page", "2")]).await;
    assert_eq!(ids(&next)[..3], [28, 32, 36]);
    let (status, body) = page(&app, &[("sort", "sideways")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("expiry or status"), "{body}");
}

#[tokio::test]
async fn the_table_view_and_the_summary_render_without_javascript() {
    let app = TestApp::spawn().await;
    seed(&app, 20).await;
    let html = render(&app, "/dashboard?view=table&sort=expiry").await;
    assert!(
        html.contains("class=\"integrations compact\""),
        "the table layout"
    );
    assert_eq!(html.matches("data-integration-id=").count(), 20);
    // Each count links to its filter, keeping the view and the order.
    assert!(
        html.contains("href=\"/dashboard?status=needs_reauth&amp;view=table&amp;sort=expiry\""),
        "{html}"
    );
    assert!(html.contains("data-testid=\"summary-needs_reauth\""));
    // The sorted column's link turns the order off again; the other turns its own on.
    assert!(html.contains(
        "href=\"/dashboard?view=table\" aria-current=\"true\" data-testid=\"sort-expiry\""
    ));
    assert!(html.contains("href=\"/dashboard?view=table&amp;sort=status\""));
    let cards = render(&app, "/dashboard").await;
    assert!(cards.contains("class=\"integrations\""));
    assert!(
        cards.contains("href=\"/dashboard?view=table\""),
        "the switch to the table"
    );
}

#[tokio::test]
async fn the_search_index_follows_every_change_and_takes_any_text() {
    let app = TestApp::spawn().await;
    seed(&app, 20).await;
    // Substrings of three characters or more use the trigram index...
    let (_, mid) = page(&app, &[("search", "bex-1")]).await;
    // globex-1, globex-11, 13, 15, 17, 19
    assert_eq!(mid["total"], 6, "{mid}");
    // ...and shorter ones still find substrings.
    let (_, short) = page(&app, &[("search", "-7")]).await;
    assert_eq!(short["total"], 1);
    // Any text is a phrase, never syntax.
    for text in [
        "\"",
        "a\"b",
        "acme OR globex",
        "acme*",
        "NEAR(acme)",
        "-acme",
        "^acm",
        ":::",
    ] {
        let (status, body) = page(&app, &[("search", text)]).await;
        assert_eq!(status, StatusCode::OK, "{text}: {body}");
        assert_eq!(body["total"], 0, "{text}: {body}");
    }
    // A site renamed, an account renamed, a row deleted: the index follows.
    // Sites are replaced as a consent replaces them: deleted, then inserted.
    query("DELETE FROM integration_sites WHERE integration_id = 3")
        .execute(&app.database)
        .await
        .expect("drop sites");
    query("INSERT INTO integration_sites VALUES (3, 'cloud-3', 'initech-3', 'https://initech-3.atlassian.net')")
        .execute(&app.database)
        .await
        .expect("new site");
    let (_, renamed) = page(&app, &[("search", "initech")]).await;
    assert_eq!(renamed["total"], 1);
    let (_, gone) = page(&app, &[("search", "globex-3.")]).await;
    assert_eq!(gone["total"], 0);
    query("UPDATE integrations SET account_name = 'Grace Hopper' WHERE id = 5")
        .execute(&app.database)
        .await
        .expect("rename account");
    let (_, grace) = page(&app, &[("search", "hopper")]).await;
    assert_eq!(grace["total"], 1);
    assert_eq!(grace["items"][0]["id"], 5);
    let (_, old_name) = page(&app, &[("search", "person 5@")]).await;
    assert_eq!(old_name["total"], 0);
    // A connect through the real flow lands in the index with its sites.
    let flow = app.connect(testkit::ADA, &[testkit::ACME], None).await;
    assert_eq!(flow.status, StatusCode::SEE_OTHER);
    let (_, ada) = page(&app, &[("search", "lovelace")]).await;
    assert_eq!(ada["total"], 1);
    // The plan reads the index, not every row.
    if app.database.is_postgres() {
        // The search is a LIKE on `search_text`, which its trigram index
        // serves. With a few rows the planner rightly prefers a sequential
        // scan: forbidden here, to see that the index can answer at all.
        let mut tx = app.database.begin().await.expect("tx");
        query("SET LOCAL enable_seqscan = off")
            .execute(&mut tx)
            .await
            .expect("no sequential scans");
        let plan: Vec<String> = query(
            "EXPLAIN SELECT COUNT(*) FROM integrations i WHERE i.disconnected_at IS NULL
               AND i.search_text LIKE '%acme%'",
        )
        .scalars(&mut tx)
        .await
        .expect("plan");
        assert!(
            plan.iter()
                .any(|p| p.contains("Index Scan on integrations_search_text_trgm")),
            "{plan:?}"
        );
        return;
    }
    let plan: Vec<(i64, i64, i64, String)> = query(
        "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM integrations i WHERE i.disconnected_at IS NULL
           AND i.id IN (SELECT rowid FROM integrations_search WHERE integrations_search MATCH '\"acme\"')",
    )
    .fetch_all(&app.database)
    .await
    .expect("plan");
    let plan: Vec<&str> = plan.iter().map(|r| r.3.as_str()).collect();
    assert!(
        plan.iter().any(|p| p.contains("VIRTUAL TABLE INDEX")),
        "{plan:?}"
    );
    assert!(
        plan.iter()
            .any(|p| p.starts_with("SEARCH i USING INTEGER PRIMARY KEY")),
        "{plan:?}"
    );
    assert!(!plan.contains(&"SCAN i"), "{plan:?}");
}

/// A row of the reference model: what the page query must find.
#[derive(Debug, Clone, Copy)]
struct Modelled {
    id: i64,
    expires_at: i64,
    is_active: bool,
    has_refresh_token: bool,
    disconnected: bool,
}

/// The pages are read from counters, index ranges and table walks chosen by
/// how common a status is; whatever the path, every page under every policy,
/// filter and order must be exactly what a plain reading of the rows gives:
/// the badge's own rule (`domain::status_at`) and a sort.
#[tokio::test]
async fn every_page_of_every_filter_and_order_matches_a_plain_reading_of_the_rows() {
    for (args, policy) in [
        (&[][..], domain::RefreshPolicy::Scheduled),
        (
            &["--refresh-policy", "on-demand"][..],
            domain::RefreshPolicy::OnDemand,
        ),
    ] {
        let app = TestApp::spawn_with(args).await;
        let mut rows = Vec::new();
        let mut tx = app.database.begin().await.expect("tx");
        for id in 1..=300_i64 {
            let row = Modelled {
                id,
                // A few run out (sparse), every 4th expiring, the rest later.
                expires_at: match id {
                    _ if id % 100 == 0 || id % 11 == 0 => NOW - 10 - id,
                    _ if id % 4 == 0 => NOW + 300 - id % 7,
                    _ => NOW + 1_000 + (id * 37) % 2_000,
                },
                is_active: id % 7 != 0 && id % 13 != 0,
                has_refresh_token: id % 11 != 0,
                disconnected: id % 13 == 0,
            };
            query(
                "INSERT INTO integrations (id, account_id, account_name, scopes, refresh_token,
                    expires_at, access_token_lifetime, is_active, consented_at, created_at, updated_at,
                    disconnected_at)
                 VALUES ($1, $2, 'Model', 'read:me', $3, $4, 3600, $5, $6, $6, $6, $7)",
            )
            .bind(id)
            .bind(format!("model-{id}"))
            .bind(row.has_refresh_token.then(|| vec![0_u8]))
            .bind(row.expires_at)
            .bind(row.is_active)
            .bind(NOW)
            .bind(row.disconnected.then_some(NOW))
            .execute(&mut tx)
            .await
            .expect("insert");
            rows.push(row);
        }
        testkit::integration_ids_taken(&mut tx).await;
        tx.commit().await.expect("commit");
        // A disconnect, a reconnect and a deactivation through the counters' triggers.
        query("UPDATE integrations SET is_active = 0, disconnected_at = $1 WHERE id = 1")
            .bind(NOW)
            .execute(&app.database)
            .await
            .expect("disconnect");
        rows[0].disconnected = true;
        rows[0].is_active = false;
        query("UPDATE integrations SET is_active = 1, disconnected_at = NULL WHERE id = 13")
            .execute(&app.database)
            .await
            .expect("reconnect");
        rows[12].disconnected = false;
        rows[12].is_active = true;
        query("UPDATE integrations SET is_active = 0 WHERE id = 2")
            .execute(&app.database)
            .await
            .expect("deactivate");
        rows[1].is_active = false;

        let status_of = |r: &Modelled| {
            domain::status_at(
                domain::StatusInputs {
                    is_active: r.is_active,
                    has_refresh_token: r.has_refresh_token,
                    expires_at: r.expires_at,
                    margin_secs: 300,
                    policy,
                },
                NOW,
            )
        };
        let rank = [
            domain::Status::NeedsReauth,
            domain::Status::Expired,
            domain::Status::Idle,
            domain::Status::Expiring,
            domain::Status::Active,
        ];
        let connected: Vec<&Modelled> = rows.iter().filter(|r| !r.disconnected).collect();
        let summary = app.engine.fleet_summary().await.expect("summary");
        for status in domain::Status::ALL {
            let expected = connected.iter().filter(|r| status_of(r) == status).count();
            assert_eq!(
                summary.count(status),
                expected as i64,
                "{policy:?} {status:?}"
            );
        }
        for status in std::iter::once(None).chain(domain::Status::ALL.map(Some)) {
            for order in [
                domain::PageOrder::Oldest,
                domain::PageOrder::Expiry,
                domain::PageOrder::Status,
            ] {
                let mut expected: Vec<&Modelled> = connected
                    .iter()
                    .copied()
                    .filter(|r| status.is_none_or(|s| status_of(r) == s))
                    .collect();
                match order {
                    domain::PageOrder::Oldest => expected.sort_by_key(|r| r.id),
                    domain::PageOrder::Expiry => expected.sort_by_key(|r| (r.expires_at, r.id)),
                    domain::PageOrder::Status => expected.sort_by_key(|r| {
                        let s = status_of(r);
                        (rank.iter().position(|&x| x == s), r.expires_at, r.id)
                    }),
                }
                let expected: Vec<i64> = expected.iter().map(|r| r.id).collect();
                let mut found = Vec::new();
                let pages = (expected.len() as i64 + 16) / 17;
                for page in 0..=pages {
                    let got = app
                        .engine
                        .dashboard_page(domain::PageQuery {
                            page,
                            page_size: 17,
                            status,
                            search: None,
                            order,
                        })
                        .await
                        .expect("page");
                    assert_eq!(
                        got.total,
                        expected.len() as i64,
                        "{policy:?} {status:?} {order:?}"
                    );
                    // One past the end serves the last page (or the empty first).
                    let served = page.min((pages - 1).max(0));
                    assert_eq!(got.page, served, "{policy:?} {status:?} {order:?}");
                    if page < pages {
                        found.extend(got.items.iter().map(|i| i.id.get()));
                    }
                }
                assert_eq!(found, expected, "{policy:?} {status:?} {order:?}");
            }
        }
    }
}
