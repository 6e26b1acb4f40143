/*
 * timeline: checkpoints, restore and fork: the tree of a sprite's frozen
 * disk layers (DESIGN.md, "Disk: a tree of layers").
 *
 * A checkpoint freezes the writable top and puts a new empty top over it:
 * live with QMP's blockdev-snapshot-sync (after the guest flushed its page
 * cache), or by writing it (vmm/qcow2.c) for a stopped sprite. No data is
 * copied. The new top's row is written first, marked pending; the snapshot
 * makes its file; one transaction then freezes the old top, records the
 * checkpoint and moves the sprite onto the new top. Start-up finishes a
 * checkpoint whose file the VM took up (or whose VM is gone) and undoes
 * any other (timeline_recover).
 *
 * Restore checkpoints the state being left (so "restore undo" can come
 * back), stops the VM, puts a new empty top over the chosen checkpoint's
 * layer and boots again if the sprite was running. Fork puts a new empty top
 * over a checkpoint's layer for a new sprite, so the checkpoint is shared
 * copy-on-write.
 *
 * Each of these can deepen the chain of layers under a top; merge.c keeps
 * it shallow: after a checkpoint is answered, and before a restored or
 * forked top is booted.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core_internal.h"
#include "memcopy.h"
#include "merge.h"
#include "names.h"
#include "common/failpoint.h"
#include "common/proc.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "vmm/agent.h"
#include "vmm/vmm.h"

/* Called when a checkpoint ends: err 0 with its row, else a cause. */
typedef void (*ckpt_then_fn)(struct sprite *s, int err, const char *cause,
    const struct checkpoint_row *cp);

struct ckpt {
	struct sprite	*s;
	char		*comment;
	int		 is_auto;
	char		*mem_dir;	/* a memory checkpoint's state, else NULL */
	int64_t		 old_top;
	int64_t		 new_top;
	char		*new_file;
	ckpt_then_fn	 then;
	struct proc	*proc;
};

struct restore {
	int64_t		 target_id;	/* the checkpoint to go back to */
	int64_t		 left_id;	/* the checkpoint of the state left */
	int		 was_running;
	char		*label;		/* "v1" or "undo" for messages */
	char		*new_file;
	char		*mem_dir;	/* the target's memory state, if it has one */
	int64_t		 parent_id;	/* the new top's parent: the target's layer, or
					 * the base a merge took it down to */
	/* The new top is made while the state left is checkpointed and the
	 * VM stops: both must be over before it is recorded. */
	int		 top_made;	/* its file is whole (merged if need be) */
	int		 vm_gone;	/* the state left is kept and the VM is down */
	int		 recorded;	/* the database has the new top */
	char		*top_failed;	/* why the new top could not be made */
};

struct fork_op {
	struct core	*core;
	char		*src;
	char		*new_name;
	core_done_fn	 fn;
	void		*arg;
};

static void
ckpt_free(struct ckpt *k)
{
	free(k->mem_dir);
	free(k->comment);
	free(k->new_file);
	free(k);
}

/* The snapshot failed or never happened: forget the pending top. */
static void
ckpt_fail(struct ckpt *k, int err, const char *cause)
{
	struct sprite *s = k->s;
	struct core *c = s->core;
	ckpt_then_fn then = k->then;

	store_layer_delete(c->store, k->new_top);
	unlink(k->new_file);
	if (k->mem_dir != NULL)
		rm_rf(k->mem_dir);
	core_event(c, s->name, "error", "checkpoint failed: %s", cause);
	ckpt_free(k);
	then(s, err, cause, NULL);
}

/* The new top's file exists: record the checkpoint in one transaction. */
static int
ckpt_commit(struct core *c, int64_t sprite_id, int64_t old_top, int64_t new_top,
    const char *comment, int is_auto, const char *mem_dir, struct checkpoint_row *ret)
{
	struct sprite_row row = { 0 };
	struct checkpoint_row cp = { 0 };
	int r;

	r = store_begin(c->store);
	if (r < 0)
		return r;
	r = store_sprite_get_id(c->store, sprite_id, &row);
	if (r == 0)
		r = store_layer_set_pending(c->store, new_top, 0);
	if (r == 0)
		r = store_layer_set_frozen(c->store, old_top);
	if (r == 0) {
		cp.sprite_id = sprite_id;
		cp.version = -1;
		cp.parent_id = row.head_checkpoint_id;
		cp.layer_id = old_top;
		cp.comment = (char *)comment;
		cp.is_auto = is_auto;
		cp.mem_dir = (char *)mem_dir;
		r = store_checkpoint_add(c->store, &cp);
	}
	if (r == 0)
		r = store_sprite_set_top_layer(c->store, sprite_id, new_top);
	if (r == 0)
		r = store_sprite_set_head(c->store, sprite_id, cp.id, row.undo_checkpoint_id);
	if (r == 0)
		r = store_commit(c->store);
	else
		store_rollback(c->store);
	sprite_row_done(&row);
	if (r == 0) {
		cp.comment = comment ? xstrdup(comment) : NULL;
		cp.mem_dir = mem_dir ? xstrdup(mem_dir) : NULL;
		*ret = cp;
	}
	return r;
}

