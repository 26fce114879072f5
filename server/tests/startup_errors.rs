//! A bad configuration stops the binary with one line naming the variable.

use std::process::Command;

fn run_server(env: &[(&str, &str)]) -> (i32, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(testkit::server_binary!())
        .current_dir(dir.path())
        .env_remove("JIRA_CLIENT_ID")
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/db.sqlite", dir.path().display()),
        )
        .envs(env.iter().copied())
        .output()
        .expect("run server");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_one_line_naming(stderr: &str, variable: &str) {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line: {stderr}");
    assert!(lines[0].contains(variable), "names {variable}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn an_unparseable_url_stops_start_up() {
    let (code, stderr) = run_server(&[("JIRA_REDIRECT_URI", "not a url")]);
    assert_ne!(code, 0);
    assert_one_line_naming(&stderr, "JIRA_REDIRECT_URI");
}

#[test]
fn an_unwritable_database_path_stops_start_up() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a folder").expect("write");
    let url = format!("sqlite://{}/sub/db.sqlite", file.display());
    let (code, stderr) = run_server(&[("DATABASE_URL", &url)]);
    assert_ne!(code, 0);
    assert_one_line_naming(&stderr, "DATABASE_URL");
}

#[test]
fn a_bad_number_stops_start_up() {
    let (code, stderr) = run_server(&[("REFRESH_MARGIN_SECS", "soon")]);
    assert_ne!(code, 0);
    assert_one_line_naming(&stderr, "REFRESH_MARGIN_SECS");
}

#[test]
fn a_busy_address_stops_start_up() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = busy.local_addr().expect("addr").to_string();
    let (code, stderr) = run_server(&[("LEPTOS_SITE_ADDR", &addr)]);
    assert_ne!(code, 0);
    assert_one_line_naming(&stderr, "LEPTOS_SITE_ADDR");
}
