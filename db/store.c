/*
 * store: sprig's SQLite database. It owns the connection, the schema and
 * its migrations, and every query; the contract is in store.h.
 *
 * One connection used from one thread (the daemon's loop), so it is opened
 * NOMUTEX. Statements are prepared per call: sprig runs a few queries per
 * user action, and preparing one costs microseconds. Values are always
 * bound, never pasted into SQL.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/util.h"
#include "common/xmalloc.h"
#include "db/store.h"

struct store {
	sqlite3	*db;
	int	 rc;		/* SQLite's code for the last failure */
	char	 errmsg[256];
};

/*
 * Schema migrations: step i takes user_version i to i + 1 and runs in one
 * transaction with the version bump, so a crash leaves the old version.
 * Append only; never edit a step that has shipped.
 *
 * Every column that points at a layer is indexed: a layer's reference count
 * is the number of rows pointing at it (child layers, sprite tops,
 * checkpoints, templates), and neither that count nor SQLite's foreign key
 * check on delete should scan a table.
 */
static const char *const migrations[] = {
	/* 1: images, the layer tree, sprites, their checkpoint trees,
	 * templates and the event log. */
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
	/* A sprite's timeline: parent_id makes the tree; a restore that goes
	 * on makes a branch. */
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
	/* NOT NULL: SQLite lets a non-integer PRIMARY KEY hold NULL. */
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
	"CREATE INDEX events_sprite ON events(sprite, id);",

	/* 2: the timeline. A sprite points at the checkpoint its top grew
	 * from and at the state its last restore left; checkpoints sprig made
	 * on its own are marked; a layer whose file may not exist yet is
	 * pending; sprites and templates say where their disk started.
	 * SQLite adds a REFERENCES column only with a NULL default, which is
	 * what "none" is. Checkpoints by sprite need no index of their own:
	 * UNIQUE (sprite_id, version) made one. The head and undo indexes
	 * keep the foreign key check on a checkpoint's delete off a scan. */
	"ALTER TABLE sprites ADD COLUMN head_checkpoint_id INTEGER"
	"  REFERENCES checkpoints(id);"
	"ALTER TABLE sprites ADD COLUMN undo_checkpoint_id INTEGER"
	"  REFERENCES checkpoints(id);"
	"ALTER TABLE sprites ADD COLUMN origin TEXT;"
	"ALTER TABLE checkpoints ADD COLUMN is_auto INTEGER NOT NULL DEFAULT 0"
	"  CHECK (is_auto IN (0, 1));"
	"ALTER TABLE layers ADD COLUMN pending INTEGER NOT NULL DEFAULT 0"
	"  CHECK (pending IN (0, 1));"
	"ALTER TABLE templates ADD COLUMN origin TEXT;"
	"CREATE INDEX sprites_head ON sprites(head_checkpoint_id);"
	"CREATE INDEX sprites_undo ON sprites(undo_checkpoint_id);",

	/* 3: settings. A sprite's own idle time (NULL: the daemon's default;
	 * 0: never sleeps), and daemon-wide settings as key/value text. */
	"ALTER TABLE sprites ADD COLUMN idle_s INTEGER CHECK (idle_s >= 0);"
	"CREATE TABLE settings ("
	"  key TEXT NOT NULL PRIMARY KEY,"
	"  value TEXT NOT NULL);",

	/* 4: API tokens for the TCP listener. Only a token's SHA-256 (hex) is
	 * kept: the token itself is shown once, when it is made. */
	"CREATE TABLE tokens ("
	"  name TEXT NOT NULL PRIMARY KEY,"
	"  hash TEXT NOT NULL UNIQUE,"
	"  created_at INTEGER NOT NULL);",

	/* 5: what the Sprites API keeps per sprite beside v1's labels: its
	 * URL settings, and its policies (network, privileges, resources) as
	 * the JSON the API checked, one row per kind, gone with the sprite. */
	"ALTER TABLE sprites ADD COLUMN url_settings TEXT;"
	"CREATE TABLE policies ("
	"  sprite_id INTEGER NOT NULL REFERENCES sprites(id) ON DELETE CASCADE,"
	"  kind TEXT NOT NULL CHECK (kind IN ('network', 'privileges', 'resources')),"
	"  body TEXT NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  PRIMARY KEY (sprite_id, kind));",
};
#define SCHEMA_LATEST ((int)(sizeof migrations / sizeof migrations[0]))

static int
store_errno(int rc)
{
	switch (rc) {
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return -EEXIST;
	}
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
		return -EINVAL;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_FULL:
		return -ENOSPC;
	default:
		return -EIO;
	}
}

/* Records SQLite's message for @rc and returns it as a negative errno. */
static int
store_fail(struct store *s, int rc)
{
	s->rc = rc;
	snprintf(s->errmsg, sizeof s->errmsg, "%s", sqlite3_errmsg(s->db));
	return store_errno(rc);
}

static void __attribute__((format(printf, 2, 3)))
store_setmsg(struct store *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 2, 3)))
set_cause(char **cause, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (cause == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	*cause = xstrdup(buf);
}

/* Runs fixed SQL that takes no parameters and returns no rows. */
static int
store_exec(struct store *s, const char *sql)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : store_fail(s, rc);
}

/*
 * Facts that matter only while this machine stays up (a QEMU's pid, the
 * event log) are committed without waiting for the disk. In WAL mode such
 * a commit survives a crash of sprig; only a power loss can take it back,
 * and that takes the processes it describes with it. The next FULL commit
 * makes it durable anyway. Inside a transaction, the transaction decides.
 * Returns whether the mode was changed (pass it to store_relaxed_end).
 */
static int
store_relaxed_begin(struct store *s)
{
	return sqlite3_get_autocommit(s->db) &&
	    sqlite3_exec(s->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) == SQLITE_OK;
}

