// regpow seal search for wgpu (Vulkan, Metal, DX12).
//
// Spec (docs/SPEC.md, "The seal" and "Where the work goes"):
//   message = prefix (123 bytes) ‖ nonce as u64 little-endian      → 131 bytes, 3 SHA-256 blocks
//   seal    = keccak256(sha256(message))                            (original Keccak, pad 0x01)
//   valid  iff seal read little-endian ≤ (2^256 − 1) / difficulty
//
// Split of the work between host and GPU:
//   host: block 1 (prefix bytes 0–63) → `midstate`; block 2's constant words W0–W13 and the
//         state after its first 14 rounds (which use only W0–W13) → `state14`.
//   GPU:  per nonce, block 2's rounds 14–63 (W14 and W15 carry nonce bytes 0–4), block 3
//         (nonce bytes 5–7, 0x80, bit length 1048), then one Keccak-f[1600] with an early
//         reject on lane 3, the seal's most significant 64 bits.
//
// The Lane type and rotl() come from lanes_u32.wgsl or lanes_u64.wgsl, prepended by the host.

struct Params {
    midstate: array<vec4<u32>, 2>,  // SHA-256 state after block 1
    state14: array<vec4<u32>, 2>,   // state after rounds 0–13 of block 2
    block2: array<vec4<u32>, 4>,    // block 2 as big-endian words, nonce bytes zero
    base_lo: u32,                   // first nonce of this dispatch
    base_hi: u32,
    count: u32,                     // nonces in this dispatch
    nonces_per_thread: u32,
    target_lo: u32,                 // target limb 3 (most significant 64 bits)
    target_hi: u32,
    groups_x: u32,                  // workgroups per row of the 2D dispatch
    capacity: u32,                  // slots in results.nonces
}

struct Results {
    found: atomic<u32>,             // candidates seen (may exceed capacity)
    pad0: u32,                      // (so that nonces start at byte 16)
    pad1: u32,
    pad2: u32,
    nonces: array<vec2<u32>>,       // (lo, hi) of each candidate, first `capacity` kept
}

// A storage buffer, not a uniform one: lavapipe (Mesa's software Vulkan driver) folds uniform
// values that steer control flow (count, nonces_per_thread, the target) into the shader and
// recompiles it with LLVM for every new set of values, which cost 10–15 ms per dispatch.
@group(0) @binding(0) var<storage, read> params: Params;
@group(0) @binding(1) var<storage, read_write> results: Results;

const WORKGROUP_SIZE: u32 = 64u;

// ---------------------------------------------------------------- SHA-256 (FIPS 180-4)

// Round constants live in a uniform buffer (`consts`, filled once by the host): indexing a
// WGSL `const` array with a run-time index makes some compilers (naga → SPIR-V) copy the
// whole array into private memory at every use, which measured 4x slower on lavapipe.
struct Constants {
    k: array<vec4<u32>, 16>,        // SHA-256 K[0..64], four per vec4
    rc: array<vec4<u32>, 12>,       // Keccak iota constants as (lo, hi), two per vec4
}

@group(0) @binding(3) var<uniform> consts: Constants;

fn k_at(i: u32) -> u32 {
    return consts.k[i >> 2u][i & 3u];
}

fn rc_at(r: u32) -> vec2<u32> {
    let v = consts.rc[r >> 1u];
    return select(v.xy, v.zw, (r & 1u) == 1u);
}

fn rotr(x: u32, n: u32) -> u32 {
    return (x >> n) | (x << (32u - n));
}

// One round; the eight working variables live in an array indexed only by constants, so the
// shader compiler keeps them in registers and the "rotation" of a..h is free renaming.
fn sha_round(s: ptr<function, array<u32, 8>>, k_plus_w: u32) {
    let a = (*s)[0]; let b = (*s)[1]; let c = (*s)[2]; let d = (*s)[3];
    let e = (*s)[4]; let f = (*s)[5]; let g = (*s)[6]; let h = (*s)[7];
    let t1 = h + (rotr(e, 6u) ^ rotr(e, 11u) ^ rotr(e, 25u)) + ((e & f) ^ (~e & g)) + k_plus_w;
    let t2 = (rotr(a, 2u) ^ rotr(a, 13u) ^ rotr(a, 22u)) + ((a & b) ^ (a & c) ^ (b & c));
    *s = array<u32, 8>(t1 + t2, a, b, c, d + t1, e, f, g);
}

