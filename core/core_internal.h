/*
 * core_internal: what the lifecycle (core.c) and the timeline (timeline.c)
 * share: the runtime record of a sprite and the helpers that drive it.
 */
#ifndef SPRIG_CORE_INTERNAL_H
#define SPRIG_CORE_INTERNAL_H

#include "core.h"
#include "image.h"

struct proc;
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
	struct sprite	*next;
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
};

extern const struct vm_callbacks sprite_vm_cb;

struct sprite *sprite_find(struct core *c, const char *name);
struct sprite *sprite_new(struct core *c, const char *name, int64_t id);
void sprite_free(struct sprite *s);
char *sprite_run_dir(struct core *c, const char *name);
/* Ends the operation under way: the requester hears, then idle waiters. */
void sprite_op_end(struct sprite *s, int err, const char *cause);
/* Boots the VM of a sprite whose row and top layer exist: cold, or from
 * the device state @incoming with the RAM already in its RAM file. */
int sprite_boot(struct sprite *s, const struct sprite_row *row, const char *incoming,
    char **cause);
/* Drops a sleeping sprite's saved memory; it is stopped from then on. */
void sprite_forget_memory(struct core *c, int64_t id);
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
/* A new layer file name under layers/ (newly allocated). */
char *core_layer_path(struct core *c);

/* timeline.c: makes sprite @name over frozen layer @base_id and boots it;
 * @fn is called once unless this returns an error. */
int sprite_create_over(struct core *c, const char *name, int64_t base_id,
    const char *origin, int mem_mb, int cpus, core_done_fn fn, void *arg, char **cause);
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
void idle_disarm(struct sprite *s);

/* timeline.c: start-up recovery of checkpoints cut off by a crash. */
void timeline_recover(struct core *c);

#endif
