// regpow seal search for NVIDIA GPUs (CUDA C, compiled at run time by NVRTC for the device's
// own architecture). The hashing functions also compile as plain host C++ (see the RP_*
// macros), so a CPU test can check them against the reference seal without a GPU.
//
// Spec (docs/SPEC.md, "The seal" and "Where the work goes"):
//   message = prefix (123 bytes) ‖ nonce as u64 little-endian      → 131 bytes, 3 SHA-256 blocks
//   seal    = keccak256(sha256(message))                            (original Keccak, pad 0x01)
//   valid  iff seal read little-endian ≤ (2^256 − 1) / difficulty
//
// Host / GPU split (the same as kernels/seal.wgsl):
//   host: block 1 → midstate; block 2's constant words W0–W13 and the state after its first
//         14 rounds → state14. Both arrive in the kernel's parameter block (constant memory).
//   GPU:  per nonce, block 2's rounds 14–63, block 3, one Keccak-f[1600], early reject on
//         lane 3 (the seal's most significant 64 bits).

#if defined(__CUDACC__)
#define RP_FN __device__ __forceinline__
#define RP_CONST __constant__ const
#else
#include <stdint.h>
#define RP_FN static inline
#define RP_CONST static const
#endif

typedef unsigned int u32;
typedef unsigned long long u64;

// Everything about a job that does not depend on the nonce. Passed by value as a kernel
// parameter (parameters live in the constant bank on NVIDIA GPUs). Layout matches the host's
// `#[repr(C)] KernelJob` in solver/src/cuda/worker.rs.
struct Job {
    u32 midstate[8];   // SHA-256 state after block 1 (prefix bytes 0–63)
    u32 state14[8];    // state after rounds 0–13 of block 2
    u32 block2[16];    // block 2 as big-endian words, nonce bytes zero
    u64 target_high;   // target limb 3: larger lane-3 values are rejected on the GPU
};

// ------------------------------------------------------------------ portable primitives

// Most significant 32 bits of (hi:lo) << (n & 31): one SHF instruction on the GPU.
RP_FN u32 funnel_l(u32 lo, u32 hi, u32 n) {
#if defined(__CUDA_ARCH__)
    return __funnelshift_l(lo, hi, n);
#else
    return (u32)(((((u64)hi) << 32 | lo) << (n & 31)) >> 32);
#endif
}

RP_FN u32 rotr32(u32 x, u32 n) {
#if defined(__CUDA_ARCH__)
    return __funnelshift_r(x, x, n);
#else
    return (x >> n) | (x << (32 - n));
#endif
}

RP_FN u32 bswap32(u32 x) {
#if defined(__CUDA_ARCH__)
    return __byte_perm(x, 0, 0x0123);
#else
    return (x << 24) | ((x & 0xff00u) << 8) | ((x >> 8) & 0xff00u) | (x >> 24);
#endif
}

// 64-bit rotate left by a constant n in 1..63, n != 32, as two funnel shifts on the halves
// (GPUs have no 64-bit rotate; this is two SHF instructions).
RP_FN u64 rotl64(u64 x, u32 n) {
    u32 lo = (u32)x, hi = (u32)(x >> 32);
    u32 new_lo, new_hi;
    if (n < 32) {
        new_hi = funnel_l(lo, hi, n);
        new_lo = funnel_l(hi, lo, n);
    } else {
        new_hi = funnel_l(hi, lo, n - 32);
        new_lo = funnel_l(lo, hi, n - 32);
    }
    return ((u64)new_hi << 32) | new_lo;
}

// ------------------------------------------------------------------ SHA-256 (FIPS 180-4)

RP_CONST u32 SHA_K[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
    0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
    0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
    0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u,
};

