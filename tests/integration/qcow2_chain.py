#!/usr/bin/env python3
"""qcow2_chain.py: reads qcow2 headers directly, for the layer-tree tests.

  qcow2_chain.py check ROOTFS  reads "id|file|parent_file" lines on stdin
                               (parent_file empty: ROOTFS) and prints how many
                               layers' headers name another backing file
                               (each one is told on stderr).
  qcow2_chain.py depth FILE... prints the deepest chain of qcow2 files
                               among FILEs (each counted with its backing files).

One process for a whole tree: qemu-img info per layer took most of these
tests' time. A backing file name is resolved as QEMU does: relative to the
directory of the layer that names it."""
import os
import struct
import sys


def backing(path):
    """The backing file a qcow2 names (resolved), None if it names none,
    or False if PATH is no qcow2."""
    with open(path, "rb") as f:
        head = f.read(20)
        if len(head) < 20 or head[:4] != b"QFI\xfb":
            return False
        off, size = struct.unpack(">QI", head[8:20])
        if off == 0 or size == 0:
            return None
        f.seek(off)
        name = f.read(size).decode()
    return os.path.join(os.path.dirname(path), name)


def depth(path):
    n = 0
    while path:
        b = backing(path)
        if b is False:
            break
        n += 1
        path = b
    return n


if sys.argv[1] == "check":
    rootfs, bad = sys.argv[2], 0
    for line in sys.stdin:
        lid, file, parent = line.rstrip("\n").split("|")
        want = parent or rootfs
        got = backing(file)
        if not got or os.path.realpath(got) != os.path.realpath(want):
            print(f"# layer {lid} ({file}): header says [{got}], the database [{want}]",
                  file=sys.stderr)
            bad += 1
    print(bad)
elif sys.argv[1] == "depth":
    print(max([depth(p) for p in sys.argv[2:]] or [0]))
