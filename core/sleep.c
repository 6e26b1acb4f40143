/*
 * sleep: putting a sprite to sleep and waking it (DESIGN.md, "Memory
 * states"). The guest's RAM already lives in a file; sleeping saves the
 * device state beside it (a few milliseconds), lets QEMU quit, and flushes
 * the RAM file to disk afterwards, off the wake path. Waking starts QEMU on
 * the same RAM file with the saved devices and lets it run.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core_internal.h"
#include "common/failpoint.h"
#include "common/proc.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "vmm/vmm.h"

char *
sprite_sleep_state(struct core *c, int64_t id)
{
	return xasprintf("%s/ram/%lld.state", c->home, (long long)id);
}

static void
sleep_resumed(struct vm *vm, int err, const char *cause, void *arg)
{
}

/*
 * The devices are saved (into the state's .tmp) and the VM is paused. The
 * sleep is decided here, in this order: the state gets its name, the row
 * says sleeping, then QEMU quits. A daemon killed before the rename finds
 * the sprite running and paused and lets it run on (adoption sends cont);
 * killed after the row changed, it finds a sleeping sprite whose QEMU is
 * still there and ends that QEMU (core_reconcile). Either way the sprite
 * has a process or a complete saved state.
 */
static void
sleep_saved(struct vm *vm, int err, const char *cause, void *arg)
{
	struct sprite *s = arg;
	struct core *c = s->core;
	char *state = sprite_sleep_state(c, s->id), *tmp = xasprintf("%s.tmp", state);
	char *why = NULL;

	if (err == 0 && rename(tmp, state) < 0) {
		err = -errno;
		cause = why = xasprintf("cannot name the saved state %s: %s", state,
		    strerror(errno));
	}
	if (err == 0) {
		failpoint("sleep:state-named");
		err = store_sprite_set_state(c->store, s->id, SPRITE_SLEEPING, NULL);
		if (err < 0)
			cause = why = xasprintf("cannot record the sleep: %s",
			    store_errmsg(c->store));
	}
	if (err < 0) {
		/* Stay awake: the event log says why. */
		unlink(tmp);
		core_event(c, s->name, "error", "could not sleep: %s", cause);
		c->vmm->resume(vm, sleep_resumed, NULL);
		sprite_op_end(s, err, cause);
		goto out;
	}
	failpoint("sleep:recorded");
	c->vmm->stop(vm);	/* quits at once: exited follows */
out:
	free(state);
	free(tmp);
	free(why);
}

void
sleep_vm_exited(struct sprite *s, const char *why)
{
	struct core *c = s->core;
	char *run = sprite_run_dir(c, s->name);
	int64_t id;

	store_sprite_set_process(c->store, s->id, 0, 0, NULL);
	rm_rf(run);
	core_event(c, s->name, "sleep", "asleep");
	free(run);
	id = s->id;
	sprite_op_end(s, 0, NULL);	/* @s may be gone after */
	/* Last: the writes to the database above must not wait for it. */
	sleep_flush(c, id);
}

void
sleep_flush(struct core *c, int64_t id)
{
	char *paths[] = { sprite_ram_file(c, id), sprite_sleep_state(c, id),
	    xasprintf("%s/ram", c->home) };
	char *what = xasprintf("the memory of sprite %lld", (long long)id);

	/* The RAM file's pages and the state are in the page cache: a wake
	 * does not wait for them to reach the disk. */
	core_sync_later(c, paths, 3, what);
	for (int i = 0; i < 3; i++)
		free(paths[i]);
	free(what);
}

/*
 * A wake whose saved state would not load: keep the state aside for
 * inspection and boot cold from the disk, which holds everything synced.
 */
int
sleep_wake_failed(struct sprite *s, const char *cause)
{
	struct core *c = s->core;
	struct sprite_row row = { 0 };
	char *state = sprite_sleep_state(c, s->id), *aside, *why = NULL;
	int r;

	aside = xasprintf("%s.bad-%lld", state, (long long)now_unix_ms());
	rename(state, aside);
	core_event(c, s->name, "error", "the saved memory would not load (%s); kept as %s; "
	    "booting from the disk instead", cause, aside);
	free(state);
	free(aside);
	sprite_set_op(s, OP_START);
	r = store_sprite_get_id(c->store, s->id, &row);
	if (r == 0)
		r = sprite_boot(s, &row, NULL, &why);
	sprite_row_done(&row);
	free(why);
	return r;
}

int
core_sleep(struct core *c, const char *name, core_done_fn fn, void *arg, char **cause)
{
	struct sprite_row row = { 0 };
	struct sprite *s = NULL;
	char *state;
	int r;

	r = sprite_for_op(c, name, &row, &s, cause);
	if (r < 0)
		return r;
	if (strcmp(row.state, SPRITE_SLEEPING) == 0) {
		sprite_row_done(&row);
		core_defer(c, fn, arg, 0, NULL);
		return 0;
	}
	sprite_row_done(&row);
	if (s == NULL || s->vm == NULL || !s->vm_ready) {
		*cause = xasprintf("sprite \"%s\" is not running", name);
		return -EAGAIN;
	}
	state = xasprintf("%s/ram/%lld.state.tmp", c->home, (long long)s->id);
	r = c->vmm->save(s->vm, state, NULL, sleep_saved, s);
	free(state);
	if (r < 0) {
		*cause = xasprintf("cannot put sprite \"%s\" to sleep: %s", name, strerror(-r));
		core_event(c, name, "error", "could not sleep: %s", strerror(-r));
		return r;
	}
	sprite_set_op(s, OP_SLEEP);
	s->done = fn;
	s->done_arg = arg;
	return 0;
}

int
core_wake(struct core *c, const char *name, core_done_fn fn, void *arg, char **cause)
{
	struct sprite_row row = { 0 };
	struct sprite *s = NULL;
	char *state;
	int r;

	r = sprite_for_op(c, name, &row, &s, cause);
	if (r < 0)
		return r;
	if (strcmp(row.state, SPRITE_SLEEPING) != 0) {
		sprite_row_done(&row);
		if (s != NULL && s->vm != NULL) {
			core_defer(c, fn, arg, 0, NULL);	/* awake already */
			return 0;
		}
		return core_start(c, name, fn, arg, cause);
	}
	state = sprite_sleep_state(c, row.id);
	r = sprite_boot_op(c, &row, OP_WAKE, state, fn, arg, cause);
	free(state);
	sprite_row_done(&row);
	return r;
}
