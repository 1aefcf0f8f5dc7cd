// polkadot-js registers a hotkey on a subnet by proof of work, as an independent client:
// it reads the difficulty and the head through @polkadot/api, mines its own seal (sha256 from
// node:crypto, original Keccak-256 from @polkadot/util-crypto), signs
// `SubtensorModule::pow_register` with a Keyring sr25519 development coldkey, waits for the
// block that includes it, then checks the `NeuronRegistered` event and `Uids(netuid, hotkey)`.
//
// Usage: node register.mjs [WS_URL] [NETUID] [HOTKEY_URI] [COLDKEY_URI]
//        (defaults: ws://127.0.0.1:9944 1 //Bob //Alice)
// Exit 0 on success; 1 with a one-line reason on stderr otherwise.
// The rules: docs/SPEC.md at the repository root.

import { createHash } from 'node:crypto';

import { ApiPromise, WsProvider } from '@polkadot/api';
import { Keyring } from '@polkadot/keyring';
import { u8aConcat, u8aToHex } from '@polkadot/util';
import { cryptoWaitReady, keccakAsU8a } from '@polkadot/util-crypto';

const [url = 'ws://127.0.0.1:9944', netuidArg = '1', hotkeyUri = '//Bob', coldkeyUri = '//Alice'] =
  process.argv.slice(2);
const netuid = Number(netuidArg);
/** Whole run, connection included: the devnet answers in milliseconds. */
const DEADLINE_MS = 100_000;
/** Nonces tried before re-reading the head (the work block must stay within 5 blocks). */
const BATCH = 20_000;
/** Blocks past the work block at which a found seal is still sent (the chain allows 5). */
const MAX_AGE = 3n;
const U256_MAX = (1n << 256n) - 1n;

/** Fails the run with one line on stderr. */
function fail(message) {
  console.error(`polkadot-js client: ${message}`);
  process.exit(1);
}

/** `keccak256(sha256(prefix ‖ nonce u64le))`: the seal of `nonce`. */
function seal(prefix, nonce) {
  const message = new Uint8Array(prefix.length + 8);
  message.set(prefix);
  new DataView(message.buffer).setBigUint64(prefix.length, nonce, true);
  const sha = createHash('sha256').update(message).digest();
  return keccakAsU8a(sha, 256);
}

/** "subtensor-pow-register-v1" ‖ netuid u16le ‖ block hash ‖ hotkey ‖ coldkey (123 bytes). */
function sealPrefix(netuidValue, blockHash, hotkey, coldkey) {
  const netuidBytes = new Uint8Array([netuidValue & 0xff, netuidValue >> 8]);
  return u8aConcat(
    new TextEncoder().encode('subtensor-pow-register-v1'),
    netuidBytes,
    blockHash,
    hotkey,
    coldkey,
  );
}

/** The seal read as a little-endian 256-bit integer. */
function littleEndian(bytes) {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i -= 1) {
    value = (value << 8n) | BigInt(bytes[i]);
  }
  return value;
}

/** The three public vectors of docs/SPEC.md: catches SHA3 padding or a wrong layout. */
function selfTest() {
  const prefix = sealPrefix(1, new Uint8Array(32).fill(1), new Uint8Array(32).fill(2), new Uint8Array(32).fill(3));
  const vectors = [
    [0n, '0x7cdaced691a70795a7656ad9b76ef2c16b961686a14a790bcb22eed6226ef103'],
    [1n, '0xc2291b632879447b6fe0785b0f25b5151c85a7e07df23a7860cf029e8a03f466'],
    [(1n << 64n) - 1n, '0x69f1aef50783893195365b4fb62a4745085c31fee525a0984bc20301ab377aaf'],
  ];
  for (const [nonce, expected] of vectors) {
    const got = u8aToHex(seal(prefix, nonce));
    if (got !== expected) {
      fail(`seal self-test failed for nonce ${nonce}: ${got} != ${expected}`);
    }
  }
}

/** `D = min(max(Difficulty, lo), hi)` with `lo = max(Min, 1)`, `hi = max(Max, lo)`. */
function effectiveDifficulty(difficulty, min, max) {
  const lo = min > 1n ? min : 1n;
  const hi = max > lo ? max : lo;
  if (difficulty < lo) return lo;
  if (difficulty > hi) return hi;
  return difficulty;
}

/** Reads the head and the subnet's registration state at it. */
async function challenge(api, hotkey) {
  const header = await api.rpc.chain.getHeader();
  const hash = header.hash;
  const at = await api.at(hash);
  const q = at.query.subtensorModule;
  const [exists, powAllowed, uid, difficulty, min, max] = await Promise.all([
    q.networksAdded(netuid),
    q.networkPowRegistrationAllowed(netuid),
    q.uids(netuid, hotkey),
    q.difficulty(netuid),
    q.minDifficulty(netuid),
    q.maxDifficulty(netuid),
  ]);
  if (!exists.isTrue) fail(`subnet ${netuid} does not exist`);
  if (!powAllowed.isTrue) fail(`PoW registration is off on subnet ${netuid}`);
  if (uid.isSome) fail(`hotkey is already registered on subnet ${netuid} as uid ${uid.unwrap()}`);
  const d = effectiveDifficulty(difficulty.toBigInt(), min.toBigInt(), max.toBigInt());
  return { number: header.number.toBigInt(), hash: hash.toU8a(), difficulty: d };
}

