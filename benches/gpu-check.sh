#!/usr/bin/env bash
# One command for a machine with an NVIDIA GPU (any machine works): builds regpow, measures the
# CUDA and wgpu backends with the release build, runs every GPU test suite, and prints a
# Markdown table to paste into benches/RESULTS.md. Stays under 10 minutes: every step has a
# timeout, cut to what is left of the whole run's budget.
#
# Usage: benches/gpu-check.sh [SECONDS]      (hashing time per backend, default 10)
#
#   GPU_CHECK_BUDGET=570   the whole run's budget in seconds (default 570)
#   REGPOW_REQUIRE_GPU=1   every suite runs with it, GPU detected or not (strict). By default
#                          it is set where the hardware is detected: for the CUDA suites when
#                          an NVIDIA GPU is (nvidia-smi, /dev/nvidia*, or CUDA devices), for
#                          the wgpu suites when wgpu lists a real GPU adapter. Elsewhere those
#                          tests skip, and the table says so. With no wgpu adapter at all the
#                          wgpu suites are not run (the solver's fail there by design), unless
#                          strict.
#
# NVRTC: when libnvrtc is not found, `pip install nvidia-cuda-nvrtc-cu12` into target/ci-venv
# and its lib folder on LD_LIBRARY_PATH, as .ci/run does; offline, the table says it is missing.
#
# Output: progress on stderr, the Markdown on stdout (also saved with every log under
# target/gpu-check/<UTC time>/). Exit status: 0 when every step that can run on this machine
# passed, 1 otherwise (a build, a test that ran, a bench on a backend that is present).
# A cold build can take most of the budget: a second run reuses it (or raise GPU_CHECK_BUDGET).
# Needs: cargo, python3, a C/C++ compiler (tests), coreutils' timeout; nvidia-smi if present.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-10}
if ! [[ $seconds =~ ^[0-9]+([.][0-9]+)?$ ]]; then
  echo "usage: benches/gpu-check.sh [SECONDS]" >&2
  exit 2
fi
budget=${GPU_CHECK_BUDGET:-570}
deadline=$((SECONDS + budget))
strict=0
if [ "${REGPOW_REQUIRE_GPU:-}" = 1 ]; then
  strict=1
fi
export CARGO_TERM_COLOR=never
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
  XDG_RUNTIME_DIR=$(mktemp -d)
  export XDG_RUNTIME_DIR
fi

logs=target/gpu-check/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$logs"
meta=$logs/meta.tsv # key<TAB>value, read by the report at the end
: >"$meta"
failures=0

say() { printf '== %s\n' "$*" >&2; }
note() { printf '%s\t%s\n' "$1" "$2" >>"$meta"; }

# step NAME CAP OUT ERR CMD...: CMD with stdout to OUT and stderr to ERR (may be the same
# file), under a timeout of CAP seconds or what is left of the budget. Sets rc: CMD's status,
# 124 when it timed out, 125 when no time was left to start it.
step() {
  local name=$1 cap=$2 out=$3 err=$4
  shift 4
  local left=$((deadline - SECONDS))
  if [ "$left" -lt 20 ]; then
    say "$name: not run, the ${budget}s budget is spent"
    echo "not run: the ${budget}s budget was spent" >"$err"
    rc=125
    return 0
  fi
  local limit=$((cap < left ? cap : left))
  say "$name (timeout ${limit}s)"
  rc=0
  if [ "$out" = "$err" ]; then
    timeout --kill-after=10 "$limit" "$@" >"$out" 2>&1 || rc=$?
  else
    timeout --kill-after=10 "$limit" "$@" >"$out" 2>"$err" || rc=$?
  fi
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    say "$name: timed out after ${limit}s"
    echo "timed out after ${limit}s" >>"$err"
    rc=124
  fi
  return 0
}

fail() { # NAME WHY
  failures=$((failures + 1))
  note failure "$1: $2"
  say "FAILED: $1: $2"
}

json_field() { # FILE PYTHON-EXPRESSION-ON-d: prints it, or nothing when FILE is not JSON
  python3 -c 'import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception:
    sys.exit(0)
v = eval(sys.argv[2])
print("" if v is None else v)' "$1" "$2"
}

# --- release build, for the benches and the device list --------------------------------------
bin=target/release/regpow
have_bin=0
step "release build" 420 "$logs/build-release.log" "$logs/build-release.log" \
  cargo build --release --locked -p regpow
if [ "$rc" -eq 0 ]; then
  have_bin=1
else
  fail "release build" "exit $rc (see $logs/build-release.log)"
fi

