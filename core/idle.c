/*
 * idle: sprites fall asleep when nothing uses them (DESIGN.md; Sprites
 * sleep after 30 s). Use is an API call on the sprite (touch) or an open
 * exec session (hold). Each awake sprite has at most one timer, armed for
 * its deadline; nothing polls.
 */
#include <stdlib.h>

#include "core_internal.h"
#include "common/loop.h"

static void idle_fire(struct loop *l, uint64_t id, void *arg);

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
	if (c->idle_ms == 0 || s->vm == NULL || !s->vm_ready || s->holds > 0 ||
	    s->op != OP_NONE)
		return;
	if (s->last_active_ms == 0)
		s->last_active_ms = now;
	deadline = s->last_active_ms + c->idle_ms;
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
	if (loop_now_ms() < s->last_active_ms + c->idle_ms) {
		idle_arm(s);	/* used since the timer was set */
		return;
	}
	if (s->holds > 0 || s->op != OP_NONE || !s->vm_ready)
		return;		/* re-armed when that ends */
	core_event(c, s->name, "idle", "idle for %llu s: going to sleep",
	    (unsigned long long)(c->idle_ms / 1000));
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
