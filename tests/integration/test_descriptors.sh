#!/usr/bin/env bash
# Descriptors: the daemon (started on demand) and its QEMUs outlive the
# command that started them. They must not keep that command's other
# descriptors open, or whoever reads one of its pipes (a CI step, make's
# jobserver, a script's coprocess) waits for an end of file that never comes.
source "$(dirname "$0")/lib.sh"
shared_image

# wait_gone PID SECONDS: whether PID exits within SECONDS.
wait_gone() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# The CLI starts the daemon while the caller has fd 9 on a pipe.
mkfifo "$SPRIG_HOME/pipe1"
cat "$SPRIG_HOME/pipe1" >/dev/null &
reader=$!
exec 9>"$SPRIG_HOME/pipe1"
sprig list >/dev/null
exec 9>&-
if wait_gone "$reader" 5; then
	pass "the daemon the CLI started does not hold the caller's pipe"
else
	fail "the daemon the CLI started holds the caller's pipe open"
	kill "$reader" 2>/dev/null || true
fi
sprig serve --stop >/dev/null

# A daemon run by hand keeps what its shell gave it, but its QEMUs must not.
mkfifo "$SPRIG_HOME/pipe2"
cat "$SPRIG_HOME/pipe2" >/dev/null &
reader=$!
exec 9>"$SPRIG_HOME/pipe2"
sprig serve >>"$SPRIG_HOME/daemon.log" 2>&1 &
exec 9>&-
for ((i = 0; i < 100; i++)); do
	[ -S "$SPRIG_HOME/api.sock" ] && [ -f "$SPRIG_HOME/daemon.pid" ] && break
	sleep 0.1
done
sprig create dev >/dev/null
qemu=$(test_qemu_pids)
if [ -n "$qemu" ] && ! ls -l "/proc/$qemu/fd" 2>/dev/null | grep -q pipe2; then
	pass "QEMU does not inherit the daemon's stray descriptors"
else
	fail "QEMU ($qemu) holds a descriptor the daemon inherited"
fi
sprig destroy dev >/dev/null
sprig serve --stop >/dev/null
if wait_gone "$reader" 5; then
	pass "the pipe ends with the daemon"
else
	fail "the pipe outlives the daemon"
	kill "$reader" 2>/dev/null || true
fi
finish
