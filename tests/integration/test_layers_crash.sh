#!/usr/bin/env bash
# Crash safety of merges (core/merge.c): the daemon dies at each step of a
# live merge (QEMU's block-stream) and of a stopped one (qemu-img rebase).
# The next daemon must leave each top as before or as after the merge, with
# the database and the files' headers agreeing, no layer lost or leaked, and
# every file the guest wrote intact.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/layers.sh"
shared_image

# Checkpoints NAME until its next checkpoint makes a merge due, then drops
# the newest checkpoints, so that the merge leaves layers nothing holds.
to_merge_point() {
	local name=$1 v
	while [ "$(db_depth "$name")" -lt "$MERGE_MAX_DEPTH" ]; do
		sprig checkpoint "$name" >/dev/null
	done
	for v in $(sq "select version from checkpoints c join sprites s on s.id = c.sprite_id
	    where s.name = '$name' order by version desc limit 2"); do
		sprig checkpoint rm "$name" "v$v" >/dev/null
	done
}

# crash POINT COMMAND...: runs COMMAND under a daemon that dies at POINT (a
# merge runs after the checkpoint is answered: the command may succeed).
crash() {
	local point=$1 pid i
	shift
	sprig serve --stop >/dev/null
	SPRIG_FAILPOINT=$point "$@" >"$SPRIG_HOME/crash.out" 2>&1 || true
	pid=$(cat "$SPRIG_HOME/daemon.pid")
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		fail "$point: the daemon did not die there"
		sprig serve --stop >/dev/null
	else
		pass "$point: the daemon died there"
	fi
	sprig list >/dev/null	# a new daemon: start-up reconciles
}

files() { sprig exec dev -- sh -c 'cat /root/m/* | md5sum' | cut -d' ' -f1; }

sprig create dev >/dev/null
sprig exec dev -- mkdir -p /root/m
n=0
for mode in live stopped; do
	[ "$mode" = stopped ] && sprig stop dev >/dev/null
	for point in merge:started merge:streamed merge:committed; do
		if [ "$mode" = live ]; then
			n=$((n + 1))
			sprig exec dev -- sh -c "seq $n 9999 > /root/m/$n"
		fi
		to_merge_point dev
		before=$(sq 'select count(*) from checkpoints')
		crash "$point" sprig checkpoint dev
		expect_eq "$mode $point: the checkpoint was kept, the tree is whole" $((before + 1)) \
			"$(sq 'select count(*) from checkpoints')"
		# Once the top's header names the base, start-up has the database follow.
		[ "$point" != merge:started ] && check_headers "$mode $point, at start-up"
		# The next operation catches up with a merge QEMU finished on its own.
		sprig checkpoint dev >/dev/null
		sprig start dev >/dev/null 2>&1 || true	# waits for a merge under way
		[ "$mode" = stopped ] && sprig stop dev >/dev/null
		check_layers "$mode $point"
		check_headers "$mode $point"
		d=$(chain_depth "$(top_file dev)")
		[ "$d" -le "$MERGE_MAX_DEPTH" ] && pass "$mode $point: the top is $d deep" ||
			fail "$mode $point: the top is $d deep"
		if [ "$mode" = live ]; then
			want=$(for i in $(seq "$n"); do seq "$i" 9999; done | md5sum | cut -d' ' -f1)
			expect_eq "$mode $point: every file is intact" "$want" "$(files)"
		fi
	done
done
sprig start dev >/dev/null
want=$(for i in $(seq "$n"); do seq "$i" 9999; done | md5sum | cut -d' ' -f1)
expect_eq "after the stopped crashes: every file is intact" "$want" "$(files)"
expect_eq "the first checkpoint still restores" "ok" \
	"$(sprig restore dev v0 >/dev/null && sprig exec dev -- sh -c '[ -d /root/m ] && echo ok')"
check_layers "at the end"
finish