static void
ckpt_made(struct ckpt *k)
{
	struct sprite *s = k->s;
	struct core *c = s->core;
	struct checkpoint_row cp = { 0 };
	ckpt_then_fn then = k->then;
	char *cause;
	int r;

	failpoint("checkpoint:snapshot-taken");
	r = ckpt_commit(c, s->id, k->old_top, k->new_top, k->comment, k->is_auto,
	    k->mem_dir, &cp);
	failpoint("checkpoint:committed");
	if (r < 0) {
		/* The VM may already write to the new top: it stays pending,
		 * and start-up finishes it (its file exists). */
		cause = xasprintf("cannot record the checkpoint: %s", store_errmsg(c->store));
		ckpt_free(k);
		then(s, r, cause, NULL);
		free(cause);
		return;
	}
	s->layer_id = k->new_top;
	core_event(c, s->name, "checkpoint", "v%d%s%s%s", cp.version,
	    cp.mem_dir ? " (with memory)" : "", cp.comment ? ": " : "",
	    cp.comment ? cp.comment : "");
	ckpt_free(k);
	then(s, 0, NULL, &cp);
	checkpoint_row_done(&cp);
}

static void
ckpt_snapshot_done(struct vm *vm, int err, const char *cause, void *arg)
{
	struct ckpt *k = arg;

	if (err < 0) {
		ckpt_fail(k, err, cause);
		return;
	}
	ckpt_made(k);
}

static void
ckpt_synced(struct agent *a, int err, uint64_t usec, void *arg)
{
	struct ckpt *k = arg;
	struct sprite *s = k->s;
	struct core *c = s->core;
	int r;

	/* Without the agent the snapshot is still crash-consistent; the VM
	 * going away is caught by the snapshot itself failing. */
	if (s->vm == NULL) {
		ckpt_fail(k, -ECONNRESET, "the sprite stopped during the checkpoint");
		return;
	}
	r = c->vmm->snapshot(s->vm, k->new_file, ckpt_snapshot_done, k);
	if (r < 0)
		ckpt_fail(k, r, "cannot ask QEMU for a snapshot");
}

static void
ckpt_mem_resumed(struct vm *vm, int err, const char *cause, void *arg)
{
	struct sprite *s = arg;

	if (err < 0) {
		/* A VM that cannot run again is no use paused. */
		core_event(s->core, s->name, "error", "%s", cause);
		s->core->vmm->kill(vm);
	}
}

/* The child of ckpt_mem_saved: @arg is the RAM file and its copy's name. */
static int
ckpt_copy_ram(const void *arg)
{
	char *const *paths = arg;

	return copy_sparse_file(paths[0], paths[1]);
}

/* The RAM is copied: the guest may run again, and the checkpoint is whole. */
static void
ckpt_mem_copied(struct proc *p, int status, void *arg)
{
	struct ckpt *k = arg;
	struct sprite *s = k->s;
	struct core *c = s->core;
	char *cause, *paths[4] = { NULL, NULL, NULL, NULL };

	k->proc = NULL;
	if (s->vm != NULL)
		c->vmm->resume(s->vm, ckpt_mem_resumed, s);
	cause = core_child_cause("copy the guest's memory", status);
	if (cause != NULL) {
		/* The disk was frozen already: keep the checkpoint, without memory. */
		core_event(c, s->name, "error", "%s", cause);
		free(cause);
		rm_rf(k->mem_dir);
		free(k->mem_dir);
		k->mem_dir = NULL;
	} else {
		paths[0] = xasprintf("%s/ram", k->mem_dir);
		paths[1] = xasprintf("%s/state", k->mem_dir);
		paths[2] = xstrdup(k->mem_dir);
		paths[3] = xasprintf("%s/mem", c->home);
	}
	ckpt_made(k);
	/*
	 * Answered before the copy is on disk, as a sleep is: writing its
	 * ~100 MB out would hold the answer up. And only now: once that
	 * writeback runs, ext4 makes any fsync (the checkpoint's own commit
	 * to the database among them) wait for it, which put 126 ms into a
	 * checkpoint that started the flush first.
	 */
	if (paths[0] != NULL)
		core_sync_later(c, paths, 4, paths[2]);
	for (int i = 0; i < 4; i++)
		free(paths[i]);
}

static void
ckpt_mem_saved(struct vm *vm, int err, const char *cause, void *arg)
{
	struct ckpt *k = arg;
	struct core *c = k->s->core;
	char *paths[2];
	int r;

	if (err < 0) {
		c->vmm->resume(vm, ckpt_mem_resumed, k->s);
		ckpt_fail(k, err, cause);
		return;
	}
	/* The vCPUs are stopped: copy the RAM file (sparse) before they run,
	 * in a child, by extents: ~25 ms for 96 MB of data here, where
	 * cp --sparse=always, which reads every byte, took ~45. */
	paths[0] = sprite_ram_file(c, k->s->id);
	paths[1] = xasprintf("%s/ram", k->mem_dir);
	r = proc_spawn_fn(c->loop, ckpt_copy_ram, paths, ckpt_mem_copied, k, &k->proc);
	free(paths[0]);
	free(paths[1]);
	if (r < 0)
		ckpt_mem_copied(NULL, W_EXITCODE(-r & 0xff, 0), k);
}

