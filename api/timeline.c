/*
 * timeline: the API's view of a sprite's checkpoints, in the Sprites shape:
 * GET .../checkpoints and .../checkpoints/ID, the checkpoint ids ("vN")
 * other answers carry, and the NDJSON lines checkpoint and restore answer
 * with. The operations themselves, and their streams, are in api.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api_internal.h"
#include "common/buf.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "core/core.h"

/* The row with database id @id, or NULL. */
static const struct checkpoint_row *
timeline_by_id(const struct checkpoint_row *rows, size_t n, int64_t id)
{
	for (size_t i = 0; id != 0 && i < n; i++) {
		if (rows[i].id == id)
			return &rows[i];
	}
	return NULL;
}

static cJSON *
timeline_json(const struct checkpoint_row *rows, size_t n, const struct checkpoint_row *cp,
    int64_t head)
{
	const struct checkpoint_row *parent = timeline_by_id(rows, n, cp->parent_id);
	cJSON *j = cJSON_CreateObject();
	char id[32], when[32];

	snprintf(id, sizeof id, "v%d", cp->version);
	cJSON_AddStringToObject(j, "id", id);
	format_rfc3339(cp->created_at, when, sizeof when);
	cJSON_AddStringToObject(j, "create_time", when);
	if (cp->comment != NULL)
		cJSON_AddStringToObject(j, "comment", cp->comment);
	else
		cJSON_AddNullToObject(j, "comment");
	cJSON_AddBoolToObject(j, "is_auto", cp->is_auto);
	if (parent != NULL) {
		snprintf(id, sizeof id, "v%d", parent->version);
		cJSON_AddStringToObject(j, "source_id", id);
	} else {
		cJSON_AddNullToObject(j, "source_id");
	}
	cJSON_AddBoolToObject(j, "current", cp->id == head);
	cJSON_AddBoolToObject(j, "memory", cp->mem_dir != NULL);
	return j;
}

/* The sprite's head and checkpoints; on failure queues the error response
 * and returns it through *@ret_mhd. */
static int
timeline_load(struct api *a, struct MHD_Connection *conn, const char *name, int64_t *head,
    struct checkpoint_row **rows, size_t *n, enum MHD_Result *ret_mhd)
{
	struct sprite_row sprite = { 0 };
	char *cause = NULL;
	const char *code;
	unsigned status;
	int r;

	r = core_get(a->core, name, &sprite, &cause);
	if (r == 0) {
		*head = sprite.head_checkpoint_id;
		r = core_checkpoints(a->core, name, rows, n, &cause);
	}
	sprite_row_done(&sprite);
	if (r < 0) {
		status = api_status_for(r, &code);
		*ret_mhd = api_error(conn, status, code, cause ? cause : strerror(-r));
		free(cause);
	}
	return r;
}

enum MHD_Result
timeline_list(struct api *a, struct MHD_Connection *conn, const char *name)
{
	struct checkpoint_row *rows = NULL;
	enum MHD_Result ret;
	int64_t head = 0;
	size_t n = 0;
	cJSON *arr;

	if (MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "history") != NULL)
		return api_error(conn, MHD_HTTP_NOT_IMPLEMENTED, "not_implemented",
		    "sprig does not filter checkpoints by history yet");
	if (timeline_load(a, conn, name, &head, &rows, &n, &ret) < 0)
		return ret;
	arr = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, timeline_json(rows, n, &rows[i], head));
	checkpoint_rows_free(rows, n);
	return api_json(conn, MHD_HTTP_OK, arr);
}

static char *
timeline_missing(const char *name, const char *id)
{
	if (core_parse_version(id) < 0)
		return xasprintf("sprite \"%s\" has no checkpoint \"%s\" (ids look like v3)",
		    name, id);
	return xasprintf("sprite \"%s\" has no checkpoint v%d", name, core_parse_version(id));
}

enum MHD_Result
timeline_get(struct api *a, struct MHD_Connection *conn, const char *name, const char *id)
{
	struct checkpoint_row *rows = NULL;
	const struct checkpoint_row *cp = NULL;
	enum MHD_Result ret;
	int64_t head = 0;
	size_t n = 0;
	char *msg;
	int v;

	if (timeline_load(a, conn, name, &head, &rows, &n, &ret) < 0)
		return ret;
	v = core_parse_version(id);
	for (size_t i = 0; v >= 0 && i < n; i++) {
		if (rows[i].version == v)
			cp = &rows[i];
	}
	if (cp == NULL) {
		msg = timeline_missing(name, id);
		ret = api_error(conn, MHD_HTTP_NOT_FOUND, "not_found", msg);
		free(msg);
	} else {
		ret = api_json(conn, MHD_HTTP_OK, timeline_json(rows, n, cp, head));
	}
	checkpoint_rows_free(rows, n);
	return ret;
}

int
timeline_head(struct core *c, const struct sprite_row *row)
{
	struct checkpoint_row *rows = NULL;
	const struct checkpoint_row *cp;
	char *cause = NULL;
	size_t n = 0;
	int v;

	if (row->head_checkpoint_id == 0)
		return -ENOENT;
	if (core_checkpoints(c, row->name, &rows, &n, &cause) < 0) {
		free(cause);
		return -ENOENT;
	}
	cp = timeline_by_id(rows, n, row->head_checkpoint_id);
	v = cp != NULL ? cp->version : -ENOENT;
	checkpoint_rows_free(rows, n);
	return v;
}

void
timeline_line(struct buf *b, const char *type, const char *key, const char *text,
    const char *id)
{
	cJSON *j = cJSON_CreateObject();
	char *s;

	cJSON_AddStringToObject(j, "type", type);
	cJSON_AddStringToObject(j, key, text);
	if (id != NULL)
		cJSON_AddStringToObject(j, "id", id);
	s = cJSON_PrintUnformatted(j);
	if (s == NULL)
		abort();
	buf_add(b, s, strlen(s));
	buf_add_u8(b, '\n');
	free(s);
	cJSON_Delete(j);
}

enum MHD_Result
timeline_rm(struct api *a, struct MHD_Connection *conn, const char *name, const char *id)
{
	char *cause = NULL;
	enum MHD_Result ret;
	int r;

	r = core_checkpoint_rm(a->core, name, id, &cause);
	if (r < 0)
		ret = api_error_errno(conn, r, cause);
	else
		ret = api_no_content(conn);
	free(cause);
	return ret;
}
