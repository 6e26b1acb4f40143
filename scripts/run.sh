#!/usr/bin/env bash
# `make run`: makes sure a sprite exists and says how to use it. (The
# dashboard, a later step, will open here instead.)
set -euo pipefail
sprig=$(realpath "$1")

if ! "$sprig" list --json | grep -q '"name"'; then
	echo "creating a sprite called \"dev\" (the first run builds the minimal image: about a minute)" >&2
	"$sprig" create dev
fi
"$sprig" list
cat <<MSG

A shell in it:        $sprig exec -t dev -- sh
Run a command:        $sprig exec dev -- uname -a
Stop the daemon:      $sprig serve --stop
MSG