devices() { # writes $logs/devices.json from the release build
  : >"$logs/devices.json"
  if [ "$have_bin" = 1 ]; then
    step "devices" 60 "$logs/devices.json" "$logs/devices.err" "$bin" --json devices
    if [ "$rc" -ne 0 ]; then
      fail "regpow devices" "exit $rc: $(tail -n 1 "$logs/devices.err")"
    fi
  fi
}

# --- NVRTC: on LD_LIBRARY_PATH from the pip wheel when it is not found, as .ci/run does ---------
nvrtc_found() {
  if [ "$have_bin" = 1 ]; then
    [ -n "$(json_field "$logs/devices.json" 'd["cuda"]["nvrtc"]')" ]
  else
    local dir dirs
    ldconfig -p 2>/dev/null | grep -q 'libnvrtc\.so\.12' && return 0
    IFS=: read -ra dirs <<<"${LD_LIBRARY_PATH:-}"
    for dir in "${dirs[@]}"; do
      compgen -G "$dir/libnvrtc.so.12*" >/dev/null && return 0
    done
    return 1
  fi
}
devices
nvrtc_source="found (already on the library path)"
if ! nvrtc_found; then
  venv=target/ci-venv
  nvrtc_lib() { "$venv/bin/python" -c 'import nvidia.cuda_nvrtc, os; print(os.path.join(nvidia.cuda_nvrtc.__path__[0], "lib"))' 2>/dev/null; }
  if ! nvrtc_lib >/dev/null; then
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv" >"$logs/nvrtc-pip.log" 2>&1 || true
    if [ -x "$venv/bin/python" ]; then
      # python -m pip, not bin/pip: a copied venv's pip script still names the old python.
      step "pip install nvidia-cuda-nvrtc-cu12" 150 "$logs/nvrtc-pip.log" "$logs/nvrtc-pip.log" \
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --retries 1 \
        --timeout 15 nvidia-cuda-nvrtc-cu12
    fi
  fi
  if lib=$(nvrtc_lib); then
    export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    nvrtc_source="pip wheel nvidia-cuda-nvrtc-cu12 in $venv"
    devices
  else
    nvrtc_source="not found (no libnvrtc.so.12, and pip install nvidia-cuda-nvrtc-cu12 failed: offline?)"
  fi
fi
note nvrtc_source "$nvrtc_source"
nvrtc=0
if nvrtc_found; then
  nvrtc=1
fi

# --- what is here -----------------------------------------------------------------------------
nvidia=0
if command -v nvidia-smi >/dev/null 2>&1; then
  timeout 30 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader \
    >"$logs/nvidia-smi.csv" 2>"$logs/nvidia-smi.err" || true
  if [ -s "$logs/nvidia-smi.csv" ]; then
    nvidia=1
  fi
fi
if compgen -G '/dev/nvidia[0-9]*' >/dev/null; then
  nvidia=1
fi
if [ -n "$(json_field "$logs/devices.json" 'd["cuda"]["devices"] or ""')" ]; then
  nvidia=1
fi
wgpu_any=0
wgpu_gpu=0
if [ -n "$(json_field "$logs/devices.json" 'd["wgpu"] or ""')" ]; then
  wgpu_any=1
fi
if [ "$(json_field "$logs/devices.json" 'any(a["is_gpu"] for a in d["wgpu"])')" = True ]; then
  wgpu_gpu=1
fi
require_cuda=$((strict || nvidia))
require_wgpu=$((strict || wgpu_gpu))
require_nvrtc=0
if [ "${REGPOW_REQUIRE_NVRTC:-}" = 1 ] || [ "$nvrtc" = 1 ] || [ "$nvidia" = 1 ]; then
  require_nvrtc=1
fi
note nvidia "$nvidia"
note require_cuda "$require_cuda"
note require_wgpu "$require_wgpu"
note require_nvrtc "$require_nvrtc"

# --- benches (release build) -----------------------------------------------------------------
for backend in cuda wgpu; do
  out=$logs/bench-$backend.json err=$logs/bench-$backend.err
  if [ "$have_bin" != 1 ]; then
    echo "not run: no release build" >"$err"
    : >"$out"
    continue
  fi
  # The cap leaves room for the first run's NVRTC compile (cached after).
  step "bench $backend ${seconds}s" $((${seconds%%.*} + 150)) "$out" "$err" \
    "$bin" --json bench --backend "$backend" --seconds "$seconds"
  echo "$rc" >"$logs/bench-$backend.rc"
  case $rc in
    0 | 3) ;; # measured; or the backend is not available here (exit 3): the row says why
    125) fail "bench $backend" "not run: the budget was spent" ;;
    *) fail "bench $backend" "exit $rc: $(tail -n 1 "$err")" ;;
  esac
done

