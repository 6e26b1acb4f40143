#!/usr/bin/env bash
# `sprig --host ssh://...`: the CLI and the dashboard against a daemon on
# "another machine", through a real sshd on loopback started for this test
# (its own host key, authorized_keys and pid file in a temporary directory).
# The remote daemon is this test's own, so the sprites are real. HOME is a
# temporary one too: ~/.ssh (known_hosts, the client key) is the test's, and
# the ssh-agent is out of the way.
# Checked: an unknown host key and a changed one are refused with how to add
# it, never accepted; a key the server does not take; a socket where no
# daemon listens; then list, create, exec (streams, status, stdin),
# checkpoint, SPRIG_HOST with the remote's default socket, a console in the
# dashboard and its recovery when the remote daemon restarts or the ssh
# connection breaks; and no tunnel
# directory left behind, even after an error.
source "$(dirname "$0")/lib.sh"
shared_image

SSHD=$(command -v sshd || echo /usr/sbin/sshd)
[ -x "$SSHD" ] || { fail "sshd is not installed (scripts/deps.sh installs openssh-server)"; finish; }
command -v tmux >/dev/null || { fail "tmux is not installed (scripts/deps.sh installs it)"; finish; }

SSH_TMP=$(mktemp -d /tmp/sprig-sshd.XXXXXX)
SSHD_PID=
# tmux (the dashboard) and sshd go first, then lib.sh's cleanup.
remote_cleanup() {
	tm kill-server
	if [ -n "$SSHD_PID" ]; then
		kill "$SSHD_PID"
		wait "$SSHD_PID"
	fi
	rm -rf "$SSH_TMP"
}
on_exit remote_cleanup

export HOME=$SSH_TMP/home
export XDG_RUNTIME_DIR=$SSH_TMP/run	# where the tunnels' sockets go
unset SSH_AUTH_SOCK SPRIG_HOST
mkdir -p "$HOME/.ssh" "$XDG_RUNTIME_DIR"
chmod 700 "$HOME/.ssh" "$XDG_RUNTIME_DIR"
USER_NAME=$(id -un)

ssh-keygen -q -t ed25519 -N '' -C sprig-test-host -f "$SSH_TMP/host_key"
ssh-keygen -q -t ed25519 -N '' -C sprig-test-other -f "$SSH_TMP/other_host_key"
ssh-keygen -q -t ed25519 -N '' -C sprig-test-client -f "$HOME/.ssh/id_ed25519"
cp "$HOME/.ssh/id_ed25519.pub" "$SSH_TMP/authorized_keys"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# SetEnv: the remote's sessions see this test's SPRIG_HOME and this build's
# sprig, as a person's shell would see theirs: for the default socket path
# and for starting the daemon there.
cat >"$SSH_TMP/sshd_config" <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $SSH_TMP/host_key
AuthorizedKeysFile $SSH_TMP/authorized_keys
PidFile $SSH_TMP/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowStreamLocalForwarding yes
StreamLocalBindUnlink yes
SetEnv SPRIG_HOME=$SPRIG_HOME SPRIG_IDLE=off PATH=$SPRIG_BUILD:/usr/local/bin:/usr/bin:/bin
EOF
[ "$(id -u)" -ne 0 ] || mkdir -p /run/sshd	# its privilege separation directory
"$SSHD" -f "$SSH_TMP/sshd_config" -D -e 2>"$SSH_TMP/sshd.log" &
SSHD_PID=$!
for ((i = 0; i < 100; i++)); do
	ssh-keyscan -p "$PORT" 127.0.0.1 >"$SSH_TMP/scanned" 2>/dev/null && [ -s "$SSH_TMP/scanned" ] && break
	sleep 0.1
done
[ -s "$SSH_TMP/scanned" ] || { fail "sshd did not start: $(cat "$SSH_TMP/sshd.log")"; finish; }

HOST="ssh://$USER_NAME@127.0.0.1:$PORT"
URL="$HOST$SPRIG_HOME/api.sock"
sprig list >/dev/null	# the "remote" daemon

# Host keys: nothing known is refused, and stays unknown.
expect_fail "no known_hosts: refused" "can't be established" sprig --host "$URL" list
: >"$HOME/.ssh/known_hosts"
expect_fail "host not in known_hosts: refused" "can't be established" sprig --host "$URL" list
expect_fail "and says how to add it" "ssh-keyscan -p $PORT 127.0.0.1 >> $HOME/.ssh/known_hosts" \
	sprig --host "$URL" list
expect_fail "and shows the key's fingerprint" \
	"$(ssh-keygen -l -f "$SSH_TMP/host_key.pub" | cut -d' ' -f2)" sprig --host "$URL" list
expect_eq "nothing was added to known_hosts" "0" "$(wc -c <"$HOME/.ssh/known_hosts")"
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$SSH_TMP/other_host_key.pub")" >"$HOME/.ssh/known_hosts"
expect_fail "a changed host key: refused" "has CHANGED" sprig --host "$URL" list
expect_fail "and says how to replace it" "ssh-keygen -R '[127.0.0.1]:$PORT'" sprig --host "$URL" list
cp "$SSH_TMP/scanned" "$HOME/.ssh/known_hosts"

