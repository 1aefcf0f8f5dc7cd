"""py-substrate-interface registers a hotkey on a subnet by proof of work, as an independent
client: it reads the difficulty and the head through `SubstrateInterface`, mines its own seal
(hashlib's SHA-256, pycryptodome's original Keccak-256), signs
`SubtensorModule::pow_register` with a development coldkey (`Keypair.create_from_uri`),
submits it waiting for inclusion, then checks the receipt's `NeuronRegistered` event and
`Uids(netuid, hotkey)`.

Usage: python register.py [WS_URL] [NETUID] [HOTKEY_URI] [COLDKEY_URI]
       (defaults: ws://127.0.0.1:9944 1 //Charlie //Alice)
Exit 0 on success; 1 with a one-line reason on stderr otherwise.
The rules: docs/SPEC.md at the repository root.
"""

import hashlib
import signal
import struct
import sys

from Crypto.Hash import keccak
from substrateinterface import Keypair, SubstrateInterface

# Whole run, connection included: the devnet answers in milliseconds.
DEADLINE_S = 100
# Nonces tried before re-reading the head (the work block must stay within 5 blocks).
BATCH = 20_000
# Blocks past the work block at which a found seal is still sent (the chain allows 5).
MAX_AGE = 3
U256_MAX = (1 << 256) - 1