static void
ckpt_top_made(struct proc *p, int status, void *arg)
{
	struct ckpt *k = arg;
	char *cause;

	k->proc = NULL;
	cause = core_child_cause("make the new top layer", status);
	if (cause != NULL) {
		ckpt_fail(k, -EIO, cause);
		free(cause);
		return;
	}
	ckpt_made(k);
}

/*
 * Checkpoints sprite @s (its runtime record exists, its op is set by the
 * caller): live when its VM is up, else by writing the new top in a child
 * (core_layer_make). @then is called once, never from inside this call.
 */
static int
ckpt_start(struct sprite *s, const char *comment, int is_auto, int memory,
    ckpt_then_fn then, char **cause)
{
	struct core *c = s->core;
	struct sprite_row row = { 0 };
	struct layer_row top = { 0 }, layer = { 0 };
	struct ckpt *k;
	struct agent *a;
	int r;

	r = store_sprite_get_id(c->store, s->id, &row);
	if (r == 0) {
		merge_sync(c, row.top_layer_id);	/* a merge that ended unseen */
		r = store_layer_get(c->store, row.top_layer_id, &top);
	}
	if (r < 0) {
		*cause = xasprintf("cannot read sprite \"%s\": %s", s->name, store_errmsg(c->store));
		goto out;
	}
	k = xcalloc(1, sizeof *k);
	k->s = s;
	k->comment = comment && *comment ? xstrdup(comment) : NULL;
	k->is_auto = is_auto;
	k->then = then;
	k->old_top = top.id;
	k->new_file = core_layer_path(c);
	layer.parent_id = top.id;
	layer.image_id = top.image_id;
	layer.file = k->new_file;
	r = store_layer_add(c->store, &layer);
	if (r == 0)
		r = store_layer_set_pending(c->store, layer.id, 1);
	if (r < 0) {
		*cause = xasprintf("cannot record the new layer: %s", store_errmsg(c->store));
		if (layer.id != 0)
			store_layer_delete(c->store, layer.id);
		ckpt_free(k);
		goto out;
	}
	k->new_top = layer.id;
	failpoint("checkpoint:layer-recorded");
	a = s->vm != NULL && s->vm_ready ? c->vmm->agent(s->vm) : NULL;
	if (memory && a == NULL) {
		r = -EAGAIN;
	} else if (memory) {
		char hex[17], *state;

		random_hex(hex, sizeof hex);
		k->mem_dir = xasprintf("%s/mem/%s", c->home, hex);
		state = xasprintf("%s/state", k->mem_dir);
		r = mkdir_p(k->mem_dir, 0700);
		if (r == 0)
			r = c->vmm->save(s->vm, state, k->new_file, ckpt_mem_saved, k);
		free(state);
		if (r < 0)
			rm_rf(k->mem_dir);
	} else if (a != NULL) {
		r = agent_sync(a, ckpt_synced, k);
	} else if (s->vm != NULL) {
		r = -EBUSY;
	} else {
		r = core_layer_make(c, k->new_file, top.file, "qcow2", ckpt_top_made, k, &k->proc);
	}
	if (r == -EAGAIN) {
		*cause = xasprintf("sprite \"%s\" is not running: a memory checkpoint needs "
		    "it awake (sprig start %s)", s->name, s->name);
		store_layer_delete(c->store, k->new_top);
		ckpt_free(k);
	} else if (r < 0) {
		*cause = xasprintf("cannot checkpoint sprite \"%s\": %s", s->name, strerror(-r));
		store_layer_delete(c->store, k->new_top);
		ckpt_free(k);
	}
out:
	layer_row_done(&top);
	sprite_row_done(&row);
	return r;
}

/* core_checkpoint: the requester's checkpoint. */
struct ckpt_req {
	core_checkpoint_fn	 fn;
	void			*arg;
};

static void
checkpoint_then(struct sprite *s, int err, const char *cause, const struct checkpoint_row *cp)
{
	struct ckpt_req *q = s->tl;

	s->tl = NULL;
	s->done = NULL;
	/* The requester hears at once; a merge the new top needs keeps the
	 * sprite busy until it ends. */
	q->fn(q->arg, err, cause, cp ? cp->version : -1);
	free(q);
	if (err < 0 || !merge_sprite(s))
		sprite_op_end(s, err, cause);	/* frees @s if it has no VM */
}

int
core_checkpoint(struct core *c, const char *name, const char *comment,
    core_checkpoint_fn fn, void *arg, char **cause)
{
	return core_checkpoint_ex(c, name, comment, 0, fn, arg, cause);
}

