#!/usr/bin/env bash
# Scale to zero survives the daemon dying: killed half way through a sleep,
# the next daemon either completes it or undoes it (the sprite always has
# a process or a complete saved state, and its processes go on either way);
# killed while a sprite sleeps, the sprite wakes as if nothing happened.
source "$(dirname "$0")/lib.sh"
shared_image

db="$SPRIG_HOME/sprig.db"

# The counter process is the same one and still counting.
counting() {
	local what=$1 c1 c2
	expect_eq "$what: the same process" "$pid" "$(sprig exec dev -- sh -c "kill -0 $pid && echo $pid")"
	c1=$(sprig exec dev -- cat /tmp/count)
	sleep 0.5
	c2=$(sprig exec dev -- cat /tmp/count)
	[ "$c2" -gt "$c1" ] && pass "$what: it counts on ($c1 -> $c2)" || fail "$what: counter stuck ($c1 -> $c2)"
}

sprig create dev >/dev/null
sprig exec dev -- sh -c 'i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.1; done >/dev/null 2>&1 & echo $! > /tmp/pid'
pid=$(sprig exec dev -- cat /tmp/pid)

# Cut off after the state was saved and named, before the sleep was
# recorded: undone, the sprite runs on.
crash sleep:state-named sprig sleep dev
expect_eq "state-named: the sprite is running" "running" "$(sprite_state dev)"
expect_eq "state-named: one QEMU" 1 "$(test_qemu_pids | wc -l)"
counting "state-named"

# Cut off after the sleep was recorded, before QEMU quit: completed.
crash sleep:recorded sprig sleep dev
expect_eq "recorded: the sprite is sleeping" "sleeping" "$(sprite_state dev)"
expect_eq "recorded: no QEMU is left" "" "$(test_qemu_pids)"
expect_eq "recorded: no process recorded" "0" "$(sqlite3 "$db" "select pid from sprites where name = 'dev'")"
expect_contains "recorded: the event log says it was completed" "completed" \
	"$(sqlite3 "$db" "select message from events where kind = 'sleep' order by id desc limit 1")"
counting "recorded, then woken"

# The daemon killed -9 while the sprite sleeps: the next one wakes it.
sprig sleep dev >/dev/null
kill -9 "$(cat "$SPRIG_HOME/daemon.pid")"
for i in $(seq 50); do [ -S "$SPRIG_HOME/api.sock" ] && sprig list >/dev/null 2>&1 && break; sleep 0.1; done
expect_eq "after kill -9: still sleeping" "sleeping" "$(sprite_state dev)"
counting "after kill -9, woken"
expect_eq "no saved state is left once awake" "" "$(ls "$SPRIG_HOME/ram" | grep state || true)"

# The guest's clock stopped while it slept: a wake sets it to the real time.
sprig sleep dev >/dev/null
sleep 4
guest=$(sprig exec dev -- date +%s)
host=$(date +%s)
[ $((host - guest)) -le 2 ] && [ $((guest - host)) -le 2 ] &&
	pass "the guest's clock is right after a wake (off by $((host - guest)) s)" ||
	fail "the guest's clock is off by $((host - guest)) s after a 4 s sleep"
finish
