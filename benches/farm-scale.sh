#!/usr/bin/env bash
# What a farm costs besides hashing as its plan grows: for each plan size, the devnet (in the
# bench's own process, blocks every 1 s, PoW subnets 1..5 at a difficulty one thread does
# not reach) and `regpow farm --threads 1 --json` on a plan of SIZE÷5 hotkeys × 5 subnets
# signed by //Alice. Prints a Markdown table: JSON-RPC requests per head (median, counted by
# the devnet by method), head subscriptions, CPU outside hashing per minute (every thread
# but the hashing ones), hashing CPU, peak RSS, time to the first hash, the farm's hashrate
# and its ratio to `regpow bench --threads 1` measured just before and just after (their mean), and `--json` lines per
# minute.
#
# Usage: benches/farm-scale.sh [SIZE…]          (default: 10 100 1000 10000)
#        MEASURE_SECONDS=40 (measured, per size), WARMUP=10 (not measured: every target starting),
#        BLOCK_TIME=1s, REGPOW=path/to/regpow (default: a release build made here).
#        Extra farm flags: ARGS="--in-flight 4".
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p regpow -p regpow-benches
regpow=${REGPOW:-target/release/regpow}
extra=()
for arg in ${ARGS:-}; do extra+=(--arg "$arg"); done
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10 100 1000 10000)
echo "# $(date -u +%F) · $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) · $(nproc) CPUs · $("$regpow" --version)"
exec target/release/farm-scale --regpow "$regpow" --seconds "${MEASURE_SECONDS:-40}" \
  --warmup "${WARMUP:-10}" --block-time "${BLOCK_TIME:-1s}" "${extra[@]}" "${sizes[@]}"
