//! Outcomes that are not success, each with its exit code.

use std::fmt;

/// Exit code: the goal was not achieved (no seal in time, seal invalid, chain refused).
pub const NOT_ACHIEVED: u8 = 1;
/// Exit code: the input cannot be used.
pub const BAD_INPUT: u8 = 2;
/// Exit code: what was asked for is not available on this machine.
pub const UNAVAILABLE: u8 = 3;

/// An error that knows which exit code it deserves.
#[derive(Debug)]
pub struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    /// Exit 1: the command ran but did not achieve its goal.
    pub fn not_achieved(message: impl Into<String>) -> Self {
        Self {
            code: NOT_ACHIEVED,
            message: message.into(),
        }
    }

    /// Exit 2: the input cannot be used.
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self {
            code: BAD_INPUT,
            message: message.into(),
        }
    }

    /// Exit 3: a backend, device or endpoint is not available here.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self {
            code: UNAVAILABLE,
            message: message.into(),
        }
    }

    /// The process exit code.
    pub fn code(&self) -> u8 {
        self.code
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}
