#!/usr/bin/env bash
# Crash safety of the timeline: the daemon dies (as if killed with SIGKILL)
# at each step of checkpoint, restore, fork and destroy; the next daemon
# must leave the tree as before or as after, with no layer lost or leaked,
# and the sprites must still work.
source "$(dirname "$0")/lib.sh"
shared_image

db="$SPRIG_HOME/sprig.db"

# Every layer row has its file and every file has its row.
check_layers() {
	local what=$1 rows files
	rows=$(sqlite3 "$db" "select file from layers order by file" | xargs -rn1 basename)
	files=$(ls "$SPRIG_HOME/layers" | sort)
	expect_eq "$what: layer files match the database" "$rows" "$files"
	expect_eq "$what: nothing left pending" "0" "$(sqlite3 "$db" 'select count(*) from layers where pending = 1')"
}

# The running VM writes to the top the database names: a crash must never
# leave a VM writing to a layer the timeline has frozen.
writes_top() {
	local name=$1 what=$2 top pid fd found=no
	top=$(sqlite3 "$db" "select l.file from sprites s join layers l
	    on l.id = s.top_layer_id where s.name = '$name'")
	pid=$(cat "$SPRIG_HOME/run/$name/qemu.pid")
	for fd in /proc/"$pid"/fd/*; do
		[ "$(readlink "$fd")" == "$top" ] && found=yes
	done
	expect_eq "$what: $name's VM writes to the top the database names" "yes" "$found"
}

# The sprite answers, starting it if the crash left it stopped.
answers() {
	local name=$1 what=$2
	if ! sprig exec "$name" -- true 2>/dev/null; then
		sprig start "$name" >/dev/null 2>&1 || true
	fi
	expect_eq "$what: $name answers" "ok" "$(sprig exec "$name" -- echo ok 2>&1)"
}

sprig create dev >/dev/null
sprig exec dev -- sh -c 'echo base > /root/f; sync'
sprig checkpoint dev -m base >/dev/null

for point in checkpoint:layer-recorded checkpoint:snapshot-taken checkpoint:committed; do
	before=$(sqlite3 "$db" 'select count(*) from checkpoints')
	crash "$point" sprig checkpoint dev
	after=$(sqlite3 "$db" 'select count(*) from checkpoints')
	if [ "$after" -eq "$before" ] || [ "$after" -eq $((before + 1)) ]; then
		pass "$point: checkpoints before or after ($before -> $after)"
	else
		fail "$point: $before checkpoints became $after"
	fi
	check_layers "$point"
	answers dev "$point"
	writes_top dev "$point"
	expect_eq "$point: the data is intact" "base" "$(sprig exec dev -- cat /root/f)"
done

# A pending top whose file exists but which the running VM never took up
# (QEMU made the file, then failed): start-up drops it, and the VM's top
# stays writable rather than frozen under it.
before=$(sqlite3 "$db" 'select count(*) from checkpoints')
sprig serve --stop >/dev/null
SPRIG_FAILPOINT=checkpoint:layer-recorded sprig checkpoint dev >/dev/null 2>&1 || true
pending=$(sqlite3 "$db" 'select file from layers where pending = 1')
top=$(sqlite3 "$db" "select l.file from sprites s join layers l
    on l.id = s.top_layer_id where s.name = 'dev'")
expect_eq "a cut checkpoint left one pending top" "1" "$(printf '%s\n' "$pending" | grep -c .)"
qemu-img create -q -f qcow2 -F qcow2 -b "$top" "$pending"
sprig list >/dev/null
expect_eq "made, not taken: no checkpoint was recorded" "$before" \
	"$(sqlite3 "$db" 'select count(*) from checkpoints')"
expect_eq "made, not taken: its file is gone" "no" "$([ -e "$pending" ] && echo yes || echo no)"
check_layers "made, not taken"
writes_top dev "made, not taken"
expect_eq "made, not taken: the data is intact" "base" "$(sprig exec dev -- cat /root/f)"

sprig exec dev -- sh -c 'echo changed > /root/f; sync'
for point in restore:left-checkpointed restore:vm-stopped restore:layer-made restore:committed; do
	crash "$point" sprig restore dev v0
	check_layers "$point"
	answers dev "$point"
	got=$(sprig exec dev -- cat /root/f)
	if [ "$got" == "base" ] || [ "$got" == "changed" ]; then
		pass "$point: the disk is as before or as after ($got)"
	else
		fail "$point: /root/f is [$got]"
	fi
	sprig exec dev -- sh -c 'echo changed > /root/f; sync'
done

for point in fork:recorded fork:layer-made; do
	crash "$point" sprig fork dev@v0 "f-${point#fork:}"
	check_layers "$point"
	state=$(sprig list | awk -v n="f-${point#fork:}" '$1 == n {print $2}')
	if [ -z "$state" ]; then
		pass "$point: the cut-off fork was undone"
	else
		answers "f-${point#fork:}" "$point"
	fi
done

sprig fork dev@v0 doomed >/dev/null
crash destroy:row-deleted sprig destroy doomed
check_layers "destroy:row-deleted"
expect_eq "destroy:row-deleted: the sprite is gone" "" "$(sprig list | awk '$1 == "doomed"')"
expect_eq "destroy:row-deleted: its VM is gone" "" \
	"$(for p in $(test_qemu_pids); do tr '\0' ' ' </proc/$p/cmdline | grep -o 'sprig-doomed' ; done)"
answers dev "after everything"
expect_eq "the checkpoint tree still restores" "base" \
	"$(sprig restore dev v0 >/dev/null && sprig exec dev -- cat /root/f)"
finish