# --- GPU test suites (test profile) ------------------------------------------------------------
step "test build: solver" 360 "$logs/build-solver-tests.log" "$logs/build-solver-tests.log" \
  cargo test --locked --no-run -p regpow-solver \
  --test cuda_gpu --test cuda_nvrtc --test cuda_host --test wgpu
solver_built=$rc
step "test build: cli" 360 "$logs/build-cli-tests.log" "$logs/build-cli-tests.log" \
  cargo test --locked --no-run -p regpow --test cuda --test wgpu
cli_built=$rc
[ "$solver_built" -eq 0 ] || fail "test build: solver" "exit $solver_built (see $logs/build-solver-tests.log)"
[ "$cli_built" -eq 0 ] || fail "test build: cli" "exit $cli_built (see $logs/build-cli-tests.log)"

# Each suite: its backend (which REGPOW_REQUIRE_GPU applies), crate, package and test target.
for suite in "cuda solver regpow-solver cuda_gpu" "cuda solver regpow-solver cuda_nvrtc" \
  "cuda solver regpow-solver cuda_host" "cuda cli regpow cuda" \
  "wgpu solver regpow-solver wgpu" "wgpu cli regpow wgpu"; do
  read -r backend crate package test <<<"$suite"
  log=$logs/test-$crate-$test.log
  require=$require_cuda
  if [ "$backend" = wgpu ]; then
    require=$require_wgpu
  fi
  built=$solver_built
  if [ "$crate" = cli ]; then
    built=$cli_built
  fi
  if [ "$built" -ne 0 ]; then
    echo "not run: the $crate test build failed" >"$log"
    note "suite $backend $crate $test" "not run (build failed)"
    continue
  fi
  if [ "$backend" = wgpu ] && [ "$wgpu_any" = 0 ] && [ "$strict" = 0 ]; then
    echo "not run: no wgpu adapter here" >"$log"
    note "suite $backend $crate $test" "not run: no wgpu adapter"
    continue
  fi
  step "test $crate $test (REGPOW_REQUIRE_GPU=$require)" 240 "$log" "$log" \
    env REGPOW_REQUIRE_GPU="$require" REGPOW_REQUIRE_NVRTC="$require_nvrtc" \
    cargo test --locked -p "$package" --test "$test" -- --nocapture
  note "suite $backend $crate $test" "rc=$rc require=$require"
  case $rc in
    0) ;;
    124) fail "$crate $test" "timed out (see $log)" ;;
    125) fail "$crate $test" "not run: the time budget was spent" ;;
    *) fail "$crate $test" "exit $rc (see $log)" ;;
  esac
done

# --- the report ---------------------------------------------------------------------------------
note commit "$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo '+dirty')"
note seconds "$seconds"
python3 - "$logs" >"$logs/report.md" <<'PY'
import collections, csv, datetime, json, os, re, sys

logs = sys.argv[1]
meta = collections.defaultdict(list)
for line in open(os.path.join(logs, "meta.tsv")):
    key, _, value = line.rstrip("\n").partition("\t")
    meta[key].append(value)
one = lambda k, default="": meta[k][-1] if meta[k] else default

def load(name):
    try:
        return json.load(open(os.path.join(logs, name)))
    except (OSError, ValueError):
        return None

def read(name):
    try:
        return open(os.path.join(logs, name)).read()
    except OSError:
        return ""

def rate(h):
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if h >= scale:
            return f"{h / scale:.2f} {unit} seals/s"
    return f"{h:.0f} seals/s"

def cell(s):
    return s.replace("|", "\\|").replace("\n", " ").strip()

devices = load("devices.json") or {}
cuda = devices.get("cuda") or {}
adapters = devices.get("wgpu") or []
smi = [r for r in csv.reader(read("nvidia-smi.csv").splitlines()) if r]

def bench(backend):
    j = load(f"bench-{backend}.json")
    if j:
        per = [d["hashrate"] for d in j["devices"]]
        extra = f" ({', '.join(rate(h) for h in per)})" if len(per) > 1 else ""
        return j, f"{rate(j['hashrate'])}{extra}"
    err = [l for l in read(f"bench-{backend}.err").splitlines() if l.strip()]
    last = err[-1] if err else "no output"
    rc = read(f"bench-{backend}.rc").strip()
    if rc == "3":
        why = re.sub(r"^error: (CUDA unavailable: )?", "", last)
        return None, f"unavailable: {why}"
    if last.startswith("not run"):
        return None, last
    return None, f"failed (exit {rc or '?'}): {last}"

