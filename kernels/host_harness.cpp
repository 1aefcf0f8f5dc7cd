// Host build of seal.cu's hashing functions, for tests on machines without a GPU.
//
//   c++ -O2 -std=c++17 -o harness kernels/host_harness.cpp
//   stdin:  line 1 = the job's 32 words (midstate, state14, block2) in hex;
//           then one decimal nonce per line
//   stdout: per nonce, the full seal (64 hex digits, bytes in order) and the early-reject
//           lane (lane 3, 16 hex digits as a number)
#include <cinttypes>
#include <cstdio>

#include "seal.cu"

int main() {
    Job job = {};
    for (int i = 0; i < 32; i++) {
        u32 word;
        if (std::scanf("%x", &word) != 1) return 2;
        if (i < 8) job.midstate[i] = word;
        else if (i < 16) job.state14[i - 8] = word;
        else job.block2[i - 16] = word;
    }
    uint64_t nonce;
    while (std::scanf("%" SCNu64, &nonce) == 1) {
        u32 digest[8];
        sha256_of_nonce(&job, nonce, digest);
        u64 lanes[4];
        seal_full_lanes(digest, lanes);
        for (int i = 0; i < 4; i++)
            for (int byte = 0; byte < 8; byte++) std::printf("%02x", (unsigned)((lanes[i] >> (8 * byte)) & 0xff));
        std::printf(" %016" PRIx64 "\n", (uint64_t)seal_high_lane(digest));
    }
    return 0;
}
