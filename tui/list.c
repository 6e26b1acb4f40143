/*
 * list: rows from the API's sprite objects, and their drawing. Columns
 * shrink from the right when the screen is narrow; the name and state
 * always show.
 */
#include "list.h"

#include <curses.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "tui/ui.h"

void
list_init(struct list *l)
{
	memset(l, 0, sizeof *l);
}

static void
sprite_done(struct sprite *s)
{
	free(s->name);
	free(s->status);
	free(s->from);
	free(s->checkpoint);
	free(s->last_error);
	free(s->busy);
	free(s->op);
}

void
list_done(struct list *l)
{
	for (size_t i = 0; i < l->n; i++)
		sprite_done(&l->v[i]);
	free(l->v);
	free(l->selected);
	free(l->filter);
	memset(l, 0, sizeof *l);
}

static char *
jdup(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) && *v->valuestring != '\0' ? xstrdup(v->valuestring) : NULL;
}

static int
sprite_from_json(const cJSON *o, struct sprite *s, uint64_t now_ms)
{
	const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(o, "config"), *usage, *v;

	memset(s, 0, sizeof *s);
	s->name = jdup(o, "name");
	if (s->name == NULL)
		return -1;
	s->status = jdup(o, "status");
	if (s->status == NULL)
		s->status = xstrdup("?");
	s->from = jdup(o, "origin");
	if (s->from == NULL)
		s->from = jdup(o, "image");
	s->checkpoint = jdup(o, "checkpoint");
	s->last_error = jdup(o, "last_error");
	s->op = jdup(o, "operation");
	v = cJSON_GetObjectItemCaseSensitive(cfg, "cpus");
	s->cpus = cJSON_IsNumber(v) ? v->valueint : 0;
	v = cJSON_GetObjectItemCaseSensitive(cfg, "ram_mb");
	s->ram_mb = cJSON_IsNumber(v) ? v->valueint : 0;
	usage = cJSON_GetObjectItemCaseSensitive(o, "usage");
	v = cJSON_GetObjectItemCaseSensitive(usage, "cpu_percent");
	s->cpu_pct = cJSON_IsNumber(v) ? v->valueint : -1;
	v = cJSON_GetObjectItemCaseSensitive(usage, "memory_mb");
	s->rss_mb = cJSON_IsNumber(v) ? v->valueint : -1;
	v = cJSON_GetObjectItemCaseSensitive(usage, "disk_mb");
	s->disk_mb = cJSON_IsNumber(v) ? v->valueint : -1;
	/* The API may say how long until it sleeps; count down locally. */
	v = cJSON_GetObjectItemCaseSensitive(o, "sleep_in_s");
	if (cJSON_IsNumber(v) && v->valuedouble >= 0)
		s->sleep_at_ms = (int64_t)now_ms + (int64_t)(v->valuedouble * 1000);
	v = cJSON_GetObjectItemCaseSensitive(o, "idle_s");
	s->sleep_off = cJSON_IsNumber(v) && v->valuedouble == 0;
	v = cJSON_GetObjectItemCaseSensitive(o, "sessions");
	s->sessions = cJSON_IsNumber(v) ? v->valueint : 0;
	return 0;
}

static size_t
list_index(const struct list *l, const char *name, int *found)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(l->v[mid].name, name);

		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

struct sprite *
list_find(struct list *l, const char *name)
{
	int found;
	size_t i = list_index(l, name, &found);

	return found ? &l->v[i] : NULL;
}

static int
sprite_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sprite *)a)->name, ((const struct sprite *)b)->name);
}

void
list_set_all(struct list *l, const cJSON *sprites, uint64_t now_ms)
{
	const cJSON *o;
	struct sprite s, *old;
	size_t n = 0;
	struct sprite *v = xcalloc((size_t)cJSON_GetArraySize(sprites) + 1, sizeof *v);

	cJSON_ArrayForEach(o, sprites) {
		if (sprite_from_json(o, &s, now_ms) < 0) {
			sprite_done(&s);
			continue;
		}
		/* What this dashboard is doing to it is not in the API's answer. */
		old = list_find(l, s.name);
		if (old != NULL && old->busy != NULL)
			s.busy = xstrdup(old->busy);
		v[n++] = s;
	}
	qsort(v, n, sizeof *v, sprite_cmp);
	for (size_t i = 0; i < l->n; i++)
		sprite_done(&l->v[i]);
	free(l->v);
	l->v = v;
	l->n = n;
}

