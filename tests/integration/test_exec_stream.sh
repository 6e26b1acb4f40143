#!/usr/bin/env bash
# Output of an exec in bulk, on a real QEMU: what a command writes arrives
# whole and in order (from pipes and from a tty), stdout and stderr apart,
# the exit status after the last byte; and
# a client that stops reading stops the command instead of growing the
# daemon, for a plain exec and an attached session alike.
source "$(dirname "$0")/lib.sh"
shared_image

wsx() { python3 "$(dirname "$0")/ws_exec.py" "$SPRIG_HOME/api.sock" big "$@"; }

sprig create big >/dev/null
dd="dd if=/dev/zero bs=65536 count=512 2>/dev/null"
want=$(eval "$dd" | md5sum | cut -d' ' -f1)

out=$(sprig exec big -- sh -c "$dd" | md5sum | cut -d' ' -f1)
expect_eq "32 MiB through sprig exec arrive whole" "$want" "$out"
out=$(sprig exec big -- sh -c 'seq 1 100000' | md5sum | cut -d' ' -f1)
expect_eq "many small writes arrive whole and in order" "$(seq 1 100000 | md5sum | cut -d' ' -f1)" "$out"
# busybox head writes 4 KiB at a time, so its output sits in the pipe in
# pieces; a byte count that is no multiple of a page ends in a part page.
out=$(sprig exec big -- head -c 5000001 /dev/zero | wc -c)
expect_eq "head -c 5000001 gives 5000001 bytes" "5000001" "$out"

# Both streams at once, each in order, neither losing a line.
script='i=0; while [ $i -lt 1000 ]; do echo out$i; echo err$i >&2; i=$((i+1)); done; exit 7'
set +e
sprig exec big -- sh -c "$script" >"$SPRIG_HOME/o" 2>"$SPRIG_HOME/e"
code=$?
set -e
expect_eq "the exit status comes through" "7" "$code"
expect_eq "stdout whole and in order" "$(seq 0 999 | sed 's/^/out/')" "$(cat "$SPRIG_HOME/o")"
expect_eq "stderr whole and in order" "$(seq 0 999 | sed 's/^/err/')" "$(cat "$SPRIG_HOME/e")"

out=$(sprig exec -t big -- sh -c 'seq 1 50000' | tr -d '\r' | md5sum | cut -d' ' -f1)
expect_eq "a tty's output arrives whole" "$(seq 1 50000 | md5sum | cut -d' ' -f1)" "$out"

# A client that reads nothing for 2 s while the command would write 32 MiB:
# the daemon grows by no more than a few windows (the guest's credit, the
# socket's low-water mark), then everything arrives, then the exit.
pid=$(cat "$SPRIG_HOME/daemon.pid")
read -r grew n sum _ code <<<"$(wsx 2 "$pid" sh -c "$dd; exit 3")"
[ "$grew" -lt 8192 ] && pass "a stalled client does not grow the daemon (${grew} KiB)" ||
	fail "a stalled client grew the daemon by ${grew} KiB"
expect_eq "then the output arrives whole" "33554432 $want" "$n $sum"
expect_eq "and the exit status after it" "3" "$code"

read -r grew n sum _ code <<<"$(WS_EXEC_QUERY=detachable=true wsx 2 "$pid" sh -c "$dd")"
[ "$grew" -lt 8192 ] && pass "a stalled session client does not grow the daemon (${grew} KiB)" ||
	fail "a stalled session client grew the daemon by ${grew} KiB"
expect_eq "then the session's output arrives whole" "33554432 $want 0" "$n $sum $code"

# The agent still answers, and the sprite's serial log shows no complaint
# from the guest's agent nor from QEMU's virtio device.
expect_eq "the sprite still runs commands" "ok" "$(sprig exec big -- echo ok)"
log=$(cat "$SPRIG_HOME"/run/big/serial.log "$SPRIG_HOME"/run/big/qemu.log 2>/dev/null || true)
if grep -qiE 'virtio' <<<"$log"; then
	fail "the guest or QEMU complained: $(grep -iE 'virtio' <<<"$log" | head -3)"
else
	pass "no complaint from the guest's agent or QEMU"
fi

finish
