//! The fleet listing a bounded page at a time, over real HTTP (SQLite, or
//! PostgreSQL when `TEST_POSTGRES_URL` is set): `GET /v1/integrations`
//! (`limit`, an opaque `cursor`, `{items, nextCursor, total}`) and
//! `POST /api/list_integrations` (`after`, `limit`, still a JSON array, with
//! `X-Total-Count` and `X-Next-After`), and the dashboard's answer to a page
//! number past the end (the last page, which says so).

use domain::{Actor, ApiScope};
use engine::db::query;
use reqwest::StatusCode;
use serde_json::Value;
use testkit::{anonymous, TestApp};

const NOW: i64 = 1_800_000_000;

/// Seeds integrations 1..=n: every 7th disconnected (never listed), every
/// 5th inactive (listed: it needs re-authentication), every 3rd with two
/// sites and every 11th with none. Answers the ids a listing must give.
async fn seed(app: &TestApp, n: i64) -> Vec<i64> {
    let mut tx = app.database.begin().await.expect("tx");
    let mut connected = Vec::new();
    for i in 1..=n {
        let disconnected = i % 7 == 0;
        query(
            "INSERT INTO integrations (id, account_id, account_name, account_email, scopes, refresh_token,
                expires_at, access_token_lifetime, is_active, consented_at, created_at, updated_at,
                disconnected_at)
             VALUES ($1, $2, $3, $4, 'read:me offline_access', $5, $6, 3600, $7, $8, $8, $8, $9)",
        )
        .bind(i)
        .bind(format!("account-{i}"))
        .bind(format!("Person {i}"))
        .bind(format!("person{i}@example.com"))
        .bind(vec![0_u8])
        .bind(NOW + 3_000)
        .bind(i % 5 != 0 && !disconnected)
        .bind(NOW)
        .bind(disconnected.then_some(NOW))
        .execute(&mut tx)
        .await
        .expect("insert");
        let sites = match (i % 11, i % 3) {
            (0, _) => 0,
            (_, 0) => 2,
            _ => 1,
        };
        for s in 0..sites {
            query("INSERT INTO integration_sites VALUES ($1, $2, $3, $4)")
                .bind(i)
                .bind(format!("cloud-{i}-{s}"))
                .bind(format!("site-{i}-{s}"))
                .bind(format!("https://site-{i}-{s}.atlassian.net"))
                .execute(&mut tx)
                .await
                .expect("site");
        }
        if !disconnected {
            connected.push(i);
        }
    }
    testkit::integration_ids_taken(&mut tx).await;
    tx.commit().await.expect("commit");
    connected
}

/// A key that may read integrations.
async fn reader_key(app: &TestApp) -> String {
    app.engine
        .create_api_key(
            "inventory",
            &[ApiScope::IntegrationsRead],
            &Actor::User("admin@example.com".into()),
        )
        .await
        .expect("create a key")
        .key
}

/// `GET /v1/integrations?{query}` with `key`: the status and the JSON.
async fn v1_list(app: &TestApp, key: &str, query: &str) -> (StatusCode, Value) {
    let res = anonymous()
        .get(app.url(&format!("/v1/integrations{query}")))
        .bearer_auth(key)
        .send()
        .await
        .expect("get");
    let status = res.status();
    let text = res.text().await.expect("body");
    app.seen.lock().expect("lock").push(text.clone());
    (status, serde_json::from_str(&text).expect("json"))
}

/// `POST /api/list_integrations` with `form`: the status, the paging
/// headers (`X-Total-Count`, `X-Next-After`) and the JSON.
async fn fn_list(
    app: &TestApp,
    form: &[(&str, &str)],
) -> (StatusCode, Option<i64>, Option<i64>, Value) {
    let res = app.post("/api/list_integrations", form).await;
    let status = res.status();
    let header = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().expect("ascii").parse::<i64>().expect("a number"))
    };
    let (total, next) = (header("x-total-count"), header("x-next-after"));
    let text = res.text().await.expect("body");
    app.seen.lock().expect("lock").push(text.clone());
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, total, next, value)
}

/// The ids of a page's items, checked to carry the seeded sites.
fn ids_of(items: &Value) -> Vec<i64> {
    items
        .as_array()
        .expect("an array")
        .iter()
        .map(|view| {
            let id = view["id"].as_i64().expect("id");
            let sites = view["sites"].as_array().expect("sites").len();
            let want = match (id % 11, id % 3) {
                (0, _) => 0,
                (_, 0) => 2,
                _ => 1,
            };
            assert_eq!(sites, want, "the sites of {id}");
            id
        })
        .collect()
}

