//! Keccak-f\[1600\]'s constants, for the seal kernels (the CPU's SIMD Keccak and the GPU
//! kernels' round-constant buffers). The reference seal itself uses the `sha3` crate.

/// Iota's round constants (FIPS 202, 3.2.5): round `i` XORs `ROUND_CONSTANTS[i]` into lane 0.
pub const ROUND_CONSTANTS: [u64; 24] = [
    0x0000_0000_0000_0001,
    0x0000_0000_0000_8082,
    0x8000_0000_0000_808A,
    0x8000_0000_8000_8000,
    0x0000_0000_0000_808B,
    0x0000_0000_8000_0001,
    0x8000_0000_8000_8081,
    0x8000_0000_0000_8009,
    0x0000_0000_0000_008A,
    0x0000_0000_0000_0088,
    0x0000_0000_8000_8009,
    0x0000_0000_8000_000A,
    0x0000_0000_8000_808B,
    0x8000_0000_0000_008B,
    0x8000_0000_0000_8089,
    0x8000_0000_0000_8003,
    0x8000_0000_0000_8002,
    0x8000_0000_0000_0080,
    0x0000_0000_0000_800A,
    0x8000_0000_8000_000A,
    0x8000_0000_8000_8081,
    0x8000_0000_0000_8080,
    0x0000_0000_8000_0001,
    0x8000_0000_8000_8008,
];

#[cfg(test)]
mod tests {
    use super::ROUND_CONSTANTS;

    /// FIPS 202, Algorithm 5: the constants come from a degree-8 LFSR; derive them instead
    /// of trusting the table.
    #[test]
    fn constants_match_the_lfsr_of_fips_202() {
        let mut r: u8 = 1;
        let mut rc_bit = || {
            let bit = r & 1;
            let high = r & 0x80 != 0;
            r <<= 1;
            if high {
                r ^= 0x71;
            }
            bit
        };
        for (round, &want) in ROUND_CONSTANTS.iter().enumerate() {
            let mut rc = 0u64;
            for j in 0..7 {
                if rc_bit() == 1 {
                    rc |= 1 << ((1 << j) - 1);
                }
            }
            assert_eq!(rc, want, "round {round}");
        }
    }
}
