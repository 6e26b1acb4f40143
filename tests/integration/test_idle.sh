#!/usr/bin/env bash
# Scale to zero: an idle sprite falls asleep by itself (no QEMU left), an
# open exec session keeps it awake, and any exec wakes it with its processes
# where they were, once, however many clients ask at the same time.
export SPRIG_IDLE=3
source "$(dirname "$0")/lib.sh"
shared_image


# Seconds (to 0.1) from now until sprite $1 shows $2, at most $3 seconds.
wait_state() {
	local t0 t
	t0=$(date +%s%N)
	while [ "$(sprite_state "$1")" != "$2" ]; do
		sleep 0.1
		t=$((($(date +%s%N) - t0) / 100000000))
		[ "$t" -ge $(($3 * 10)) ] && { echo "never"; return; }
	done
	t=$((($(date +%s%N) - t0) / 100000000))
	echo "$((t / 10)).$((t % 10))"
}

sprig create dev >/dev/null
sprig exec dev -- sh -c 'i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.1; done >/dev/null 2>&1 & echo $! > /tmp/pid'
pid=$(sprig exec dev -- cat /tmp/pid)
took=$(wait_state dev sleeping 10)
if [ "$took" != "never" ] && awk -v t="$took" 'BEGIN {exit !(t >= 2.5 && t <= 4.5)}'; then
	pass "asleep about 3 s after the last use ($took s)"
else
	fail "idle sleep after 3 s: took $took s"
fi
expect_eq "no QEMU while asleep" "" "$(test_qemu_pids)"
before=$(cat "$SPRIG_HOME"/ram/*.state >/dev/null && echo saved)
expect_eq "its state is on disk" "saved" "$before"

# An exec wakes it; the background counter is the same process and went on.
expect_eq "exec wakes it: same pid" "$pid" "$(sprig exec dev -- sh -c "kill -0 $pid && echo $pid")"
c1=$(sprig exec dev -- cat /tmp/count)
sleep 0.5
c2=$(sprig exec dev -- cat /tmp/count)
[ "$c2" -gt "$c1" ] && pass "the counter goes on after the wake ($c1 -> $c2)" || fail "counter stuck at $c1 -> $c2"

# An open exec session keeps it awake past the idle time.
sprig exec dev -- sleep 6 &
held=$!
sleep 5
expect_eq "awake while a session is open" "running" "$(sprite_state dev)"
wait $held
took=$(wait_state dev sleeping 10)
[ "$took" != "never" ] && pass "asleep again after the session ended ($took s)" || fail "never slept after the session"

# Eight clients at once on a sleeping sprite: one wake, all served.
for i in 1 2 3 4 5 6 7 8; do
	sprig exec dev -- echo "client $i" >"$SPRIG_HOME/c$i.out" 2>&1 &
done
wait
served=0
for i in 1 2 3 4 5 6 7 8; do
	[ "$(cat "$SPRIG_HOME/c$i.out")" == "client $i" ] && served=$((served + 1))
done
expect_eq "8 concurrent clients served by one wake" 8 "$served"
expect_eq "one QEMU for it" 1 "$(test_qemu_pids | wc -l)"
expect_eq "one wake in the event log" 2 \
	"$(sqlite3 "$SPRIG_HOME/sprig.db" "select count(*) from events where sprite = 'dev' and kind = 'wake'")"

# start on a sleeping sprite wakes it; stop drops its memory for good.
sprig sleep dev >/dev/null
sprig start dev >/dev/null
expect_eq "start wakes a sleeping sprite: same pid" "$pid" "$(sprig exec dev -- sh -c "kill -0 $pid && echo $pid")"
sprig sleep dev >/dev/null
sprig stop dev >/dev/null
expect_eq "stop of a sleeping sprite: stopped" "stopped" "$(sprite_state dev)"
expect_eq "and its saved memory is gone" "" "$(ls "$SPRIG_HOME/ram/")"
sprig start dev >/dev/null
# Its /tmp (a tmpfs the counter wrote to) is new: a fresh boot may well
# give another process the counter's old pid.
expect_eq "the next start is cold" "gone" "$(sprig exec dev -- sh -c "[ -e /tmp/count ] && echo alive || echo gone")"

# A sprite's own idle time: shown, honoured, kept across a daemon restart.
sleep_in() { sprig list | awk -v n="$1" '$1 == n {print $3}'; }
expect_eq "config shows the default" "idle=3s (the daemon's default)" "$(sprig config dev)"
expect_contains "list counts down to sleep" "s" "$(sleep_in dev)"
expect_eq "idle=off is taken" "idle=off" "$(sprig config dev idle=off)"
expect_eq "list says it never sleeps" "off" "$(sleep_in dev)"
sleep 4.5
expect_eq "idle=off: awake past the default" "running" "$(sprite_state dev)"
sprig serve --stop >/dev/null
expect_eq "idle=off is kept across a daemon restart" "idle=off" "$(sprig config dev)"
expect_eq "idle=1m is taken" "idle=1m" "$(sprig config dev idle=1m)"
expect_eq "idle=default goes back" "idle=3s (the daemon's default)" "$(sprig config dev idle=default)"
took=$(wait_state dev sleeping 10)
[ "$took" != "never" ] && pass "asleep by the default again ($took s)" || fail "never slept after idle=default"
sprig wake dev >/dev/null
sprig config dev idle=5s >/dev/null
took=$(wait_state dev sleeping 10)
if [ "$took" != "never" ] && awk -v t="$took" 'BEGIN {exit !(t >= 4 && t <= 6.5)}'; then
	pass "its own idle time honoured ($took s for 5 s)"
else
	fail "idle=5s: slept after $took s"
fi
expect_fail "an unknown sprite" 'no sprite named "nosuch"' sprig config nosuch idle=5m
set +e
out=$(sprig config dev idle=soon 2>&1); code=$?
set -e
expect_eq "a bad duration is a usage error" "2" "$code"
expect_contains "and says what is wanted" "idle must be a duration" "$out"
expect_contains "the API refuses a bad value" "idle_s" "$(curl -sS --unix-socket "$SPRIG_HOME/api.sock" \
	-X POST -d '{"idle_s": -3}' http://sprig/v1/sprites/dev/config)"
finish
