#!/usr/bin/env bash
# The timeline on real VMs: a checkpoint brings back a wrecked disk byte for
# byte, "restore undo" brings the wreck back, the tree shows where the sprite
# is, forks from one checkpoint do not see each other, and bad input is a
# clear error that changes nothing.
source "$(dirname "$0")/lib.sh"
shared_image

etc_hash='find /etc -type f | sort | xargs md5sum | md5sum'
head -c 49152 /dev/urandom | base64 >"$SPRIG_HOME/file"

sprig create dev >/dev/null
sprig exec dev -- sh -c 'cat > /root/file' <"$SPRIG_HOME/file"
good_etc=$(sprig exec dev -- sh -c "$etc_hash")
expect_eq "the file went in whole" "$(md5sum <"$SPRIG_HOME/file" | cut -d' ' -f1)" \
    "$(sprig exec dev -- md5sum /root/file | cut -d' ' -f1)"

first=$(sprig checkpoint dev -m "known good")
case "$first" in
v[0-9]*) pass "checkpoint prints its id ($first)" ;;
*) fail "checkpoint prints its id: got [$first]" ;;
esac

sprig exec dev -- sh -c 'rm -rf /etc /root/file; sync'
expect_eq "the guest is wrecked" "gone" "$(sprig exec dev -- sh -c '[ -e /etc ] || echo gone')"

out=$(sprig restore dev "$first")
expect_eq "restore says where it went" "restored dev to $first" "$out"
expect_eq "restore leaves it running" "running" "$(sprite_state dev)"
sprig exec dev -- cat /root/file >"$SPRIG_HOME/file.back"
if cmp -s "$SPRIG_HOME/file" "$SPRIG_HOME/file.back"; then
	pass "the file is back byte for byte"
else
	fail "the file is back byte for byte ($(wc -c <"$SPRIG_HOME/file.back") bytes came back)"
fi
expect_eq "/etc is back as it was" "$good_etc" "$(sprig exec dev -- sh -c "$etc_hash")"

out=$(sprig checkpoints dev)
expect_contains "the list has a header" "ID" "$(head -n 1 <<<"$out")"
expect_contains "the current checkpoint is marked" "$first *" "$out"
expect_contains "the comment is shown" "known good" "$(grep "^$first " <<<"$out")"
expect_contains "the wreck was kept as an automatic checkpoint" "(auto)" "$out"
wreck=$(sprig checkpoints dev --json | tr -d ' \t\n' | grep -o '"id":"v[0-9]*"[^}]*"is_auto":true' |
    head -n 1 | cut -d'"' -f4)

out=$(sprig restore dev undo)
expect_eq "undo goes to the wreck's checkpoint" "restored dev to $wreck" "$out"
expect_eq "undo brings the wreck back" "gone gone" \
    "$(sprig exec dev -- sh -c '[ -e /etc ] || printf gone; [ -e /root/file ] || echo " gone"')"
out=$(sprig checkpoints dev)
expect_contains "now the wreck is current" "$wreck *" "$out"
expect_eq "one current checkpoint" 1 "$(grep -c ' \*' <<<"$out")"
expect_contains "the tree has a branch" "+- " "$out"
expect_contains "the sprite says where it is" "\"checkpoint\":\"$wreck\"" \
    "$(sprig info dev --json | tr -d ' \t\n')"

out=$(sprig fork "dev@$first" fa fb fc)
expect_eq "fork prints each new sprite" "fa fb fc" "$(echo $out)"
for s in fa fb fc; do
	sprig exec "$s" -- sh -c "echo $s > /root/mine; sync"
	expect_eq "$s has the checkpoint's file" "$(md5sum <"$SPRIG_HOME/file" | cut -d' ' -f1)" \
	    "$(sprig exec "$s" -- md5sum /root/file | cut -d' ' -f1)"
done
for s in fa fb fc; do
	expect_eq "$s sees only its own data" "$s" "$(sprig exec "$s" -- cat /root/mine)"
done
expect_eq "the source sees none of it" "none" "$(sprig exec dev -- sh -c 'cat /root/mine 2>/dev/null || echo none')"
expect_contains "a fork says where it came from" "\"origin\":\"dev@$first\"" \
    "$(sprig info fb --json | tr -d ' \t\n')"

# Bad input: a clear error, and the timeline and sprites as they were.
before=$(sprig checkpoints dev --json)
sprites=$(sprig list | awk 'NR > 1 { print $1 }' | sort | tr '\n' ' ')
expect_fail "restore of an unknown checkpoint" 'has no checkpoint v99' sprig restore dev v99
expect_fail "restore of a non-id" '"banana" is not a checkpoint id' sprig restore dev banana
expect_fail "restore of a missing sprite" 'sprite "ghost" not found' sprig restore ghost "$first"
expect_fail "fork to an existing name" 'sprite "fa" already exists' sprig fork "dev@$first" fa
expect_fail "fork from an unknown checkpoint" 'has no checkpoint v99' sprig fork dev@v99 fz
expect_fail "checkpoints of a missing sprite" 'sprite "ghost" not found' sprig checkpoints ghost
expect_fail "checkpoint of a missing sprite" 'sprite "ghost" not found' sprig checkpoint ghost
set +e
sprig restore dev >/dev/null 2>&1
code=$?
set -e
expect_eq "restore without a version is a usage error" 2 "$code"
expect_eq "the timeline did not change" "$before" "$(sprig checkpoints dev --json)"
expect_eq "no sprite came or went" "$sprites" \
    "$(sprig list | awk 'NR > 1 { print $1 }' | sort | tr '\n' ' ')"
