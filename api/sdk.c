/*
 * sdk: where the Sprites SDK (@fly/sprites) asks for more than sprig's own
 * routes give: the list's filter and pages (and its NDJSON watch), labels
 * and URL settings (kept in the sprite's row; sprig gives sprites no URLs,
 * so the settings are only kept and shown), the create options sprig cannot
 * honour, and the SDK's routes sprig does not serve yet, which answer 501
 * in the API's error shape rather than a bare 404 (see api/README.md).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "common/xmalloc.h"
#include "core/core.h"

#define SDK_MAX_RESULTS		1000
#define SDK_MAX_LABELS		64
#define SDK_MAX_LABEL_LEN	128


/* 1 if @v is absent, null, false, empty or an object or array of nothing
 * but such values: an option that asks for nothing. */
static int
sdk_empty(const cJSON *v)
{
	const cJSON *e;

	if (v == NULL || cJSON_IsNull(v) || cJSON_IsFalse(v))
		return 1;
	if (cJSON_IsString(v))
		return *v->valuestring == '\0';
	if (!cJSON_IsObject(v) && !cJSON_IsArray(v))
		return 0;
	cJSON_ArrayForEach(e, v) {
		if (!sdk_empty(e))
			return 0;
	}
	return 1;
}

int
sdk_create_check(const cJSON *j, char **cause)
{
	static const struct { const char *key, *why; } keys[] = {
		{ "config", "sets every sprite's memory and CPUs daemon-wide" },
		{ "environment", "has no per-sprite environment yet: pass env to each exec" },
		{ "runtime", "has no runtimes" },
	};

	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		if (!sdk_empty(cJSON_GetObjectItemCaseSensitive(j, keys[i].key))) {
			*cause = xasprintf("sprig cannot honour \"%s\" on create: it %s",
			    keys[i].key, keys[i].why);
			return -ENOTSUP;
		}
	}
	return 0;
}

/* A label: 1 to SDK_MAX_LABEL_LEN of letters, digits and - _ . : / = */
static int
sdk_label_ok(const char *l)
{
	size_t n = strlen(l);

	return n > 0 && n <= SDK_MAX_LABEL_LEN && strspn(l, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/=") == n;
}

static int
sdk_labels_parse(const cJSON *v, char **ret, char **cause)
{
	const cJSON *e, *f;
	int n = 0;

	if (!cJSON_IsArray(v)) {
		*cause = xstrdup("labels must be an array of strings, like [\"team:web\"]");
		return -EINVAL;
	}
	cJSON_ArrayForEach(e, v) {
		if (!cJSON_IsString(e) || !sdk_label_ok(e->valuestring)) {
			*cause = xasprintf("each label must be a string of 1 to %d letters, digits "
			    "and - _ . : / =", SDK_MAX_LABEL_LEN);
			return -EINVAL;
		}
		for (f = v->child; f != e; f = f->next) {
			if (strcmp(f->valuestring, e->valuestring) == 0) {
				*cause = xasprintf("label \"%s\" is given twice", e->valuestring);
				return -EINVAL;
			}
		}
		if (++n > SDK_MAX_LABELS) {
			*cause = xasprintf("a sprite has at most %d labels", SDK_MAX_LABELS);
			return -EINVAL;
		}
	}
	*ret = cJSON_PrintUnformatted(v);
	return 0;
}

int
sdk_enum_field(const cJSON *v, const char *key, const char *const *allowed, const char *hint,
    char **cause)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(v, key);

	if (f == NULL)
		return 0;
	for (size_t i = 0; cJSON_IsString(f) && allowed[i] != NULL; i++) {
		if (strcmp(f->valuestring, allowed[i]) == 0)
			return 0;
	}
	*cause = xasprintf("%s must be %s", key, hint);
	return -EINVAL;
}

int
sdk_known_keys(const cJSON *v, const char *what, const char *const *keys, char **cause)
{
	const cJSON *e;
	size_t i;

	cJSON_ArrayForEach(e, v) {
		for (i = 0; keys[i] != NULL && strcmp(e->string, keys[i]) != 0; i++)
			;
		if (keys[i] == NULL) {
			*cause = xasprintf("%s has no field \"%.64s\"", what, e->string);
			return -EINVAL;
		}
	}
	return 0;
}

static int
sdk_url_parse(const cJSON *v, char **ret, char **cause)
{
	static const char *const keys[] = { "auth", "private_access", NULL };
	static const char *const auth[] = { "sprite", "public", NULL };
	static const char *const access[] = { "admins", "org_users", NULL };
	int r;

	if (!cJSON_IsObject(v)) {
		*cause = xstrdup("url_settings must be an object like {\"auth\": \"sprite\"}");
		return -EINVAL;
	}
	r = sdk_known_keys(v, "url_settings", keys, cause);
	if (r == 0)
		r = sdk_enum_field(v, "auth", auth, "\"sprite\" or \"public\"", cause);
	if (r == 0)
		r = sdk_enum_field(v, "private_access", access, "\"admins\" or \"org_users\"",
		    cause);
	if (r == 0)
		*ret = cJSON_PrintUnformatted(v);
	return r;
}

