#!/usr/bin/env bash
# The SDK conformance suite: the official Sprites SDK (@fly/sprites, the
# version tests/sdk/package.json pins) drives a local sprig over TCP with a
# bearer token (tests/sdk/sdk.test.mjs). The SDK is installed once per build
# tree, from npm's cache there when it has it.
source "$(dirname "$0")/lib.sh"
shared_image

command -v node >/dev/null && command -v npm >/dev/null || { fail "node and npm are needed"; finish; }

sdk="$SPRIG_BUILD/sdk-tests"
mkdir -p "$sdk"
(
	flock 9
	cp "$SPRIG_SOURCE/tests/sdk/package.json" "$SPRIG_SOURCE/tests/sdk/"*.mjs "$sdk/"
	want=$(node -p "require('$sdk/package.json').dependencies['@fly/sprites']")
	have=$(node -p "try { require('$sdk/node_modules/@fly/sprites/package.json').version } catch { '' }")
	if [ "$have" != "$want" ]; then
		log "installing @fly/sprites $want into $sdk"
		(cd "$sdk" && npm install --cache "$SPRIG_BUILD/npm-cache" --prefer-offline \
			--no-audit --no-fund --loglevel=error >&2)
	fi
) 9>"$SPRIG_BUILD/.sdk-tests.lock"

# A free loopback port, the daemon started on demand with SPRIG_LISTEN (the
# setting beside --listen), and a token made over the unix socket.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export SPRIG_LISTEN="127.0.0.1:$port"
token=$(sprig token create sdk)
expect_contains "a token is made" "sprig_" "$token"
grep -q "serving http://127.0.0.1:$port" "$SPRIG_HOME/daemon.log" ||
	fail "the daemon listens on 127.0.0.1:$port (daemon.log: $(tail -n 3 "$SPRIG_HOME/daemon.log"))"

# Each tests/sdk/*.test.mjs in turn (one at a time: the machine has two
# cores and every file boots sprites of its own).
for file in "$SPRIG_SOURCE"/tests/sdk/*.test.mjs; do
	name=$(basename "$file" .test.mjs)
	out="$SPRIG_HOME/sdk-$name.out"
	set +e
	SPRIG_URL="http://127.0.0.1:$port" SPRIG_TOKEN="$token" \
		timeout 900 node --experimental-websocket --no-warnings --test-reporter=tap \
		"$sdk/$name.test.mjs" >"$out" 2>&1
	code=$?
	set -e
	grep -E '^(not )?ok |^# (exec of true|p99|median)' "$out" | sed 's/^/  /'
	if [ "$code" -eq 0 ]; then
		pass "the SDK conformance suite: $name"
	else
		fail "the SDK conformance suite: $name (node exited $code):"
		grep -vE '^\s*(#|ok |---|\.\.\.|duration_ms|type:|1\.\.)' "$out" | head -n 60
	fi
done
expect_eq "no sprite is left" "" "$(sprig list --json | grep '"name"' || true)"
finish
