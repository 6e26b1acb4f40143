#!/usr/bin/env bash
# The API on TCP: `sprig serve --listen` serves beside the unix socket; every
# TCP request needs a live bearer token (401 in the API's error shape
# otherwise); tokens are made, listed and revoked over the unix socket only
# and stored hashed; an address beyond loopback needs --listen-any. No VM.
source "$(dirname "$0")/lib.sh"

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# serve_bg ARGS...: starts `sprig serve ARGS` in the background and waits
# until its unix socket answers.
serve_bg() {
	sprig serve "$@" >>"$SPRIG_HOME/daemon.log" 2>&1 &
	for _ in $(seq 100); do
		curl -s -o /dev/null --unix-socket "$SPRIG_HOME/api.sock" http://localhost/v1/daemon && return
		sleep 0.1
	done
	fail "sprig serve $* did not come up"
}
# code [CURL-ARGS...]: the HTTP status of a request to the TCP listener.
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

port=$(free_port)
base="http://127.0.0.1:$port"
serve_bg --listen "127.0.0.1:$port"
expect_contains "serve says where it listens" "serving http://127.0.0.1:$port" "$(cat "$SPRIG_HOME/daemon.log")"

out=$(curl -s "$base/v1/sprites")
expect_contains "no token: 401 in the API's error shape" '"error":"unauthorized"' "$out"
expect_contains "and says how to get one" "sprig token create" "$out"
expect_eq "no token on an unknown route is 401 too" 401 "$(code "$base/v2/nothing")"
expect_eq "a made-up token" 401 "$(code -H "Authorization: Bearer sprig_$(printf '0%.0s' {1..64})" "$base/v1/sprites")"
expect_eq "another scheme" 401 "$(code -H "Authorization: Basic dXNlcjpwYXNz" "$base/v1/sprites")"

token=$(sprig token create ci)
expect_contains "token create prints the token" "sprig_" "$token"
expect_eq "the token is 70 characters" 70 "${#token}"
auth=(-H "Authorization: Bearer $token")
expect_eq "with the token" '{"sprites":[],"has_more":false}' "$(curl -s "${auth[@]}" "$base/v1/sprites")"
expect_eq "the scheme is case-insensitive" 200 "$(code -H "Authorization: bearer $token" "$base/v1/sprites")"
expect_eq "an unknown route with the token is 404" 404 "$(code "${auth[@]}" "$base/v2/nothing")"
expect_contains "an SDK route sprig lacks is a 501" '"error":"not_implemented"' \
	"$(curl -s "${auth[@]}" "$base/v1/sprites/x/fs/watch")"
expect_contains "a file call on a missing sprite is a 404 in the SDK's file error shape" \
	'"code":"not_found","path":"/etc/hostname"' \
	"$(curl -s "${auth[@]}" "$base/v1/sprites/x/fs/read?path=/etc/hostname")"
expect_contains "updating a missing sprite's labels is a 404" '"error":"not_found"' \
	"$(curl -s "${auth[@]}" -X PUT "$base/v1/sprites/x" -d '{"labels":["a"]}')"
expect_contains "a create with an environment is a 501, not a silent success" \
	'"error":"not_implemented"' \
	"$(curl -s "${auth[@]}" -X POST "$base/v1/sprites" -d '{"name":"x","environment":{"A":"1"}}')"
expect_eq "bad max_results" 400 "$(code "${auth[@]}" "$base/v1/sprites?max_results=0")"

expect_eq "tokens cannot be listed over TCP" 403 "$(code "${auth[@]}" "$base/v1/tokens")"
expect_eq "nor made over TCP" 403 "$(code "${auth[@]}" -X POST "$base/v1/tokens")"
expect_eq "nor revoked over TCP" 403 "$(code "${auth[@]}" -X DELETE "$base/v1/tokens/ci")"

second=$(sprig token create)
[ "$second" != "$token" ] && pass "a second token differs" || fail "a second token differs"
out=$(sprig token list)
expect_contains "token list has a header" "NAME" "$out"
expect_contains "token list shows ci" "ci " "$out"
expect_contains "an unnamed token gets a name" "token-" "$out"
expect_fail "a taken name" 'a token named "ci" already exists' sprig token create ci
expect_fail "a bad name" 'a token name is' sprig token create 'no/slash'
expect_fail "revoking a missing token" 'no token named "nope"' sprig token revoke nope
if sqlite3 -version >/dev/null 2>&1; then
	stored=$(sqlite3 "$SPRIG_HOME/sprig.db" 'SELECT hash FROM tokens' | tr '\n' ' ')
	expect_contains "the database keeps the hash" "$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)" "$stored"
	expect_eq "and never the token" "" "$(sqlite3 "$SPRIG_HOME/sprig.db" .dump | grep -F "$token" || true)"
fi

expect_eq "revoke prints the name" "ci" "$(sprig token revoke ci)"
expect_eq "a revoked token is refused at once" 401 "$(code "${auth[@]}" "$base/v1/sprites")"
expect_eq "the other token still works" 200 "$(code -H "Authorization: Bearer $second" "$base/v1/sprites")"
expect_eq "the unix socket needs no token" 200 \
	"$(code --unix-socket "$SPRIG_HOME/api.sock" http://localhost/v1/sprites)"

sprig serve --stop >/dev/null
expect_fail "an address beyond loopback needs --listen-any" "--listen-any" \
	sprig serve --listen "0.0.0.0:$(free_port)"
expect_fail "a malformed address" "give ADDRESS:PORT" sprig serve --listen nonsense
port=$(free_port)
python3 -c 'import socket, time, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
time.sleep(10)' "$port" &
holder=$!
for _ in $(seq 50); do
	ss -ltn 2>/dev/null | grep -q "127.0.0.1:$port " && break
	sleep 0.1
done
expect_fail "a port in use" "cannot listen on 127.0.0.1:$port" sprig serve --listen "127.0.0.1:$port"
kill "$holder" 2>/dev/null || true
wait "$holder" 2>/dev/null || true

# The setting: SPRIG_LISTEN in the environment of a daemon the CLI starts.
port=$(free_port)
out=$(SPRIG_LISTEN="127.0.0.1:$port" sprig token list)
expect_contains "a daemon started with SPRIG_LISTEN keeps the tokens" "token-" "$out"
expect_eq "and listens there" 200 "$(code -H "Authorization: Bearer $second" "http://127.0.0.1:$port/v1/sprites")"
sprig serve --stop >/dev/null

port=$(free_port)
serve_bg --listen "0.0.0.0:$port" --listen-any
expect_contains "--listen-any warns" "warning: 0.0.0.0:$port is beyond loopback" "$(cat "$SPRIG_HOME/daemon.log")"
expect_eq "and serves" 200 "$(code -H "Authorization: Bearer $second" "http://127.0.0.1:$port/v1/sprites")"
finish