# Keys the server does not take; a socket with no daemon; a bad host.
mkdir -p "$SSH_TMP/stranger/.ssh"
ssh-keygen -q -t ed25519 -N '' -f "$SSH_TMP/stranger/.ssh/id_ed25519"
cp "$SSH_TMP/scanned" "$SSH_TMP/stranger/.ssh/known_hosts"
expect_fail "an unauthorized key: refused" "accepted none of our keys" \
	env HOME="$SSH_TMP/stranger" sprig --host "$URL" list
expect_fail "no daemon at the remote socket" \
	"no sprig daemon at $USER_NAME@127.0.0.1:$PORT:/nonexistent/api.sock; start one there with \`sprig serve\`" \
	sprig --host "$HOST/nonexistent/api.sock" list
expect_fail "not an ssh URL" "is not an ssh host" sprig --host "http://127.0.0.1/" list
set +e
out=$(sprig --host "$URL" serve 2>&1)
code=$?
set -e
expect_eq "serve refuses --host" "2" "$code"

# The CLI through the tunnel.
out=$(sprig --host "$URL" list)
expect_contains "list through ssh" "NAME" "$out"
out=$(sprig --host "$URL" create dev 2>&1) || fail "create dev through ssh: $out"
expect_contains "create through ssh" "dev" "$out"
expect_contains "the sprite runs on the remote" "running" "$(sprig list | grep '^dev ')"
expect_contains "list through ssh shows it" "running" "$(sprig --host "$URL" list | grep '^dev ')"
expect_eq "exec through ssh" "hello from afar" "$(sprig --host "$URL" exec dev -- echo hello from afar)"
set +e
sprig --host "$URL" exec dev -- sh -c 'echo out; echo err >&2; exit 7' >"$SSH_TMP/out" 2>"$SSH_TMP/err"
code=$?
set -e
expect_eq "exec's status through ssh" 7 "$code"
expect_eq "exec's stdout through ssh" "out" "$(cat "$SSH_TMP/out")"
expect_eq "exec's stderr through ssh" "err" "$(cat "$SSH_TMP/err")"
big=$(head -c 300000 /dev/urandom | base64 -w 0)
expect_eq "300 KB through stdin and back" "${#big}" \
	"$(printf '%s' "$big" | sprig --host "$URL" exec dev -- wc -c | tr -d ' ')"
expect_eq "1 MB of output" "1048576" \
	"$(sprig --host "$URL" exec dev -- head -c 1048576 /dev/zero | wc -c | tr -d ' ')"
out=$(sprig --host "$URL" checkpoint dev -m "from afar" 2>&1) || fail "checkpoint through ssh: $out"
expect_contains "checkpoint through ssh prints its id" "v" "$out"
expect_contains "the checkpoint is on the remote" "from afar" "$(sprig checkpoints dev)"
expect_fail "an API error through ssh" "nosuch" sprig --host "$URL" info nosuch

# SPRIG_HOST, and the remote's own idea of its socket (no path given).
expect_contains "SPRIG_HOST and the remote's socket" "running" \
	"$(SPRIG_HOST="$HOST" sprig list | grep '^dev ')"
expect_contains "--host wins over SPRIG_HOST" "running" \
	"$(SPRIG_HOST="ssh://nobody@127.0.0.1:1" sprig --host "$URL" list | grep '^dev ')"

# The dashboard, with a console, through the tunnel.
tm -f /dev/null new-session -d -s dash -x 120 -y 40 \
	"sprig --host '$URL'; echo dashboard-exited-\$?; sleep 60"
wait_screen "the dashboard through ssh lists the sprite" "^>?dev +running"
wait_screen "and its timeline" "from afar"
tm send-keys -t dash Enter
wait_screen "a console through ssh opens a shell" "root@dev:.*#" 120
tm send-keys -t dash -l 'echo remote-$((6 * 7))'
tm send-keys -t dash Enter
wait_screen "the console shows the command's output" "^remote-42" 30
tm send-keys -t dash C-b
# The remote daemon goes away and comes back: the ssh session stays.
sprig serve --stop >/dev/null
wait_screen "the remote daemon gone, it says it reconnects" "\[reconnecting\]"
sprig list >/dev/null	# starts the daemon again
wait_screen "and recovers when it is back" "connected to the daemon" 60
# The ssh connection itself dies (its sshd process, a child of ours): the
# next request opens a new one.
for pid in $(pgrep -P "$SSHD_PID"); do kill "$pid"; done
wait_screen "the ssh session gone, it says it reconnects" "\[reconnecting\]"
wait_screen "and recovers over a new session" "connected to the daemon" 60
tm send-keys -t dash q
wait_screen "the dashboard quits with status 0" "dashboard-exited-0"

# Without a path, sprig starts the remote daemon as a local command would.
sprig serve --stop >/dev/null
expect_fail "a path given: no daemon, no start" "no sprig daemon at" sprig --host "$URL" list
expect_contains "no path: the remote daemon is started" "NAME" "$(sprig --host "$HOST" list)"
expect_contains "and runs there" "NAME" "$(SPRIG_NO_AUTOSTART=1 sprig list)"

sprig --host "$URL" destroy dev >/dev/null
expect_eq "destroy through ssh" "" "$(sprig list | grep '^dev ' || true)"
expect_eq "no tunnel directory left behind" "" "$(ls -A "$XDG_RUNTIME_DIR")"
finish
