//! Printing results: JSON for machines, short text for people.

use serde::Serialize;

/// Prints `value` as one line of JSON on stdout.
pub fn json<T: Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string(value).expect("output types serialize")
    );
}

/// A hashrate for people: `6.51 M seals/s`.
pub fn rate(seals_per_second: f64) -> String {
    let (value, unit) = if seals_per_second >= 1e9 {
        (seals_per_second / 1e9, "G")
    } else if seals_per_second >= 1e6 {
        (seals_per_second / 1e6, "M")
    } else if seals_per_second >= 1e3 {
        (seals_per_second / 1e3, "k")
    } else {
        (seals_per_second, "")
    };
    format!("{value:.2} {unit} seals/s").replace("  ", " ")
}

/// A duration for people, to two units at most: `<1s`, `42s`, `3m 20s`, `5h 7m`, `12d 3h`,
/// `31 years`.
pub fn human_seconds(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "∞".into();
    }
    let s = seconds.round() as u64;
    match s {
        0 => "<1s".into(),
        1..60 => format!("{s}s"),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        3600..86_400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        86_400..31_557_600 => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
        _ => format!("{} years", s / 31_557_600),
    }
}

#[cfg(test)]
mod tests {
    use super::{human_seconds, rate};

    #[test]
    fn rates_read_well() {
        assert_eq!(rate(6_510_000.0), "6.51 M seals/s");
        assert_eq!(rate(2.7e9), "2.70 G seals/s");
        assert_eq!(rate(12.0), "12.00 seals/s");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human_seconds(0.2), "<1s");
        assert_eq!(human_seconds(42.0), "42s");
        assert_eq!(human_seconds(200.0), "3m 20s");
        assert_eq!(human_seconds(18_420.0), "5h 7m");
        assert_eq!(human_seconds(1_047_600.0), "12d 3h");
        assert_eq!(human_seconds(1e9), "31 years");
        assert_eq!(human_seconds(f64::INFINITY), "∞");
    }
}