#[tokio::test]
async fn walking_the_cursor_gives_every_integration_once_in_id_order() {
    let app = TestApp::spawn().await;
    let expected = seed(&app, 260).await;
    let total = expected.len() as i64;
    let key = reader_key(&app).await;

    // The default page: 100, the total and a cursor.
    let (status, first) = v1_list(&app, &key, "").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(ids_of(&first["items"]), expected[..100].to_vec());
    assert_eq!(first["total"], total);
    assert!(first["nextCursor"].is_string(), "{}", first["nextCursor"]);

    // Pages of 37 to the end: each id once, in order, the total on each.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = match &cursor {
            None => "?limit=37".to_owned(),
            Some(c) => format!("?limit=37&cursor={c}"),
        };
        let (status, page) = v1_list(&app, &key, &query).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["total"], total);
        let ids = ids_of(&page["items"]);
        assert!(ids.len() <= 37);
        seen.extend(ids);
        pages += 1;
        match page["nextCursor"].as_str() {
            Some(next) => {
                assert_eq!(page["items"].as_array().expect("items").len(), 37);
                cursor = Some(next.to_owned());
            }
            None => {
                assert!(page["nextCursor"].is_null(), "{page}");
                break;
            }
        }
    }
    assert_eq!(seen, expected, "every connected integration once, by id");
    assert_eq!(pages, (total + 36) / 37, "no empty page at the end");

    // A page exactly the size of what is left ends the walk too.
    let (_, all) = v1_list(&app, &key, &format!("?limit={total}")).await;
    assert_eq!(ids_of(&all["items"]), expected);
    assert!(all["nextCursor"].is_null());

    // A disconnect between two pages neither repeats nor skips anyone else.
    let (_, page) = v1_list(&app, &key, "?limit=10").await;
    let next = page["nextCursor"].as_str().expect("cursor").to_owned();
    let admin = Actor::User("admin@example.com".into());
    app.engine
        .disconnect(domain::IntegrationId(expected[3]), &admin)
        .await
        .expect("disconnect");
    app.engine
        .disconnect(domain::IntegrationId(expected[12]), &admin)
        .await
        .expect("disconnect");
    let (_, after) = v1_list(&app, &key, &format!("?limit=10&cursor={next}")).await;
    let mut want: Vec<i64> = expected[10..].to_vec();
    want.retain(|id| *id != expected[12]);
    assert_eq!(ids_of(&after["items"]), want[..10].to_vec());
    assert_eq!(after["total"], total - 2);
}