void
list_update(struct list *l, const cJSON *sprite, uint64_t now_ms)
{
	struct sprite s;
	int found;
	size_t i;

	if (sprite_from_json(sprite, &s, now_ms) < 0) {
		sprite_done(&s);
		return;
	}
	i = list_index(l, s.name, &found);
	if (found) {
		s.busy = l->v[i].busy;
		l->v[i].busy = NULL;
		sprite_done(&l->v[i]);
		l->v[i] = s;
		return;
	}
	l->v = xreallocarray(l->v, l->n + 1, sizeof *l->v);
	memmove(&l->v[i + 1], &l->v[i], (l->n - i) * sizeof *l->v);
	l->v[i] = s;
	l->n++;
}

int
list_remove(struct list *l, const char *name)
{
	int found;
	size_t i = list_index(l, name, &found);

	if (!found)
		return 0;
	sprite_done(&l->v[i]);
	memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof *l->v);
	l->n--;
	return 1;
}

static int
list_shown(const struct list *l, const struct sprite *s)
{
	return l->filter == NULL || strstr(s->name, l->filter) != NULL;
}

/* Index among shown rows of the selection, or -1. */
static int
list_sel_row(const struct list *l)
{
	int row = 0;

	for (size_t i = 0; i < l->n; i++) {
		if (!list_shown(l, &l->v[i]))
			continue;
		if (l->selected != NULL && strcmp(l->v[i].name, l->selected) == 0)
			return row;
		row++;
	}
	return -1;
}

static struct sprite *
list_shown_at(struct list *l, int row)
{
	for (size_t i = 0; i < l->n; i++) {
		if (!list_shown(l, &l->v[i]))
			continue;
		if (row-- == 0)
			return &l->v[i];
	}
	return NULL;
}

static int
list_nshown(const struct list *l)
{
	int n = 0;

	for (size_t i = 0; i < l->n; i++)
		n += list_shown(l, &l->v[i]);
	return n;
}

static void
list_select(struct list *l, const struct sprite *s)
{
	free(l->selected);
	l->selected = s != NULL ? xstrdup(s->name) : NULL;
}

struct sprite *
list_selected(struct list *l)
{
	int row = list_sel_row(l);

	if (row < 0)
		list_select(l, list_shown_at(l, 0));
	return l->selected != NULL ? list_find(l, l->selected) : NULL;
}

int
list_move(struct list *l, int delta)
{
	int row = list_sel_row(l), n = list_nshown(l), to;

	if (n == 0)
		return 0;
	to = row < 0 ? 0 : row + delta;
	if (to < 0)
		to = 0;
	if (to >= n)
		to = n - 1;
	if (to == row)
		return 0;
	list_select(l, list_shown_at(l, to));
	return 1;
}

int
list_click(struct list *l, int row)
{
	struct sprite *s = list_shown_at(l, l->top + row);

	if (s == NULL)
		return 0;
	list_select(l, s);
	return 1;
}

void
list_set_filter(struct list *l, const char *filter)
{
	free(l->filter);
	l->filter = filter != NULL && *filter != '\0' ? xstrdup(filter) : NULL;
	l->top = 0;
}

void
list_counts(const struct list *l, int *awake, int *sleeping, int *stopped, int *other)
{
	*awake = *sleeping = *stopped = *other = 0;
	for (size_t i = 0; i < l->n; i++) {
		const char *st = l->v[i].status;

		if (strcmp(st, "running") == 0)
			(*awake)++;
		else if (strcmp(st, "sleeping") == 0)
			(*sleeping)++;
		else if (strcmp(st, "stopped") == 0)
			(*stopped)++;
		else
			(*other)++;
	}
}

int
list_has_countdown(const struct list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		if (list_shown(l, &l->v[i]) && l->v[i].sleep_at_ms != 0 &&
		    strcmp(l->v[i].status, "running") == 0)
			return 1;
	}
	return 0;
}

