#!/usr/bin/env bash
# Bad input at every entry point gets a clear one-line error, leaves nothing
# half-made, and the daemon keeps serving.
source "$(dirname "$0")/lib.sh"
shared_image

expect_fail "empty name" "needs a name" sprig create ""
expect_fail "upper case" "lower case" sprig create Dev
expect_fail "64 characters" "at most 63" sprig create "$(printf 'a%.0s' {1..64})"
expect_fail "path tricks" "only a-z" sprig create ../x
expect_fail "spaces" "only a-z" sprig create "a b"
expect_fail "unknown image" 'no image "nosuch"' sprig create web --image nosuch
expect_eq "nothing was created" "" "$(sprig list --json | grep '"name"' || true)"

sprig create dev >/dev/null
expect_fail "create of an existing name" 'already exists' sprig create dev
expect_fail "exec of a missing sprite" 'sprite "nope" not found' sprig exec nope -- true
expect_fail "stop of a missing sprite" 'sprite "nope" not found' sprig stop nope
expect_fail "destroy of a missing sprite" 'sprite "nope" not found' sprig destroy nope

set +e
out=$(sprig exec dev -- nosuchcommand 2>&1)
code=$?
set -e
expect_eq "a missing command exits 127" 127 "$code"
expect_contains "and says so" "nosuchcommand" "$out"

# Malformed HTTP and API requests: rejected, the daemon keeps serving.
sock="$SPRIG_HOME/api.sock"
out=$(curl -s --unix-socket "$sock" -X POST http://localhost/v1/sprites -d '{"name":')
expect_contains "malformed JSON body" '"error":"invalid_request"' "$out"
out=$(curl -s --unix-socket "$sock" -X POST http://localhost/v1/sprites -d '{"name":5}')
expect_contains "wrong type" 'name is required and must be a string' "$out"
out=$(curl -s --unix-socket "$sock" http://localhost/v2/nothing)
expect_contains "unknown route" '"error":"not_found"' "$out"
out=$(curl -s --unix-socket "$sock" http://localhost/v1/images/nosuch)
expect_contains "an unknown image" 'no image \"nosuch\"' "$out"
out=$(curl -s --unix-socket "$sock" -X POST http://localhost/v1/images/Bad/build)
expect_contains "an invalid image name" '"error":"invalid_request"' "$out"
code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$sock" http://localhost/v1/images/minimal/nope)
expect_eq "an unknown image route" 404 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$sock" -X PATCH http://localhost/v1/sprites/dev)
expect_eq "wrong method" 405 "$code"
code=$(head -c 2000000 /dev/zero | curl -s -o /dev/null -w '%{http_code}' --unix-socket "$sock" \
	-X POST http://localhost/v1/sprites -H 'Content-Type: application/json' --data-binary @-)
expect_eq "a 2 MB body" 413 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$sock" "http://localhost/v1/sprites/dev/exec?cmd=true")
expect_eq "exec without a WebSocket upgrade" 400 "$code"
python3 - "$sock" <<'PY'
import socket, sys
for junk in (b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", b"\x00\xff" * 4000):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(junk)
    s.settimeout(5)
    try:
        s.recv(4096)
    except Exception:
        pass
    s.close()
PY
expect_eq "the daemon keeps serving after garbage" "hi" "$(sprig exec dev -- echo hi)"
finish
