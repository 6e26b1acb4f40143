# Helpers for the tests of the layer tree (test_merge.sh, test_layers_*.sh),
# sourced after lib.sh: what the database records against what is on disk.
db="$SPRIG_HOME/sprig.db"
MERGE_MAX_DEPTH=8	# core/merge.h
qcow2_chain="$(dirname "${BASH_SOURCE[0]}")/qcow2_chain.py"

# Reads the daemon's database beside it. The reader must not checkpoint
# and delete the WAL when it closes: a daemon whose process lost its lock on
# the database file would go on writing to a WAL no one else sees.
sq() {
	sqlite3 -cmd ".output /dev/null" -cmd ".dbconfig no_ckpt_on_close on" -cmd ".output stdout" \
		"$db" "$@"
}

# Every layer row has its file and every file has its row; nothing pending.
check_layers() {
	local what=$1 rows files
	rows=$(sq "select file from layers order by file" | xargs -rn1 basename)
	files=$(ls "$SPRIG_HOME/layers" | sort)
	expect_eq "$what: layer files match the database" "$rows" "$files"
	expect_eq "$what: nothing left pending" "0" "$(sq 'select count(*) from layers where pending = 1')"
	expect_eq "$what: no layer is held by nothing" "0" "$(sq 'select count(*) from layers l
	    where not exists (select 1 from sprites where top_layer_id = l.id)
	    and not exists (select 1 from checkpoints where layer_id = l.id)
	    and not exists (select 1 from templates where layer_id = l.id)
	    and not exists (select 1 from layers c where c.parent_id = l.id)')"
}

# The file of sprite NAME's writable top.
top_file() {
	sq "select l.file from sprites s join layers l on l.id = s.top_layer_id where s.name = '$1'"
}

# How many qcow2 files QEMU opens for FILE: it and its backing chain.
chain_depth() {
	python3 "$qcow2_chain" depth "$1"
}

# The same as the database records it, for sprite NAME's top.
db_depth() {
	sq "with recursive c(id) as (select top_layer_id from sprites where name = '$1'
	    union all select l.parent_id from c join layers l on l.id = c.id where l.parent_id is not null)
	    select count(*) from c"
}

# Every layer's qcow2 header names the file of the parent the database
# records (the image's rootfs for a layer with none).
check_headers() {
	local what=$1 rootfs bad
	rootfs=$(ls "$SPRIG_HOME"/images/minimal/*/rootfs.img | head -1)
	bad=$(sq "select l.id, l.file, coalesce(p.file, '') from layers l
	    left join layers p on p.id = l.parent_id" | python3 "$qcow2_chain" check "$rootfs")
	expect_eq "$what: every layer's header matches the database" 0 "$bad"
}

# The deepest chain under any layer (any checkpoint, fork or top).
max_depth() {
	# shellcheck disable=SC2046
	python3 "$qcow2_chain" depth $(sq "select file from layers")
}
