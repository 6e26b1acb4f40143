/*
 * template: the API's view of templates, the named starting points new
 * sprites are created from: GET /v1/templates, DELETE /v1/templates/NAME,
 * and the object POST /v1/templates answers with. Saving one waits for its
 * sprite and is a suspended request in api.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api_internal.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "core/core.h"

static cJSON *
template_json(const struct template_row *t)
{
	cJSON *j = cJSON_CreateObject();
	char when[32];

	cJSON_AddStringToObject(j, "name", t->name);
	if (t->origin != NULL)
		cJSON_AddStringToObject(j, "origin", t->origin);
	else
		cJSON_AddNullToObject(j, "origin");
	format_rfc3339(t->created_at, when, sizeof when);
	cJSON_AddStringToObject(j, "created_at", when);
	return j;
}

enum MHD_Result
template_list(struct api *a, struct MHD_Connection *conn)
{
	struct template_row *rows = NULL;
	char *cause = NULL;
	enum MHD_Result ret;
	size_t n = 0;
	cJSON *arr;
	int r;

	r = core_templates(a->core, &rows, &n, &cause);
	if (r < 0) {
		ret = api_error_errno(conn, r, cause);
		free(cause);
		return ret;
	}
	arr = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, template_json(&rows[i]));
	template_rows_free(rows, n);
	return api_json(conn, MHD_HTTP_OK, arr);
}

enum MHD_Result
template_answer(struct api *a, struct MHD_Connection *conn, const char *tname,
    unsigned status)
{
	struct template_row *rows = NULL;
	cJSON *j = NULL;
	char *cause = NULL;
	enum MHD_Result ret;
	size_t n = 0;
	int r;

	r = core_templates(a->core, &rows, &n, &cause);
	for (size_t i = 0; r == 0 && i < n && j == NULL; i++) {
		if (strcmp(rows[i].name, tname) == 0)
			j = template_json(&rows[i]);
	}
	template_rows_free(rows, n);
	if (j != NULL)
		return api_json(conn, status, j);
	if (r == 0) {
		r = -ENOENT;
		cause = xasprintf("template \"%s\" not found", tname);
	}
	ret = api_error_errno(conn, r, cause);
	free(cause);
	return ret;
}

enum MHD_Result
template_rm(struct api *a, struct MHD_Connection *conn, const char *tname)
{
	char *cause = NULL;
	enum MHD_Result ret;
	int r;

	r = core_template_rm(a->core, tname, &cause);
	if (r < 0)
		ret = api_error_errno(conn, r, cause);
	else
		ret = api_no_content(conn);
	free(cause);
	return ret;
}
