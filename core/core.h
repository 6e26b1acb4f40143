/*
 * core: sprites and their lifecycle. It owns the store, the images, and a
 * runtime record for every sprite that has a VM or an operation under way;
 * it knows no HTTP and no curses.
 *
 * Operations that take time (create, start, stop, destroy) return at once:
 * 0 when accepted, after which @fn is called exactly once, never from inside
 * the call; or a negative errno with *cause set (caller frees) when refused,
 * after which @fn is never called. Errors: -EINVAL bad input, -ENOENT no such
 * sprite or image, -EEXIST name taken, -EBUSY another operation is under way,
 * -EIO the VM or image failed.
 */
#ifndef SPRIG_CORE_H
#define SPRIG_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "db/store.h"

struct loop;
struct agent;
struct vmm_ops;
struct core;

struct core_config {
	const char		*home;		/* $SPRIG_HOME */
	const char		*libexec;	/* image recipes and the guest's sprig-init */
	const struct vmm_ops	*vmm;
	int			 boot_timeout_ms;
	int			 mem_mb;
	int			 cpus;
	int			 idle_s;	/* sleep after this long unused; 0: never */
};

typedef void (*core_done_fn)(void *arg, int err, const char *cause);

/* Opens the store, then re-adopts VMs left running and sweeps what a crash
 * left half-made. */
int core_new(struct loop *l, const struct core_config *cfg, struct core **ret, char **cause);
/* Lets running VMs run on (a later daemon adopts them); operations under way
 * are cancelled, their half-made results removed. */
void core_free(struct core *c);
const char *core_accel(const struct core *c);
/* The store, for a front end's own rows (the API's tokens); it stays
 * core's, valid until core_free. */
struct store *core_store(struct core *c);

int core_create(struct core *c, const char *name, const char *image,
    core_done_fn fn, void *arg, char **cause);
int core_start(struct core *c, const char *name, core_done_fn fn, void *arg, char **cause);
int core_stop(struct core *c, const char *name, core_done_fn fn, void *arg, char **cause);
int core_destroy(struct core *c, const char *name, core_done_fn fn, void *arg, char **cause);
/*
 * Sleep: the VM's devices are saved beside its RAM file and QEMU exits; the
 * sprite costs no process memory. Wake resumes it where it was (falling
 * back to a cold boot from its disk if the saved state cannot be loaded).
 */
int core_sleep(struct core *c, const char *name, core_done_fn fn, void *arg, char **cause);
int core_wake(struct core *c, const char *name, core_done_fn fn, void *arg, char **cause);

/*
 * Activity, for idle sleep: touch marks a sprite used now; hold and unhold
 * bracket a client that keeps it awake however long it is quiet (an open
 * exec session). Unknown or stopped sprites are ignored.
 */
void core_touch(struct core *c, const char *name);
void core_hold(struct core *c, const char *name);
void core_unhold(struct core *c, const char *name);

/*
 * A sprite's own idle time in seconds: 0 never sleeps, -1 goes back to the
 * daemon's default. Takes effect at once on an awake sprite.
 */
int core_set_idle(struct core *c, const char *name, int64_t idle_s, char **cause);

/*
 * Daemon-wide limits (0: none): past them, booting a sprite puts the least
 * recently used idle one to sleep (core/caps.c). Set leaves a field of -1
 * as it is.
 */
struct core_settings {
	int64_t		 max_awake;	/* sprites awake at once */
	int64_t		 max_memory_mb;	/* guest memory of the awake sprites */
	/* Commands the API runs at once (not the detachable sessions, which
	 * have their own cap), in all and in one sprite: past them an exec is
	 * refused, not queued. Unset, they are CORE_MAX_EXECS and
	 * CORE_MAX_EXECS_SPRITE; 0 is none. */
	int64_t		 max_execs;
	int64_t		 max_execs_sprite;
};
#define CORE_MAX_EXECS		256
#define CORE_MAX_EXECS_SPRITE	64
int core_settings_get(struct core *c, struct core_settings *ret);
int core_settings_set(struct core *c, const struct core_settings *set, char **cause);

/* What only the daemon knows of a sprite, beside its row. CPU is known
 * only while someone watches the event stream (it is sampled then). */