skips = collections.OrderedDict()
panics = {}
def suite(backend, crate, test):
    state = one(f"suite {backend} {crate} {test}")
    name = f"{crate} {test}"
    if not state.startswith("rc="):
        return f"{name}: {state or 'not run'}"
    rc, require = (v.split("=")[1] for v in state.split())
    text = read(f"test-{crate}-{test}.log")
    lines = text.splitlines()
    panics[name] = list(dict.fromkeys(
        lines[i + 1].strip() for i, l in enumerate(lines[:-1]) if " panicked at " in l))
    passed = sum(int(n) for n in re.findall(r"test result: \w+\. (\d+) passed", text))
    failed = sum(int(n) for n in re.findall(r"(\d+) failed;", text))
    skipped = [l.split("skipped: ", 1)[1] for l in text.splitlines() if "skipped: " in l]
    for s in skipped:
        skips.setdefault(re.sub(r" \(REGPOW_REQUIRE_GPU=1 .*\)$", "", s), set()).add(name)
    if rc == "0":
        detail = f"{passed} passed" + (f", {len(skipped)} skipped" if skipped else "")
        return f"{name}: pass ({detail})"
    if rc == "124":
        return f"{name}: FAIL (timed out)"
    if rc == "125":
        return f"{name}: not run (the time budget was spent)"
    return f"{name}: FAIL ({failed} of {passed + failed} failed)" if failed else f"{name}: FAIL (exit {rc})"

now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
rows = []

# CUDA
j, hashrate = bench("cuda")
if cuda.get("devices"):
    names = collections.Counter(f"{d['name']} (compute {d['compute_capability']})" for d in cuda["devices"])
    device = ", ".join(f"{n}× {k}" if n > 1 else k for k, n in names.items())
elif smi:
    names = collections.Counter(r[0].strip() for r in smi)
    device = ", ".join(f"{n}× {k}" if n > 1 else k for k, n in names.items())
else:
    device = "no NVIDIA GPU"
driver = []
if smi:
    driver.append(f"NVIDIA {smi[0][1].strip()}")
if cuda.get("driver"):
    driver.append(f"CUDA {cuda['driver']}")
driver.append(f"NVRTC {cuda['nvrtc']}" if cuda.get("nvrtc") else "no NVRTC")
tests = [suite("cuda", c, t) for c, t in (("solver", "cuda_gpu"), ("solver", "cuda_nvrtc"), ("solver", "cuda_host"), ("cli", "cuda"))]
rows.append((now, device, ", ".join(driver), "cuda", hashrate, " · ".join(tests)))

# wgpu
j, hashrate = bench("wgpu")
used = [d["name"] for d in j["devices"]] if j else []
def adapter_of(name):
    return next((a for a in adapters if name.startswith(a["name"])), None)
if used:
    found = [adapter_of(n) for n in used]
    device = ", ".join(n + ("" if a is None or a["is_gpu"] else " (software, not a GPU)") for n, a in zip(used, found))
    driver = ", ".join(sorted({a["driver"] for a in found if a}))
elif adapters:
    device = ", ".join(f"{a['name']} ({a['api']})" for a in adapters)
    driver = ", ".join(sorted({a["driver"] for a in adapters}))
else:
    device, driver = "no wgpu adapter", "—"
tests = [suite("wgpu", c, t) for c, t in (("solver", "wgpu"), ("cli", "wgpu"))]
rows.append((now, device, driver or "—", "wgpu", hashrate, " · ".join(tests)))

cpu = ""
try:
    cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
except (OSError, StopIteration):
    pass
title = rows[0][1] if cuda.get("devices") or smi else rows[1][1]
print(f"## {now[:10]} · GPU check · {title}")
print()
print(f"`benches/gpu-check.sh {one('seconds')}` at {one('commit')} (release build for the bench, "
      f"test profile for the suites), host CPU {cpu or '?'}, {os.cpu_count()} logical CPUs:")
print()
print("| date (UTC) | device | driver | backend | hashrate | tests |")
print("|---|---|---|---|---|---|")
for r in rows:
    print("| " + " | ".join(cell(c) for c in r) + " |")
print()
req = lambda k: "REGPOW_REQUIRE_GPU=1" if one(k) == "1" else "REGPOW_REQUIRE_GPU=0 (no such hardware detected)"
print(f"- CUDA suites ran with {req('require_cuda')}, wgpu suites with {req('require_wgpu')}; "
      f"REGPOW_REQUIRE_NVRTC={one('require_nvrtc')}; NVRTC: {one('nvrtc_source')}.")
for reason, where in skips.items():
    print(f"- skipped ({', '.join(sorted(where))}): {reason}")
for f in meta["failure"]:
    print(f"- FAILED: {f}")
    for p in panics.get(f.split(":")[0], [])[:3]:
        print(f"  - {p}")
PY
cat "$logs/report.md"
say "logs: $logs"
if [ "$failures" -gt 0 ]; then
  say "$failures step(s) failed"
  exit 1
fi
