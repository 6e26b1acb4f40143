#!/usr/bin/env bash
# Faults in the layer tree: a full disk during a checkpoint fails cleanly and
# the sprite runs on over its old top; a missing or corrupt layer file makes
# its sprite "broken" with the reason (start says it), and other sprites go
# on as before.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/layers.sh"
shared_image

# The layers live on a small tmpfs of their own, so the disk can really fill.
layers="$SPRIG_HOME/layers"
mkdir -p "$layers"
if mount -t tmpfs -o size=96m,mode=0700 sprig-test "$layers" 2>/dev/null; then
	trap 'st=$?; umount -l "$layers" 2>/dev/null; set +e; (exit $st); cleanup' EXIT
	tmpfs=1
else
	log "cannot mount a tmpfs here: the full-disk part is skipped"
	tmpfs=0
fi

sprig create dev >/dev/null
sprig exec dev -- sh -c 'echo base > /root/f'
sprig checkpoint dev -m base >/dev/null

if [ "$tmpfs" = 1 ]; then
	sprig exec dev -- sync
	top=$(top_file dev)
	before=$(sq 'select count(*) from checkpoints')
	# Leave less room than a new qcow2 file needs.
	free=$(df --output=avail -B1 "$layers" | tail -1)
	fallocate -l $((free - 32768)) "$layers/filler"
	expect_fail "a checkpoint on a full disk fails" "No space left" sprig checkpoint dev
	# sprig writes a fork's new top itself: with no room at all, it says so.
	fallocate -l "$(df --output=avail -B1 "$layers" | tail -1)" "$layers/filler2"
	expect_fail "a fork on a full disk fails" "cannot make the fork's disk: No space left" \
		sprig fork dev@v0 nofit
	expect_eq "and leaves no sprite behind" "" "$(sprig list | awk '$1 == "nofit"')"
	rm -f "$layers/filler" "$layers/filler2"
	expect_eq "the sprite runs on" "running" "$(sprite_state dev)"
	expect_eq "on its old top" "$top" "$(top_file dev)"
	expect_eq "no checkpoint was recorded" "$before" "$(sq 'select count(*) from checkpoints')"
	check_layers "after the full disk"
	expect_eq "it still writes" "after" \
		"$(sprig exec dev -- sh -c 'echo after > /root/g; sync; cat /root/g')"
	v=$(sprig checkpoint dev)
	expect_eq "the next checkpoint works" "after" \
		"$(sprig restore dev "$v" >/dev/null && sprig exec dev -- cat /root/g)"
fi

# Another sprite, sharing the first checkpoint's layer.
sprig fork dev@v0 other >/dev/null
sprig exec dev -- sh -c 'echo two > /root/f'
v=$(sprig checkpoint dev)
vfile=$(sq "select l.file from checkpoints c join layers l on l.id = c.layer_id
	join sprites s on s.id = c.sprite_id where s.name = 'dev' and c.version = ${v#v}")
sprig stop dev >/dev/null

# broken_by WHAT REASON: dev cannot start, says why, shows broken; other runs.
broken_by() {
	local what=$1 reason=$2
	expect_fail "$what: start says why" "is broken: its disk layer $vfile is $reason" sprig start dev
	expect_eq "$what: dev shows broken" "broken" "$(sprite_state dev)"
	expect_contains "$what: with the reason" "\"last_error\":\"its disk layer $vfile is $reason" \
		"$(sprig info dev --json | tr -d '\n' | sed 's/":[[:space:]]*"/":"/g')"
	expect_fail "$what: a checkpoint is refused" "is broken" sprig checkpoint dev
	expect_eq "$what: the other sprite is unaffected" "base" "$(sprig exec other -- cat /root/f)"
	sprig serve --stop >/dev/null
	expect_eq "$what: a new daemon still shows it broken" "broken" \
		"$(sprite_state dev)"
	expect_eq "$what: and the other sprite running" "base" "$(sprig exec other -- cat /root/f)"
}

mv "$vfile" "$SPRIG_HOME/away.qcow2"	# outside layers/: start-up collects strays there
broken_by "a missing layer" "missing"
mv "$SPRIG_HOME/away.qcow2" "$vfile"
sprig start dev >/dev/null && pass "the layer back: dev starts" || fail "the layer back: dev does not start"
expect_eq "with its data" "two" "$(sprig exec dev -- cat /root/f)"
sprig stop dev >/dev/null

cp "$vfile" "$SPRIG_HOME/saved.qcow2"
head -c 4096 /dev/urandom | dd of="$vfile" conv=notrunc status=none
broken_by "a corrupt layer" "corrupt"
cp "$SPRIG_HOME/saved.qcow2" "$vfile"
sprig start dev >/dev/null && pass "the layer mended: dev starts" || fail "the layer mended: dev does not start"
expect_eq "with its data" "two" "$(sprig exec dev -- cat /root/f)"
expect_eq "no error is left" "" "$(sprig info dev --json | tr -d '\n' | grep -o '"last_error":[[:space:]]*"[^"]*"' || true)"
finish