int
core_checkpoint_ex(struct core *c, const char *name, const char *comment, unsigned flags,
    core_checkpoint_fn fn, void *arg, char **cause)
{
	struct sprite_row row = { 0 };
	struct sprite *s = NULL;
	struct ckpt_req *q;
	int r, fresh;

	r = sprite_for_op(c, name, &row, &s, cause);
	if (r < 0)
		return r;
	if (strcmp(row.state, SPRITE_BROKEN) == 0) {
		*cause = xasprintf("sprite \"%s\" is broken: %s", name,
		    row.last_error ? row.last_error : "see its events");
		sprite_row_done(&row);
		return -EIO;
	}
	fresh = s == NULL;
	if (fresh)
		s = sprite_new(c, name, row.id);
	s->layer_id = row.top_layer_id;
	sprite_row_done(&row);
	sprite_set_op(s, OP_CHECKPOINT);
	q = xcalloc(1, sizeof *q);
	q->fn = fn;
	q->arg = arg;
	s->tl = q;
	r = ckpt_start(s, comment, 0, (flags & CORE_CKPT_MEMORY) != 0, checkpoint_then, cause);
	if (r < 0) {
		free(q);
		s->tl = NULL;
		sprite_set_op(s, OP_NONE);
		if (fresh)
			sprite_free(s);
	}
	return r;
}

int
core_parse_version(const char *s)
{
	char *end;
	long v;

	if (s == NULL)
		return -EINVAL;
	if (*s == 'v' || *s == 'V')
		s++;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < 0 || v > 1000000000)
		return -EINVAL;
	return (int)v;
}

int
core_checkpoints(struct core *c, const char *name, struct checkpoint_row **ret,
    size_t *ret_n, char **cause)
{
	struct sprite_row row = { 0 };
	int r;

	r = core_get(c, name, &row, cause);
	if (r < 0)
		return r;
	r = store_checkpoint_list(c->store, row.id, ret, ret_n);
	if (r < 0)
		*cause = xasprintf("cannot list checkpoints: %s", store_errmsg(c->store));
	sprite_row_done(&row);
	return r;
}

int
timeline_find(struct core *c, const struct sprite_row *row, const char *label,
    struct checkpoint_row *ret, char **cause)
{
	int v, r;

	if (label != NULL && strcmp(label, "undo") == 0) {
		if (row->undo_checkpoint_id == 0) {
			*cause = xasprintf("sprite \"%s\" has no restore to undo", row->name);
			return -ENOENT;
		}
		r = store_checkpoint_get_id(c->store, row->undo_checkpoint_id, ret);
	} else {
		v = core_parse_version(label);
		if (v < 0) {
			*cause = xasprintf("\"%s\" is not a checkpoint id (they look like v3)",
			    label ? label : "");
			return -EINVAL;
		}
		r = store_checkpoint_get(c->store, row->id, v, ret);
	}
	if (r == -ENOENT)
		*cause = xasprintf("sprite \"%s\" has no checkpoint %s", row->name, label);
	else if (r < 0)
		*cause = xasprintf("cannot read checkpoints: %s", store_errmsg(c->store));
	return r;
}

/* Frees @rs, and the new top's file if it was never recorded. */
static void
restore_free(struct restore *rs)
{
	if (rs == NULL)
		return;
	if (rs->new_file != NULL && !rs->recorded)
		unlink(rs->new_file);
	free(rs->top_failed);
	free(rs->label);
	free(rs->new_file);
	free(rs->mem_dir);
	free(rs);
}

/* Frees the restore's state and ends the operation, except with @err 1:
 * then a boot is under way and the VM's ready ends it. */
static void
restore_end(struct sprite *s, int err, const char *cause)
{
	struct restore *rs = s->tl;

	s->tl = NULL;
	if (s->img_proc != NULL) {
		proc_kill(s->img_proc, SIGKILL);
		proc_forget(s->img_proc);
		s->img_proc = NULL;
	}
	restore_free(rs);
	if (err != 1)
		sprite_op_end(s, err, cause);
}

/* Boots the restored disk, cold or from @incoming; the VM's ready ends
 * the operation. */
static void
restore_boot(struct sprite *s, const char *incoming)
{
	struct core *c = s->core;
	struct sprite_row row = { 0 };
	char *cause = NULL;
	int r;

	r = store_sprite_get_id(c->store, s->id, &row);
	if (r == 0)
		r = sprite_boot(s, &row, incoming, &cause);
	else
		cause = xstrdup("the sprite vanished from the database");
	sprite_row_done(&row);
	if (r < 0) {
		store_sprite_set_state(c->store, s->id, SPRITE_STOPPED, cause);
		restore_end(s, r, cause);
		free(cause);
		return;
	}
	restore_end(s, 1, NULL);	/* frees the restore state, keeps the op */
}

/* Boots the restored disk with the target's memory: its RAM is being
 * copied (memcopy.c), or was. */
