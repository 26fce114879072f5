//! The dashboard's "Jira quota" panel: what the app's Jira rate limits look
//! like now, as the server's governor learnt them from Jira's answers (the
//! quota pools with their remaining points and reset, whether calls are
//! being paced, the API keys that spent most, and the holds running). The
//! same figures as `GET /v1/rate-limits`; re-read every 15 seconds.

use leptos::prelude::*;

use crate::api::jira_quota;
use crate::clock::use_clock;
use crate::countdown::short_time;
use crate::model::{HoldView, KeySpendView, QuotaPoolView, RateLimitsView};

use super::DataTable;

/// How many keys the panel lists, most points first.
const TOP_KEYS: usize = 5;
/// How often the panel re-reads the figures, in seconds.
const REREAD_SECS: i64 = 15;

#[component]
pub fn JiraQuotaPanel() -> impl IntoView {
    let figures = Resource::new(|| (), |_| jira_quota());
    let clock = use_clock();
    Effect::new(move |_| {
        if clock.now().is_some_and(|now| now % REREAD_SECS == 0) {
            figures.refetch();
        }
    });
    view! {
        <section class="panel jira-quota" aria-labelledby="jira-quota-title" data-testid="jira-quota">
            <h2 id="jira-quota-title">"Jira quota"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading the Jira quota…"</p> }>
                {move || Suspend::new(async move {
                    match figures.await {
                        Ok(figures) => quota_view(figures).into_any(),
                        Err(e) => view! {
                            <p class="error" role="alert">{super::error_text(e)}</p>
                        }
                        .into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

fn quota_view(figures: RateLimitsView) -> impl IntoView {
    if figures.pools.is_empty() && figures.holds.is_empty() && figures.keys.is_empty() {
        return view! {
            <p class="muted" data-testid="quota-unknown">
                "No answer from Jira has told its quota yet: the panel fills in as calls go to Jira through this server."
            </p>
        }
        .into_any();
    }
    let pools = figures.pools.into_iter().map(pool_view).collect_view();
    let keys = figures
        .keys
        .into_iter()
        .take(TOP_KEYS)
        .map(key_row)
        .collect_view();
    let holds = match figures.holds.is_empty() {
        true => view! { <p class="muted" data-testid="no-holds">"No rate limit holds any call now."</p> }.into_any(),
        false => view! {
            <DataTable label="Rate-limit holds" class="holds" columns=&["Scope", "Holds", "Reason", "Ends in"]>
                {figures.holds.into_iter().map(hold_row).collect_view()}
            </DataTable>
        }
        .into_any(),
    };
    view! {
        <div class="pools">{pools}</div>
        <h3>"Top keys by points"</h3>
        <DataTable label="Jira points by API key" class="quota-keys" columns=&["Key", "Points, last hour", "Calls", "Held", "Share"]>
            {keys}
        </DataTable>
        <h3>"Holds"</h3>
        {holds}
    }
    .into_any()
}

fn pool_view(pool: QuotaPoolView) -> impl IntoView {
    let of = pool
        .points
        .map(|p| format!(" of {}", thousands(p)))
        .unwrap_or_default();
    view! {
        <div class="pool" data-testid="quota-pool" data-pool=pool.pool.clone()>
            <strong class="count">{thousands(pool.remaining)}</strong>
            {format!("{of} points left in {}", pool_label(&pool.pool))}
            <br/>
            <span class="muted">{format!("resets at {}", short_time(&pool.resets_at))}</span>
            {pool.pacing.then(|| view! { " " <span class="pacing" data-testid="pacing">"pacing calls to last the hour"</span> })}
            {(pool.near_limit && !pool.pacing).then(|| view! { " " <span class="pacing">"near its limit"</span> })}
        </div>
    }
}

fn key_row(key: KeySpendView) -> impl IntoView {
    let share = match key.points_per_hour {
        Some(budget) => format!("weight {}, {} an hour", key.weight, thousands(budget)),
        None => format!("weight {}", key.weight),
    };
    view! {
        <tr data-testid="quota-key" data-key-id=key.key_id>
            <td>{key.name}</td>
            <td class="num">{thousands(key.points_last_hour.round() as u64)}</td>
            <td class="num">{key.calls}</td>
            <td class="num">{key.held}</td>
            <td>{share}</td>
        </tr>
    }
}

fn hold_row(hold: HoldView) -> impl IntoView {
    view! {
        <tr data-testid="quota-hold">
            <td>{hold.scope}</td>
            <td><code>{hold.target}</code></td>
            <td>{hold.reason}</td>
            <td class="num">{format!("{} s", hold.retry_after_secs)}</td>
        </tr>
    }
}

/// A pool's key in words: `app` is the app's one pool, `tenant <cloudId>`
/// one tenant's.
fn pool_label(pool: &str) -> String {
    match pool.strip_prefix("tenant ") {
        Some(cloud_id) => format!("the pool of tenant {cloud_id}"),
        None => "the app's pool".to_owned(),
    }
}

/// `65,000` for 65000.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_written_in_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(65_000), "65,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn pools_are_named_in_words() {
        assert_eq!(pool_label("app"), "the app's pool");
        assert_eq!(pool_label("tenant abc"), "the pool of tenant abc");
    }
}
