//! When the tray app shows a notification: a pure state machine over findings and injected
//! time, so rate limits, de-duplication, snoozes, quiet hours and the daily digest are tested
//! without a desktop or a clock.
//!
//! Rules: only high and critical findings notify; each finding (by its key from the agent)
//! notifies once; at most `max_per_hour` notifications in any rolling hour, with the overflow
//! folded into one summary; while paused, snoozed, in quiet hours or (with the digest on) before
//! the digest hour, new findings wait and come out together as one summary; a finding fixed
//! while it waits is dropped; a snoozed finding waits until its snooze ends and then notifies
//! once more if it is still there. Nothing here shows anything: callers get [`Notice`]s.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime, Time};

/// The user's notification settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifySettings {
    /// Notifications in any rolling hour (the last one may be a summary).
    pub max_per_hour: u32,
    /// Local hours `[start, end)` without notifications, e.g. `(22, 8)`; `None` for none.
    pub quiet_hours: Option<(u8, u8)>,
    /// Collect everything into one daily digest instead of notifying at once.
    pub daily_digest: bool,
    /// Local hour of the digest.
    pub digest_hour: u8,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings { max_per_hour: 3, quiet_hours: None, daily_digest: false, digest_hour: 9 }
    }
}

/// A finding that may deserve a notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The agent's stable key for the finding.
    pub key: String,
    /// High or critical (others never notify).
    pub urgent: bool,
    pub title: String,
    pub body: String,
}

/// A notification to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub title: String,
    pub body: String,
    /// The findings it covers.
    pub keys: Vec<String>,
}

/// The notification state between status updates.
#[derive(Debug)]
pub struct Notifier {
    settings: NotifySettings,
    /// Keys already notified (or covered by a summary): never again, unless snoozed and back.
    notified: BTreeSet<String>,
    /// Waiting to be shown, by key.
    waiting: BTreeMap<String, Candidate>,
    sent: VecDeque<OffsetDateTime>,
    paused: bool,
    snoozed_until: Option<OffsetDateTime>,
    snoozed_keys: BTreeMap<String, OffsetDateTime>,
    last_digest_day: Option<time::Date>,
}

impl Notifier {
    pub fn new(settings: NotifySettings) -> Notifier {
        Notifier {
            settings,
            notified: BTreeSet::new(),
            waiting: BTreeMap::new(),
            sent: VecDeque::new(),
            paused: false,
            snoozed_until: None,
            snoozed_keys: BTreeMap::new(),
            last_digest_day: None,
        }
    }

    pub fn settings(&self) -> &NotifySettings {
        &self.settings
    }

    pub fn set_settings(&mut self, settings: NotifySettings) {
        self.settings = settings;
    }

    pub fn is_paused(&self) -> bool {
        self.paused
    }

    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
    }

    /// Silences every notification until `until` (what waits comes out then, as one summary).
    pub fn snooze_all(&mut self, until: OffsetDateTime) {
        self.snoozed_until = Some(until);
    }

    pub fn snoozed_until(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        self.snoozed_until.filter(|u| *u > now)
    }

    /// Silences one finding until `until`; if it is still there then, it notifies once more.
    pub fn snooze_finding(&mut self, key: &str, until: OffsetDateTime) {
        self.snoozed_keys.insert(key.to_string(), until);
        self.notified.remove(key);
    }

    /// The findings the agent reports now; returns what to show now.
    pub fn observe(&mut self, now: OffsetDateTime, findings: &[Candidate]) -> Vec<Notice> {
        let present: BTreeSet<&str> = findings.iter().map(|c| c.key.as_str()).collect();
        // Fixed while waiting: nothing to say any more.
        self.waiting.retain(|k, _| present.contains(k.as_str()));
        for c in findings.iter().filter(|c| c.urgent) {
            if !self.notified.contains(&c.key) {
                self.waiting.entry(c.key.clone()).or_insert_with(|| c.clone());
            }
        }
        self.release(now)
    }

    /// Time passed (a timer fired): returns what may be shown now.
    pub fn tick(&mut self, now: OffsetDateTime) -> Vec<Notice> {
        self.release(now)
    }

    /// The next time [`Notifier::tick`] could release something (for the caller's timer).
    pub fn next_wakeup(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        if self.waiting.is_empty() || self.paused {
            return None;
        }
        let mut at: Vec<OffsetDateTime> = Vec::new();
        at.extend(self.snoozed_until(now));
        at.extend(self.snoozed_keys.values().copied().filter(|u| *u > now));
        if let Some(first) = self.sent.front() {
            at.push(*first + Duration::HOUR);
        }
        if let Some((_, end)) = self.settings.quiet_hours {
            at.push(next_local_hour(now, end));
        }
        if self.settings.daily_digest {
            at.push(next_local_hour(now, self.settings.digest_hour));
        }
        at.into_iter().filter(|t| *t > now).min()
    }

    fn blocked(&self, now: OffsetDateTime) -> bool {
        if self.paused || self.snoozed_until(now).is_some() {
            return true;
        }
        if let Some((start, end)) = self.settings.quiet_hours
            && in_hours(now.hour(), start, end)
        {
            return true;
        }
        if self.settings.daily_digest {
            let due = now.hour() >= self.settings.digest_hour && self.last_digest_day != Some(now.date());
            return !due;
        }
        false
    }

    fn release(&mut self, now: OffsetDateTime) -> Vec<Notice> {
        self.snoozed_keys.retain(|_, until| *until > now);
        while self.sent.front().is_some_and(|t| *t + Duration::HOUR <= now) {
            self.sent.pop_front();
        }
        if self.blocked(now) {
            return Vec::new();
        }
        let ready: Vec<Candidate> =
            self.waiting.values().filter(|c| !self.snoozed_keys.contains_key(&c.key)).cloned().collect();
        if ready.is_empty() {
            return Vec::new();
        }
        let budget = (self.settings.max_per_hour as usize).saturating_sub(self.sent.len());
        if budget == 0 {
            return Vec::new();
        }
        let notices = if self.settings.daily_digest {
            self.last_digest_day = Some(now.date());
            vec![summary("Muster daily digest", &ready)]
        } else if ready.len() <= budget {
            ready
                .iter()
                .map(|c| Notice { title: c.title.clone(), body: c.body.clone(), keys: vec![c.key.clone()] })
                .collect()
        } else {
            // Individually while the budget lasts, the rest in one summary as the last one.
            let (single, rest) = ready.split_at(budget - 1);
            let mut out: Vec<Notice> = single
                .iter()
                .map(|c| Notice { title: c.title.clone(), body: c.body.clone(), keys: vec![c.key.clone()] })
                .collect();
            out.push(summary("New findings on your MCP servers", rest));
            out
        };
        for n in &notices {
            self.sent.push_back(now);
            for k in &n.keys {
                self.waiting.remove(k);
                self.notified.insert(k.clone());
            }
        }
        notices
    }
}

