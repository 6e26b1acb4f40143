/*
 * test_store: the SQLite store against real database files, each test in a
 * fresh temporary directory. A second, raw SQLite connection looks at what
 * the store wrote and plants what its API cannot (a v1 database, a newer
 * schema version, a statement that fails).
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
#define SCHEMA_LATEST	5

/* Schema version 1 as sprig 1 wrote it, to test upgrades from a real one. */
static const char v1_schema[] =
	"CREATE TABLE images ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  recipe_hash TEXT NOT NULL,"
	"  dir TEXT NOT NULL UNIQUE,"
	"  built_at INTEGER NOT NULL,"
	"  UNIQUE (name, recipe_hash));"
	"CREATE TABLE layers ("
	"  id INTEGER PRIMARY KEY,"
	"  parent_id INTEGER REFERENCES layers(id),"
	"  image_id INTEGER NOT NULL REFERENCES images(id),"
	"  file TEXT NOT NULL UNIQUE,"
	"  frozen INTEGER NOT NULL DEFAULT 0 CHECK (frozen IN (0, 1)),"
	"  created_at INTEGER NOT NULL);"
	"CREATE INDEX layers_parent ON layers(parent_id);"
	"CREATE INDEX layers_image ON layers(image_id);"
	"CREATE TABLE sprites ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  state TEXT NOT NULL CHECK (state IN ('creating', 'running',"
	"    'paused', 'sleeping', 'stopped', 'broken')),"
	"  image_id INTEGER NOT NULL REFERENCES images(id),"
	"  top_layer_id INTEGER REFERENCES layers(id),"
	"  mem_mb INTEGER NOT NULL,"
	"  cpus INTEGER NOT NULL,"
	"  pid INTEGER NOT NULL DEFAULT 0,"
	"  pid_start INTEGER NOT NULL DEFAULT 0,"
	"  run_dir TEXT,"
	"  last_error TEXT,"
	"  labels TEXT NOT NULL DEFAULT '[]',"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE INDEX sprites_image ON sprites(image_id);"
	"CREATE INDEX sprites_top_layer ON sprites(top_layer_id);"
	"CREATE TABLE checkpoints ("
	"  id INTEGER PRIMARY KEY,"
	"  sprite_id INTEGER NOT NULL REFERENCES sprites(id) ON DELETE CASCADE,"
	"  version INTEGER NOT NULL CHECK (version >= 0),"
	"  parent_id INTEGER REFERENCES checkpoints(id),"
	"  layer_id INTEGER NOT NULL REFERENCES layers(id),"
	"  mem_dir TEXT,"
	"  comment TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  UNIQUE (sprite_id, version));"
	"CREATE INDEX checkpoints_parent ON checkpoints(parent_id);"
	"CREATE INDEX checkpoints_layer ON checkpoints(layer_id);"
	"CREATE TABLE templates ("
	"  name TEXT NOT NULL PRIMARY KEY,"
	"  layer_id INTEGER NOT NULL REFERENCES layers(id),"
	"  mem_dir TEXT,"
	"  created_at INTEGER NOT NULL);"
	"CREATE INDEX templates_layer ON templates(layer_id);"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY,"
	"  at INTEGER NOT NULL,"
	"  sprite TEXT,"
	"  kind TEXT NOT NULL,"
	"  message TEXT NOT NULL);"
	"CREATE INDEX events_sprite ON events(sprite, id);"
	"PRAGMA user_version = 1;";

/* A v1 sprite "old" on layer 2 (over 1), its v0 on layer 1, a template. */
static const char v1_rows[] =
	"INSERT INTO images VALUES (1, 'minimal', 'h', '/images/minimal/h', 10);"
	"INSERT INTO layers VALUES (1, NULL, 1, '/layers/1.qcow2', 1, 11);"
	"INSERT INTO layers VALUES (2, 1, 1, '/layers/2.qcow2', 0, 12);"
	"INSERT INTO sprites (id, name, state, image_id, top_layer_id, mem_mb,"
	"  cpus, run_dir, last_error, created_at, updated_at) VALUES"
	"  (1, 'old', 'broken', 1, 2, 384, 2, NULL, 'it broke', 13, 14);"
	"INSERT INTO checkpoints VALUES (1, 1, 0, NULL, 1, NULL, 'first', 15);"
	"INSERT INTO templates VALUES ('tpl', 1, '/mem/1', 16);";

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

static int64_t
add_checkpoint(struct store *s, int64_t sprite_id, int version,
    int64_t parent_id, int64_t layer_id)
{
	struct checkpoint_row c = { 0 };

	c.sprite_id = sprite_id;
	c.version = version;
	c.parent_id = parent_id;
	c.layer_id = layer_id;
	assert_int_equal(store_checkpoint_add(s, &c), 0);
	assert_true(c.id > 0);
	return c.id;
}

static void
add_template(struct store *s, const char *name, int64_t layer_id)
{
	struct template_row t = { 0 };

	t.name = (char *)name;
	t.layer_id = layer_id;
	assert_int_equal(store_template_add(s, &t), 0);
}

static int
layer_refs(struct store *s, int64_t layer_id)
{
	int n = -1;

	assert_int_equal(store_layer_refs(s, layer_id, &n), 0);
	return n;
}

static struct sprite_row
get_sprite(struct store *s, const char *name)
{
	struct sprite_row sp;

	assert_int_equal(store_sprite_get(s, name, &sp), 0);
	return sp;
}

