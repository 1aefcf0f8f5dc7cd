//! Benchmarks live in `cpu_backend.rs`; this crate has no library code.
