#!/usr/bin/env bash
# sprite-env: a program inside a sprite lists, makes and restores the
# sprite's checkpoints and keeps it awake, through sprig-init and the agent.
source "$(dirname "$0")/lib.sh"
shared_image

in_dev() { sprig exec dev -- "$@"; }

sprig create dev >/dev/null
expect_contains "the docs for agents are there" "sprite-env checkpoints" \
	"$(in_dev cat /.sprite/docs/agent-context.md)"
expect_contains "no checkpoints at first" "no checkpoints yet" "$(in_dev sprite-env checkpoints)"

in_dev sh -c 'echo precious > /root/data && sync'
expect_eq "create from inside prints the id" "v0" \
	"$(in_dev sprite-env checkpoints create -m 'from inside')"
expect_contains "the host's timeline has it" "from inside" "$(sprig checkpoints dev)"
expect_contains "the list inside marks where it is" "* v0" "$(in_dev sprite-env checkpoints list)"

# Restore from inside: the answer arrives, then the sprite restarts on v0.
in_dev sh -c 'rm /root/data; echo junk > /root/junk; sync'
expect_contains "restore from inside answers first" "restoring v0" \
	"$(in_dev sprite-env checkpoints restore v0)"
for i in $(seq 300); do
	out=$(in_dev cat /root/data 2>/dev/null || true)
	[ "$out" = precious ] && break
	sleep 0.2
done
expect_eq "the disk is v0 again" "precious" "$out"
expect_eq "what came after is gone" "gone" "$(in_dev sh -c '[ -e /root/junk ] && echo there || echo gone')"

# Bad input, answered inside with a status and a reason.
set +e
out=$(in_dev sprite-env 2>&1); code=$?
expect_eq "no command: usage, status 2" "2" "$code"
expect_contains "the usage names the commands" "checkpoints restore ID" "$out"
out=$(in_dev sprite-env launch rockets 2>&1); code=$?
expect_eq "an unknown command: status 2" "2" "$code"
expect_contains "and says which" 'unknown command "launch rockets"' "$out"
out=$(in_dev sprite-env checkpoints restore v99 2>&1); code=$?
expect_eq "an unknown checkpoint: status 1" "1" "$code"
expect_contains "and says so" 'no checkpoint "v99"' "$out"
out=$(in_dev sprite-env keepalive soon 2>&1); code=$?
expect_eq "a bad duration: status 2" "2" "$code"
out=$(in_dev sprite-env checkpoints create --bogus 2>&1); code=$?
expect_eq "a bad option: status 2" "2" "$code"
set -e

# keepalive: awake past its idle time, asleep after the keepalive ends.
sprig config dev idle=2s >/dev/null
expect_eq "keepalive answers" "kept awake for 7s" "$(in_dev sprite-env keepalive 7s)"
sleep 4
expect_eq "awake past its idle time" "running" "$(sprite_state dev)"
for i in $(seq 100); do [ "$(sprite_state dev)" = sleeping ] && break; sleep 0.1; done
expect_eq "asleep once the keepalive ran out" "sleeping" "$(sprite_state dev)"
expect_contains "the event log says who kept it awake" "kept awake for 7s (from inside)" \
	"$(sqlite3 "$SPRIG_HOME/sprig.db" "select message from events where kind = 'keepalive'")"
in_dev sprite-env keepalive 1h >/dev/null
expect_eq "keepalive off" "keepalive off: the sprite sleeps when idle" "$(in_dev sprite-env keepalive off)"
for i in $(seq 60); do [ "$(sprite_state dev)" = sleeping ] && break; sleep 0.1; done
expect_eq "off ends it at once" "sleeping" "$(sprite_state dev)"
finish
