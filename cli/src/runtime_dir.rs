//! A usable `XDG_RUNTIME_DIR` before any GPU driver is loaded.
//!
//! Mesa's Vulkan and EGL drivers open a Wayland connection while wgpu probes adapters, and
//! libwayland prints `error: XDG_RUNTIME_DIR is invalid or not set in the environment.` when
//! the variable is missing or not an absolute path: on servers, in containers and in ssh
//! sessions (most mining rigs) every command that probes GPUs would start with two lines that
//! read as errors but are driver noise. When the variable is unusable, regpow points it at a
//! private directory of its own (`$TMPDIR/regpow-runtime-UID`, mode 0700, owned by this
//! user); nothing is ever listening there, so the probe simply finds no display.

/// Sets `XDG_RUNTIME_DIR` to a private directory when it is unset or not an absolute path to
/// a directory. Must run before any other thread exists (it changes the environment). A
/// directory of that name that is not ours, or not private, is left alone (the driver's
/// message then shows, which is better than trusting another user's directory).
pub fn ensure() {
    #[cfg(unix)]
    {
        if let Some(current) = std::env::var_os("XDG_RUNTIME_DIR") {
            let path = std::path::Path::new(&current);
            if path.is_absolute() && path.is_dir() {
                return;
            }
        }
        if let Some(dir) = private_dir() {
            // The only thread: nothing reads the environment concurrently.
            std::env::set_var("XDG_RUNTIME_DIR", dir);
        }
    }
}

/// `$TMPDIR/regpow-runtime-UID`, created 0700 if missing; `None` unless it is a real
/// directory (not a link) owned by this user with no access for anyone else.
#[cfg(unix)]
fn private_dir() -> Option<std::path::PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};

    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    let dir = std::env::temp_dir().join(format!("regpow-runtime-{uid}"));
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(_) => return None,
    }
    let meta = std::fs::symlink_metadata(&dir).ok()?;
    let private = meta.file_type().is_dir() && meta.uid() == uid && meta.mode() & 0o077 == 0;
    (private && dir.is_absolute()).then_some(dir)
}
