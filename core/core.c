/*
 * core: the sprite lifecycle state machine.
 *
 * The database holds each sprite's lasting state; a struct sprite exists
 * only while a sprite has a VM or an operation under way. Every step that
 * must survive a crash is done in an order that start-up can finish or undo:
 * a new sprite's row is inserted as "creating" before anything else, its
 * layer file is made before the row that references it, and the row becomes
 * "running" only once the VM answered. Start-up deletes "creating" rows (and
 * kills their QEMU), marks as stopped what died while no daemon watched, and
 * deletes layer files no row references.
 */
#include "core.h"
#include "core_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ckptdisks.h"
#include "image.h"
#include "memcopy.h"
#include "names.h"
#include "common/failpoint.h"
#include "common/loop.h"
#include "common/proc.h"
#include "common/trace.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "vmm/agent.h"
#include "vmm/qcow2.h"
#include "vmm/vmm.h"

/* Less room than this where a RAM file is counts as a full disk. */
#define SPRITE_DISK_FULL	(1 << 20)

const char *const op_names[] = {
	"idle", "being created", "starting", "being reconnected", "stopping",
	"being destroyed", "being checkpointed", "being restored", "being forked",
	"going to sleep", "waking up",
};

static void
deferred_fire(struct loop *l, uint64_t id, void *arg)
{
	struct deferred *d = arg, **pp;

	for (pp = &d->core->deferred; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	}
	d->fn(d->arg, d->err, d->cause);
	free(d->cause);
	free(d);
}

/* Calls @fn on the next loop turn; takes @cause. */
void
core_defer(struct core *c, core_done_fn fn, void *arg, int err, char *cause)
{
	struct deferred *d = xcalloc(1, sizeof *d);

	d->core = c;
	d->fn = fn;
	d->arg = arg;
	d->err = err;
	d->cause = cause;
	d->next = c->deferred;
	c->deferred = d;
	d->timer = loop_add_timer(c->loop, 0, deferred_fire, d);
}

struct sprite *
sprite_find(struct core *c, const char *name)
{
	struct sprite *s;

	for (s = c->sprites; s != NULL; s = s->next) {
		if (strcmp(s->name, name) == 0)
			return s;
	}
	return NULL;
}

struct sprite *
sprite_new(struct core *c, const char *name, int64_t id)
{
	struct sprite *s = xcalloc(1, sizeof *s);

	s->core = c;
	s->name = xstrdup(name);
	s->id = id;
	s->cpu_pct = -1;
	s->next = c->sprites;
	c->sprites = s;
	return s;
}

