//! NVRTC: compiling `kernels/seal.cu` at run time for a device's own architecture.
//!
//! A CUBIN for the exact architecture (`sm_XY`) is loaded without the driver's PTX JIT, so a
//! driver older than NVRTC still loads it. Compiled images are cached in memory per
//! architecture, so several devices of one kind compile once.

use std::collections::HashMap;
use std::ffi::{c_char, CStr, CString};
use std::sync::{Mutex, OnceLock};

use cudarc::nvrtc::{result, sys};

use crate::backend::BackendError;

/// The kernel source, built into the binary.
pub const SEAL_CU: &str = include_str!("../../kernels/seal.cu");

/// A compiled kernel image and what NVRTC said about it.
#[derive(Clone, Debug)]
pub struct CompiledKernel {
    /// CUBIN (when `cubin`) or NUL-terminated PTX text.
    pub image: Vec<u8>,
    /// Whether `image` is a CUBIN.
    pub cubin: bool,
    /// NVRTC's log, including ptxas' register and spill report for CUBINs.
    pub log: String,
}

/// Whether NVRTC (libnvrtc.so.12 or older) can be loaded here.
pub fn nvrtc_present() -> bool {
    // SAFETY: only tries to dlopen the library.
    unsafe { sys::is_culib_present() }
}

/// NVRTC's version as (major, minor), if it can be loaded.
pub fn nvrtc_version() -> Option<(i32, i32)> {
    if !nvrtc_present() {
        return None;
    }
    let (mut major, mut minor) = (0, 0);
    // SAFETY: the library is present; the pointers are valid for the call.
    let rc = unsafe { sys::nvrtcVersion(&mut major, &mut minor) };
    (rc == sys::nvrtcResult::NVRTC_SUCCESS).then_some((major, minor))
}

/// Compiles seal.cu for compute capability `arch` (e.g. 90 for sm_90): a CUBIN when `cubin`,
/// else PTX for `compute_XY`. The options ask ptxas for its resource report (`-v`).
pub fn compile(arch: u32, cubin: bool) -> Result<CompiledKernel, BackendError> {
    if !nvrtc_present() {
        return Err(BackendError::Unavailable(
            "CUDA unavailable: NVRTC (libnvrtc.so.12) not found; install the CUDA toolkit or \
             `pip install nvidia-cuda-nvrtc-cu12` and add its lib folder to LD_LIBRARY_PATH"
                .into(),
        ));
    }
    let arch_flag = if cubin {
        format!("--gpu-architecture=sm_{arch}")
    } else {
        format!("--gpu-architecture=compute_{arch}")
    };
    let mut options = vec![arch_flag, "--std=c++17".into(), "-default-device".into()];
    if cubin {
        options.push("--ptxas-options=-v".into());
    }
    let source = CString::new(SEAL_CU).expect("no NUL in the kernel source");
    let name = CString::new("seal.cu").expect("no NUL");
    let fail = |what: &str, e: String| {
        BackendError::Unavailable(format!(
            "CUDA unavailable: NVRTC {} could not {what} seal.cu for sm_{arch}: {e}",
            nvrtc_version().map_or("(unknown version)".into(), |(a, b)| format!("{a}.{b}"))
        ))
    };
    let program =
        result::create_program(&source, Some(&name)).map_err(|e| fail("load", e.to_string()))?;
    // SAFETY: `program` comes from create_program and is destroyed once, below.
    let compiled = unsafe { result::compile_program(program, &options) };
    // SAFETY: as above.
    let log = unsafe { result::get_program_log(program) }
        .map(|raw| c_chars_to_string(&raw))
        .unwrap_or_default();
    let outcome = match compiled {
        Err(e) => Err(fail("compile", format!("{e}\n{log}"))),
        Ok(()) if cubin => read_cubin(program).map_err(|e| fail("emit", e)),
        Ok(()) => {
            // SAFETY: compiled successfully above.
            unsafe { result::get_ptx(program) }
                .map(|ptx| ptx.iter().map(|&c| c as u8).collect())
                .map_err(|e| fail("emit", e.to_string()))
        }
    };
    // SAFETY: created above, not destroyed before.
    let _ = unsafe { result::destroy_program(program) };
    outcome.map(|image| CompiledKernel { image, cubin, log })
}

