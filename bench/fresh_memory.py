#!/usr/bin/env python3
"""fresh_memory.py: microseconds to touch one 4 KiB page of memory the
process never had, as this host gives it now (median of 3 rounds of
8 MiB). On a bare machine this is a fraction of a microsecond; on a VM
whose host takes back memory it has not used lately (as the test
machines' does) it can be 10 or more, and every QEMU start, RAM copy and
first exec pays it for each page it touches. `make bench` prints it
beside the figures it moves, so runs in different states of the host can
be told apart."""
import mmap, statistics, time

PAGE, SIZE = 4096, 8 << 20
rounds = []
for _ in range(3):
    m = mmap.mmap(-1, SIZE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    t0 = time.perf_counter()
    for off in range(0, SIZE, PAGE):
        m[off] = 1
    rounds.append((time.perf_counter() - t0) * 1e6 / (SIZE // PAGE))
    m.close()
print(f"{statistics.median(rounds):.2f}")
