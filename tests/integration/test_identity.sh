#!/usr/bin/env bash
# Identity: each sprite has its own hostname and machine-id, kept across
# its own restarts and resumes, new for a fork.
source "$(dirname "$0")/lib.sh"
shared_image

sprig create alpha >/dev/null
expect_eq "the hostname is the sprite's name" "alpha" "$(sprig exec alpha -- hostname)"
mid=$(sprig exec alpha -- cat /etc/machine-id)
[[ "$mid" =~ ^[0-9a-f]{32}$ ]] && pass "a machine-id of 32 hex digits ($mid)" || fail "machine-id [$mid]"
sprig stop alpha >/dev/null
sprig start alpha >/dev/null
expect_eq "the machine-id stays across its own restarts" "$mid" "$(sprig exec alpha -- cat /etc/machine-id)"
# The machine-id is written over in place: a longer file left by someone
# else is cut to the one line at the next start.
sprig exec alpha -- sh -c 'printf "%080d\n" 7 >/etc/machine-id'
sprig stop alpha >/dev/null
sprig start alpha >/dev/null
expect_eq "a clobbered machine-id is mended at the next start" "$mid" \
	"$(sprig exec alpha -- cat /etc/machine-id)"
expect_eq "and is one line again" "33" "$(sprig exec alpha -- sh -c 'wc -c </etc/machine-id' | tr -d ' ')"

sprig checkpoint alpha -m base >/dev/null
sprig fork alpha@v0 beta >/dev/null
expect_eq "a fork has its own hostname" "beta" "$(sprig exec beta -- hostname)"
bmid=$(sprig exec beta -- cat /etc/machine-id)
[ "$bmid" != "$mid" ] && [[ "$bmid" =~ ^[0-9a-f]{32}$ ]] && pass "a fork has its own machine-id" ||
	fail "the fork's machine-id [$bmid] (source [$mid])"
sprig destroy beta >/dev/null

# A resume from memory (a memory restore, a wake) keeps the sprite's own
# identity. (It also reseeds the guest's random pool; Linux reseeds on its
# own often enough that no test here could tell the difference.)
sprig checkpoint alpha --memory -m mem >/dev/null
v=$(sprig checkpoints alpha --json | jq -r '[.[] | select(.memory)][-1].id')
sprig restore alpha "$v" >/dev/null
expect_eq "a memory restore keeps the hostname" "alpha" "$(sprig exec alpha -- hostname)"
sprig sleep alpha >/dev/null
expect_eq "a wake keeps the hostname" "alpha" "$(sprig exec alpha -- hostname)"
expect_eq "and the machine-id" "$mid" "$(sprig exec alpha -- cat /etc/machine-id)"
finish
