/*
 * timeline: NDJSON operation answers and the checkpoint tree, for people.
 */
#include "timeline.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/format.h"
#include "common/buf.h"
#include "common/xmalloc.h"

static const char *
str_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int
timeline_result(const char *body, size_t len, char **ret_data, char **ret_id, char **cause)
{
	const char *p = body, *end = body + len, *nl;
	char *data = NULL, *id = NULL, *info = NULL;
	const char *type, *s;
	cJSON *j;
	int r = -EBADMSG;

	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		j = cJSON_ParseWithLength(p, (size_t)(nl - p));
		type = str_of(j, "type");
		if (type == NULL) {
			/* Blank or not JSON: the SDK skips such lines too. */
		} else if (strcmp(type, "error") == 0) {
			s = str_of(j, "error");
			if (s == NULL)
				s = str_of(j, "data");
			*cause = xstrdup(s != NULL ? s : "the operation failed");
			cJSON_Delete(j);
			free(data);
			free(id);
			free(info);
			return -EIO;
		} else if (strcmp(type, "complete") == 0 && r != 0) {
			s = str_of(j, "data");
			data = s != NULL ? xstrdup(s) : NULL;
			s = str_of(j, "id");
			id = s != NULL ? xstrdup(s) : NULL;
			r = 0;
		} else if (strcmp(type, "info") == 0 && (s = str_of(j, "data")) != NULL) {
			free(info);
			info = xstrdup(s);
		}
		cJSON_Delete(j);
	}
	if (r < 0) {
		*cause = info != NULL ?
		    xasprintf("the daemon's answer ended before the operation did (last: %s)", info) :
		    xstrdup("the daemon's answer ended before the operation did");
		free(info);
		return r;
	}
	free(info);
	*ret_data = data;
	*ret_id = id;
	return 0;
}

struct node {
	const cJSON	*cp;
	int		 parent;	/* index, or -1 */
	int		 seen;
};

struct row {
	char	*id;	/* with its tree prefix and marker */
	char	*age;
	char	*comment;
};

static void
render_row(struct node *nodes, int i, int level, int branch, int64_t now, struct row *out)
{
	const cJSON *cp = nodes[i].cp;
	const char *id = str_of(cp, "id"), *comment = str_of(cp, "comment");
	char age[32];
	struct buf b;

	buf_init(&b);
	if (level > 0) {
		buf_add(&b, "  ", 2);
		for (int k = 1; k < level; k++)
			buf_add(&b, "   ", 3);
		buf_add(&b, branch ? "+- " : "   ", 3);
	}
	buf_add_printf(&b, "%s", id != NULL ? id : "?");
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cp, "current")))
		buf_add(&b, " *", 2);
	out->id = xstrdup(buf_cstr(&b));
	buf_reset(&b);
	format_age_since(str_of(cp, "create_time"), now, age, sizeof age);
	out->age = xstrdup(age);
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cp, "is_auto")))
		buf_add_printf(&b, "(auto) ");
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cp, "memory")))
		buf_add_printf(&b, "(memory) ");
	if (comment != NULL)
		buf_add_printf(&b, "%s", comment);
	out->comment = xstrdup(buf_cstr(&b));
	for (size_t len = strlen(out->comment); len > 0 && out->comment[len - 1] == ' '; len--)
		out->comment[len - 1] = '\0';
	buf_done(&b);
}

/* Draws @i's line, its older children as branches one level in, then goes
 * on along its newest child at this level (a loop: chains are long). */
static void
render_walk(struct node *nodes, int n, int i, int level, int branch, int64_t now,
    struct row *rows, int *nrows)
{
	int last, k;

	while (i >= 0 && !nodes[i].seen) {
		nodes[i].seen = 1;
		render_row(nodes, i, level, branch, now, &rows[(*nrows)++]);
		last = -1;
		for (k = 0; k < n; k++) {
			if (nodes[k].parent == i && !nodes[k].seen)
				last = k;
		}
		for (k = 0; k < last; k++) {
			if (nodes[k].parent == i && !nodes[k].seen)
				render_walk(nodes, n, k, level + 1, 1, now, rows, nrows);
		}
		i = last;
		branch = 0;
	}
}

char *
timeline_render(const cJSON *checkpoints, int64_t now)
{
	int n = cJSON_GetArraySize(checkpoints), nrows = 0, i, k, w[2] = { 2, 7 };
	struct node *nodes = xcalloc((size_t)n + 1, sizeof *nodes);
	struct row *rows = xcalloc((size_t)n + 1, sizeof *rows);
	const cJSON *cp;
	struct buf b;
	char *out;

	i = 0;
	cJSON_ArrayForEach(cp, checkpoints)
		nodes[i++].cp = cp;
	for (i = 0; i < n; i++) {
		const char *src = str_of(nodes[i].cp, "source_id");

		nodes[i].parent = -1;
		for (k = 0; src != NULL && k < n; k++) {
			const char *id = str_of(nodes[k].cp, "id");

			if (k != i && id != NULL && strcmp(id, src) == 0)
				nodes[i].parent = k;
		}
	}
	/* Roots first, in order; then whatever a loop of parents hid. */
	for (i = 0; i < n; i++) {
		if (nodes[i].parent < 0)
			render_walk(nodes, n, i, 0, 0, now, rows, &nrows);
	}
	for (i = 0; i < n; i++)
		render_walk(nodes, n, i, 0, 0, now, rows, &nrows);

	for (i = 0; i < nrows; i++) {
		if ((int)strlen(rows[i].id) > w[0])
			w[0] = (int)strlen(rows[i].id);
		if ((int)strlen(rows[i].age) > w[1])
			w[1] = (int)strlen(rows[i].age);
	}
	buf_init(&b);
	buf_add_printf(&b, "%-*s  %-*s  COMMENT\n", w[0], "ID", w[1], "CREATED");
	for (i = 0; i < nrows; i++) {
		if (*rows[i].comment != '\0')
			buf_add_printf(&b, "%-*s  %-*s  %s\n", w[0], rows[i].id, w[1], rows[i].age,
			    rows[i].comment);
		else
			buf_add_printf(&b, "%-*s  %s\n", w[0], rows[i].id, rows[i].age);
		free(rows[i].id);
		free(rows[i].age);
		free(rows[i].comment);
	}
	out = xstrdup(buf_cstr(&b));
	buf_done(&b);
	free(rows);
	free(nodes);
	return out;
}

int
timeline_is_version(const char *s)
{
	if (s == NULL || s[0] != 'v' || s[1] == '\0')
		return 0;
	for (s++; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return 0;
	}
	return 1;
}

int
timeline_split_ref(const char *ref, char **ret_name, char **ret_version)
{
	const char *at = strrchr(ref, '@');

	if (at == NULL) {
		if (*ref == '\0')
			return -EINVAL;
		*ret_name = xstrdup(ref);
		*ret_version = NULL;
		return 0;
	}
	if (at == ref || at[1] == '\0')
		return -EINVAL;
	*ret_name = xstrndup(ref, (size_t)(at - ref));
	*ret_version = xstrdup(at + 1);
	return 0;
}
