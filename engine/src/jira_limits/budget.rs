//! One API key's points over the last hour, against the hourly budget an
//! admin may give it in Settings (pure). Points are kept per minute, so the
//! hour slides a minute at a time and a key over its budget learns when
//! enough of its spending has aged out of the hour. Calls sent and not yet
//! answered count at the key's average cost, so a burst of calls in
//! parallel cannot run past the budget before the answers come back.

use std::collections::VecDeque;

use domain::UnixTime;

/// The window a budget counts over.
const HOUR_SECS: i64 = 3_600;
const MINUTE_SECS: i64 = 60;

/// What one key spent, by minute, over the last hour.
#[derive(Debug, Clone, Default)]
pub struct Budget {
    /// (minute, points): the minute is unix seconds / 60, oldest first.
    minutes: VecDeque<(i64, f64)>,
    /// Points reserved by calls sent and not yet answered.
    in_flight: f64,
    /// What a call of this key costs, on average (`None`: nothing known).
    average: Option<f64>,
}

impl Budget {
    /// Reserves a call's expected points (the key's average cost, 1 before
    /// any is known): what to [`Budget::release`] once it is answered.
    pub fn reserve(&mut self) -> f64 {
        let points = self.average.unwrap_or(1.0);
        self.in_flight += points;
        points
    }

    /// Gives back points [`Budget::reserve`] took.
    pub fn release(&mut self, points: f64) {
        self.in_flight = (self.in_flight - points).max(0.0);
    }

    /// Counts `points` spent at `now`.
    pub fn spend(&mut self, points: f64, now: UnixTime) {
        if points > 0.0 {
            let average = self.average.get_or_insert(points);
            *average = 0.8 * *average + 0.2 * points;
        }
        let minute = now.secs().div_euclid(MINUTE_SECS);
        self.forget(now);
        match self.minutes.back_mut() {
            Some((m, p)) if *m == minute => *p += points,
            _ => self.minutes.push_back((minute, points)),
        }
    }

    /// The points spent over the hour up to `now`.
    pub fn last_hour(&self, now: UnixTime) -> f64 {
        let first = first_minute(now);
        self.minutes
            .iter()
            .filter(|(m, _)| *m >= first)
            .map(|(_, p)| p)
            .sum()
    }

    /// When the key has spent `budget` points or more over the last hour
    /// (its calls in flight counted): the seconds until enough of that
    /// spending ages out of the hour for it to be under its budget again
    /// (1 to 3600). `None` while under.
    pub fn over(&mut self, budget: u64, now: UnixTime) -> Option<i64> {
        self.forget(now);
        let budget = budget as f64;
        let mut spent = self.last_hour(now) + self.in_flight;
        if spent < budget {
            return None;
        }
        for (minute, points) in &self.minutes {
            spent -= points;
            if spent < budget {
                // That minute leaves the hour when the hour starts after it.
                let leaves_at = (minute + 1) * MINUTE_SECS + HOUR_SECS;
                return Some((leaves_at - now.secs()).clamp(1, HOUR_SECS));
            }
        }
        Some(HOUR_SECS)
    }

    fn forget(&mut self, now: UnixTime) {
        let first = first_minute(now);
        while self.minutes.front().is_some_and(|(m, _)| *m < first) {
            self.minutes.pop_front();
        }
    }
}

/// The first minute still inside the hour up to `now`.
fn first_minute(now: UnixTime) -> i64 {
    (now.secs() - HOUR_SECS).div_euclid(MINUTE_SECS) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_800_000_000; // a whole minute

    #[test]
    fn under_its_budget_a_key_goes() {
        let mut budget = Budget::default();
        budget.spend(99.0, UnixTime(T));
        assert_eq!(budget.over(100, UnixTime(T)), None);
        assert_eq!(budget.last_hour(UnixTime(T + 10)), 99.0);
    }

    #[test]
    fn at_its_budget_a_key_waits_until_its_oldest_points_age_out() {
        let mut budget = Budget::default();
        budget.spend(60.0, UnixTime(T + 5));
        budget.spend(40.0, UnixTime(T + 600));
        // 100 of 100 spent: the 60 points of minute T leave the hour when
        // the hour no longer holds that minute, 3600 s after its end.
        let wait = budget.over(100, UnixTime(T + 900)).expect("over");
        assert_eq!(wait, T + 60 + 3_600 - (T + 900));
        assert_eq!(budget.over(100, UnixTime(T + 60 + 3_600)), None);
        assert_eq!(budget.last_hour(UnixTime(T + 60 + 3_600)), 40.0);
    }

    #[test]
    fn calls_in_flight_count_against_the_budget_until_answered() {
        let mut budget = Budget::default();
        budget.spend(4.0, UnixTime(T));
        let reserved: Vec<f64> = (0..3).map(|_| budget.reserve()).collect();
        assert_eq!(reserved, vec![4.0; 3], "the key's average cost");
        assert!(
            budget.over(16, UnixTime(T)).is_some(),
            "4 spent + 12 in flight"
        );
        for points in reserved {
            budget.release(points);
        }
        assert_eq!(budget.over(16, UnixTime(T)), None);
    }

    #[test]
    fn an_hour_later_everything_has_aged_out() {
        let mut budget = Budget::default();
        budget.spend(500.0, UnixTime(T));
        assert!(budget.over(10, UnixTime(T + 30)).is_some());
        assert_eq!(budget.over(10, UnixTime(T + 3_700)), None);
        assert_eq!(budget.last_hour(UnixTime(T + 3_700)), 0.0);
    }
}
