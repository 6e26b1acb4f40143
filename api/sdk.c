/*
 * sdk: where the Sprites SDK (@fly/sprites) asks for more than sprig's own
 * routes give: the list's filter and pages, the create options sprig cannot
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
		{ "labels", "does not keep labels yet" },
		{ "url_settings", "gives sprites no URLs" },
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
	size_t max, taken = 0, plen = prefix ? strlen(prefix) : 0;
	const struct sprite_row *last = NULL;
	int more = 0;
	cJSON *j, *arr;

	if (accept != NULL && strstr(accept, "application/x-ndjson") != NULL)
		return api_error(conn, MHD_HTTP_NOT_IMPLEMENTED, "not_implemented",
		    "sprig does not stream the sprite list (watchSprites) yet; "
		    "GET /v1/events?follow=1 streams its events");
	if (sdk_max_results(MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
	    "max_results"), &max) < 0)
		return api_error(conn, MHD_HTTP_BAD_REQUEST, "invalid_request",
		    "max_results must be a number from 1 to 1000");
	j = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(j, "sprites");
	for (size_t i = 0; i < n; i++) {
		if (prefix != NULL && strncmp(rows[i].name, prefix, plen) != 0)
			continue;
		/* The token is the last name of the page before: names sort. */
		if (after != NULL && *after != '\0' && strcmp(rows[i].name, after) <= 0)
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