/** Mines from nonce 0 on the head until a seal meets the difficulty; re-reads the head every
 *  BATCH nonces, and after a seal found too late, so that the work block stays fresh. */
async function mine(api, hotkey, coldkey) {
  let nonce = 0n;
  for (;;) {
    const c = await challenge(api, hotkey);
    const prefix = sealPrefix(netuid, c.hash, hotkey, coldkey);
    const target = U256_MAX / c.difficulty;
    for (let i = 0; i < BATCH; i += 1, nonce += 1n) {
      const work = seal(prefix, nonce);
      if (littleEndian(work) <= target) {
        // The chain accepts work up to 5 blocks old: a seal found too late is mined again.
        const head = await api.rpc.chain.getHeader();
        if (head.number.toBigInt() - c.number <= MAX_AGE) {
          return { workBlock: c.number, nonce, work, difficulty: c.difficulty, tried: nonce + 1n };
        }
        break;
      }
    }
  }
}

/** Submits the signed call and resolves with the events of the block that includes it. */
function submit(tx, signer) {
  return new Promise((resolve, reject) => {
    tx.signAndSend(signer, (result) => {
      const { status, events, dispatchError } = result;
      if (status.isInvalid || status.isDropped || status.isUsurped) {
        reject(new Error(`transaction ${status.type}`));
      } else if (status.isInBlock) {
        resolve({ status: status.type, blockHash: status.asInBlock, events, dispatchError });
      } else if (status.isFinalized) {
        // A node announces `finalized` after `inBlock`: a finalized status first means the
        // in-block one never reached the client.
        reject(new Error('finalized without inBlock first'));
      }
    }).catch(reject);
  });
}

async function main() {
  await cryptoWaitReady();
  selfTest();
  const keyring = new Keyring({ type: 'sr25519', ss58Format: 42 });
  const coldkey = keyring.addFromUri(coldkeyUri);
  const hotkey = keyring.addFromUri(hotkeyUri);

  const provider = new WsProvider(url, false);
  await provider.connect();
  const api = await ApiPromise.create({ provider, throwOnConnect: true, noInitWarn: true });
  const tx0 = api.tx.subtensorModule?.powRegister;
  if (!tx0) fail('the runtime has no SubtensorModule::pow_register: no PoW registration');

  const found = await mine(api, hotkey.publicKey, coldkey.publicKey);
  console.log(
    `mined nonce ${found.nonce} on block ${found.workBlock} (difficulty ${found.difficulty}, ` +
      `${found.tried} hashes): ${u8aToHex(found.work)}`,
  );
  const tx = api.tx.subtensorModule.powRegister(
    netuid,
    found.workBlock,
    found.nonce,
    found.work,
    hotkey.address,
  );
  let included;
  try {
    included = await submit(tx, coldkey);
  } catch (error) {
    fail(`pow_register was not included: ${error.message ?? error}`);
  }
  const { blockHash, events, dispatchError } = included;
  console.log(`pow_register ${included.status} in block ${blockHash.toHex()}`);
  if (dispatchError) {
    let reason = dispatchError.toString();
    if (dispatchError.isModule) {
      const { section, name } = api.registry.findMetaError(dispatchError.asModule);
      reason = `${section}::${name}`;
    }
    fail(`pow_register failed in block ${blockHash.toHex()}: ${reason}`);
  }
  const registered = events
    .map(({ event }) => event)
    .filter((event) => api.events.subtensorModule.NeuronRegistered.is(event))
    .map((event) => ({
      netuid: event.data[0].toNumber(),
      uid: event.data[1].toNumber(),
      hotkey: event.data[2].toString(),
    }));
  const ours = registered.find((e) => e.netuid === netuid && e.hotkey === hotkey.address);
  if (!ours) {
    fail(`no NeuronRegistered(${netuid}, _, ${hotkey.address}) in block ${blockHash.toHex()}: ${JSON.stringify(registered)}`);
  }
  const at = await api.at(blockHash);
  const uid = await at.query.subtensorModule.uids(netuid, hotkey.address);
  if (uid.isNone || uid.unwrap().toNumber() !== ours.uid) {
    fail(`Uids(${netuid}, ${hotkey.address}) is ${uid.toString()}, the event said ${ours.uid}`);
  }
  console.log(
    `registered hotkey ${hotkey.address} on subnet ${netuid} as uid ${ours.uid} in block ${blockHash.toHex()}`,
  );
  await api.disconnect();
}

const timer = setTimeout(() => fail(`no result within ${DEADLINE_MS / 1000} s`), DEADLINE_MS);
timer.unref();
main().then(
  () => process.exit(0),
  (error) => fail(error?.stack ?? String(error)),
);