// Message schedule, 16 words at a time in place: w[i] becomes W[t + 16] for t = i.
// W[t] = σ1(W[t−2]) + W[t−7] + σ0(W[t−15]) + W[t−16]; every index here is a constant.
fn ssig0(x: u32) -> u32 { return rotr(x, 7u) ^ rotr(x, 18u) ^ (x >> 3u); }
fn ssig1(x: u32) -> u32 { return rotr(x, 17u) ^ rotr(x, 19u) ^ (x >> 10u); }

fn expand(w: ptr<function, array<u32, 16>>) {
    (*w)[0] += ssig1((*w)[14]) + (*w)[9] + ssig0((*w)[1]);
    (*w)[1] += ssig1((*w)[15]) + (*w)[10] + ssig0((*w)[2]);
    (*w)[2] += ssig1((*w)[0]) + (*w)[11] + ssig0((*w)[3]);
    (*w)[3] += ssig1((*w)[1]) + (*w)[12] + ssig0((*w)[4]);
    (*w)[4] += ssig1((*w)[2]) + (*w)[13] + ssig0((*w)[5]);
    (*w)[5] += ssig1((*w)[3]) + (*w)[14] + ssig0((*w)[6]);
    (*w)[6] += ssig1((*w)[4]) + (*w)[15] + ssig0((*w)[7]);
    (*w)[7] += ssig1((*w)[5]) + (*w)[0] + ssig0((*w)[8]);
    (*w)[8] += ssig1((*w)[6]) + (*w)[1] + ssig0((*w)[9]);
    (*w)[9] += ssig1((*w)[7]) + (*w)[2] + ssig0((*w)[10]);
    (*w)[10] += ssig1((*w)[8]) + (*w)[3] + ssig0((*w)[11]);
    (*w)[11] += ssig1((*w)[9]) + (*w)[4] + ssig0((*w)[12]);
    (*w)[12] += ssig1((*w)[10]) + (*w)[5] + ssig0((*w)[13]);
    (*w)[13] += ssig1((*w)[11]) + (*w)[6] + ssig0((*w)[14]);
    (*w)[14] += ssig1((*w)[12]) + (*w)[7] + ssig0((*w)[15]);
    (*w)[15] += ssig1((*w)[13]) + (*w)[8] + ssig0((*w)[0]);
}

// Sixteen rounds using w[0..16] with round constants K[k0..k0+16].
fn sixteen_rounds(s: ptr<function, array<u32, 8>>, w: ptr<function, array<u32, 16>>, k0: u32) {
    sha_round(s, k_at(k0 + 0u) + (*w)[0]);
    sha_round(s, k_at(k0 + 1u) + (*w)[1]);
    sha_round(s, k_at(k0 + 2u) + (*w)[2]);
    sha_round(s, k_at(k0 + 3u) + (*w)[3]);
    sha_round(s, k_at(k0 + 4u) + (*w)[4]);
    sha_round(s, k_at(k0 + 5u) + (*w)[5]);
    sha_round(s, k_at(k0 + 6u) + (*w)[6]);
    sha_round(s, k_at(k0 + 7u) + (*w)[7]);
    sha_round(s, k_at(k0 + 8u) + (*w)[8]);
    sha_round(s, k_at(k0 + 9u) + (*w)[9]);
    sha_round(s, k_at(k0 + 10u) + (*w)[10]);
    sha_round(s, k_at(k0 + 11u) + (*w)[11]);
    sha_round(s, k_at(k0 + 12u) + (*w)[12]);
    sha_round(s, k_at(k0 + 13u) + (*w)[13]);
    sha_round(s, k_at(k0 + 14u) + (*w)[14]);
    sha_round(s, k_at(k0 + 15u) + (*w)[15]);
}

