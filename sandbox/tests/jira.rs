//! The Jira REST API on the seeded sites: search with JQL, issues, projects,
//! and the access check shared with `myself`.

mod common;

use std::collections::HashSet;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Acme's seeded issues: 14 in ACME, 13 in OPS.
const ACME_ISSUES: usize = 27;

/// Searches Acme with `jql`, one page of up to 100, with summaries.
async fn search(sb: &TestSandbox, token: &str, jql: &str) -> Answer {
    let query = [("jql", jql), ("maxResults", "100"), ("fields", "*all")];
    let answer = get(sb, token, &api(ACME, "/search/jql"), &query).await;
    assert_eq!(answer.status, StatusCode::OK, "{jql}: {}", answer.body);
    answer
}

fn field_values(answer: &Answer, field: &str) -> Vec<Value> {
    answer.body["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .map(|issue| issue["fields"][field].clone())
        .collect()
}

#[tokio::test]
async fn search_selects_by_project() {
    let sb = TestSandbox::start().await;
    let token = ada_on_both_sites(&sb).await;
    let keys = search(&sb, &token, "project = OPS").await.keys();
    assert_eq!(keys.len(), 13);
    assert!(keys.iter().all(|k| k.starts_with("OPS-")), "{keys:?}");
    let keys = search(&sb, &token, "project in (ACME, ops)").await.keys();
    assert_eq!(keys.len(), ACME_ISSUES);
    assert_eq!(search(&sb, &token, "").await.keys().len(), ACME_ISSUES);
}

#[tokio::test]
async fn search_selects_by_status() {
    let sb = TestSandbox::start().await;
    let token = ada_on_both_sites(&sb).await;
    for (jql, name, count) in [
        ("status = \"In Progress\"", "In Progress", 8),
        ("status = Done", "Done", 9),
        ("status = 'to do'", "To Do", 10),
    ] {
        let answer = search(&sb, &token, jql).await;
        let statuses = field_values(&answer, "status");
        assert_eq!(statuses.len(), count, "{jql}");
        assert!(statuses.iter().all(|s| s["name"] == name), "{jql}");
    }
}

#[tokio::test]
async fn search_selects_by_assignee() {
    let sb = TestSandbox::start().await;
    let token = ada_on_both_sites(&sb).await;
    let mine = field_values(
        &search(&sb, &token, "assignee = currentUser()").await,
        "assignee",
    );
    assert_eq!(mine.len(), 10);
    assert!(mine
        .iter()
        .all(|a| a["accountId"] == ADA && a["displayName"] == "Ada Lovelace"));
    let nobody = field_values(&search(&sb, &token, "assignee is EMPTY").await, "assignee");
    assert_eq!(nobody.len(), 6);
    assert!(nobody.iter().all(Value::is_null));
    // Grace's token sees Grace's issues as hers.
    let code = sb.code(ALL_SCOPES, GRACE, &[ACME]).await;
    let grace = s(&sb.exchange(&code).await.1, "access_token");
    assert_eq!(
        search(&sb, &grace, "assignee = currentUser()")
            .await
            .keys()
            .len(),
        11
    );
}

#[tokio::test]
async fn search_selects_by_text_in_the_summary_ignoring_case() {
    let sb = TestSandbox::start().await;
    let token = ada_on_both_sites(&sb).await;
    assert_eq!(
        search(&sb, &token, "text ~ \"LOGIN\"").await.keys(),
        ["ACME-11"]
    );
    let answer = search(&sb, &token, "text ~ csv ORDER BY key ASC").await;
    assert_eq!(answer.keys(), ["ACME-3", "ACME-12"]);
}

#[tokio::test]
async fn clauses_join_with_and() {
    let sb = TestSandbox::start().await;
    let token = ada_on_both_sites(&sb).await;
    let answer = search(
        &sb,
        &token,
        "project = OPS AND status = \"In Progress\" AND assignee = currentUser()",
    )
    .await;
    assert_eq!(answer.keys(), ["OPS-11", "OPS-6"]);
}

#[tokio::test]
async fn order_by_sorts_by_created_key_or_updated() {
    let sb = TestSandbox::start().await;
    let token = ada_on_both_sites(&sb).await;
    let is_sorted = |values: Vec<Value>, descending: bool| {
        let texts: Vec<String> = values
            .iter()
            .map(|v| v.as_str().expect("time").to_owned())
            .collect();
        let mut sorted = texts.clone();
        sorted.sort();
        if descending {
            sorted.reverse();
        }
        texts == sorted
    };
    // The default: newest first.
    let newest_first = search(&sb, &token, "").await;
    assert_eq!(newest_first.keys()[..2], ["ACME-14", "OPS-13"]);
    assert!(is_sorted(field_values(&newest_first, "created"), true));
    let oldest_first = search(&sb, &token, "ORDER BY created ASC").await;
    assert_eq!(oldest_first.keys()[..2], ["ACME-1", "OPS-1"]);
    assert!(is_sorted(field_values(&oldest_first, "created"), false));
    let by_key = search(&sb, &token, "order by key asc").await.keys();
    assert_eq!(by_key[..2], ["ACME-1", "ACME-2"]);
    assert_eq!(by_key[13..15], ["ACME-14", "OPS-1"]);
    let by_key_desc = search(&sb, &token, "ORDER BY key DESC").await.keys();
    assert_eq!(by_key_desc[0], "OPS-13");
    let by_update = search(&sb, &token, "status = Done ORDER BY updated").await;
    assert!(is_sorted(field_values(&by_update, "updated"), true));
}

#[tokio::test]
async fn paging_with_next_page_token_reaches_the_last_page() {
    let sb = TestSandbox::start().await;
    let token = ada_on_both_sites(&sb).await;
    let everything = search(&sb, &token, "ORDER BY key").await.keys();
    let mut seen = Vec::new();
    let mut page_token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut query = vec![("jql", "ORDER BY key"), ("maxResults", "5")];
        if let Some(t) = &page_token {
            query.push(("nextPageToken", t));
        }
        let answer = get(&sb, &token, &api(ACME, "/search/jql"), &query).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        pages += 1;
        seen.extend(answer.keys());
        if answer.body["isLast"] == true {
            assert!(answer.body.get("nextPageToken").is_none());
            break;
        }
        assert_eq!(answer.keys().len(), 5);
        page_token = Some(s(&answer.body, "nextPageToken"));
    }
    assert_eq!(pages, 6);
    assert_eq!(seen, everything);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), ACME_ISSUES);
    let answer = get(
        &sb,
        &token,
        &api(ACME, "/search/jql"),
        &[("nextPageToken", "forged")],
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn pages_hold_50_issues_unless_asked_and_at_most_100() {
    let sb = TestSandbox::start().await;
    let token = ada_on_both_sites(&sb).await;
    for n in 0..80 {
        let created = post(
            &sb,
            &token,
            &api(ACME, "/issue"),
            json!({"fields": {"project": {"key": "ACME"}, "summary": format!("Load test {n}"), "issuetype": {"name": "Task"}}}),
        )
        .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    }
    let path = api(ACME, "/search/jql");
    let default = get(&sb, &token, &path, &[]).await;
    assert_eq!(default.keys().len(), 50);
    assert_eq!(default.body["isLast"], false);
    let capped = get(&sb, &token, &path, &[("maxResults", "1000")]).await;
    assert_eq!(capped.keys().len(), 100);
    let zero = get(&sb, &token, &path, &[("maxResults", "0")]).await;
    assert_eq!(zero.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn post_search_takes_the_same_request_as_a_json_body() {
    let sb = TestSandbox::start().await;
    let token = ada_on_both_sites(&sb).await;
    let path = api(ACME, "/search/jql");
    let jql = "project = ACME ORDER BY key";
    let first = post(
        &sb,
        &token,
        &path,
        json!({"jql": jql, "maxResults": 10, "fields": ["summary", "status"]}),
    )
    .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.keys().len(), 10);
    let fields = first.body["issues"][0]["fields"]
        .as_object()
        .expect("fields");
    assert_eq!(fields.len(), 2);
    assert_eq!(
        fields["summary"],
        "Set up single sign-on with the corporate identity provider"
    );
    let rest = post(
        &sb,
        &token,
        &path,
        json!({"jql": jql, "maxResults": 10, "nextPageToken": s(&first.body, "nextPageToken")}),
    )
    .await;
    assert_eq!(rest.keys(), ["ACME-11", "ACME-12", "ACME-13", "ACME-14"]);
    assert_eq!(rest.body["isLast"], true);
    let by_get = get(&sb, &token, &path, &[("jql", jql), ("maxResults", "10")]).await;
    assert_eq!(by_get.keys(), first.keys());
}

#[tokio::test]
async fn search_answers_ids_only_unless_fields_ask_for_more() {
    let sb = TestSandbox::start().await;
    let token = ada_on_both_sites(&sb).await;
    let path = api(ACME, "/search/jql");
    let bare = get(&sb, &token, &path, &[("jql", "ORDER BY key")]).await;
    let first = &bare.body["issues"][0];
    assert_eq!(first["id"], "10001");
    assert_eq!(first["key"], "ACME-1");
    assert_eq!(
        first["self"],
        format!("{}/ex/jira/{ACME}/rest/api/3/issue/10001", sb.base)
    );
    assert!(first.get("fields").is_none(), "{first}");
    let some = get(&sb, &token, &path, &[("fields", "summary,assignee")]).await;
    let fields = some.body["issues"][0]["fields"]
        .as_object()
        .expect("fields");
    assert_eq!(fields.keys().collect::<Vec<_>>(), ["assignee", "summary"]);
}

#[tokio::test]
async fn an_issue_is_found_by_key_and_by_id() {
    let sb = TestSandbox::start().await;
    let token = ada_on_both_sites(&sb).await;
    let by_key = get(&sb, &token, &api(ACME, "/issue/ACME-1"), &[]).await;
    assert_eq!(by_key.status, StatusCode::OK);
    let issue = &by_key.body;
    assert_eq!(issue["id"], "10001");
    assert_eq!(issue["key"], "ACME-1");
    assert_eq!(
        issue["self"],
        format!("{}/ex/jira/{ACME}/rest/api/3/issue/10001", sb.base)
    );
    let fields = &issue["fields"];
    assert_eq!(
        fields["summary"],
        "Set up single sign-on with the corporate identity provider"
    );
    assert_eq!(fields["status"]["name"], "Done");
    assert_eq!(fields["issuetype"]["name"], "Story");
    assert_eq!(fields["project"]["id"], "10000");
    assert_eq!(fields["project"]["key"], "ACME");
    assert_eq!(fields["project"]["name"], "Acme Platform");
    // 44 days before the test clock's day (2027-01-15), at 09:00 UTC.
    assert_eq!(fields["created"], "2026-12-02T09:00:00.000+0000");
    assert_eq!(fields["updated"], "2026-12-07T09:00:00.000+0000");
    assert_eq!(fields["assignee"]["accountId"], ADA);
    assert_eq!(fields["assignee"]["displayName"], "Ada Lovelace");
    let by_id = get(&sb, &token, &api(ACME, "/issue/10001"), &[]).await;
    assert_eq!(by_id.body, by_key.body);
    let lower_case = get(&sb, &token, &api(ACME, "/issue/acme-1"), &[]).await;
    assert_eq!(lower_case.body, by_key.body);
    let unassigned = get(&sb, &token, &api(ACME, "/issue/ACME-14"), &[]).await;
    assert!(unassigned.body["fields"]["assignee"].is_null());
}

#[tokio::test]
async fn an_unknown_issue_is_404_in_atlassians_shape() {
    let sb = TestSandbox::start().await;
    let token = ada_on_both_sites(&sb).await;
    for missing in ["ACME-999", "99999", "nonsense"] {
        let answer = get(&sb, &token, &api(ACME, &format!("/issue/{missing}")), &[]).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{missing}");
        assert_eq!(
            answer.body,
            json!({"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}})
        );
    }
}

#[tokio::test]
async fn a_created_issue_is_found_by_search() {
    let sb = TestSandbox::start().await;
    let token = ada_on_both_sites(&sb).await;
    let created = post(
        &sb,
        &token,
        &api(ACME, "/issue"),
        json!({"fields": {"project": {"key": "OPS"}, "summary": "Investigate the flaky health check", "issuetype": {"name": "Bug"}}}),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        created.body,
        json!({
            "id": "10028",
            "key": "OPS-14",
            "self": format!("{}/ex/jira/{ACME}/rest/api/3/issue/10028", sb.base),
        })
    );
    let found = search(&sb, &token, "text ~ \"flaky health\"").await;
    assert_eq!(found.keys(), ["OPS-14"]);
    let fields = &found.body["issues"][0]["fields"];
    assert_eq!(fields["status"]["name"], "To Do");
    assert_eq!(fields["issuetype"]["name"], "Bug");
    assert!(fields["assignee"].is_null());
    assert_eq!(fields["created"], "2027-01-15T08:00:00.000+0000");
    let newest = search(&sb, &token, "project = OPS AND assignee is EMPTY").await;
    assert_eq!(newest.keys()[0], "OPS-14");
    // Only on the site it was created on.
    let globex = get(&sb, &token, &api(GLOBEX, "/issue/OPS-14"), &[]).await;
    assert_eq!(globex.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn creating_an_issue_without_summary_or_in_an_unknown_project_is_400() {
    let sb = TestSandbox::start().await;
    let token = ada_on_both_sites(&sb).await;
    let path = api(ACME, "/issue");
    let no_summary = post(
        &sb,
        &token,
        &path,
        json!({"fields": {"project": {"key": "ACME"}, "issuetype": {"name": "Task"}}}),
    )
    .await;
    assert_eq!(no_summary.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        no_summary.body,
        json!({"errorMessages": [], "errors": {"summary": "You must specify a summary of the issue."}})
    );
    let unknown_project = post(
        &sb,
        &token,
        &path,
        json!({"fields": {"project": {"key": "GLX"}, "summary": "  ", "issuetype": {"name": "Epic"}}}),
    )
    .await;
    assert_eq!(unknown_project.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        unknown_project.body,
        json!({"errorMessages": [], "errors": {
            "project": "Specify a valid project ID or key",
            "summary": "You must specify a summary of the issue.",
            "issuetype": "The issue type selected is invalid.",
        }})
    );
    let not_json = call(&sb, Method::POST, &path, &token, &[], None).await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    assert!(not_json.body["errorMessages"][0].is_string());
    // Nothing was created.
    assert_eq!(search(&sb, &token, "").await.keys().len(), ACME_ISSUES);
}

#[tokio::test]
async fn projects_are_listed_a_page_at_a_time() {
    let sb = TestSandbox::start().await;
    let token = ada_on_both_sites(&sb).await;
    let path = api(ACME, "/project/search");
    let all = get(&sb, &token, &path, &[]).await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(all.body["total"], 2);
    assert_eq!(all.body["startAt"], 0);
    assert_eq!(all.body["maxResults"], 50);
    assert_eq!(all.body["isLast"], true);
    assert!(all.body["self"]
        .as_str()
        .expect("self")
        .ends_with("/project/search?maxResults=50&startAt=0"));
    assert_eq!(
        all.body["values"][0],
        json!({
            "id": "10000",
            "key": "ACME",
            "name": "Acme Platform",
            "self": format!("{}/ex/jira/{ACME}/rest/api/3/project/10000", sb.base),
            "projectTypeKey": "software",
        })
    );
    assert_eq!(all.body["values"][1]["key"], "OPS");
    let first = get(&sb, &token, &path, &[("maxResults", "1")]).await;
    assert_eq!(first.body["values"].as_array().expect("values").len(), 1);
    assert_eq!(first.body["isLast"], false);
    let second = get(&sb, &token, &path, &[("maxResults", "1"), ("startAt", "1")]).await;
    assert_eq!(second.body["values"][0]["key"], "OPS");
    assert_eq!(second.body["isLast"], true);
    let globex = get(&sb, &token, &api(GLOBEX, "/project/search"), &[]).await;
    let keys: Vec<_> = globex.body["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|p| s(p, "key"))
        .collect();
    assert_eq!(keys, ["GLX", "WEB"]);
}

#[tokio::test]
async fn a_jql_error_is_400_in_atlassians_shape() {
    let sb = TestSandbox::start().await;
    let token = ada_on_both_sites(&sb).await;
    let path = api(ACME, "/search/jql");
    for jql in [
        "project = ACME OR project = OPS",
        "priority = High",
        "status = \"In Progress",
        "project = ACME ORDER BY rank",
    ] {
        let answer = get(&sb, &token, &path, &[("jql", jql)]).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{jql}");
        assert_eq!(answer.body["errors"], json!({}), "{jql}");
        let messages = answer.body["errorMessages"]
            .as_array()
            .expect("errorMessages");
        assert_eq!(messages.len(), 1);
        assert!(
            messages[0]
                .as_str()
                .expect("text")
                .starts_with("Error in the JQL Query: "),
            "{jql}"
        );
    }
    let answer = post(&sb, &token, &path, json!({"jql": "assignee = ada"})).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let answer = get(&sb, &token, &path, &[("jql", "project = GLX")]).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer.body,
        json!({"errorMessages": ["The value 'GLX' does not exist for the field 'project'."], "errors": {}})
    );
}

/// Every Jira route, as (method, path, body).
fn every_jira_route(site: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, api(site, "/myself"), None),
        (Method::GET, api(site, "/search/jql"), None),
        (
            Method::POST,
            api(site, "/search/jql"),
            Some(json!({"jql": ""})),
        ),
        (Method::GET, api(site, "/issue/ACME-1"), None),
        (
            Method::POST,
            api(site, "/issue"),
            Some(
                json!({"fields": {"project": {"key": "ACME"}, "summary": "x", "issuetype": {"name": "Task"}}}),
            ),
        ),
        (Method::GET, api(site, "/project/search"), None),
    ]
}

#[tokio::test]
async fn an_expired_or_unknown_token_is_401_on_every_jira_route() {
    let sb = TestSandbox::start().await;
    let token = ada_on_both_sites(&sb).await;
    sb.advance(3_600);
    for token in [token.as_str(), "sbx_at_unknown"] {
        let myself = get(&sb, token, &api(ACME, "/myself"), &[]).await;
        assert_eq!(myself.status, StatusCode::UNAUTHORIZED);
        for (method, path, body) in every_jira_route(ACME) {
            let answer = call(&sb, method.clone(), &path, token, &[], body).await;
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{method} {path}");
            assert_eq!(answer.body, myself.body, "{method} {path}");
        }
    }
    // Nothing was created by the refused POST.
    let fresh = ada_on_both_sites(&sb).await;
    assert_eq!(search(&sb, &fresh, "").await.keys().len(), ACME_ISSUES);
}

#[tokio::test]
async fn a_token_for_one_site_cannot_read_the_other_sites_issues() {
    let sb = TestSandbox::start().await;
    let code = sb.code(ALL_SCOPES, ADA, &[ACME]).await;
    let acme_only = s(&sb.exchange(&code).await.1, "access_token");
    let myself = get(&sb, &acme_only, &api(GLOBEX, "/myself"), &[]).await;
    assert_eq!(myself.status, StatusCode::NOT_FOUND);
    for (method, path, body) in every_jira_route(GLOBEX) {
        let answer = call(&sb, method.clone(), &path, &acme_only, &[], body).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(answer.body, myself.body, "{method} {path}");
    }
    // A token for both sites sees each site's own issues only.
    let both = ada_on_both_sites(&sb).await;
    let globex = get(
        &sb,
        &both,
        &api(GLOBEX, "/search/jql"),
        &[("jql", "ORDER BY key")],
    )
    .await;
    assert_eq!(globex.keys().len(), 26);
    assert!(globex
        .keys()
        .iter()
        .all(|k| k.starts_with("GLX-") || k.starts_with("WEB-")));
    let acme_key_on_globex = get(&sb, &both, &api(GLOBEX, "/issue/ACME-1"), &[]).await;
    assert_eq!(acme_key_on_globex.status, StatusCode::NOT_FOUND);
    let same_id = get(&sb, &both, &api(GLOBEX, "/issue/10001"), &[]).await;
    assert_eq!(same_id.body["key"], "GLX-1");
}
