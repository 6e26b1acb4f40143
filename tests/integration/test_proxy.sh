#!/usr/bin/env bash
# Forwarded connections on a real QEMU: `sprig proxy` reaches an HTTP server
# and an echo server inside a sprite (bytes both ways, a half-close that
# still gets its answer, a few MiB intact); a missing sprite, a port with
# nothing listening, a malformed first message and a bad port answer
# clearly and leave nothing behind; a client that stops reading does not
# grow the daemon; an open connection keeps the sprite awake past its idle
# time, and a connection to a sleeping sprite wakes it; a stopped one is
# not started.
source "$(dirname "$0")/lib.sh"
shared_image

api() { curl -s --unix-socket "$SPRIG_HOME/api.sock" "$@"; }
sessions() { api http://x/v1/sprites/px | python3 -c 'import json,sys; print(json.load(sys.stdin)["sessions"])'; }
# The list, not the sprite's own GET: a call on the sprite is use.

sprig create px >/dev/null
# Servers that outlive the exec that starts them: httpd, an echo (cat per
# connection), and a firehose (yes per connection).
sprig exec px -- sh -c 'mkdir -p /tmp/www && echo hello from px > /tmp/www/index.html &&
	httpd -p 127.0.0.1:8080 -h /tmp/www &&
	setsid nc -ll -p 9000 -e cat </dev/null >/dev/null 2>&1 &
	setsid nc -ll -p 9001 -e yes </dev/null >/dev/null 2>&1 &'

# start_proxy SPEC: `sprig proxy px SPEC` in the background; $port is
# where it listens.
start_proxy() {
	local i
	sprig proxy px "$1" >"$SPRIG_HOME/proxy.out" 2>"$SPRIG_HOME/proxy.err" &
	proxy_pid=$!
	on_exit "kill $proxy_pid"
	for ((i = 0; i < 100; i++)); do
		port=$(sed -n 's/^Forwarding 127.0.0.1:\([0-9]*\) .*/\1/p' "$SPRIG_HOME/proxy.out")
		[ -n "$port" ] && return 0
		sleep 0.1
	done
	fail "sprig proxy $1 printed no address: $(cat "$SPRIG_HOME/proxy.out" "$SPRIG_HOME/proxy.err")"
	return 1
}
stop_proxy() { kill "$proxy_pid"; wait "$proxy_pid" || true; }

start_proxy 0:8080
expect_contains "proxy says where it listens" "to port 8080 in sprite px" "$(cat "$SPRIG_HOME/proxy.out")"
expect_eq "an HTTP server in the sprite answers through the proxy" "hello from px" \
	"$(curl -s --max-time 20 "http://127.0.0.1:$port/index.html")"
expect_eq "and again, on a new connection" "hello from px" \
	"$(curl -s --max-time 20 "http://127.0.0.1:$port/index.html")"
stop_proxy

# PORT alone: the same port on both ends (a free one here).
p=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sprig exec px -- httpd -p "127.0.0.1:$p" -h /tmp/www
start_proxy "$p"
expect_eq "proxy PORT listens on that port" "$p" "$port"
expect_eq "and reaches the same port in the sprite" "hello from px" \
	"$(curl -s --max-time 20 "http://127.0.0.1:$port/index.html")"
stop_proxy

# Echo: bytes both ways; the local end's half-close reaches cat, whose
# answer still comes back in full.
start_proxy 0:9000
out=$(python3 - "$port" <<'PY'
import hashlib, os, socket, sys, time
data = os.urandom(4 << 20)
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
t0 = time.monotonic()
got = bytearray()
s.setblocking(False)
sent = 0
while True:
    if sent < len(data):
        try:
            sent += s.send(data[sent:sent + 65536])
        except BlockingIOError:
            pass
        if sent == len(data):
            s.shutdown(socket.SHUT_WR)
    try:
        d = s.recv(1 << 20)
        if not d:
            break
        got += d
    except BlockingIOError:
        time.sleep(0.001)
dt = time.monotonic() - t0
ok = hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
print("same" if ok else f"differ ({len(got)} bytes back)")
print(f"# 4 MiB each way through the proxy in {dt:.2f} s ({8 / dt:.1f} MiB/s)", file=sys.stderr)
PY
)
expect_eq "4 MiB sent, half-closed and echoed back intact" "same" "$out"
expect_eq "a closed connection holds the sprite no more" 0 "$(sessions)"
stop_proxy

# Bad input.
expect_fail "proxy to a missing sprite" 'nope' sprig proxy nope 8080
set +e
out=$(sprig proxy px 70000 2>&1); c=$?
set -e
expect_eq "a port over 65535 is a usage error" 2 "$c"
expect_contains "that says what a port is" "not PORT or LOCAL:REMOTE" "$out"
start_proxy 0:9
out=$(curl -s --max-time 20 "http://127.0.0.1:$port/" || echo "curl failed $?")
expect_contains "a port with nothing listening ends the local connection" "curl failed" "$out"
sleep 0.3
expect_contains "and says why" "Connection refused" "$(cat "$SPRIG_HOME/proxy.err")"
expect_eq "leaving nothing behind" 0 "$(sessions)"
stop_proxy
ws() { python3 "$SPRIG_SOURCE/tests/integration/ws_proxy.py" "$SPRIG_HOME/api.sock" "$@"; }
out=$(ws px first 'not json')
expect_contains "a malformed first message is refused" '"status": "error"' "$out"
expect_contains "with a close" "close 1008" "$out"
expect_contains "a port of 0 is refused" "port must be a number from 1 to 65535" \
	"$(ws px first '{"port": 0}')"
expect_contains "bytes before the target are refused" "first message must be text" \
	"$(ws px first 'BIN:hello')"
expect_contains "a refused connection says so" '"error": "connection_refused"' \
	"$(ws px first '{"port": 9}')"
expect_contains "a name the sprite cannot resolve" 'a sprite has no network' \
	"$(ws px first '{"host": "example.com", "port": 80}')"
expect_eq "none of them is left holding the sprite" 0 "$(sessions)"
expect_eq "proxy is a WebSocket route" 400 \
	"$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SPRIG_HOME/api.sock" http://x/v1/sprites/px/proxy)"

# A client that stops reading a firehose: the far end is held back, the
# daemon does not grow.
dpid=$(cat "$SPRIG_HOME/daemon.pid")
read -r growth got < <(ws px stall 9001 3 "$dpid")
[ "$growth" -lt 16384 ] && pass "a stalled reader grows the daemon by $growth KiB only" ||
	fail "a stalled reader grew the daemon by $growth KiB"
expect_eq "and the stream goes on once it reads" 1048576 "$((got >= 1048576 ? 1048576 : got))"

# Idle: an open connection keeps the sprite awake past its idle time;
# once it closes the sprite sleeps, and a new one wakes it.
sprig config px idle=2s >/dev/null
start_proxy 0:9000
exec 7<>"/dev/tcp/127.0.0.1/$port"
echo ping >&7
read -r -t 20 line <&7 || line=
expect_eq "the echo answers" "ping" "$line"
sleep 4
expect_eq "an open forwarded connection keeps the sprite awake" running "$(sprite_state px)"
exec 7>&-
for ((i = 0; i < 100; i++)); do
	[ "$(sprite_state px)" = sleeping ] && break
	sleep 0.1
done
expect_eq "closed, the sprite falls asleep" sleeping "$(sprite_state px)"
exec 7<>"/dev/tcp/127.0.0.1/$port"
echo pong >&7
read -r -t 30 line <&7 || line=
expect_eq "a connection to the sleeping sprite wakes it and gets through" "pong" "$line"
exec 7>&-
stop_proxy

# A stopped sprite is not started by a proxy: the handshake says how.
sprig stop px >/dev/null
out=$(curl -s -w ' %{http_code}' --unix-socket "$SPRIG_HOME/api.sock" -H 'Connection: Upgrade' \
	-H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
	-H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' http://x/v1/sprites/px/proxy)
expect_contains "a proxy to a stopped sprite is 409" " 409" "$out"
expect_contains "and says how to start it" "sprig start px" "$out"

finish
