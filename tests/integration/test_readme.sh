#!/usr/bin/env bash
# Every command README.md shows (its ```sh blocks) runs as written and
# succeeds, against a fresh SPRIG_HOME. `make test` is what runs this, so it
# is not run again; the interactive `exec -t` gets "exit" typed into a pty.
source "$(dirname "$0")/lib.sh"
shared_image

cd "$SPRIG_SOURCE"
blocks=$(python3 - README.md <<'PY'
import sys
lines, out, inside = open(sys.argv[1]).read().splitlines(), [], False
for line in lines:
    if line.startswith("```"):
        inside = line.strip() == "```sh"
        continue
    if inside:
        out.append(line.split("  #")[0].rstrip())
print("\n".join(l for l in out if l))
PY
)
[ -n "$blocks" ] || fail "README has no sh blocks"
while IFS= read -r cmd; do
	case "$cmd" in
	"make test") continue ;;
	"make run") cmd="make run BUILD=$SPRIG_BUILD" ;;
	*"sprig exec -t "*)
		cmd="echo exit | script -qec \"${cmd//\"/\\\"}\" /dev/null" ;;
	esac
	want=0
	[[ "$cmd" == *"exit 3'"* ]] && want=3
	set +e
	eval "$cmd" >"$SPRIG_HOME/readme.out" 2>&1 </dev/null
	code=$?
	set -e
	expect_eq "README: $cmd" "$want" "$code"
	[ "$code" -ne "$want" ] && tail -5 "$SPRIG_HOME/readme.out"
done <<<"$blocks"
finish