fn add_state(s: ptr<function, array<u32, 8>>, h: array<u32, 8>) {
    (*s)[0] += h[0]; (*s)[1] += h[1]; (*s)[2] += h[2]; (*s)[3] += h[3];
    (*s)[4] += h[4]; (*s)[5] += h[5]; (*s)[6] += h[6]; (*s)[7] += h[7];
}

fn bswap(x: u32) -> u32 {
    return (x << 24u) | ((x & 0xff00u) << 8u) | ((x >> 8u) & 0xff00u) | (x >> 24u);
}

// sha256(prefix ‖ nonce) from the host's midstate and block-2 state, as 8 big-endian words.
fn sha256_of_nonce(lo: u32, hi: u32) -> array<u32, 8> {
    let m0 = params.midstate[0];
    let m1 = params.midstate[1];
    let midstate = array<u32, 8>(m0.x, m0.y, m0.z, m0.w, m1.x, m1.y, m1.z, m1.w);
    let s0 = params.state14[0];
    let s1 = params.state14[1];
    var s = array<u32, 8>(s0.x, s0.y, s0.z, s0.w, s1.x, s1.y, s1.z, s1.w);

    // Block 2: bytes 64..122 of the prefix, then nonce bytes 0–4 (W14's low byte and W15).
    let b0 = params.block2[0]; let b1 = params.block2[1];
    let b2 = params.block2[2]; let b3 = params.block2[3];
    var w = array<u32, 16>(
        b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w,
        b2.x, b2.y, b2.z, b2.w, b3.x, b3.y,
        b3.z | (lo & 0xffu),                 // W14 = prefix[120..123] ‖ nonce[0]
        bswap((lo >> 8u) | (hi << 24u)),     // W15 = nonce[1..5] big-endian
    );
    // Rounds 0–13 are in state14; rounds 14 and 15 use the nonce words.
    sha_round(&s, k_at(14u) + w[14]);
    sha_round(&s, k_at(15u) + w[15]);
    expand(&w); sixteen_rounds(&s, &w, 16u);
    expand(&w); sixteen_rounds(&s, &w, 32u);
    expand(&w); sixteen_rounds(&s, &w, 48u);
    add_state(&s, midstate);

    // Block 3: nonce bytes 5–7, the 0x80 end marker, zeros, message length 1048 bits.
    let after2 = s;
    w = array<u32, 16>(bswap(hi >> 8u) | 0x80u, 0u, 0u, 0u, 0u, 0u, 0u, 0u,
                       0u, 0u, 0u, 0u, 0u, 0u, 0u, 1048u);
    sixteen_rounds(&s, &w, 0u);
    expand(&w); sixteen_rounds(&s, &w, 16u);
    expand(&w); sixteen_rounds(&s, &w, 32u);
    expand(&w); sixteen_rounds(&s, &w, 48u);
    add_state(&s, after2);
    return s;
}

// ---------------------------------------------------------------- Keccak-f[1600]

// Theta's D[x] = C[x−1] ^ rotl(C[x+1], 1), with C[x] the parity of column x.
fn theta_d(a: ptr<function, array<Lane, 25>>) -> array<Lane, 5> {
    var c: array<Lane, 5>;
    c[0] = (*a)[0] ^ (*a)[5] ^ (*a)[10] ^ (*a)[15] ^ (*a)[20];
    c[1] = (*a)[1] ^ (*a)[6] ^ (*a)[11] ^ (*a)[16] ^ (*a)[21];
    c[2] = (*a)[2] ^ (*a)[7] ^ (*a)[12] ^ (*a)[17] ^ (*a)[22];
    c[3] = (*a)[3] ^ (*a)[8] ^ (*a)[13] ^ (*a)[18] ^ (*a)[23];
    c[4] = (*a)[4] ^ (*a)[9] ^ (*a)[14] ^ (*a)[19] ^ (*a)[24];
    return array<Lane, 5>(
        c[4] ^ rotl(c[1], 1u), c[0] ^ rotl(c[2], 1u), c[1] ^ rotl(c[3], 1u),
        c[2] ^ rotl(c[4], 1u), c[3] ^ rotl(c[0], 1u),
    );
}

