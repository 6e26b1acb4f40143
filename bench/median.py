#!/usr/bin/env python3
"""median.py N CMD...: runs CMD N times, prints the median wall time in ms."""
import statistics, subprocess, sys, time

n, cmd = int(sys.argv[1]), sys.argv[2:]
samples = []
for _ in range(n):
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    samples.append((time.perf_counter() - t0) * 1000)
print(f"{statistics.median(samples):.1f}")
