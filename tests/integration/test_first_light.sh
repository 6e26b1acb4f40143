#!/usr/bin/env bash
# README's first commands, end to end on a real QEMU: create, list, exec with
# separate streams and exit codes, stdin, a tty, stop/start keeping files,
# destroy leaving nothing behind.
source "$(dirname "$0")/lib.sh"
shared_image

out=$(sprig create dev 2>&1) || fail "create dev: $out"
expect_contains "create prints the name" "dev" "$out"

out=$(sprig list)
expect_contains "list has a header" "NAME" "$out"
expect_contains "list shows dev running" "running" "$(grep '^dev ' <<<"$out")"
out=$(sprig list --json)
expect_contains "list --json" '"name":"dev"' "$(tr -d ' \t\n' <<<"$out")"

set +e
sprig exec dev -- sh -c 'echo hi; echo oops >&2; exit 3' >"$SPRIG_HOME/out" 2>"$SPRIG_HOME/err"
code=$?
set -e
expect_eq "exec exit code" 3 "$code"
expect_eq "exec stdout" "hi" "$(cat "$SPRIG_HOME/out")"
expect_eq "exec stderr" "oops" "$(cat "$SPRIG_HOME/err")"

expect_eq "stdin reaches the command" "data" "$(echo data | sprig exec dev -- cat)"
big=$(head -c 300000 /dev/urandom | base64 -w 0)
expect_eq "300 KB through stdin and back" "${#big}" "$(printf '%s' "$big" | sprig exec dev -- wc -c | tr -d ' ')"
expect_eq "hostname is the sprite's name" "dev" "$(sprig exec dev -- hostname)"
expect_eq "env and cwd" "bar /tmp" "$(sprig exec -e FOO=bar -w /tmp dev -- sh -c 'echo $FOO $(pwd)')"

# A terminal: script(1) gives sprig a pty; stty in the guest sees the size.
out=$(script -qec "stty rows 33 cols 101; $SPRIG_BUILD/sprig exec -t dev -- sh -c 'stty size; tty'" /dev/null)
expect_contains "tty size reaches the guest" "33 101" "$out"
expect_contains "the command has a tty" "/dev/pts/" "$out"

# QEMU runs with sprig's preload, which leaves glibc's malloc_trim out
# (vmm/preload/qemu_preload.c says why).
pid=$(test_qemu_pids | head -1)
expect_contains "QEMU gets the preload" "libsprig-qemu-preload.so" \
	"$(tr '\0' '\n' < "/proc/$pid/environ" | grep '^LD_PRELOAD=')"
expect_contains "which QEMU loaded" "libsprig-qemu-preload.so" "$(cat "/proc/$pid/maps")"

sprig exec dev -- sh -c 'echo kept > /root/note; sync'
sprig stop dev >/dev/null
expect_contains "stopped after stop" "stopped" "$(sprig list | grep '^dev ')"
expect_eq "no QEMU after stop" "" "$(test_qemu_pids)"
set +e
out=$(sprig exec dev -- true 2>&1)
code=$?
set -e
expect_eq "exec on a stopped sprite fails" 1 "$code"
expect_contains "and says how to start it" "sprig start dev" "$out"
sprig start dev >/dev/null
expect_eq "files survive stop and start" "kept" "$(sprig exec dev -- cat /root/note)"

layers_before=$(ls "$SPRIG_HOME/layers" | wc -l)
sprig destroy dev
expect_eq "destroy removes the sprite" "" "$(sprig list | grep '^dev ' || true)"
expect_eq "destroy removes its layer" "$((layers_before - 1))" "$(ls "$SPRIG_HOME/layers" | wc -l)"
expect_eq "destroy removes its run dir" "no" "$([ -e "$SPRIG_HOME/run/dev" ] && echo yes || echo no)"
expect_eq "no QEMU after destroy" "" "$(test_qemu_pids)"
finish
