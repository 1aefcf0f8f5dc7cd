#!/usr/bin/env python3
"""Hashrate of the reference client's CPU miner, bittensor_core.pow_mine_cpu.

Usage: pow_mine_cpu_rate.py THREADS SECONDS  -> prints seals/s on one line.
pow_mine_cpu releases the GIL, so Python threads run it in parallel like the SDK's workers.
"""
import os
import sys
import threading
import time

import bittensor_core

BATCH = 1 << 20  # the largest batch pow_mine_cpu accepts
UNREACHABLE = 2**64 - 1  # difficulty: no hit, so every call hashes the whole batch


def main():
    threads, seconds = int(sys.argv[1]), float(sys.argv[2])
    prefix = b"subtensor-pow-register-v1" + (1).to_bytes(2, "little") + os.urandom(96)
    deadline = time.perf_counter() + seconds
    counts = [0] * threads

    def worker(i):
        nonce = i << 48
        while time.perf_counter() < deadline:
            assert bittensor_core.pow_mine_cpu(prefix, UNREACHABLE, nonce, BATCH) is None
            nonce += BATCH
            counts[i] += BATCH

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    print(f"{sum(counts) / (time.perf_counter() - started):.0f}")


if __name__ == "__main__":
    main()
