//! Time as the policy engine sees it: Unix seconds passed in by the caller (the engine never
//! reads a clock), grace periods written as `30m`, `12h`, `14d`, `2w`, and conversions between
//! TOML date-times and Unix seconds. No time zone database: offsets come from the text.

/// A grace period or other span, in whole seconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: i64 = digits.parse().map_err(|_| format!("{text:?} is not a duration (use e.g. 30m, 12h, 14d, 2w)"))?;
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(format!("{text:?} is not a duration (use e.g. 30m, 12h, 14d, 2w)")),
    };
    n.checked_mul(factor)
        .filter(|s| *s <= 10 * 366 * 86_400)
        .ok_or_else(|| format!("{text:?} is longer than ten years"))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
}

/// Unix seconds of a TOML offset date-time (`2027-01-31T00:00:00Z`); local date-times and bare
/// dates are refused because their instant depends on where the evaluator runs.
pub fn datetime_to_unix(dt: &toml::value::Datetime) -> Result<i64, String> {
    let (Some(date), Some(time), Some(offset)) = (dt.date, dt.time, dt.offset) else {
        return Err(format!("{dt} needs a date, a time and an offset (e.g. 2027-01-31T00:00:00Z)"));
    };
    let days = days_from_civil(i64::from(date.year), i64::from(date.month), i64::from(date.day));
    let secs = days * 86_400
        + i64::from(time.hour) * 3_600
        + i64::from(time.minute) * 60
        + i64::from(time.second.unwrap_or(0));
    let offset_minutes = match offset {
        toml::value::Offset::Z => 0,
        toml::value::Offset::Custom { minutes } => i64::from(minutes),
        // Offsets the TOML crate may add later: refuse rather than guess.
        #[allow(unreachable_patterns)]
        _ => return Err(format!("{dt}: unsupported offset")),
    };
    Ok(secs - offset_minutes * 60)
}

/// `2027-01-31T00:00:00Z` for Unix seconds (UTC, whole seconds).
pub fn format_unix(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3_600, rem % 3_600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("14d"), Ok(14 * 86_400));
        assert_eq!(parse_duration("30m"), Ok(1_800));
        assert_eq!(parse_duration("2w"), Ok(1_209_600));
        assert!(parse_duration("14 days").is_err());
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("99999999999w").is_err());
    }

    #[test]
    fn datetimes_round_trip() {
        let dt: toml::value::Datetime = "2027-01-31T12:30:05Z".parse().unwrap();
        let unix = datetime_to_unix(&dt).unwrap();
        assert_eq!(unix, 1_801_398_605);
        assert_eq!(format_unix(unix), "2027-01-31T12:30:05Z");
        let shifted: toml::value::Datetime = "2027-01-31T14:30:05+02:00".parse().unwrap();
        assert_eq!(datetime_to_unix(&shifted).unwrap(), unix);
        assert_eq!(format_unix(0), "1970-01-01T00:00:00Z");
        let local: toml::value::Datetime = "2027-01-31T12:30:05".parse().unwrap();
        assert!(datetime_to_unix(&local).is_err());
    }
}
