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
row "sprig version, the CLI's own start (ms)" "$(python3 "$(dirname "$0")/median.py" $((RUNS * 6)) sprig version)" ""

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
sprig start "$keep" >/dev/null
row "memory checkpoint, 256 MiB guest (ms)" \
	"$(python3 "$(dirname "$0")/median.py" "$RUNS" sprig checkpoint --memory "$keep")" "<= 250"
mem_v=$(sprig checkpoints "$keep" --json | python3 -c 'import json,sys; print([c["id"] for c in json.load(sys.stdin) if c["memory"]][-1])')
samples=()
for i in $(seq "$RUNS"); do
	t0=$(now_ms)
	sprig restore "$keep" "$mem_v" >/dev/null
	sprig exec "$keep" -- true
	samples+=($(( $(now_ms) - t0 )))
done
row "restore from memory to first exec (ms)" "$(printf '%s\n' "${samples[@]}" | median)" "<= 400"

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
row "sleep, through the CLI (ms)" "$(printf '%s\n' "${samples[@]}" | median)" "<= 100"
row "wake to first exec answered (ms)" "$(printf '%s\n' "${wakes[@]}" | median)" "<= 250"

# Host memory of one idle awake sprite (256 MiB guest).
sleep 5
pid=$(test_qemu_pids | head -1)
rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
row "idle sprite QEMU RSS, 256 MiB guest (MiB)" "$((rss_kb / 1024))" "<= 316"

printf '\nsprig bench (%s, %d cores, median of %d runs)\n' "$accel" "$(nproc)" "$RUNS"
printf '%-44s %12s %12s\n' "figure" "measured" "target"
printf '%s\n' "${rows[@]}"
finish >/dev/null
