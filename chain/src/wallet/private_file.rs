//! Reading a file that holds a secret (a password file, a plan with a mnemonic): only a
//! regular file owned by the user running regpow, not readable or writable by anyone else,
//! opened without following a symlink, read into a buffer that is wiped when dropped.

use std::io::Read;
use std::path::Path;

use zeroize::Zeroizing;

use super::{unreadable, WalletError};

/// Reads `path`, which holds a secret, after checking on the opened file that it is a
/// regular file of at most `max_len` bytes, owned by this process's user, with no group or
/// world permission bits ([`WalletError::InsecurePermissions`] otherwise, unless
/// `allow_insecure`). The last path component must not be a symlink: another user who can
/// write the folder must not be able to point regpow at a file of their choosing.
pub fn read_private_file(
    path: &Path,
    max_len: u64,
    allow_insecure: bool,
) -> Result<Zeroizing<Vec<u8>>, WalletError> {
    let file = open_no_follow(path).map_err(|e| unreadable(path, e))?;
    let meta = file.metadata().map_err(|e| unreadable(path, e))?;
    if !meta.is_file() {
        return Err(WalletError::Unreadable {
            path: path.to_path_buf(),
            reason: "not a regular file".into(),
        });
    }
    check_private(path, &meta, allow_insecure)?;
    if meta.len() > max_len {
        return Err(WalletError::Corrupt(format!(
            "{}: larger than {max_len} bytes",
            path.display()
        )));
    }
    let mut data = Zeroizing::new(Vec::with_capacity(meta.len() as usize + 1));
    file.take(max_len + 1)
        .read_to_end(&mut data)
        .map_err(|e| unreadable(path, e))?;
    if data.len() as u64 > max_len {
        return Err(WalletError::Corrupt(format!(
            "{}: larger than {max_len} bytes",
            path.display()
        )));
    }
    Ok(data)
}

/// Refuses a file that others can read or write, or that another user owns.
pub fn check_private(
    path: &Path,
    meta: &std::fs::Metadata,
    allow_insecure: bool,
) -> Result<(), WalletError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let mode = meta.mode() & 0o777;
        if mode & 0o077 != 0 && !allow_insecure {
            return Err(WalletError::InsecurePermissions {
                path: path.to_path_buf(),
                mode,
            });
        }
        // SAFETY: geteuid takes no arguments and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me && !allow_insecure {
            return Err(WalletError::Unreadable {
                path: path.to_path_buf(),
                reason: format!("owned by uid {}, not by you (uid {me})", meta.uid()),
            });
        }
    }
    #[cfg(not(unix))]
    let _ = (path, meta, allow_insecure);
    Ok(())
}

fn open_no_follow(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    options.open(path)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("regpow-private-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn only_a_private_regular_file_is_read() {
        let dir = temp_dir("read");
        let file = dir.join("password");
        std::fs::write(&file, b"hunter2\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            &read_private_file(&file, 64, false).unwrap()[..],
            b"hunter2\n"
        );

        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(matches!(
            read_private_file(&file, 64, false),
            Err(WalletError::InsecurePermissions { mode: 0o640, .. })
        ));
        assert!(read_private_file(&file, 64, true).is_ok());
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();

        // A symlink to it is not followed; a FIFO or a folder is not a regular file.
        let link = dir.join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(read_private_file(&link, 64, false).is_err());
        assert!(read_private_file(&dir, 64, false).is_err());
        let fifo = dir.join("fifo");
        let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let err = read_private_file(&fifo, 64, false).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");

        // Bounded.
        assert!(read_private_file(&file, 4, false).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
