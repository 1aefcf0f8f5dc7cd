#!/usr/bin/env python3
"""Static cost of the CPU kernels in a release build of regpow: instructions per step, split
into vector ALU work, moves (register copies, spills, reloads) and the rest, with the loops
(back-edges) inside each kernel. The Keccak round loop runs 23 times per pass (the 24th round
is computed apart, lane 3 only); the multi-buffer SHA-256 rounds are unrolled.

Usage: cargo build --release -p regpow && python3 benches/cpu_cost.py [target/release/regpow]
"""

import re
import subprocess
import sys

binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/regpow"
symbols = subprocess.run(["nm", "-C", binary], capture_output=True, text=True, check=True).stdout
addresses = sorted(
    (int(line.split()[0], 16), line.split(" ", 2)[2])
    for line in symbols.splitlines()
    if re.match(r"^[0-9a-f]+ [tT] ", line)
)
kernels = [
    (start, addresses[i + 1][0], name.split("::")[-1])
    for i, (start, name) in enumerate(addresses)
    if "cpu::kernel::x86::first_candidate" in name
]
MOVES = re.compile(r"^v?mov|^vmovdq|^vmovap|^vmovup|^vbroadcast|^vpbroadcast|^vinsert|^vextract")
for start, end, name in kernels:
    dump = subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", f"--start-address={start:#x}",
         f"--stop-address={end:#x}", binary],
        capture_output=True, text=True, check=True,
    ).stdout
    instructions = []
    for line in dump.splitlines():
        m = re.match(r"\s+([0-9a-f]+):\s+(\S+)\s*(.*)", line)
        if m:
            instructions.append((int(m.group(1), 16), m.group(2), m.group(3)))

    def split(body):
        vector = [op for _, op, _ in body if op.startswith("v") and not MOVES.match(op)]
        moves = [op for _, op, _ in body if MOVES.match(op)]
        return len(body), len(vector), len(moves)

    total, vector, moves = split(instructions)
    print(f"{name}: {total} instructions ({vector} vector ALU, {moves} moves/broadcasts)")
    for address, op, operand in instructions:
        target = re.match(r"([0-9a-f]+) <", operand)
        if op.startswith("j") and target and int(target.group(1), 16) < address:
            body = [i for i in instructions if int(target.group(1), 16) <= i[0] <= address]
            n, v, m = split(body)
            print(f"  loop {int(target.group(1), 16):#x}..{address:#x}: {n} instructions "
                  f"({v} vector ALU, {m} moves)")