struct core_status {
	const char	*op;		/* the operation under way ("waking up"), or NULL */
	int64_t		 idle_s;	/* the idle time in force: 0 never sleeps */
	int64_t		 sleep_in_ms;	/* until it sleeps if still unused; -1 if it will not
					 * (not awake, idle off, or held by a session) */
	int		 sessions;	/* clients holding it awake */
	/* What it costs the host (core/usage.c); -1 when unknown. */
	double		 cpu_pct;	/* its QEMU's CPU, percent of one CPU, lately */
	int64_t		 rss_mb;	/* its QEMU's resident memory */
	int64_t		 disk_mb;	/* its layer files, its image left out */
};
void core_status(struct core *c, const struct sprite_row *row, struct core_status *ret);

/* Calls @fn once no operation is under way on @name (at once if none is). */
int core_wait_idle(struct core *c, const char *name, core_done_fn fn, void *arg, char **cause);

/* Images: where @name's current build stands (see images_state), and
 * starting its build ahead of a create, to show progress while it runs. */
int core_image_state(struct core *c, const char *name, const char **ret_state,
    char **ret_progress, char **cause);
int core_image_build(struct core *c, const char *name, char **cause);

/*
 * The event log, live. Every event core records (a state reached, an
 * operation begun or failed, a checkpoint made) is passed to each watcher
 * as it is recorded; @ev is valid during the call. core_watch returns an
 * id for core_unwatch. core_events lists what came after @after_id.
 */
typedef void (*core_watch_fn)(void *arg, const struct event_row *ev);
uint64_t core_watch(struct core *c, core_watch_fn fn, void *arg);
void core_unwatch(struct core *c, uint64_t id);
int core_events(struct core *c, int64_t after_id, size_t limit, struct event_row **ret,
    size_t *ret_n, char **cause);
/* The newest @limit events (of @sprite and the daemon's, or all), oldest
 * first. */
int core_events_newest(struct core *c, const char *sprite, size_t limit,
    struct event_row **ret, size_t *ret_n, char **cause);

int core_get(struct core *c, const char *name, struct sprite_row *ret, char **cause);
int core_list(struct core *c, struct sprite_row **ret, size_t *ret_n);

/*
 * The timeline. A checkpoint freezes the sprite's disk as it is (live, with
 * the guest's writes flushed first) and numbers it vN; @fn gets the version
 * through *version (valid during the call).
 */
typedef void (*core_checkpoint_fn)(void *arg, int err, const char *cause, int version);
int core_checkpoint(struct core *c, const char *name, const char *comment,
    core_checkpoint_fn fn, void *arg, char **cause);
/* With CORE_CKPT_MEMORY the guest's memory and devices are saved too, at
 * the same stopped instant as the disk: a restore resumes the processes. */
#define CORE_CKPT_MEMORY	0x1
int core_checkpoint_ex(struct core *c, const char *name, const char *comment,
    unsigned flags, core_checkpoint_fn fn, void *arg, char **cause);
/* A sprite's checkpoints by version (free with checkpoint_rows_free). */
int core_checkpoints(struct core *c, const char *name, struct checkpoint_row **ret,
    size_t *ret_n, char **cause);
/* Parses "v3" or "3"; returns the version or -EINVAL. */
int core_parse_version(const char *s);
/*
 * Puts the sprite's disk back to checkpoint @version ("v1"), or to what the
 * last restore left ("undo"). The state being left is checkpointed first,
 * so a restore can itself be undone. A running sprite is rebooted on the
 * restored disk; a stopped one stays stopped.
 */
int core_restore(struct core *c, const char *name, const char *version,
    core_done_fn fn, void *arg, char **cause);
/*
 * Makes @new_name, a new sprite whose disk starts at @name's checkpoint
 * @version (NULL: checkpoint @name as it is now, first), sharing the
 * checkpoint copy-on-write, and boots it.
 */
int core_fork(struct core *c, const char *name, const char *version,
    const char *new_name, core_done_fn fn, void *arg, char **cause);

/* Deletes checkpoint @version of @name. Refused (-EBUSY, cause names them)
 * while a template uses it. Its layer stays while anything builds on it. */
int core_checkpoint_rm(struct core *c, const char *name, const char *version, char **cause);

/*
 * Templates: named starting points. Save makes one from @name's checkpoint
 * @version (NULL: checkpoint it now); create_from makes a sprite from one.
 */
