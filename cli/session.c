/*
 * session: the CLI's view of detachable exec sessions: the list as a table
 * and a kill's NDJSON answer read to its end. Pure functions of the API's
 * JSON (tests/unit/test_cli_session.c).
 */
#include "session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/format.h"
#include "common/buf.h"
#include "common/xmalloc.h"

static const char *
str(const cJSON *j, const char *key, const char *def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);

	return cJSON_IsString(v) ? v->valuestring : def;
}

static int
flag(const cJSON *j, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, key));
}

char *
session_table(const cJSON *list, int64_t now)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(list, "sessions"), *s, *code;
	char age[32], state[64];
	struct buf b;
	char *out;

	buf_init(&b);
	if (cJSON_GetArraySize(arr) > 0)
		buf_add_printf(&b, "%-6s %-10s %-4s %-10s %s\n", "ID", "STATE", "TTY", "CREATED",
		    "COMMAND");
	cJSON_ArrayForEach(s, arr) {
		code = cJSON_GetObjectItemCaseSensitive(s, "exit_code");
		if (!flag(s, "exited"))
			snprintf(state, sizeof state, "%s", flag(s, "attached") ? "attached" : "running");
		else if (cJSON_IsNumber(code))
			snprintf(state, sizeof state, "exited %d", code->valueint);
		else
			snprintf(state, sizeof state, "ended");
		format_age_since(str(s, "created", ""), now, age, sizeof age);
		buf_add_printf(&b, "%-6s %-10s %-4s %-10s %s", str(s, "id", "?"), state,
		    flag(s, "tty") ? "yes" : "no", age, str(s, "command", ""));
		if (flag(s, "exited") && str(s, "reason", NULL) != NULL)
			buf_add_printf(&b, " (%s)", str(s, "reason", ""));
		buf_add_printf(&b, "\n");
	}
	out = xstrdup(buf_cstr(&b));
	buf_done(&b);
	return out;
}

int
session_tty(const cJSON *list, const char *id)
{
	const cJSON *s;

	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(list, "sessions")) {
		if (strcmp(str(s, "id", ""), id) == 0)
			return flag(s, "tty");
	}
	return -ENOENT;
}

int
session_kill_result(const char *body, size_t len, int *ret_code, char **cause)
{
	const char *p = body, *end = body + len, *nl;
	int code = -1, exited = 0, complete = 0;
	const cJSON *v;
	cJSON *j;

	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		j = cJSON_ParseWithLength(p, (size_t)(nl - p));
		if (j == NULL)
			continue;
		if (strcmp(str(j, "type", ""), "exited") == 0) {
			exited = 1;
			v = cJSON_GetObjectItemCaseSensitive(j, "exit_code");
			if (cJSON_IsNumber(v))
				code = v->valueint;
		} else if (strcmp(str(j, "type", ""), "complete") == 0) {
			complete = 1;
		}
		cJSON_Delete(j);
	}
	if (!exited || !complete) {
		*cause = xstrdup("the daemon did not say how the session ended");
		return -EBADMSG;
	}
	*ret_code = code;
	return 0;
}
