/*
 * store: sprig's SQLite database ($SPRIG_HOME/sprig.db). It owns the schema
 * and its migrations (PRAGMA user_version) and every query; nothing outside
 * db/ writes SQL. WAL, foreign keys on, a busy timeout.
 *
 * Rows come out as plain structs whose strings are owned by the struct and
 * freed with the matching *_done function. Functions return 0 or a negative
 * errno: -ENOENT for a missing row, -EEXIST for a unique clash, -EINVAL for
 * another broken constraint (an unknown id referenced, a row still
 * referenced, a bad state), -EBUSY when another writer holds the database
 * past the busy timeout, -ENOSPC for a full disk, -EIO for anything else
 * SQLite reports (store_errmsg says what). Output parameters are untouched
 * on failure.
 */
#ifndef SPRIG_STORE_H
#define SPRIG_STORE_H

#include <stddef.h>
#include <stdint.h>

struct store;

/* Sprite states, as stored (text) and shown. */
#define SPRITE_RUNNING	"running"
#define SPRITE_PAUSED	"paused"
#define SPRITE_SLEEPING	"sleeping"
#define SPRITE_STOPPED	"stopped"
#define SPRITE_BROKEN	"broken"
/* Transient: a create that has not finished; swept at start-up. */
#define SPRITE_CREATING	"creating"

struct image_row {
	int64_t	 id;
	char	*name;		/* "minimal" */
	char	*recipe_hash;	/* hex */
	char	*dir;		/* absolute: .../images/minimal/<hash> */
	int64_t	 built_at;	/* unix ms */
};

struct layer_row {
	int64_t	 id;
	int64_t	 parent_id;	/* 0: sits directly on the image's rootfs */
	int64_t	 image_id;	/* the image build at the bottom of the chain */
	char	*file;		/* absolute path of the qcow2 file */
	int	 frozen;	/* 1: read-only, shared; never written again */
	int64_t	 created_at;
};

struct sprite_row {
	int64_t	 id;
	char	*name;
	char	*state;		/* one of SPRITE_* */
	int64_t	 image_id;
	char	*image_name;	/* filled by the get/list queries (join) */
	int64_t	 top_layer_id;	/* the writable top layer */
	int	 mem_mb;
	int	 cpus;
	int64_t	 pid;		/* QEMU's pid while awake, else 0 */
	uint64_t pid_start;	/* its start time (/proc/PID/stat field 22) */
	char	*run_dir;	/* $SPRIG_HOME/run/<name> while awake, else NULL */
	char	*last_error;	/* why it is broken or failed, or NULL */
	int64_t	 created_at;	/* unix ms */
	int64_t	 updated_at;
};

struct event_row {
	int64_t	 id;
	int64_t	 at;		/* unix ms */
	char	*sprite;	/* name, or NULL for daemon events */
	char	*kind;		/* "create", "start", "stop", "error", ... */
	char	*message;
};

/*
 * Opens (creating if needed, mode 0600) and migrates the database at @path.
 * On failure *cause gets a sentence for a person (caller frees; @cause may
 * be NULL): -ENOTSUP for a database from a newer sprig, -EINVAL for a file
 * that is not a database.
 */
int store_open(const char *path, struct store **ret, char **cause);
void store_close(struct store *s);
/* The last SQLite error message (owned by the store). */
const char *store_errmsg(struct store *s);
/* The schema version (PRAGMA user_version), or a negative errno. */
int store_schema_version(struct store *s);

/*
 * Transactions (BEGIN IMMEDIATE / COMMIT / ROLLBACK); nesting is not allowed
 * (-EINVAL). A failed commit rolls back. Rollback with no transaction open
 * does nothing, so cleanup paths may call it freely.
 */
int store_begin(struct store *s);
int store_commit(struct store *s);
void store_rollback(struct store *s);

/* Images. */
/* Sets row->id; a built_at of 0 becomes now. */
int store_image_add(struct store *s, struct image_row *row);
/* The newest build of image @name. */
int store_image_get_current(struct store *s, const char *name, struct image_row *ret);
int store_image_get(struct store *s, int64_t id, struct image_row *ret);
void image_row_done(struct image_row *row);

/* Layers. */
/* Sets row->id; a created_at of 0 becomes now. */
int store_layer_add(struct store *s, struct layer_row *row);
int store_layer_get(struct store *s, int64_t id, struct layer_row *ret);
/* -EINVAL while a layer, sprite, checkpoint or template still refers to it. */
int store_layer_delete(struct store *s, int64_t id);
/* Every layer file the database knows, for start-up reconciliation, by id.
 * @ret is an array freed with layer_rows_free. */
int store_layer_list(struct store *s, struct layer_row **ret, size_t *ret_n);
void layer_row_done(struct layer_row *row);
void layer_rows_free(struct layer_row *rows, size_t n);

/* Sprites. */
/* Sets row->id, created_at and updated_at (image_name is not read). */
int store_sprite_add(struct store *s, struct sprite_row *row);
int store_sprite_get(struct store *s, const char *name, struct sprite_row *ret);
/* Sorted by name. @ret is an array freed with sprite_rows_free. */
int store_sprite_list(struct store *s, struct sprite_row **ret, size_t *ret_n);
int store_sprite_set_state(struct store *s, int64_t id, const char *state,
    const char *last_error);
/* Records the QEMU process of an awake sprite (pid 0 and NULL clear it). */
int store_sprite_set_process(struct store *s, int64_t id, int64_t pid,
    uint64_t pid_start, const char *run_dir);
int store_sprite_set_top_layer(struct store *s, int64_t id, int64_t layer_id);
/* Deletes the sprite and its checkpoints (not their layers). */
int store_sprite_delete(struct store *s, int64_t id);
void sprite_row_done(struct sprite_row *row);
void sprite_rows_free(struct sprite_row *rows, size_t n);

/* Events: an append-only log, trimmed to the newest STORE_EVENTS_KEEP. */
#define STORE_EVENTS_KEEP	10000
int store_event_add(struct store *s, const char *sprite, const char *kind,
    const char *message);
/* The newest @limit events, oldest first; @sprite NULL for all. @ret is
 * an array freed with event_rows_free (NULL when there are none). */
int store_event_list(struct store *s, const char *sprite, size_t limit,
    struct event_row **ret, size_t *ret_n);
void event_rows_free(struct event_row *rows, size_t n);

#endif
