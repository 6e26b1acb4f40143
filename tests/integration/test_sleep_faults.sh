#!/usr/bin/env bash
# Sleep and wake under faults: a disk too full to save the state keeps the
# sprite awake and says why; QEMU killed during a wake leaves the sprite
# asleep with its memory, and the next wake brings its processes back; a
# disk too full for a running guest's memory stops it and says so.
source "$(dirname "$0")/lib.sh"
shared_image

db="$SPRIG_HOME/sprig.db"
last_error() { sqlite3 "$db" "select message from events where sprite = '$1' and kind = 'error' order by id desc limit 1"; }

# QEMU through a wrapper that, when asked, kills the QEMU of the next wake
# (the one started with -incoming) shortly after it starts.
mkdir -p "$SPRIG_HOME/bin"
cat >"$SPRIG_HOME/bin/qemu" <<EOF
#!/bin/bash
if [[ " \$* " == *" -incoming "* ]] && rm "$SPRIG_HOME/kill-next-wake" 2>/dev/null; then
	(sleep 0.05; kill -9 \$\$) &
fi
exec qemu-system-x86_64 "\$@"
EOF
chmod +x "$SPRIG_HOME/bin/qemu"
export SPRIG_QEMU=$SPRIG_HOME/bin/qemu

sprig create dev >/dev/null
sprig exec dev -- sh -c 'sleep 1000 >/dev/null 2>&1 & echo $! > /tmp/pid'
pid=$(sprig exec dev -- cat /tmp/pid)

# QEMU killed during the wake: still asleep, its state kept; the next wake works.
sprig sleep dev >/dev/null
touch "$SPRIG_HOME/kill-next-wake"
expect_fail "a wake whose QEMU is killed fails, and says so" "still asleep with its memory kept" \
	sprig wake dev
expect_eq "the sprite is still asleep" "sleeping" "$(sprite_state dev)"
expect_contains "the event log says its memory was kept" "still asleep with its memory kept" \
	"$(last_error dev)"
expect_eq "no QEMU is left" "" "$(test_qemu_pids)"
expect_eq "the next wake brings the process back" "alive" \
	"$(sprig exec dev -- sh -c "kill -0 $pid && echo alive")"

# A disk too full for the saved state: the sleep fails, the sprite stays up.
fill_ram_disk() {
	fallocate -l "$(( $(df --output=avail -B1 "$SPRIG_HOME/ram" | tail -1) - 4096 ))" \
		"$SPRIG_HOME/ram/filler" 2>/dev/null ||
		dd if=/dev/zero of="$SPRIG_HOME/ram/filler" bs=1M 2>/dev/null || true
}
if mount -t tmpfs -o size=400m sprig-test "$SPRIG_HOME/ram" 2>/dev/null; then
	trap 'umount -l "$SPRIG_HOME/ram" 2>/dev/null || true; cleanup' EXIT
	sprig stop dev >/dev/null	# its RAM file moves to the new ram dir on start
	sprig start dev >/dev/null
	sprig exec dev -- sh -c 'sleep 1000 >/dev/null 2>&1 & echo $! > /tmp/pid'
	pid=$(sprig exec dev -- cat /tmp/pid)
	# Fill what the guest has not touched, leaving no room for the state.
	fill_ram_disk
	expect_fail "a sleep with a full disk fails" "could not" sprig sleep dev
	rm -f "$SPRIG_HOME/ram/filler"
	expect_eq "the sprite stays awake" "running" "$(sprite_state dev)"
	expect_contains "the event log says why" "could not sleep" "$(last_error dev)"
	expect_eq "its process never stopped" "alive" "$(sprig exec dev -- sh -c "kill -0 $pid && echo alive")"
	expect_eq "no half-written state is left" "" "$(ls "$SPRIG_HOME/ram" | grep -F .state || true)"
	sprig sleep dev >/dev/null
	expect_eq "with room again it sleeps" "sleeping" "$(sprite_state dev)"
	expect_eq "and wakes with its process" "alive" "$(sprig exec dev -- sh -c "kill -0 $pid && echo alive")"

	# A guest that needs memory the full disk has no room for (its RAM
	# file is sparse): its QEMU dies of SIGBUS. The sprite stops with its
	# disk and says the disk is full; once there is room it starts.
	sprig exec dev -- sh -c 'echo kept > /root/kept; sync'
	fill_ram_disk
	set +e
	sprig exec dev -- sh -c 'mkdir -p /mnt/fill && mount -t tmpfs -o size=180m fill /mnt/fill &&
	    dd if=/dev/zero of=/mnt/fill/x bs=1M count=160' >/dev/null 2>&1
	set -e
	rm -f "$SPRIG_HOME/ram/filler"
	expect_eq "a guest out of room for its memory stops" "stopped" "$(sprite_state dev)"
	expect_contains "and says the disk is full" "the disk its memory is on is full" \
		"$(sprig info dev | grep '^error')"
	expect_contains "so does the event log" "the disk its memory is on is full" \
		"$(sqlite3 "$db" "select message from events where sprite = 'dev' and kind = 'exit' order by id desc limit 1")"
	sprig start dev >/dev/null
	expect_eq "with room again it starts, its disk whole" "kept" "$(sprig exec dev -- cat /root/kept)"
	sprig stop dev >/dev/null
else
	log "skipping the full-disk case: cannot mount a tmpfs here (not root?)"
fi
finish