static void
restore_boot_memory(struct sprite *s)
{
	struct restore *rs = s->tl;
	char *state, *cause = NULL;

	if (memcopy_state(s, rs->mem_dir, &state, &cause) < 0) {
		store_sprite_set_state(s->core->store, s->id, SPRITE_STOPPED, cause);
		restore_end(s, -EIO, cause);
		free(cause);
		return;
	}
	restore_boot(s, state);
	free(state);
}

/* NULL when qemu-img, which was to @what, exited with @status 0; else why not. */
static char *
qemu_img_cause(const char *what, int status)
{
	return status == 0 ? NULL :
	    xasprintf("qemu-img could not %s (it %s)", what, proc_status_str(status));
}

/* A child making or merging the restored top ended: @cause (consumed) is
 * NULL when it did its part, else the restore is over. */
static int
restore_child_ok(struct sprite *s, char *cause)
{
	struct restore *rs = s->tl;

	s->img_proc = NULL;
	if (cause == NULL)
		return 0;
	if (rs->vm_gone) {
		restore_end(s, -EIO, cause);
		free(cause);
	} else {
		rs->top_failed = cause;	/* told once the VM is down */
	}
	return -EIO;
}

/* The new top's file is whole: record it, and go on from it. */
static void
restore_record(struct sprite *s)
{
	struct core *c = s->core;
	struct restore *rs = s->tl;
	struct checkpoint_row target = { 0 };
	struct layer_row layer = { 0 };
	int64_t old_top = s->layer_id;
	char *cause = NULL;
	int r;

	failpoint("restore:layer-made");
	r = store_checkpoint_get_id(c->store, rs->target_id, &target);
	if (r == 0)
		r = store_layer_get(c->store, target.layer_id, &layer);
	if (r == 0)
		r = store_begin(c->store);
	if (r == 0) {
		int64_t image_id = layer.image_id;

		layer_row_done(&layer);
		memset(&layer, 0, sizeof layer);
		layer.parent_id = rs->parent_id;
		layer.image_id = image_id;
		layer.file = rs->new_file;
		r = store_layer_add(c->store, &layer);
		if (r == 0)
			r = store_sprite_set_top_layer(c->store, s->id, layer.id);
		if (r == 0)
			r = store_sprite_set_head(c->store, s->id, target.id, rs->left_id);
		if (r == 0)
			r = store_commit(c->store);
		else
			store_rollback(c->store);
		layer.file = NULL;
	}
	layer_row_done(&layer);
	if (r < 0) {
		cause = xasprintf("cannot record the restore: %s", store_errmsg(c->store));
		checkpoint_row_done(&target);
		restore_end(s, r, cause);
		free(cause);
		return;
	}
	s->layer_id = layer.id;
	rs->recorded = 1;
	failpoint("restore:committed");
	core_layer_release(c, old_top);
	core_event(c, s->name, "restore", "restored to v%d%s", target.version,
	    target.mem_dir ? " with its memory" : "");
	if (target.mem_dir != NULL) {
		/* Its processes come back. */
		checkpoint_row_done(&target);
		restore_boot_memory(s);
		return;
	}
	checkpoint_row_done(&target);
	if (!rs->was_running) {
		restore_end(s, 0, NULL);
		return;
	}
	restore_boot(s, NULL);
}

/* The new top is whole: recorded once the VM is down too. */
static void
restore_top_made(struct sprite *s)
{
	struct restore *rs = s->tl;

	rs->top_made = 1;
	if (rs->vm_gone)
		restore_record(s);
}

static void
restore_layer_merged(struct proc *p, int status, void *arg)
{
	if (restore_child_ok(arg, qemu_img_cause("merge the restored top's layers", status)) == 0)
		restore_top_made(arg);
}

/* The new top is made over the target's layer: merged down first if that
 * chain is too deep (merge.c), then recorded. */
static void
restore_layer_made(struct proc *p, int status, void *arg)
{
	struct sprite *s = arg;
	struct restore *rs = s->tl;

	if (restore_child_ok(s, core_child_cause("make the restored top", status)) < 0)
		return;
	if (!merge_new_top(s->core, rs->new_file, rs->parent_id, restore_layer_merged, s,
	    &s->img_proc, &rs->parent_id))
		restore_top_made(s);
}

/* The VM is down (or never was): build the new top over the target. */
static void
restore_stopped(struct sprite *s)
{
	struct core *c = s->core;
	struct restore *rs = s->tl;
	char *cause;
	int r;

	store_sprite_set_process(c->store, s->id, 0, 0, NULL);
	sprite_forget_memory(c, s->id);	/* a sleeping sprite's memory is not the restored disk's */
	failpoint("restore:vm-stopped");
	rs->vm_gone = 1;
	if (rs->top_failed != NULL) {
		cause = rs->top_failed;
		rs->top_failed = NULL;
		restore_end(s, -EIO, cause);
		free(cause);
		return;
	}
	if (rs->mem_dir != NULL) {
		/* The RAM is copied while QEMU starts. */
		r = memcopy_start(s, rs->mem_dir);
		if (r < 0) {
			cause = xasprintf("cannot copy the checkpoint's memory: %s",
			    strerror(-r));
			restore_end(s, r, cause);
			free(cause);
			return;
		}
	}
	if (rs->top_made)
		restore_record(s);
}

