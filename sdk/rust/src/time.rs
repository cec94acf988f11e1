//! RFC 3339 timestamps to milliseconds since the epoch, with no dependencies,
//! so that plugins stay small and need no clock.

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff...](Z|±HH:MM)` into milliseconds since the
/// Unix epoch. Returns `None` for anything else.
pub fn parse_rfc3339_millis(s: &str) -> Option<i64> {
    // Bytes and digit arithmetic only: no `str::parse`, no allocation. A
    // transform parses a timestamp or two per record, and in a Wasm guest
    // the generic integer parser was a tenth of flatten's time.
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let (hour, minute, second) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &b[19..];
    let mut millis = 0i64;
    if let Some((b'.', frac)) = rest.split_first() {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        // Keep millisecond precision: pad or truncate to three digits.
        millis = frac[..n.min(3)]
            .iter()
            .chain(b"00")
            .take(3)
            .fold(0, |ms, c| ms * 10 + i64::from(c - b'0'));
        rest = &frac[n..];
    }
    let offset_minutes = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (h, m) = (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?);
            if *sign == b'-' {
                -(h * 60 + m)
            } else {
                h * 60 + m
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    Some(secs * 1_000 + millis)
}

/// The number written by ASCII digits `b`, or none if one is not a digit.
fn digits(b: &[u8]) -> Option<i64> {
    b.iter().try_fold(0i64, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_randomuser_dates() {
        assert_eq!(parse_rfc3339_millis("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_millis("1993-07-20T09:44:18.674Z"),
            Some(743_161_458_674)
        );
        assert_eq!(
            parse_rfc3339_millis("2000-02-29T12:00:00.5+01:00"),
            Some(951_822_000_500)
        );
        assert_eq!(
            parse_rfc3339_millis("1960-01-01T00:00:00Z"),
            Some(-315_619_200_000)
        );
        // More than three fraction digits are cut, fewer padded; offsets count.
        assert_eq!(
            parse_rfc3339_millis("1993-07-20T09:44:18.6749Z"),
            Some(743_161_458_674)
        );
        assert_eq!(
            parse_rfc3339_millis("1993-07-20T09:44:18.67-02:30"),
            Some(743_161_458_670 + 9_000_000)
        );
        assert_eq!(
            parse_rfc3339_millis("1993-07-20 09:44:18z"),
            Some(743_161_458_000)
        );
    }

    #[test]
    fn refuses_garbage() {
        for bad in [
            "",
            "1993-07-20",
            "1993-13-20T09:44:18Z",
            "1993-07-20T09:44:18",
            "x993-07-20T09:44:18Z",
            "1993-07-20T09:44:18.Z",
            "1993-07-20T09:44:18+1:000",
            "1993-07-20T09:44:18+01-00",
            "1993-07-20T09:44:18.674",
            "1993-07-2xT09:44:18Z",
            "1993-07-20T09:44:18Zz",
        ] {
            assert_eq!(parse_rfc3339_millis(bad), None, "{bad}");
        }
    }
}
