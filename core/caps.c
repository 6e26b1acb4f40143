/*
 * caps: limits on how many sprites are awake at once and on the guest
 * memory they hold, kept as daemon settings. A sprite about to boot (a
 * create, start, wake or fork) that would go past a limit makes room: the
 * least recently used awake sprite is put to sleep, rather than the work
 * refused. Sprites in use are never picked: those with an operation under
 * way, a session open, a keep-awake from inside, or idle=off (pinned).
 * When every awake sprite is in use the boot goes ahead over the limit,
 * and the event log says so.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_internal.h"
#include "common/loop.h"
#include "common/xmalloc.h"

#define CAPS_MAX_AWAKE	"max_awake"
#define CAPS_MAX_MEMORY	"max_memory_mb"
#define CAPS_MAX_EXECS	"max_execs"
#define CAPS_MAX_EXECS_SPRITE	"max_execs_per_sprite"

static int64_t
caps_setting(struct core *c, const char *key)
{
	char *v = NULL;
	int64_t n = 0;

	if (store_setting_get(c->store, key, &v) == 0)
		n = strtoll(v, NULL, 10);
	free(v);
	return n > 0 ? n : 0;
}

/* A limit with a default: unset is @def, a stored 0 is none. */
static int64_t
caps_setting_or(struct core *c, const char *key, int64_t def)
{
	char *v = NULL;
	int64_t n = def;

	if (store_setting_get(c->store, key, &v) == 0)
		n = strtoll(v, NULL, 10);
	free(v);
	return n > 0 ? n : 0;
}

int
core_settings_get(struct core *c, struct core_settings *ret)
{
	ret->max_awake = caps_setting(c, CAPS_MAX_AWAKE);
	ret->max_memory_mb = caps_setting(c, CAPS_MAX_MEMORY);
	ret->max_execs = caps_setting_or(c, CAPS_MAX_EXECS, CORE_MAX_EXECS);
	ret->max_execs_sprite = caps_setting_or(c, CAPS_MAX_EXECS_SPRITE,
	    CORE_MAX_EXECS_SPRITE);
	return 0;
}

/* Stores limit @v; with @keep_zero a 0 is kept (none, over a default),
 * else it unsets the key. */
static int
caps_store(struct core *c, const char *key, int64_t v, int keep_zero, char **cause)
{
	char text[32];
	int r;

	snprintf(text, sizeof text, "%lld", (long long)v);
	r = store_setting_set(c->store, key, v > 0 || keep_zero ? text : NULL);
	if (r < 0)
		*cause = xasprintf("cannot save the setting %s: %s", key, store_errmsg(c->store));
	return r;
}

int
core_settings_set(struct core *c, const struct core_settings *set, char **cause)
{
	int r = 0;

	struct core_settings now;

	if (set->max_awake < -1 || set->max_memory_mb < -1 || set->max_execs < -1 ||
	    set->max_execs_sprite < -1) {
		*cause = xstrdup("a limit is a positive number, or 0 for none");
		return -EINVAL;
	}
	if (set->max_awake >= 0)
		r = caps_store(c, CAPS_MAX_AWAKE, set->max_awake, 0, cause);
	if (r == 0 && set->max_memory_mb >= 0)
		r = caps_store(c, CAPS_MAX_MEMORY, set->max_memory_mb, 0, cause);
	if (r == 0 && set->max_execs >= 0)
		r = caps_store(c, CAPS_MAX_EXECS, set->max_execs, 1, cause);
	if (r == 0 && set->max_execs_sprite >= 0)
		r = caps_store(c, CAPS_MAX_EXECS_SPRITE, set->max_execs_sprite, 1, cause);
	if (r < 0)
		return r;
	core_settings_get(c, &now);
	core_event(c, NULL, "config", "limits: %lld awake sprites, %lld MiB of guest "
	    "memory, %lld execs at once, %lld in one sprite (0: none)",
	    (long long)now.max_awake, (long long)now.max_memory_mb,
	    (long long)now.max_execs, (long long)now.max_execs_sprite);
	return 0;
}

/* Whether @s may be put to sleep to make room. */
static int
caps_can_evict(const struct sprite *s, const struct sprite *booting, uint64_t now)
{
	return s != booting && s->vm != NULL && s->vm_ready && s->op == OP_NONE &&
	    s->holds == 0 && s->keep_until_ms <= now && !(s->idle_s_known && s->idle_s == 0);
}

static void
caps_slept(void *arg, int err, const char *cause)
{
	/* The event log has the outcome. */
}

void
caps_make_room(struct core *c, struct sprite *booting, int mem_mb)
{
	struct core_settings lim;
	struct sprite *s, *lru;
	uint64_t now = loop_now_ms();
	int64_t awake = 0, mem = 0;
	char *cause = NULL;

	core_settings_get(c, &lim);
	if (lim.max_awake == 0 && lim.max_memory_mb == 0)
		return;
	for (s = c->sprites; s != NULL; s = s->next) {
		if (s != booting && s->vm != NULL && s->op != OP_SLEEP) {
			awake++;
			mem += s->mem_mb;
		}
	}
	for (;;) {
		int over_count = lim.max_awake > 0 && awake + 1 > lim.max_awake;
		int over_mem = lim.max_memory_mb > 0 && mem + mem_mb > lim.max_memory_mb;

		if (!over_count && !over_mem)
			return;
		lru = NULL;
		for (s = c->sprites; s != NULL; s = s->next) {
			if (caps_can_evict(s, booting, now) &&
			    (lru == NULL || s->last_active_ms < lru->last_active_ms))
				lru = s;
		}
		if (lru == NULL) {
			core_event(c, booting->name, "config", "over the limit of %s: every awake "
			    "sprite is in use, so none was put to sleep",
			    over_count ? "awake sprites" : "guest memory");
			return;
		}
		core_event(c, lru->name, "idle", "put to sleep to make room for %s (least "
		    "recently used)", booting->name);
		if (core_sleep(c, lru->name, caps_slept, NULL, &cause) < 0) {
			core_event(c, lru->name, "error", "could not sleep: %s", cause);
			free(cause);
			return;	/* over the limit this time, rather than loop */
		}
		awake--;
		mem -= lru->mem_mb;
	}
}