/* Makes the new top over the target's layer, beside the checkpoint of the
 * state being left: it only reads the target's frozen layers. */
static int
restore_make_top(struct sprite *s, const struct checkpoint_row *target, char **cause)
{
	struct core *c = s->core;
	struct restore *rs = s->tl;
	struct layer_row layer = { 0 };
	int r;

	r = store_layer_get(c->store, target->layer_id, &layer);
	if (r < 0) {
		*cause = xstrdup("the checkpoint's layer is missing from the database");
		return r;
	}
	rs->new_file = core_layer_path(c);
	rs->parent_id = layer.id;
	rs->mem_dir = target->mem_dir != NULL ? xstrdup(target->mem_dir) : NULL;
	r = core_layer_make(c, rs->new_file, layer.file, "qcow2", restore_layer_made, s,
	    &s->img_proc);
	if (r < 0)
		*cause = xasprintf("cannot make the restored top over %s: %s", layer.file,
		    strerror(-r));
	layer_row_done(&layer);
	return r;
}

static void
restore_left(struct sprite *s, int err, const char *cause, const struct checkpoint_row *cp)
{
	struct core *c = s->core;
	struct restore *rs = s->tl;

	if (err < 0) {
		char *why = xasprintf("cannot checkpoint the state being left: %s", cause);

		restore_end(s, err, why);
		free(why);
		return;
	}
	rs->left_id = cp->id;
	failpoint("restore:left-checkpointed");
	if (rs->top_failed != NULL) {
		/* Nothing to go on to: the sprite keeps running as it was. */
		char *why = rs->top_failed;

		rs->top_failed = NULL;
		restore_end(s, -EIO, why);
		free(why);
		return;
	}
	if (s->vm != NULL) {
		/* Everything worth keeping is in the checkpoint just made. */
		s->on_exit = restore_stopped;
		c->vmm->kill(s->vm);
		return;
	}
	restore_stopped(s);
}

int
core_restore(struct core *c, const char *name, const char *version,
    core_done_fn fn, void *arg, char **cause)
{
	struct sprite_row row = { 0 };
	struct checkpoint_row target = { 0 };
	struct sprite *s = NULL;
	struct restore *rs;
	char *comment;
	int r, fresh;

	r = sprite_for_op(c, name, &row, &s, cause);
	if (r < 0)
		return r;
	r = timeline_find(c, &row, version, &target, cause);
	if (r < 0) {
		sprite_row_done(&row);
		return r;
	}
	fresh = s == NULL;
	if (fresh)
		s = sprite_new(c, name, row.id);
	s->layer_id = row.top_layer_id;
	sprite_set_op(s, OP_RESTORE);
	s->done = fn;
	s->done_arg = arg;
	rs = xcalloc(1, sizeof *rs);
	rs->target_id = target.id;
	rs->was_running = s->vm != NULL;
	rs->label = xasprintf("v%d", target.version);
	s->tl = rs;
	comment = xasprintf("before restore to v%d", target.version);
	r = ckpt_start(s, comment, 1, 0, restore_left, cause);
	free(comment);
	if (r == 0 && restore_make_top(s, &target, cause) < 0) {
		/* The checkpoint under way ends the restore, with this cause. */
		rs->top_failed = xstrdup(*cause);
		free(*cause);
		*cause = NULL;
	}
	checkpoint_row_done(&target);
	sprite_row_done(&row);
	if (r < 0) {
		s->tl = NULL;
		s->done = NULL;
		restore_free(rs);
		sprite_set_op(s, OP_NONE);
		if (fresh)
			sprite_free(s);
	}
	return r;
}

/* A child making or merging the fork's disk ended: @cause (consumed) is
 * NULL when it did its part, else the create is undone. */
static int
fork_child_ok(struct sprite *n, char *cause)
{
	n->img_proc = NULL;
	if (cause == NULL)
		return 0;
	sprite_create_fail(n, -EIO, cause);
	free(cause);
	return -EIO;
}

/* Boots the new sprite: cold, or resuming its memory state (@incoming). */
static void
fork_start(struct sprite *n, const char *incoming)
{
	struct core *c = n->core;
	struct sprite_row row = { 0 };
	char *cause = NULL;
	int r;

	r = store_sprite_get_id(c->store, n->id, &row);
	if (r == 0)
		r = sprite_boot(n, &row, incoming, &cause);
	else
		cause = xstrdup("the new sprite vanished from the database");
	sprite_row_done(&row);
	if (r < 0) {
		sprite_create_fail(n, r, cause);
		free(cause);
	}
}

/* Fork: the new sprite's disk is whole (durable: its writer synced the
 * file and layers/, and a merge rebases it in place): boot it, or first
 * copy the memory of the checkpoint it starts from, so its processes carry
 * on in it. */