// One round: theta, rho and pi (B[y, 2x+3y] = rotl(A[x, y] ^ D[x], r[x, y])), chi, iota.
// Lane index = x + 5y; every index is a constant, so the state stays in registers.
fn keccak_round(a: ptr<function, array<Lane, 25>>, rc: vec2<u32>) {
    let d = theta_d(a);
    var b: array<Lane, 25>;
    b[0] = (*a)[0] ^ d[0];
    b[10] = rotl((*a)[1] ^ d[1], 1u);
    b[20] = rotl((*a)[2] ^ d[2], 62u);
    b[5] = rotl((*a)[3] ^ d[3], 28u);
    b[15] = rotl((*a)[4] ^ d[4], 27u);
    b[16] = rotl((*a)[5] ^ d[0], 36u);
    b[1] = rotl((*a)[6] ^ d[1], 44u);
    b[11] = rotl((*a)[7] ^ d[2], 6u);
    b[21] = rotl((*a)[8] ^ d[3], 55u);
    b[6] = rotl((*a)[9] ^ d[4], 20u);
    b[7] = rotl((*a)[10] ^ d[0], 3u);
    b[17] = rotl((*a)[11] ^ d[1], 10u);
    b[2] = rotl((*a)[12] ^ d[2], 43u);
    b[12] = rotl((*a)[13] ^ d[3], 25u);
    b[22] = rotl((*a)[14] ^ d[4], 39u);
    b[23] = rotl((*a)[15] ^ d[0], 41u);
    b[8] = rotl((*a)[16] ^ d[1], 45u);
    b[18] = rotl((*a)[17] ^ d[2], 15u);
    b[3] = rotl((*a)[18] ^ d[3], 21u);
    b[13] = rotl((*a)[19] ^ d[4], 8u);
    b[14] = rotl((*a)[20] ^ d[0], 18u);
    b[24] = rotl((*a)[21] ^ d[1], 2u);
    b[9] = rotl((*a)[22] ^ d[2], 61u);
    b[19] = rotl((*a)[23] ^ d[3], 56u);
    b[4] = rotl((*a)[24] ^ d[4], 14u);
    // chi: A[x, y] = B[x, y] ^ (~B[x+1, y] & B[x+2, y])
    (*a)[0] = b[0] ^ (~b[1] & b[2]);
    (*a)[1] = b[1] ^ (~b[2] & b[3]);
    (*a)[2] = b[2] ^ (~b[3] & b[4]);
    (*a)[3] = b[3] ^ (~b[4] & b[0]);
    (*a)[4] = b[4] ^ (~b[0] & b[1]);
    (*a)[5] = b[5] ^ (~b[6] & b[7]);
    (*a)[6] = b[6] ^ (~b[7] & b[8]);
    (*a)[7] = b[7] ^ (~b[8] & b[9]);
    (*a)[8] = b[8] ^ (~b[9] & b[5]);
    (*a)[9] = b[9] ^ (~b[5] & b[6]);
    (*a)[10] = b[10] ^ (~b[11] & b[12]);
    (*a)[11] = b[11] ^ (~b[12] & b[13]);
    (*a)[12] = b[12] ^ (~b[13] & b[14]);
    (*a)[13] = b[13] ^ (~b[14] & b[10]);
    (*a)[14] = b[14] ^ (~b[10] & b[11]);
    (*a)[15] = b[15] ^ (~b[16] & b[17]);
    (*a)[16] = b[16] ^ (~b[17] & b[18]);
    (*a)[17] = b[17] ^ (~b[18] & b[19]);
    (*a)[18] = b[18] ^ (~b[19] & b[15]);
    (*a)[19] = b[19] ^ (~b[15] & b[16]);
    (*a)[20] = b[20] ^ (~b[21] & b[22]);
    (*a)[21] = b[21] ^ (~b[22] & b[23]);
    (*a)[22] = b[22] ^ (~b[23] & b[24]);
    (*a)[23] = b[23] ^ (~b[24] & b[20]);
    (*a)[24] = b[24] ^ (~b[20] & b[21]);
    // iota
    (*a)[0] = (*a)[0] ^ lane(rc.x, rc.y);
}

