#!/usr/bin/env python3
"""qemu_resume.py NAME N: the bare cost of resuming a sleeping sprite's QEMU.

Takes the command line of sprite NAME's QEMU while it is awake, puts the
sprite to sleep with `sprig sleep`, then N times starts that same command
line by hand on copies of the sprite's RAM file, saved state and disk top:
QMP, the migration of the saved devices, `cont`, until the guest's agent
answers the host's HELLO. Prints the median ms from spawn to that answer,
the floor `sprig exec` on a sleeping sprite is compared with in
`make bench`. Wakes the sprite again at the end. Needs SPRIG_HOME."""
import array, json, os, re, shutil, socket, sqlite3, statistics, struct
import subprocess, sys, tempfile, time

name, n = sys.argv[1], int(sys.argv[2])
home = os.environ["SPRIG_HOME"]
src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
proto = open(os.path.join(src, "common", "agent_proto.h")).read()
version = int(re.search(r"#define AGENT_VERSION\s+(\d+)", proto).group(1))

sid = sqlite3.connect(os.path.join(home, "sprig.db")).execute(
    "SELECT id FROM sprites WHERE name = ?", (name,)).fetchone()[0]
pid = int(open(os.path.join(home, "run", name, "qemu.pid")).read())
argv = open(f"/proc/{pid}/cmdline", "rb").read().rstrip(b"\0").decode().split("\0")
# The same QEMU: with the preload and glibc tunables the daemon gave it.
env = dict(os.environ)
for kv in open(f"/proc/{pid}/environ", "rb").read().split(b"\0"):
    if kv.startswith((b"LD_PRELOAD=", b"GLIBC_TUNABLES=")):
        k, v = kv.decode().split("=", 1)
        env[k] = v
subprocess.run(["sprig", "sleep", name], check=True, stdout=subprocess.DEVNULL)

d = tempfile.mkdtemp(prefix="sprig-bench-resume-")
ram, state = os.path.join(home, "ram", f"{sid}.ram"), os.path.join(home, "ram", f"{sid}.state")
disk = re.search(r'"filename":"([^"]+)"', argv[argv.index("-blockdev") + 1]).group(1)
for f, to in ((ram, "ram.orig"), (state, "state"), (disk, "disk.orig")):
    subprocess.run(["cp", "--sparse=always", f, os.path.join(d, to)], check=True)


def command(fds):
    """The sprite's command line on the copies, with our sockets."""
    out = []
    for k, a in enumerate(argv):
        if argv[k - 1] == "-kernel" and not a.endswith(".head") and os.path.exists(a + ".head"):
            a += ".head"	# as sprig resumes (vmm/qemu.c)
        a = a.replace(ram, os.path.join(d, "ram")).replace(disk, os.path.join(d, "disk"))
        for cid, fd in fds.items():
            a = re.sub(rf"^socket,id={cid},fd=\d+", f"socket,id={cid},fd={fd}", a)
        out.append(a)
    if "-incoming" not in out:
        out += ["-incoming", "defer"]
    return out


def lines(f):
    while True:
        m = json.loads(f.readline())
        if "error" in m:
            raise SystemExit(f"QMP: {m['error']}")
        yield m


samples = []
try:
    for i in range(n):
        subprocess.run(["cp", "--sparse=always", os.path.join(d, "ram.orig"),
                        os.path.join(d, "ram")], check=True)
        shutil.copy(os.path.join(d, "disk.orig"), os.path.join(d, "disk"))
        listen = {}
        for cid in ("qmp", "agent", "console"):
            p = os.path.join(d, f"{cid}{i}.sock")
            listen[cid] = socket.socket(socket.AF_UNIX)
            listen[cid].bind(p)
            listen[cid].listen(1)
        fds = {cid: s.fileno() for cid, s in listen.items()}
        t0 = time.perf_counter()
        q = subprocess.Popen(command(fds), pass_fds=list(fds.values()), env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            conns = {}
            for cid in listen:
                conns[cid] = socket.socket(socket.AF_UNIX)
                conns[cid].connect(os.path.join(d, f"{cid}{i}.sock"))
            conns["agent"].sendall(struct.pack("<IIIIQ", 12, 1, 0, version,
                                               int(time.time() * 1000)))
            qmp = conns["qmp"]
            f = qmp.makefile("rb")
            f.readline()
            msgs = lines(f)
            caps = [{"capability": c, "state": True} for c in ("x-ignore-shared", "events")]
            cmds = [{"execute": "qmp_capabilities"},
                    {"execute": "migrate-set-capabilities", "arguments": {"capabilities": caps}}]
            qmp.sendall("".join(json.dumps(c) + "\n" for c in cmds).encode())
            fd = os.open(os.path.join(d, "state"), os.O_RDONLY)
            qmp.sendmsg([(json.dumps({"execute": "getfd", "arguments": {"fdname": "state"}})
                          + "\n").encode()],
                        [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])
            os.close(fd)
            qmp.sendall((json.dumps({"execute": "migrate-incoming",
                                     "arguments": {"uri": "fd:state"}}) + "\n").encode())
            for m in msgs:
                st = m.get("data", {}).get("status") if m.get("event") == "MIGRATION" else None
                if st == "failed":
                    raise SystemExit("the saved state would not load")
                if st == "completed":
                    break
            qmp.sendall(b'{"execute": "cont"}\n')
            conns["agent"].settimeout(30)
            hello = conns["agent"].recv(64)	# the guest's HELLO
            if len(hello) < 12:
                raise SystemExit("the guest's agent did not answer")
            samples.append((time.perf_counter() - t0) * 1000)
        finally:
            q.kill()
            q.wait()
            for s in list(listen.values()):
                s.close()
finally:
    shutil.rmtree(d, ignore_errors=True)
    subprocess.run(["sprig", "wake", name], stdout=subprocess.DEVNULL)
print(f"{statistics.median(samples):.1f}")