static void
list_sleep_cell(const struct sprite *s, uint64_t now_ms, char *out, size_t n)
{
	int64_t left;

	if (strcmp(s->status, "running") != 0) {
		snprintf(out, n, "--");
	} else if (s->sleep_off) {
		snprintf(out, n, "off");
	} else if (s->sessions > 0 && s->sleep_at_ms == 0) {
		snprintf(out, n, "held");	/* a session keeps it awake */
	} else if (s->sleep_at_ms != 0) {
		left = (s->sleep_at_ms - (int64_t)now_ms + 999) / 1000;
		if (left < 0)
			left = 0;
		if (left < 120)
			snprintf(out, n, "%llds", (long long)left);
		else if (left < 7200)
			snprintf(out, n, "%lldm", (long long)(left / 60));
		else
			snprintf(out, n, "%lldh", (long long)(left / 3600));
	} else {
		snprintf(out, n, "--");
	}
}

/* A size in MiB the short way ("412M", "1.2G"); "--" when unknown. */
static void
list_size_cell(int mb, char *out, size_t n)
{
	if (mb < 0)
		snprintf(out, n, "--");
	else if (mb >= 1024)
		snprintf(out, n, "%.1fG", mb / 1024.0);
	else
		snprintf(out, n, "%dM", mb);
}

void
list_draw(struct list *l, int y, int x, int h, int w, int focused, uint64_t now_ms)
{
	int row, n, sel, name_w = 14, wide = w >= 64;
	char line[512], sleep_in[16], mem[16], disk[16], cpu[16];
	struct sprite *s;

	list_selected(l);
	l->height = h - 1;
	ui_fill(y, x, w, 0);
	if (wide)
		snprintf(line, sizeof line, " %-*s %-9s %-5s %-4s %-5s %-5s %-5s %s", name_w, "NAME",
		    "STATE", "SLEEP", "CPU", "MEM", "DISK", "CKPT", "FROM");
	else
		snprintf(line, sizeof line, " %-*s %-9s %-5s %-5s %s", name_w, "NAME", "STATE",
		    "SLEEP", "CKPT", "FROM");
	ui_text(y, x, w, line, A_BOLD, 0);
	n = list_nshown(l);
	sel = list_sel_row(l);
	if (sel >= 0 && sel < l->top)
		l->top = sel;
	if (sel >= 0 && sel >= l->top + h - 1)
		l->top = sel - (h - 2);
	if (l->top > n - (h - 1))
		l->top = n - (h - 1) > 0 ? n - (h - 1) : 0;
	for (row = 0; row < h - 1; row++) {
		s = list_shown_at(l, l->top + row);
		ui_fill(y + 1 + row, x, w, 0);
		if (s == NULL) {
			if (row == 0 && n == 0)
				ui_text(y + 1, x, w, l->n == 0 ? " no sprites yet: n creates one" :
				    " no sprite matches the filter", A_DIM, 0);
			continue;
		}
		list_sleep_cell(s, now_ms, sleep_in, sizeof sleep_in);
		/* What it uses while awake; asleep or stopped, nothing. */
		list_size_cell(s->rss_mb, mem, sizeof mem);
		list_size_cell(s->disk_mb, disk, sizeof disk);
		if (s->cpu_pct >= 0)
			snprintf(cpu, sizeof cpu, "%d%%", s->cpu_pct);
		else
			snprintf(cpu, sizeof cpu, "--");
		int attr = l->top + row == sel ? (focused ? A_REVERSE : A_BOLD) : 0;
		const char *st = s->busy != NULL ? s->busy : s->op != NULL ? s->op : s->status;

		snprintf(line, sizeof line, "%c%-*.*s ", l->top + row == sel ? '>' : ' ', name_w,
		    name_w, s->name);
		ui_text(y + 1 + row, x, w, line, attr, 0);
		ui_text(y + 1 + row, x + name_w + 2, w - name_w - 2, st, attr,
		    ui_state_pair(s->busy != NULL || s->op != NULL ? "busy" : s->status));
		if (wide)
			snprintf(line, sizeof line, "%-*s%-5s %-4s %-5s %-5s %-5s %s",
			    10 - (int)strlen(st) > 1 ? 10 - (int)strlen(st) : 1, "", sleep_in,
			    cpu, mem, disk, s->checkpoint ? s->checkpoint : "-", s->from ? s->from : "-");
		else
			snprintf(line, sizeof line, "%-*s%-5s %-5s %s",
			    10 - (int)strlen(st) > 1 ? 10 - (int)strlen(st) : 1, "", sleep_in,
			    s->checkpoint ? s->checkpoint : "-", s->from ? s->from : "-");
		ui_text(y + 1 + row, x + name_w + 2 + (int)strlen(st),
		    w - name_w - 2 - (int)strlen(st), line, attr, 0);
	}
}
