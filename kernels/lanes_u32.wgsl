// Keccak lanes as (lo, hi) pairs of u32: runs on every adapter (WGSL has no u64 by default).
// Prepended to seal.wgsl by the host when the adapter lacks SHADER_INT64.

alias Lane = vec2<u32>;

fn lane(lo: u32, hi: u32) -> Lane {
    return Lane(lo, hi);
}

fn lane_lo(v: Lane) -> u32 {
    return v.x;
}

fn lane_hi(v: Lane) -> u32 {
    return v.y;
}

// 64-bit rotate left by n in 1..63 except 32 (Keccak's offsets never use 0 or 32 here).
// n is a constant at every call site, so the branch folds away after inlining.
fn rotl(v: Lane, n: u32) -> Lane {
    if (n < 32u) {
        return Lane((v.x << n) | (v.y >> (32u - n)), (v.y << n) | (v.x >> (32u - n)));
    }
    let m = n - 32u;
    return Lane((v.y << m) | (v.x >> (32u - m)), (v.x << m) | (v.y >> (32u - m)));
}
