//! The control plane's one set of time helpers, all over unix seconds in UTC: RFC 3339 for JSON,
//! exports, webhooks and the CLI; `YYYY-MM-DD HH:MM UTC`, relative ("3 min ago") and short chart
//! dates for pages; and the end of a `YYYY-MM-DD` day for forms. Reading the clock stays in
//! [`crate::state::unix_now`]; this module only formats and parses.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// RFC 3339 UTC time of unix seconds (`1970-01-01T00:00:00Z` when out of range).
pub fn rfc3339(unix: i64) -> String {
    let at = OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    at.format(&Rfc3339).unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

/// `YYYY-MM-DD HH:MM UTC`, or the raw number when out of range.
pub fn utc_text(at: i64) -> String {
    match OffsetDateTime::from_unix_timestamp(at) {
        Ok(t) => {
            format!("{:04}-{:02}-{:02} {:02}:{:02} UTC", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute())
        }
        Err(_) => at.to_string(),
    }
}

/// [`utc_text`], or `never`.
pub fn utc_or_never(at: Option<i64>) -> String {
    at.map_or_else(|| "never".to_string(), utc_text)
}

/// "just now", "3 min ago", "5 h ago", "4 days ago"; future times (clock skew) are "just now".
pub fn ago_text(at: i64, now: i64) -> String {
    let seconds = now.saturating_sub(at);
    match seconds {
        i64::MIN..60 => "just now".to_string(),
        60..3_600 => format!("{} min ago", seconds / 60),
        3_600..86_400 => format!("{} h ago", seconds / 3_600),
        86_400..172_800 => "yesterday".to_string(),
        _ => format!("{} days ago", seconds / 86_400),
    }
}

/// How long from `since` to `now`: "under a minute", "12 min", "5 h", "1 day", "4 days".
pub fn waited_text(since: i64, now: i64) -> String {
    let seconds = now.saturating_sub(since);
    match seconds {
        i64::MIN..60 => "under a minute".to_string(),
        60..3_600 => format!("{} min", seconds / 60),
        3_600..86_400 => format!("{} h", seconds / 3_600),
        86_400..172_800 => "1 day".to_string(),
        _ => format!("{} days", seconds / 86_400),
    }
}

/// `MMM D` for chart axes.
pub fn short_date(at: i64) -> String {
    match OffsetDateTime::from_unix_timestamp(at) {
        Ok(t) => {
            let month = format!("{}", t.month());
            format!("{} {}", &month[..3.min(month.len())], t.day())
        }
        Err(_) => at.to_string(),
    }
}

/// Unix seconds of the end of a `YYYY-MM-DD` day (UTC): a waiver "until" a date holds through it.
pub fn end_of_day(date: &str) -> Option<i64> {
    start_of_day(date).map(|start| start + 86_400)
}

/// Unix seconds of the start of a `YYYY-MM-DD` day (UTC).
pub fn start_of_day(date: &str) -> Option<i64> {
    let mut parts = date.trim().splitn(3, '-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    let month = time::Month::try_from(month).ok()?;
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp())
}

/// `YYYY-MM-DD` of unix seconds (UTC), for date fields.
pub fn iso_date(at: i64) -> String {
    match OffsetDateTime::from_unix_timestamp(at) {
        Ok(t) => format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()),
        Err(_) => "1970-01-01".to_string(),
    }
}

/// The start of the UTC day holding `at`.
pub fn day_start(at: i64) -> i64 {
    at - at.rem_euclid(86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_dates_are_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_800_000_000), "2027-01-15T08:00:00Z");
        assert_eq!(utc_or_never(Some(0)), "1970-01-01 00:00 UTC");
        assert_eq!(utc_or_never(None), "never");
        assert_eq!(utc_text(1_800_000_000), "2027-01-15 08:00 UTC");
        assert_eq!(short_date(1_800_000_000), "Jan 15");
        assert_eq!(end_of_day("1970-01-02"), Some(2 * 86_400));
        assert_eq!(start_of_day("1970-01-02"), Some(86_400));
        assert_eq!(iso_date(1_800_000_000), "2027-01-15");
        assert_eq!(day_start(1_800_000_000), start_of_day("2027-01-15").unwrap());
        for bad in ["", "2026-13-01", "2026-02-30", "tomorrow", "2026-1"] {
            assert_eq!(end_of_day(bad), None, "{bad}");
        }
    }

    #[test]
    fn relative_times_read_naturally() {
        assert_eq!(ago_text(1000, 1030), "just now");
        assert_eq!(ago_text(1000, 900), "just now");
        assert_eq!(ago_text(0, 180), "3 min ago");
        assert_eq!(ago_text(0, 7_300), "2 h ago");
        assert_eq!(ago_text(0, 90_000), "yesterday");
        assert_eq!(ago_text(0, 86_400 * 9), "9 days ago");
    }
}