// Keccak input: the 32-byte digest in lanes 0–3 (its bytes read little-endian), the pad byte
// 0x01 right after it (lane 4) and the final bit of the 136-byte rate (lane 16, bit 63).
fn keccak_input(digest: array<u32, 8>) -> array<Lane, 25> {
    var a: array<Lane, 25>;
    a[0] = lane(bswap(digest[0]), bswap(digest[1]));
    a[1] = lane(bswap(digest[2]), bswap(digest[3]));
    a[2] = lane(bswap(digest[4]), bswap(digest[5]));
    a[3] = lane(bswap(digest[6]), bswap(digest[7]));
    a[4] = lane(1u, 0u);
    a[16] = lane(0u, 0x80000000u);
    return a;
}

// Seal lane 3 only: 23 full rounds, then round 24 computes A'[3,0] = B[3,0] ^ (~B[4,0] & B[0,0])
// with B[3,0] = rotl(A[3,3] ^ D[3], 21), B[4,0] = rotl(A[4,4] ^ D[4], 14), B[0,0] = A[0,0] ^ D[0].
// Iota touches lane 0 only. Exact: the host re-verifies every candidate with the full seal.
fn seal_high_lane(digest: array<u32, 8>) -> Lane {
    var a = keccak_input(digest);
    for (var r = 0u; r < 23u; r++) {
        keccak_round(&a, rc_at(r));
    }
    let d = theta_d(&a);
    let b30 = rotl(a[18] ^ d[3], 21u);
    let b40 = rotl(a[24] ^ d[4], 14u);
    let b00 = a[0] ^ d[0];
    return b30 ^ (~b40 & b00);
}

// ---------------------------------------------------------------- entry points

fn invocation_index(wg: vec3<u32>, local: u32) -> u32 {
    return (wg.y * params.groups_x + wg.x) * WORKGROUP_SIZE + local;
}

// The search: each invocation hashes `nonces_per_thread` consecutive nonces and appends every
// nonce whose seal lane 3 ≤ target limb 3 (so possibly valid) to `results`.
@compute @workgroup_size(64)
fn search(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) local: u32) {
    let first = invocation_index(wg, local) * params.nonces_per_thread;
    for (var k = 0u; k < params.nonces_per_thread; k++) {
        let offset = first + k;
        if (offset >= params.count) {
            return;
        }
        // nonce = base + offset as a 64-bit sum of u32 halves.
        let lo = params.base_lo + offset;
        let hi = params.base_hi + select(0u, 1u, lo < offset);
        let high = seal_high_lane(sha256_of_nonce(lo, hi));
        let h_hi = lane_hi(high);
        // Early reject on the most significant 64 bits, high half first.
        if (h_hi < params.target_hi || (h_hi == params.target_hi && lane_lo(high) <= params.target_lo)) {
            let slot = atomicAdd(&results.found, 1u);
            if (slot < params.capacity) {
                results.nonces[slot] = vec2<u32>(lo, hi);
            }
        }
    }
}

@group(0) @binding(2) var<storage, read_write> seals: array<u32>;

// Test entry point: the full 32-byte seal of nonces base .. base + count, 8 words each (lane
// halves lo, hi for lanes 0–3, i.e. the seal bytes read as little-endian u32s).
@compute @workgroup_size(64)
fn seal_full(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) local: u32) {
    let offset = invocation_index(wg, local);
    if (offset >= params.count) {
        return;
    }
    let lo = params.base_lo + offset;
    let hi = params.base_hi + select(0u, 1u, lo < offset);
    var a = keccak_input(sha256_of_nonce(lo, hi));
    for (var r = 0u; r < 24u; r++) {
        keccak_round(&a, rc_at(r));
    }
    for (var i = 0u; i < 4u; i++) {
        seals[offset * 8u + 2u * i] = lane_lo(a[i]);
        seals[offset * 8u + 2u * i + 1u] = lane_hi(a[i]);
    }
}
