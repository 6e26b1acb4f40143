#!/usr/bin/env bash
# The event stream: GET /v1/events lists the log, ?after= what a client
# missed, ?follow=1 streams each event as it happens (what the dashboard
# watches), and a daemon that stops ends the stream rather than leave the
# client hanging.
source "$(dirname "$0")/lib.sh"
shared_image

api() { curl -sS --unix-socket "$SPRIG_HOME/api.sock" "$@"; }

sprig list >/dev/null	# starts the daemon
api -N 'http://sprig/v1/events?follow=1' >"$SPRIG_HOME/stream" &
follower=$!
api -N 'http://sprig/v1/events?follow=1&sprite=other' >"$SPRIG_HOME/other" &
other=$!
sleep 0.3

sprig create dev >/dev/null
# Another process opening and closing the database (as sqlite3 does here)
# must not take the daemon's write-ahead log with it: the daemon keeps its
# locks, and what it writes next is there for everyone.
sqlite3 "$SPRIG_HOME/sprig.db" 'select count(*) from sprites' >/dev/null
sprig checkpoint dev -m "first" >/dev/null
expect_eq "the daemon's writes after another process's visit are on disk" "1" \
	"$(sqlite3 "$SPRIG_HOME/sprig.db" "select count(*) from checkpoints")"
sprig sleep dev >/dev/null
sprig exec dev -- true

log_json=$(api 'http://sprig/v1/events')
kinds=$(jq -r '[.[].kind] | join(" ")' <<<"$log_json")
expect_contains "the log has the create" "create" "$kinds"
expect_contains "the log has the checkpoint" "checkpoint" "$kinds"
expect_contains "the log has the sleep and the wake" "sleep wake" "$kinds"
expect_eq "transient notices are not kept in the log" "0" \
	"$(jq '[.[] | select(.kind == "op")] | length' <<<"$log_json")"

# The stream saw the same, as they happened, with the operations between.
for i in $(seq 50); do grep -q '"kind":"wake"' "$SPRIG_HOME/stream" && break; sleep 0.1; done
stream_kinds=$(jq -r 'select(.id != 0) | .kind' "$SPRIG_HOME/stream" | tr '\n' ' ')
expect_eq "the stream has what the log has, in order" "$kinds " "$stream_kinds"
expect_contains "the stream says what is under way" '"message":"going to sleep"' \
	"$(grep '"kind":"op"' "$SPRIG_HOME/stream")"
expect_eq "a sprite's stream leaves out the others" "" "$(cat "$SPRIG_HOME/other")"

# ?after=: what a client that saw the checkpoint missed.
ckpt_id=$(jq '[.[] | select(.kind == "checkpoint")][0].id' <<<"$log_json")
after=$(api "http://sprig/v1/events?after=$ckpt_id" | jq -r '[.[].kind] | join(" ")')
expect_eq "after the checkpoint: the sleep and the wake" "sleep wake" "$after"
api -N "http://sprig/v1/events?follow=1&after=$ckpt_id" >"$SPRIG_HOME/resumed" &
resumed=$!
sleep 0.3
expect_eq "a follower from an id gets the backlog first" "sleep wake" \
	"$(jq -r '.kind' "$SPRIG_HOME/resumed" | tr '\n' ' ' | sed 's/ $//')"

# sprig events: the log for people, and -f to follow it.
expect_contains "sprig events shows the checkpoint" "checkpoint  v0: first" "$(sprig events)"
expect_contains "sprig events NAME shows that sprite's" "dev" "$(sprig events dev | head -1)"
sprig events -f dev >"$SPRIG_HOME/cli-follow" 2>&1 &
cli_follower=$!
sleep 0.3
sprig checkpoint dev -m second >/dev/null
for i in $(seq 50); do grep -q "v1: second" "$SPRIG_HOME/cli-follow" && break; sleep 0.1; done
expect_contains "sprig events -f prints new events as they happen" "v1: second" \
	"$(cat "$SPRIG_HOME/cli-follow")"

# Bad input.
expect_contains "a bad id is refused" "after must be an event id" \
	"$(api 'http://sprig/v1/events?after=x')"
expect_eq "only GET" "405" \
	"$(api -o /dev/null -w '%{http_code}' -X POST 'http://sprig/v1/events')"

# While the stream is watched, the awake sprite's usage is sampled, told as
# a notice, and shown in its object.
for i in $(seq 60); do grep -q '"kind":"usage"' "$SPRIG_HOME/stream" && break; sleep 0.1; done
expect_contains "usage notices come while the stream is watched" '"kind":"usage"' \
	"$(grep '"kind":"usage"' "$SPRIG_HOME/stream" | head -1)"
usage=$(api http://sprig/v1/sprites/dev | jq -c '.usage')
expect_eq "the sprite shows its CPU" "number" "$(jq -r '.cpu_percent | type' <<<"$usage")"
[ "$(jq '.memory_mb' <<<"$usage")" -gt 50 ] && pass "and its QEMU's memory ($usage)" ||
	fail "memory_mb in $usage"
[ "$(jq '.disk_mb' <<<"$usage")" -ge 1 ] && pass "and its disk" || fail "disk_mb in $usage"

# Stopping the daemon ends every stream.
sprig destroy dev >/dev/null
expect_contains "a destroyed sprite's events are still there" "destroy" "$(sprig events dev)"
expect_fail "events of a name that never was a sprite" 'sprite "nosuch" not found' \
	sprig events nosuch
sprig serve --stop >/dev/null
for pid in $follower $other $resumed $cli_follower; do
	for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		fail "a stream is still open after the daemon stopped"
		kill "$pid"
	fi
done
expect_contains "the stream saw the destroy" '"kind":"destroy"' "$(cat "$SPRIG_HOME/stream")"
expect_contains "sprig events -f says the stream ended" "the daemon ended the stream" \
	"$(cat "$SPRIG_HOME/cli-follow")"
pass "the streams ended with the daemon"
finish