expect_eq "the wreck is still current" "gone" "$(sprig exec dev -- sh -c '[ -e /etc ] || echo gone')"

# Inside the sprite, /.sprite/checkpoints/vN shows the five newest checkpoints
# of its timeline read-only, following new checkpoints, deletes and sleep.
source "$(dirname "$0")/layers.sh"
view=/.sprite/checkpoints
# The names under /.sprite/checkpoints, once they are WANT (the disks come
# and go a moment after the command that moved them returned).
shown() {
	local want=$1 got i
	for i in $(seq 50); do
		got=$(sprig exec dev -- ls "$view" | tr '\n' ' ' | sed 's/ $//')
		[ "$got" != "$want" ] || break
		sleep 0.2
	done
	echo "$got"
}
sort_ids() { tr ' ' '\n' | sort -t v -k 2 -n | tr '\n' ' ' | sed 's/ $//'; }

sprig exec dev -- sh -c 'echo old > /root/seen; sync'
ids=()
ids+=("$(sprig checkpoint dev -m "seen is old")")
sprig exec dev -- sh -c 'echo new > /root/seen; sync'
expect_eq "the checkpoint appears in $view without a reboot" "$first $wreck ${ids[0]}" \
    "$(shown "$first $wreck ${ids[0]}" | sort_ids)"
expect_eq "it holds the file as it was" "old" "$(sprig exec dev -- cat "$view/${ids[0]}/root/seen")"
expect_eq "the sprite's own file moved on" "new" "$(sprig exec dev -- cat /root/seen)"
expect_contains "diff -r against it shows the change" "+new" \
    "$(sprig exec dev -- sh -c "diff -r $view/${ids[0]}/root /root || true")"
expect_fail "it cannot be written" "Read-only file system" \
    sprig exec dev -- sh -c "echo x > $view/${ids[0]}/root/seen"
sprig exec dev -- cp "$view/${ids[0]}/root/seen" /root/seen
expect_eq "a file copies back out of it" "old" "$(sprig exec dev -- cat /root/seen)"

for i in 1 2 3 4 5; do
	ids+=("$(sprig checkpoint dev)")
done
last5="${ids[1]} ${ids[2]} ${ids[3]} ${ids[4]} ${ids[5]}"
expect_eq "after six checkpoints it shows the newest five" "$last5" "$(shown "$last5" | sort_ids)"

sprig checkpoint rm dev "${ids[3]}" >/dev/null
want="${ids[0]} ${ids[1]} ${ids[2]} ${ids[4]} ${ids[5]}"
expect_eq "a deleted checkpoint disappears (an older one comes back)" "$want" \
    "$(shown "$want" | sort_ids)"

sprig sleep dev >/dev/null
sprig wake dev >/dev/null
expect_eq "after sleep and wake it is all still there" "$want" "$(shown "$want" | sort_ids)"
expect_eq "and readable" "old" "$(sprig exec dev -- cat "$view/${ids[0]}/root/seen")"
expect_eq "the guest mounts nothing twice" "5" \
    "$(sprig exec dev -- sh -c "grep -c ' $view/' /proc/mounts")"

mem=$(sprig checkpoint dev --memory -m "with the view")
sprig restore dev "$mem" >/dev/null
want="${ids[1]} ${ids[2]} ${ids[4]} ${ids[5]} $mem"
expect_eq "a restore from memory shows its own timeline" "$want" "$(shown "$want" | sort_ids)"
expect_eq "and it reads" "old" "$(sprig exec dev -- cat "$view/$mem/root/seen")"
expect_eq "with nothing mounted twice" "5" \
    "$(sprig exec dev -- sh -c "grep -c ' $view/' /proc/mounts")"

# A checkpoint whose layer file is gone is skipped and said; the sprite runs on.
gone=$(sq "select l.file from checkpoints c join layers l on l.id = c.layer_id
    join sprites s on s.id = c.sprite_id where s.name = 'dev' and c.version = ${ids[0]#v}")
rm -f "$gone"
sprig checkpoint rm dev "${ids[4]}" >/dev/null
for i in $(seq 50); do
	! sprig events dev | grep -q "checkpoint ${ids[0]} is not shown" || break
	sleep 0.2
done
expect_contains "the event log says why" "checkpoint ${ids[0]} is not shown" "$(sprig events dev)"
want="${ids[1]} ${ids[2]} ${ids[5]} $mem"
expect_eq "a checkpoint whose layer is missing is not shown" "$want" "$(shown "$want" | sort_ids)"
expect_eq "the sprite runs on" "running" "$(sprite_state dev)"
finish
