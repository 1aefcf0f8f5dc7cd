#!/usr/bin/env bash
# Side-by-side CPU hashrate: regpow vs the reference client's bittensor_core.pow_mine_cpu,
# on one thread and on every thread, measured on this machine in one run.
#
# Usage: benches/compare.sh [SECONDS]      (default 10 s per measurement)
#        REGPOW=path/to/regpow compares a given binary (default: a release build made here),
#        e.g. two builds of different commits, one after the other.
# Needs: cargo, python3 (the venv with bittensor-core is made in benches/.venv).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
threads=$(nproc)

if [ ! -x benches/.venv/bin/python ]; then
  python3 -m venv benches/.venv
  benches/.venv/bin/pip install --quiet bittensor-core
fi
regpow=${REGPOW:-}
if [ -z "$regpow" ]; then
  cargo build --release --quiet -p regpow
  regpow=target/release/regpow
fi

rate_regpow() { # threads [extra flags] -> seals/s
  local t=$1; shift
  "$regpow" --json bench --backend cpu --threads "$t" --seconds "$seconds" "$@" |
    python3 -c 'import json,sys; print(round(json.load(sys.stdin)["hashrate"]))'
}
rate_reference() { # threads -> seals/s
  benches/.venv/bin/python benches/pow_mine_cpu_rate.py "$1" "$seconds"
}
mhs() { python3 -c "print(f'{$1/1e6:8.2f} M/s')"; }
ratio() { python3 -c "print(f'{$1/$2:5.2f}x')"; }

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
kernel=$("$regpow" --json bench --backend cpu --threads 1 --seconds 0.2 |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["devices"][0]["name"])')
ref_version=$(benches/.venv/bin/python -c 'from importlib.metadata import version; print(version("bittensor-core"))')
echo "machine:   $cpu, $threads logical CPUs"
echo "regpow:    $kernel (best kernel for this CPU)"
echo "reference: bittensor-core $ref_version pow_mine_cpu"
echo "window:    ${seconds}s per measurement, $(date -u +%F)"
echo
printf '%-9s %-14s %-14s %s\n' threads regpow pow_mine_cpu ratio
for t in 1 "$threads"; do
  ours=$(rate_regpow "$t")
  ref=$(rate_reference "$t")
  printf '%-9s %-14s %-14s %s\n' "$t" "$(mhs "$ours")" "$(mhs "$ref")" "$(ratio "$ours" "$ref")"
done
echo
echo "regpow per kernel, 1 thread:"
for k in scalar avx2 avx2-shani avx512; do
  if out=$(rate_regpow 1 --cpu-kernel "$k" 2>/dev/null); then
    printf '  %-10s %s\n' "$k" "$(mhs "$out")"
  else
    printf '  %-10s %s\n' "$k" "not supported by this CPU"
  fi
done
