#!/usr/bin/env bash
# Limits on awake sprites and guest memory: past them, the least recently
# used idle sprite goes to sleep instead of the work being refused; sprites
# in use are left alone.
source "$(dirname "$0")/lib.sh"
shared_image

wait_state() {
	for i in $(seq 100); do [ "$(sprite_state "$1")" = "$2" ] && return 0; sleep 0.1; done
	return 1
}

expect_eq "no limits by default" "max-awake=off
max-memory=off" "$(sprig settings)"
expect_eq "max-awake=2 is taken" "max-awake=2
max-memory=off" "$(sprig settings max-awake=2)"

sprig create a >/dev/null
sprig create b >/dev/null
sprig exec a -- true	# a is now more recently used than b
sprig create c >/dev/null
wait_state b sleeping && pass "the third sprite put the least recently used (b) to sleep" ||
	fail "b is $(sprite_state b) after c was created"
expect_eq "a stays awake" "running" "$(sprite_state a)"
expect_eq "two QEMUs" 2 "$(test_qemu_pids | wc -l)"
expect_contains "the event log says why" "to make room for c" \
	"$(sqlite3 "$SPRIG_HOME/sprig.db" "select message from events where sprite = 'b' and kind = 'idle'")"

# Waking b makes room again: a is now the least recently used.
sprig exec c -- true
sprig exec b -- true
wait_state a sleeping && pass "waking b put a to sleep" || fail "a is $(sprite_state a) after b woke"

# A sprite with a session open is never picked.
sprig exec c -- sleep 8 &
held=$!
sleep 1
sprig exec a -- true
wait_state b sleeping && pass "b (idle) slept for a; c (in a session) did not" ||
	fail "b is $(sprite_state b), c is $(sprite_state c)"
expect_eq "c kept running" "running" "$(sprite_state c)"
wait $held

# The memory limit: 600 MiB holds two 256 MiB sprites.
sprig settings max-awake=off max-memory=600M >/dev/null
expect_eq "max-memory shows in MiB" "max-awake=off
max-memory=600M" "$(sprig settings)"
sprig exec b -- true
sleep 0.5
awake=$(sprig list | awk '$2 == "running"' | wc -l)
expect_eq "at most two 256 MiB sprites awake under 600 MiB" 2 "$awake"

# The settings survive a daemon restart; bad values are refused.
sprig serve --stop >/dev/null
expect_eq "kept across a restart" "max-awake=off
max-memory=600M" "$(sprig settings)"
set +e
out=$(sprig settings max-awake=lots 2>&1); code=$?
set -e
expect_eq "a bad count is a usage error" 2 "$code"
expect_contains "and says what is wanted" "max-awake is a number of sprites or off" "$out"
expect_contains "the API refuses a negative limit" "must be a whole number" \
	"$(curl -sS --unix-socket "$SPRIG_HOME/api.sock" -X POST -d '{"max_awake": -2}' http://sprig/v1/settings)"
finish
