/*
 * template: templates for people.
 */
#include "template.h"

#include <stdlib.h>
#include <string.h>

#include "cli/format.h"
#include "common/buf.h"
#include "common/xmalloc.h"

static const char *
str_or(const cJSON *o, const char *key, const char *dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : dflt;
}

char *
template_render(const cJSON *templates, int64_t now)
{
	int n = cJSON_GetArraySize(templates), i = 1, k, w[2] = { 4, 6 };
	char **cells = xcalloc(((size_t)n + 1) * 3, sizeof *cells);
	const cJSON *t;
	struct buf b;
	char *out;

	cells[0] = xstrdup("NAME");
	cells[1] = xstrdup("ORIGIN");
	cells[2] = xstrdup("CREATED");
	cJSON_ArrayForEach(t, templates) {
		char age[32];

		format_age_since(str_or(t, "created_at", NULL), now, age, sizeof age);
		cells[i * 3] = xstrdup(str_or(t, "name", "?"));
		cells[i * 3 + 1] = xstrdup(str_or(t, "origin", "-"));
		cells[i * 3 + 2] = xstrdup(age);
		i++;
	}
	for (i = 0; i <= n; i++) {
		for (k = 0; k < 2; k++) {
			if ((int)strlen(cells[i * 3 + k]) > w[k])
				w[k] = (int)strlen(cells[i * 3 + k]);
		}
	}
	buf_init(&b);
	for (i = 0; i <= n; i++)
		buf_add_printf(&b, "%-*s  %-*s  %s\n", w[0], cells[i * 3], w[1], cells[i * 3 + 1],
		    cells[i * 3 + 2]);
	for (i = 0; i < (n + 1) * 3; i++)
		free(cells[i]);
	free(cells);
	out = xstrdup(buf_cstr(&b));
	buf_done(&b);
	return out;
}
