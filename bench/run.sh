#!/usr/bin/env bash
# make bench: medians of the figures the issues name, as a table.
# Runs against a temporary SPRIG_HOME with its own daemon; stops it after.
set -euo pipefail
BUILD=$(realpath "${1:-build}")
export SPRIG_BUILD=$BUILD PATH="$BUILD:$PATH"
RUNS=${BENCH_RUNS:-5}
source "$(dirname "$0")/../tests/integration/lib.sh"
shared_image

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print "-"; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2] + a[NR/2+1]) / 2}'; }

rows=()
row() { rows+=("$(printf '%-44s %12s %12s' "$1" "$2" "$3")"); }

sprig list >/dev/null	# starts the daemon
accel=$(curl -s --unix-socket "$SPRIG_HOME/api.sock" http://localhost/v1/daemon |
	sed -n 's/.*"accel":"\([a-z]*\)".*/\1/p')

# Create to first exec answered.
samples=()
for i in $(seq "$RUNS"); do
	t0=$(now_ms)
	sprig create "b$i" >/dev/null
	sprig exec "b$i" -- true
	samples+=($(( $(now_ms) - t0 )))
	[ "$i" -lt "$RUNS" ] && sprig destroy "b$i" >/dev/null
done
row "create to first exec (ms)" "$(printf '%s\n' "${samples[@]}" | median)" "<= 4000"

# sprig exec NAME -- true, round trip through the CLI.
keep="b$RUNS"
row "sprig exec -- true (ms)" "$(python3 "$(dirname "$0")/median.py" $((RUNS * 6)) sprig exec "$keep" -- true)" "<= 30"
# The CLI's own start against the cheapest process there is, measured the
# same way in the same run (the target: within 2 ms of it).
true_ms=$(python3 "$(dirname "$0")/median.py" $((RUNS * 6)) /bin/true)
row "sprig version, the CLI's own start (ms)" \
	"$(python3 "$(dirname "$0")/median.py" $((RUNS * 6)) sprig version)" \
	"<= $(awk -v t="$true_ms" 'BEGIN {printf "%.1f", t + 2}')"
row "  /bin/true, measured the same way (ms)" "$true_ms" ""

# Agent round trips inside the daemon (no CLI, no HTTP).
probe=$(curl -s --unix-socket "$SPRIG_HOME/api.sock" -X POST "http://localhost/v1/sprites/$keep/probe?n=$((RUNS * 6))")
ping_us=$(sed -n 's/.*"ping_us":\([0-9.]*\).*/\1/p' <<<"$probe")
exec_us=$(sed -n 's/.*"exec_us":\([0-9.]*\).*/\1/p' <<<"$probe")
row "agent ping round trip in the daemon (ms)" "$(awk -v v="${ping_us:-0}" 'BEGIN {printf "%.2f", v/1000}')" ""
row "agent exec of true in the daemon (ms)" "$(awk -v v="${exec_us:-0}" 'BEGIN {printf "%.2f", v/1000}')" "<= 5"

# The timeline: a live disk checkpoint through the CLI, against the bare QMP
# snapshot command on a QEMU of its own.
img=$(dirname "$(ls -t "$SPRIG_HOME"/images/minimal/*/rootfs.img | head -1)")
row "checkpoint (disk, live) via the CLI (ms)" \
	"$(python3 "$(dirname "$0")/median.py" $((RUNS * 4)) sprig checkpoint "$keep")" "<= 30"
row "bare QMP blockdev-snapshot-sync (ms)" "$(python3 "$(dirname "$0")/qmp_snapshot.py" "$img" $((RUNS * 4)))" ""

# Restore (disk) to the first exec answered, against a cold start of the
# same sprite measured here too.
sprig stop "$keep" >/dev/null
samples=()
for i in $(seq "$RUNS"); do
	t0=$(now_ms)
	sprig start "$keep" >/dev/null
	sprig exec "$keep" -- true
	samples+=($(( $(now_ms) - t0 )))
	sprig stop "$keep" >/dev/null
done
cold=$(printf '%s\n' "${samples[@]}" | median)
row "cold start to first exec (ms)" "$cold" ""
sprig start "$keep" >/dev/null
samples=()
for i in $(seq "$RUNS"); do
	t0=$(now_ms)
	sprig restore "$keep" v0 >/dev/null
	sprig exec "$keep" -- true
	samples+=($(( $(now_ms) - t0 )))
