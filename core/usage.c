/*
 * usage: what sprites cost the host, for `sprig list`-like views and the
 * dashboard: the CPU and resident memory of each awake sprite's QEMU, and
 * the disk its layers take beyond its image.
 *
 * CPU is a rate, so it needs two looks some time apart: while anyone
 * watches the event stream, a timer samples the awake sprites every
 * USAGE_PERIOD_MS and tells the watchers (a transient "usage" notice) about
 * a sprite whose figures moved enough to show; with no watcher nothing is
 * sampled, and a sprite's CPU reads as unknown.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "core_internal.h"
#include "common/loop.h"
#include "common/util.h"
#include "vmm/vmm.h"

#define USAGE_PERIOD_MS		2000
/* Changes smaller than these are not worth a notice. */
#define USAGE_CPU_STEP		2.0	/* percent of one CPU */
#define USAGE_RSS_STEP_KB	(4 * 1024)

static void usage_tick(struct loop *l, uint64_t id, void *arg);

static void
usage_notice(struct core *c, struct sprite *s)
{
	struct event_row ev = { 0 };
	char msg[64];

	snprintf(msg, sizeof msg, "cpu %.0f%%, memory %llu MiB", s->cpu_pct,
	    (unsigned long long)(s->rss_kb / 1024));
	ev.at = now_unix_ms();
	ev.sprite = s->name;
	ev.kind = (char *)"usage";
	ev.message = msg;
	core_notify(c, &ev);
}

/* Takes a sample of @s; returns whether its figures moved enough to show. */
static int
usage_sample(struct sprite *s, uint64_t now)
{
	struct core *c = s->core;
	uint64_t cpu_ms, rss_kb;
	double pct = -1, old_pct = s->cpu_pct;
	uint64_t old_rss = s->rss_kb;

	if (s->vm == NULL || !s->vm_ready ||
	    proc_usage(c->vmm->pid(s->vm), &cpu_ms, &rss_kb) < 0) {
		s->cpu_at_ms = 0;
		return 0;
	}
	if (s->cpu_at_ms != 0 && now > s->cpu_at_ms && cpu_ms >= s->cpu_ms)
		pct = (double)(cpu_ms - s->cpu_ms) * 100.0 / (double)(now - s->cpu_at_ms);
	s->cpu_ms = cpu_ms;
	s->cpu_at_ms = now;
	s->cpu_pct = pct;
	s->rss_kb = rss_kb;
	if (pct < 0)
		return 0;
	return old_pct < 0 || pct - old_pct >= USAGE_CPU_STEP || old_pct - pct >= USAGE_CPU_STEP ||
	    rss_kb >= old_rss + USAGE_RSS_STEP_KB || old_rss >= rss_kb + USAGE_RSS_STEP_KB;
}

static void
usage_tick(struct loop *l, uint64_t id, void *arg)
{
	struct core *c = arg;
	uint64_t now = loop_now_ms();

	c->usage_timer = 0;
	if (c->watchers == NULL)
		return;
	for (struct sprite *s = c->sprites; s != NULL; s = s->next) {
		if (usage_sample(s, now))
			usage_notice(c, s);
	}
	c->usage_timer = loop_add_timer(c->loop, USAGE_PERIOD_MS, usage_tick, c);
}

void
usage_watch(struct core *c)
{
	if (c->usage_timer == 0 && c->watchers != NULL)
		c->usage_timer = loop_add_timer(c->loop, USAGE_PERIOD_MS, usage_tick, c);
}

/* Bytes the layer files of @row's disk take, its image left out. */
static int64_t
usage_disk(struct core *c, const struct sprite_row *row)
{
	struct layer_row *chain = NULL;
	size_t n = 0;
	int64_t bytes = 0;
	struct stat st;

	if (row->top_layer_id == 0 || store_layer_chain(c->store, row->top_layer_id, &chain, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (stat(chain[i].file, &st) == 0)
			bytes += (int64_t)st.st_blocks * 512;
	}
	layer_rows_free(chain, n);
	return bytes;
}

void
usage_fill(struct core *c, const struct sprite_row *row, struct core_status *ret)
{
	struct sprite *s = sprite_find(c, row->name);
	int awake = s != NULL && s->vm != NULL && s->vm_ready;

	ret->cpu_pct = awake ? s->cpu_pct : -1;
	ret->rss_mb = -1;
	if (awake) {
		uint64_t cpu_ms, rss_kb;

		/* Memory needs no second look: read it now. */
		if (proc_usage(c->vmm->pid(s->vm), &cpu_ms, &rss_kb) == 0)
			ret->rss_mb = (int64_t)(rss_kb / 1024);
	}
	ret->disk_mb = usage_disk(c, row);
	if (ret->disk_mb > 0)
		ret->disk_mb = (ret->disk_mb + (1 << 20) - 1) >> 20;
}