static void
store_relaxed_end(struct store *s, int changed)
{
	if (changed)
		sqlite3_exec(s->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
}

/*
 * One statement being bound and stepped. The first failure sticks: later
 * binds do nothing and query_step returns it, so callers check once.
 */
struct query {
	struct store	*s;
	sqlite3_stmt	*st;
	int		 rc;
	int		 n;	/* parameters bound so far */
};

static void
query_fail(struct query *q, int rc)
{
	if (q->rc == SQLITE_OK) {
		q->rc = rc;
		store_fail(q->s, rc);
	}
}

static void
query_init(struct query *q, struct store *s, const char *sql)
{
	int rc;

	q->s = s;
	q->st = NULL;
	q->rc = SQLITE_OK;
	q->n = 0;
	rc = sqlite3_prepare_v2(s->db, sql, -1, &q->st, NULL);
	if (rc != SQLITE_OK)
		query_fail(q, rc);
}

static void
bind_int(struct query *q, int64_t v)
{
	int rc;

	if (q->rc != SQLITE_OK)
		return;
	rc = sqlite3_bind_int64(q->st, ++q->n, v);
	if (rc != SQLITE_OK)
		query_fail(q, rc);
}

/* A reference to another row: 0 is none (NULL). */
static void
bind_ref(struct query *q, int64_t id)
{
	int rc;

	if (id != 0) {
		bind_int(q, id);
		return;
	}
	if (q->rc != SQLITE_OK)
		return;
	rc = sqlite3_bind_null(q->st, ++q->n);
	if (rc != SQLITE_OK)
		query_fail(q, rc);
}

/* @v may be NULL; it must live until the query is done. */
static void
bind_text(struct query *q, const char *v)
{
	int rc;

	if (q->rc != SQLITE_OK)
		return;
	rc = sqlite3_bind_text(q->st, ++q->n, v, -1, SQLITE_STATIC);
	if (rc != SQLITE_OK)
		query_fail(q, rc);
}

/* Returns 1 with a row to read, 0 at the end, or a negative errno. */
static int
query_step(struct query *q)
{
	int rc;

	if (q->rc != SQLITE_OK)
		return store_errno(q->rc);
	rc = sqlite3_step(q->st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	query_fail(q, rc);
	return store_errno(rc);
}

static void
query_done(struct query *q)
{
	sqlite3_finalize(q->st);	/* NULL is fine; errors were reported by step */
	q->st = NULL;
}

/* Runs a statement that returns no rows, and finishes it. */
static int
query_exec(struct query *q)
{
	int r = query_step(q);

	query_done(q);
	return r < 0 ? r : 0;
}

/* Runs an UPDATE or DELETE of one row by id; -ENOENT if there was none. */
static int
query_change(struct query *q, const char *what, int64_t id)
{
	int r = query_exec(q);

	if (r == 0 && sqlite3_changes(q->s->db) == 0) {
		store_setmsg(q->s, "no %s with id %lld", what, (long long)id);
		return -ENOENT;
	}
	return r;
}

/* Steps to the first row: 0 with it ready to read, -ENOENT if none. */
static int
query_row(struct query *q, const char *what)
{
	int r = query_step(q);

	if (r == 0) {
		store_setmsg(q->s, "no such %s", what);
		return -ENOENT;
	}
	return r < 0 ? r : 0;
}

static char *
column_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t != NULL ? xstrdup((const char *)t) : NULL;
}

/* Makes room for one more element in a growing array. */
static void *
grow(void *rows, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return rows;
	*cap = *cap != 0 ? *cap * 2 : 16;
	return xreallocarray(rows, *cap, size);
}

static int
read_version(struct store *s, int *ret)
{
	struct query q;
	int r;

	query_init(&q, s, "PRAGMA user_version");
	r = query_row(&q, "user_version");
	if (r == 0)
		*ret = sqlite3_column_int(q.st, 0);
	query_done(&q);
	return r;
}

static void
cause_newer(char **cause, int version)
{
	set_cause(cause, "database schema version %d is newer than this "
	    "sprig (%d); upgrade sprig", version, SCHEMA_LATEST);
}

/* Brings the schema up to SCHEMA_LATEST, one step per transaction. */
static int
store_migrate(struct store *s, const char *path, char **cause)
{
	char *bump;
	int r, version;

	for (;;) {
		/* Another sprig may have migrated since we looked: look again
		 * under the write lock. */
		r = store_begin(s);
		if (r == 0)
			r = read_version(s, &version);
		if (r != 0) {
			store_rollback(s);
			set_cause(cause, "cannot migrate %s: %s", path, s->errmsg);
			return r;
		}
		if (version >= SCHEMA_LATEST) {
			store_rollback(s);
			if (version == SCHEMA_LATEST)
				return 0;
			cause_newer(cause, version);
			return -ENOTSUP;
		}
		/* PRAGMA takes no parameters; the number is ours. */
		bump = xasprintf("PRAGMA user_version = %d", version + 1);
		r = store_exec(s, migrations[version]);
		if (r == 0)
			r = store_exec(s, bump);
		free(bump);
		if (r == 0)
			r = store_commit(s);
		else
			store_rollback(s);
		if (r != 0) {
			set_cause(cause, "cannot migrate %s to schema version "
			    "%d: %s", path, version + 1, s->errmsg);
			return r;
		}
	}
}

/* Checks what the file is, sets the connection up and migrates. */
static int
store_setup(struct store *s, const char *path, char **cause)
{
	struct query q;
	char *mode = NULL;
	int r, version;

	r = read_version(s, &version);
	if (r != 0) {
		if ((s->rc & 0xff) == SQLITE_NOTADB) {
			set_cause(cause, "%s is not a sprig database (%s)",
			    path, s->errmsg);
			return -EINVAL;
		}
		set_cause(cause, "cannot read %s: %s", path, s->errmsg);
		return r;
	}
	/* Before changing anything in a newer sprig's file. */
	if (version > SCHEMA_LATEST) {
		cause_newer(cause, version);
		return -ENOTSUP;
	}

	r = store_exec(s, "PRAGMA foreign_keys = ON");
	if (r != 0)
		goto fail;
	query_init(&q, s, "PRAGMA journal_mode = WAL");
	r = query_row(&q, "journal mode");
	if (r == 0)
		mode = column_text(q.st, 0);
	query_done(&q);
	if (r != 0)
		goto fail;
	if (mode == NULL || strcmp(mode, "wal") != 0) {
		set_cause(cause, "cannot use write-ahead logging for %s "
		    "(journal mode stays %s); is it on a network filesystem?",
		    path, mode != NULL ? mode : "unknown");
		free(mode);
		return -EIO;
	}
	free(mode);
	/*
	 * FULL, not NORMAL: in WAL mode NORMAL keeps the database consistent
	 * but may lose the last commits on power loss. A commit is where
	 * sprig tells the user a checkpoint, fork or delete happened (after
	 * the files are already durable), so it must survive too; sprig
	 * commits a few times per user action, and one fsync of the WAL each
	 * is cheap.
	 */
	r = store_exec(s, "PRAGMA synchronous = FULL");
	if (r != 0)
		goto fail;

	if (version < SCHEMA_LATEST)
		return store_migrate(s, path, cause);
	return 0;

fail:
	set_cause(cause, "cannot set up %s: %s", path, s->errmsg);
	return r;
}

int
store_open(const char *path, struct store **ret, char **cause)
{
	struct store *s;
	sqlite3 *db = NULL;
	int fd, flags, rc, r;

	/*
	 * SQLite would create the file 0644 less umask. It lists every sprite
	 * and path of this user: create it 0600 first. SQLite gives the -wal
	 * and -shm files the database file's mode. Only a new file is opened
	 * here: closing a descriptor of a file drops every POSIX lock this
	 * process holds on it, so an open and close of a database another
	 * connection of ours has open would drop that connection's locks
	 * (and another process could then delete the WAL under it).
	 */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno != EEXIST) {
		r = -errno;
		set_cause(cause, "cannot open %s: %s", path, strerror(-r));
		return r;
	}
	if (fd >= 0)
		close(fd);

	flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
#ifdef SQLITE_OPEN_EXRESCODE
	flags |= SQLITE_OPEN_EXRESCODE;
#endif
	rc = sqlite3_open_v2(path, &db, flags, NULL);
	if (rc != SQLITE_OK) {
		set_cause(cause, "cannot open %s: %s", path,
		    db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return store_errno(rc);
	}
#ifndef SQLITE_OPEN_EXRESCODE
	sqlite3_extended_result_codes(db, 1);
#endif
	sqlite3_busy_timeout(db, 5000);

	s = xcalloc(1, sizeof *s);
	s->db = db;
	r = store_setup(s, path, cause);
	if (r != 0) {
		store_close(s);
		return r;
	}
	*ret = s;
	return 0;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	sqlite3_close_v2(s->db);
	free(s);
}

const char *
store_errmsg(struct store *s)
{
	return s->errmsg;
}

int
store_schema_version(struct store *s)
{
	int r, version;

	r = read_version(s, &version);
	return r != 0 ? r : version;
}

int
store_begin(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db)) {
		store_setmsg(s, "a transaction is already open");
		return -EINVAL;
	}
	return store_exec(s, "BEGIN IMMEDIATE");
}

