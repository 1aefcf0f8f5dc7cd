// Keccak lanes as native u64: used when the adapter offers SHADER_INT64 (e.g. lavapipe,
// most desktop Vulkan drivers). Same interface as lanes_u32.wgsl.

alias Lane = u64;

fn lane(lo: u32, hi: u32) -> Lane {
    return u64(lo) | (u64(hi) << 32u);
}

fn lane_lo(v: Lane) -> u32 {
    return u32(v & 0xfffffffflu);
}

fn lane_hi(v: Lane) -> u32 {
    return u32(v >> 32u);
}

// 64-bit rotate left by n in 1..63.
fn rotl(v: Lane, n: u32) -> Lane {
    return (v << n) | (v >> (64u - n));
}
