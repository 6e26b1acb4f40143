#!/usr/bin/env bash
# `make run`: makes sure a sprite exists, then opens the dashboard (on a
# terminal; elsewhere it lists the sprites and says how to use them).
set -euo pipefail
sprig=$(realpath "$1")

if ! "$sprig" list --json | grep -q '"name"'; then
	echo "creating a sprite called \"dev\" (the first run builds the minimal image: about a minute)" >&2
	"$sprig" create dev
fi
if [ -t 0 ] && [ -t 1 ]; then
	exec "$sprig"
fi
"$sprig" list
cat <<MSG

The dashboard:        $sprig
A shell in it:        $sprig exec -t dev -- sh
Run a command:        $sprig exec dev -- uname -a
Stop the daemon:      $sprig serve --stop
MSG
