#!/usr/bin/env bash
# Head-to-retarget latency: `regpow register --json` against a devnet producing a block every
# 200 ms at a difficulty no device reaches, for each backend asked for. Every `head` event
# carries `retarget_ms`: from the moment regpow received the head to the moment every device
# hashes the new challenge. Prints p50, p95 and max per backend as a Markdown table row.
#
# Usage: benches/retarget.sh [SECONDS] [BACKEND...]   (defaults: 30, cpu wgpu)
#        REGPOW=path/to/regpow to use a given binary (default: a release build made here).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
backends=("$@")
[ ${#backends[@]} -eq 0 ] && backends=(cpu wgpu)
regpow=${REGPOW:-}
if [ -z "$regpow" ]; then
  cargo build --release --quiet -p regpow
  regpow=target/release/regpow
fi
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}

work=$(mktemp -d)
cat >"$work/devnet.toml" <<'TOML'
block_time = "200ms"
[[subnet]]
netuid = 1
pow_enabled = true
difficulty = 18446744073709551615
min_difficulty = 18446744073709551615
max_difficulty = 18446744073709551615
TOML
"$regpow" devnet --config "$work/devnet.toml" --port 0 >"$work/devnet.log" 2>/dev/null &
devnet=$!
trap 'kill $devnet 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 50); do [ -s "$work/devnet.log" ] && break; sleep 0.1; done
url=$(head -1 "$work/devnet.log")

echo "| date | machine | backend | heads | p50 ms | p95 ms | max ms |"
echo "|---|---|---|---|---|---|---|"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
for backend in "${backends[@]}"; do
  "$regpow" --json register --network "$url" --netuid 1 --coldkey-uri //Alice \
    --hotkey 5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty \
    --backend "$backend" --max-seconds "$seconds" >"$work/$backend.jsonl" 2>"$work/$backend.err" || true
  python3 - "$work/$backend.jsonl" "$backend" "$cpu, $(nproc) threads" <<'PY'
import json, sys, datetime
path, backend, machine = sys.argv[1:4]
ms = []
for line in open(path):
    try:
        event = json.loads(line)
    except ValueError:
        continue
    if event.get("event") == "head" and event.get("retarget_ms") is not None:
        ms.append(event["retarget_ms"])
if not ms:
    print(f"| {datetime.date.today()} | {machine} | {backend} | 0 | unavailable | | |")
    sys.exit(0)
ms.sort()
pick = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]
print(f"| {datetime.date.today()} | {machine} | {backend} | {len(ms)} | {pick(0.5):.2f} | {pick(0.95):.2f} | {ms[-1]:.2f} |")
PY
done