fn read_cubin(program: sys::nvrtcProgram) -> Result<Vec<u8>, String> {
    let mut size = 0usize;
    // SAFETY: `program` compiled successfully; `size` is valid for the write.
    let rc = unsafe { sys::nvrtcGetCUBINSize(program, &mut size) };
    if rc != sys::nvrtcResult::NVRTC_SUCCESS || size == 0 {
        return Err(format!("no CUBIN ({rc:?})"));
    }
    let mut image = vec![0u8; size];
    // SAFETY: the buffer holds `size` bytes, as NVRTC asked.
    let rc = unsafe { sys::nvrtcGetCUBIN(program, image.as_mut_ptr().cast::<c_char>()) };
    if rc != sys::nvrtcResult::NVRTC_SUCCESS {
        return Err(format!("reading the CUBIN failed ({rc:?})"));
    }
    Ok(image)
}

fn c_chars_to_string(raw: &[c_char]) -> String {
    let bytes: Vec<u8> = raw.iter().map(|&c| c as u8).collect();
    CStr::from_bytes_until_nul(&bytes)
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned())
}

/// [`compile`] with two caches: in memory per (architecture, kind), so several devices of one
/// kind compile once, and CUBINs on disk (`$XDG_CACHE_HOME/regpow/cuda`, else
/// `~/.cache/regpow/cuda`), keyed by a hash of the source, the NVRTC version and the
/// architecture, so later runs start without the few seconds NVRTC takes.
pub fn compile_cached(arch: u32, cubin: bool) -> Result<CompiledKernel, BackendError> {
    static CACHE: OnceLock<Mutex<HashMap<(u32, bool), CompiledKernel>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&(arch, cubin))
    {
        return Ok(hit.clone());
    }
    let disk = cubin
        .then(|| disk_cache_path(arch))
        .flatten()
        .filter(|path| path.parent().is_some_and(disk_cache::private_dir));
    let from_disk = disk.as_ref().and_then(|path| {
        let image = disk_cache::read(path)?;
        let log = disk_cache::read(&path.with_extension("log"))
            .map(|log| String::from_utf8_lossy(&log).into_owned())
            .unwrap_or_default();
        image.starts_with(b"\x7fELF").then_some(CompiledKernel {
            image,
            cubin: true,
            log,
        })
    });
    let compiled = match from_disk {
        Some(hit) => hit,
        None => {
            let fresh = compile(arch, cubin)?;
            if let Some(path) = &disk {
                // Best effort: a read-only home only costs the next run a compile.
                disk_cache::write(&path.with_extension("log"), fresh.log.as_bytes());
                disk_cache::write(path, &fresh.image);
            }
            fresh
        }
    };
    cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert((arch, cubin), compiled.clone());
    Ok(compiled)
}

/// The on-disk kernel cache, safe against other local users: a CUBIN is loaded into the
/// process that holds the coldkey, so only files this user wrote are ever read. The folder
/// is created 0700 and used only when it (and its parent, `regpow`) is a real folder owned by
/// this user that nobody else can write; a file is read only when it is a regular file (not
/// a symlink) owned by this user with no group or world bits; files are written to a
/// temporary name at 0600 and renamed into place, so a reader never sees half a file. Any
/// failed check means a fresh compile, never an error.
mod disk_cache {
    use std::io::{Read, Write};
    use std::path::Path;

    /// Largest cache file read (a CUBIN of this kernel is tens of KiB).
    const MAX_FILE_LEN: u64 = 16 << 20;

    #[cfg(unix)]
    fn owned_and_private(meta: &std::fs::Metadata) -> bool {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid takes no arguments and cannot fail.
        meta.uid() == unsafe { libc::geteuid() } && meta.mode() & 0o077 == 0
    }

