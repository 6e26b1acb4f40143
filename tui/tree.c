/*
 * tree: splits timeline_render's text into lines and finds each line's id
 * (the first "vN" word, after the branch drawing).
 */
#include "tree.h"

#include <curses.h>
#include <stdlib.h>
#include <string.h>

#include "cli/timeline.h"
#include "common/xmalloc.h"
#include "tui/ui.h"

void
tree_init(struct tree *t)
{
	memset(t, 0, sizeof *t);
	t->sel = -1;
	t->current = -1;
}

static void
tree_clear(struct tree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->lines[i]);
		free(t->ids[i]);
	}
	free(t->lines);
	free(t->ids);
	free(t->memory);
	free(t->header);
	free(t->note);
	t->lines = t->ids = NULL;
	t->memory = NULL;
	t->header = t->note = NULL;
	t->n = 0;
	t->current = -1;
}

void
tree_done(struct tree *t)
{
	tree_clear(t);
	free(t->sprite);
	tree_init(t);
}

/* The id on a rendered line: the first word that is "v" and digits. */
static char *
tree_line_id(const char *line)
{
	const char *p = line;
	size_t n;
	char *w;

	while (*p != '\0') {
		while (*p == ' ' || *p == '+' || *p == '-')
			p++;
		n = strcspn(p, " ");
		w = xstrndup(p, n);
		if (timeline_is_version(w))
			return w;
		free(w);
		p += n;
		if (n == 0)
			break;
	}
	return xstrdup("");
}

/* Whether the API's checkpoint @id in @checkpoints holds memory. */
static int
tree_json_memory(const cJSON *checkpoints, const char *id)
{
	const cJSON *cp, *v;

	cJSON_ArrayForEach(cp, checkpoints) {
		v = cJSON_GetObjectItemCaseSensitive(cp, "id");
		if (cJSON_IsString(v) && strcmp(v->valuestring, id) == 0)
			return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cp, "memory"));
	}
	return 0;
}

void
tree_set(struct tree *t, const char *sprite, const cJSON *checkpoints, int64_t now)
{
	char *text = timeline_render(checkpoints, now), *keep = NULL, *p, *nl;
	int same = t->sprite != NULL && strcmp(t->sprite, sprite) == 0;

	if (same && t->sel >= 0 && (size_t)t->sel < t->n)
		keep = xstrdup(t->ids[t->sel]);
	tree_clear(t);
	free(t->sprite);
	t->sprite = xstrdup(sprite);
	t->sel = -1;
	if (!same)
		t->top = 0;
	p = text;
	nl = strchr(p, '\n');
	t->header = nl ? xstrndup(p, (size_t)(nl - p)) : xstrdup(p);
	p = nl ? nl + 1 : p + strlen(p);
	while (*p != '\0') {
		nl = strchr(p, '\n');
		t->lines = xreallocarray(t->lines, t->n + 1, sizeof *t->lines);
		t->ids = xreallocarray(t->ids, t->n + 1, sizeof *t->ids);
		t->memory = xreallocarray(t->memory, t->n + 1, sizeof *t->memory);
		t->lines[t->n] = nl ? xstrndup(p, (size_t)(nl - p)) : xstrdup(p);
		t->ids[t->n] = tree_line_id(t->lines[t->n]);
		t->memory[t->n] = (unsigned char)tree_json_memory(checkpoints, t->ids[t->n]);
		if (strstr(t->lines[t->n], " *") != NULL && t->current < 0)
			t->current = (int)t->n;
		if (keep != NULL && strcmp(keep, t->ids[t->n]) == 0)
			t->sel = (int)t->n;
		t->n++;
		p = nl ? nl + 1 : p + strlen(p);
	}
	if (t->sel < 0)
		t->sel = t->current >= 0 ? t->current : (int)t->n - 1;
	if (t->n == 0)
		t->note = xstrdup("no checkpoints yet: c makes one");
	free(keep);
	free(text);
}

void
tree_reset(struct tree *t, const char *sprite, const char *note)
{
	int same = sprite != NULL && t->sprite != NULL && strcmp(t->sprite, sprite) == 0;

	if (same && t->n > 0 && note != NULL && strcmp(note, "loading") == 0)
		return;	/* keep showing the old lines until the new ones come */
	tree_clear(t);
	free(t->sprite);
	t->sprite = sprite ? xstrdup(sprite) : NULL;
	t->note = note ? xstrdup(note) : NULL;
	t->sel = -1;
	t->top = 0;
}

const char *
tree_selected(const struct tree *t)
{
	if (t->sel < 0 || (size_t)t->sel >= t->n || *t->ids[t->sel] == '\0')
		return NULL;
	return t->ids[t->sel];
}

int
tree_has_memory(const struct tree *t, const char *id)
{
	for (size_t i = 0; i < t->n; i++) {
		if (strcmp(t->ids[i], id) == 0)
			return t->memory[i];
	}
	return 0;
}

int
tree_move(struct tree *t, int delta)
{
	int to = t->sel + delta;

	if (t->n == 0)
		return 0;
	if (to < 0)
		to = 0;
	if (to >= (int)t->n)
		to = (int)t->n - 1;
	if (to == t->sel)
		return 0;
	t->sel = to;
	return 1;
}

int
tree_click(struct tree *t, int row)
{
	int i = t->top + row;

	if (i < 0 || i >= (int)t->n)
		return 0;
	t->sel = i;
	return 1;
}

void
tree_draw(struct tree *t, int y, int x, int h, int w, int focused)
{
	char title[160];
	int row, i, rows = h - 2;

	ui_fill(y, x, w, 0);
	snprintf(title, sizeof title, " TIMELINE %s", t->sprite ? t->sprite : "");
	ui_text(y, x, w, title, A_BOLD, 0);
	ui_fill(y + 1, x, w, 0);
	if (t->header != NULL && t->n > 0)
		ui_text(y + 1, x + 1, w - 1, t->header, A_DIM, 0);
	if (t->sel >= 0 && t->sel < t->top)
		t->top = t->sel;
	if (t->sel >= 0 && t->sel >= t->top + rows)
		t->top = t->sel - rows + 1;
	for (row = 0; row < rows; row++) {
		i = t->top + row;
		ui_fill(y + 2 + row, x, w, 0);
		if (i >= (int)t->n) {
			if (row == 0 && t->note != NULL)
				ui_text(y + 2, x + 1, w - 1, t->note, A_DIM, 0);
			continue;
		}
		ui_text(y + 2 + row, x, 1, i == t->sel ? ">" : " ", 0, 0);
		ui_text(y + 2 + row, x + 1, w - 1, t->lines[i],
		    i == t->sel ? (focused ? A_REVERSE : A_BOLD) : 0,
		    i == t->current ? UI_PAIR_CURRENT : 0);
	}
}