done
row "restore (disk) to first exec (ms)" "$(printf '%s\n' "${samples[@]}" | median)" "<= $((${cold%.*} + 300))"

# Memory: a memory checkpoint, and a restore from it to the first exec.
# First what fresh memory costs this host now (bench/fresh_memory.py): it
# moves every figure of this part.
row "host: first touch of a fresh page (us)" "$(python3 "$(dirname "$0")/fresh_memory.py")" ""
sprig start "$keep" >/dev/null
row "memory checkpoint, 256 MiB guest (ms)" \
	"$(python3 "$(dirname "$0")/median.py" "$RUNS" sprig checkpoint --memory "$keep")" "<= 250"
# The same with the sprite left alone for a few seconds first, as a person
# checkpoints: the shown checkpoints are plugged in again meanwhile
# (core/ckptdisks.c), so each checkpoint unplugs them first. On a VM whose
# host takes back free memory (as the test machines' does), this figure
# also depends on what ran before: the first ~1 GiB of RAM copies after
# memory was freed is fast, later ones fault fresh memory in (~100 ms
# against ~350 ms a checkpoint here).
samples=()
for i in $(seq "$RUNS"); do
	sleep 3
	t0=$(now_ms)
	sprig checkpoint --memory "$keep" >/dev/null
	samples+=($(( $(now_ms) - t0 )))
done
row "  the same, each after 3 s idle (ms)" "$(printf '%s\n' "${samples[@]}" | median)" "<= 250"
mem_v=$(sprig checkpoints "$keep" --json | python3 -c 'import json,sys; print([c["id"] for c in json.load(sys.stdin) if c["memory"]][-1])')
samples=()
for i in $(seq "$RUNS"); do
	t0=$(now_ms)
	sprig restore "$keep" "$mem_v" >/dev/null
	sprig exec "$keep" -- true
	samples+=($(( $(now_ms) - t0 )))
done
row "restore from memory to first exec (ms)" "$(printf '%s\n' "${samples[@]}" | median)" "<= 400"

# Fork of the memory checkpoint: a new sprite running the same processes,
# until it answers an exec.
samples=()
for i in $(seq "$RUNS"); do
	t0=$(now_ms)
	sprig fork "$keep@$mem_v" "fm$i" >/dev/null
	sprig exec "fm$i" -- true
	samples+=($(( $(now_ms) - t0 )))
done
for i in $(seq "$RUNS"); do sprig destroy "fm$i" >/dev/null; done
row "fork of a memory checkpoint to first exec (ms)" "$(printf '%s\n' "${samples[@]}" | median)" "<= 500"

# Sleep and wake: by hand, then an exec that wakes it.
samples=()
wakes=()
for i in $(seq "$RUNS"); do
	t0=$(now_ms)
	sprig sleep "$keep" >/dev/null
	samples+=($(( $(now_ms) - t0 )))
	t0=$(now_ms)
	sprig exec "$keep" -- true
	wakes+=($(( $(now_ms) - t0 )))
done
# The same resume by hand: the sprite's own QEMU command line on copies of
# its saved files, from spawn to its agent's answer (the wake's floor).
bare=$(python3 "$(dirname "$0")/qemu_resume.py" "$keep" "$RUNS")
row "sleep, through the CLI (ms)" "$(printf '%s\n' "${samples[@]}" | median)" "<= 100"
row "wake to first exec answered (ms)" "$(printf '%s\n' "${wakes[@]}" | median)" \
	"<= $(awk -v b="$bare" 'BEGIN {printf "%d", (2 * b < 250) ? 2 * b : 250}')"
row "  bare QEMU resume of the same state (ms)" "$bare" ""

# Host memory of one idle awake sprite (256 MiB guest).
sleep 5
pid=$(test_qemu_pids | head -1)
rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
row "idle sprite QEMU RSS, 256 MiB guest (MiB)" "$((rss_kb / 1024))" "<= 316"

printf '\nsprig bench (%s, %d cores, median of %d runs)\n' "$accel" "$(nproc)" "$RUNS"
printf '%-44s %12s %12s\n' "figure" "measured" "target"
printf '%s\n' "${rows[@]}"
finish >/dev/null

