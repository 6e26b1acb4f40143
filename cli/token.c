/*
 * token: bearer tokens for people. The secret is shown once, by create;
 * the list has only names and ages.
 */
#include "token.h"

#include <stdlib.h>
#include <string.h>

#include "cli/format.h"
#include "common/buf.h"
#include "common/xmalloc.h"

char *
token_render(const cJSON *tokens, int64_t now)
{
	const cJSON *t, *name;
	int w = 4;
	struct buf b;
	char age[32], *out;

	cJSON_ArrayForEach(t, tokens) {
		name = cJSON_GetObjectItemCaseSensitive(t, "name");
		if (cJSON_IsString(name) && (int)strlen(name->valuestring) > w)
			w = (int)strlen(name->valuestring);
	}
	buf_init(&b);
	buf_add_printf(&b, "%-*s  %s\n", w, "NAME", "CREATED");
	cJSON_ArrayForEach(t, tokens) {
		name = cJSON_GetObjectItemCaseSensitive(t, "name");
		format_age_since(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t,
		    "created_at")), now, age, sizeof age);
		buf_add_printf(&b, "%-*s  %s\n", w, cJSON_IsString(name) ? name->valuestring : "?",
		    age);
	}
	out = xstrdup(buf_cstr(&b));
	buf_done(&b);
	return out;
}
