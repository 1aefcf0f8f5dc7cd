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

#[cfg(test)]
mod tests {
    use super::rate;

    #[test]
    fn rates_read_well() {
        assert_eq!(rate(6_510_000.0), "6.51 M seals/s");
        assert_eq!(rate(2.7e9), "2.70 G seals/s");
        assert_eq!(rate(12.0), "12.00 seals/s");
    }
}