#[tokio::test]
async fn a_bad_limit_or_cursor_is_a_400_with_a_sentence() {
    let app = TestApp::spawn().await;
    seed(&app, 30).await;
    let key = reader_key(&app).await;
    let (status, one) = v1_list(&app, &key, "?limit=1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["items"].as_array().expect("items").len(), 1);
    let (status, most) = v1_list(&app, &key, "?limit=500").await;
    assert_eq!(status, StatusCode::OK, "{most}");
    let cursor = one["nextCursor"].as_str().expect("cursor").to_owned();
    for (query, words) in [
        ("?limit=0", "limit must be a whole number from 1 to 500"),
        ("?limit=501", "limit must be a whole number from 1 to 500"),
        ("?limit=-3", "limit must be a whole number from 1 to 500"),
        ("?limit=ten", "limit must be a whole number from 1 to 500"),
        ("?limit=99999999999999999999", "from 1 to 500"),
        ("?limit=", "from 1 to 500"),
        ("?cursor=1", "not one this API gave"),
        ("?cursor=", "not one this API gave"),
        ("?cursor=%00%FF", "not one this API gave"),
        ("?cursor=YWZ0ZXI6LTE", "not one this API gave"), // "after:-1"
        ("?limit=5&limit=6", "more than once"),
        ("?page=2", "Unknown parameter \"page\""),
    ] {
        let (status, body) = v1_list(&app, &key, query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["error"], "bad_request", "{query}");
        let message = body["message"].as_str().expect("a sentence");
        assert!(message.contains(words), "{query}: {message}");
        assert!(message.ends_with('.'), "{query}: {message}");
    }
    // The cursor still works after all that.
    let (status, two) = v1_list(&app, &key, &format!("?cursor={cursor}&limit=1")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids_of(&two["items"]), vec![2]);
}

#[tokio::test]
async fn the_server_function_stays_an_array_a_bounded_page_at_a_time() {
    let app = TestApp::spawn().await;
    let expected = seed(&app, 260).await;
    let total = expected.len() as i64;

    // Without a form: the first 100, the total and the next page's `after`.
    let (status, count, next, first) = fn_list(&app, &[]).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(ids_of(&first), expected[..100].to_vec());
    assert_eq!(count, Some(total));
    assert_eq!(next, Some(expected[99]));

    // `after` and `limit`, walked to the end.
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let (status, count, next, page) =
            fn_list(&app, &[("after", &after.to_string()), ("limit", "64")]).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(count, Some(total));
        seen.extend(ids_of(&page));
        match next {
            Some(n) => after = n,
            None => break,
        }
    }
    assert_eq!(seen, expected);

    // Any id works as `after`, a disconnected one or one past the end too.
    let (_, _, _, page) = fn_list(&app, &[("after", "7"), ("limit", "3")]).await;
    assert_eq!(ids_of(&page), vec![8, 9, 10]);
    let (status, count, next, page) = fn_list(&app, &[("after", "100000")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (count, next, page),
        (Some(total), None, Value::Array(vec![]))
    );

    for (form, words) in [
        (
            vec![("limit", "0")],
            "limit must be a whole number from 1 to 500",
        ),
        (
            vec![("limit", "501")],
            "limit must be a whole number from 1 to 500",
        ),
        (
            vec![("limit", "ten")],
            "limit must be a whole number from 1 to 500",
        ),
        (vec![("after", "-1")], "after must be an integration id"),
        (vec![("after", "x")], "after must be an integration id"),
    ] {
        let (status, _, _, body) = fn_list(&app, &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form:?}: {body}");
        assert!(body.to_string().contains(words), "{form:?}: {body}");
    }
}

#[tokio::test]
async fn a_page_past_the_end_shows_the_last_page_and_says_so() {
    let app = TestApp::spawn().await;
    let expected = seed(&app, 260).await;
    let total = expected.len() as i64;
    let last = (total + 99) / 100;
    let on_last = (total - (last - 1) * 100) as usize;

    for asked in [
        "9223372036854775807",
        &(last + 1).to_string(),
        &last.to_string(),
    ] {
        let (status, view) = app
            .post_form("/api/dashboard_page", &[("page", asked)])
            .await;
        assert_eq!(status, StatusCode::OK, "{asked}: {view}");
        assert_eq!(view["page"], last, "{asked}");
        assert_eq!(view["total"], total);
        assert_eq!(
            view["items"].as_array().expect("items").len(),
            on_last,
            "{asked}"
        );
    }
    for asked in ["0", "-1", "-9223372036854775808"] {
        let (status, view) = app
            .post_form("/api/dashboard_page", &[("page", asked)])
            .await;
        assert_eq!(status, StatusCode::OK, "{asked}: {view}");
        assert_eq!(view["page"], 1, "{asked}");
        assert_eq!(view["items"][0]["id"], expected[0]);
    }
    // A filter's own last page, and a filter that matches nothing: page 1.
    let (_, inactive) = app
        .post_form(
            "/api/dashboard_page",
            &[("status", "needs_reauth"), ("size", "20"), ("page", "99")],
        )
        .await;
    let needing = inactive["total"].as_i64().expect("total");
    assert_eq!(inactive["page"], (needing + 19) / 20, "{inactive}");
    assert!(!inactive["items"].as_array().expect("items").is_empty());
    let (_, nothing) = app
        .post_form(
            "/api/dashboard_page",
            &[("search", "nobody-at-all"), ("page", "9223372036854775807")],
        )
        .await;
    assert_eq!(
        (nothing["page"].clone(), nothing["total"].clone()),
        (1.into(), 0.into())
    );

    // The rendered page: the last page's cards, its pager, and a sentence.
    for address in [
        "/dashboard?page=9223372036854775807",
        "/dashboard?page=99999999999999999999999",
    ] {
        let html = app.page_text(address).await;
        assert_eq!(
            html.matches("data-integration-id=").count(),
            on_last,
            "{address}"
        );
        assert!(
            html.contains(&format!("Page {last} of {last}")),
            "{address}"
        );
        assert!(html.contains("this is the last one."), "{address}");
        assert!(html.contains(&format!("href=\"/dashboard?page={}\"", last - 1)));
    }
    let html = app.page_text(&format!("/dashboard?page={last}")).await;
    assert!(!html.contains("this is the last one."));
    let html = app.page_text("/dashboard?page=-4").await;
    assert!(html.contains(&format!("Page 1 of {last}")));
}

#[tokio::test]
async fn the_openapi_document_describes_the_paging() {
    let app = TestApp::spawn().await;
    let doc: Value = anonymous()
        .get(app.url("/v1/openapi.json"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let list = &doc["paths"]["/v1/integrations"]["get"];
    let params: Vec<&str> = list["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .map(|p| {
            assert_eq!(p["in"], "query", "{p}");
            p["name"].as_str().expect("name")
        })
        .collect();
    assert_eq!(params, ["limit", "cursor", "endUserId", "tag"]);
    assert!(list["responses"]["400"].is_object(), "{list}");
    let fields = doc["components"]["schemas"]["IntegrationList"]["properties"]
        .as_object()
        .expect("IntegrationList");
    for field in ["items", "nextCursor", "total"] {
        assert!(fields.contains_key(field), "{field} missing: {fields:?}");
    }
}
