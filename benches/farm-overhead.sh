#!/usr/bin/env bash
# Farm overhead: the hashrate of `regpow farm` running 12 targets (4 hotkeys × 3 subnets,
# at a difficulty nobody reaches, so every target keeps following the chain, reading its
# state and holding a lease for the whole run) against `regpow bench` on the same devices,
# alternated ROUNDS times. The farm's rate is the mean of its per-second hashrate events
# after the first two (start-up excluded, as bench excludes it).
#
# Usage: benches/farm-overhead.sh [SECONDS] [ROUNDS] [BACKEND]   (defaults: 20, 3, cpu)
#        REGPOW=path/to/regpow to use a given binary (default: a release build made here).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
rounds=${2:-3}
backend=${3:-cpu}
regpow=${REGPOW:-}
if [ -z "$regpow" ]; then
  cargo build --release --quiet -p regpow
  regpow=target/release/regpow
fi
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}

work=$(mktemp -d)
{
  echo 'block_time = "1s"'
  for netuid in 1 2 3; do
    cat <<TOML
[[subnet]]
netuid = $netuid
pow_enabled = true
difficulty = 18446744073709551615
min_difficulty = 18446744073709551615
max_difficulty = 18446744073709551615
TOML
  done
} >"$work/devnet.toml"
"$regpow" devnet --config "$work/devnet.toml" --port 0 >"$work/devnet.log" 2>/dev/null &
devnet=$!
trap 'kill $devnet 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 50); do [ -s "$work/devnet.log" ] && break; sleep 0.1; done
url=$(head -1 "$work/devnet.log")
cat >"$work/farm.toml" <<TOML
network = "$url"
[[job]]
netuids = [1, 2, 3]
coldkey_uri = "//Alice"
hotkeys = [
  "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
  "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty",
  "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y",
  "5DAAnrj7VHTznn2AWBemMuyBwZWs6FNFjdyVXUeYum3PTXFy",
]
TOML

bench_rate() {
  "$regpow" --json bench --backend "$backend" --seconds "$seconds" |
    python3 -c 'import json,sys; print(json.loads(sys.stdin.read().splitlines()[-1])["hashrate"])'
}
farm_rate() { # exit 1 is expected: nothing can be registered before the deadline
  { "$regpow" --json farm --config "$work/farm.toml" --backend "$backend" \
    --max-seconds "$((seconds + 2))" 2>/dev/null || true; } | python3 -c '
import json, sys
rates = [e["hashrate"] for e in map(json.loads, sys.stdin) if e.get("event") == "hashrate"]
print(sum(rates[2:]) / max(1, len(rates[2:])))'
}

echo "| round | bench M/s | farm (12 targets) M/s | farm / bench |"
echo "|---|---|---|---|"
total_bench=0
total_farm=0
for round in $(seq "$rounds"); do
  b=$(bench_rate)
  f=$(farm_rate)
  total_bench=$(python3 -c "print($total_bench + $b)")
  total_farm=$(python3 -c "print($total_farm + $f)")
  python3 -c "print(f'| $round | {$b/1e6:.2f} | {$f/1e6:.2f} | {$f/$b:.3f} |')"
done
python3 -c "print(f'| mean | {$total_bench/$rounds/1e6:.2f} | {$total_farm/$rounds/1e6:.2f} | {$total_farm/$total_bench:.3f} |')"
