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
    let disk = cubin.then(|| disk_cache_path(arch)).flatten();
    let from_disk = disk.as_ref().and_then(|path| {
        let image = std::fs::read(path).ok()?;
        let log = std::fs::read_to_string(path.with_extension("log")).unwrap_or_default();
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
                if let Some(dir) = path.parent() {
                    let _ = std::fs::create_dir_all(dir);
                }
                let _ = std::fs::write(path.with_extension("log"), &fresh.log);
                let _ = std::fs::write(path, &fresh.image);
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
