/*
 * test_store: the SQLite store against real database files, each test in a
 * fresh temporary directory. A second, raw SQLite connection looks at what
 * the store wrote and plants what its API cannot (checkpoint rows, a newer
 * schema version).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/util.h"
#include "db/store.h"

/* The schema version this sprig writes; bump with each migration. */
#define SCHEMA_LATEST	1

struct fixture {
	char		 dir[64];
	char		 path[128];
	struct store	*s;
};

static int
setup_dir(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	assert_non_null(f);
	snprintf(f->dir, sizeof f->dir, "/tmp/sprig-test-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/sprig.db", f->dir);
	*state = f;
	return 0;
}

static int
setup_open(void **state)
{
	struct fixture *f;
	char *cause = NULL;

	setup_dir(state);
	f = *state;
	assert_int_equal(store_open(f->path, &f->s, &cause), 0);
	assert_null(cause);
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	store_close(f->s);
	assert_int_equal(rm_rf(f->dir), 0);
	free(f);
	return 0;
}

/* Runs @sql on a connection of its own. */
static void
raw_exec(const char *path, const char *sql)
{
	sqlite3 *db;
	char *err = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
	sqlite3_close(db);
}

/* The first column of the first row of @sql, as an integer. */
static int64_t
raw_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static int64_t
add_image(struct store *s, const char *name, const char *hash)
{
	struct image_row img = { 0 };
	char dir[128];

	snprintf(dir, sizeof dir, "/images/%s/%s", name, hash);
	img.name = (char *)name;
	img.recipe_hash = (char *)hash;
	img.dir = dir;
	assert_int_equal(store_image_add(s, &img), 0);
	assert_true(img.id > 0);
	return img.id;
}

static int64_t
add_layer(struct store *s, int64_t image_id, int64_t parent_id,
    const char *file)
{
	struct layer_row l = { 0 };

	l.image_id = image_id;
	l.parent_id = parent_id;
	l.file = (char *)file;
	assert_int_equal(store_layer_add(s, &l), 0);
	assert_true(l.id > 0);
	return l.id;
}

static int64_t
add_sprite(struct store *s, const char *name, int64_t image_id,
    int64_t layer_id)
{
	struct sprite_row sp = { 0 };

	sp.name = (char *)name;
	sp.state = SPRITE_STOPPED;
	sp.image_id = image_id;
	sp.top_layer_id = layer_id;
	sp.mem_mb = 256;
	sp.cpus = 1;
	assert_int_equal(store_sprite_add(s, &sp), 0);
	assert_true(sp.id > 0);
	return sp.id;
}

static size_t
count_sprites(struct store *s)
{
	struct sprite_row *rows = NULL;
	size_t n = 0;

	assert_int_equal(store_sprite_list(s, &rows, &n), 0);
	sprite_rows_free(rows, n);
	return n;
}

static void
test_open_reopen_keeps_data(void **state)
{
	struct fixture *f = *state;
	struct image_row img;
	struct stat st;
	char *cause = NULL;
	int64_t id;

	id = add_image(f->s, "minimal", "abc");
	store_close(f->s);
	f->s = NULL;

	/* Only this user may read the inventory, WAL included. */
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	assert_int_equal(store_open(f->path, &f->s, &cause), 0);
	assert_int_equal(store_image_get(f->s, id, &img), 0);
	assert_string_equal(img.name, "minimal");
	assert_string_equal(img.recipe_hash, "abc");
	assert_string_equal(img.dir, "/images/minimal/abc");
	image_row_done(&img);
}

static void
test_schema_and_pragmas(void **state)
{
	struct fixture *f = *state;
	char wal[160];
	struct stat st;

	assert_int_equal(store_schema_version(f->s), SCHEMA_LATEST);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), SCHEMA_LATEST);
	/* journal_mode=wal persists in the file; another connection sees it. */
	assert_int_equal(raw_int(f->path,
	    "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'"), 1);
	snprintf(wal, sizeof wal, "%s-wal", f->path);
	assert_int_equal(stat(wal, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* The tables the next features build on exist. */
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_schema "
	    "WHERE type = 'table' AND name IN ('images', 'layers', 'sprites', "
	    "'checkpoints', 'templates', 'events')"), 6);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_schema "
	    "WHERE type = 'index' AND name = 'layers_parent'"), 1);
}

