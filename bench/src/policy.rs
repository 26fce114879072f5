//! `bench policy` (issue 18): token requests per integration per day under
//! each refresh policy.

use crate::common::*;

/// Token requests per integration per day under each refresh policy, counted
/// by the sandbox while a controlled clock walks the scheduler (its real
/// ticks) through simulated days: scheduled for one day (a tick every 30 s),
/// on demand for 90 days unused (a tick an hour), and on demand for a week in
/// which a service asks for each integration's token every working hour.
pub(crate) async fn bench_policy() {
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
                        .fresh_access_token(id, 60, &service, &domain::Tags::default())
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
