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
	/* Schema v2: the timeline. */
	int64_t	 head_checkpoint_id;	/* the checkpoint the top layer grew from, or 0 */
	int64_t	 undo_checkpoint_id;	/* the state the last restore left, or 0 */
	char	*origin;		/* where its disk started: "minimal" (an image),
					 * "base@v3" (a fork), "node-base" (a template) */
	/* Schema v3. */
	int64_t	 idle_s;		/* its own idle time: -1 the daemon's, 0 never */
	/* Schema v1's labels, v5's URL settings: JSON as the API checked it. */
	char	*labels;		/* an array of strings, "[]" when none */
	char	*url_settings;		/* an object, or NULL when never set */
};

/* A frozen point of a sprite's timeline (schema v2). */
struct checkpoint_row {
	int64_t	 id;
	int64_t	 sprite_id;
	int	 version;	/* N of "vN", per sprite, from 0 */
	int64_t	 parent_id;	/* the checkpoint this one grew from, or 0 */
	int64_t	 layer_id;	/* its frozen disk layer */
	char	*mem_dir;	/* its saved memory state, or NULL */
	char	*comment;	/* or NULL */
	int	 is_auto;	/* made by sprig (before a restore), not asked for */
	int64_t	 created_at;	/* unix ms */
};

/* A named starting point for new sprites (schema v2). */
struct template_row {
	char	*name;
	int64_t	 layer_id;	/* the frozen layer new sprites grow from */
	char	*mem_dir;	/* or NULL */
	char	*origin;	/* "base@v3" */
	int64_t	 created_at;
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
int store_layer_set_frozen(struct store *s, int64_t id);
/* Marks a layer whose file may not exist yet (a checkpoint in progress):
 * start-up finishes or undoes the operation by whether the file exists. */
int store_layer_set_pending(struct store *s, int64_t id, int pending);
/* Layers still marked pending (sorted by id). */
int store_layer_list_pending(struct store *s, struct layer_row **ret, size_t *ret_n);
/* How many things hold layer @id: sprites' tops, checkpoints, templates and
 * layers built on it. A layer held by nothing may be deleted. */
int store_layer_refs(struct store *s, int64_t id, int *ret);
/* Points layer @id at a new parent (0: the image), after its file's
 * backing was changed to that parent's file (a merge). */
int store_layer_set_parent(struct store *s, int64_t id, int64_t parent_id);
/* Layer @id and its ancestors, @id first, the one on the image last; an
 * array freed with layer_rows_free. */
int store_layer_chain(struct store *s, int64_t id, struct layer_row **ret, size_t *ret_n);

/* Checkpoints. */
/* Sets id and created_at; a negative row->version takes the sprite's next. */
int store_checkpoint_add(struct store *s, struct checkpoint_row *row);
int store_checkpoint_get(struct store *s, int64_t sprite_id, int version,
    struct checkpoint_row *ret);
int store_checkpoint_get_id(struct store *s, int64_t id, struct checkpoint_row *ret);
/* A sprite's checkpoints, by version. */
int store_checkpoint_list(struct store *s, int64_t sprite_id,
    struct checkpoint_row **ret, size_t *ret_n);
/* Deletes a checkpoint; its children take its parent as theirs, and a
 * sprite whose head or undo it was gets 0 there. */
int store_checkpoint_delete(struct store *s, int64_t id);
void checkpoint_row_done(struct checkpoint_row *row);
void checkpoint_rows_free(struct checkpoint_row *rows, size_t n);

int store_sprite_set_head(struct store *s, int64_t id, int64_t head_checkpoint_id,
    int64_t undo_checkpoint_id);

/* Templates. */
int store_template_add(struct store *s, struct template_row *row);	/* sets created_at */
int store_template_get(struct store *s, const char *name, struct template_row *ret);
/* Sorted by name. */
int store_template_list(struct store *s, struct template_row **ret, size_t *ret_n);
/* The templates that use layer @layer_id, sorted by name. */
int store_template_list_by_layer(struct store *s, int64_t layer_id,
    struct template_row **ret, size_t *ret_n);
int store_template_delete(struct store *s, const char *name);
void template_row_done(struct template_row *row);
void template_rows_free(struct template_row *rows, size_t n);

/* Sprites. */
/* Sets row->id, created_at and updated_at (image_name is not read). */
int store_sprite_add(struct store *s, struct sprite_row *row);
int store_sprite_get(struct store *s, const char *name, struct sprite_row *ret);
int store_sprite_get_id(struct store *s, int64_t id, struct sprite_row *ret);
/* Sorted by name. @ret is an array freed with sprite_rows_free. */
int store_sprite_list(struct store *s, struct sprite_row **ret, size_t *ret_n);
int store_sprite_set_state(struct store *s, int64_t id, const char *state,
    const char *last_error);
/* Sets the sprite's own idle time in seconds (0: never sleeps; -1: back to
 * the daemon's default). */
int store_sprite_set_idle(struct store *s, int64_t id, int64_t idle_s);
/* Sets the sprite's labels and URL settings (JSON text); NULL leaves one
 * as it is. */
int store_sprite_set_meta(struct store *s, int64_t id, const char *labels,
    const char *url_settings);
/* Records the QEMU process of an awake sprite (pid 0 and NULL clear it). */
int store_sprite_set_process(struct store *s, int64_t id, int64_t pid,
    uint64_t pid_start, const char *run_dir);
int store_sprite_set_top_layer(struct store *s, int64_t id, int64_t layer_id);
/* Deletes the sprite and its checkpoints (not their layers). */
/* Deletes a sprite and its checkpoints; other sprites' pointers into those
 * checkpoints (a fork's head, a child's parent) are cleared first. */
int store_sprite_delete(struct store *s, int64_t id);
void sprite_row_done(struct sprite_row *row);
void sprite_rows_free(struct sprite_row *rows, size_t n);

/* Daemon-wide settings (schema v3), as text by key. get: newly allocated
 * value, or -ENOENT when unset; set with @value NULL unsets. */
int store_setting_get(struct store *s, const char *key, char **ret);
int store_setting_set(struct store *s, const char *key, const char *value);

/* A sprite's policies (schema v5): @kind "network", "privileges" or
 * "resources", the body JSON text. get: newly allocated, or -ENOENT when
 * none was set; set with @body NULL deletes it (nothing to delete is not
 * an error); an unknown @kind or sprite is -EINVAL. They go with the sprite. */
int store_policy_get(struct store *s, int64_t sprite_id, const char *kind, char **ret);
int store_policy_set(struct store *s, int64_t sprite_id, const char *kind, const char *body);

/* Events: an append-only log, trimmed to the newest STORE_EVENTS_KEEP. */
#define STORE_EVENTS_KEEP	10000
/* Appends an event; its id (ids only grow) goes to *@ret_id if not NULL. */
int store_event_add(struct store *s, const char *sprite, const char *kind,
    const char *message, int64_t *ret_id);
/* The newest @limit events, oldest first; @sprite NULL for all. @ret is
 * an array freed with event_rows_free (NULL when there are none). */
int store_event_list(struct store *s, const char *sprite, size_t limit,
    struct event_row **ret, size_t *ret_n);
/* Up to @limit events with ids above @after_id, oldest first: what a
 * client that saw @after_id last has missed. */
int store_event_list_after(struct store *s, int64_t after_id, size_t limit,
    struct event_row **ret, size_t *ret_n);
void event_rows_free(struct event_row *rows, size_t n);

/* API tokens (schema v4): a name and the SHA-256 (hex) of the secret. */
struct token_row {
	char	*name;
	int64_t	 created_at;	/* unix ms */
};

/* Adds a token; -EEXIST if @name is taken. *@ret_created (may be NULL)
 * gets its creation time. */
int store_token_add(struct store *s, const char *name, const char *hash, int64_t *ret_created);
/* The name of the token whose hash is @hash (newly allocated), or -ENOENT. */
int store_token_find(struct store *s, const char *hash, char **ret_name);
/* Sorted by name; freed with token_rows_free. */
int store_token_list(struct store *s, struct token_row **ret, size_t *ret_n);
/* -ENOENT if there is no token @name. */
int store_token_delete(struct store *s, const char *name);
void token_rows_free(struct token_row *rows, size_t n);

#endif
