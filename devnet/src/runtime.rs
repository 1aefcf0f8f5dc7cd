//! The runtime the devnet imitates: subtensor mainnet runtime 475, the first with
//! `pow_register`. Its metadata is served as is; its versions go into every header's
//! runtime version and into signed payloads.

/// The real SCALE metadata (V14) of subtensor mainnet runtime 475, the first with
/// `pow_register`: clients see exactly the types, pallet indices, storage hashers and
/// transaction extensions they see on mainnet.
pub const METADATA: &[u8] = include_bytes!("../metadata/runtime475.scale");

/// `spec_version` of the runtime the metadata describes.
pub const SPEC_VERSION: u32 = 475;
/// `transaction_version` of that runtime.
pub const TRANSACTION_VERSION: u32 = 1;

/// The runtime APIs the devnet answers, with their versions (as runtime 475 reports them).
pub const APIS: [(&str, u32); 6] = [
    ("Core", 5),
    ("Metadata", 2),
    ("BlockBuilder", 6),
    ("TaggedTransactionQueue", 3),
    ("AccountNonceApi", 1),
    ("TransactionPaymentApi", 4),
];

/// `spec_name` and `impl_name`.
pub const SPEC_NAME: &str = "node-subtensor";

/// Heap pages the runtime may use, as `:heappages` holds it (Substrate's default).
pub const HEAP_PAGES: u64 = 2048;

/// The well-known storage key of the runtime code.
pub const CODE_KEY: &[u8] = b":code";
/// The well-known storage key of the heap pages.
pub const HEAP_PAGES_KEY: &[u8] = b":heappages";

/// Each API's id (blake2-64 of its name, as runtimes key them) and version.
pub fn api_ids() -> impl Iterator<Item = ([u8; 8], u32)> {
    APIS.iter()
        .map(|(name, version)| (sp_crypto_hashing::blake2_64(name.as_bytes()), *version))
}

/// The runtime version as `Core_version` returns it (SCALE `sp_version::RuntimeVersion`,
/// Core 5: with `system_version`).
pub fn encoded_version() -> Vec<u8> {
    use parity_scale_codec::Encode;
    let apis: Vec<([u8; 8], u32)> = api_ids().collect();
    let mut out = (SPEC_NAME, SPEC_NAME, 1u32, SPEC_VERSION, 1u32).encode();
    apis.encode_to(&mut out);
    TRANSACTION_VERSION.encode_to(&mut out);
    1u8.encode_to(&mut out); // system_version
    out
}

/// The runtime code under `:code`: a WebAssembly module with no functions that carries what
/// a real runtime's wasm embeds for tools that read a runtime without running it: the
/// `runtime_version` custom section (the version `Core_version` answers) and `runtime_apis`
/// (each API's id and version, 12 bytes apiece), plus the hash of the metadata it serves.
/// Its blake2-256 names this runtime, as a node's `:code` hash does: clients tell runtimes
/// apart by it, and it changes exactly when the version, APIs or metadata do.
pub fn code() -> &'static [u8] {
    static CODE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    CODE.get_or_init(|| {
        let mut apis = Vec::new();
        for (id, version) in api_ids() {
            apis.extend_from_slice(&id);
            apis.extend_from_slice(&version.to_le_bytes());
        }
        let metadata_hash = sp_crypto_hashing::blake2_256(METADATA);
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        for (name, contents) in [
            ("runtime_version", encoded_version()),
            ("runtime_apis", apis),
            ("regpow_devnet_metadata_blake2_256", metadata_hash.to_vec()),
        ] {
            custom_section(&mut module, name, &contents);
        }
        module
    })
}

/// Appends a WebAssembly custom section (id 0): its size, then the name and the contents.
fn custom_section(module: &mut Vec<u8>, name: &str, contents: &[u8]) {
    let mut body = Vec::new();
    leb128(&mut body, name.len());
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(contents);
    module.push(0);
    leb128(module, body.len());
    module.extend_from_slice(&body);
}

/// Unsigned LEB128, as WebAssembly encodes sizes.
fn leb128(out: &mut Vec<u8>, mut value: usize) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads the custom sections of a module (name → contents).
    fn sections(module: &[u8]) -> Vec<(String, Vec<u8>)> {
        fn read_leb(input: &mut &[u8]) -> usize {
            let (mut value, mut shift) = (0usize, 0);
            loop {
                let byte = input[0];
                *input = &input[1..];
                value |= usize::from(byte & 0x7f) << shift;
                if byte & 0x80 == 0 {
                    return value;
                }
                shift += 7;
            }
        }
        assert_eq!(&module[..8], b"\0asm\x01\0\0\0");
        let mut rest = &module[8..];
        let mut out = Vec::new();
        while !rest.is_empty() {
            assert_eq!(rest[0], 0, "only custom sections");
            rest = &rest[1..];
            let size = read_leb(&mut rest);
            let (mut body, after) = rest.split_at(size);
            rest = after;
            let name_len = read_leb(&mut body);
            let (name, contents) = body.split_at(name_len);
            out.push((String::from_utf8(name.to_vec()).unwrap(), contents.to_vec()));
        }
        out
    }

    #[test]
    fn the_code_embeds_the_version_core_version_answers() {
        let found = sections(code());
        assert_eq!(found[0], ("runtime_version".into(), encoded_version()));
        assert_eq!(found[1].0, "runtime_apis");
        assert_eq!(found[1].1.len(), APIS.len() * 12);
        let core = sp_crypto_hashing::blake2_64(b"Core");
        assert_eq!(&found[1].1[..8], &core);
        assert_eq!(u32::from_le_bytes(found[1].1[8..12].try_into().unwrap()), 5);
        assert_eq!(found[2].1, sp_crypto_hashing::blake2_256(METADATA));
        // Long sections' sizes take several LEB128 bytes: still read back whole.
        let mut long = Vec::new();
        custom_section(&mut long, "x", &[7; 300]);
        assert_eq!(long[..3], [0, 0xAE, 0x02]);
    }
}
