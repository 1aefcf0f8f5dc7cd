#!/usr/bin/env bash
# Static cost of the CUDA kernel without a GPU: compile seal.cu with NVRTC for an architecture,
# disassemble the CUBIN and count SASS instructions per nonce in search()'s loop, by opcode.
#
# Usage: benches/cuda_sass.sh [ARCH]     (default 90, i.e. sm_90 / H100)
# Needs: cargo, python3; NVRTC, cuobjdump and nvdisasm come from PyPI into benches/.venv-cuda.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:-90}
venv=benches/.venv-cuda
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet nvidia-cuda-nvrtc-cu12 nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm
fi
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
export LD_LIBRARY_PATH="$site/nvidia/cuda_nvrtc/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
bin=$(dirname "$(find "$site/nvidia" -name cuobjdump -type f | head -1)")
out=$(mktemp -d)
cargo run --quiet --release -p regpow-solver --example cuda_cubin -- "$arch" "$out/seal.cubin"
PATH="$bin:$PATH" cuobjdump -sass "$out/seal.cubin" > "$out/seal.sass"
python3 - "$out/seal.sass" <<'PY'
import re, sys
from collections import Counter
text = open(sys.argv[1]).read()
for body in re.split(r"\n\s*Function : ", text)[1:]:
    name = body.split("\n")[0].strip()
    ins = re.findall(r"/\*([0-9a-f]{4,})\*/\s+(@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)", body)
    if name != "search":
        continue
    # The per-nonce loop runs from the backward branch's target to that branch.
    lines = [l for l in body.split("\n") if re.search(r"/\*[0-9a-f]{4,}\*/", l)]
    back = None
    for l in lines:
        m = re.search(r"/\*([0-9a-f]{4,})\*/.*\bBRA\s+0x([0-9a-f]+)", l)
        if m and int(m.group(2), 16) < int(m.group(1), 16):
            back = (int(m.group(2), 16), int(m.group(1), 16))
    start, end = back
    loop = [op.split(".")[0] for off, _, op in ins if start <= int(off, 16) <= end]
    counts = Counter(loop)
    print(f"search(): {len(loop)} SASS instructions per nonce (loop 0x{start:x}..0x{end:x})")
    print("  " + ", ".join(f"{op} {n}" for op, n in counts.most_common(10)))
PY
rm -rf "$out"
