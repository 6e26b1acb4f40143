/*
 * idle: sprites fall asleep when nothing uses them (DESIGN.md; Sprites
 * sleep after 30 s). Use is an API call on the sprite (touch) or an open
 * exec session or forwarded connection (hold); a program inside may keep it awake a while
 * (`sprite-env keepalive 10m`, for a long agent run nobody watches). Each
 * sprite may set its own idle time (`sprig config dev idle=5m`); the
 * daemon's is the default. Each awake sprite has
 * at most one timer, armed for its deadline; nothing polls.
 */
#include <errno.h>
#include <stdlib.h>

#include "core_internal.h"
#include "common/loop.h"
#include "common/xmalloc.h"

static void idle_fire(struct loop *l, uint64_t id, void *arg);

/* The idle time in force for @s, in ms; 0: it never sleeps. */
static uint64_t
idle_ms(struct sprite *s)
{
	struct sprite_row row;

	if (!s->idle_s_known && s->id != 0 &&
	    store_sprite_get_id(s->core->store, s->id, &row) == 0) {
		s->idle_s = row.idle_s;
		s->idle_s_known = 1;
		sprite_row_done(&row);
	}
	if (!s->idle_s_known || s->idle_s < 0)
		return s->core->idle_ms;
	return (uint64_t)s->idle_s * 1000;
}

/* When @s sleeps if nothing uses it before: its idle time after its last
 * use, or the end of a keep-awake asked from inside, whichever is later. */
static uint64_t
idle_deadline(struct sprite *s)
{
	uint64_t t = s->last_active_ms + idle_ms(s);

	return s->keep_until_ms > t ? s->keep_until_ms : t;
}

void
idle_keepalive(struct sprite *s, uint64_t ms)
{
	s->keep_until_ms = ms == 0 ? 0 : loop_now_ms() + ms;
	idle_arm(s);
}

void
idle_disarm(struct sprite *s)
{
	loop_del_timer(s->core->loop, s->idle_timer);
	s->idle_timer = 0;
}

void
idle_arm(struct sprite *s)
{
	struct core *c = s->core;
	uint64_t now = loop_now_ms(), deadline;

	idle_disarm(s);
	if (idle_ms(s) == 0 || s->vm == NULL || !s->vm_ready || s->holds > 0 ||
	    s->op != OP_NONE)
		return;
	if (s->last_active_ms == 0)
		s->last_active_ms = now;
	deadline = idle_deadline(s);
	s->idle_timer = loop_add_timer(c->loop, deadline > now ? deadline - now : 0,
	    idle_fire, s);
}

static void
idle_slept(void *arg, int err, const char *cause)
{
	/* The event log has the outcome; a failed sleep re-arms on next use. */
}

static void
idle_fire(struct loop *l, uint64_t id, void *arg)
{
	struct sprite *s = arg;
	struct core *c = s->core;
	char *cause = NULL;

	s->idle_timer = 0;
	if (idle_ms(s) == 0)
		return;
	if (loop_now_ms() < idle_deadline(s)) {
		idle_arm(s);	/* used since the timer was set */
		return;
	}
	if (s->holds > 0 || s->op != OP_NONE || !s->vm_ready)
		return;		/* re-armed when that ends */
	core_event(c, s->name, "idle", "idle for %llu s: going to sleep",
	    (unsigned long long)(idle_ms(s) / 1000));
	if (core_sleep(c, s->name, idle_slept, NULL, &cause) < 0) {
		core_event(c, s->name, "error", "could not sleep: %s", cause);
		free(cause);
	}
}

void
core_touch(struct core *c, const char *name)
{
	struct sprite *s = sprite_find(c, name);

	if (s == NULL)
		return;
	s->last_active_ms = loop_now_ms();
	if (s->idle_timer == 0)
		idle_arm(s);
}

void
core_hold(struct core *c, const char *name)
{
	struct sprite *s = sprite_find(c, name);

	if (s == NULL)
		return;
	s->holds++;
	s->last_active_ms = loop_now_ms();
	idle_disarm(s);
}

void
core_unhold(struct core *c, const char *name)
{
	struct sprite *s = sprite_find(c, name);

	if (s == NULL || s->holds == 0)
		return;
	s->holds--;
	s->last_active_ms = loop_now_ms();
	idle_arm(s);
}

int
core_set_idle(struct core *c, const char *name, int64_t idle_s, char **cause)
{
	struct sprite_row row;
	struct sprite *s;
	int r;

	if (idle_s < -1) {
		*cause = xstrdup("the idle time must be a duration, \"off\" or \"default\"");
		return -EINVAL;
	}
	r = store_sprite_get(c->store, name, &row);
	if (r < 0) {
		*cause = r == -ENOENT ? xasprintf("no sprite named \"%s\"", name) :
		    xasprintf("cannot read sprite \"%s\": %s", name, store_errmsg(c->store));
		return r;
	}
	r = store_sprite_set_idle(c->store, row.id, idle_s);
	sprite_row_done(&row);
	if (r < 0) {
		*cause = xasprintf("cannot save the idle time: %s", store_errmsg(c->store));
		return r;
	}
	s = sprite_find(c, name);
	if (s != NULL) {
		s->idle_s = idle_s;
		s->idle_s_known = 1;
		if (s->idle_timer != 0 || idle_s != 0)
			idle_arm(s);
	}
	if (idle_s < 0)
		core_event(c, name, "config", "idle time: the daemon's default");
	else if (idle_s == 0)
		core_event(c, name, "config", "idle time: off (never sleeps)");
	else
		core_event(c, name, "config", "idle time: %lld s", (long long)idle_s);
	return 0;
}

void
core_status(struct core *c, const struct sprite_row *row, struct core_status *ret)
{
	struct sprite *s = sprite_find(c, row->name);
	uint64_t ms, now = loop_now_ms();

	ret->op = s != NULL && s->op != OP_NONE ? op_names[s->op] : NULL;
	ret->sessions = s != NULL ? s->holds : 0;
	ret->idle_s = row->idle_s >= 0 ? row->idle_s : (int64_t)(c->idle_ms / 1000);
	ret->sleep_in_ms = -1;
	usage_fill(c, row, ret);
	if (s == NULL || s->vm == NULL || !s->vm_ready || s->holds > 0)
		return;
	ms = idle_ms(s);
	if (ms == 0)
		return;
	if (s->last_active_ms == 0)
		ret->sleep_in_ms = (int64_t)ms;
	else if (idle_deadline(s) <= now)
		ret->sleep_in_ms = 0;
	else
		ret->sleep_in_ms = (int64_t)(idle_deadline(s) - now);
}