int core_template_save(struct core *c, const char *tname, const char *name,
    const char *version, core_done_fn fn, void *arg, char **cause);
int core_template_rm(struct core *c, const char *tname, char **cause);
int core_templates(struct core *c, struct template_row **ret, size_t *ret_n, char **cause);
int core_create_from_template(struct core *c, const char *name, const char *tname,
    core_done_fn fn, void *arg, char **cause);

/* The agent channel of a running sprite, to exec in it; -ENOENT, or
 * -EAGAIN when it is not running (cause says what to do). The pointer is
 * valid until the channel reports lost to its sessions. */
int core_agent(struct core *c, const char *name, struct agent **ret, char **cause);
/*
 * core_agent for a client that wakes a sleeping sprite first: returns 1
 * when it started that wake instead (@fn follows; then call again: *@woke,
 * set now, keeps a wake from being tried twice), else as core_agent.
 */
int core_agent_wake(struct core *c, const char *name, int *woke, core_done_fn fn, void *arg,
    struct agent **ret, char **cause);

/*
 * Files (core/files.c): one request (common/agent_proto.h's struct
 * agent_fs) done by @name's guest on the guest's paths. A sleeping sprite
 * is woken first and a busy one waited for; a stopped one is refused when
 * the request is sent (-EAGAIN, cause says how to start it). The request
 * counts as use and keeps the sprite awake while it runs.
 */
struct agent_fs;
struct core_fs;
struct core_fs_callbacks {
	/* A read's bytes, or a list's entry records; the guest sends more as
	 * core_fs_consumed counts them used. */
	void (*data)(void *arg, const uint8_t *p, size_t n);
	/* The end, called once: @err 0 with the @path the guest resolved and
	 * @value (bytes, entries), or a negative errno with @cause. */
	void (*done)(void *arg, int err, const char *cause, const char *path, uint64_t value);
};
/* Returns 0 with the request in *ret (core's until done or core_fs_cancel),
 * or a negative errno with *cause. A write's @body (@len bytes) stays the
 * caller's and must live until then. */
int core_fs(struct core *c, const char *name, const struct agent_fs *req, const void *body,
    size_t len, const struct core_fs_callbacks *cb, void *arg, struct core_fs **ret,
    char **cause);
void core_fs_consumed(struct core_fs *f, size_t n);
/* The caller leaves: no more callbacks; the guest drops the request (a
 * write leaves the file as it was). */
void core_fs_cancel(struct core_fs *f);

/*
 * Forwarded connections (core/proxy.c): a TCP connection from inside
 * @name's guest to @host:@port (common/agent_proto.h, CONNECT). A sleeping
 * sprite is woken first and a busy one waited for; while the connection
 * is open it keeps the sprite awake.
 */
struct core_proxy;
struct core_proxy_callbacks {
	/* Called once: connected (@err 0), or not, with @cause; then no more
	 * callbacks come and the connection is gone. */
	void (*connected)(void *arg, int err, const char *cause);
	/* Bytes from the far end; the guest sends more as core_proxy_consumed
	 * counts them used. */
	void (*data)(void *arg, const uint8_t *p, size_t n);
	/* core_proxy_send takes bytes again after it took fewer than offered. */
	void (*room)(void *arg);
	/* Called once after connected: the far end closed (@err 0) or the
	 * connection broke (@cause says how); then it is gone. */
	void (*closed)(void *arg, int err, const char *cause);
};
/* Returns 0 with the connection in *ret (core's until its end or
 * core_proxy_cancel), or a negative errno with *cause (no such sprite). */
int core_proxy(struct core *c, const char *name, const char *host, uint16_t port,
    const struct core_proxy_callbacks *cb, void *arg, struct core_proxy **ret,
    char **cause);
/* Sends bytes toward the far end: returns how many it took (less than
 * @len, maybe 0, while the guest has not written earlier ones: room
 * follows), or -ENOTCONN before connected. */
ssize_t core_proxy_send(struct core_proxy *p, const void *data, size_t len);
/* No more bytes to send: the far end reads end of file, and may answer. */
void core_proxy_shutdown(struct core_proxy *p);
void core_proxy_consumed(struct core_proxy *p, size_t n);
/* The caller leaves: no more callbacks; the guest drops the connection. */
void core_proxy_cancel(struct core_proxy *p);

#endif
