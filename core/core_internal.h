/*
 * core_internal: what the lifecycle (core.c) and the timeline (timeline.c)
 * share: the runtime record of a sprite and the helpers that drive it.
 */
#ifndef SPRIG_CORE_INTERNAL_H
#define SPRIG_CORE_INTERNAL_H

#include "core.h"
#include "image.h"
#include "common/proc.h"

struct ckptdisks;
struct memcopy;
struct vm;

enum sprite_op {
	OP_NONE,
	OP_CREATE,
	OP_START,
	OP_ADOPT,
	OP_STOP,
	OP_DESTROY,
	OP_CHECKPOINT,
	OP_RESTORE,
	OP_FORK,	/* checkpointing for a fork */
	OP_SLEEP,
	OP_WAKE,
};

extern const char *const op_names[];

struct waiter {
	core_done_fn	 fn;
	void		*arg;
	struct waiter	*next;
};

struct sprite {
	struct core	*core;
	int64_t		 id;		/* 0 until its row exists */
	char		*name;
	enum sprite_op	 op;
	core_done_fn	 done;
	void		*done_arg;
	struct vm	*vm;
	int		 vm_ready;
	struct proc	*img_proc;	/* qemu-img making the top layer */
	int64_t		 image_id;
	int64_t		 layer_id;
	char		*layer_file;
	char		*origin;	/* for a create: the image or checkpoint it starts from */
	char		*fork_mem;	/* a fork: the memory state it resumes, or NULL */
	struct memcopy	*memcopy;	/* its RAM being copied from a checkpoint */
	struct waiter	*idle_waiters;
	/* A timeline operation's continuation when the VM exits (restore
	 * stops the VM and goes on), and its state. */
	void		(*on_exit)(struct sprite *s);
	void		*tl;
	/* Idle sleep (idle.c): the last sign of use, the clients holding it
	 * awake (open exec sessions), and the timer that puts it to sleep. */
	uint64_t	 last_active_ms;
	int		 holds;
	uint64_t	 idle_timer;
	int64_t		 idle_s;	/* its own idle time (-1: the daemon's) */
	uint64_t	 keep_until_ms;	/* kept awake from inside until then, or 0 */
	int		 mem_mb;	/* its guest memory, once it has booted */
	/* The last usage sample of its QEMU (usage.c). */
	uint64_t	 cpu_ms;
	uint64_t	 cpu_at_ms;	/* when it was taken; 0: none */
	double		 cpu_pct;	/* of one CPU since the one before; -1 unknown */
	uint64_t	 rss_kb;
	int		 idle_s_known;	/* idle_s was read from its row */
	struct ckptdisks *ckd;		/* checkpoints shown to its guest (ckptdisks.c) */
	struct sprite	*next;
};

struct watcher {
	uint64_t	 id;
	core_watch_fn	 fn;
	void		*arg;
	struct watcher	*next;
};

struct deferred {
	struct core	*core;
	core_done_fn	 fn;
	void		*arg;
	int		 err;
	char		*cause;
	uint64_t	 timer;
	struct deferred	*next;
};

struct core {
	struct loop		*loop;
	struct store		*store;
	struct images		*images;
	const struct vmm_ops	*vmm;
	char			*home;
	char			*layers_dir;
	int			 boot_timeout_ms;
	int			 mem_mb;
	int			 cpus;
	uint64_t		 idle_ms;	/* 0: sprites never fall asleep */
	struct sprite		*sprites;
	struct deferred		*deferred;
	struct watcher		*watchers;
	uint64_t		 next_watch_id;
	uint64_t		 usage_timer;	/* samples usage while anyone watches */
};

extern const struct vm_callbacks sprite_vm_cb;

struct sprite *sprite_find(struct core *c, const char *name);
struct sprite *sprite_new(struct core *c, const char *name, int64_t id);
void sprite_free(struct sprite *s);
char *sprite_run_dir(struct core *c, const char *name);
/* Marks the operation under way (OP_NONE: none) and tells the watchers,
 * so a front end can show "waking up" while it lasts; these notices are
 * not kept in the event log (their id is 0). */
void sprite_set_op(struct sprite *s, enum sprite_op op);
/* Ends the operation under way: the requester hears, then idle waiters. */
void sprite_op_end(struct sprite *s, int err, const char *cause);
/* Boots the VM of a sprite whose row and top layer exist: cold, or from
 * the device state @incoming with the RAM already in its RAM file. */
int sprite_boot(struct sprite *s, const struct sprite_row *row, const char *incoming,
    char **cause);
/* Drops a sleeping sprite's saved memory; it is stopped from then on. */
void sprite_forget_memory(struct core *c, int64_t id);
/* Deletes sprite @id's RAM file, if any, off the caller's path (the
 * unlink runs on the loop's next turn). */
void sprite_discard_ram(struct core *c, int64_t id);
/* Starts operation @op on an idle sprite with no VM by booting it (cold,
 * or from @incoming); @fn hears when the VM is up or failed. Returns 0, or
 * a negative errno with a cause, and then nothing was started. */
