#!/usr/bin/env bash
# Submissions per registration and registrations per block, on the devnet (easy difficulty,
# so the figures are about signing and submitting, not hashing):
#
#   pipelined  one coldkey, 12 targets on 4 PoW subnets (3 hotkeys each; each subnet takes one
#              registration per block): registrations per block, with --in-flight 1 and 8
#   shards     one plan, one coldkey, run as 2 shards (4 hotkeys × 2 subnets) and as 4 shards
#              (8 hotkeys × 2 subnets): submissions, nonce races, seals dropped
#   scale      TARGETS targets over 10 coldkeys in one process: submissions per registration
#
# Usage: benches/submissions.sh [SCENARIO…]   (default: pipelined shards scale)
#        TARGETS=1000 (scale), BLOCK_TIME=1s, IN_FLIGHT="1 8" (pipelined; `default` passes no
#        flag, for builds before --in-flight); REGPOW=path/to/regpow to use a given binary
#        (default: a release build made here). Needs python3 (standard library only).
set -euo pipefail
cd "$(dirname "$0")/.."
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(pipelined shards scale)
block_time=${BLOCK_TIME:-1s}
regpow=${REGPOW:-}
if [ -z "$regpow" ]; then
  cargo build --release --quiet -p regpow
  regpow=target/release/regpow
fi
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
work=$(mktemp -d)
devnet=""
trap '[ -z "$devnet" ] || kill $devnet 2>/dev/null || true; rm -rf "$work"' EXIT

# Hotkey N as an SS58 address (any 32 bytes are a valid hotkey: it never signs).
hotkeys() { # FIRST COUNT
  python3 - "$1" "$2" <<'PY'
import hashlib, sys
ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
def ss58(key):
    body = bytes([42]) + key
    raw = body + hashlib.blake2b(b"SS58PRE" + body, digest_size=64).digest()[:2]
    n, out = int.from_bytes(raw, "big"), ""
    while n:
        n, r = divmod(n, 58)
        out = ALPHABET[r] + out
    return out
first, count = int(sys.argv[1]), int(sys.argv[2])
print(", ".join('"%s"' % ss58(hashlib.sha256(b"regpow-bench-hotkey-%d" % i).digest())
                for i in range(first, first + count)))
PY
}

# A devnet with PoW subnets 1..COUNT at difficulty 2000, each taking PER_BLOCK registrations
# per block and MAX_UIDS uids.
start_devnet() { # COUNT PER_BLOCK MAX_UIDS
  [ -z "$devnet" ] || { kill $devnet 2>/dev/null || true; wait $devnet 2>/dev/null || true; }
  {
    echo "block_time = \"$block_time\""
    for netuid in $(seq "$1"); do
      cat <<TOML
[[subnet]]
netuid = $netuid
pow_enabled = true
difficulty = 2000
min_difficulty = 2000
max_difficulty = 2000
max_registrations_per_block = $2
max_uids = $3
TOML
    done
  } >"$work/devnet.toml"
  : >"$work/devnet.log"
  "$regpow" devnet --config "$work/devnet.toml" --port 0 >"$work/devnet.log" 2>/dev/null &
  devnet=$!
  for _ in $(seq 100); do [ -s "$work/devnet.log" ] && break; sleep 0.1; done
  url=$(head -1 "$work/devnet.log")
}

# Reads farm --json outputs (files) and prints: registrations, blocks, submissions, …
tally() {
  python3 - "$@" <<'PY'
import json, sys
regs, subs, resigned, kept, dropped, blocks = 0, 0, 0, {}, {}, []
for path in sys.argv[1:]:
    for line in open(path):
        l = json.loads(line)
        if "registered" in l:
            regs += 1
            blocks.append(l["registered"]["block"])
        ev = l.get("event")
        if ev == "submitting":
            subs += 1
            resigned += l.get("signature", 1) > 1
        elif ev == "resigning":
            kept[l["kind"]] = kept.get(l["kind"], 0) + 1
        elif ev == "discarded":
            dropped[l["kind"]] = dropped.get(l["kind"], 0) + 1
with_regs = len(set(blocks))
span = (max(blocks) - min(blocks) + 1) if blocks else 0
print(f"registrations {regs}, submissions {subs} ({subs / max(regs, 1):.2f} per registration), "
      f"signed again {resigned}, seals kept after not landing {sum(kept.values())} {kept or ''}, "
      f"seals dropped {sum(dropped.values())} {dropped or ''}")
print(f"registrations per block: {regs / max(with_regs, 1):.2f} over the {with_regs} blocks with one, "
      f"{regs / max(span, 1):.2f} over the span of {span}")
PY
}

plan() { # FILE then job lines on stdin
  { echo "network = \"$url\""; cat; } >"$1"
}

pipelined() {
  for k in ${IN_FLIGHT:-1 8}; do
    flag=()
    [ "$k" = default ] || flag=(--in-flight "$k")
    start_devnet 4 1 256
    {
      for netuid in 1 2 3 4; do
        printf '[[job]]\nnetuids = [%s]\ncoldkey_uri = "//Alice"\nhotkeys = [%s]\n' \
          "$netuid" "$(hotkeys $((netuid * 3)) 3)"
      done
    } | plan "$work/pipelined.toml"
    "$regpow" --json farm --config "$work/pipelined.toml" --backend cpu "${flag[@]}" \
      --max-seconds 300 >"$work/out" 2>/dev/null || true
    echo "pipelined, --in-flight $k: $(tally "$work/out" | tr '\n' ';')"
  done
}

shards() {
  for n in 2 4; do
    start_devnet 2 8 256
    printf '[[job]]\nnetuids = [1, 2]\ncoldkey_uri = "//Alice"\nhotkeys = [%s]\n' \
      "$(hotkeys 100 $((n * 2)))" | plan "$work/shards.toml"
    pids=()
    for i in $(seq 0 $((n - 1))); do
      "$regpow" --json farm --config "$work/shards.toml" --backend cpu --threads 1 \
        --shard "$i/$n" --max-seconds 300 >"$work/out-shard$i" 2>/dev/null &
      pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || true; done
    echo "shards, $n of one coldkey, $((n * 4)) targets: $(tally "$work"/out-shard* | tr '\n' ';')"
    rm -f "$work"/out-shard*
  done
}

scale() {
  targets=${TARGETS:-1000}
  per_coldkey=$((targets / 10))
  start_devnet 2 64 $((targets))
  {
    for c in $(seq 0 9); do
      printf '[[job]]\nnetuids = [1, 2]\ncoldkey_uri = "//Coldkey%s"\nhotkeys = [%s]\n' \
        "$c" "$(hotkeys $((c * per_coldkey)) $((per_coldkey / 2)))"
    done
  } | plan "$work/scale.toml"
  "$regpow" --json farm --config "$work/scale.toml" --backend cpu --max-seconds 900 \
    >"$work/out" 2>/dev/null || true
  echo "scale, $targets targets over 10 coldkeys: $(tally "$work/out" | tr '\n' ';')"
}

for scenario in "${scenarios[@]}"; do
  "$scenario"
done
