//! `bench refresh`: refresh throughput and latency against the in-process
//! sandbox, next to the bare token request (the floor), interleaved.

use std::sync::Arc;
use std::time::Instant;

use domain::{EventKind, EventOutcome, UnixTime};
use engine::vault::Column;
use engine::Secret;

use crate::common::*;

pub(crate) async fn bench_refresh(b: &Bench) {
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