static int64_t
checkpoint_parent(struct store *s, int64_t id)
{
	struct checkpoint_row c;
	int64_t parent;

	assert_int_equal(store_checkpoint_get_id(s, id, &c), 0);
	parent = c.parent_id;
	checkpoint_row_done(&c);
	return parent;
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
	/* Deleting a checkpoint looks for sprites pointing at it. */
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_schema "
	    "WHERE type = 'index' AND name IN ('sprites_head', 'sprites_undo')"), 2);
}

static void
test_migrate_v1(void **state)
{
	struct fixture *f = *state;
	struct sprite_row sp;
	struct checkpoint_row c;
	struct template_row t;
	struct layer_row *rows = NULL;
	size_t n = 1;
	char *cause = NULL;

	raw_exec(f->path, v1_schema);
	raw_exec(f->path, v1_rows);
	assert_int_equal(store_open(f->path, &f->s, &cause), 0);
	assert_null(cause);
	assert_int_equal(store_schema_version(f->s), SCHEMA_LATEST);

	/* What v1 held is all there, and what v2 added is empty. */
	sp = get_sprite(f->s, "old");
	assert_int_equal(sp.id, 1);
	assert_string_equal(sp.state, SPRITE_BROKEN);
	assert_string_equal(sp.image_name, "minimal");
	assert_int_equal(sp.top_layer_id, 2);
	assert_int_equal(sp.mem_mb, 384);
	assert_string_equal(sp.last_error, "it broke");
	assert_int_equal(sp.created_at, 13);
	assert_int_equal(sp.head_checkpoint_id, 0);
	assert_int_equal(sp.undo_checkpoint_id, 0);
	assert_null(sp.origin);
	assert_int_equal(sp.idle_s, -1);	/* v3: the daemon's default */
	assert_string_equal(sp.labels, "[]");	/* v1's default */
	assert_null(sp.url_settings);		/* v5: never set */
	sprite_row_done(&sp);
	assert_int_equal(store_checkpoint_get(f->s, 1, 0, &c), 0);
	assert_int_equal(c.layer_id, 1);
	assert_string_equal(c.comment, "first");
	assert_int_equal(c.is_auto, 0);
	checkpoint_row_done(&c);
	assert_int_equal(store_template_get(f->s, "tpl", &t), 0);
	assert_int_equal(t.layer_id, 1);
	assert_string_equal(t.mem_dir, "/mem/1");
	assert_null(t.origin);
	template_row_done(&t);
	assert_int_equal(store_layer_list_pending(f->s, &rows, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(layer_refs(f->s, 1), 3);	/* layer 2, v0, tpl */

	/* The next checkpoint of a migrated sprite goes on from v1's. */
	c = (struct checkpoint_row){ .sprite_id = 1, .version = -1,
	    .parent_id = 1, .layer_id = 1 };
	assert_int_equal(store_checkpoint_add(f->s, &c), 0);
	assert_int_equal(c.version, 1);

	/* The added columns are foreign keys that hold, and hold now. */
	assert_int_equal(raw_int(f->path,
	    "SELECT count(*) FROM pragma_foreign_key_check"), 0);
	assert_int_equal(store_sprite_set_head(f->s, 1, 999, 0), -EINVAL);
	assert_int_equal(store_sprite_set_head(f->s, 1, c.id, 1), 0);
	assert_int_equal(store_checkpoint_delete(f->s, 1), 0);
	sp = get_sprite(f->s, "old");
	assert_int_equal(sp.head_checkpoint_id, c.id);
	assert_int_equal(sp.undo_checkpoint_id, 0);
	sprite_row_done(&sp);
	assert_int_equal(checkpoint_parent(f->s, c.id), 0);

	/* Opening again changes nothing. */
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(f->path, &f->s, NULL), 0);
	assert_int_equal(store_schema_version(f->s), SCHEMA_LATEST);
	assert_int_equal(count_sprites(f->s), 1);
}

static void
test_failed_migration_v2_keeps_v1(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;
	char *cause = NULL;

	/* Step 2 adds templates.origin late: make that clash. */
	raw_exec(f->path, v1_schema);
	raw_exec(f->path, v1_rows);
	raw_exec(f->path, "ALTER TABLE templates ADD COLUMN origin TEXT");
	assert_int_not_equal(store_open(f->path, &s, &cause), 0);
	assert_null(s);
	assert_non_null(cause);
	assert_non_null(strstr(cause, "schema version 2"));
	free(cause);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM "
	    "pragma_table_info('sprites') WHERE name = 'head_checkpoint_id'"), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sprites"), 1);
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
	assert_null(got.origin);
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
	/* Plant a two-node timeline for each, as v1 could hold it. */
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

/* A sprite "dev" on an image and a layer of its own; returns its id. */
static int64_t
add_dev_sprite(struct store *s)
{
	int64_t img = add_image(s, "minimal", "h");

	return add_sprite(s, "dev", img, add_layer(s, img, 0, "/layers/1.qcow2"));
}

static void
test_sprite_idle(void **state)
{
	struct fixture *f = *state;
	struct sprite_row got;
	int64_t id = add_dev_sprite(f->s);

	got = get_sprite(f->s, "dev");
	assert_int_equal(got.idle_s, -1);
	sprite_row_done(&got);

	assert_int_equal(store_sprite_set_idle(f->s, id, 300), 0);
	got = get_sprite(f->s, "dev");
	assert_int_equal(got.idle_s, 300);
	sprite_row_done(&got);
	assert_int_equal(store_sprite_set_idle(f->s, id, 0), 0);
	got = get_sprite(f->s, "dev");
	assert_int_equal(got.idle_s, 0);
	sprite_row_done(&got);
	assert_int_equal(store_sprite_set_idle(f->s, id, -1), 0);
	got = get_sprite(f->s, "dev");
	assert_int_equal(got.idle_s, -1);
	sprite_row_done(&got);

	assert_int_equal(store_sprite_set_idle(f->s, id, -5), -EINVAL);
	assert_int_equal(store_sprite_set_idle(f->s, id + 100, 10), -ENOENT);
}

/* Labels and URL settings: set together or apart, NULL leaves one. */
static void
test_sprite_meta(void **state)
{
	struct fixture *f = *state;
	struct sprite_row got;
	int64_t id = add_dev_sprite(f->s);

	got = get_sprite(f->s, "dev");
	assert_string_equal(got.labels, "[]");
	assert_null(got.url_settings);
	sprite_row_done(&got);

	assert_int_equal(store_sprite_set_meta(f->s, id, "[\"a\",\"b\"]", NULL), 0);
	got = get_sprite(f->s, "dev");
	assert_string_equal(got.labels, "[\"a\",\"b\"]");
	assert_null(got.url_settings);
	sprite_row_done(&got);
	assert_int_equal(store_sprite_set_meta(f->s, id, NULL, "{\"auth\":\"public\"}"), 0);
	got = get_sprite(f->s, "dev");
	assert_string_equal(got.labels, "[\"a\",\"b\"]");
	assert_string_equal(got.url_settings, "{\"auth\":\"public\"}");
	sprite_row_done(&got);
	assert_int_equal(store_sprite_set_meta(f->s, id, "[]", NULL), 0);
	got = get_sprite(f->s, "dev");
	assert_string_equal(got.labels, "[]");
	assert_string_equal(got.url_settings, "{\"auth\":\"public\"}");
	sprite_row_done(&got);

	assert_int_equal(store_sprite_set_meta(f->s, id + 100, "[]", NULL), -ENOENT);
}

/* Policies: one per kind and sprite, replaced, deleted, gone with it. */
static void
test_policies(void **state)
{
	struct fixture *f = *state;
	char *v = (char *)"untouched";
	int64_t img, l1, l2, a, b;

	img = add_image(f->s, "minimal", "h");
	l1 = add_layer(f->s, img, 0, "/layers/1.qcow2");
	l2 = add_layer(f->s, img, 0, "/layers/2.qcow2");
	a = add_sprite(f->s, "a", img, l1);
	b = add_sprite(f->s, "b", img, l2);

	assert_int_equal(store_policy_get(f->s, a, "network", &v), -ENOENT);
	assert_string_equal(v, "untouched");
	assert_int_equal(store_policy_set(f->s, a, "network", "{\"rules\":[]}"), 0);
	assert_int_equal(store_policy_set(f->s, a, "network",
	    "{\"rules\":[{\"domain\":\"x.com\",\"action\":\"allow\"}]}"), 0);
	assert_int_equal(store_policy_set(f->s, a, "resources", "{}"), 0);
	assert_int_equal(store_policy_set(f->s, b, "network", "{\"rules\":[]}"), 0);
	assert_int_equal(store_policy_get(f->s, a, "network", &v), 0);
	assert_string_equal(v, "{\"rules\":[{\"domain\":\"x.com\",\"action\":\"allow\"}]}");
	free(v);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM policies"), 3);

	/* Unknown kinds and sprites are refused, nothing written. */
	assert_int_equal(store_policy_set(f->s, a, "firewall", "{}"), -EINVAL);
	assert_int_equal(store_policy_set(f->s, b + 100, "network", "{}"), -EINVAL);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM policies"), 3);

	/* Deleting one kind leaves the others; deleting none is fine. */
	assert_int_equal(store_policy_set(f->s, a, "resources", NULL), 0);
	assert_int_equal(store_policy_set(f->s, a, "resources", NULL), 0);
	assert_int_equal(store_policy_get(f->s, a, "resources", &v), -ENOENT);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM policies"), 2);

	/* A sprite's policies go with it; another's stay. */
	assert_int_equal(store_sprite_delete(f->s, a), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM policies"), 1);
	assert_int_equal(store_policy_get(f->s, b, "network", &v), 0);
	assert_string_equal(v, "{\"rules\":[]}");
	free(v);
}

/* A v4 database (labels written in v1's column) comes up as v5 with them. */
static void
test_migrate_v4_keeps_labels(void **state)
{
	struct fixture *f = *state;
	struct sprite_row sp;
	char *cause = NULL;

	raw_exec(f->path, v1_schema);
	raw_exec(f->path, v1_rows);
	raw_exec(f->path, "UPDATE sprites SET labels = '[\"kept\"]' WHERE name = 'old'");
	/* Let sprig take it to v4, then step back to plant it as a v4 file. */
	assert_int_equal(store_open(f->path, &f->s, &cause), 0);
	store_close(f->s);
	f->s = NULL;
	raw_exec(f->path, "DROP TABLE policies; ALTER TABLE sprites DROP COLUMN url_settings;"
	    "PRAGMA user_version = 4");
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 4);

	assert_int_equal(store_open(f->path, &f->s, &cause), 0);
	assert_null(cause);
	assert_int_equal(store_schema_version(f->s), 5);
	sp = get_sprite(f->s, "old");
	assert_string_equal(sp.labels, "[\"kept\"]");
	assert_null(sp.url_settings);
	assert_int_equal(store_policy_set(f->s, sp.id, "network", "{\"rules\":[]}"), 0);
	sprite_row_done(&sp);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
}

static void
test_settings(void **state)
{
	struct fixture *f = *state;
	char *v = (char *)"untouched";

	assert_int_equal(store_setting_get(f->s, "max_awake", &v), -ENOENT);
	assert_string_equal(v, "untouched");
	assert_int_equal(store_setting_set(f->s, "max_awake", "4"), 0);
	assert_int_equal(store_setting_get(f->s, "max_awake", &v), 0);
	assert_string_equal(v, "4");
	free(v);
	assert_int_equal(store_setting_set(f->s, "max_awake", "6"), 0);
	assert_int_equal(store_setting_get(f->s, "max_awake", &v), 0);
	assert_string_equal(v, "6");
	free(v);
	assert_int_equal(store_setting_set(f->s, "max_awake", NULL), 0);
	assert_int_equal(store_setting_get(f->s, "max_awake", &v), -ENOENT);
	assert_int_equal(store_setting_set(f->s, "never_set", NULL), 0);
}

static void
test_sprite_origin_and_head(void **state)
{
	struct fixture *f = *state;
	struct sprite_row sp = { 0 }, got, *rows = NULL;
	size_t n = 0;
	int64_t img, l1, v0, v1;

	img = add_image(f->s, "minimal", "h");
	l1 = add_layer(f->s, img, 0, "/layers/1.qcow2");
	add_sprite(f->s, "base", img, l1);
	sp.name = "fork";
	sp.state = SPRITE_STOPPED;
	sp.image_id = img;
	sp.top_layer_id = l1;
	sp.mem_mb = 256;
	sp.cpus = 1;
	sp.origin = "base@v3";
	assert_int_equal(store_sprite_add(f->s, &sp), 0);

	got = get_sprite(f->s, "fork");
	assert_string_equal(got.origin, "base@v3");
	assert_int_equal(got.head_checkpoint_id, 0);
	sprite_row_done(&got);
	assert_int_equal(store_sprite_list(f->s, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_null(rows[0].origin);
	assert_string_equal(rows[1].origin, "base@v3");
	sprite_rows_free(rows, n);

	v0 = add_checkpoint(f->s, sp.id, -1, 0, l1);
	v1 = add_checkpoint(f->s, sp.id, -1, v0, l1);
	assert_int_equal(store_sprite_set_head(f->s, sp.id, v1, v0), 0);
	got = get_sprite(f->s, "fork");
	assert_int_equal(got.head_checkpoint_id, v1);
	assert_int_equal(got.undo_checkpoint_id, v0);
	sprite_row_done(&got);
	assert_int_equal(store_sprite_set_head(f->s, sp.id, 999, 0), -EINVAL);
	assert_int_equal(store_sprite_set_head(f->s, sp.id, v0, 999), -EINVAL);
	assert_int_equal(store_sprite_set_head(f->s, 999, v0, 0), -ENOENT);
	got = get_sprite(f->s, "fork");
	assert_int_equal(got.head_checkpoint_id, v1);
	assert_int_equal(got.undo_checkpoint_id, v0);
	sprite_row_done(&got);
	/* 0 clears. */
	assert_int_equal(store_sprite_set_head(f->s, sp.id, v1, 0), 0);
	got = get_sprite(f->s, "fork");
	assert_int_equal(got.undo_checkpoint_id, 0);
	sprite_row_done(&got);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sprites "
	    "WHERE undo_checkpoint_id IS NULL"), 2);
}

static void
test_checkpoint_versions(void **state)
{
	struct fixture *f = *state;
	struct checkpoint_row c = { 0 }, got;
	int64_t img, l1, a, b;
	int i;

	img = add_image(f->s, "minimal", "h");
	l1 = add_layer(f->s, img, 0, "/layers/1.qcow2");
	a = add_sprite(f->s, "a", img, l1);
	b = add_sprite(f->s, "b", img, l1);

	/* Each sprite counts on its own, from 0. */
	for (i = 0; i < 3; i++) {
		c = (struct checkpoint_row){ .sprite_id = a, .version = -1,
		    .layer_id = l1 };
		assert_int_equal(store_checkpoint_add(f->s, &c), 0);
		assert_int_equal(c.version, i);
		assert_true(c.created_at > 0);
		if (i < 2) {
			c = (struct checkpoint_row){ .sprite_id = b,
			    .version = -1, .layer_id = l1 };
			assert_int_equal(store_checkpoint_add(f->s, &c), 0);
			assert_int_equal(c.version, i);
		}
	}
	assert_int_equal(store_checkpoint_get(f->s, a, 2, &got), 0);
	assert_int_equal(got.sprite_id, a);
	checkpoint_row_done(&got);

	/* An explicit version is kept; the next one goes on from the max. */
	c = (struct checkpoint_row){ .sprite_id = b, .version = 7, .layer_id = l1 };
	assert_int_equal(store_checkpoint_add(f->s, &c), 0);
	assert_int_equal(c.version, 7);
	c = (struct checkpoint_row){ .sprite_id = b, .version = -1, .layer_id = l1 };
	assert_int_equal(store_checkpoint_add(f->s, &c), 0);
	assert_int_equal(c.version, 8);

	/* A clash, an unknown sprite, layer or parent: nothing changes. */
	c = (struct checkpoint_row){ .sprite_id = a, .version = 1, .layer_id = l1 };
	assert_int_equal(store_checkpoint_add(f->s, &c), -EEXIST);
	assert_int_equal(c.id, 0);
	assert_int_equal(c.created_at, 0);
	c.version = -1;
	c.sprite_id = 999;
	assert_int_equal(store_checkpoint_add(f->s, &c), -EINVAL);
	assert_int_equal(c.version, -1);
	c.sprite_id = a;
	c.layer_id = 999;
	assert_int_equal(store_checkpoint_add(f->s, &c), -EINVAL);
	c.layer_id = l1;
	c.parent_id = 999;
	assert_int_equal(store_checkpoint_add(f->s, &c), -EINVAL);
	c.parent_id = 0;
	c.is_auto = 2;
	assert_int_equal(store_checkpoint_add(f->s, &c), -EINVAL);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM checkpoints"), 7);

	/* Inside the caller's transaction: it goes, or stays, with it. */
	assert_int_equal(store_begin(f->s), 0);
	add_checkpoint(f->s, a, -1, 0, l1);
	c = (struct checkpoint_row){ .sprite_id = a, .version = -1, .layer_id = l1 };
	assert_int_equal(store_checkpoint_add(f->s, &c), 0);
	assert_int_equal(c.version, 4);
	store_rollback(f->s);
	assert_int_equal(store_checkpoint_get(f->s, a, 3, &got), -ENOENT);
	assert_int_equal(store_begin(f->s), 0);
	c = (struct checkpoint_row){ .sprite_id = a, .version = -1, .layer_id = l1 };
	assert_int_equal(store_checkpoint_add(f->s, &c), 0);
	assert_int_equal(c.version, 3);
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(store_checkpoint_get(f->s, a, 3, &got), 0);
	checkpoint_row_done(&got);
}

static void
test_checkpoint_get_list(void **state)
{
	struct fixture *f = *state;
	struct checkpoint_row c = { 0 }, got, untouched = { .id = 42 };
	struct checkpoint_row *rows = NULL;
	size_t n = 0;
	int64_t img, l1, l2, a, v2;

	img = add_image(f->s, "minimal", "h");
	l1 = add_layer(f->s, img, 0, "/layers/1.qcow2");
	l2 = add_layer(f->s, img, l1, "/layers/2.qcow2");
	a = add_sprite(f->s, "a", img, l2);

	/* Added out of order: the list is by version. */
	c.sprite_id = a;
	c.version = 2;
	c.layer_id = l2;
	c.mem_dir = "/mem/7";
	c.comment = "before restore";
	c.is_auto = 1;
	assert_int_equal(store_checkpoint_add(f->s, &c), 0);
	v2 = c.id;
	add_checkpoint(f->s, a, 0, 0, l1);
	add_checkpoint(f->s, a, 1, 0, l1);

	assert_int_equal(store_checkpoint_get(f->s, a, 2, &got), 0);
	assert_int_equal(got.id, v2);
	assert_int_equal(got.sprite_id, a);
	assert_int_equal(got.version, 2);
	assert_int_equal(got.parent_id, 0);
	assert_int_equal(got.layer_id, l2);
	assert_string_equal(got.mem_dir, "/mem/7");
	assert_string_equal(got.comment, "before restore");
	assert_int_equal(got.is_auto, 1);
	assert_int_equal(got.created_at, c.created_at);
	checkpoint_row_done(&got);
	assert_int_equal(store_checkpoint_get_id(f->s, v2, &got), 0);
	assert_int_equal(got.version, 2);
	assert_string_equal(got.comment, "before restore");
	checkpoint_row_done(&got);
	assert_int_equal(store_checkpoint_get(f->s, a, 0, &got), 0);
	assert_null(got.mem_dir);
	assert_null(got.comment);
	assert_int_equal(got.is_auto, 0);
	checkpoint_row_done(&got);

	got = untouched;
	assert_int_equal(store_checkpoint_get(f->s, a, 3, &got), -ENOENT);
	assert_int_equal(store_checkpoint_get(f->s, 999, 0, &got), -ENOENT);
	assert_int_equal(store_checkpoint_get_id(f->s, 999, &got), -ENOENT);
	assert_int_equal(got.id, 42);
	assert_null(got.comment);

	assert_int_equal(store_checkpoint_list(f->s, a, &rows, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(rows[0].version, 0);
	assert_int_equal(rows[1].version, 1);
	assert_int_equal(rows[2].version, 2);
	assert_int_equal(rows[2].id, v2);
	assert_string_equal(rows[2].mem_dir, "/mem/7");
	checkpoint_rows_free(rows, n);
	assert_int_equal(store_checkpoint_list(f->s, 999, &rows, &n), 0);
	assert_int_equal(n, 0);
	assert_null(rows);
}

static void
test_checkpoint_delete(void **state)
{
	struct fixture *f = *state;
	struct sprite_row sp;
	int64_t img, l1, a, b, v0, v1, v2, v3;

	img = add_image(f->s, "minimal", "h");
	l1 = add_layer(f->s, img, 0, "/layers/1.qcow2");
	a = add_sprite(f->s, "a", img, l1);
	b = add_sprite(f->s, "b", img, l1);
	/* v0 <- v1 <- v2, and v1 <- v3: a branch. */
	v0 = add_checkpoint(f->s, a, -1, 0, l1);
	v1 = add_checkpoint(f->s, a, -1, v0, l1);
	v2 = add_checkpoint(f->s, a, -1, v1, l1);
	v3 = add_checkpoint(f->s, a, -1, v1, l1);
	assert_int_equal(store_sprite_set_head(f->s, a, v1, v1), 0);
	assert_int_equal(store_sprite_set_head(f->s, b, v2, v1), 0);

	/* Undone with the caller's transaction. */
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_checkpoint_delete(f->s, v1), 0);
	store_rollback(f->s);
	assert_int_equal(checkpoint_parent(f->s, v2), v1);
	sp = get_sprite(f->s, "a");
	assert_int_equal(sp.head_checkpoint_id, v1);
	sprite_row_done(&sp);

	assert_int_equal(store_checkpoint_delete(f->s, v1), 0);
	assert_int_equal(checkpoint_parent(f->s, v2), v0);
	assert_int_equal(checkpoint_parent(f->s, v3), v0);
	assert_int_equal(checkpoint_parent(f->s, v0), 0);
	sp = get_sprite(f->s, "a");
	assert_int_equal(sp.head_checkpoint_id, 0);
	assert_int_equal(sp.undo_checkpoint_id, 0);
	sprite_row_done(&sp);
	sp = get_sprite(f->s, "b");
	assert_int_equal(sp.head_checkpoint_id, v2);	/* not v1: kept */
	assert_int_equal(sp.undo_checkpoint_id, 0);
	sprite_row_done(&sp);
	assert_int_equal(store_checkpoint_delete(f->s, v1), -ENOENT);

	/* A root: its children become roots. */
	assert_int_equal(store_checkpoint_delete(f->s, v0), 0);
	assert_int_equal(checkpoint_parent(f->s, v2), 0);
	assert_int_equal(checkpoint_parent(f->s, v3), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM checkpoints"), 2);
	/* The layer is one holder less: two tops and v2, v3 are left. */
	assert_int_equal(layer_refs(f->s, l1), 4);
}

static void
test_checkpoint_delete_all_or_nothing(void **state)
{
	struct fixture *f = *state;
	struct sprite_row sp;
	int64_t img, l1, a, v0, v1, v2;

	img = add_image(f->s, "minimal", "h");
	l1 = add_layer(f->s, img, 0, "/layers/1.qcow2");
	a = add_sprite(f->s, "a", img, l1);
	v0 = add_checkpoint(f->s, a, -1, 0, l1);
	v1 = add_checkpoint(f->s, a, -1, v0, l1);
	v2 = add_checkpoint(f->s, a, -1, v1, l1);
	assert_int_equal(store_sprite_set_head(f->s, a, v1, 0), 0);
	/* The last step fails, after the re-parenting and the head. */
	raw_exec(f->path, "CREATE TRIGGER planted BEFORE DELETE ON checkpoints "
	    "BEGIN SELECT RAISE(ABORT, 'planted'); END");

	assert_int_equal(store_checkpoint_delete(f->s, v1), -EINVAL);
	assert_non_null(strstr(store_errmsg(f->s), "planted"));
	assert_int_equal(checkpoint_parent(f->s, v2), v1);
	sp = get_sprite(f->s, "a");
	assert_int_equal(sp.head_checkpoint_id, v1);
	sprite_row_done(&sp);

	/* In the caller's transaction: its own part undone, the rest kept. */
	assert_int_equal(store_begin(f->s), 0);
	add_sprite(f->s, "b", img, l1);
	assert_int_equal(store_checkpoint_delete(f->s, v1), -EINVAL);
	assert_int_equal(checkpoint_parent(f->s, v2), v1);
	sp = get_sprite(f->s, "a");
	assert_int_equal(sp.head_checkpoint_id, v1);
	sprite_row_done(&sp);
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(count_sprites(f->s), 2);
	assert_int_equal(raw_int(f->path, "SELECT parent_id FROM checkpoints "
	    "WHERE version = 2"), v1);
}

static void
test_sprite_delete_with_timeline(void **state)
{
	struct fixture *f = *state;
	struct sprite_row sp;
	struct checkpoint_row *rows = NULL;
	size_t n = 0;
	int64_t img, l1, l2, a, b, a0, a1, b0;

	img = add_image(f->s, "minimal", "h");
	l1 = add_layer(f->s, img, 0, "/layers/1.qcow2");
	l2 = add_layer(f->s, img, l1, "/layers/2.qcow2");
	a = add_sprite(f->s, "a", img, l2);
	a0 = add_checkpoint(f->s, a, -1, 0, l1);
	a1 = add_checkpoint(f->s, a, -1, a0, l1);
	assert_int_equal(store_sprite_set_head(f->s, a, a1, a0), 0);
	/* b was forked from a@v1 and points into a's timeline. */
	b = add_sprite(f->s, "b", img, l2);
	b0 = add_checkpoint(f->s, b, -1, a1, l1);
	assert_int_equal(store_sprite_set_head(f->s, b, a1, a0), 0);

	/* Undone with the caller's transaction, pointers included. */
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_sprite_delete(f->s, a), 0);
	store_rollback(f->s);
	sp = get_sprite(f->s, "b");
	assert_int_equal(sp.head_checkpoint_id, a1);
	sprite_row_done(&sp);
	assert_int_equal(checkpoint_parent(f->s, b0), a1);

	assert_int_equal(store_sprite_delete(f->s, a), 0);
	assert_int_equal(store_checkpoint_list(f->s, a, &rows, &n), 0);
	assert_int_equal(n, 0);
	/* b keeps its disk and timeline, without the pointers into a's. */
	sp = get_sprite(f->s, "b");
	assert_int_equal(sp.head_checkpoint_id, 0);
	assert_int_equal(sp.undo_checkpoint_id, 0);
	assert_int_equal(sp.top_layer_id, l2);
	sprite_row_done(&sp);
	assert_int_equal(checkpoint_parent(f->s, b0), 0);
	assert_int_equal(store_checkpoint_list(f->s, b, &rows, &n), 0);
	assert_int_equal(n, 1);
	checkpoint_rows_free(rows, n);

	/* b's own head into its own timeline. */
	assert_int_equal(store_sprite_set_head(f->s, b, b0, b0), 0);
	assert_int_equal(store_sprite_delete(f->s, b), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM checkpoints"), 0);
	assert_int_equal(count_sprites(f->s), 0);
	assert_int_equal(store_sprite_delete(f->s, b), -ENOENT);
	assert_int_equal(layer_refs(f->s, l1), 1);
}

static void
test_templates(void **state)
{
	struct fixture *f = *state;
	struct template_row t = { 0 }, got, untouched = { .layer_id = 42 };
	struct template_row *rows = NULL;
	size_t n = 0;
	int64_t img, l1, l2;

	img = add_image(f->s, "minimal", "h");
	l1 = add_layer(f->s, img, 0, "/layers/1.qcow2");
	l2 = add_layer(f->s, img, 0, "/layers/2.qcow2");
	t.name = "node-base";
	t.layer_id = l1;
	t.mem_dir = "/mem/3";
	t.origin = "base@v3";
	assert_int_equal(store_template_add(f->s, &t), 0);
	assert_true(t.created_at > 0);
	add_template(f->s, "alpha", l2);
	add_template(f->s, "zeta", l1);

	assert_int_equal(store_template_get(f->s, "node-base", &got), 0);
	assert_string_equal(got.name, "node-base");
	assert_int_equal(got.layer_id, l1);
	assert_string_equal(got.mem_dir, "/mem/3");
	assert_string_equal(got.origin, "base@v3");
	assert_int_equal(got.created_at, t.created_at);
	template_row_done(&got);
	assert_int_equal(store_template_get(f->s, "zeta", &got), 0);
	assert_null(got.mem_dir);
	assert_null(got.origin);
	template_row_done(&got);
	got = untouched;
	assert_int_equal(store_template_get(f->s, "nothing", &got), -ENOENT);
	assert_int_equal(got.layer_id, 42);
	assert_null(got.name);

	/* A name is one template; the layer must exist. */
	t.created_at = 0;
	t.layer_id = l2;
	assert_int_equal(store_template_add(f->s, &t), -EEXIST);
	assert_int_equal(t.created_at, 0);
	t.name = "other";
	t.layer_id = 999;
	assert_int_equal(store_template_add(f->s, &t), -EINVAL);
	t.name = NULL;
	t.layer_id = l1;
	assert_int_equal(store_template_add(f->s, &t), -EINVAL);
	assert_int_equal(store_template_get(f->s, "node-base", &got), 0);
	assert_int_equal(got.layer_id, l1);
	template_row_done(&got);

	assert_int_equal(store_template_list(f->s, &rows, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(rows[0].name, "alpha");
	assert_string_equal(rows[1].name, "node-base");
	assert_string_equal(rows[2].name, "zeta");
	assert_string_equal(rows[1].origin, "base@v3");
	template_rows_free(rows, n);
	assert_int_equal(store_template_list_by_layer(f->s, l1, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].name, "node-base");
	assert_string_equal(rows[1].name, "zeta");
	template_rows_free(rows, n);
	assert_int_equal(store_template_list_by_layer(f->s, 999, &rows, &n), 0);
	assert_int_equal(n, 0);
	assert_null(rows);

	/* A template holds its layer. */
	assert_int_equal(store_layer_delete(f->s, l2), -EINVAL);
	assert_int_equal(store_template_delete(f->s, "alpha"), 0);
	assert_int_equal(store_template_delete(f->s, "alpha"), -ENOENT);
	assert_non_null(strstr(store_errmsg(f->s), "alpha"));
	assert_int_equal(store_template_get(f->s, "alpha", &got), -ENOENT);
	assert_int_equal(store_layer_delete(f->s, l2), 0);
	assert_int_equal(store_template_list(f->s, &rows, &n), 0);
	assert_int_equal(n, 2);
	template_rows_free(rows, n);
}

static void
test_layer_refs(void **state)
{
	struct fixture *f = *state;
	int64_t img, l1, l2, l3, a, c;
	int refs = 42;

	img = add_image(f->s, "minimal", "h");
	l1 = add_layer(f->s, img, 0, "/layers/1.qcow2");
	l3 = add_layer(f->s, img, 0, "/layers/3.qcow2");
	assert_int_equal(layer_refs(f->s, l1), 0);

	/* Each kind of holder counts, each holder once. */
	l2 = add_layer(f->s, img, l1, "/layers/2.qcow2");
	assert_int_equal(layer_refs(f->s, l1), 1);
	a = add_sprite(f->s, "a", img, l1);
	add_sprite(f->s, "b", img, l1);
	assert_int_equal(layer_refs(f->s, l1), 3);
	c = add_checkpoint(f->s, a, -1, 0, l1);
	assert_int_equal(layer_refs(f->s, l1), 4);
	add_template(f->s, "tpl", l1);
	assert_int_equal(layer_refs(f->s, l1), 5);
	/* Nothing else's holders leak in. */
	assert_int_equal(layer_refs(f->s, l2), 0);
	assert_int_equal(layer_refs(f->s, l3), 0);

	assert_int_equal(store_template_delete(f->s, "tpl"), 0);
	assert_int_equal(store_checkpoint_delete(f->s, c), 0);
	assert_int_equal(store_sprite_set_top_layer(f->s, a, l2), 0);
	assert_int_equal(layer_refs(f->s, l1), 2);
	assert_int_equal(layer_refs(f->s, l2), 1);
	assert_int_equal(store_sprite_delete(f->s, a), 0);
	assert_int_equal(store_sprite_delete(f->s, add_sprite(f->s, "c", img, 0)), 0);
	assert_int_equal(store_layer_delete(f->s, l2), 0);
	assert_int_equal(layer_refs(f->s, l1), 1);	/* b's top */
	assert_int_equal(store_layer_delete(f->s, l1), -EINVAL);

	assert_int_equal(store_layer_refs(f->s, 999, &refs), -ENOENT);
	assert_int_equal(refs, 42);
}

static void
test_layer_pending_frozen(void **state)
{
	struct fixture *f = *state;
	struct layer_row l, *rows = NULL;
	size_t n = 0;
	int64_t img, l1, l2, l3;

	img = add_image(f->s, "minimal", "h");
	l1 = add_layer(f->s, img, 0, "/layers/1.qcow2");
	l2 = add_layer(f->s, img, l1, "/layers/2.qcow2");
	l3 = add_layer(f->s, img, l2, "/layers/3.qcow2");

	assert_int_equal(store_layer_list_pending(f->s, &rows, &n), 0);
	assert_int_equal(n, 0);
	assert_null(rows);
	assert_int_equal(store_layer_set_pending(f->s, l3, 1), 0);
	assert_int_equal(store_layer_set_pending(f->s, l1, 1), 0);
	assert_int_equal(store_layer_list_pending(f->s, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(rows[0].id, l1);
	assert_string_equal(rows[0].file, "/layers/1.qcow2");
	assert_int_equal(rows[1].id, l3);
	assert_int_equal(rows[1].parent_id, l2);
	layer_rows_free(rows, n);
	assert_int_equal(store_layer_set_pending(f->s, l1, 0), 0);
	assert_int_equal(store_layer_list_pending(f->s, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].id, l3);
	layer_rows_free(rows, n);
	assert_int_equal(store_layer_set_pending(f->s, 999, 1), -ENOENT);

	/* Pending survives a restart: that is what start-up reads. */
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(f->path, &f->s, NULL), 0);
	assert_int_equal(store_layer_list_pending(f->s, &rows, &n), 0);
	assert_int_equal(n, 1);
	layer_rows_free(rows, n);

	assert_int_equal(store_layer_set_frozen(f->s, l2), 0);
	assert_int_equal(store_layer_set_frozen(f->s, l2), 0);
	assert_int_equal(store_layer_get(f->s, l2, &l), 0);
	assert_int_equal(l.frozen, 1);
	layer_row_done(&l);
	assert_int_equal(store_layer_get(f->s, l1, &l), 0);
	assert_int_equal(l.frozen, 0);
	layer_row_done(&l);
	assert_int_equal(store_layer_set_frozen(f->s, 999), -ENOENT);
}

static void
test_events(void **state)
{
	struct fixture *f = *state;
	struct event_row *rows = NULL;
	size_t n = 0;
	int64_t t0 = now_unix_ms(), id1 = 0;

	assert_int_equal(store_event_add(f->s, NULL, "start", "daemon up", NULL), 0);
	assert_int_equal(store_event_add(f->s, "a", "create", "created a", &id1), 0);
	assert_int_equal(store_event_add(f->s, "b", "create", "created b", NULL), 0);
	assert_int_equal(store_event_add(f->s, "a", "start", "started a", NULL), 0);
	assert_int_equal(store_event_add(f->s, "a", "stop", NULL, NULL), -EINVAL);

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

	/* What a client that last saw "created a" missed, oldest first. */
	assert_int_equal(store_event_list_after(f->s, id1, 10, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_true(rows[0].id == id1 + 1);
	assert_string_equal(rows[0].message, "created b");
	assert_string_equal(rows[1].message, "started a");
	event_rows_free(rows, n);
	assert_int_equal(store_event_list_after(f->s, id1, 1, &rows, &n), 0);
	assert_int_equal(n, 1);
	event_rows_free(rows, n);
	assert_int_equal(store_event_list_after(f->s, id1 + 2, 10, &rows, &n), 0);
	assert_int_equal(n, 0);
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
		    "test", msg, NULL), 0);
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
	assert_int_equal(store_event_add(f->s, NULL, "test", "last", NULL), 0);
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
		cmocka_unit_test_setup_teardown(test_migrate_v1,
		    setup_dir, teardown),
		cmocka_unit_test_setup_teardown(
		    test_failed_migration_v2_keeps_v1, setup_dir, teardown),
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
		cmocka_unit_test_setup_teardown(test_sprite_idle, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_settings, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_sprite_meta, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_policies, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_v4_keeps_labels,
		    setup_dir, teardown),
		cmocka_unit_test_setup_teardown(test_sprite_origin_and_head,
		    setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_versions,
		    setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_get_list,
		    setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_delete,
		    setup_open, teardown),
		cmocka_unit_test_setup_teardown(
		    test_checkpoint_delete_all_or_nothing, setup_open, teardown),
		cmocka_unit_test_setup_teardown(
		    test_sprite_delete_with_timeline, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_templates, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_layer_refs, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_layer_pending_frozen,
		    setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_events, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_events_trimmed,
		    setup_open, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