static void
test_newer_schema_refused(void **state)
{
	struct fixture *f = *state;
	struct store *s = (struct store *)&s;	/* a sentinel that must survive */
	char *cause = NULL;
	char want[128];

	raw_exec(f->path, "PRAGMA user_version = 99");
	assert_int_equal(store_open(f->path, &s, &cause), -ENOTSUP);
	assert_ptr_equal(s, (struct store *)&s);
	snprintf(want, sizeof want, "database schema version 99 is newer than "
	    "this sprig (%d); upgrade sprig", SCHEMA_LATEST);
	assert_non_null(cause);
	assert_string_equal(cause, want);
	free(cause);
	/* Refused, not touched. */
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 99);
	assert_int_equal(raw_int(f->path,
	    "SELECT count(*) FROM sqlite_schema"), 0);
}

static void
test_not_a_database_refused(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;
	char *cause = NULL;
	FILE *fp;
	int i;

	fp = fopen(f->path, "w");
	assert_non_null(fp);
	for (i = 0; i < 100; i++)
		fputs("these are someone's notes, not a database\n", fp);
	fclose(fp);

	assert_int_equal(store_open(f->path, &s, &cause), -EINVAL);
	assert_null(s);
	assert_non_null(cause);
	assert_non_null(strstr(cause, f->path));
	assert_non_null(strstr(cause, "is not a sprig database"));
	free(cause);
}

static void
test_failed_migration_keeps_old_version(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;
	char *cause = NULL;

	/* The last table of v1 already exists: step 1 fails half way. */
	raw_exec(f->path, "CREATE TABLE events (x)");
	assert_int_not_equal(store_open(f->path, &s, &cause), 0);
	assert_null(s);
	assert_non_null(cause);
	assert_non_null(strstr(cause, "schema version 1"));
	free(cause);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_schema "
	    "WHERE name = 'images'"), 0);
}

static void
test_images(void **state)
{
	struct fixture *f = *state;
	struct image_row img = { 0 }, got, untouched = { .id = 42 };
	int64_t old_id, new_id;

	old_id = add_image(f->s, "minimal", "old");
	/* Newer build of the same image: built_at later. */
	img.name = "minimal";
	img.recipe_hash = "new";
	img.dir = "/images/minimal/new";
	img.built_at = now_unix_ms() + 1000;
	assert_int_equal(store_image_add(f->s, &img), 0);
	new_id = img.id;
	assert_int_not_equal(old_id, new_id);
	add_image(f->s, "debian", "d1");

	assert_int_equal(store_image_get_current(f->s, "minimal", &got), 0);
	assert_int_equal(got.id, new_id);
	assert_string_equal(got.recipe_hash, "new");
	assert_int_equal(got.built_at, img.built_at);
	image_row_done(&got);

	/* The same build twice, or the same directory. */
	img.id = 0;
	assert_int_equal(store_image_add(f->s, &img), -EEXIST);
	assert_int_equal(img.id, 0);
	assert_non_null(strstr(store_errmsg(f->s), "UNIQUE"));
	img.recipe_hash = "other";
	assert_int_equal(store_image_add(f->s, &img), -EEXIST);

	got = untouched;
	assert_int_equal(store_image_get_current(f->s, "alpine", &got), -ENOENT);
	assert_int_equal(store_image_get(f->s, 999, &got), -ENOENT);
	assert_int_equal(got.id, 42);
	assert_null(got.name);
}

