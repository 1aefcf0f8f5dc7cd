#!/usr/bin/env python3
"""Generate regpow's reference test vectors with the reference client.

Every seal comes from `bittensor_core.pow_mine_cpu` (the SDK's native miner) and is
cross-checked with an independent hashlib SHA-256 + pycryptodome Keccak-256 computation.
Every solved challenge is the *first* valid nonce at or after `start_nonce`, as found by
`pow_mine_cpu`, so Rust tests can also check that no valid nonce before it is missed.

Usage:
    python3 -m venv .venv && .venv/bin/pip install bittensor-core pycryptodome
    .venv/bin/python scripts/gen_vectors.py > rules/tests/data/vectors.json
"""
import hashlib
import json
import random
import sys
from importlib.metadata import version

import bittensor_core
from Crypto.Hash import keccak

PREFIX_TAG = b"subtensor-pow-register-v1"
U64_MAX = 2**64 - 1
U256_MAX = 2**256 - 1
BATCH = 1 << 20  # pow_mine_cpu accepts 1..1048576 attempts per call
SS58_FORMATS = [42, 0, 2, 64, 1221, 16383]


def prefix_of(netuid, block_hash, hotkey, coldkey):
    return PREFIX_TAG + netuid.to_bytes(2, "little") + block_hash + hotkey + coldkey


def independent_seal(prefix, nonce):
    inner = hashlib.sha256(prefix + nonce.to_bytes(8, "little")).digest()
    return keccak.new(digest_bits=256, data=inner).digest()


def reference_seal(prefix, nonce):
    """Seal from the reference miner: with difficulty 1 every seal is valid."""
    found = bittensor_core.pow_mine_cpu(prefix, 1, nonce, 1)
    assert found is not None and found[0] == nonce
    seal = bytes(found[1])
    assert seal == independent_seal(prefix, nonce), "reference and hashlib disagree"
    return seal


def meets(seal, difficulty):
    return int.from_bytes(seal, "little") <= U256_MAX // difficulty


def key_text(rng, key):
    """Keys are written as 0x-hex or as SS58 in one of several formats."""
    if rng.random() < 0.5:
        return "0x" + key.hex()
    return bittensor_core.ss58_encode(key, rng.choice(SS58_FORMATS))


def random_challenge(rng):
    return {
        "netuid": rng.randint(1, 65535),
        "block_hash": rng.randbytes(32),
        "hotkey": rng.randbytes(32),
        "coldkey": rng.randbytes(32),
    }


def challenge_json(rng, ch):
    return {
        "netuid": ch["netuid"],
        "block_hash": "0x" + ch["block_hash"].hex(),
        "hotkey": key_text(rng, ch["hotkey"]),
        "coldkey": key_text(rng, ch["coldkey"]),
        "prefix": "0x" + prefix_of(**ch).hex(),
    }


def seal_vectors(rng, count):
    public = {"netuid": 1, "block_hash": b"\x01" * 32, "hotkey": b"\x02" * 32, "coldkey": b"\x03" * 32}
    edges = [0, 1, 255, 256, 2**32 - 1, 2**32, 2**40 - 1, 2**40, 2**63, U64_MAX - 1, U64_MAX]
    vectors = []
    for nonce in [0, 1, U64_MAX]:
        vectors.append((public, nonce))
    while len(vectors) < count:
        ch = random_challenge(rng)
        nonce = rng.choice(edges) if rng.random() < 0.3 else rng.randint(0, U64_MAX)
        vectors.append((ch, nonce))
    out = []
    for ch, nonce in vectors:
        seal = reference_seal(prefix_of(**ch), nonce)
        difficulty = rng.choice([1, 2, 1000, 10**6, 10**9, U64_MAX])
        entry = challenge_json(rng, ch)
        entry.update(nonce=str(nonce), seal="0x" + seal.hex(), difficulty=str(difficulty),
                     valid=meets(seal, difficulty))
        out.append(entry)
    return out


def first_hit(prefix, difficulty, start):
    nonce = start
    while True:
        found = bittensor_core.pow_mine_cpu(prefix, difficulty, nonce, BATCH)
        if found is not None:
            return found[0], bytes(found[1])
        nonce += BATCH


def solved_challenges(rng, count):
    starts = [0, 2**32 - 50_000, 2**40 - 30_000]
    out = []
    for i in range(count):
        ch = random_challenge(rng)
        prefix = prefix_of(**ch)
        difficulty = rng.choice([1_000, 10_000, 50_000, 100_000, 200_000])
        start = starts[i] if i < len(starts) else rng.randint(0, 2**62)
        nonce, seal = first_hit(prefix, difficulty, start)
        assert seal == independent_seal(prefix, nonce) and meets(seal, difficulty)
        entry = challenge_json(rng, ch)
        entry.update(difficulty=str(difficulty), start_nonce=str(start), nonce=str(nonce),
                     seal="0x" + seal.hex())
        out.append(entry)
    return out


def main():
    rng = random.Random(20261125)
    doc = {
        "generator": "scripts/gen_vectors.py",
        "reference": "bittensor_core.pow_mine_cpu %s, cross-checked with hashlib + pycryptodome"
        % version("bittensor-core"),
        "seals": seal_vectors(rng, 240),
        "solved": solved_challenges(rng, 12),
    }
    json.dump(doc, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