    /// Makes `dir` (0700) if missing; whether it and its parent are this user's alone.
    pub fn private_dir(dir: &Path) -> bool {
        #[cfg(unix)]
        {
            use std::os::unix::fs::{DirBuilderExt, MetadataExt};
            let _ = std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir);
            let is_private_dir = |path: &Path| {
                std::fs::symlink_metadata(path)
                    .is_ok_and(|meta| meta.is_dir() && owned_and_private(&meta))
            };
            // The parent may be shared read-only (0755), but not writable by others.
            let parent_ok = dir.parent().is_none_or(|parent| {
                std::fs::symlink_metadata(parent).is_ok_and(|meta| {
                    // SAFETY: geteuid takes no arguments and cannot fail.
                    meta.is_dir()
                        && meta.uid() == unsafe { libc::geteuid() }
                        && meta.mode() & 0o022 == 0
                })
            });
            is_private_dir(dir) && parent_ok
        }
        #[cfg(not(unix))]
        {
            let _ = dir;
            false
        }
    }

    /// The file's bytes, if it passes the checks.
    pub fn read(path: &Path) -> Option<Vec<u8>> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            let file = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                .open(path)
                .ok()?;
            let meta = file.metadata().ok()?;
            if !meta.is_file() || !owned_and_private(&meta) || meta.len() > MAX_FILE_LEN {
                return None;
            }
            let mut bytes = Vec::with_capacity(meta.len() as usize);
            file.take(MAX_FILE_LEN).read_to_end(&mut bytes).ok()?;
            Some(bytes)
        }
        #[cfg(not(unix))]
        {
            let _ = path;
            None
        }
    }

    /// Writes `bytes` to `path` through a private temporary file and a rename.
    pub fn write(path: &Path, bytes: &[u8]) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            let Some(name) = path.file_name() else {
                return;
            };
            let temporary = path.with_file_name(format!(
                ".{}.{}.tmp",
                name.to_string_lossy(),
                std::process::id()
            ));
            let written = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&temporary)
                .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()));
            if written.is_err() || std::fs::rename(&temporary, path).is_err() {
                let _ = std::fs::remove_file(&temporary);
            }
        }
        #[cfg(not(unix))]
        let _ = (path, bytes);
    }

    #[cfg(all(test, unix))]
    mod tests {
        use super::*;
        use std::os::unix::fs::PermissionsExt;

        #[test]
        fn only_this_users_private_files_in_a_private_folder_are_read() {
            let base = std::env::temp_dir().join(format!("regpow-kcache-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&base);
            std::fs::create_dir_all(&base).unwrap();
            std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755)).unwrap();
            let dir = base.join("cuda");
            assert!(private_dir(&dir));
            let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700);

            let file = dir.join("k.cubin");
            write(&file, b"\x7fELF kernel");
            assert_eq!(read(&file).as_deref(), Some(&b"\x7fELF kernel"[..]));
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            // Written again in place: the rename replaces it.
            write(&file, b"\x7fELF newer");
            assert_eq!(read(&file).as_deref(), Some(&b"\x7fELF newer"[..]));

            // A file others could have written, or a symlink, is not read.
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
            assert_eq!(read(&file), None);
            let elsewhere = base.join("planted");
            std::fs::write(&elsewhere, b"\x7fELF planted").unwrap();
            std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o600)).unwrap();
            let link = dir.join("link.cubin");
            std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
            assert_eq!(read(&link), None);

            // A folder others can write is not used; nor one that is a symlink.
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
            assert!(!private_dir(&dir));
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
            let linked_dir = base.join("linked");
            std::os::unix::fs::symlink(&dir, &linked_dir).unwrap();
            assert!(!private_dir(&linked_dir));
            std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o777)).unwrap();
            assert!(!private_dir(&dir), "a parent others can write");
            let _ = std::fs::remove_dir_all(&base);
        }
    }
}

fn disk_cache_path(arch: u32) -> Option<std::path::PathBuf> {
    use blake2::{Blake2b512, Digest};
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cache")))?;
    let (major, minor) = nvrtc_version()?;
    let digest = Blake2b512::new()
        .chain_update(SEAL_CU)
        .chain_update(format!("nvrtc {major}.{minor} sm_{arch}"))
        .finalize();
    let key = hex::encode(&digest[..12]);
    Some(
        base.join("regpow/cuda")
            .join(format!("seal-sm_{arch}-{key}.cubin")),
    )
}

/// What ptxas reported for one kernel (from the `-v` resource report in the NVRTC log).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ResourceUsage {
    /// Entry point name.
    pub kernel: String,
    /// Registers per thread.
    pub registers: u32,
    /// Stack frame (local memory) bytes per thread.
    pub stack_bytes: u32,
    /// Bytes spilled to local memory.
    pub spill_stores: u32,
    /// Bytes reloaded from spills.
    pub spill_loads: u32,
}

/// Parses ptxas' `-v` report, one entry per kernel.
pub fn resource_report(log: &str) -> Vec<ResourceUsage> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    let mut frame = [0u32; 3];
    for line in log.lines() {
        if let Some(rest) = line.split("Compiling entry function '").nth(1) {
            current = rest.split('\'').next().map(str::to_string);
            frame = [0; 3];
        } else if line.contains("bytes spill stores") {
            let numbers: Vec<u32> = line
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|t| t.parse().ok())
                .collect();
            if let [stack, stores, loads, ..] = numbers[..] {
                frame = [stack, stores, loads];
            }
        } else if let Some(rest) = line.split("Used ").nth(1) {
            if let (Some(kernel), Some(registers)) = (current.take(), rest.split(' ').next()) {
                out.push(ResourceUsage {
                    kernel,
                    registers: registers.parse().unwrap_or(0),
                    stack_bytes: frame[0],
                    spill_stores: frame[1],
                    spill_loads: frame[2],
                });
            }
        }
    }
    out
}
