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
//!
//! One file a part, named as the mode that runs it alone (and `dashboard`,
//! `due_soon`, `memory`, which run only in the whole run); what they share
//! is in `common`. This file only reads the mode and runs the parts.

mod common;
mod dashboard;
mod due_soon;
mod live;
mod memory;
mod pace;
mod policy;
mod refresh;
mod replicas;
mod scale;
mod search;
mod seed;
mod service;

use std::process::ExitCode;

use common::start;

/// The parts `bench <mode>` runs alone, and what each measures.
const MODES: &[(&str, &str)] = &[
    ("refresh", "refresh throughput and latency against the in-process sandbox, next to the bare token request"),
    ("live", "1,000 open /events streams on the real server binary: its memory, and how fast a change reaches them"),
    ("service", "the service API: token hand-outs under load, the proxy's overhead, memory while 50 MB stream"),
    ("pace", "the scheduler against a provider answering in 150 ms"),
    ("policy", "token requests per integration per day under each refresh policy"),
    ("search", "search by site or account among 1,000,000 integrations"),
    ("scale", "ten minutes of scheduling at 1,000,000, then pages, size, start-up, memory (about 20 minutes)"),
    ("replicas", "refreshes per second of one and of three release server processes on PostgreSQL"),
];

fn usage() -> String {
    let mut text = String::from(
        "usage: bench [MODE]\n       bench seed <database file> <count>\n\n\
         Without a mode, every part (about 45 minutes). The modes:\n",
    );
    for (mode, what) in MODES {
        text.push_str(&format!("  {mode:<9} {what}\n"));
    }
    text.push_str("  seed      only seeds a SQLite file with <count> integrations (the browser benchmark's)\n");
    text
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mode = match args.as_slice() {
        [] => None,
        ["-h" | "--help"] => {
            print!("{}", usage());
            return ExitCode::SUCCESS;
        }
        ["seed", path, count] => {
            let Ok(count) = count.parse() else {
                eprint!("bench seed: {count:?} is not a count\n\n{}", usage());
                return ExitCode::from(2);
            };
            seed::seed_only(path, count).await;
            return ExitCode::SUCCESS;
        }
        [mode] if MODES.iter().any(|(known, _)| known == mode) => Some(*mode),
        _ => {
            eprint!("bench: unknown arguments {args:?}\n\n{}", usage());
            return ExitCode::from(2);
        }
    };
    println!(
        "# Jira dashboard benchmark ({} cores)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    match mode {
        Some("refresh") => refresh::bench_refresh(&start().await).await,
        Some("live") => live::bench_live(&start().await).await,
        Some("service") => service::bench_service(&start().await).await,
        Some("pace") => pace::bench_pace(&start().await).await,
        Some("policy") => policy::bench_policy().await,
        Some("search") => search::bench_search(&start().await).await,
        Some("scale") => scale::bench_scale(&start().await).await,
        Some("replicas") => replicas::bench_replicas().await,
        _ => everything().await,
    }
    ExitCode::SUCCESS
}

/// Every part, in the order of the budget (scripts/bench adds the wasm size
/// and the browser's per-tick cost).
async fn everything() {
    let b = start().await;
    refresh::bench_refresh(&b).await;
    dashboard::bench_dashboard(&b).await;
    due_soon::bench_due_soon(&b).await;
    memory::bench_memory(&b).await;
    live::bench_live(&b).await;
    service::bench_service(&b).await;
    pace::bench_pace(&b).await;
    policy::bench_policy().await;
    // A million integrations each, on fresh instances (the last takes about 20 minutes).
    search::bench_search(&start().await).await;
    scale::bench_scale(&start().await).await;
    replicas::bench_replicas().await;
}