# The layer tree (issue 3): checkpoint, restore (disk) and a read workload
# at checkpoint 1 against the same after BENCH_CHECKPOINTS (200) checkpoints
# in a row, each over a file of its own (merging keeps the chain shallow:
# core/merge.c); then forks: sprig fork always boots the new sprite, so the
# disk part (the new top over the checkpoint, what fork does before booting,
# as bench/qcow2_new.c does it) is timed on its own; and the disk a fork
# uses having written nothing.
bench_layers() {
	local n=${BENCH_CHECKPOINTS:-200} s=deep at i file
	local read='echo 3 > /proc/sys/vm/drop_caches; cat /usr/bin/* /usr/lib/*/* /root/c/1 >/dev/null 2>&1; true'
	local out=()
	lrow() { out+=("$(printf '%-44s %12s %12s' "$1" "$2" "$3")"); }
	# A reader that leaves the daemon's WAL alone (tests/integration/layers.sh).
	lsq() { sqlite3 -cmd ".output /dev/null" -cmd ".dbconfig no_ckpt_on_close on" \
		-cmd ".output stdout" "$SPRIG_HOME/sprig.db" "$@"; }
	# The median ms of RUNS runs of the shell snippet $1 (it sees $i),
	# each after the untimed snippet $2.
	lmedian() {
		local i t0 ms=()
		for i in $(seq "$RUNS"); do
			eval "${2:-}"
			t0=$(date +%s%N)
			eval "$1"
			ms+=($(( ($(date +%s%N) - t0) / 1000000 )))
		done
		printf '%s\n' "${ms[@]}" | median
	}
	sprig create "$s" >/dev/null
	sprig exec "$s" -- sh -c 'mkdir -p /root/c; echo 1 > /root/c/1'
	sprig checkpoint "$s" >/dev/null
	for at in 1 "$n"; do
		if [ "$at" != 1 ]; then
			for i in $(seq 2 "$n"); do
				sprig exec "$s" -- sh -c "seq $i $((i + 2000)) > /root/c/$i"
				sprig checkpoint "$s" >/dev/null
			done
		fi
		sprig start "$s" >/dev/null	# waits for a merge under way
		file=$(lsq "select l.file from sprites x join layers l
		    on l.id = x.top_layer_id where x.name = '$s'")
		lrow "top's chain depth at checkpoint $at (files)" \
			"$(qemu-img info -U --backing-chain "$file" | grep -c '^file format: qcow2')" "bounded"
		lrow "read workload at checkpoint $at (ms)" \
			"$(python3 "$(dirname "$0")/median.py" "$RUNS" sprig exec "$s" -- sh -c "$read")" ""
		lrow "checkpoint (disk, live) at checkpoint $at (ms)" \
			"$(python3 "$(dirname "$0")/median.py" "$RUNS" sprig checkpoint "$s")" "<= 30"
		lrow "restore (disk) to exec at checkpoint $at (ms)" \
			"$(lmedian 'sprig restore "$s" v0 >/dev/null; sprig exec "$s" -- true')" ""
	done
	# A live merge: the checkpoint that makes one due, and the wait for
	# the sprite to be idle again (start waits for it).
	lmerge_due() {
		local d
		d=$(qemu-img info -U --backing-chain "$(lsq "select l.file from sprites x join layers l
		    on l.id = x.top_layer_id where x.name = '$s'")" | grep -c '^file format: qcow2')
		while [ "$d" -lt 8 ]; do	# MERGE_MAX_DEPTH, core/merge.h
			sprig checkpoint "$s" >/dev/null
			d=$((d + 1))
		done
	}
	lrow "checkpoint with a live merge, to idle (ms)" \
		"$(lmedian 'sprig checkpoint "$s" >/dev/null; sprig start "$s" >/dev/null' lmerge_due)" ""

	file=$(lsq "select l.file from checkpoints c join layers l
	    on l.id = c.layer_id join sprites x on x.id = c.sprite_id where x.name = '$s' and c.version = 0")
	lrow "fork, disk part only (ms; fork always boots)" \
		"$("$BUILD/bench-qcow2-new" "$file" qcow2 $((RUNS * 4)) "$SPRIG_HOME/layers")" "<= 50"
	lrow "fork with its boot, to running (ms)" "$(lmedian 'sprig fork "$s@v0" "fk$i" >/dev/null')" ""
	file=$(lsq "select l.file from sprites x join layers l
	    on l.id = x.top_layer_id where x.name = 'fk1'")
	sprig stop fk1 >/dev/null
	lrow "disk of a fork that wrote nothing (KiB)" "$(du -k "$file" | cut -f1)" "<= 1024"
	for i in $(seq "$RUNS"); do
		sprig destroy "fk$i" >/dev/null
	done
	sprig destroy "$s" >/dev/null

	printf '\nsprig bench: the layer tree (%s, median of %d runs)\n' "$accel" "$RUNS"
	printf '%-44s %12s %12s\n' "figure" "measured" "target"
	printf '%s\n' "${out[@]}"
}
bench_layers

# Scale to zero (issue 5): BENCH_SPRITES (20) sprites created, put to sleep
# and woken one by one, with the failures counted; what a sleeping sprite
# costs (no process, its touched memory on disk); how long until its state
# is durable (the sleep, then a sync of its RAM file and state).
bench_scale() {
	local n=${BENCH_SPRITES:-20} fails=0 i t0 sleeps=() wakes=() durable=() id out=()
	for i in $(seq "$n"); do
		sprig create "z$i" >/dev/null 2>&1 || fails=$((fails + 1))
	done
	for i in $(seq "$n"); do
		t0=$(now_ms)
		sprig sleep "z$i" >/dev/null 2>&1 || fails=$((fails + 1))
		sleeps+=($(( $(now_ms) - t0 )))
		id=$(sqlite3 "$SPRIG_HOME/sprig.db" "select id from sprites where name = 'z$i'")
		sync "$SPRIG_HOME/ram/$id.ram" "$SPRIG_HOME/ram/$id.state"
		durable+=($(( $(now_ms) - t0 )))
	done
	local procs disk_kb
	# Only these sprites' QEMUs (-name sprig-zN): the first table's sprite
	# is still awake.
	procs=$(for i in $(test_qemu_pids); do tr '\0' ' ' <"/proc/$i/cmdline"; echo; done |
		grep -c 'process=sprig-z[0-9]' || true)
	id=$(sqlite3 "$SPRIG_HOME/sprig.db" "select id from sprites where name = 'z1'")
	disk_kb=$(du -k "$SPRIG_HOME/ram/$id.ram" | cut -f1)
	local fresh
	fresh=$(python3 "$(dirname "$0")/fresh_memory.py")
	for i in $(seq "$n"); do
		t0=$(now_ms)
		[ "$(sprig exec "z$i" -- echo ok 2>&1)" = ok ] || fails=$((fails + 1))
		wakes+=($(( $(now_ms) - t0 )))
		sprig sleep "z$i" >/dev/null 2>&1 || fails=$((fails + 1))
	done
	for i in $(seq "$n"); do sprig destroy "z$i" >/dev/null 2>&1 || true; done
	srow() { out+=("$(printf '%-44s %12s %12s' "$1" "$2" "$3")"); }
	srow "$n sprites created, slept, woken: failures" "$fails" "0"
	srow "sleep via the CLI, $n sprites (ms)" "$(printf '%s\n' "${sleeps[@]}" | median)" "<= 100"
	srow "sleep to state durable on disk (ms)" "$(printf '%s\n' "${durable[@]}" | median)" "<= 1000"
	srow "wake to first exec, $n sprites (ms)" "$(printf '%s\n' "${wakes[@]}" | median)" "<= 250"
	srow "  host: first touch of a fresh page (us)" "$fresh" ""
	srow "QEMU processes while all $n sleep" "$procs" "0"
	srow "disk of one sleeping sprite's RAM (MiB)" "$((disk_kb / 1024))" "<= 256"
	printf '\nsprig bench: scale to zero (%s, %d sprites)\n' "$accel" "$n"
	printf '%-44s %12s %12s\n' "figure" "measured" "target"
	printf '%s\n' "${out[@]}"
}
bench_scale

# The dashboard (issue 4), run in a pty as a person would: start-up to the
# first frame with 100 sprites (against a stand-in for the API: 100 real
# sprites do not fit in this machine under TCG), idle CPU over 10 s against
# the real daemon, a key to its echo in a console, and console throughput:
# the console model and its pane on their own (tests/unit/test_tui_pane), and
# end to end from a sprite's shell, which TCG bounds (`sprig exec` of the
# same output is shown beside it, and what the dashboard's CPU could take).
bench_dashboard() {
	local out=() py fake home pid samples inproc i r idle t0 exec_ms
	drow() { out+=("$(printf '%-44s %12s %12s' "$1" "$2" "$3")"); }
	py=$SPRIG_HOME/dashpty.py
	fake=$SPRIG_HOME/fakeapi.py
	cat >"$py" <<'PY'
# Runs `sprig` (the dashboard) in a pty of 120x40 and measures it:
#   firstframe PATTERN         ms from spawn until PATTERN is drawn
#   idle PATTERN SECONDS       CPU ms and context switches while idle
#   echo PATTERN N             median ms from a key to its echo in a console
#   flood PATTERN BYTES        MB/s of BYTES of console output, to the screen,
#                              and MB per second of the dashboard's CPU
import fcntl, os, pty, re, select, struct, subprocess, sys, termios, time

def spawn():
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = dict(os.environ, TERM="xterm-256color")
    p = subprocess.Popen(["sprig"], stdin=slave, stdout=slave, stderr=subprocess.PIPE, env=env,
                         start_new_session=True, close_fds=True,
                         preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
    os.close(slave)
    return p, master

seen = bytearray()

def wait_for(master, pattern, limit=120.0):
    deadline = time.monotonic() + limit
    rx = re.compile(pattern)
    while True:
        if rx.search(seen):
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        r, _, _ = select.select([master], [], [], left)
        if r:
            try:
                data = os.read(master, 1 << 20)
            except OSError:
                return False
            seen.extend(data)
            if len(seen) > 65536:
                del seen[:-4096]

def drain(master, secs):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        r, _, _ = select.select([master], [], [], max(0, end - time.monotonic()))
        if r:
            try:
                os.read(master, 1 << 20)
            except OSError:
                return

def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    ms = (int(f[11]) + int(f[12])) * 1000 / tck
    sw = 0
    for line in open(f"/proc/{pid}/status"):
        if "ctxt_switches" in line:
            sw += int(line.split()[1])
    return ms, sw

def quit(p, master):
    os.write(master, b"q")
    try:
        p.wait(5)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()

mode, pattern = sys.argv[1], sys.argv[2].encode()
t0 = time.monotonic()
p, master = spawn()
if not wait_for(master, pattern, 60):
    print("-", "no first frame", file=sys.stderr)
    quit(p, master)
    print("-")
    sys.exit(0)
if mode == "firstframe":
    ms = (time.monotonic() - t0) * 1000
    quit(p, master)
    m = re.search(rb"first frame ([0-9.]+) ms", p.stderr.read())
    print("%.1f %s" % (ms, m.group(1).decode() if m else "-"))
    sys.exit(0)
elif mode == "idle":
    secs = float(sys.argv[3])
    drain(master, 2)
    c0, s0 = cpu(p.pid)
    drain(master, secs)
    c1, s1 = cpu(p.pid)
    print("%.0f %d" % (c1 - c0, s1 - s0))
elif mode == "echo":
    # A key typed into a console until its echo is drawn: the sprite's own
    # round trip plus the dashboard's.
    os.write(master, b"\r")
    if not wait_for(master, rb"root@[^ ]*#", 120):
        print("-")
        quit(p, master)
        sys.exit(0)
    drain(master, 1)
    samples = []
    for i in range(int(sys.argv[3])):
        t = time.monotonic()
        os.write(master, b"x")
        r, _, _ = select.select([master], [], [], 5)
        if r:
            os.read(master, 1 << 20)
            samples.append((time.monotonic() - t) * 1000)
        drain(master, 0.1)
    os.write(master, b"\x15\x02")
    samples.sort()
    print("%.1f" % samples[len(samples) // 2] if samples else "-")
elif mode == "flood":
    nbytes = int(sys.argv[3])
    os.write(master, b"\r")
    if not wait_for(master, rb"root@[^ ]*#", 120):
        print("- -")
        quit(p, master)
        sys.exit(0)
    drain(master, 1)
    seen.clear()
    # A marker of this run only: the screen may still show an earlier
    # run's, and the echoed command line shows the sum unexpanded.
    mark = int.from_bytes(os.urandom(3), "big")
    # C-u first: whatever an earlier run left on the shell's line would
    # run with it ("xxxhead: not found" ends at once).
    cmd = "\x15head -c %d /dev/zero | tr '\\0' x; echo; echo END-$((%d+2))\r" % (nbytes, mark)
    os.write(master, cmd.encode())
    t = time.monotonic()
    c0, _ = cpu(p.pid)
    ok = wait_for(master, b"END-%d" % (mark + 2), 600)
    el = time.monotonic() - t
    c1, _ = cpu(p.pid)
    # The rate seen, and what the dashboard could take at its CPU cost.
    print("%.1f %.1f" % (nbytes / el / 1e6, nbytes / max(c1 - c0, 1) / 1e3) if ok else "- -")
    os.write(master, b"\x02")
quit(p, master)
PY
	cat >"$fake" <<'PY'
# A stand-in for the daemon's API on a unix socket, with N sprites: enough
# for the dashboard to draw its first frame (the list, an empty timeline,
# an event stream that stays open and quiet).
import http.server, json, os, socketserver, sys, threading, time

sock, n = sys.argv[1], int(sys.argv[2])
sprites = [{"id": "spr_%d" % i, "name": "s%03d" % i, "status": ["running", "sleeping", "stopped"][i % 3],
            "image": "minimal", "origin": "minimal", "config": {"ram_mb": 256, "cpus": 1},
            "checkpoint": None, "last_error": None, "idle_s": 0, "sleep_in_s": None,
            "operation": None, "sessions": 0} for i in range(n)]

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def address_string(self): return "local"
    def send(self, obj):
        b = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def do_GET(self):
        p = self.path
        if p.startswith("/v1/events?follow"):
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            while True:
                time.sleep(3600)
        if p.startswith("/v1/events"):
            return self.send([])
        if p == "/v1/sprites":
            return self.send({"sprites": sprites, "has_more": False})
        if p == "/v1/daemon":
            return self.send({"version": "fake", "accel": "fake", "pid": os.getpid()})
        if p.endswith("/checkpoints"):
            return self.send([])
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

class S(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    def handle_error(self, *a): pass	# a client that quits mid-answer

if os.path.exists(sock):
    os.unlink(sock)
S(sock, H).serve_forever()
PY
	home=$(mktemp -d /tmp/sprig-bench-dash.XXXXXX)
	python3 "$fake" "$home/api.sock" 100 &
	pid=$!
	for i in $(seq 50); do [ -S "$home/api.sock" ] && break; sleep 0.1; done
	samples=() inproc=()
	for i in $(seq "$RUNS"); do
		r=$(SPRIG_HOME=$home SPRIG_NO_AUTOSTART=1 SPRIG_DASHBOARD_TIMING=1 python3 "$py" firstframe '100 sprites')
		samples+=("${r%% *}")
		inproc+=("${r##* }")
	done
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	rm -rf "$home"
	drow "first frame, 100 sprites, from spawn (ms)" "$(printf '%s\n' "${samples[@]}" | median)" "<= 100"
	drow "  of which in the dashboard, from main (ms)" "$(printf '%s\n' "${inproc[@]}" | median)" ""

	sprig create aaa-dash >/dev/null
	idle=$(python3 "$py" idle 'aaa-dash' 10)
	drow "dashboard idle over 10 s: CPU (ms)" "${idle%% *}" "0"
	drow "dashboard idle over 10 s: wake-ups (ctx sw)" "${idle##* }" ""

	samples=()
	for i in $(seq "$RUNS"); do
		samples+=("$(SPRIG_BENCH_CONSOLE_MB=50 "$BUILD/tests/test_tui_pane")")
	done
	drow "console model + pane, 50 MB (MB/s)" "$(printf '%s\n' "${samples[@]}" | median)" ">= 20"
	drow "console: a key to its echo on screen (ms)" "$(python3 "$py" echo 'aaa-dash' 21)" "<= 20"
	r=$(python3 "$py" flood 'aaa-dash' 50000000)
	drow "console from a sprite's shell, 50 MB (MB/s)" "${r%% *}" ""
	drow "  the dashboard's CPU: MB per CPU second" "${r##* }" ">= 20"
	t0=$(now_ms)
	sprig exec aaa-dash -- sh -c "head -c 50000000 /dev/zero | tr '\\0' x" >/dev/null
	exec_ms=$(( $(now_ms) - t0 ))
	drow "  the same through sprig exec (MB/s)" "$(awk -v ms="$exec_ms" 'BEGIN {printf "%.1f", 50000 / ms}')" ""
	sprig destroy aaa-dash >/dev/null

	printf '\nsprig bench: the dashboard (%s)\n' "$accel"
	printf '%-44s %12s %12s\n' "figure" "measured" "target"
	printf '%s\n' "${out[@]}"
}
bench_dashboard

# The sandbox API (issue 6): BENCH_SDK_EXECS (200) execs spread over 4
# sprites from 20 concurrent clients through the official SDK (installed in
# the build tree by integration/test_sdk), over TCP with a token, every
# output checked (bench/sdk_execs.mjs). Then one client on one awake sprite
# (bench/sdk_stream.mjs): exec of true, and 50 MB of output read through
# the WebSocket, beside what the same command costs inside the guest alone
# (writing to a pipe that cat empties) and through sprig exec. The daemon is
# restarted with a TCP listener for it, and stopped after.
bench_sdk() {
	local sdk="$BUILD/sdk-tests" port token r out=() node url s=bench-stream mb=$((763 * 65536))
	local dd="dd if=/dev/zero bs=65536 count=763 2>/dev/null" t0 samples
	srow() { out+=("$(printf '%-44s %12s %12s' "$1" "$2" "$3")"); }
	if [ ! -d "$sdk/node_modules/@fly/sprites" ]; then
		srow "SDK execs: not run (run integration/test_sdk first)" "-" ""
	else
		port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		sprig serve --stop >/dev/null 2>&1 || true
		token=$(SPRIG_LISTEN="127.0.0.1:$port" sprig token create "bench-$port")
		r=$(node --experimental-websocket --no-warnings "$(dirname "$0")/sdk_execs.mjs" \
			"http://127.0.0.1:$port" "$token" "$sdk" "${BENCH_SDK_EXECS:-200}" 20 4) ||
			r="- - failed"
		read -r median p99 errors <<<"$r"
		srow "${BENCH_SDK_EXECS:-200} SDK execs, 4 sprites, 20 clients: errors" "$errors" "0"
		srow "  median per exec (ms)" "$median" ""
		srow "  p99 per exec (ms)" "$p99" ""

		node="node --experimental-websocket --no-warnings $(dirname "$0")/sdk_stream.mjs"
		url="http://127.0.0.1:$port"
		sprig create "$s" >/dev/null
		r=$($node "$url" "$token" "$sdk" "$s" true "${BENCH_SDK_TRUE:-100}") || r="- -"
		srow "SDK exec of true, awake sprite (ms)" "${r%% *}" "<= 15"
		srow "  90th percentile, of ${BENCH_SDK_TRUE:-100} in a row (ms)" "${r##* }" ""
		r=$($node "$url" "$token" "$sdk" "$s" output "$mb" "$RUNS") || r="-"
		srow "exec output over WebSocket, 50 MB (MB/s)" "${r%% *}" ">= 50"
		# busybox's time says "real 0m 0.72s" on stderr.
		samples=()
		for i in $(seq "$RUNS"); do
			samples+=("$(sprig exec "$s" -- sh -c "time sh -c '$dd | cat >/dev/null'" 2>&1 |
				awk -v mb="$mb" '/^real/ {sub(/s$/, "", $3); printf "%.1f\n", mb / 1e6 / ($2 * 60 + $3)}')")
		done
		srow "  the command alone in the guest (MB/s)" "$(printf '%s\n' "${samples[@]}" | median)" ""
		samples=()
		for i in $(seq "$RUNS"); do
			t0=$(now_ms)
			sprig exec "$s" -- sh -c "$dd" >/dev/null
			samples+=("$(awk -v ms="$(( $(now_ms) - t0 ))" -v mb="$mb" 'BEGIN {printf "%.1f", mb / 1e3 / ms}')")
		done
		srow "  the same through sprig exec (MB/s)" "$(printf '%s\n' "${samples[@]}" | median)" ""
		sprig destroy "$s" >/dev/null
		sprig token revoke "bench-$port" >/dev/null 2>&1 || true
		sprig serve --stop >/dev/null 2>&1 || true
	fi
	printf '\nsprig bench: the sandbox API (%s)\n' "$accel"
	printf '%-44s %12s %12s\n' "figure" "measured" "target"
	printf '%s\n' "${out[@]}"
}
bench_sdk
