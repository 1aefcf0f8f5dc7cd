#!/usr/bin/env bash
# Devnet soak: `regpow devnet` with 50 ms blocks for 150 s (3,000 blocks, past the 2,400 block
# hashes the chain keeps and far past the 256 blocks whose state is kept), sampling the
# process's resident memory every 10 s; then a query at a pruned block, which must get the
# node's "State already discarded" error, and one at the head, which must answer.
#
# Usage: benches/devnet-soak.sh [SECONDS] [BLOCK_TIME] [BINARY]
#        (defaults: 150, 50ms, target/release/regpow built here)
# Prints one line per sample and a summary line with the peak; exits 1 if the peak resident
# memory reached 150 MB or the pruned query was answered.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-150}
block_time=${2:-50ms}
regpow=${3:-}
if [ -z "$regpow" ]; then
  cargo build --release --quiet -p regpow
  regpow=target/release/regpow
fi

log=$(mktemp)
"$regpow" devnet --block-time "$block_time" --port 0 >"$log" 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 50); do [ -s "$log" ] && break; sleep 0.1; done
url=$(head -1 "$log")
http=${url/ws:/http:}

rpc() { # method params-json -> the whole JSON answer
  curl -s -H 'Content-Type: application/json' \
    -d "{\"id\":1,\"jsonrpc\":\"2.0\",\"method\":\"$1\",\"params\":$2}" "$http"
}
head_number() { rpc chain_getHeader '[]' | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["result"]["number"],16))'; }
rss_mb() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$pid/status"; }

peak=0
start=$(date +%s)
while :; do
  now=$(( $(date +%s) - start ))
  rss=$(rss_mb)
  peak=$(python3 -c "print(max($peak, $rss))")
  echo "t=${now}s block=$(head_number) rss=${rss} MB"
  [ "$now" -ge "$seconds" ] && break
  sleep 10
done

# System::Number's key; block 10's state is long pruned, the head's is kept.
key=0x26aa394eea5630e07c48ae0c9558cef702a5c1b19ab7a04f536c519aca4983ac
old=$(rpc chain_getBlockHash '[10]' | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"])')
pruned=$(rpc state_getStorage "[\"$key\", \"$old\"]")
current=$(rpc state_getStorage "[\"$key\"]")
echo "query at block 10: $pruned"
echo "query at the head: $current"
echo "summary: $(head_number) blocks in ${seconds}s at $block_time, peak resident memory ${peak} MB"
status=0
python3 -c "import sys; sys.exit(0 if $peak < 150 else 1)" || { echo "FAIL: peak ≥ 150 MB"; status=1; }
grep -q 'State already discarded' <<<"$pruned" || { echo "FAIL: the pruned block was answered"; status=1; }
grep -q '"result":"0x' <<<"$current" || { echo "FAIL: the head was not answered"; status=1; }
exit $status