int
store_commit(struct store *s)
{
	int r;

	if (sqlite3_get_autocommit(s->db)) {
		store_setmsg(s, "no transaction is open");
		return -EINVAL;
	}
	r = store_exec(s, "COMMIT");
	/* A COMMIT that failed busy leaves the transaction open; end it so
	 * the caller never has to ask. The message stays the commit's. */
	if (r != 0 && !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

void
store_rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/*
 * Writes of several statements run all or nothing: in a transaction of
 * their own (IMMEDIATE, so a read that comes first already holds the write
 * lock), or inside the caller's under a savepoint, so that a failure undoes
 * only their part and leaves the caller's transaction open, as a failed
 * single statement does. *own says which, for store_atomic_end.
 */
static int
store_atomic_begin(struct store *s, int *own)
{
	*own = sqlite3_get_autocommit(s->db);
	if (*own)
		return store_begin(s);
	return store_exec(s, "SAVEPOINT store_atomic");
}

/* Ends what store_atomic_begin started: keeps it if @r is 0, else undoes
 * it. Returns @r, or the commit's error. */
static int
store_atomic_end(struct store *s, int own, int r)
{
	if (own) {
		if (r == 0)
			return store_commit(s);
		store_rollback(s);
		return r;
	}
	if (r != 0) {
		/* The message stays the failure's. */
		sqlite3_exec(s->db, "ROLLBACK TO store_atomic", NULL, NULL, NULL);
		sqlite3_exec(s->db, "RELEASE store_atomic", NULL, NULL, NULL);
		return r;
	}
	return store_exec(s, "RELEASE store_atomic");
}

/* Images. */

#define IMAGE_COLUMNS "id, name, recipe_hash, dir, built_at"

static void
image_read(sqlite3_stmt *st, struct image_row *row)
{
	row->id = sqlite3_column_int64(st, 0);
	row->name = column_text(st, 1);
	row->recipe_hash = column_text(st, 2);
	row->dir = column_text(st, 3);
	row->built_at = sqlite3_column_int64(st, 4);
}

int
store_image_add(struct store *s, struct image_row *row)
{
	struct query q;
	int64_t built_at = row->built_at != 0 ? row->built_at : now_unix_ms();
	int r;

	query_init(&q, s, "INSERT INTO images (name, recipe_hash, dir, "
	    "built_at) VALUES (?, ?, ?, ?)");
	bind_text(&q, row->name);
	bind_text(&q, row->recipe_hash);
	bind_text(&q, row->dir);
	bind_int(&q, built_at);
	r = query_exec(&q);
	if (r != 0)
		return r;
	row->id = sqlite3_last_insert_rowid(s->db);
	row->built_at = built_at;
	return 0;
}

int
store_image_get_current(struct store *s, const char *name,
    struct image_row *ret)
{
	struct query q;
	int r;

	query_init(&q, s, "SELECT " IMAGE_COLUMNS " FROM images WHERE name = ? "
	    "ORDER BY built_at DESC, id DESC LIMIT 1");
	bind_text(&q, name);
	r = query_row(&q, "image");
	if (r == 0)
		image_read(q.st, ret);
	query_done(&q);
	return r;
}

int
store_image_get(struct store *s, int64_t id, struct image_row *ret)
{
	struct query q;
	int r;

	query_init(&q, s, "SELECT " IMAGE_COLUMNS " FROM images WHERE id = ?");
	bind_int(&q, id);
	r = query_row(&q, "image");
	if (r == 0)
		image_read(q.st, ret);
	query_done(&q);
	return r;
}

void
image_row_done(struct image_row *row)
{
	if (row == NULL)
		return;
	free(row->name);
	free(row->recipe_hash);
	free(row->dir);
	memset(row, 0, sizeof *row);
}

/* Layers. */

#define LAYER_COLUMNS "id, parent_id, image_id, file, frozen, created_at"

static void
layer_read(sqlite3_stmt *st, struct layer_row *row)
{
	row->id = sqlite3_column_int64(st, 0);
	row->parent_id = sqlite3_column_int64(st, 1);	/* NULL reads 0 */
	row->image_id = sqlite3_column_int64(st, 2);
	row->file = column_text(st, 3);
	row->frozen = sqlite3_column_int(st, 4);
	row->created_at = sqlite3_column_int64(st, 5);
}

int
store_layer_add(struct store *s, struct layer_row *row)
{
	struct query q;
	int64_t created_at;
	int r;

	created_at = row->created_at != 0 ? row->created_at : now_unix_ms();
	query_init(&q, s, "INSERT INTO layers (parent_id, image_id, file, "
	    "frozen, created_at) VALUES (?, ?, ?, ?, ?)");
	bind_ref(&q, row->parent_id);
	bind_int(&q, row->image_id);
	bind_text(&q, row->file);
	bind_int(&q, row->frozen);
	bind_int(&q, created_at);
	r = query_exec(&q);
	if (r != 0)
		return r;
	row->id = sqlite3_last_insert_rowid(s->db);
	row->created_at = created_at;
	return 0;
}

int
store_layer_get(struct store *s, int64_t id, struct layer_row *ret)
{
	struct query q;
	int r;

	query_init(&q, s, "SELECT " LAYER_COLUMNS " FROM layers WHERE id = ?");
	bind_int(&q, id);
	r = query_row(&q, "layer");
	if (r == 0)
		layer_read(q.st, ret);
	query_done(&q);
	return r;
}

int
store_layer_delete(struct store *s, int64_t id)
{
	struct query q;

	query_init(&q, s, "DELETE FROM layers WHERE id = ?");
	bind_int(&q, id);
	return query_change(&q, "layer", id);
}

/* Reads every row of @q, and finishes it. */
static int
layer_read_all(struct query *q, struct layer_row **ret, size_t *ret_n)
{
	struct layer_row *rows = NULL;
	size_t n = 0, cap = 0;
	int r;

	while ((r = query_step(q)) == 1) {
		rows = grow(rows, n, &cap, sizeof *rows);
		layer_read(q->st, &rows[n++]);
	}
	query_done(q);
	if (r < 0) {
		layer_rows_free(rows, n);
		return r;
	}
	*ret = rows;
	*ret_n = n;
	return 0;
}

int
store_layer_list(struct store *s, struct layer_row **ret, size_t *ret_n)
{
	struct query q;

	query_init(&q, s, "SELECT " LAYER_COLUMNS " FROM layers ORDER BY id");
	return layer_read_all(&q, ret, ret_n);
}

int
store_layer_set_frozen(struct store *s, int64_t id)
{
	struct query q;

	query_init(&q, s, "UPDATE layers SET frozen = 1 WHERE id = ?");
	bind_int(&q, id);
	return query_change(&q, "layer", id);
}

int
store_layer_set_pending(struct store *s, int64_t id, int pending)
{
	struct query q;

	query_init(&q, s, "UPDATE layers SET pending = ? WHERE id = ?");
	bind_int(&q, pending != 0);
	bind_int(&q, id);
	return query_change(&q, "layer", id);
}

int
store_layer_list_pending(struct store *s, struct layer_row **ret,
    size_t *ret_n)
{
	struct query q;

	/* Read at start-up only, and few layers are pending: a scan will do. */
	query_init(&q, s, "SELECT " LAYER_COLUMNS " FROM layers "
	    "WHERE pending = 1 ORDER BY id");
	return layer_read_all(&q, ret, ret_n);
}

int
store_layer_refs(struct store *s, int64_t id, int *ret)
{
	struct query q;
	int r;

	/* Each count is a search of an index on the referring column. */
	query_init(&q, s, "SELECT "
	    "(SELECT count(*) FROM sprites WHERE top_layer_id = l.id) + "
	    "(SELECT count(*) FROM checkpoints WHERE layer_id = l.id) + "
	    "(SELECT count(*) FROM templates WHERE layer_id = l.id) + "
	    "(SELECT count(*) FROM layers WHERE parent_id = l.id) "
	    "FROM layers l WHERE l.id = ?");
	bind_int(&q, id);
	r = query_row(&q, "layer");
	if (r == 0)
		*ret = sqlite3_column_int(q.st, 0);
	query_done(&q);
	return r;
}

int
store_layer_set_parent(struct store *s, int64_t id, int64_t parent_id)
{
	struct query q;

	query_init(&q, s, "UPDATE layers SET parent_id = ? WHERE id = ?");
	bind_ref(&q, parent_id);
	bind_int(&q, id);
	return query_change(&q, "layer", id);
}

int
store_layer_chain(struct store *s, int64_t id, struct layer_row **ret, size_t *ret_n)
{
	struct query q;
	struct layer_row *rows = NULL;
	size_t n = 0;
	int r;

	/* depth orders the walk; the bound stops a cycle a bug could make. */
	query_init(&q, s, "WITH RECURSIVE chain(lid, depth) AS ("
	    "  SELECT ?, 0"
	    "  UNION ALL"
	    "  SELECT l.parent_id, c.depth + 1 FROM chain c JOIN layers l ON l.id = c.lid"
	    "  WHERE l.parent_id IS NOT NULL AND c.depth < 100000)"
	    " SELECT " LAYER_COLUMNS " FROM chain JOIN layers ON layers.id = chain.lid"
	    " ORDER BY chain.depth");
	bind_int(&q, id);
	r = layer_read_all(&q, &rows, &n);
	if (r < 0)
		return r;
	if (n == 0)
		return -ENOENT;
	*ret = rows;
	*ret_n = n;
	return 0;
}

void
layer_row_done(struct layer_row *row)
{
	if (row == NULL)
		return;
	free(row->file);
	memset(row, 0, sizeof *row);
}

void
layer_rows_free(struct layer_row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		layer_row_done(&rows[i]);
	free(rows);
}

/* Sprites. */

#define SPRITE_SELECT							\
	"SELECT s.id, s.name, s.state, s.image_id, i.name, "		\
	"s.top_layer_id, s.mem_mb, s.cpus, s.pid, s.pid_start, "	\
	"s.run_dir, s.last_error, s.created_at, s.updated_at, "		\
	"s.head_checkpoint_id, s.undo_checkpoint_id, s.origin, "	\
	"coalesce(s.idle_s, -1), s.labels, s.url_settings "		\
	"FROM sprites s JOIN images i ON i.id = s.image_id "

static void
sprite_read(sqlite3_stmt *st, struct sprite_row *row)
{
	row->id = sqlite3_column_int64(st, 0);
	row->name = column_text(st, 1);
	row->state = column_text(st, 2);
	row->image_id = sqlite3_column_int64(st, 3);
	row->image_name = column_text(st, 4);
	row->top_layer_id = sqlite3_column_int64(st, 5);
	row->mem_mb = sqlite3_column_int(st, 6);
	row->cpus = sqlite3_column_int(st, 7);
	row->pid = sqlite3_column_int64(st, 8);
	row->pid_start = (uint64_t)sqlite3_column_int64(st, 9);
	row->run_dir = column_text(st, 10);
	row->last_error = column_text(st, 11);
	row->created_at = sqlite3_column_int64(st, 12);
	row->updated_at = sqlite3_column_int64(st, 13);
	row->head_checkpoint_id = sqlite3_column_int64(st, 14);	/* NULL reads 0 */
	row->undo_checkpoint_id = sqlite3_column_int64(st, 15);
	row->origin = column_text(st, 16);
	row->idle_s = sqlite3_column_int64(st, 17);
	row->labels = column_text(st, 18);
	row->url_settings = column_text(st, 19);
}

int
store_sprite_add(struct store *s, struct sprite_row *row)
{
	struct query q;
	int64_t now = now_unix_ms();
	int r;

	query_init(&q, s, "INSERT INTO sprites (name, state, image_id, "
	    "top_layer_id, mem_mb, cpus, pid, pid_start, run_dir, last_error, "
	    "created_at, updated_at, head_checkpoint_id, undo_checkpoint_id, "
	    "origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	bind_text(&q, row->name);
	bind_text(&q, row->state);
	bind_int(&q, row->image_id);
	bind_ref(&q, row->top_layer_id);
	bind_int(&q, row->mem_mb);
	bind_int(&q, row->cpus);
	bind_int(&q, row->pid);
	bind_int(&q, (int64_t)row->pid_start);
	bind_text(&q, row->run_dir);
	bind_text(&q, row->last_error);
	bind_int(&q, now);
	bind_int(&q, now);
	bind_ref(&q, row->head_checkpoint_id);
	bind_ref(&q, row->undo_checkpoint_id);
	bind_text(&q, row->origin);
	r = query_exec(&q);
	if (r != 0)
		return r;
	row->id = sqlite3_last_insert_rowid(s->db);
	row->created_at = now;
	row->updated_at = now;
	return 0;
}

int
store_sprite_get(struct store *s, const char *name, struct sprite_row *ret)
{
	struct query q;
	int r;

	query_init(&q, s, SPRITE_SELECT "WHERE s.name = ?");
	bind_text(&q, name);
	r = query_row(&q, "sprite");
	if (r == 0)
		sprite_read(q.st, ret);
	query_done(&q);
	return r;
}

int
store_sprite_get_id(struct store *s, int64_t id, struct sprite_row *ret)
{
	struct query q;
	int r;

	query_init(&q, s, SPRITE_SELECT "WHERE s.id = ?");
	bind_int(&q, id);
	r = query_row(&q, "sprite");
	if (r == 0)
		sprite_read(q.st, ret);
	query_done(&q);
	return r;
}

int
store_sprite_list(struct store *s, struct sprite_row **ret, size_t *ret_n)
{
	struct query q;
	struct sprite_row *rows = NULL;
	size_t n = 0, cap = 0;
	int r;

	query_init(&q, s, SPRITE_SELECT "ORDER BY s.name");
	while ((r = query_step(&q)) == 1) {
		rows = grow(rows, n, &cap, sizeof *rows);
		sprite_read(q.st, &rows[n++]);
	}
	query_done(&q);
	if (r < 0) {
		sprite_rows_free(rows, n);
		return r;
	}
	*ret = rows;
	*ret_n = n;
	return 0;
}

int
store_sprite_set_state(struct store *s, int64_t id, const char *state,
    const char *last_error)
{
	struct query q;

	query_init(&q, s, "UPDATE sprites SET state = ?, last_error = ?, "
	    "updated_at = ? WHERE id = ?");
	bind_text(&q, state);
	bind_text(&q, last_error);
	bind_int(&q, now_unix_ms());
	bind_int(&q, id);
	return query_change(&q, "sprite", id);
}

int
store_sprite_set_idle(struct store *s, int64_t id, int64_t idle_s)
{
	struct query q;

	query_init(&q, s, "UPDATE sprites SET idle_s = nullif(?, -1), updated_at = ? "
	    "WHERE id = ?");
	bind_int(&q, idle_s);
	bind_int(&q, now_unix_ms());
	bind_int(&q, id);
	return query_change(&q, "sprite", id);
}

int
store_sprite_set_meta(struct store *s, int64_t id, const char *labels,
    const char *url_settings)
{
	struct query q;

	query_init(&q, s, "UPDATE sprites SET labels = coalesce(?, labels), "
	    "url_settings = coalesce(?, url_settings), updated_at = ? WHERE id = ?");
	bind_text(&q, labels);
	bind_text(&q, url_settings);
	bind_int(&q, now_unix_ms());
	bind_int(&q, id);
	return query_change(&q, "sprite", id);
}

int
store_sprite_set_process(struct store *s, int64_t id, int64_t pid,
    uint64_t pid_start, const char *run_dir)
{
	struct query q;
	int relaxed = store_relaxed_begin(s), r;

	query_init(&q, s, "UPDATE sprites SET pid = ?, pid_start = ?, "
	    "run_dir = ?, updated_at = ? WHERE id = ?");
	bind_int(&q, pid);
	bind_int(&q, (int64_t)pid_start);
	bind_text(&q, run_dir);
	bind_int(&q, now_unix_ms());
	bind_int(&q, id);
	r = query_change(&q, "sprite", id);
	store_relaxed_end(s, relaxed);
	return r;
}

int
store_sprite_set_top_layer(struct store *s, int64_t id, int64_t layer_id)
{
	struct query q;

	query_init(&q, s, "UPDATE sprites SET top_layer_id = ?, "
	    "updated_at = ? WHERE id = ?");
	bind_ref(&q, layer_id);
	bind_int(&q, now_unix_ms());
	bind_int(&q, id);
	return query_change(&q, "sprite", id);
}

int
store_sprite_set_head(struct store *s, int64_t id, int64_t head_checkpoint_id,
    int64_t undo_checkpoint_id)
{
	struct query q;

	query_init(&q, s, "UPDATE sprites SET head_checkpoint_id = ?, "
	    "undo_checkpoint_id = ?, updated_at = ? WHERE id = ?");
	bind_ref(&q, head_checkpoint_id);
	bind_ref(&q, undo_checkpoint_id);
	bind_int(&q, now_unix_ms());
	bind_int(&q, id);
	return query_change(&q, "sprite", id);
}

/*
 * The sprite's checkpoints go with it (ON DELETE CASCADE), and so do the
 * pointers into them from its own row and timeline: SQLite checks foreign
 * keys at the end of the statement, when those rows are gone too. Other
 * sprites may point into its timeline as well (a fork's head, a checkpoint
 * grown from one of its): those would fail the delete, so they are cut
 * first, the way store_checkpoint_delete cuts them, in the same transaction.
 */
int
store_sprite_delete(struct store *s, int64_t id)
{
	struct query q;
	int own, r;

	r = store_atomic_begin(s, &own);
	if (r != 0)
		return r;
	query_init(&q, s, "UPDATE sprites SET head_checkpoint_id = NULL, "
	    "updated_at = ?2 WHERE id <> ?1 AND head_checkpoint_id IN "
	    "(SELECT id FROM checkpoints WHERE sprite_id = ?1)");
	bind_int(&q, id);
	bind_int(&q, now_unix_ms());
	r = query_exec(&q);
	if (r == 0) {
		query_init(&q, s, "UPDATE sprites SET undo_checkpoint_id = "
		    "NULL, updated_at = ?2 WHERE id <> ?1 AND "
		    "undo_checkpoint_id IN "
		    "(SELECT id FROM checkpoints WHERE sprite_id = ?1)");
		bind_int(&q, id);
		bind_int(&q, now_unix_ms());
		r = query_exec(&q);
	}
	if (r == 0) {
		query_init(&q, s, "UPDATE checkpoints SET parent_id = NULL "
		    "WHERE sprite_id <> ?1 AND parent_id IN "
		    "(SELECT id FROM checkpoints WHERE sprite_id = ?1)");
		bind_int(&q, id);
		r = query_exec(&q);
	}
	if (r == 0) {
		query_init(&q, s, "DELETE FROM sprites WHERE id = ?");
		bind_int(&q, id);
		r = query_change(&q, "sprite", id);
	}
	return store_atomic_end(s, own, r);
}

void
sprite_row_done(struct sprite_row *row)
{
	if (row == NULL)
		return;
	free(row->name);
	free(row->state);
	free(row->image_name);
	free(row->run_dir);
	free(row->last_error);
	free(row->origin);
	free(row->labels);
	free(row->url_settings);
	memset(row, 0, sizeof *row);
}

void
sprite_rows_free(struct sprite_row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprite_row_done(&rows[i]);
	free(rows);
}

/* Checkpoints. */

#define CHECKPOINT_COLUMNS						\
	"id, sprite_id, version, parent_id, layer_id, mem_dir, comment, "	\
	"is_auto, created_at"

static void
checkpoint_read(sqlite3_stmt *st, struct checkpoint_row *row)
{
	row->id = sqlite3_column_int64(st, 0);
	row->sprite_id = sqlite3_column_int64(st, 1);
	row->version = sqlite3_column_int(st, 2);
	row->parent_id = sqlite3_column_int64(st, 3);	/* NULL reads 0 */
	row->layer_id = sqlite3_column_int64(st, 4);
	row->mem_dir = column_text(st, 5);
	row->comment = column_text(st, 6);
	row->is_auto = sqlite3_column_int(st, 7);
	row->created_at = sqlite3_column_int64(st, 8);
}

int
store_checkpoint_add(struct store *s, struct checkpoint_row *row)
{
	struct query q;
	int64_t now = now_unix_ms(), id = 0;
	int r, version = 0;

	/*
	 * The next version is chosen inside the INSERT: one statement is
	 * atomic, in the caller's transaction or in its own, so two adds
	 * cannot both take it. The (sprite_id, version) index makes max()
	 * one lookup.
	 */
	query_init(&q, s, "INSERT INTO checkpoints (sprite_id, version, "
	    "parent_id, layer_id, mem_dir, comment, is_auto, created_at) "
	    "VALUES (?1, CASE WHEN ?2 >= 0 THEN ?2 ELSE "
	    "(SELECT coalesce(max(version) + 1, 0) FROM checkpoints "
	    "WHERE sprite_id = ?1) END, ?3, ?4, ?5, ?6, ?7, ?8) "
	    "RETURNING id, version");
	bind_int(&q, row->sprite_id);
	bind_int(&q, row->version);
	bind_ref(&q, row->parent_id);
	bind_int(&q, row->layer_id);
	bind_text(&q, row->mem_dir);
	bind_text(&q, row->comment);
	bind_int(&q, row->is_auto);
	bind_int(&q, now);
	r = query_step(&q);
	if (r == 1) {
		id = sqlite3_column_int64(q.st, 0);
		version = sqlite3_column_int(q.st, 1);
		r = query_step(&q);	/* to the end, where the insert is done */
	}
	query_done(&q);
	if (r != 0)
		return r < 0 ? r : -EIO;
	row->id = id;
	row->version = version;
	row->created_at = now;
	return 0;
}

int
store_checkpoint_get(struct store *s, int64_t sprite_id, int version,
    struct checkpoint_row *ret)
{
	struct query q;
	int r;

	query_init(&q, s, "SELECT " CHECKPOINT_COLUMNS " FROM checkpoints "
	    "WHERE sprite_id = ? AND version = ?");
	bind_int(&q, sprite_id);
	bind_int(&q, version);
	r = query_row(&q, "checkpoint");
	if (r == 0)
		checkpoint_read(q.st, ret);
	query_done(&q);
	return r;
}

int
store_checkpoint_get_id(struct store *s, int64_t id, struct checkpoint_row *ret)
{
	struct query q;
	int r;

	query_init(&q, s, "SELECT " CHECKPOINT_COLUMNS " FROM checkpoints "
	    "WHERE id = ?");
	bind_int(&q, id);
	r = query_row(&q, "checkpoint");
	if (r == 0)
		checkpoint_read(q.st, ret);
	query_done(&q);
	return r;
}

int
store_checkpoint_list(struct store *s, int64_t sprite_id,
    struct checkpoint_row **ret, size_t *ret_n)
{
	struct query q;
	struct checkpoint_row *rows = NULL;
	size_t n = 0, cap = 0;
	int r;

	query_init(&q, s, "SELECT " CHECKPOINT_COLUMNS " FROM checkpoints "
	    "WHERE sprite_id = ? ORDER BY version");
	bind_int(&q, sprite_id);
	while ((r = query_step(&q)) == 1) {
		rows = grow(rows, n, &cap, sizeof *rows);
		checkpoint_read(q.st, &rows[n++]);
	}
	query_done(&q);
	if (r < 0) {
		checkpoint_rows_free(rows, n);
		return r;
	}
	*ret = rows;
	*ret_n = n;
	return 0;
}

int
store_checkpoint_delete(struct store *s, int64_t id)
{
	struct query q;
	int own, r;

	/* Everything that points at it first: foreign keys are checked at
	 * the end of each statement. */
	r = store_atomic_begin(s, &own);
	if (r != 0)
		return r;
	query_init(&q, s, "UPDATE checkpoints SET parent_id = "
	    "(SELECT parent_id FROM checkpoints WHERE id = ?1) "
	    "WHERE parent_id = ?1");
	bind_int(&q, id);
	r = query_exec(&q);
	if (r == 0) {
		query_init(&q, s, "UPDATE sprites SET "
		    "head_checkpoint_id = nullif(head_checkpoint_id, ?1), "
		    "undo_checkpoint_id = nullif(undo_checkpoint_id, ?1), "
		    "updated_at = ?2 "
		    "WHERE head_checkpoint_id = ?1 OR undo_checkpoint_id = ?1");
		bind_int(&q, id);
		bind_int(&q, now_unix_ms());
		r = query_exec(&q);
	}
	if (r == 0) {
		query_init(&q, s, "DELETE FROM checkpoints WHERE id = ?");
		bind_int(&q, id);
		r = query_change(&q, "checkpoint", id);
	}
	return store_atomic_end(s, own, r);
}

void
checkpoint_row_done(struct checkpoint_row *row)
{
	if (row == NULL)
		return;
	free(row->mem_dir);
	free(row->comment);
	memset(row, 0, sizeof *row);
}

void
checkpoint_rows_free(struct checkpoint_row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		checkpoint_row_done(&rows[i]);
	free(rows);
}

/* Templates. */

#define TEMPLATE_COLUMNS "name, layer_id, mem_dir, origin, created_at"

static void
template_read(sqlite3_stmt *st, struct template_row *row)
{
	row->name = column_text(st, 0);
	row->layer_id = sqlite3_column_int64(st, 1);
	row->mem_dir = column_text(st, 2);
	row->origin = column_text(st, 3);
	row->created_at = sqlite3_column_int64(st, 4);
}

/* Reads every row of @q, and finishes it. */
static int
template_read_all(struct query *q, struct template_row **ret, size_t *ret_n)
{
	struct template_row *rows = NULL;
	size_t n = 0, cap = 0;
	int r;

	while ((r = query_step(q)) == 1) {
		rows = grow(rows, n, &cap, sizeof *rows);
		template_read(q->st, &rows[n++]);
	}
	query_done(q);
	if (r < 0) {
		template_rows_free(rows, n);
		return r;
	}
	*ret = rows;
	*ret_n = n;
	return 0;
}

int
store_template_add(struct store *s, struct template_row *row)
{
	struct query q;
	int64_t now = now_unix_ms();
	int r;

	query_init(&q, s, "INSERT INTO templates (name, layer_id, mem_dir, "
	    "origin, created_at) VALUES (?, ?, ?, ?, ?)");
	bind_text(&q, row->name);
	bind_int(&q, row->layer_id);
	bind_text(&q, row->mem_dir);
	bind_text(&q, row->origin);
	bind_int(&q, now);
	r = query_exec(&q);
	if (r != 0)
		return r;
	row->created_at = now;
	return 0;
}

int
store_template_get(struct store *s, const char *name, struct template_row *ret)
{
	struct query q;
	int r;

	query_init(&q, s, "SELECT " TEMPLATE_COLUMNS " FROM templates "
	    "WHERE name = ?");
	bind_text(&q, name);
	r = query_row(&q, "template");
	if (r == 0)
		template_read(q.st, ret);
	query_done(&q);
	return r;
}

int
store_template_list(struct store *s, struct template_row **ret, size_t *ret_n)
{
	struct query q;

	query_init(&q, s, "SELECT " TEMPLATE_COLUMNS " FROM templates "
	    "ORDER BY name");
	return template_read_all(&q, ret, ret_n);
}

int
store_template_list_by_layer(struct store *s, int64_t layer_id,
    struct template_row **ret, size_t *ret_n)
{
	struct query q;

	query_init(&q, s, "SELECT " TEMPLATE_COLUMNS " FROM templates "
	    "WHERE layer_id = ? ORDER BY name");
	bind_int(&q, layer_id);
	return template_read_all(&q, ret, ret_n);
}

int
store_template_delete(struct store *s, const char *name)
{
	struct query q;
	int r;

	query_init(&q, s, "DELETE FROM templates WHERE name = ?");
	bind_text(&q, name);
	r = query_exec(&q);
	if (r == 0 && sqlite3_changes(s->db) == 0) {
		store_setmsg(s, "no template named %s", name);
		return -ENOENT;
	}
	return r;
}

void
template_row_done(struct template_row *row)
{
	if (row == NULL)
		return;
	free(row->name);
	free(row->mem_dir);
	free(row->origin);
	memset(row, 0, sizeof *row);
}

void
template_rows_free(struct template_row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		template_row_done(&rows[i]);
	free(rows);
}

/* Settings. */

int
store_setting_get(struct store *s, const char *key, char **ret)
{
	struct query q;
	int r;

	query_init(&q, s, "SELECT value FROM settings WHERE key = ?");
	bind_text(&q, key);
	r = query_row(&q, "setting");
	if (r == 0)
		*ret = column_text(q.st, 0);
	query_done(&q);
	return r;
}

int
store_setting_set(struct store *s, const char *key, const char *value)
{
	struct query q;

	if (value == NULL) {
		query_init(&q, s, "DELETE FROM settings WHERE key = ?");
		bind_text(&q, key);
	} else {
		query_init(&q, s, "INSERT INTO settings (key, value) VALUES (?, ?) "
		    "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
		bind_text(&q, key);
		bind_text(&q, value);
	}
	return query_exec(&q);
}

/* Policies. */

int
store_policy_get(struct store *s, int64_t sprite_id, const char *kind, char **ret)
{
	struct query q;
	int r;

	query_init(&q, s, "SELECT body FROM policies WHERE sprite_id = ? AND kind = ?");
	bind_int(&q, sprite_id);
	bind_text(&q, kind);
	r = query_row(&q, "policy");
	if (r == 0)
		*ret = column_text(q.st, 0);
	query_done(&q);
	return r;
}

int
store_policy_set(struct store *s, int64_t sprite_id, const char *kind, const char *body)
{
	struct query q;

	if (body == NULL) {
		query_init(&q, s, "DELETE FROM policies WHERE sprite_id = ? AND kind = ?");
		bind_int(&q, sprite_id);
		bind_text(&q, kind);
	} else {
		query_init(&q, s, "INSERT INTO policies (sprite_id, kind, body, updated_at) "
		    "VALUES (?, ?, ?, ?) ON CONFLICT (sprite_id, kind) DO UPDATE SET "
		    "body = excluded.body, updated_at = excluded.updated_at");
		bind_int(&q, sprite_id);
		bind_text(&q, kind);
		bind_text(&q, body);
		bind_int(&q, now_unix_ms());
	}
	return query_exec(&q);
}

/* Events. */

int
store_event_add(struct store *s, const char *sprite, const char *kind,
    const char *message, int64_t *ret_id)
{
	struct query q;
	int relaxed = store_relaxed_begin(s), r;

	/*
	 * Trim first, to STORE_EVENTS_KEEP - 1 rows, then insert: each
	 * statement is atomic on its own, and an insert that fails after the
	 * trim costs at most one old event. Ids are max + 1 (no
	 * AUTOINCREMENT) and only the oldest rows are ever deleted, so the
	 * kept ids are contiguous and the arithmetic is exact; the index on
	 * the rowid makes it O(log n).
	 */
	query_init(&q, s, "DELETE FROM events WHERE id <= "
	    "(SELECT coalesce(max(id), 0) FROM events) - ?");
	bind_int(&q, STORE_EVENTS_KEEP - 1);
	r = query_exec(&q);
	if (r == 0) {
		query_init(&q, s, "INSERT INTO events (at, sprite, kind, message) "
		    "VALUES (?, ?, ?, ?)");
		bind_int(&q, now_unix_ms());
		bind_text(&q, sprite);
		bind_text(&q, kind);
		bind_text(&q, message);
		r = query_exec(&q);
	}
	if (r == 0 && ret_id != NULL)
		*ret_id = sqlite3_last_insert_rowid(s->db);
	store_relaxed_end(s, relaxed);
	return r;
}

/* Steps @q (id, at, sprite, kind, message) to its end into an array. */
static int
event_rows_read(struct query *q, struct event_row **ret, size_t *ret_n)
{
	struct event_row *rows = NULL, *e;
	size_t n = 0, cap = 0;
	int r;

	while ((r = query_step(q)) == 1) {
		rows = grow(rows, n, &cap, sizeof *rows);
		e = &rows[n++];
		e->id = sqlite3_column_int64(q->st, 0);
		e->at = sqlite3_column_int64(q->st, 1);
		e->sprite = column_text(q->st, 2);
		e->kind = column_text(q->st, 3);
		e->message = column_text(q->st, 4);
	}
	query_done(q);
	if (r < 0) {
		event_rows_free(rows, n);
		return r;
	}
	*ret = rows;
	*ret_n = n;
	return 0;
}

int
store_event_list(struct store *s, const char *sprite, size_t limit,
    struct event_row **ret, size_t *ret_n)
{
	struct query q;

	/* Two texts rather than "? IS NULL OR sprite = ?", which would keep
	 * SQLite off the (sprite, id) index. */
	if (sprite != NULL) {
		query_init(&q, s, "SELECT id, at, sprite, kind, message FROM "
		    "(SELECT * FROM events WHERE sprite = ? "
		    "ORDER BY id DESC LIMIT ?) ORDER BY id");
		bind_text(&q, sprite);
	} else {
		query_init(&q, s, "SELECT id, at, sprite, kind, message FROM "
		    "(SELECT * FROM events ORDER BY id DESC LIMIT ?) "
		    "ORDER BY id");
	}
	bind_int(&q, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
	return event_rows_read(&q, ret, ret_n);
}

int
store_event_list_after(struct store *s, int64_t after_id, size_t limit,
    struct event_row **ret, size_t *ret_n)
{
	struct query q;

	query_init(&q, s, "SELECT id, at, sprite, kind, message FROM events "
	    "WHERE id > ? ORDER BY id LIMIT ?");
	bind_int(&q, after_id);
	bind_int(&q, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
	return event_rows_read(&q, ret, ret_n);
}

void
event_rows_free(struct event_row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(rows[i].sprite);
		free(rows[i].kind);
		free(rows[i].message);
	}
	free(rows);
}

/* API tokens. */

int
store_token_add(struct store *s, const char *name, const char *hash, int64_t *ret_created)
{
	struct query q;
	int64_t now = now_unix_ms();
	int r;

	query_init(&q, s, "INSERT INTO tokens (name, hash, created_at) VALUES (?, ?, ?)");
	bind_text(&q, name);
	bind_text(&q, hash);
	bind_int(&q, now);
	r = query_exec(&q);
	if (r == 0 && ret_created != NULL)
		*ret_created = now;
	return r;
}

int
store_token_find(struct store *s, const char *hash, char **ret_name)
{
	struct query q;
	int r;

	query_init(&q, s, "SELECT name FROM tokens WHERE hash = ?");
	bind_text(&q, hash);
	r = query_row(&q, "token");
	if (r == 0)
		*ret_name = column_text(q.st, 0);
	query_done(&q);
	return r;
}

int
store_token_list(struct store *s, struct token_row **ret, size_t *ret_n)
{
	struct token_row *rows = NULL;
	size_t n = 0, cap = 0;
	struct query q;
	int r;

	query_init(&q, s, "SELECT name, created_at FROM tokens ORDER BY name");
	while ((r = query_step(&q)) == 1) {
		rows = grow(rows, n, &cap, sizeof *rows);
		rows[n].name = column_text(q.st, 0);
		rows[n++].created_at = sqlite3_column_int64(q.st, 1);
	}
	query_done(&q);
	if (r < 0) {
		token_rows_free(rows, n);
		return r;
	}
	*ret = rows;
	*ret_n = n;
	return 0;
}

int
store_token_delete(struct store *s, const char *name)
{
	struct query q;
	int r;

	query_init(&q, s, "DELETE FROM tokens WHERE name = ?");
	bind_text(&q, name);
	r = query_exec(&q);
	if (r == 0 && sqlite3_changes(s->db) == 0) {
		store_setmsg(s, "no token named %s", name);
		return -ENOENT;
	}
	return r;
}

void
token_rows_free(struct token_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(rows[i].name);
	free(rows);
}
