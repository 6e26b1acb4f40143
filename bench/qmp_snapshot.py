#!/usr/bin/env python3
"""qmp_snapshot.py IMAGE_DIR N: the bare cost of QMP's blockdev-snapshot-sync.

Starts a paused QEMU on a qcow2 layer over the image's rootfs, takes N live
disk snapshots in a row through QMP and prints the median in ms. This is the
floor `sprig checkpoint` is compared with in `make bench`."""
import json, os, socket, statistics, subprocess, sys, tempfile, time

img, n = os.path.abspath(sys.argv[1]), int(sys.argv[2])
d = tempfile.mkdtemp(prefix="sprig-bench-")
top = os.path.join(d, "top0.qcow2")
subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b",
                os.path.join(img, "rootfs.img"), top], check=True)
sock = os.path.join(d, "qmp.sock")
qemu = subprocess.Popen(["qemu-system-x86_64", "-S", "-nodefaults", "-no-user-config",
    "-display", "none", "-machine", "q35", "-accel", "tcg", "-m", "64",
    "-blockdev", json.dumps({"driver": "qcow2", "node-name": "n0",
                             "file": {"driver": "file", "filename": top}}),
    "-device", "virtio-blk-pci,drive=n0",
    "-qmp", f"unix:{sock},server=on,wait=off"],
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    for _ in range(500):
        if os.path.exists(sock):
            break
        time.sleep(0.01)
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    f = s.makefile("rwb")
    f.readline()

    def cmd(name, args=None):
        m = {"execute": name}
        if args:
            m["arguments"] = args
        f.write((json.dumps(m) + "\n").encode())
        f.flush()
        while True:
            r = json.loads(f.readline())
            if "event" not in r:
                return r

    cmd("qmp_capabilities")
    samples, node = [], "n0"
    for i in range(1, n + 1):
        new = f"n{i}"
        t0 = time.perf_counter()
        r = cmd("blockdev-snapshot-sync", {"node-name": node, "snapshot-node-name": new,
                "snapshot-file": os.path.join(d, f"top{i}.qcow2"), "format": "qcow2"})
        samples.append((time.perf_counter() - t0) * 1000)
        if "error" in r:
            sys.exit(f"snapshot failed: {r['error']}")
        node = new
    print(f"{statistics.median(samples):.1f}")
finally:
    qemu.kill()
    qemu.wait()
    subprocess.run(["rm", "-rf", d])