// One round. `s` is indexed only by constants (all loops below are fully unrolled), so the
// eight working variables stay in registers and the a..h rotation is renaming.
RP_FN void sha_round(u32 s[8], u32 k_plus_w) {
    u32 a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
    u32 t1 = h + (rotr32(e, 6) ^ rotr32(e, 11) ^ rotr32(e, 25)) + ((e & f) ^ (~e & g)) + k_plus_w;
    u32 t2 = (rotr32(a, 2) ^ rotr32(a, 13) ^ rotr32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    s[7] = g; s[6] = f; s[5] = e; s[4] = d + t1;
    s[3] = c; s[2] = b; s[1] = a; s[0] = t1 + t2;
}

// W[t] = σ1(W[t−2]) + W[t−7] + σ0(W[t−15]) + W[t−16], sixteen at a time in place.
RP_FN void sha_expand(u32 w[16]) {
#pragma unroll
    for (int i = 0; i < 16; i++) {
        u32 w15 = w[(i + 1) & 15], w2 = w[(i + 14) & 15];
        u32 s0 = rotr32(w15, 7) ^ rotr32(w15, 18) ^ (w15 >> 3);
        u32 s1 = rotr32(w2, 17) ^ rotr32(w2, 19) ^ (w2 >> 10);
        w[i] += s0 + w[(i + 9) & 15] + s1;
    }
}

// sha256(prefix ‖ nonce) as 8 big-endian words, from the job's midstate and state14.
RP_FN void sha256_of_nonce(const Job* job, u64 nonce, u32 digest[8]) {
    u32 lo = (u32)nonce, hi = (u32)(nonce >> 32);
    u32 s[8], w[16];
#pragma unroll
    for (int i = 0; i < 8; i++) s[i] = job->state14[i];
#pragma unroll
    for (int i = 0; i < 14; i++) w[i] = job->block2[i];
    // Block 2: W14 = prefix[120..123] ‖ nonce byte 0, W15 = nonce bytes 1–4 big-endian.
    w[14] = job->block2[14] | (lo & 0xffu);
    w[15] = bswap32((lo >> 8) | (hi << 24));
    // Rounds 0–13 are already in state14.
    sha_round(s, SHA_K[14] + w[14]);
    sha_round(s, SHA_K[15] + w[15]);
#pragma unroll
    for (int r = 16; r < 64; r += 16) {
        sha_expand(w);
#pragma unroll
        for (int i = 0; i < 16; i++) sha_round(s, SHA_K[r + i] + w[i]);
    }
    u32 after2[8];
#pragma unroll
    for (int i = 0; i < 8; i++) after2[i] = s[i] += job->midstate[i];

    // Block 3: nonce bytes 5–7, the 0x80 end marker, zeros, message length 1048 bits.
    w[0] = bswap32(hi >> 8) | 0x80u;
#pragma unroll
    for (int i = 1; i < 15; i++) w[i] = 0;
    w[15] = 1048;
#pragma unroll
    for (int r = 0; r < 64; r += 16) {
        if (r > 0) sha_expand(w);
#pragma unroll
        for (int i = 0; i < 16; i++) sha_round(s, SHA_K[r + i] + w[i]);
    }
#pragma unroll
    for (int i = 0; i < 8; i++) digest[i] = s[i] + after2[i];
}

// ------------------------------------------------------------------ Keccak-f[1600]

RP_CONST u64 KECCAK_RC[24] = {
    0x0000000000000001ull, 0x0000000000008082ull, 0x800000000000808aull, 0x8000000080008000ull,
    0x000000000000808bull, 0x0000000080000001ull, 0x8000000080008081ull, 0x8000000000008009ull,
    0x000000000000008aull, 0x0000000000000088ull, 0x0000000080008009ull, 0x000000008000000aull,
    0x000000008000808bull, 0x800000000000008bull, 0x8000000000008089ull, 0x8000000000008003ull,
    0x8000000000008002ull, 0x8000000000000080ull, 0x000000000000800aull, 0x800000008000000aull,
    0x8000000080008081ull, 0x8000000000008080ull, 0x0000000080000001ull, 0x8000000080008008ull,
};

// Theta's D[x] = C[x−1] ^ rotl(C[x+1], 1), C[x] the parity of column x (lane index x + 5y).
// Five-way XORs and chi below are what the compiler turns into three-input LOP3s.
RP_FN void theta_d(const u64 a[25], u64 d[5]) {
    u64 c[5];
#pragma unroll
    for (int x = 0; x < 5; x++) c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20];
#pragma unroll
    for (int x = 0; x < 5; x++) d[x] = c[(x + 4) % 5] ^ rotl64(c[(x + 1) % 5], 1);
}

