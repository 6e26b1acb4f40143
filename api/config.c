/*
 * config: a sprite's own settings and what only the daemon knows of it.
 *
 *	POST /v1/sprites/NAME/config	{"idle_s": 300 | 0 (never) | null (the default)}
 *	GET  /v1/settings		the daemon's limits
 *	POST /v1/settings		{"max_awake": 4, "max_memory_mb": 2048,
 *					 "max_execs": 256, "max_execs_per_sprite": 64} (0: none)
 *
 * The first answers the sprite, whose object carries (config_add_status)
 * the idle time in force, the seconds until it sleeps if nothing uses it,
 * the operation under way, the sessions holding it awake, and what it costs
 * the host ("usage": CPU percent of one CPU, lately, while the event stream
 * is watched; its QEMU's resident memory; its layers' disk, in MiB).
 */
#include <errno.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "api_internal.h"
#include "common/xmalloc.h"
#include "core/core.h"

void
config_add_status(struct api *a, const struct sprite_row *row, cJSON *j)
{
	struct core_status st;
	cJSON *usage;

	core_status(a->core, row, &st);
	cJSON_AddNumberToObject(j, "idle_s", (double)st.idle_s);
	if (row->idle_s >= 0)
		cJSON_AddNumberToObject(j, "idle_s_own", (double)row->idle_s);
	if (st.sleep_in_ms >= 0)
		cJSON_AddNumberToObject(j, "sleep_in_s", (double)((st.sleep_in_ms + 999) / 1000));
	else
		cJSON_AddNullToObject(j, "sleep_in_s");
	if (st.op != NULL)
		cJSON_AddStringToObject(j, "operation", st.op);
	else
		cJSON_AddNullToObject(j, "operation");
	cJSON_AddNumberToObject(j, "sessions", st.sessions);
	usage = cJSON_AddObjectToObject(j, "usage");
	if (st.cpu_pct >= 0)
		cJSON_AddNumberToObject(usage, "cpu_percent", (double)(int)(st.cpu_pct + 0.5));
	else
		cJSON_AddNullToObject(usage, "cpu_percent");
	if (st.rss_mb >= 0)
		cJSON_AddNumberToObject(usage, "memory_mb", (double)st.rss_mb);
	else
		cJSON_AddNullToObject(usage, "memory_mb");
	if (st.disk_mb >= 0)
		cJSON_AddNumberToObject(usage, "disk_mb", (double)st.disk_mb);
	else
		cJSON_AddNullToObject(usage, "disk_mb");
}

/* Reads {"idle_s": N | null}; -1 stands for null. */
static int
config_parse(const char *body, size_t len, int64_t *ret, char **cause)
{
	cJSON *j = cJSON_ParseWithLength(body, len), *v;
	int r = -EINVAL;

	if (!cJSON_IsObject(j)) {
		*cause = xstrdup("the body must be a JSON object, e.g. {\"idle_s\": 300}");
		goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(j, "idle_s");
	if (v == NULL) {
		*cause = xstrdup("nothing to set: give \"idle_s\" (seconds; 0 never sleeps; "
		    "null the daemon's default)");
		goto out;
	}
	if (cJSON_IsNull(v)) {
		*ret = -1;
	} else if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 365.0 * 86400 &&
	    v->valuedouble == (double)(int64_t)v->valuedouble) {
		*ret = (int64_t)v->valuedouble;
	} else {
		*cause = xstrdup("\"idle_s\" must be whole seconds from 0 (never sleeps) to a "
		    "year, or null");
		goto out;
	}
	r = 0;
out:
	cJSON_Delete(j);
	return r;
}

enum MHD_Result
config_handle(struct api *a, struct MHD_Connection *conn, const char *name,
    const char *body, size_t len)
{
	char *cause = NULL;
	enum MHD_Result ret;
	int64_t idle_s;
	int r;

	r = config_parse(body, len, &idle_s, &cause);
	if (r < 0) {
		ret = api_error(conn, MHD_HTTP_BAD_REQUEST, "invalid_request", cause);
		free(cause);
		return ret;
	}
	r = core_set_idle(a->core, name, idle_s, &cause);
	if (r < 0) {
		ret = api_error_errno(conn, r, cause);
		free(cause);
		return ret;
	}
	return api_sprite(a, conn, name, MHD_HTTP_OK);
}

static cJSON *
settings_json(struct api *a)
{
	struct core_settings set;
	cJSON *j = cJSON_CreateObject();

	core_settings_get(a->core, &set);
	cJSON_AddNumberToObject(j, "max_awake", (double)set.max_awake);
	cJSON_AddNumberToObject(j, "max_memory_mb", (double)set.max_memory_mb);
	cJSON_AddNumberToObject(j, "max_execs", (double)set.max_execs);
	cJSON_AddNumberToObject(j, "max_execs_per_sprite", (double)set.max_execs_sprite);
	return j;
}

/* A limit from @j: -1 when absent (left as it is). */
static int
settings_field(const cJSON *j, const char *key, int64_t *ret, char **cause)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);

	*ret = -1;
	if (v == NULL)
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e9 ||
	    v->valuedouble != (double)(int64_t)v->valuedouble) {
		*cause = xasprintf("\"%s\" must be a whole number from 0 (no limit)", key);
		return -EINVAL;
	}
	*ret = (int64_t)v->valuedouble;
	return 0;
}

enum MHD_Result
settings_handle(struct api *a, struct MHD_Connection *conn, int post, const char *body,
    size_t len)
{
	struct core_settings set;
	char *cause = NULL;
	enum MHD_Result ret;
	cJSON *j;
	int r;

	if (!post)
		return api_json(conn, MHD_HTTP_OK, settings_json(a));
	j = cJSON_ParseWithLength(body, len);
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return api_error(conn, MHD_HTTP_BAD_REQUEST, "invalid_request",
		    "the body must be a JSON object, e.g. {\"max_awake\": 4}");
	}
	r = settings_field(j, "max_awake", &set.max_awake, &cause);
	if (r == 0)
		r = settings_field(j, "max_memory_mb", &set.max_memory_mb, &cause);
	if (r == 0)
		r = settings_field(j, "max_execs", &set.max_execs, &cause);
	if (r == 0)
		r = settings_field(j, "max_execs_per_sprite", &set.max_execs_sprite, &cause);
	cJSON_Delete(j);
	if (r == 0)
		r = core_settings_set(a->core, &set, &cause);
	if (r < 0) {
		ret = r == -EINVAL ? api_error(conn, MHD_HTTP_BAD_REQUEST, "invalid_request", cause) :
		    api_error_errno(conn, r, cause);
		free(cause);
		return ret;
	}
	return api_json(conn, MHD_HTTP_OK, settings_json(a));
}
