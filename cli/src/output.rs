//! Printing results: JSON for machines, short text for people.
//!
//! Everything goes through [`line`] (stdout) and [`note`] (stderr), never `println!`: those
//! panic when the reader has gone (`regpow devnet --json | head -1`), and a panic is exit 101
//! with a backtrace. Here a closed stdout is remembered ([`stdout_closed`]) and the rest of
//! the output is discarded, so a command ends as it would have (a streaming command such as
//! `devnet` stops with exit 0), and a closed stderr is ignored.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

/// Set once a write to stdout failed: the reader has gone.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Prints `value` as one line of JSON on stdout.
pub fn json<T: Serialize>(value: &T) {
    line(&serde_json::to_string(value).expect("output types serialize"));
}

/// Prints one line on stdout. When stdout is closed (a broken pipe, a full disk) the line
/// is dropped, [`stdout_closed`] turns true and stdout is pointed at the null device, so any
/// later write to it succeeds unseen instead of panicking.
pub fn line(text: &str) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.write_all(b"\n"))
        .and_then(|()| stdout.flush());
    if written.is_err() {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        silence_stdout();
    }
}

/// Prints one line on stderr; a closed stderr is ignored (there is nobody left to tell).
pub fn note(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr
        .write_all(text.as_bytes())
        .and_then(|()| stderr.write_all(b"\n"));
}

/// Whether the reader of stdout has gone: a command that only streams output can stop.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

/// Points file descriptor 1 at the null device, so that output from code that still uses
/// `println!` cannot panic on the closed pipe.
fn silence_stdout() {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
            // SAFETY: dup2 on two valid descriptors; fd 1 is replaced atomically and `null`
            // is closed when dropped, fd 1 keeping its own reference to the device.
            unsafe {
                libc::dup2(null.as_raw_fd(), libc::STDOUT_FILENO);
            }
        }
    }
}

/// `println!` that cannot panic: formats and prints through [`line`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::line(&format!($($arg)*))
    };
}

/// `eprintln!` that cannot panic: formats and prints through [`note`].
macro_rules! err {
    ($($arg:tt)*) => {
        $crate::output::note(&format!($($arg)*))
    };
}

pub(crate) use {err, out};

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