// One round: theta, rho and pi (B[y, 2x+3y] = rotl(A[x, y] ^ D[x], r[x, y])), chi, iota.
RP_FN void keccak_round(u64 a[25], u64 rc) {
    u64 d[5], b[25];
    theta_d(a, d);
    b[0] = a[0] ^ d[0];
    b[10] = rotl64(a[1] ^ d[1], 1);
    b[20] = rotl64(a[2] ^ d[2], 62);
    b[5] = rotl64(a[3] ^ d[3], 28);
    b[15] = rotl64(a[4] ^ d[4], 27);
    b[16] = rotl64(a[5] ^ d[0], 36);
    b[1] = rotl64(a[6] ^ d[1], 44);
    b[11] = rotl64(a[7] ^ d[2], 6);
    b[21] = rotl64(a[8] ^ d[3], 55);
    b[6] = rotl64(a[9] ^ d[4], 20);
    b[7] = rotl64(a[10] ^ d[0], 3);
    b[17] = rotl64(a[11] ^ d[1], 10);
    b[2] = rotl64(a[12] ^ d[2], 43);
    b[12] = rotl64(a[13] ^ d[3], 25);
    b[22] = rotl64(a[14] ^ d[4], 39);
    b[23] = rotl64(a[15] ^ d[0], 41);
    b[8] = rotl64(a[16] ^ d[1], 45);
    b[18] = rotl64(a[17] ^ d[2], 15);
    b[3] = rotl64(a[18] ^ d[3], 21);
    b[13] = rotl64(a[19] ^ d[4], 8);
    b[14] = rotl64(a[20] ^ d[0], 18);
    b[24] = rotl64(a[21] ^ d[1], 2);
    b[9] = rotl64(a[22] ^ d[2], 61);
    b[19] = rotl64(a[23] ^ d[3], 56);
    b[4] = rotl64(a[24] ^ d[4], 14);
    // chi: A[x, y] = B[x, y] ^ (~B[x+1, y] & B[x+2, y])
#pragma unroll
    for (int y = 0; y < 25; y += 5) {
#pragma unroll
        for (int x = 0; x < 5; x++) a[y + x] = b[y + x] ^ (~b[y + (x + 1) % 5] & b[y + (x + 2) % 5]);
    }
    // iota
    a[0] ^= rc;
}

// Keccak input: the digest in lanes 0–3 (its bytes read little-endian), the pad byte 0x01
// right after it (lane 4) and the final bit of the 136-byte rate (lane 16, bit 63).
RP_FN void keccak_input(const u32 digest[8], u64 a[25]) {
#pragma unroll
    for (int i = 0; i < 25; i++) a[i] = 0;
#pragma unroll
    for (int i = 0; i < 4; i++) a[i] = ((u64)bswap32(digest[2 * i + 1]) << 32) | bswap32(digest[2 * i]);
    a[4] = 0x01;
    a[16] = 0x8000000000000000ull;
}

// Lane 3 of the seal only: 23 full rounds, then A'[3,0] = B[3,0] ^ (~B[4,0] & B[0,0]) with
// B[3,0] = rotl(A[3,3] ^ D[3], 21), B[4,0] = rotl(A[4,4] ^ D[4], 14), B[0,0] = A[0,0] ^ D[0].
// Iota only touches lane 0. Exact: the host re-verifies every candidate with the full seal.
RP_FN u64 seal_high_lane(const u32 digest[8]) {
    u64 a[25], d[5];
    keccak_input(digest, a);
#pragma unroll
    for (int r = 0; r < 23; r++) keccak_round(a, KECCAK_RC[r]);
    theta_d(a, d);
    u64 b30 = rotl64(a[18] ^ d[3], 21);
    u64 b40 = rotl64(a[24] ^ d[4], 14);
    u64 b00 = a[0] ^ d[0];
    return b30 ^ (~b40 & b00);
}

// The full seal as four little-endian u64 limbs (lanes 0–3).
RP_FN void seal_full_lanes(const u32 digest[8], u64 out[4]) {
    u64 a[25];
    keccak_input(digest, a);
#pragma unroll
    for (int r = 0; r < 24; r++) keccak_round(a, KECCAK_RC[r]);
#pragma unroll
    for (int i = 0; i < 4; i++) out[i] = a[i];
}

// ------------------------------------------------------------------ kernels

#if defined(__CUDACC__)

// The search. Thread t hashes nonces base + t·npt … base + t·npt + npt − 1 (below `count`)
// and appends each nonce whose lane 3 ≤ target limb 3 to `results`: results[0] counts
// candidates, results[2 + 2i], results[3 + 2i] hold candidate i (lo, hi) for i < capacity.
extern "C" __global__ void __launch_bounds__(256)
search(const Job job, u64 base, u32 count, u32 npt, u32* results, u32 capacity) {
    u32 first = (blockIdx.x * blockDim.x + threadIdx.x) * npt;
    for (u32 k = 0; k < npt; k++) {
        u32 offset = first + k;
        if (offset >= count) return;
        u64 nonce = base + offset;
        u32 digest[8];
        sha256_of_nonce(&job, nonce, digest);
        if (seal_high_lane(digest) <= job.target_high) {
            u32 slot = atomicAdd(results, 1u);
            if (slot < capacity) {
                results[2 + 2 * slot] = (u32)nonce;
                results[3 + 2 * slot] = (u32)(nonce >> 32);
            }
        }
    }
}

// Test entry point: the full seal of nonces base .. base + count, four u64 limbs each.
extern "C" __global__ void __launch_bounds__(256)
seal_full(const Job job, u64 base, u32 count, u64* out) {
    u32 offset = blockIdx.x * blockDim.x + threadIdx.x;
    if (offset >= count) return;
    u32 digest[8];
    sha256_of_nonce(&job, base + offset, digest);
    seal_full_lanes(digest, out + 4 * (u64)offset);
}

#endif
