# Shared set-up for integration tests: sourced by each tests/integration/test_*.sh.
# Each test gets its own SPRIG_HOME under /tmp and its own daemon; on exit
# the daemon is stopped and any QEMU left under that home is killed by pid.
set -euo pipefail

: "${SPRIG_BUILD:?run through ctest (make test), or set SPRIG_BUILD}"
: "${SPRIG_SOURCE:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export PATH="$SPRIG_BUILD:$PATH"
export SPRIG_HOME
SPRIG_HOME=$(mktemp -d /tmp/sprig-test.XXXXXX)
# Sprites do not fall asleep under tests that do not ask for it (test_idle.sh).
export SPRIG_IDLE=${SPRIG_IDLE:-off}
TEST_NAME=$(basename "$0" .sh)
failures=0

log() { printf '# %s\n' "$*" >&2; }

# The QEMU processes started under this test's home, by pid.
test_qemu_pids() {
	local pid
	for pid in $(pgrep -f "qemu-system" || true); do
		if tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "$SPRIG_HOME/"; then
			echo "$pid"
		fi
	done
}

# A sanitizer build's daemon reports to daemon.log, which no test reads:
# a report there (it is complete once --stop has waited for the daemon to
# exit) fails the test. SPRIG_TEST_KEEP_HOME=1 keeps the home to look at.
# on_exit CMD: runs CMD (a test's own processes: tmux, sshd) first when the
# test ends, before the daemon is stopped; its failure is ignored.
exit_hooks=()
on_exit() { exit_hooks+=("$1"); }

cleanup() {
	local status=$? pids hook
	set +e
	for hook in "${exit_hooks[@]}"; do
		eval "$hook" >/dev/null 2>&1
	done
	sprig serve --stop >/dev/null 2>&1 || true
	pids=$(test_qemu_pids)
	if [ -n "$pids" ]; then
		log "killing QEMU left behind: $pids"
		kill -9 $pids 2>/dev/null || true
	fi
	if [ -f "$SPRIG_HOME/daemon.log" ] &&
	    grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$SPRIG_HOME/daemon.log"; then
		echo "not ok - the daemon's sanitizer report (daemon.log):"
		grep -E -A 40 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$SPRIG_HOME/daemon.log" | head -n 200
		status=1
	fi
	if [ "${SPRIG_TEST_KEEP_HOME:-0}" = 1 ]; then
		log "kept $SPRIG_HOME"
	else
		rm -rf "$SPRIG_HOME"
	fi
	exit "$status"
}
trap cleanup EXIT

fail() {
	printf 'not ok - %s\n' "$*"
	failures=$((failures + 1))
}

pass() { printf 'ok - %s\n' "$*"; }

# sprite_state NAME: the state `sprig list` shows for sprite NAME, or
# nothing if there is no such sprite.
sprite_state() { sprig list | awk -v n="$1" '$1 == n { print $2 }'; }

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
	if [ "$2" == "$3" ]; then pass "$1"; else fail "$1: expected [$2], got [$3]"; fi
}

# expect_contains WHAT NEEDLE HAYSTACK
expect_contains() {
	if [[ "$3" == *"$2"* ]]; then pass "$1"; else fail "$1: [$2] not in [$3]"; fi
}

# expect_fail WHAT EXPECTED-MESSAGE-FRAGMENT COMMAND...: the command fails
# the way the CLI reports an error (status 1) and says what is wrong.
expect_fail() {
	local what=$1 want=$2 out code
	shift 2
	set +e
	out=$(timeout 120 "$@" 2>&1)
	code=$?
	set -e
	if [ "$code" -ne 1 ]; then
		fail "$what: exit status $code, output [$out]"
	else
		expect_contains "$what" "$want" "$out"
	fi
}

# The dashboard in a tmux server of the test's own (tm), on session "dash".
TMUX_SOCK="sprig-test-$$"
tm() { tmux -L "$TMUX_SOCK" "$@"; }
screen() { tm capture-pane -p -t dash; }
keys() { tm send-keys -t dash "$@"; }
type_line() { tm send-keys -t dash -l "$1"; tm send-keys -t dash Enter; }

# wait_screen WHAT PATTERN [SECONDS]: until the dashboard's screen matches
# the extended regular expression PATTERN; passes or fails WHAT, leaving the
# screen in $SCREEN.
wait_screen() {
	local what=$1 pattern=$2 limit=${3:-30} i
	for ((i = 0; i < limit * 5; i++)); do
		SCREEN=$(screen)
		if grep -qE -- "$pattern" <<<"$SCREEN"; then
			pass "$what"
			return 0
		fi
		sleep 0.2
	done
	fail "$what: no [$pattern] on the screen:"
	sed 's/^/#   |/' <<<"$SCREEN"
	return 1
}

# crash POINT COMMAND...: runs COMMAND under a daemon that dies (as if
# killed with SIGKILL) at failpoint POINT, then starts a new daemon, whose
# start-up reconciles what the crash left.
crash() {
	local point=$1 code
	shift
	sprig serve --stop >/dev/null
	set +e
	SPRIG_FAILPOINT=$point "$@" >"$SPRIG_HOME/crash.out" 2>&1
	code=$?
	set -e
	[ "$code" -ne 0 ] && pass "$point: the command saw the daemon die" ||
		fail "$point: the command succeeded although the daemon died: $(cat "$SPRIG_HOME/crash.out")"
	sprig list >/dev/null
}

finish() {
	if [ "$failures" -ne 0 ]; then
		echo "$TEST_NAME: $failures failed"
		if [ -f "$SPRIG_HOME/daemon.log" ]; then
			echo "--- daemon.log"; tail -n 40 "$SPRIG_HOME/daemon.log"
		fi
		exit 1
	fi
	echo "$TEST_NAME: all passed"
}

# The minimal image is built once per build tree and shared by every test
# (read-only: sprites' disks are qcow2 layers over it). The directory name is
# the recipe hash the daemon computes: sha256 of the recipe and sprig-init.
shared_image() {
	local store="$SPRIG_BUILD/test-images/minimal" hash dir
	hash=$(cat "$SPRIG_BUILD/images/minimal.sh" "$SPRIG_BUILD/sprig-init" | sha256sum | cut -c1-16)
	dir="$store/$hash"
	mkdir -p "$store"
	(
		flock 9
		if [ ! -f "$dir/rootfs.img" ]; then
			log "building the minimal image for tests into $dir"
			rm -rf "$dir.tmp"
			mkdir -p "$dir.tmp"
			SPRIG_INIT="$SPRIG_BUILD/sprig-init" bash "$SPRIG_BUILD/images/minimal.sh" "$dir.tmp" >&2
			mv "$dir.tmp" "$dir"
			# Builds of older recipes are no longer used by any test.
			find "$store" -mindepth 1 -maxdepth 1 -type d ! -name "$hash" -exec rm -rf {} +
		fi
	) 9>"$store/.lock"
	mkdir -p "$SPRIG_HOME/images"
	ln -sfn "$store" "$SPRIG_HOME/images/minimal"
}
