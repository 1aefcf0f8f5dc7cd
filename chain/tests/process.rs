//! Process-wide key hygiene, in its own test binary because it changes the process: core
//! dumps turned off, and a password variable taken out of the environment (checked in a
//! child process, whose environment block is the one `/proc/<pid>/environ` shows).

#![cfg(unix)]

use std::process::Command;

use regpow_chain::wallet::{protect_process, take_secret_env, WalletError};

#[cfg(target_os = "linux")]
fn dumpable() -> i32 {
    // SAFETY: PR_GET_DUMPABLE takes no pointer.
    unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) }
}

#[allow(clippy::unnecessary_cast)] // rlim_t is u64 on Linux but not on every unix
fn core_limit() -> (u64, u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 1,
        rlim_max: 1,
    };
    // SAFETY: getrlimit writes the struct it is given.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_CORE, &mut limit) }, 0);
    (limit.rlim_cur as u64, limit.rlim_max as u64)
}

#[test]
fn protect_process_turns_core_dumps_off() {
    #[cfg(target_os = "linux")]
    assert_eq!(dumpable(), 1, "a test process starts dumpable");
    protect_process().unwrap();
    #[cfg(target_os = "linux")]
    assert_eq!(dumpable(), 0);
    assert_eq!(core_limit(), (0, 0), "soft and hard limits are 0");
    // Idempotent.
    protect_process().unwrap();
}

const CHILD: &str = "REGPOW_TEST_SECRET_ENV_CHILD";
const SECRET: &str = "REGPOW_TEST_SECRET";
const BAD: &str = "REGPOW_TEST_SECRET_NOT_UTF8";
const VALUE: &str = "correct horse battery staple 8f3a1c";

#[test]
fn a_secret_is_taken_out_of_the_environment() {
    use std::os::unix::ffi::OsStrExt;
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "secret_env_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env(SECRET, VALUE)
        .env(BAD, std::ffi::OsStr::from_bytes(b"pass\xffword"))
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 passed"), "the child ran: {text}");
}

/// Run by `a_secret_is_taken_out_of_the_environment` in a child process.
#[test]
#[ignore = "run in a child process by a_secret_is_taken_out_of_the_environment"]
fn secret_env_child() {
    assert_eq!(
        std::env::var(CHILD).as_deref(),
        Ok("1"),
        "run as a child only"
    );
    #[cfg(target_os = "linux")]
    let environ = || std::fs::read("/proc/self/environ").unwrap();
    #[cfg(target_os = "linux")]
    assert!(
        contains(&environ(), VALUE.as_bytes()),
        "the value starts in the block"
    );

    let taken = take_secret_env(SECRET).unwrap().unwrap();
    assert_eq!(taken.as_str(), VALUE);
    assert!(std::env::var_os(SECRET).is_none(), "removed");
    #[cfg(target_os = "linux")]
    assert!(
        !contains(&environ(), VALUE.as_bytes()),
        "overwritten in the block"
    );
    assert!(take_secret_env(SECRET).unwrap().is_none());

    // Not UTF-8: an error naming the variable, and removed all the same.
    let err = take_secret_env(BAD).unwrap_err();
    assert!(
        matches!(&err, WalletError::NotUtf8 { name } if name == BAD),
        "{err}"
    );
    assert_eq!(err.to_string(), format!("{BAD} is not valid UTF-8"));
    assert!(std::env::var_os(BAD).is_none());
    #[cfg(target_os = "linux")]
    assert!(!contains(&environ(), b"pass\xffword"));
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