int sprite_boot_op(struct core *c, const struct sprite_row *row, enum sprite_op op,
    const char *incoming, core_done_fn fn, void *arg, char **cause);
/* Where a sprite's guest RAM lives while it is awake (newly allocated). */
char *sprite_ram_file(struct core *c, int64_t id);
/* Undoes a create: removes the sprite's rows and files, ends the op. */
void sprite_create_fail(struct sprite *s, int err, const char *cause);
/* 0 if @name is a valid name no sprite has (or is being made with), else
 * -EINVAL or -EEXIST with a cause. */
int sprite_name_free(struct core *c, const char *name, char **cause);
/* Finds an idle sprite for an operation; fills @row. */
int sprite_for_op(struct core *c, const char *name, struct sprite_row *row,
    struct sprite **ret, char **cause);
void core_defer(struct core *c, core_done_fn fn, void *arg, int err, char *cause);
void core_event(struct core *c, const char *sprite, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Drops a reference to layer @id: a layer nothing holds any more is
 * deleted (row and file), and so on down its chain. */
void core_layer_release(struct core *c, int64_t id);
/* Makes @n files and directories durable in the background (sync(1)),
 * for what may reach the disk after it was answered; @what names them in
 * the event log if that cannot start. */
void core_sync_later(struct core *c, char *const *paths, size_t n, const char *what);
/* A new layer file name under layers/ (newly allocated). */
char *core_layer_path(struct core *c);
/*
 * Makes @file, a new empty layer over @backing (@fmt "qcow2" or "raw"), in
 * a child process (vmm/qcow2.c), so the loop never waits on the disk. @fn
 * hears the child's exit as from proc_spawn; core_child_cause says why
 * it failed. Returns 0 with *ret, or a negative errno (-ENOENT: no backing
 * file).
 */
int core_layer_make(struct core *c, const char *file, const char *backing, const char *fmt,
    proc_exit_fn fn, void *arg, struct proc **ret);
/* NULL when the status of a child started with proc_spawn_fn (such as
 * core_layer_make's) is success, else why it could not @what ("make the
 * fork's disk"); the caller frees it. */
char *core_child_cause(const char *what, int status);

/* timeline.c: makes sprite @name over frozen layer @base_id and boots it,
 * resuming memory state @mem_dir if not NULL (whose machine had @mem_mb
 * and @cpus); @fn is called once unless this returns an error. */
int sprite_create_over(struct core *c, const char *name, int64_t base_id,
    const char *origin, const char *mem_dir, int mem_mb, int cpus, core_done_fn fn,
    void *arg, char **cause);
/* timeline.c: finds checkpoint "vN" or "undo" of @row. */
int timeline_find(struct core *c, const struct sprite_row *row, const char *label,
    struct checkpoint_row *ret, char **cause);

/* sleep.c: where a sleeping sprite's device state is (newly allocated). */
char *sprite_sleep_state(struct core *c, int64_t id);
/* sleep.c: a wake failed; boots cold instead. Returns 0 when a boot is
 * under way (its ready ends the operation). */
int sleep_wake_failed(struct sprite *s, const char *cause);
/* sleep.c: the VM of a sprite going to sleep exited. */
void sleep_vm_exited(struct sprite *s, const char *why);

/* idle.c: (re)arms the timer that puts an idle awake sprite to sleep;
 * does nothing while it is held, busy or not awake. */
void idle_arm(struct sprite *s);
/* Tells every watcher of @ev (not kept in the event log unless it came
 * from core_event). */
void core_notify(struct core *c, const struct event_row *ev);
/* Starts sampling usage if anyone watches (core/usage.c); fills the usage
 * part of a status. */
void usage_watch(struct core *c);
void usage_fill(struct core *c, const struct sprite_row *row, struct core_status *ret);
/* Before @booting boots with @mem_mb of memory: puts least recently used
 * sprites to sleep while the limits would be passed (core/caps.c). */
void caps_make_room(struct core *c, struct sprite *booting, int mem_mb);
/* Makes a sleeping sprite's RAM file and saved state durable, in the
 * background (core/sleep.c). */
void sleep_flush(struct core *c, int64_t id);
/* Keeps @s awake for @ms from now however unused (0: no longer). */
void idle_keepalive(struct sprite *s, uint64_t ms);
/* A `sprite-env` command line from inside sprite @arg (core/sprite_env.c). */
void sprite_env_request(struct vm *vm, uint32_t id, int argc, char **argv, void *arg);
void idle_disarm(struct sprite *s);

/* timeline.c: start-up recovery of checkpoints cut off by a crash. */
void timeline_recover(struct core *c);

/* merge.c: checks that every layer of @row's disk is there and a qcow2
 * file over the one recorded, before a boot. Returns 0, or a negative
 * errno with a cause; then the sprite is marked broken with the reason. */
int merge_check_disk(struct core *c, const struct sprite_row *row, char **cause);

#endif
