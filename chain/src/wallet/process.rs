//! Process-wide protections for a secret key held in memory: no core dumps, and no
//! password left in the environment.

use zeroize::{Zeroize, Zeroizing};

use super::WalletError;

/// Keeps a secret key loaded in this process out of core dumps (and, on Linux, away from
/// other processes of the same user). Call it before a coldkey is decrypted or a secret
/// URI is derived: a crash afterwards must not write the key to disk.
///
/// On Unix it sets `RLIMIT_CORE` to 0 (soft and hard, so it cannot be raised again); on
/// Linux it also clears the dumpable flag (`prctl(PR_SET_DUMPABLE, 0)`), which stops core
/// dumps even through a `core_pattern` pipe and stops `ptrace` attach and reads of
/// `/proc/<pid>/mem` and `/proc/<pid>/environ` by other unprivileged processes. Elsewhere it
/// does nothing. It lasts for the rest of the process.
pub fn protect_process() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: setrlimit reads the struct it is given and nothing else.
        if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &none) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: PR_SET_DUMPABLE takes integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Takes a secret (a password) from the environment variable `name`: returns its value in
/// a buffer that is wiped when dropped, overwrites the value where the process keeps it
/// (on Unix, so `/proc/<pid>/environ` no longer shows it) and removes the variable, so
/// neither child processes nor later readers of the environment see it. `None` when the
/// variable is not set; a value that is not UTF-8 is removed too and is an error, never
/// silently ignored.
///
/// Call it before any other thread starts: the environment is process-global and is
/// modified here without the standard library's lock.
pub fn take_secret_env(name: &str) -> Result<Option<Zeroizing<String>>, WalletError> {
    let Some(value) = std::env::var_os(name) else {
        return Ok(None);
    };
    scrub_env_value(name);
    std::env::remove_var(name);
    match value.into_string() {
        Ok(text) => Ok(Some(Zeroizing::new(text))),
        Err(raw) => {
            #[cfg(unix)]
            drop(Zeroizing::new(std::os::unix::ffi::OsStringExt::into_vec(
                raw,
            )));
            #[cfg(not(unix))]
            drop(raw);
            Err(WalletError::NotUtf8 {
                name: name.to_string(),
            })
        }
    }
}

/// Overwrites the bytes of the variable's value in the process's environment block with
/// zeros (the block is what `/proc/<pid>/environ` shows, and `remove_var` only unlinks it).
fn scrub_env_value(name: &str) {
    #[cfg(unix)]
    {
        let Ok(name) = std::ffi::CString::new(name) else {
            return;
        };
        // SAFETY: getenv returns null or a pointer to the NUL-terminated value inside the
        // environment block, which is writable process memory; no other thread touches the
        // environment (documented precondition of `take_secret_env`), and the length is
        // taken before the bytes are overwritten.
        unsafe {
            let value = libc::getenv(name.as_ptr());
            if !value.is_null() {
                let len = libc::strlen(value);
                std::slice::from_raw_parts_mut(value.cast::<u8>(), len).zeroize();
            }
        }
    }
    #[cfg(not(unix))]
    let _ = name;
}