def fail(message):
    """Fails the run with one line on stderr."""
    print(f"substrate-interface client: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def seal(prefix, nonce):
    """`keccak256(sha256(prefix ‖ nonce u64le))`: the seal of `nonce`."""
    sha = hashlib.sha256(prefix + struct.pack("<Q", nonce)).digest()
    return keccak.new(digest_bits=256, data=sha).digest()


def seal_prefix(netuid, block_hash, hotkey, coldkey):
    """"subtensor-pow-register-v1" ‖ netuid u16le ‖ block hash ‖ hotkey ‖ coldkey."""
    return b"subtensor-pow-register-v1" + struct.pack("<H", netuid) + block_hash + hotkey + coldkey


def self_test():
    """The three public vectors of docs/SPEC.md: catches SHA3 padding or a wrong layout."""
    prefix = seal_prefix(1, b"\x01" * 32, b"\x02" * 32, b"\x03" * 32)
    vectors = [
        (0, "7cdaced691a70795a7656ad9b76ef2c16b961686a14a790bcb22eed6226ef103"),
        (1, "c2291b632879447b6fe0785b0f25b5151c85a7e07df23a7860cf029e8a03f466"),
        (2**64 - 1, "69f1aef50783893195365b4fb62a4745085c31fee525a0984bc20301ab377aaf"),
    ]
    for nonce, expected in vectors:
        got = seal(prefix, nonce).hex()
        if got != expected:
            fail(f"seal self-test failed for nonce {nonce}: {got} != {expected}")


def effective_difficulty(difficulty, minimum, maximum):
    """`D = min(max(Difficulty, lo), hi)` with `lo = max(Min, 1)`, `hi = max(Max, lo)`."""
    lo = max(minimum, 1)
    hi = max(maximum, lo)
    return min(max(difficulty, lo), hi)


def challenge(substrate, netuid, hotkey_address):
    """Reads the head and the subnet's registration state at it."""
    header = substrate.get_block_header()["header"]
    number, block_hash = header["number"], header["hash"]

    def read(item, params):
        return substrate.query("SubtensorModule", item, params, block_hash=block_hash).value

    if not read("NetworksAdded", [netuid]):
        fail(f"subnet {netuid} does not exist")
    if not read("NetworkPowRegistrationAllowed", [netuid]):
        fail(f"PoW registration is off on subnet {netuid}")
    uid = read("Uids", [netuid, hotkey_address])
    if uid is not None:
        fail(f"hotkey is already registered on subnet {netuid} as uid {uid}")
    difficulty = effective_difficulty(
        read("Difficulty", [netuid]), read("MinDifficulty", [netuid]), read("MaxDifficulty", [netuid])
    )
    return number, bytes.fromhex(block_hash[2:]), difficulty


def mine(substrate, netuid, hotkey, coldkey):
    """Mines from nonce 0 on the head until a seal meets the difficulty; re-reads the head
    every BATCH nonces, and after a seal found too late, so that the work block stays fresh."""
    nonce = 0
    while True:
        number, block_hash, difficulty = challenge(substrate, netuid, hotkey.ss58_address)
        prefix = seal_prefix(netuid, block_hash, hotkey.public_key, coldkey.public_key)
        target = U256_MAX // difficulty
        for _ in range(BATCH):
            work = seal(prefix, nonce)
            nonce += 1
            if int.from_bytes(work, "little") <= target:
                # The chain accepts work up to 5 blocks old: a seal found too late is mined again.
                if substrate.get_block_number(None) - number <= MAX_AGE:
                    return number, nonce - 1, work, difficulty
                break


def main():
    url = sys.argv[1] if len(sys.argv) > 1 else "ws://127.0.0.1:9944"
    netuid = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    hotkey = Keypair.create_from_uri(sys.argv[3] if len(sys.argv) > 3 else "//Charlie")
    coldkey = Keypair.create_from_uri(sys.argv[4] if len(sys.argv) > 4 else "//Alice")

    self_test()
    substrate = SubstrateInterface(url=url)
    # Decoding the metadata takes seconds: done before the head is read, so that the work
    # block is still fresh when the seal is submitted.
    substrate.init_runtime()
    work_block, nonce, work, difficulty = mine(substrate, netuid, hotkey, coldkey)
    print(
        f"mined nonce {nonce} on block {work_block} (difficulty {difficulty}): 0x{work.hex()}",
        flush=True,
    )
    call = substrate.compose_call(
        call_module="SubtensorModule",
        call_function="pow_register",
        call_params={
            "netuid": netuid,
            "work_block": work_block,
            "nonce": nonce,
            "work": "0x" + work.hex(),
            "hotkey": hotkey.ss58_address,
        },
    )
    extrinsic = substrate.create_signed_extrinsic(call=call, keypair=coldkey)
    receipt = substrate.submit_extrinsic(extrinsic, wait_for_inclusion=True)
    print(f"pow_register included in block {receipt.block_hash}", flush=True)
    if not receipt.is_success:
        fail(f"pow_register failed in block {receipt.block_hash}: {receipt.error_message}")

    registered = [
        event.value["attributes"]
        for event in receipt.triggered_events
        if event.value["module_id"] == "SubtensorModule" and event.value["event_id"] == "NeuronRegistered"
    ]
    ours = [
        attributes
        for attributes in registered
        if attributes[0] == netuid and attributes[2] == hotkey.ss58_address
    ]
    if not ours:
        fail(f"no NeuronRegistered({netuid}, _, {hotkey.ss58_address}) in the receipt: {registered}")
    uid = ours[0][1]
    stored = substrate.query(
        "SubtensorModule", "Uids", [netuid, hotkey.ss58_address], block_hash=receipt.block_hash
    ).value
    if stored != uid:
        fail(f"Uids({netuid}, {hotkey.ss58_address}) is {stored}, the event said {uid}")
    print(
        f"registered hotkey {hotkey.ss58_address} on subnet {netuid} as uid {uid} "
        f"in block {receipt.block_hash}",
        flush=True,
    )
    substrate.close()


def on_deadline(_signum, _frame):
    fail(f"no result within {DEADLINE_S} s")


if __name__ == "__main__":
    signal.signal(signal.SIGALRM, on_deadline)
    signal.alarm(DEADLINE_S)
    try:
        main()
    except SystemExit:
        raise
    except Exception as error:  # one line for the caller, whatever the library raised
        fail(f"{type(error).__name__}: {error}")