void
sprite_free(struct sprite *s)
{
	struct sprite **pp;

	for (pp = &s->core->sprites; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	idle_disarm(s);
	ckptdisks_free(s);
	free(s->name);
	free(s->layer_file);
	free(s->origin);
	free(s->fork_mem);
	free(s);
}

char *
sprite_run_dir(struct core *c, const char *name)
{
	return xasprintf("%s/run/%s", c->home, name);
}

/* A watcher may unwatch itself from its callback: step past it first. */
void
core_notify(struct core *c, const struct event_row *ev)
{
	struct watcher *w, *next;

	for (w = c->watchers; w != NULL; w = next) {
		next = w->next;
		w->fn(w->arg, ev);
	}
}

void
core_event(struct core *c, const char *sprite, const char *kind, const char *fmt, ...)
{
	struct event_row ev;
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	ev.at = now_unix_ms();
	ev.sprite = (char *)sprite;
	ev.kind = (char *)kind;
	ev.message = msg ? msg : (char *)kind;
	if (store_event_add(c->store, sprite, kind, ev.message, &ev.id) < 0)
		ev.id = 0;	/* not in the log, but watchers still hear it */
	core_notify(c, &ev);
	free(msg);
}

void
sprite_set_op(struct sprite *s, enum sprite_op op)
{
	struct event_row ev = { 0 };

	if (s->op == op)
		return;
	trace("%s: %s", s->name, op == OP_NONE ? "operation over" : op_names[op]);
	s->op = op;
	ev.at = now_unix_ms();
	ev.sprite = s->name;
	ev.kind = (char *)"op";
	ev.message = (char *)op_names[op];
	core_notify(s->core, &ev);
}

uint64_t
core_watch(struct core *c, core_watch_fn fn, void *arg)
{
	struct watcher *w = xcalloc(1, sizeof *w);

	w->id = ++c->next_watch_id;
	w->fn = fn;
	w->arg = arg;
	w->next = c->watchers;
	c->watchers = w;
	usage_watch(c);
	return w->id;
}

void
core_unwatch(struct core *c, uint64_t id)
{
	struct watcher **pp, *w;

	for (pp = &c->watchers; (w = *pp) != NULL; pp = &w->next) {
		if (w->id == id) {
			*pp = w->next;
			free(w);
			return;
		}
	}
}

int
core_events(struct core *c, int64_t after_id, size_t limit, struct event_row **ret,
    size_t *ret_n, char **cause)
{
	int r;

	r = store_event_list_after(c->store, after_id, limit, ret, ret_n);
	if (r < 0)
		*cause = xasprintf("cannot read the event log: %s", store_errmsg(c->store));
	return r;
}

int
core_events_newest(struct core *c, const char *sprite, size_t limit,
    struct event_row **ret, size_t *ret_n, char **cause)
{
	int r;

	r = store_event_list(c->store, sprite, limit, ret, ret_n);
	if (r < 0)
		*cause = xasprintf("cannot read the event log: %s", store_errmsg(c->store));
	return r;
}

/*
 * Ends the sprite's operation: the requester hears the result, then those
 * waiting for the sprite to be idle. Frees the runtime record if nothing
 * keeps it (no VM).
 */
void
sprite_op_end(struct sprite *s, int err, const char *cause)
{
	core_done_fn fn = s->done;
	void *arg = s->done_arg;
	struct waiter *w;

	memcopy_cancel(s);
	sprite_set_op(s, OP_NONE);
	s->done = NULL;
	s->done_arg = NULL;
	if (fn != NULL)
		fn(arg, err, cause);
	while ((w = s->idle_waiters) != NULL) {
		s->idle_waiters = w->next;
		w->fn(w->arg, 0, NULL);
		free(w);
	}
	if (s->vm == NULL && s->img_proc == NULL) {
		sprite_free(s);
		return;
	}
	ckptdisks_schedule(s);	/* the timeline may have moved */
	idle_arm(s);
}

char *
core_layer_path(struct core *c)
{
	char hex[17];

	random_hex(hex, sizeof hex);
	return xasprintf("%s/%s.qcow2", c->layers_dir, hex);
}

/* The child of core_layer_make: exits with the errno it met. */
static int
layer_write(const void *q)
{
	return qcow2_new_write(q);
}

int
core_layer_make(struct core *c, const char *file, const char *backing, const char *fmt,
    proc_exit_fn fn, void *arg, struct proc **ret)
{
	struct qcow2_new *q = NULL;
	int r;

	r = qcow2_new_prepare(file, backing, fmt, &q);
	if (r == 0)
		r = proc_spawn_fn(c->loop, layer_write, q, fn, arg, ret);
	qcow2_new_free(q);
	return r;
}

char *
core_child_cause(const char *what, int status)
{
	if (status == 0)
		return NULL;
	if (WIFEXITED(status))
		return xasprintf("cannot %s: %s", what, strerror(WEXITSTATUS(status)));
	return xasprintf("cannot %s (the writer %s)", what, proc_status_str(status));
}

static void
core_synced(struct proc *p, int status, void *arg)
{
}

void
core_sync_later(struct core *c, char *const *paths, size_t n, const char *what)
{
	char **argv = xcalloc(n + 2, sizeof *argv);
	struct proc_spec spec = { 0 };
	struct proc *p;

	argv[0] = "sync";
	memcpy(argv + 1, paths, n * sizeof *paths);
	spec.argv = argv;
	if (proc_spawn(c->loop, &spec, core_synced, NULL, &p) < 0)
		core_event(c, NULL, "error", "cannot flush %s to disk", what);
	free(argv);
}

void
core_layer_release(struct core *c, int64_t id)
{
	struct layer_row layer = { 0 };
	int refs;

	while (id != 0 && store_layer_refs(c->store, id, &refs) == 0 && refs == 0 &&
	    store_layer_get(c->store, id, &layer) == 0) {
		if (store_layer_delete(c->store, id) == 0)
			unlink(layer.file);
		id = layer.parent_id;
		layer_row_done(&layer);
	}
}

/*
 * Removes every trace of a sprite: its VM's files, its rows (its
 * checkpoints go with it) and the layers nothing else holds now. Layers a
 * fork or a template still builds on stay.
 */
static void
sprite_remove(struct core *c, int64_t id, const char *name, int64_t layer_id,
    const char *layer_file)
{
	struct checkpoint_row *cps = NULL;
	char *run = sprite_run_dir(c, name);
	size_t n = 0;

	rm_rf(run);
	free(run);
	if (id != 0) {
		char *ram = sprite_ram_file(c, id), *state = sprite_sleep_state(c, id);

		unlink(ram);
		unlink(state);
		free(ram);
		free(state);
		store_checkpoint_list(c->store, id, &cps, &n);
		store_sprite_delete(c->store, id);
		failpoint("destroy:row-deleted");
	}
	if (layer_id != 0)
		core_layer_release(c, layer_id);
	else if (layer_file != NULL)
		unlink(layer_file);	/* made, never recorded */
	for (size_t i = 0; i < n; i++) {
		core_layer_release(c, cps[i].layer_id);
		if (cps[i].mem_dir != NULL)
			rm_rf(cps[i].mem_dir);
	}
	checkpoint_rows_free(cps, n);
}

static int
sprite_vm_config(struct core *c, const struct sprite_row *row, struct vm_config *cfg,
    struct image_files *files, char **run_dir, char **cause)
{
	struct layer_row layer = { 0 };
	int r;

	r = images_files(c->images, row->image_id, files);
	if (r < 0) {
		*cause = xasprintf("sprite \"%s\": its image is missing from the database",
		    row->name);
		return r;
	}
	r = store_layer_get(c->store, row->top_layer_id, &layer);
	if (r < 0) {
		image_files_done(files);
		*cause = xasprintf("sprite \"%s\": its disk layer is missing from the database",
		    row->name);
		return r;
	}
	if (access(layer.file, R_OK | W_OK) < 0) {
		r = -errno;
		*cause = xasprintf("sprite \"%s\": its disk %s cannot be opened: %s",
		    row->name, layer.file, strerror(errno));
		layer_row_done(&layer);
		image_files_done(files);
		return r;
	}
	*run_dir = sprite_run_dir(c, row->name);
	memset(cfg, 0, sizeof *cfg);
	cfg->name = row->name;
	cfg->run_dir = *run_dir;
	cfg->kernel = files->kernel;
	cfg->initrd = files->initrd;
	cfg->disk = layer.file;	/* handed over below */
	layer.file = NULL;
	cfg->mem_mb = row->mem_mb;
	cfg->cpus = row->cpus;
	cfg->boot_timeout_ms = c->boot_timeout_ms;
	cfg->ram_file = sprite_ram_file(c, row->id);	/* freed by the caller */
	layer_row_done(&layer);
	return 0;
}

/* Boots the VM of a sprite whose row and layer exist. */
int
sprite_boot(struct sprite *s, const struct sprite_row *row, const char *incoming,
    char **cause)
{
	struct core *c = s->core;
	struct vm_config cfg;
	struct image_files files = { 0 };
	char *run_dir = NULL;
	int r;

	r = merge_check_disk(c, row, cause);	/* a damaged disk: broken, says why */
	if (r == 0)
		r = sprite_vm_config(c, row, &cfg, &files, &run_dir, cause);
	if (r < 0)
		return r;
	rm_rf(run_dir);	/* stale sockets of an earlier life */
	s->mem_mb = row->mem_mb;
	caps_make_room(c, s, row->mem_mb);
	cfg.incoming = incoming;
	cfg.load_later = memcopy_running(s);
	if (incoming == NULL)
		unlink(cfg.ram_file);	/* a cold boot starts from empty memory */
	r = c->vmm->start(c->loop, &cfg, &sprite_vm_cb, s, &s->vm, cause);
	if (r == 0)
		store_sprite_set_process(c->store, s->id, c->vmm->pid(s->vm),
		    c->vmm->pid_start(s->vm), run_dir);
	free((char *)cfg.disk);
	free((char *)cfg.ram_file);
	free(run_dir);
	image_files_done(&files);
	return r;
}

static void
sprite_unlink_later(struct loop *l, uint64_t id, void *arg)
{
	unlink(arg);
	free(arg);
}

/*
 * Puts the RAM file of sprite @id out of the way at once and deletes it on
 * the loop's next turn: unlinking ~100 MB of extents took 5-6 ms, which a
 * restore from memory spent before its QEMU could start. The name is under
 * mem/, where start-up collects what no checkpoint uses, should the daemon
 * die first.
 */
void
sprite_discard_ram(struct core *c, int64_t id)
{
	char hex[17], *ram = sprite_ram_file(c, id), *trash;

	random_hex(hex, sizeof hex);
	trash = xasprintf("%s/mem/old-ram-%s", c->home, hex);
	if (rename(ram, trash) == 0) {
		loop_add_timer(c->loop, 0, sprite_unlink_later, trash);
		trash = NULL;
	} else if (errno != ENOENT) {
		unlink(ram);
	}
	free(trash);
	free(ram);
}

void
sprite_forget_memory(struct core *c, int64_t id)
{
	char *state = sprite_sleep_state(c, id);

	sprite_discard_ram(c, id);
	unlink(state);
	free(state);
	store_sprite_set_state(c->store, id, SPRITE_STOPPED, NULL);
}

char *
sprite_ram_file(struct core *c, int64_t id)
{
	return xasprintf("%s/ram/%lld.ram", c->home, (long long)id);
}

void
sprite_create_fail(struct sprite *s, int err, const char *cause)
{
	struct core *c = s->core;

	sprite_remove(c, s->id, s->name, s->layer_id, s->layer_file);
	core_event(c, s->name, "error", "create failed: %s", cause);
	sprite_op_end(s, err, cause);
}

/*
 * Tells the guest who it is, after every boot and resume: a fork resumed
 * from another sprite's memory would otherwise keep that sprite's hostname
 * and machine-id, and two resumes of one saved memory would draw the same
 * random numbers. The machine-id is derived from the sprite's row, so it
 * stays the same across the sprite's own boots and differs for each fork.
 */
static void
sprite_identity(struct sprite *s)
{
	struct core *c = s->core;
	struct agent *a = c->vmm->agent(s->vm);
	struct sprite_row row;
	char *seed, hex[65];

	if (a == NULL || store_sprite_get_id(c->store, s->id, &row) < 0)
		return;
	seed = xasprintf("sprig machine-id %lld %lld", (long long)row.id,
	    (long long)row.created_at);
	if (sha256_hex(seed, strlen(seed), hex) == 0) {
		hex[32] = '\0';
		if (agent_identity(a, row.name, hex) < 0)
			core_event(c, row.name, "error", "cannot give the guest its identity");
	}
	free(seed);
	sprite_row_done(&row);
}

static void
sprite_vm_ready(struct vm *vm, int err, const char *cause, void *arg)
{
	struct sprite *s = arg;
	struct core *c = s->core;

	if (err < 0) {
		/* The VM failed and its process is gone. */
		c->vmm->release(vm);
		s->vm = NULL;
		store_sprite_set_process(c->store, s->id, 0, 0, NULL);
		if (s->op == OP_CREATE) {
			sprite_create_fail(s, err, cause);
			return;
		}
		if (s->op == OP_WAKE && err == -ECONNABORTED) {
			/* QEMU was killed, not refused the state: keep it
			 * asleep with its state for the next wake. */
			char *why = xasprintf("the wake failed: %s; the sprite is still asleep "
			    "with its memory kept: wake it again", cause);

			core_event(c, s->name, "error", "%s", why);
			sprite_op_end(s, -EIO, why);
			free(why);
			return;
		}
		if (s->op == OP_WAKE && sleep_wake_failed(s, cause) == 0)
			return;
		store_sprite_set_state(c->store, s->id, SPRITE_STOPPED, cause);
		core_event(c, s->name, "error", "%s failed: %s", op_names[s->op], cause);
		sprite_op_end(s, err, cause);
		return;
	}
	s->vm_ready = 1;
	sprite_identity(s);
	store_sprite_set_state(c->store, s->id, SPRITE_RUNNING, NULL);
	if (s->op == OP_CREATE || s->op == OP_START)
		core_event(c, s->name, s->op == OP_CREATE ? "create" : "start",
		    "running (%s)", c->vmm->accel());
	else if (s->op == OP_WAKE)
		core_event(c, s->name, "wake", "awake");
	if (s->op == OP_WAKE) {
		/* Running on: the saved devices are stale from now on. */
		char *state = sprite_sleep_state(c, s->id);

		unlink(state);
		free(state);
	}
	sprite_op_end(s, 0, NULL);
}

/*
 * Why @s's VM died, for its error and event log: @why, and that the disk
 * its RAM file is on is full when it is. A guest's memory is a sparse file,
 * so a guest that needs a page there is no room for kills its QEMU with
 * SIGBUS, which says nothing of disks. Read before the file is removed.
 */
static char *
sprite_exit_cause(struct core *c, const struct sprite *s, const char *why)
{
	char *ram = sprite_ram_file(c, s->id);
	struct statvfs st;
	char *cause;

	if (statvfs(ram, &st) == 0 && (uint64_t)st.f_bavail * st.f_frsize < SPRITE_DISK_FULL)
		cause = xasprintf("%s; the disk its memory is on is full (%s)", why, ram);
	else
		cause = xstrdup(why);
	free(ram);
	return cause;
}

static void
sprite_vm_exited(struct vm *vm, const char *why, void *arg)
{
	struct sprite *s = arg;
	struct core *c = s->core;
	enum sprite_op op = s->op;
	char *run, *cause;

	c->vmm->release(vm);
	s->vm = NULL;
	s->vm_ready = 0;
	if (s->on_exit != NULL) {
		void (*next)(struct sprite *) = s->on_exit;

		s->on_exit = NULL;
		next(s);
		return;
	}
	if (op == OP_SLEEP) {
		sleep_vm_exited(s, why);
		return;
	}
	if (op == OP_DESTROY) {
		sprite_remove(c, s->id, s->name, s->layer_id, s->layer_file);
		core_event(c, s->name, "destroy", "destroyed");
		sprite_op_end(s, 0, NULL);
		return;
	}
	cause = op == OP_STOP ? NULL : sprite_exit_cause(c, s, why);
	store_sprite_set_process(c->store, s->id, 0, 0, NULL);
	store_sprite_set_state(c->store, s->id, SPRITE_STOPPED, cause);
	run = sprite_run_dir(c, s->name);
	rm_rf(run);
	free(run);
	run = sprite_ram_file(c, s->id);	/* stopped: its memory is gone */
	unlink(run);
	free(run);
	run = sprite_sleep_state(c, s->id);
	unlink(run);
	free(run);
	if (op == OP_STOP) {
		core_event(c, s->name, "stop", "stopped");
		sprite_op_end(s, 0, NULL);
	} else {
		core_event(c, s->name, "exit", "stopped unexpectedly: %s", cause);
		sprite_op_end(s, 0, NULL);
	}
	free(cause);
}

const struct vm_callbacks sprite_vm_cb = {
	.ready = sprite_vm_ready,
	.exited = sprite_vm_exited,
	.request = sprite_env_request,
};

static void
sprite_layer_made(struct proc *p, int status, void *arg)
{
	struct sprite *s = arg;
	struct core *c = s->core;
	struct layer_row layer = { 0 };
	struct sprite_row row = { 0 };
	char *cause = NULL;
	int r;

	s->img_proc = NULL;
	cause = core_child_cause("make the disk layer", status);
	if (cause != NULL) {
		sprite_create_fail(s, -EIO, cause);
		free(cause);
		return;
	}
	layer.image_id = s->image_id;
	layer.file = s->layer_file;
	r = store_begin(c->store);
	if (r == 0)
		r = store_layer_add(c->store, &layer);
	if (r == 0)
		r = store_sprite_set_top_layer(c->store, s->id, layer.id);
	if (r == 0)
		r = store_commit(c->store);
	else
		store_rollback(c->store);
	if (r < 0) {
		cause = xasprintf("cannot record the disk layer: %s", store_errmsg(c->store));
		sprite_create_fail(s, r, cause);
		free(cause);
		return;
	}
	s->layer_id = layer.id;
	r = store_sprite_get(c->store, s->name, &row);
	if (r == 0)
		r = sprite_boot(s, &row, NULL, &cause);
	else
		cause = xasprintf("sprite \"%s\" vanished from the database", s->name);
	sprite_row_done(&row);
	if (r < 0) {
		sprite_create_fail(s, r, cause);
		free(cause);
	}
}

static void
sprite_image_ready(void *arg, int err, const char *cause, int64_t image_id)
{
	struct sprite *s = arg;
	struct core *c = s->core;
	struct sprite_row row = { 0 };
	struct image_files files = { 0 };
	char *qcow_cause = NULL;
	int r;

	if (err < 0) {
		sprite_create_fail(s, err, cause);
		return;
	}
	s->image_id = image_id;
	row.name = s->name;
	row.state = SPRITE_CREATING;
	row.image_id = image_id;
	row.mem_mb = c->mem_mb;
	row.cpus = c->cpus;
	row.origin = s->origin;
	r = store_sprite_add(c->store, &row);
	if (r < 0) {
		qcow_cause = r == -EEXIST ?
		    xasprintf("sprite \"%s\" already exists", s->name) :
		    xasprintf("cannot record the sprite: %s", store_errmsg(c->store));
		sprite_create_fail(s, r, qcow_cause);
		free(qcow_cause);
		return;
	}
	s->id = row.id;
	r = images_files(c->images, image_id, &files);
	if (r < 0) {
		sprite_create_fail(s, r, "the image is missing from the database");
		return;
	}
	s->layer_file = core_layer_path(c);
	r = core_layer_make(c, s->layer_file, files.rootfs, "raw", sprite_layer_made, s,
	    &s->img_proc);
	if (r < 0) {
		qcow_cause = xasprintf("cannot make the disk layer over %s: %s", files.rootfs,
		    strerror(-r));
		free(s->layer_file);
		s->layer_file = NULL;
		sprite_create_fail(s, r, qcow_cause);
		free(qcow_cause);
	}
	image_files_done(&files);
}

int
core_create(struct core *c, const char *name, const char *image,
    core_done_fn fn, void *arg, char **cause)
{
	struct sprite *s;
	int r;

	r = sprite_name_free(c, name, cause);
	if (r < 0)
		return r;
	if (image == NULL || *image == '\0')
		image = IMAGE_DEFAULT;
	s = sprite_new(c, name, 0);
	sprite_set_op(s, OP_CREATE);
	s->done = fn;
	s->done_arg = arg;
	s->origin = xstrdup(image);
	images_ensure(c->images, image, sprite_image_ready, s);
	return 0;
}

int
sprite_name_free(struct core *c, const char *name, char **cause)
{
	struct sprite_row row = { 0 };
	int r;

	r = name_check(name, cause);
	if (r < 0)
		return r;
	if (sprite_find(c, name) != NULL || store_sprite_get(c->store, name, &row) == 0) {
		sprite_row_done(&row);
		*cause = xasprintf("sprite \"%s\" already exists", name);
		return -EEXIST;
	}
	return 0;
}

/* Finds an idle sprite by name for an operation; fills @row. */
int
sprite_for_op(struct core *c, const char *name, struct sprite_row *row,
    struct sprite **ret, char **cause)
{
	struct sprite *s;
	int r;

	r = store_sprite_get(c->store, name, row);
	if (r == -ENOENT) {
		*cause = xasprintf("sprite \"%s\" not found", name);
		return r;
	}
	if (r < 0) {
		*cause = xasprintf("cannot read sprite \"%s\": %s", name, store_errmsg(c->store));
		return r;
	}
	s = sprite_find(c, name);
	if (s != NULL && s->op != OP_NONE) {
		*cause = xasprintf("sprite \"%s\" is %s; try again in a moment", name,
		    op_names[s->op]);
		sprite_row_done(row);
		return -EBUSY;
	}
	*ret = s;
	return 0;
}

int
core_start(struct core *c, const char *name, core_done_fn fn, void *arg, char **cause)
{
	struct sprite_row row = { 0 };
	struct sprite *s = NULL;
	int r;

	r = sprite_for_op(c, name, &row, &s, cause);
	if (r < 0)
		return r;
	if (s != NULL && s->vm != NULL) {
		sprite_row_done(&row);
		core_defer(c, fn, arg, 0, NULL);	/* already running */
		return 0;
	}
	if (strcmp(row.state, SPRITE_SLEEPING) == 0) {
		/* Starting a sleeping sprite wakes it: its processes are kept. */
		sprite_row_done(&row);
		return core_wake(c, name, fn, arg, cause);
	}
	r = sprite_boot_op(c, &row, OP_START, NULL, fn, arg, cause);
	sprite_row_done(&row);
	return r;
}

int
sprite_boot_op(struct core *c, const struct sprite_row *row, enum sprite_op op,
    const char *incoming, core_done_fn fn, void *arg, char **cause)
{
	struct sprite *s = sprite_new(c, row->name, row->id);
	int r;

	sprite_set_op(s, op);
	s->layer_id = row->top_layer_id;
	r = sprite_boot(s, row, incoming, cause);
	if (r < 0) {
		sprite_free(s);
		return r;
	}
	s->done = fn;
	s->done_arg = arg;
	return 0;
}

int
core_stop(struct core *c, const char *name, core_done_fn fn, void *arg, char **cause)
{
	struct sprite_row row = { 0 };
	struct sprite *s = NULL;
	int r;

	r = sprite_for_op(c, name, &row, &s, cause);
	if (r < 0)
		return r;
	if (strcmp(row.state, SPRITE_SLEEPING) == 0)
		sprite_forget_memory(c, row.id);	/* stopped: cold from now on */
	sprite_row_done(&row);
	if (s == NULL || s->vm == NULL) {
		core_defer(c, fn, arg, 0, NULL);	/* already stopped */
		return 0;
	}
	sprite_set_op(s, OP_STOP);
	s->done = fn;
	s->done_arg = arg;
	c->vmm->stop(s->vm);
	return 0;
}

int
core_destroy(struct core *c, const char *name, core_done_fn fn, void *arg, char **cause)
{
	struct sprite_row row = { 0 };
	struct layer_row layer = { 0 };
	struct sprite *s = NULL;
	int r;

	r = sprite_for_op(c, name, &row, &s, cause);
	if (r < 0)
		return r;
	if (s == NULL)
		s = sprite_new(c, name, row.id);
	sprite_set_op(s, OP_DESTROY);
	s->done = fn;
	s->done_arg = arg;
	s->layer_id = row.top_layer_id;
	if (row.top_layer_id != 0 && store_layer_get(c->store, row.top_layer_id, &layer) == 0) {
		free(s->layer_file);
		s->layer_file = layer.file;
		layer.file = NULL;
	}
	layer_row_done(&layer);
	sprite_row_done(&row);
	if (s->vm != NULL) {
		/* The disk is being thrown away: no need for a clean shutdown. */
		c->vmm->kill(s->vm);
		return 0;
	}
	sprite_remove(c, s->id, s->name, s->layer_id, s->layer_file);
	core_event(c, s->name, "destroy", "destroyed");
	s->done = NULL;
	sprite_op_end(s, 0, NULL);
	core_defer(c, fn, arg, 0, NULL);
	return 0;
}

int
core_wait_idle(struct core *c, const char *name, core_done_fn fn, void *arg, char **cause)
{
	struct sprite *s = sprite_find(c, name);
	struct waiter *w;

	if (s == NULL || s->op == OP_NONE) {
		core_defer(c, fn, arg, 0, NULL);
		return 0;
	}
	w = xcalloc(1, sizeof *w);
	w->fn = fn;
	w->arg = arg;
	w->next = s->idle_waiters;
	s->idle_waiters = w;
	return 0;
}

int
core_image_state(struct core *c, const char *name, const char **ret_state,
    char **ret_progress, char **cause)
{
	return images_state(c->images, name, ret_state, ret_progress, cause);
}

int
core_image_build(struct core *c, const char *name, char **cause)
{
	const char *state;
	char *progress = NULL;
	int r;

	r = images_state(c->images, name, &state, &progress, cause);
	free(progress);
	if (r == 0 && strcmp(state, "ready") != 0)
		images_build(c->images, name);
	return r;
}

int
core_get(struct core *c, const char *name, struct sprite_row *ret, char **cause)
{
	int r = store_sprite_get(c->store, name, ret);

	if (r == -ENOENT)
		*cause = xasprintf("sprite \"%s\" not found", name);
	else if (r < 0)
		*cause = xasprintf("cannot read sprite \"%s\": %s", name, store_errmsg(c->store));
	return r;
}

int
core_list(struct core *c, struct sprite_row **ret, size_t *ret_n)
{
	return store_sprite_list(c->store, ret, ret_n);
}

int
core_agent(struct core *c, const char *name, struct agent **ret, char **cause)
{
	struct sprite_row row = { 0 };
	struct sprite *s;
	struct agent *a;
	int r;

	r = core_get(c, name, &row, cause);
	if (r < 0)
		return r;
	s = sprite_find(c, name);
	a = s != NULL && s->vm != NULL && s->vm_ready ? c->vmm->agent(s->vm) : NULL;
	if (a == NULL) {
		*cause = xasprintf("sprite \"%s\" is %s; start it with: sprig start %s",
		    name, row.state, name);
		sprite_row_done(&row);
		return -EAGAIN;
	}
	sprite_row_done(&row);
	*ret = a;
	return 0;
}

int
core_agent_wake(struct core *c, const char *name, int *woke, core_done_fn fn, void *arg,
    struct agent **ret, char **cause)
{
	struct sprite_row row = { 0 };
	int r, sleeping;

	r = core_get(c, name, &row, cause);
	sleeping = r == 0 && strcmp(row.state, SPRITE_SLEEPING) == 0;
	sprite_row_done(&row);
	if (r < 0)
		return r;
	if (sleeping && !*woke) {
		*woke = 1;
		r = core_wake(c, name, fn, arg, cause);
		return r < 0 ? r : 1;
	}
	return core_agent(c, name, ret, cause);
}

struct store *
core_store(struct core *c)
{
	return c->store;
}

const char *
core_accel(const struct core *c)
{
	return c->vmm->accel();
}

/* Kills a recorded QEMU if it is still the process we started. */
static void
core_kill_recorded(const struct sprite_row *row)
{
	uint64_t start;

	if (row->pid > 0 && proc_start_time((pid_t)row->pid, &start) == 0 &&
	    start == row->pid_start)
		kill((pid_t)row->pid, SIGKILL);
}

static void
core_adopt(struct core *c, const struct sprite_row *row)
{
	struct vm_config cfg;
	struct image_files files = { 0 };
	struct sprite *s;
	char *run_dir = NULL, *cause = NULL;
	int r;

	r = sprite_vm_config(c, row, &cfg, &files, &run_dir, &cause);
	if (r == 0) {
		s = sprite_new(c, row->name, row->id);
		sprite_set_op(s, OP_ADOPT);
		s->layer_id = row->top_layer_id;
		s->mem_mb = row->mem_mb;
		r = c->vmm->adopt(c->loop, &cfg, (pid_t)row->pid, row->pid_start,
		    &sprite_vm_cb, s, &s->vm, &cause);
		if (r < 0)
			sprite_free(s);
		free((char *)cfg.disk);
		free((char *)cfg.ram_file);
		image_files_done(&files);
	}
	if (r < 0) {
		core_kill_recorded(row);
		store_sprite_set_process(c->store, row->id, 0, 0, NULL);
		store_sprite_set_state(c->store, row->id, SPRITE_STOPPED, NULL);
		core_event(c, row->name, "exit", "stopped while no daemon was running (%s)",
		    cause ? cause : "gone");
		free(run_dir);
		run_dir = sprite_run_dir(c, row->name);
		rm_rf(run_dir);
	}
	free(run_dir);
	free(cause);
}

/*
 * Start-up: releases layers nothing holds (an operation cut off between
 * deleting a row and releasing its layers), then deletes layer files that
 * no row references (made, never recorded).
 */
static void
core_collect_layers(struct core *c)
{
	struct layer_row *layers = NULL;
	size_t n = 0;
	DIR *d;
	struct dirent *e;
	int refs;

	if (store_layer_list(c->store, &layers, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (store_layer_refs(c->store, layers[i].id, &refs) == 0 &&
		    refs == 0)
			core_layer_release(c, layers[i].id);
	}
	layer_rows_free(layers, n);
	layers = NULL;
	n = 0;
	if (store_layer_list(c->store, &layers, &n) < 0)
		return;
	d = opendir(c->layers_dir);
	while (d != NULL && (e = readdir(d)) != NULL) {
		char *path;
		int known = 0;

		if (e->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", c->layers_dir, e->d_name);
		for (size_t i = 0; i < n && !known; i++)
			known = strcmp(layers[i].file, path) == 0;
		if (!known)
			unlink(path);
		free(path);
	}
	if (d != NULL)
		closedir(d);
	for (size_t i = 0; i < n; i++)
		layer_row_done(&layers[i]);
	free(layers);
}

/* Deletes memory states that no checkpoint or template references. */
static void
core_collect_mem(struct core *c)
{
	struct sprite_row *rows = NULL;
	struct template_row *ts = NULL;
	char **keep = NULL, *dir;
	size_t n = 0, nt = 0, nkeep = 0;
	DIR *d;
	struct dirent *e;

	if (store_sprite_list(c->store, &rows, &n) < 0 || store_template_list(c->store, &ts, &nt) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct checkpoint_row *cps = NULL;
		size_t ncp = 0;

		if (store_checkpoint_list(c->store, rows[i].id, &cps, &ncp) < 0)
			goto out;	/* unsure what is used: delete nothing */
		for (size_t j = 0; j < ncp; j++) {
			if (cps[j].mem_dir != NULL) {
				keep = xreallocarray(keep, nkeep + 1, sizeof *keep);
				keep[nkeep++] = xstrdup(cps[j].mem_dir);
			}
		}
		checkpoint_rows_free(cps, ncp);
	}
	for (size_t i = 0; i < nt; i++) {
		if (ts[i].mem_dir != NULL) {
			keep = xreallocarray(keep, nkeep + 1, sizeof *keep);
			keep[nkeep++] = xstrdup(ts[i].mem_dir);
		}
	}
	dir = xasprintf("%s/mem", c->home);
	d = opendir(dir);
	while (d != NULL && (e = readdir(d)) != NULL) {
		char *path;
		int used = 0;

		if (e->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", dir, e->d_name);
		for (size_t i = 0; i < nkeep && !used; i++)
			used = strcmp(keep[i], path) == 0;
		if (!used)
			rm_rf(path);
		free(path);
	}
	if (d != NULL)
		closedir(d);
	free(dir);
out:
	for (size_t i = 0; i < nkeep; i++)
		free(keep[i]);
	free(keep);
	sprite_rows_free(rows, n);
	template_rows_free(ts, nt);
}

static void
core_reconcile(struct core *c)
{
	struct sprite_row *rows = NULL;
	size_t n = 0;

	timeline_recover(c);
	if (store_sprite_list(c->store, &rows, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct sprite_row *row = &rows[i];

		if (strcmp(row->state, SPRITE_CREATING) == 0) {
			/* A create cut off by a crash: undo it. */
			core_kill_recorded(row);
			sprite_remove(c, row->id, row->name, row->top_layer_id, NULL);
			core_event(c, row->name, "error", "an unfinished create was undone");
		} else if (row->pid != 0 && strcmp(row->state, SPRITE_SLEEPING) == 0) {
			/* A sleep cut off after it was recorded: its state is
			 * complete; finish it by ending the paused QEMU. */
			char *run = sprite_run_dir(c, row->name);

			core_kill_recorded(row);
			store_sprite_set_process(c->store, row->id, 0, 0, NULL);
			rm_rf(run);
			free(run);
			sleep_flush(c, row->id);
			core_event(c, row->name, "sleep", "asleep (a sleep cut off by a crash was "
			    "completed)");
		} else if (row->pid != 0) {
			core_adopt(c, row);
		}
	}
	sprite_rows_free(rows, n);
	core_collect_layers(c);
	core_collect_mem(c);
}

int
core_new(struct loop *l, const struct core_config *cfg, struct core **ret, char **cause)
{
	struct core *c;
	char *db;
	int r;

	c = xcalloc(1, sizeof *c);
	c->loop = l;
	c->vmm = cfg->vmm;
	c->home = xstrdup(cfg->home);
	c->layers_dir = xasprintf("%s/layers", cfg->home);
	c->boot_timeout_ms = cfg->boot_timeout_ms > 0 ? cfg->boot_timeout_ms : 60000;
	c->idle_ms = cfg->idle_s > 0 ? (uint64_t)cfg->idle_s * 1000 : 0;
	c->mem_mb = cfg->mem_mb > 0 ? cfg->mem_mb : 256;
	c->cpus = cfg->cpus > 0 ? cfg->cpus : 1;
	r = mkdir_p(c->layers_dir, 0700);
	if (r == 0) {
		char *ram = xasprintf("%s/ram", cfg->home), *mem = xasprintf("%s/mem", cfg->home);

		r = mkdir_p(ram, 0700);
		if (r == 0)
			r = mkdir_p(mem, 0700);
		free(ram);
		free(mem);
	}
	if (r < 0) {
		*cause = xasprintf("cannot create %s: %s", c->layers_dir, strerror(-r));
		goto fail;
	}
	db = xasprintf("%s/sprig.db", cfg->home);
	r = store_open(db, &c->store, cause);
	free(db);
	if (r < 0)
		goto fail;
	c->images = images_new(l, c->store, cfg->home, cfg->libexec);
	core_reconcile(c);
	*ret = c;
	return 0;
fail:
	free(c->home);
	free(c->layers_dir);
	free(c);
	return r;
}

void
core_free(struct core *c)
{
	struct deferred *d;

	if (c == NULL)
		return;
	/* Builds first: their waiters are sprites being created, told now. */
	images_free(c->images);
	c->images = NULL;
	while (c->sprites != NULL) {
		struct sprite *s = c->sprites;
		struct waiter *w;

		if (s->img_proc != NULL) {
			proc_kill(s->img_proc, SIGKILL);
			proc_forget(s->img_proc);
			s->img_proc = NULL;
		}
		/* A VM waiting for its RAM would never get it. */
		if (memcopy_running(s) && s->vm != NULL)
			c->vmm->kill(s->vm);
		memcopy_cancel(s);
		if (s->vm != NULL) {
			/* Running VMs run on; one being created or started is
			 * half-made: kill it, start-up sweeps the rest. */
			if (s->op == OP_CREATE || s->op == OP_START || s->op == OP_DESTROY)
				c->vmm->kill(s->vm);
			c->vmm->release(s->vm);
			s->vm = NULL;
		}
		if (s->done != NULL)
			s->done(s->done_arg, -ECANCELED, "the daemon is stopping");
		while ((w = s->idle_waiters) != NULL) {
			s->idle_waiters = w->next;
			w->fn(w->arg, -ECANCELED, "the daemon is stopping");
			free(w);
		}
		sprite_free(s);
	}
	/* Answers not yet delivered are delivered as cancelled: each may be
	 * a suspended request waiting to be resumed. */
	while ((d = c->deferred) != NULL) {
		c->deferred = d->next;
		loop_del_timer(c->loop, d->timer);
		d->fn(d->arg, -ECANCELED, "the daemon is stopping");
		free(d->cause);
		free(d);
	}
	/* Watchers are the front ends' to unwatch, before this; any left
	 * are theirs to forget. */
	while (c->watchers != NULL)
		core_unwatch(c, c->watchers->id);
	loop_del_timer(c->loop, c->usage_timer);
	store_close(c->store);
	free(c->home);
	free(c->layers_dir);
	free(c);
}
