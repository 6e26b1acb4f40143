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
expect_eq "restore leaves it running" "running" "$(sprig list | awk '$1 == "dev" { print $2 }')"
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
finish