static void
fork_boot(struct sprite *n)
{
	char *state, *cause = NULL;

	if (n->fork_mem == NULL) {
		fork_start(n, NULL);
		return;
	}
	/* Its RAM is being copied (memcopy.c), or was. */
	if (memcopy_state(n, n->fork_mem, &state, &cause) < 0) {
		sprite_create_fail(n, -EIO, cause);
		free(cause);
		return;
	}
	fork_start(n, state);
	free(state);
}

static void
fork_layer_merged(struct proc *p, int status, void *arg)
{
	struct sprite *n = arg;

	if (fork_child_ok(n, qemu_img_cause("merge the new disk's layers", status)) < 0)
		return;
	/* The database follows the header: the top's parent is the base now.
	 * A crash before this undoes the create ("creating"). */
	merge_sync(n->core, n->layer_id);
	fork_boot(n);
}

/* The new top is made over the starting layer: merged down first if
 * that chain is too deep (merge.c), then booted. */
static void
fork_layer_made(struct proc *p, int status, void *arg)
{
	struct sprite *n = arg;
	struct layer_row top = { 0 };
	int64_t base;
	int merging;

	failpoint("fork:layer-made");
	if (fork_child_ok(n, core_child_cause("make the fork's disk", status)) < 0)
		return;
	merging = store_layer_get(n->core->store, n->layer_id, &top) == 0 &&
	    merge_new_top(n->core, n->layer_file, top.parent_id, fork_layer_merged, n,
	    &n->img_proc, &base);
	layer_row_done(&top);
	if (!merging)
		fork_boot(n);
}

/*
 * Makes sprite @name whose disk is a new empty top over frozen layer
 * @base_id, and boots it. The row and layer are recorded first, as
 * "creating", so start-up undoes a create cut off by a crash; the file
 * follows. @fn is called once unless this returns an error.
 */
int
sprite_create_over(struct core *c, const char *name, int64_t base_id, const char *origin,
    const char *mem_dir, int mem_mb, int cpus, core_done_fn fn, void *arg, char **cause)
{
	struct layer_row base = { 0 }, top = { 0 };
	struct sprite_row row = { 0 };
	struct sprite *n;
	int r;

	r = store_layer_get(c->store, base_id, &base);
	if (r < 0) {
		*cause = xasprintf("cannot read the starting layer: %s", store_errmsg(c->store));
		return r;
	}
	n = sprite_new(c, name, 0);
	sprite_set_op(n, OP_CREATE);
	n->origin = xstrdup(origin);
	n->fork_mem = mem_dir != NULL ? xstrdup(mem_dir) : NULL;
	n->layer_file = core_layer_path(c);
	n->image_id = base.image_id;
	r = store_begin(c->store);
	if (r == 0) {
		top.parent_id = base.id;
		top.image_id = base.image_id;
		top.file = n->layer_file;
		r = store_layer_add(c->store, &top);
	}
	if (r == 0) {
		row.name = n->name;
		row.state = SPRITE_CREATING;
		row.image_id = base.image_id;
		row.top_layer_id = top.id;
		row.origin = n->origin;
		row.mem_mb = mem_mb > 0 ? mem_mb : c->mem_mb;
		row.cpus = cpus > 0 ? cpus : c->cpus;
		r = store_sprite_add(c->store, &row);
	}
	if (r == 0)
		r = store_commit(c->store);
	else
		store_rollback(c->store);
	if (r < 0) {
		*cause = r == -EEXIST ? xasprintf("sprite \"%s\" already exists", n->name) :
		    xasprintf("cannot record sprite \"%s\": %s", n->name, store_errmsg(c->store));
		free(n->layer_file);
		n->layer_file = NULL;
		sprite_op_end(n, r, *cause);
		layer_row_done(&base);
		return r;
	}
	n->id = row.id;
	n->layer_id = top.id;
	failpoint("fork:recorded");
	/* The RAM is copied while the disk is made and QEMU starts. */
	if (n->fork_mem != NULL && (r = memcopy_start(n, n->fork_mem)) < 0) {
		layer_row_done(&base);
		*cause = xasprintf("cannot copy the checkpoint's memory: %s", strerror(-r));
		sprite_create_fail(n, r, *cause);
		return r;
	}
	r = core_layer_make(c, n->layer_file, base.file, "qcow2", fork_layer_made, n,
	    &n->img_proc);
	if (r < 0)
		*cause = xasprintf("cannot make the new disk over %s: %s", base.file,
		    strerror(-r));
	layer_row_done(&base);
	if (r < 0) {
		sprite_create_fail(n, r, *cause);
		return r;
	}
	n->done = fn;
	n->done_arg = arg;
	return 0;
}

/* Makes sprite @f->new_name over checkpoint @cp of @f->src. */
static int
fork_from(struct core *c, struct fork_op *f, const struct checkpoint_row *cp, char **cause)
{
	struct sprite_row src = { 0 };
	char *origin = xasprintf("%s@v%d", f->src, cp->version);
	int r;

	store_sprite_get_id(c->store, cp->sprite_id, &src);
	r = sprite_create_over(c, f->new_name, cp->layer_id, origin, cp->mem_dir, src.mem_mb,
	    src.cpus, f->fn, f->arg, cause);
	sprite_row_done(&src);
	free(origin);
	return r;
}

