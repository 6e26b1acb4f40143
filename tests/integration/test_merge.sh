#!/usr/bin/env bash
# Chains stay shallow: 200 checkpoints in a row on one sprite, each over a
# file of its own. The chain of qcow2 files QEMU opens never grows past
# MERGE_MAX_DEPTH + 1 (core/merge.h), every checkpoint still restores (or
# forks) to exactly its files, and the database and the files' headers agree
# on the tree throughout. Timings of the same run are in bench/run.sh.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/layers.sh"
shared_image

N=${MERGE_TEST_CHECKPOINTS:-200}

# The guest's files 1..K, as the guest is asked to write them.
want_sum() { for i in $(seq "$1"); do seq "$i" $((i + 2000)); done | md5sum | cut -d' ' -f1; }
got_sum() {
	sprig exec "$1" -- sh -c 'cd /root/c && for f in $(ls | sort -n); do cat $f; done | md5sum' | cut -d' ' -f1
}
count_files() { sprig exec "$1" -- sh -c 'ls /root/c | wc -l' | tr -d ' '; }

sprig create dev >/dev/null
sprig exec dev -- mkdir -p /root/c
deepest=0
for i in $(seq "$N"); do
	sprig exec dev -- sh -c "seq $i $((i + 2000)) > /root/c/$i"
	sprig checkpoint dev >/dev/null
	if [ $((i % 10)) -eq 0 ]; then
		d=$(chain_depth "$(top_file dev)")
		[ "$d" -gt "$deepest" ] && deepest=$d
	fi
done
sprig start dev >/dev/null	# waits for a merge under way
log "$N checkpoints; deepest chain seen under the top: $deepest"
[ "$deepest" -le $((MERGE_MAX_DEPTH + 1)) ] && pass "the top's chain stayed shallow ($deepest deep at most)" ||
	fail "the top's chain grew to $deepest"
d=$(chain_depth "$(top_file dev)")
[ "$d" -le "$MERGE_MAX_DEPTH" ] && pass "the idle top is at most $MERGE_MAX_DEPTH deep ($d)" ||
	fail "the idle top is $d deep"
expect_eq "the database knows the chain QEMU opens" "$d" "$(db_depth dev)"
max=$(max_depth)
[ "$max" -le $((MERGE_MAX_DEPTH + 1)) ] && pass "no checkpoint's chain is deeper than $((MERGE_MAX_DEPTH + 1)) ($max)" ||
	fail "a checkpoint's chain is $max deep"
merges=$(sq "select count(*) from events where kind = 'merge'")
[ "$merges" -gt 0 ] && pass "merges happened ($merges)" || fail "no merge happened"
expect_eq "all $N files are there" "$N" "$(count_files dev)"
expect_eq "and hold what was written" "$(want_sum "$N")" "$(got_sum dev)"
check_layers "after $N checkpoints"
check_headers "after $N checkpoints"
expect_eq "every checkpoint is listed" "$N" "$(sq "select count(*) from checkpoints")"

# The deepest checkpoints (a top that was frozen at MERGE_MAX_DEPTH): a
# new top over one of them must be merged before it is used.
deep=()
while IFS='|' read -r v file; do
	[ "$(chain_depth "$file")" -eq "$MERGE_MAX_DEPTH" ] && deep+=("$v")
	[ "${#deep[@]}" -ge 2 ] && break
done < <(sq "select c.version, l.file from checkpoints c join layers l on l.id = c.layer_id
    where c.version >= $((N / 4)) order by c.version")
expect_eq "there are checkpoints $MERGE_MAX_DEPTH deep" 2 "${#deep[@]}"

# An old checkpoint restores to exactly its files, on a shallow chain. (A
# stopped sprite's merges, with qemu-img, are in test_layers_crash.sh.)
v=${deep[0]:-$((N / 2 - 1))}
sprig restore dev "v$v" >/dev/null
expect_eq "restore v$v: its $((v + 1)) files" "$((v + 1))" "$(count_files dev)"
expect_eq "restore v$v: their contents" "$(want_sum $((v + 1)))" "$(got_sum dev)"
d=$(chain_depth "$(top_file dev)")
[ "$d" -le "$MERGE_MAX_DEPTH" ] && pass "restore v$v: the new top is $d deep" ||
	fail "restore v$v: the new top is $d deep"

# A fork from a late checkpoint: its own shallow chain, the checkpoint's files.
f=${deep[1]:-$((N - 2))}
sprig fork "dev@v$f" late >/dev/null
expect_eq "a fork of v$f has its files" "$(want_sum $((f + 1)))" "$(got_sum late)"
d=$(chain_depth "$(top_file late)")
[ "$d" -le "$MERGE_MAX_DEPTH" ] && pass "the fork's top is $d deep" || fail "the fork's top is $d deep"

# Deleting checkpoints releases what only they held; nothing else breaks.
for v in $(seq 1 2 $((N / 2))); do
	sprig checkpoint rm dev "v$v" >/dev/null
done
check_layers "after deleting checkpoints"
check_headers "after deleting checkpoints"
sprig restore dev "v$((N - 1))" >/dev/null
expect_eq "the newest checkpoint still restores" "$(want_sum "$N")" "$(got_sum dev)"
expect_eq "the fork is untouched" "$(want_sum $((f + 1)))" "$(got_sum late)"
finish