int
sdk_meta_parse(const cJSON *j, char **ret_labels, char **ret_url, char **cause)
{
	const cJSON *l = cJSON_GetObjectItemCaseSensitive(j, "labels");
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "url_settings");
	char *labels = NULL, *url = NULL;
	int r = 0;

	if (l != NULL && !cJSON_IsNull(l))
		r = sdk_labels_parse(l, &labels, cause);
	if (r == 0 && u != NULL && !cJSON_IsNull(u))
		r = sdk_url_parse(u, &url, cause);
	if (r < 0) {
		free(labels);
		return r;
	}
	*ret_labels = labels;
	*ret_url = url;
	return 0;
}

int
sdk_meta_store(struct api *a, const char *name, const char *labels, const char *url,
    char **cause)
{
	struct store *st = core_store(a->core);
	struct sprite_row row = { 0 };
	int r;

	if (labels == NULL && url == NULL)
		return 0;
	r = core_get(a->core, name, &row, cause);
	if (r < 0)
		return r;
	r = store_sprite_set_meta(st, row.id, labels, url);
	if (r < 0)
		*cause = xasprintf("cannot save sprite \"%s\": %s", name, store_errmsg(st));
	sprite_row_done(&row);
	return r;
}

void
sdk_meta_json(const struct sprite_row *row, cJSON *j)
{
	cJSON *v = row->labels ? cJSON_Parse(row->labels) : NULL;

	if (!cJSON_IsArray(v)) {
		cJSON_Delete(v);
		v = cJSON_CreateArray();
	}
	cJSON_AddItemToObject(j, "labels", v);
	v = row->url_settings ? cJSON_Parse(row->url_settings) : NULL;
	if (cJSON_IsObject(v))
		cJSON_AddItemToObject(j, "url_settings", v);
	else
		cJSON_Delete(v);
}

int
sdk_has_label(const struct sprite_row *row, const char *label)
{
	cJSON *v = row->labels ? cJSON_Parse(row->labels) : NULL, *e;
	int found = 0;

	cJSON_ArrayForEach(e, v) {
		if (cJSON_IsString(e) && strcmp(e->valuestring, label) == 0)
			found = 1;
	}
	cJSON_Delete(v);
	return found;
}

enum MHD_Result
sdk_update(struct api *a, struct MHD_Connection *conn, const char *name, const char *body,
    size_t len)
{
	static const char *const keys[] = { "labels", "url_settings", NULL };
	cJSON *j = cJSON_ParseWithLength(body, len);
	char *labels = NULL, *url = NULL, *cause = NULL;
	enum MHD_Result ret;
	int r;

	if (!cJSON_IsObject(j)) {
		cause = xstrdup("the body must be a JSON object like {\"labels\": [\"web\"]}");
		r = -EINVAL;
	} else {
		r = sdk_known_keys(j, "a sprite update", keys, &cause);
	}
	if (r == 0)
		r = sdk_meta_parse(j, &labels, &url, &cause);
	if (r == 0 && labels == NULL && url == NULL) {
		cause = xstrdup("nothing to update: give labels or url_settings");
		r = -EINVAL;
	}
	if (r == 0)
		r = sdk_meta_store(a, name, labels, url, &cause);
	cJSON_Delete(j);
	free(labels);
	free(url);
	if (r < 0) {
		ret = api_error_errno(conn, r, cause);
		free(cause);
		return ret;
	}
	return api_sprite(a, conn, name, MHD_HTTP_OK);
}

/* ?max_results: 1 to SDK_MAX_RESULTS; absent is all. */
static int
sdk_max_results(const char *s, size_t *ret)
{
	char *end;
	long v;

	if (s == NULL) {
		*ret = SIZE_MAX;
		return 0;
	}
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < 1 || v > SDK_MAX_RESULTS)
		return -EINVAL;
	*ret = (size_t)v;
	return 0;
}

enum MHD_Result
sdk_list(struct api *a, struct MHD_Connection *conn, const struct sprite_row *rows, size_t n,
    cJSON *(*fn)(struct api *, const struct sprite_row *))
{
	const char *prefix = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "prefix");
	const char *after = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
	    "continuation_token");
	const char *accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_ACCEPT);
	const char *label = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "label");
	size_t max, taken = 0, plen = prefix ? strlen(prefix) : 0;
	const struct sprite_row *last = NULL;
	int more = 0;
	cJSON *j, *arr;

	if (sdk_max_results(MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
	    "max_results"), &max) < 0)
		return api_error(conn, MHD_HTTP_BAD_REQUEST, "invalid_request",
		    "max_results must be a number from 1 to 1000");
	if (accept != NULL && strstr(accept, "application/x-ndjson") != NULL)
		return events_watch_sprites(a, conn, rows, n);
	j = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(j, "sprites");
	for (size_t i = 0; i < n; i++) {
		if (prefix != NULL && strncmp(rows[i].name, prefix, plen) != 0)
			continue;
		/* The token is the last name of the page before: names sort. */
		if (after != NULL && *after != '\0' && strcmp(rows[i].name, after) <= 0)
			continue;
		if (label != NULL && !sdk_has_label(&rows[i], label))
			continue;
		if (taken == max) {
			more = 1;
			break;
		}
		cJSON_AddItemToArray(arr, fn(a, &rows[i]));
		last = &rows[i];
		taken++;
	}
	cJSON_AddBoolToObject(j, "has_more", more);
	if (more)
		cJSON_AddStringToObject(j, "next_continuation_token", last->name);
	return api_json(conn, MHD_HTTP_OK, j);
}
