#!/usr/bin/env bash
# Detachable exec sessions on a real QEMU: a command started with
# `sprig exec -d` runs on with no client, is listed, re-attached (its output
# while detached first, then live), killed with its exit code shown; an
# exited one keeps its code until read; unknown ids, bad input and the
# per-sprite limit answer clearly; a sprite put to sleep ends its sessions
# and the list says why.
source "$(dirname "$0")/lib.sh"
shared_image

api() { curl -s --unix-socket "$SPRIG_HOME/api.sock" "$@"; }
code() { curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SPRIG_HOME/api.sock" "$@"; }
ws=(-H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13'
	-H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==')

sprig create sess >/dev/null

id=$(sprig exec -d sess -- sh -c 'i=0; while :; do echo $i; i=$((i+1)); sleep 0.2; done')
expect_eq "exec -d prints the session's id" "ok" "$([[ $id =~ ^[0-9]+$ ]] && echo ok || echo "[$id]")"
sleep 1.5
out=$(sprig sessions sess)
expect_contains "the detached session is listed" "running" "$(grep "^$id " <<<"$out")"
expect_contains "with its command" "sh -c" "$(grep "^$id " <<<"$out")"

t0=$(date +%s%N)
out=$(timeout 3 sprig attach sess "$id" || true)
expect_eq "attach replays from the first line" "0" "$(head -n 1 <<<"$out")"
n=$(wc -l <<<"$out")
[ "$n" -ge 16 ] && pass "attach goes on live ($n lines)" || fail "attach goes on live: only $n lines [$out]"
expect_eq "the lines follow each other" "$(seq 0 $((n - 1)))" "$out"
sleep 0.5
expect_contains "leaving the attach leaves it running" "running" "$(sprig sessions sess | grep "^$id ")"

out=$(sprig sessions kill sess "$id")
expect_eq "kill ends it and shows the code" "session $id ended: exit 143" "$out"
expect_eq "a killed session is gone" "no sessions" "$(sprig sessions sess)"

id2=$(sprig exec -d sess -- sh -c 'sleep 0.5; echo bye; exit 7')
sleep 2.5
expect_contains "an exited session keeps its code" "exited 7" "$(sprig sessions sess | grep "^$id2 ")"
set +e
out=$(timeout 20 sprig attach sess "$id2")
c=$?
set -e
expect_eq "attaching to it replays its output" "bye" "$out"
expect_eq "and exits with its code" 7 "$c"
expect_eq "then it is gone" "no sessions" "$(sprig sessions sess)"

expect_fail "attach to an unknown id" 'no session "999"' sprig attach sess 999
expect_eq "kill of an unknown id is 404" 404 "$(code -X POST http://x/v1/sprites/sess/exec/999/kill)"
expect_eq "attach of an unknown id is 404" 404 "$(code "${ws[@]}" http://x/v1/sprites/sess/exec/999)"
expect_eq "sessions of an unknown sprite is 404" 404 "$(code http://x/v1/sprites/nope/exec)"
expect_eq "a bad max_run_after_disconnect is 400" 400 \
	"$(code "${ws[@]}" 'http://x/v1/sprites/sess/exec?cmd=true&detachable=true&max_run_after_disconnect=soon')"
expect_eq "a bad kill signal is 400" 400 "$(code -X POST 'http://x/v1/sprites/sess/exec/1/kill?signal=NOPE' || true)"
expect_contains "sessions needs a name" "expected NAME" "$(sprig sessions 2>&1 || true)"

for i in $(seq 32); do
	sprig exec -d sess -- sleep 1000 >/dev/null || fail "session $i of 32"
done
expect_fail "the 33rd session is refused" "32 sessions" sprig exec -d sess -- sleep 1000
expect_eq "the limit is a 429" 429 "$(code "${ws[@]}" 'http://x/v1/sprites/sess/exec?cmd=true&detachable=true')"

sprig sleep sess >/dev/null
out=$(sprig sessions sess)
expect_eq "sleep ends every session" 32 "$(grep -c ' ended ' <<<"$out")"
expect_contains "and says why" "stopped or slept" "$out"
expect_contains "the JSON has the reason" '"exited":true' "$(api http://x/v1/sprites/sess/exec)"

sprig destroy sess >/dev/null
finish