fn summary(title: &str, items: &[Candidate]) -> Notice {
    let mut body = format!("{} finding(s) need your attention", items.len());
    for c in items.iter().take(3) {
        body.push_str("\n• ");
        body.push_str(&c.title);
    }
    if items.len() > 3 {
        body.push_str("\n…");
    }
    Notice { title: title.to_string(), body, keys: items.iter().map(|c| c.key.clone()).collect() }
}

/// Whether `hour` is in `[start, end)`, wrapping over midnight.
fn in_hours(hour: u8, start: u8, end: u8) -> bool {
    if start <= end { (start..end).contains(&hour) } else { hour >= start || hour < end }
}

/// The next time (after `now`) the local clock shows `hour`:00.
pub fn next_local_hour(now: OffsetDateTime, hour: u8) -> OffsetDateTime {
    let at = Time::from_hms(hour.min(23), 0, 0).unwrap_or(Time::MIDNIGHT);
    let today = now.replace_time(at);
    if today > now { today } else { today + Duration::DAY }
}

/// Tomorrow at 08:00 local time ("snooze until tomorrow").
pub fn tomorrow_morning(now: OffsetDateTime) -> OffsetDateTime {
    let at = Time::from_hms(8, 0, 0).unwrap_or(Time::MIDNIGHT);
    (now + Duration::DAY).replace_time(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn urgent(key: &str) -> Candidate {
        Candidate { key: key.into(), urgent: true, title: format!("title {key}"), body: format!("body {key}") }
    }

    fn keys(n: &[Notice]) -> Vec<Vec<String>> {
        n.iter().map(|n| n.keys.clone()).collect()
    }

    const T0: OffsetDateTime = datetime!(2026-12-07 10:00 UTC);

    #[test]
    fn a_finding_notifies_once_and_only_if_urgent() {
        let mut n = Notifier::new(NotifySettings::default());
        let quiet = Candidate { urgent: false, ..urgent("low") };
        assert_eq!(keys(&n.observe(T0, &[urgent("a"), quiet.clone()])), [vec!["a".to_string()]]);
        assert!(n.observe(T0 + Duration::minutes(1), &[urgent("a"), quiet]).is_empty(), "de-duplicated");
    }

    #[test]
    fn the_rate_limit_folds_the_overflow_into_a_summary_and_holds_the_rest() {
        let mut n = Notifier::new(NotifySettings { max_per_hour: 2, ..Default::default() });
        let shown = n.observe(T0, &[urgent("a"), urgent("b"), urgent("c")]);
        assert_eq!(keys(&shown), [vec!["a".to_string()], vec!["b".to_string(), "c".to_string()]]);
        assert!(shown[1].body.starts_with("2 finding(s)"));
        // The hour's budget is spent: a new one waits...
        let all = [urgent("a"), urgent("b"), urgent("c"), urgent("d")];
        assert!(n.observe(T0 + Duration::minutes(10), &all).is_empty());
        assert_eq!(n.next_wakeup(T0 + Duration::minutes(10)), Some(T0 + Duration::HOUR));
        // ...until the window slides.
        assert!(n.tick(T0 + Duration::minutes(59)).is_empty());
        assert_eq!(keys(&n.tick(T0 + Duration::HOUR)), [vec!["d".to_string()]]);
    }

    #[test]
    fn snooze_all_holds_everything_and_releases_one_summary_after() {
        let mut n = Notifier::new(NotifySettings::default());
        n.snooze_all(T0 + Duration::HOUR);
        assert!(n.observe(T0, &[urgent("a"), urgent("b")]).is_empty());
        // "b" was fixed during the snooze: it is not announced.
        assert!(n.observe(T0 + Duration::minutes(30), &[urgent("a")]).is_empty());
        assert_eq!(n.next_wakeup(T0 + Duration::minutes(30)), Some(T0 + Duration::HOUR));
        assert_eq!(keys(&n.tick(T0 + Duration::HOUR)), [vec!["a".to_string()]]);
    }

    #[test]
    fn pause_holds_until_resumed() {
        let mut n = Notifier::new(NotifySettings::default());
        n.set_paused(true);
        assert!(n.observe(T0, &[urgent("a")]).is_empty());
        assert_eq!(n.next_wakeup(T0), None);
        n.set_paused(false);
        assert_eq!(keys(&n.tick(T0 + Duration::minutes(5))), [vec!["a".to_string()]]);
    }

    #[test]
    fn quiet_hours_wrap_over_midnight() {
        let mut n = Notifier::new(NotifySettings { quiet_hours: Some((22, 8)), ..Default::default() });
        let night = datetime!(2026-12-07 23:30 UTC);
        assert!(n.observe(night, &[urgent("a")]).is_empty());
        assert_eq!(n.next_wakeup(night), Some(datetime!(2026-12-08 08:00 UTC)));
        assert!(n.tick(datetime!(2026-12-08 07:59 UTC)).is_empty());
        assert_eq!(keys(&n.tick(datetime!(2026-12-08 08:00 UTC))), [vec!["a".to_string()]]);
    }

    #[test]
    fn the_daily_digest_collects_into_one_notice_a_day() {
        let mut n = Notifier::new(NotifySettings { daily_digest: true, digest_hour: 9, ..Default::default() });
        let early = datetime!(2026-12-07 08:00 UTC);
        assert!(n.observe(early, &[urgent("a"), urgent("b")]).is_empty());
        assert_eq!(n.next_wakeup(early), Some(datetime!(2026-12-07 09:00 UTC)));
        let digest = n.tick(datetime!(2026-12-07 09:00 UTC));
        assert_eq!(digest.len(), 1);
        assert_eq!(digest[0].title, "Muster daily digest");
        assert_eq!(digest[0].keys, ["a", "b"]);
        // A later finding the same day waits for tomorrow's digest.
        assert!(n.observe(datetime!(2026-12-07 15:00 UTC), &[urgent("a"), urgent("c")]).is_empty());
        assert_eq!(keys(&n.tick(datetime!(2026-12-08 09:00 UTC))), [vec!["c".to_string()]]);
    }

    #[test]
    fn a_snoozed_finding_waits_for_its_snooze_and_others_do_not() {
        let mut n = Notifier::new(NotifySettings::default());
        n.snooze_finding("a", T0 + Duration::HOUR);
        assert_eq!(keys(&n.observe(T0, &[urgent("a"), urgent("b")])), [vec!["b".to_string()]]);
        assert_eq!(n.next_wakeup(T0), Some(T0 + Duration::HOUR));
        assert_eq!(keys(&n.tick(T0 + Duration::HOUR)), [vec!["a".to_string()]]);
    }

    #[test]
    fn snoozing_an_announced_finding_reminds_once_when_the_snooze_ends() {
        let mut n = Notifier::new(NotifySettings::default());
        assert_eq!(n.observe(T0, &[urgent("a")]).len(), 1);
        n.snooze_finding("a", T0 + Duration::HOUR);
        assert!(n.observe(T0 + Duration::minutes(5), &[urgent("a")]).is_empty());
        assert_eq!(keys(&n.observe(T0 + Duration::HOUR, &[urgent("a")])), [vec!["a".to_string()]]);
        assert!(n.observe(T0 + Duration::hours(2), &[urgent("a")]).is_empty(), "once");
    }

    #[test]
    fn tomorrow_morning_is_eight_the_next_day() {
        assert_eq!(tomorrow_morning(datetime!(2026-12-07 23:30 UTC)), datetime!(2026-12-08 08:00 UTC));
    }
}