static void
test_layers(void **state)
{
	struct fixture *f = *state;
	struct layer_row l = { 0 }, *rows = NULL;
	size_t n = 0;
	int64_t img, base, top;

	img = add_image(f->s, "minimal", "h");
	base = add_layer(f->s, img, 0, "/layers/1.qcow2");
	top = add_layer(f->s, img, base, "/layers/2.qcow2");

	assert_int_equal(store_layer_get(f->s, top, &l), 0);
	assert_int_equal(l.parent_id, base);
	assert_int_equal(l.image_id, img);
	assert_string_equal(l.file, "/layers/2.qcow2");
	assert_int_equal(l.frozen, 0);
	assert_true(l.created_at > 0);
	layer_row_done(&l);
	assert_int_equal(store_layer_get(f->s, base, &l), 0);
	assert_int_equal(l.parent_id, 0);
	layer_row_done(&l);

	assert_int_equal(store_layer_list(f->s, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(rows[0].id, base);
	assert_int_equal(rows[1].id, top);
	layer_rows_free(rows, n);

	/* A file is one layer. */
	l.image_id = img;
	l.file = "/layers/1.qcow2";
	assert_int_equal(store_layer_add(f->s, &l), -EEXIST);
	/* An unknown image: the foreign key holds. */
	l.image_id = 999;
	l.file = "/layers/3.qcow2";
	assert_int_equal(store_layer_add(f->s, &l), -EINVAL);
	assert_non_null(strstr(store_errmsg(f->s), "FOREIGN KEY"));
	l.image_id = img;
	l.frozen = 2;
	assert_int_equal(store_layer_add(f->s, &l), -EINVAL);

	/* A layer with a child is still referenced. */
	assert_int_equal(store_layer_delete(f->s, base), -EINVAL);
	assert_int_equal(store_layer_delete(f->s, top), 0);
	assert_int_equal(store_layer_delete(f->s, base), 0);
	assert_int_equal(store_layer_delete(f->s, base), -ENOENT);
	l = (struct layer_row){ .id = 7 };
	assert_int_equal(store_layer_get(f->s, base, &l), -ENOENT);
	assert_int_equal(l.id, 7);
	assert_int_equal(store_layer_list(f->s, &rows, &n), 0);
	assert_int_equal(n, 0);
	layer_rows_free(rows, n);
}

static void
test_sprites(void **state)
{
	struct fixture *f = *state;
	struct sprite_row sp = { 0 }, got, *rows = NULL;
	size_t n = 0;
	int64_t img, layer, id;

	img = add_image(f->s, "minimal", "h");
	layer = add_layer(f->s, img, 0, "/layers/1.qcow2");
	sp.name = "agent-a";
	sp.state = SPRITE_CREATING;
	sp.image_id = img;
	sp.top_layer_id = layer;
	sp.mem_mb = 512;
	sp.cpus = 2;
	sp.run_dir = "/run/agent-a";
	assert_int_equal(store_sprite_add(f->s, &sp), 0);
	assert_true(sp.created_at > 0);
	assert_int_equal(sp.updated_at, sp.created_at);
	id = sp.id;

	assert_int_equal(store_sprite_get(f->s, "agent-a", &got), 0);
	assert_int_equal(got.id, id);
	assert_string_equal(got.name, "agent-a");
	assert_string_equal(got.state, SPRITE_CREATING);
	assert_int_equal(got.image_id, img);
	assert_string_equal(got.image_name, "minimal");
	assert_int_equal(got.top_layer_id, layer);
	assert_int_equal(got.mem_mb, 512);
	assert_int_equal(got.cpus, 2);
	assert_int_equal(got.pid, 0);
	assert_string_equal(got.run_dir, "/run/agent-a");
	assert_null(got.last_error);
	assert_int_equal(got.created_at, sp.created_at);
	sprite_row_done(&got);

	/* A second sprite of the same name changes nothing. */
	sp.id = 0;
	sp.state = SPRITE_RUNNING;
	sp.mem_mb = 1024;
	assert_int_equal(store_sprite_add(f->s, &sp), -EEXIST);
	assert_int_equal(sp.id, 0);
	assert_int_equal(count_sprites(f->s), 1);
	assert_int_equal(store_sprite_get(f->s, "agent-a", &got), 0);
	assert_int_equal(got.id, id);
	assert_string_equal(got.state, SPRITE_CREATING);
	assert_int_equal(got.mem_mb, 512);
	sprite_row_done(&got);

	/* Bad state, unknown image or layer, no state at all. */
	sp.name = "agent-b";
	sp.state = "flying";
	assert_int_equal(store_sprite_add(f->s, &sp), -EINVAL);
	sp.state = SPRITE_STOPPED;
	sp.image_id = 999;
	assert_int_equal(store_sprite_add(f->s, &sp), -EINVAL);
	sp.image_id = img;
	sp.top_layer_id = 999;
	assert_int_equal(store_sprite_add(f->s, &sp), -EINVAL);
	sp.top_layer_id = 0;
	sp.state = NULL;
	assert_int_equal(store_sprite_add(f->s, &sp), -EINVAL);
	assert_int_equal(count_sprites(f->s), 1);
	assert_int_equal(store_sprite_set_state(f->s, id, "flying", NULL), -EINVAL);

	got = (struct sprite_row){ .id = 5 };
	assert_int_equal(store_sprite_get(f->s, "nobody", &got), -ENOENT);
	assert_int_equal(got.id, 5);
	assert_null(got.name);
	assert_int_equal(store_sprite_set_state(f->s, 999, SPRITE_RUNNING, NULL), -ENOENT);
	assert_int_equal(store_sprite_set_process(f->s, 999, 1, 2, "/x"), -ENOENT);
	assert_int_equal(store_sprite_set_top_layer(f->s, 999, layer), -ENOENT);
	assert_int_equal(store_sprite_delete(f->s, 999), -ENOENT);

	assert_int_equal(store_sprite_delete(f->s, id), 0);
	assert_int_equal(store_sprite_get(f->s, "agent-a", &got), -ENOENT);
	assert_int_equal(store_sprite_list(f->s, &rows, &n), 0);
	assert_int_equal(n, 0);
	assert_null(rows);
}

static void
test_sprite_updates(void **state)
{
	struct fixture *f = *state;
	struct sprite_row got;
	int64_t img, l1, l2, id, before;

	img = add_image(f->s, "minimal", "h");
	l1 = add_layer(f->s, img, 0, "/layers/1.qcow2");
	l2 = add_layer(f->s, img, l1, "/layers/2.qcow2");
	id = add_sprite(f->s, "a", img, l1);
	assert_int_equal(store_sprite_get(f->s, "a", &got), 0);
	before = got.updated_at;
	sprite_row_done(&got);
	usleep(2000);	/* so updated_at must move */

	assert_int_equal(store_sprite_set_state(f->s, id, SPRITE_BROKEN,
	    "qemu exited with status 1"), 0);
	assert_int_equal(store_sprite_get(f->s, "a", &got), 0);
	assert_string_equal(got.state, SPRITE_BROKEN);
	assert_string_equal(got.last_error, "qemu exited with status 1");
	assert_true(got.updated_at > before);
	before = got.updated_at;
	sprite_row_done(&got);
	usleep(2000);

	assert_int_equal(store_sprite_set_process(f->s, id, 4242,
	    UINT64_C(123456789012), "/run/a"), 0);
	assert_int_equal(store_sprite_get(f->s, "a", &got), 0);
	assert_int_equal(got.pid, 4242);
	assert_true(got.pid_start == UINT64_C(123456789012));
	assert_string_equal(got.run_dir, "/run/a");
	assert_true(got.updated_at > before);
	before = got.updated_at;
	sprite_row_done(&got);
	usleep(2000);

	assert_int_equal(store_sprite_set_top_layer(f->s, id, l2), 0);
	assert_int_equal(store_sprite_get(f->s, "a", &got), 0);
	assert_int_equal(got.top_layer_id, l2);
	assert_true(got.updated_at > before);
	sprite_row_done(&got);
	assert_int_equal(store_sprite_set_top_layer(f->s, id, 999), -EINVAL);

	/* Clearing: no error, no process. */
	assert_int_equal(store_sprite_set_state(f->s, id, SPRITE_STOPPED, NULL), 0);
	assert_int_equal(store_sprite_set_process(f->s, id, 0, 0, NULL), 0);
	assert_int_equal(store_sprite_get(f->s, "a", &got), 0);
	assert_string_equal(got.state, SPRITE_STOPPED);
	assert_null(got.last_error);
	assert_int_equal(got.pid, 0);
	assert_true(got.pid_start == 0);
	assert_null(got.run_dir);
	assert_int_equal(got.top_layer_id, l2);
	sprite_row_done(&got);
}

static void
test_sprite_list_sorted(void **state)
{
	struct fixture *f = *state;
	struct sprite_row *rows = NULL;
	size_t n = 0;
	int64_t img;

	img = add_image(f->s, "minimal", "h");
	add_sprite(f->s, "zeta", img, 0);
	add_sprite(f->s, "alpha", img, 0);
	add_sprite(f->s, "mid", img, 0);
	assert_int_equal(store_sprite_list(f->s, &rows, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(rows[0].name, "alpha");
	assert_string_equal(rows[1].name, "mid");
	assert_string_equal(rows[2].name, "zeta");
	assert_string_equal(rows[2].image_name, "minimal");
	sprite_rows_free(rows, n);
}

static void
test_transactions(void **state)
{
	struct fixture *f = *state;
	struct sprite_row got;
	int64_t img;

	img = add_image(f->s, "minimal", "h");

	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_begin(f->s), -EINVAL);	/* no nesting */
	add_sprite(f->s, "gone", img, 0);
	assert_int_equal(count_sprites(f->s), 1);
	store_rollback(f->s);
	assert_int_equal(store_sprite_get(f->s, "gone", &got), -ENOENT);
	assert_int_equal(count_sprites(f->s), 0);

	assert_int_equal(store_begin(f->s), 0);
	add_sprite(f->s, "kept", img, 0);
	/* A failed statement undoes itself, not the transaction. */
	assert_int_equal(store_sprite_set_state(f->s, 999, SPRITE_RUNNING, NULL), -ENOENT);
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(store_commit(f->s), -EINVAL);	/* none open */
	store_rollback(f->s);				/* harmless */

	/* Committed means on disk: another connection sees it. */
	assert_int_equal(raw_int(f->path,
	    "SELECT count(*) FROM sprites WHERE name = 'kept'"), 1);
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(f->path, &f->s, NULL), 0);
	assert_int_equal(store_sprite_get(f->s, "kept", &got), 0);
	sprite_row_done(&got);
}

static void
test_sprite_delete_cascades_checkpoints(void **state)
{
	struct fixture *f = *state;
	int64_t img, l1, l2, a, b;
	char sql[512];

	img = add_image(f->s, "minimal", "h");
	l1 = add_layer(f->s, img, 0, "/layers/1.qcow2");
	l2 = add_layer(f->s, img, l1, "/layers/2.qcow2");
	a = add_sprite(f->s, "a", img, l2);
	b = add_sprite(f->s, "b", img, l2);
	/* No API for checkpoints yet: plant a two-node timeline for each. */
	snprintf(sql, sizeof sql,
	    "INSERT INTO checkpoints (id, sprite_id, version, parent_id, "
	    "layer_id, created_at) VALUES (1, %lld, 0, NULL, %lld, 1), "
	    "(2, %lld, 1, 1, %lld, 2), (3, %lld, 0, NULL, %lld, 3), "
	    "(4, %lld, 1, 3, %lld, 4)",
	    (long long)a, (long long)l1, (long long)a, (long long)l1,
	    (long long)b, (long long)l1, (long long)b, (long long)l1);
	raw_exec(f->path, sql);

	assert_int_equal(store_sprite_delete(f->s, a), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM checkpoints"), 2);
	snprintf(sql, sizeof sql,
	    "SELECT count(*) FROM checkpoints WHERE sprite_id = %lld", (long long)b);
	assert_int_equal(raw_int(f->path, sql), 2);
	/* Checkpoints keep their layer referenced; the layers stay. */
	assert_int_equal(store_layer_delete(f->s, l1), -EINVAL);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM layers"), 2);
}

static void
test_events(void **state)
{
	struct fixture *f = *state;
	struct event_row *rows = NULL;
	size_t n = 0;
	int64_t t0 = now_unix_ms();

	assert_int_equal(store_event_add(f->s, NULL, "start", "daemon up"), 0);
	assert_int_equal(store_event_add(f->s, "a", "create", "created a"), 0);
	assert_int_equal(store_event_add(f->s, "b", "create", "created b"), 0);
	assert_int_equal(store_event_add(f->s, "a", "start", "started a"), 0);
	assert_int_equal(store_event_add(f->s, "a", "stop", NULL), -EINVAL);

	assert_int_equal(store_event_list(f->s, NULL, 100, &rows, &n), 0);
	assert_int_equal(n, 4);
	assert_null(rows[0].sprite);
	assert_string_equal(rows[0].kind, "start");
	assert_string_equal(rows[0].message, "daemon up");
	assert_true(rows[0].at >= t0);
	assert_string_equal(rows[3].message, "started a");
	event_rows_free(rows, n);

	/* The newest two of a's, oldest first. */
	assert_int_equal(store_event_list(f->s, "a", 100, &rows, &n), 0);
	assert_int_equal(n, 2);
	event_rows_free(rows, n);
	assert_int_equal(store_event_list(f->s, NULL, 2, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].message, "created b");
	assert_string_equal(rows[1].message, "started a");
	assert_true(rows[0].id < rows[1].id);
	event_rows_free(rows, n);
	assert_int_equal(store_event_list(f->s, "a", 1, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].message, "started a");
	event_rows_free(rows, n);

	assert_int_equal(store_event_list(f->s, "nobody", 10, &rows, &n), 0);
	assert_int_equal(n, 0);
	assert_null(rows);
}

static void
test_events_trimmed(void **state)
{
	struct fixture *f = *state;
	struct event_row *rows = NULL;
	size_t n = 0;
	char msg[32];
	int i, total = STORE_EVENTS_KEEP + 10;

	assert_int_equal(store_begin(f->s), 0);
	for (i = 0; i < total; i++) {
		snprintf(msg, sizeof msg, "event %d", i);
		assert_int_equal(store_event_add(f->s, i % 2 ? "odd" : NULL,
		    "test", msg), 0);
	}
	assert_int_equal(store_commit(f->s), 0);

	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM events"),
	    STORE_EVENTS_KEEP);
	assert_int_equal(store_event_list(f->s, NULL, 2 * STORE_EVENTS_KEEP,
	    &rows, &n), 0);
	assert_int_equal(n, STORE_EVENTS_KEEP);
	/* The oldest ten went; the rest are in order. */
	assert_string_equal(rows[0].message, "event 10");
	snprintf(msg, sizeof msg, "event %d", total - 1);
	assert_string_equal(rows[n - 1].message, msg);
	event_rows_free(rows, n);

	/* One more keeps the count. */
	assert_int_equal(store_event_add(f->s, NULL, "test", "last"), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM events"),
	    STORE_EVENTS_KEEP);
	assert_int_equal(store_event_list(f->s, NULL, 1, &rows, &n), 0);
	assert_string_equal(rows[0].message, "last");
	event_rows_free(rows, n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_reopen_keeps_data,
		    setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_schema_and_pragmas,
		    setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused,
		    setup_dir, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_database_refused,
		    setup_dir, teardown),
		cmocka_unit_test_setup_teardown(
		    test_failed_migration_keeps_old_version, setup_dir, teardown),
		cmocka_unit_test_setup_teardown(test_images, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_layers, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_sprites, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_sprite_updates,
		    setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_sprite_list_sorted,
		    setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_transactions,
		    setup_open, teardown),
		cmocka_unit_test_setup_teardown(
		    test_sprite_delete_cascades_checkpoints, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_events, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_events_trimmed,
		    setup_open, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