static void
fork_op_free(struct fork_op *f)
{
	free(f->src);
	free(f->new_name);
	free(f);
}

/* The source was checkpointed for the fork: go on with the new sprite. */
static void
fork_checkpointed(struct sprite *s, int err, const char *cause, const struct checkpoint_row *cp)
{
	struct fork_op *f = s->tl;
	struct core *c = s->core;
	char *why = NULL;
	int r = err;

	s->tl = NULL;
	s->done = NULL;
	if (err == 0)
		r = fork_from(c, f, cp, &why);
	if (r < 0 && err < 0)
		f->fn(f->arg, err, cause);
	else if (r < 0)
		f->fn(f->arg, r, why);
	free(why);
	fork_op_free(f);
	/* The source is idle again, once a merge its new top needs is done. */
	if (err < 0 || !merge_sprite(s))
		sprite_op_end(s, 0, NULL);
}

int
core_fork(struct core *c, const char *name, const char *version,
    const char *new_name, core_done_fn fn, void *arg, char **cause)
{
	struct sprite_row row = { 0 };
	struct checkpoint_row cp = { 0 };
	struct sprite *s = NULL;
	struct fork_op *f;
	int r, fresh;

	r = sprite_name_free(c, new_name, cause);
	if (r < 0)
		return r;
	r = sprite_for_op(c, name, &row, &s, cause);
	if (r < 0)
		return r;
	f = xcalloc(1, sizeof *f);
	f->core = c;
	f->src = xstrdup(name);
	f->new_name = xstrdup(new_name);
	f->fn = fn;
	f->arg = arg;
	if (version != NULL) {
		r = timeline_find(c, &row, version, &cp, cause);
		if (r == 0)
			r = fork_from(c, f, &cp, cause);
		checkpoint_row_done(&cp);
		sprite_row_done(&row);
		fork_op_free(f);
		return r;
	}
	/* From the sprite as it is now: checkpoint it first. */
	fresh = s == NULL;
	if (fresh)
		s = sprite_new(c, name, row.id);
	s->layer_id = row.top_layer_id;
	sprite_row_done(&row);
	sprite_set_op(s, OP_FORK);
	s->tl = f;
	{
		char *comment = xasprintf("fork to %s", new_name);

		r = ckpt_start(s, comment, 0, 0, fork_checkpointed, cause);
		free(comment);
	}
	if (r < 0) {
		s->tl = NULL;
		sprite_set_op(s, OP_NONE);
		if (fresh)
			sprite_free(s);
		fork_op_free(f);
	}
	return r;
}

/*
 * Whether a checkpoint's pending top @file was (maybe) taken up by the VM
 * of @owner, whose top it was to go over. A VM that runs and does not have
 * the file open never moved to it (QEMU made the file and then failed, or
 * was never asked): its top is still the old one, which must not be frozen
 * under it. With no VM running, the file (empty over the old top) holds
 * the same disk and is kept as the checkpoint the crash cut off. When in
 * doubt, as before: the file exists, so it is kept.
 */
static int
recover_top_taken(const struct sprite_row *owner, const char *file)
{
	uint64_t start;

	if (access(file, F_OK) != 0)
		return 0;
	if (owner->pid <= 0 || proc_start_time((pid_t)owner->pid, &start) < 0 ||
	    start != owner->pid_start)
		return 1;
	return proc_has_open((pid_t)owner->pid, file) != 0;
}

/*
 * Start-up: a layer still pending is a checkpoint cut off by a crash. If
 * the VM moved to its file (recover_top_taken), finish the checkpoint; if
 * not, nothing happened: forget the layer.
 */
void
timeline_recover(struct core *c)
{
	struct layer_row *pending = NULL;
	struct sprite_row *rows = NULL;
	struct checkpoint_row cp = { 0 };
	size_t np = 0, ns = 0;

	if (store_layer_list_pending(c->store, &pending, &np) < 0 || np == 0)
		goto out;
	if (store_sprite_list(c->store, &rows, &ns) < 0)
		goto out;
	for (size_t i = 0; i < np; i++) {
		struct sprite_row *owner = NULL;

		for (size_t j = 0; j < ns && owner == NULL; j++) {
			if (rows[j].top_layer_id == pending[i].parent_id)
				owner = &rows[j];
		}
		if (owner != NULL && recover_top_taken(owner, pending[i].file) &&
		    ckpt_commit(c, owner->id, pending[i].parent_id, pending[i].id,
		    "recovered after a crash", 1, NULL, &cp) == 0) {
			core_event(c, owner->name, "checkpoint",
			    "v%d finished after a crash", cp.version);
			checkpoint_row_done(&cp);
			continue;
		}
		unlink(pending[i].file);
		store_layer_delete(c->store, pending[i].id);
	}
out:
	layer_rows_free(pending, np);
	sprite_rows_free(rows, ns);
	merge_recover(c);
}
