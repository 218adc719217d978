//! The life of one anomaly condition for one rule and subject: it fires once the value has been
//! beyond the threshold for the hold time, and clears only once it has been back past the clear
//! margin for the clear time, so a value hovering around the threshold does not flap.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// What an update changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    None,
    Fired,
    Cleared,
}

#[derive(Debug, Clone, Default)]
pub struct Condition {
    active: bool,
    /// Since when the value has been beyond the threshold while inactive.
    pending_since: Option<DateTime<Utc>>,
    /// Since when the value has been back past the clear margin while active.
    clearing_since: Option<DateTime<Utc>>,
}

fn held(since: DateTime<Utc>, now: DateTime<Utc>, hold: Duration) -> bool {
    (now - since).to_std().unwrap_or(Duration::ZERO) >= hold
}

impl Condition {
    /// A condition that is already active (an anomaly replayed from the journal at start).
    pub fn active() -> Condition {
        Condition {
            active: true,
            ..Condition::default()
        }
    }

    pub fn is_active(&self) -> bool {
        self.active
    }

    /// `firing`: the value is beyond the threshold. `cleared`: the value is back past the clear
    /// margin (between the two is the hysteresis band, where nothing changes).
    pub fn update(
        &mut self,
        firing: bool,
        cleared: bool,
        now: DateTime<Utc>,
        hold: Duration,
        clear_hold: Duration,
    ) -> Change {
        if !self.active {
            if !firing {
                self.pending_since = None;
                return Change::None;
            }
            let since = *self.pending_since.get_or_insert(now);
            if held(since, now, hold) {
                self.active = true;
                self.pending_since = None;
                self.clearing_since = None;
                return Change::Fired;
            }
            Change::None
        } else {
            if !cleared {
                self.clearing_since = None;
                return Change::None;
            }
            let since = *self.clearing_since.get_or_insert(now);
            if held(since, now, clear_hold) {
                self.active = false;
                self.clearing_since = None;
                return Change::Cleared;
            }
            Change::None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_000_000 + s, 0).unwrap()
    }

    const HOLD: Duration = Duration::from_secs(4);

    #[test]
    fn fires_only_after_hold_and_clears_after_clear_hold() {
        let mut c = Condition::default();
        assert_eq!(c.update(true, false, t(0), HOLD, HOLD), Change::None);
        assert_eq!(c.update(true, false, t(2), HOLD, HOLD), Change::None);
        assert_eq!(c.update(true, false, t(4), HOLD, HOLD), Change::Fired);
        assert!(c.is_active());
        // In the hysteresis band: neither firing nor cleared, stays active.
        assert_eq!(c.update(false, false, t(6), HOLD, HOLD), Change::None);
        assert_eq!(c.update(false, true, t(8), HOLD, HOLD), Change::None);
        assert_eq!(c.update(false, true, t(12), HOLD, HOLD), Change::Cleared);
        assert!(!c.is_active());
    }

    #[test]
    fn interruption_restarts_the_hold() {
        let mut c = Condition::default();
        c.update(true, false, t(0), HOLD, HOLD);
        c.update(false, true, t(2), HOLD, HOLD);
        assert_eq!(c.update(true, false, t(4), HOLD, HOLD), Change::None);
        assert_eq!(c.update(true, false, t(8), HOLD, HOLD), Change::Fired);
        // A dip back into the band restarts the clear hold.
        c.update(false, true, t(10), HOLD, HOLD);
        c.update(false, false, t(12), HOLD, HOLD);
        assert_eq!(c.update(false, true, t(14), HOLD, HOLD), Change::None);
        assert_eq!(c.update(false, true, t(18), HOLD, HOLD), Change::Cleared);
    }

    #[test]
    fn zero_hold_fires_immediately() {
        let mut c = Condition::default();
        assert_eq!(
            c.update(true, false, t(0), Duration::ZERO, Duration::ZERO),
            Change::Fired
        );
        assert_eq!(
            c.update(false, true, t(1), Duration::ZERO, Duration::ZERO),
            Change::Cleared
        );
    }
}
