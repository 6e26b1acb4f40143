/*
 * api: HTTP routing and the request lifecycle on libmicrohttpd.
 *
 * Requests that take time (create, start, stop, destroy, sleep, wake,
 * checkpoint, restore, fork, template save) suspend their connection and
 * resume it when core reports; the request record is shared by MHD and
 * core, reference-counted, so either may finish first. Checkpoint and
 * restore answer in NDJSON, as the Sprites API streams them: all lines at
 * once when core is done (an operation takes milliseconds to a boot's
 * seconds; the SDK reads lines either way).
 */
#include "api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "api_internal.h"
#include "common/buf.h"
#include "common/loop.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "core/core.h"
#include "vmm/vmm.h"

#define API_MAX_BODY		(1024 * 1024)
#define API_MAX_CONNECTIONS	256
#define SPRIG_VERSION		"0.1.0"

enum route {
	ROUTE_NONE,
	ROUTE_LIST,
	ROUTE_CREATE,
	ROUTE_GET,
	ROUTE_DELETE,
	ROUTE_START,
	ROUTE_STOP,
	ROUTE_EXEC,
	ROUTE_PROBE,
	ROUTE_DAEMON,
	ROUTE_CHECKPOINT,	/* POST .../checkpoint */
	ROUTE_CHECKPOINTS,	/* GET .../checkpoints */
	ROUTE_CHECKPOINT_GET,	/* GET .../checkpoints/ID */
	ROUTE_RESTORE,		/* POST .../checkpoints/ID/restore */
	ROUTE_FORK,		/* POST .../fork */
	ROUTE_CHECKPOINT_RM,	/* DELETE .../checkpoints/ID */
	ROUTE_SLEEP,		/* POST .../sleep */
	ROUTE_WAKE,		/* POST .../wake */
	ROUTE_TEMPLATES,	/* GET /v1/templates */
	ROUTE_TEMPLATE_SAVE,	/* POST /v1/templates */
	ROUTE_TEMPLATE_RM,	/* DELETE /v1/templates/NAME */
	ROUTE_IMAGE,		/* GET /v1/images/NAME */
	ROUTE_IMAGE_BUILD,	/* POST /v1/images/NAME/build */
};

struct request {
	struct api		*api;
	struct MHD_Connection	*conn;
	enum route		 route;
	char			*name;
	struct buf		 body;
	int			 too_big;
	int			 refs;		/* MHD's and core's */
	int			 started;	/* an operation was handed to core */
	int			 finished;	/* core answered */
	int			 idle;		/* the sprite had no operation under way */
	int			 err;
	char			*cause;
	struct exec		*exec;		/* ROUTE_EXEC's state */
	struct probe		*probe;		/* ROUTE_PROBE's */
	char			*ckpt;		/* the checkpoint id ("v3", "undo"), or NULL */
	char			*comment;	/* ROUTE_CHECKPOINT's, or NULL */
	int			 memory;	/* ROUTE_CHECKPOINT's: with the guest's memory */
	char			*new_name;	/* ROUTE_FORK's */
	char			*image;		/* ROUTE_CREATE's, or NULL */
	char			*tname;		/* a template: ROUTE_CREATE's (or NULL),
						 * ROUTE_TEMPLATE_SAVE's, ROUTE_TEMPLATE_RM's */
	int			 parsed;	/* the body was read and checked */
	int			 version;	/* the checkpoint made */
};

static void
request_unref(struct request *rq)
{
	if (--rq->refs > 0)
		return;
	exec_unref(rq->exec);
	probe_free(rq->probe);
	buf_done(&rq->body);
	free(rq->name);
	free(rq->cause);
	free(rq->ckpt);
	free(rq->comment);
	free(rq->new_name);
	free(rq->image);
	free(rq->tname);
	free(rq);
}

unsigned
api_status_for(int err, const char **code)
{
	switch (err) {
	case -EINVAL:
		*code = "invalid_request";
		return MHD_HTTP_BAD_REQUEST;
	case -ENOENT:
		*code = "not_found";
		return MHD_HTTP_NOT_FOUND;
	case -EEXIST:
		*code = "already_exists";
		return MHD_HTTP_CONFLICT;
	case -EBUSY:
	case -EAGAIN:
		*code = "conflict";
		return MHD_HTTP_CONFLICT;
	case -ETIMEDOUT:
		*code = "timeout";
		return MHD_HTTP_GATEWAY_TIMEOUT;
	case -ECANCELED:
		*code = "unavailable";
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	default:
		*code = "internal";
		return MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
}

enum MHD_Result
api_json(struct MHD_Connection *conn, unsigned status, cJSON *json)
{
	char *text = cJSON_PrintUnformatted(json);
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t len;

	cJSON_Delete(json);
	if (text == NULL)
		abort();
	len = strlen(text);
	text = xrealloc(text, len + 2);
	text[len++] = '\n';
	resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result
api_error(struct MHD_Connection *conn, unsigned status, const char *code,
    const char *message)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddStringToObject(j, "error", code);
	cJSON_AddStringToObject(j, "message", message);
	return api_json(conn, status, j);
}

enum MHD_Result
api_error_errno(struct MHD_Connection *conn, int err, const char *cause)
{
	const char *code;
	unsigned status = api_status_for(err, &code);

	return api_error(conn, status, code, cause ? cause : strerror(-err));
}

static cJSON *
sprite_json(struct api *a, const struct sprite_row *row)
{
	cJSON *j = cJSON_CreateObject(), *cfg;
	char id[32], when[32];
	int head;

	snprintf(id, sizeof id, "spr_%lld", (long long)row->id);
	cJSON_AddStringToObject(j, "id", id);
	cJSON_AddStringToObject(j, "name", row->name);
	cJSON_AddStringToObject(j, "status", row->state);
	cJSON_AddStringToObject(j, "image", row->image_name ? row->image_name : "");
	cfg = cJSON_AddObjectToObject(j, "config");
	cJSON_AddNumberToObject(cfg, "ram_mb", row->mem_mb);
	cJSON_AddNumberToObject(cfg, "cpus", row->cpus);
	format_rfc3339(row->created_at, when, sizeof when);
	cJSON_AddStringToObject(j, "created_at", when);
	format_rfc3339(row->updated_at, when, sizeof when);
	cJSON_AddStringToObject(j, "updated_at", when);
	cJSON_AddArrayToObject(j, "labels");
	if (row->last_error != NULL)
		cJSON_AddStringToObject(j, "last_error", row->last_error);
	else
		cJSON_AddNullToObject(j, "last_error");
	if (row->origin != NULL)
		cJSON_AddStringToObject(j, "origin", row->origin);
	head = timeline_head(a->core, row);
	if (head >= 0) {
		snprintf(id, sizeof id, "v%d", head);
		cJSON_AddStringToObject(j, "checkpoint", id);
	} else {
		cJSON_AddNullToObject(j, "checkpoint");
	}
	return j;
}

static enum MHD_Result
api_sprite(struct api *a, struct MHD_Connection *conn, const char *name, unsigned status)
{
	struct sprite_row row = { 0 };
	char *cause = NULL;
	enum MHD_Result ret;
	int r;

	r = core_get(a->core, name, &row, &cause);
	if (r < 0) {
		ret = api_error_errno(conn, r, cause);
		free(cause);
		return ret;
	}
	ret = api_json(conn, status, sprite_json(a, &row));
	sprite_row_done(&row);
	return ret;
}

static enum MHD_Result
api_list(struct api *a, struct MHD_Connection *conn)
{
	struct sprite_row *rows = NULL;
	size_t n = 0;
	cJSON *j, *arr;
	int r;

	r = core_list(a->core, &rows, &n);
	if (r < 0)
		return api_error_errno(conn, r, "cannot list sprites");
	j = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(j, "sprites");
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, sprite_json(a, &rows[i]));
	cJSON_AddFalseToObject(j, "has_more");
	sprite_rows_free(rows, n);
	return api_json(conn, MHD_HTTP_OK, j);
}

/* An image's state, for progress while it builds; with @build, its build
 * starts first if needed (202). */
static enum MHD_Result
api_image(struct api *a, struct MHD_Connection *conn, const char *name, int build)
{
	const char *state;
	char *progress = NULL, *cause = NULL;
	enum MHD_Result ret;
	cJSON *j;
	int r;

	r = build ? core_image_build(a->core, name, &cause) : 0;
	if (r == 0)
		r = core_image_state(a->core, name, &state, &progress, &cause);
	if (r < 0) {
		ret = api_error_errno(conn, r, cause);
		free(cause);
		return ret;
	}
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "name", name);
	cJSON_AddStringToObject(j, "state", state);
	if (progress != NULL)
		cJSON_AddStringToObject(j, "progress", progress);
	free(progress);
	return api_json(conn, build && strcmp(state, "ready") != 0 ? MHD_HTTP_ACCEPTED :
	    MHD_HTTP_OK, j);
}

static enum MHD_Result
api_daemon(struct api *a, struct MHD_Connection *conn)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddStringToObject(j, "version", SPRIG_VERSION);
	cJSON_AddStringToObject(j, "accel", core_accel(a->core));
	cJSON_AddNumberToObject(j, "pid", getpid());
	return api_json(conn, MHD_HTTP_OK, j);
}

/* Core's answer to a suspended request. */
static void
request_done(void *arg, int err, const char *cause)
{
	struct request *rq = arg;

	rq->finished = 1;
	rq->err = err;
	rq->cause = cause ? xstrdup(cause) : NULL;
	if (rq->conn != NULL)
		api_resume(rq->api, rq->conn);
	request_unref(rq);
}

static void
request_checkpointed(void *arg, int err, const char *cause, int version)
{
	struct request *rq = arg;

	rq->version = version;
	request_done(rq, err, cause);
}

/* The sprite is idle (an adoption or start finished): go on. */
static void
request_idle(void *arg, int err, const char *cause)
{
	struct request *rq = arg;

	rq->idle = 1;
	if (rq->conn != NULL)
		api_resume(rq->api, rq->conn);
	request_unref(rq);
}

/* Takes the optional string @key of @j into *@ret (newly allocated; NULL
 * when absent, null or, with @empty_is_null, ""). */
static int
parse_opt_string(const cJSON *j, const char *key, int empty_is_null, char **ret, char **cause)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);

	if (v != NULL && !cJSON_IsNull(v) && !cJSON_IsString(v)) {
		*cause = xasprintf("%s must be a string", key);
		return -EINVAL;
	}
	if (cJSON_IsString(v) && (!empty_is_null || *v->valuestring != '\0'))
		*ret = xstrdup(v->valuestring);
	return 0;
}

static const char *
request_body_example(enum route route)
{
	switch (route) {
	case ROUTE_CREATE:
		return "the request body must be a JSON object like {\"name\": \"dev\"}";
	case ROUTE_FORK:
		return "the request body must be a JSON object like {\"name\": \"try-a\", "
		    "\"checkpoint\": \"v3\"}";
	case ROUTE_TEMPLATE_SAVE:
		return "the request body must be a JSON object like {\"name\": \"node-base\", "
		    "\"sprite\": \"dev\", \"checkpoint\": \"v3\"}";
	default:
		return "the request body must be empty or a JSON object like "
		    "{\"comment\": \"...\", \"memory\": true}";
	}
}

/*
 * The body of create ({"name", "image" | "template"}), checkpoint
 * ({"comment", "memory"}, may be empty), fork ({"name", "checkpoint"}) and
 * template save ({"name", "sprite", "checkpoint"}), before anything waits.
 */
static int
request_parse(struct request *rq, char **cause)
{
	const cJSON *n, *m, *sp;
	cJSON *j;
	int r = 0;

	if (rq->route == ROUTE_CHECKPOINT && buf_used(&rq->body) == 0)
		return 0;
	j = cJSON_ParseWithLength((const char *)buf_head(&rq->body), buf_used(&rq->body));
	if (j == NULL || !cJSON_IsObject(j)) {
		*cause = xstrdup(request_body_example(rq->route));
		r = -EINVAL;
		goto out;
	}
	n = cJSON_GetObjectItemCaseSensitive(j, "name");
	switch (rq->route) {
	case ROUTE_CHECKPOINT:
		m = cJSON_GetObjectItemCaseSensitive(j, "memory");
		r = parse_opt_string(j, "comment", 1, &rq->comment, cause);
		if (r == 0 && m != NULL && !cJSON_IsNull(m) && !cJSON_IsBool(m)) {
			*cause = xstrdup("memory must be true or false");
			r = -EINVAL;
		}
		rq->memory = cJSON_IsTrue(m);
		break;
	case ROUTE_CREATE:
		if (!cJSON_IsString(n)) {
			*cause = xstrdup("name is required and must be a string");
			r = -EINVAL;
			break;
		}
		r = parse_opt_string(j, "image", 0, &rq->image, cause);
		if (r == 0)
			r = parse_opt_string(j, "template", 0, &rq->tname, cause);
		if (r == 0 && rq->image != NULL && rq->tname != NULL) {
			*cause = xstrdup("give image or template, not both: a sprite made from a "
			    "template has its template's image");
			r = -EINVAL;
		}
		if (r == 0) {
			free(rq->name);
			rq->name = xstrdup(n->valuestring);
		}
		break;
	case ROUTE_FORK:
		if (!cJSON_IsString(n)) {
			*cause = xstrdup("name (the new sprite's) is required and must be a string");
			r = -EINVAL;
			break;
		}
		r = parse_opt_string(j, "checkpoint", 0, &rq->ckpt, cause);
		if (r == 0)
			rq->new_name = xstrdup(n->valuestring);
		break;
	case ROUTE_TEMPLATE_SAVE:
		sp = cJSON_GetObjectItemCaseSensitive(j, "sprite");
		if (!cJSON_IsString(n)) {
			*cause = xstrdup("name (the template's) is required and must be a string");
			r = -EINVAL;
		} else if (!cJSON_IsString(sp) || *sp->valuestring == '\0') {
			*cause = xstrdup("sprite (the one to make the template from) is required "
			    "and must be a string");
			r = -EINVAL;
		} else {
			r = parse_opt_string(j, "checkpoint", 1, &rq->ckpt, cause);
		}
		if (r == 0) {
			rq->tname = xstrdup(n->valuestring);
			rq->name = xstrdup(sp->valuestring);
		}
		break;
	default:
		break;
	}
out:
	cJSON_Delete(j);
	return r;
}

/* Hands an operation to core and suspends the connection until it answers. */
static enum MHD_Result
request_start(struct api *a, struct request *rq)
{
	char *cause = NULL;
	enum MHD_Result ret;
	int r;

	rq->refs++;	/* core's */
	switch (rq->route) {
	case ROUTE_CREATE:
		if (rq->tname != NULL)
			r = core_create_from_template(a->core, rq->name, rq->tname, request_done,
			    rq, &cause);
		else
			r = core_create(a->core, rq->name, rq->image, request_done, rq, &cause);
		break;
	case ROUTE_START:
		r = core_start(a->core, rq->name, request_done, rq, &cause);
		break;
	case ROUTE_STOP:
		r = core_stop(a->core, rq->name, request_done, rq, &cause);
		break;
	case ROUTE_SLEEP:
		r = core_sleep(a->core, rq->name, request_done, rq, &cause);
		break;
	case ROUTE_WAKE:
		r = core_wake(a->core, rq->name, request_done, rq, &cause);
		break;
	case ROUTE_DELETE:
		r = core_destroy(a->core, rq->name, request_done, rq, &cause);
		break;
	case ROUTE_CHECKPOINT:
		r = core_checkpoint_ex(a->core, rq->name, rq->comment,
		    rq->memory ? CORE_CKPT_MEMORY : 0, request_checkpointed, rq, &cause);
		break;
	case ROUTE_RESTORE:
		r = core_restore(a->core, rq->name, rq->ckpt, request_done, rq, &cause);
		break;
	case ROUTE_FORK:
		r = core_fork(a->core, rq->name, rq->ckpt, rq->new_name, request_done, rq,
		    &cause);
		break;
	case ROUTE_TEMPLATE_SAVE:
		r = core_template_save(a->core, rq->tname, rq->name, rq->ckpt, request_done, rq,
		    &cause);
		break;
	default:
		r = -EINVAL;
		cause = xstrdup("no such operation");
		break;
	}
	if (r < 0) {
		rq->refs--;
		ret = api_error_errno(rq->conn, r, cause);
		free(cause);
		return ret;
	}
	rq->started = 1;
	MHD_suspend_connection(rq->conn);
	return MHD_YES;
}

/* The NDJSON answer of a checkpoint or restore core has finished. */
static enum MHD_Result
request_finish_stream(struct api *a, struct request *rq)
{
	struct sprite_row row = { 0 };
	char *cause = NULL, id[32], *text;
	enum MHD_Result ret;
	struct buf b;
	int v = -ENOENT;

	buf_init(&b);
	if (rq->route == ROUTE_CHECKPOINT) {
		timeline_line(&b, "info", "data", rq->memory ?
		    "creating checkpoint (disk and memory)" : "creating checkpoint", NULL);
		snprintf(id, sizeof id, "v%d", rq->version);
		text = xasprintf("checkpoint %s created", id);
	} else {
		text = strcmp(rq->ckpt, "undo") == 0 ? xstrdup("undoing the last restore") :
		    xasprintf("restoring to %s", rq->ckpt);
		timeline_line(&b, "info", "data", text, NULL);
		free(text);
		/* Say where it went: for "undo" only the sprite's head knows. */
		if (rq->err == 0 && core_get(a->core, rq->name, &row, &cause) == 0)
			v = timeline_head(a->core, &row);
		sprite_row_done(&row);
		free(cause);
		if (v >= 0)
			snprintf(id, sizeof id, "v%d", v);
		else
			snprintf(id, sizeof id, "%s", rq->ckpt);
		text = xasprintf("restored to %s", id);
	}
	if (rq->err < 0)
		timeline_line(&b, "error", "error", rq->cause ? rq->cause : strerror(-rq->err),
		    NULL);
	else
		timeline_line(&b, "complete", "data", text, id);
	free(text);
	ret = timeline_ndjson(rq->conn, &b);
	buf_done(&b);
	return ret;
}

enum MHD_Result
api_no_content(struct MHD_Connection *conn)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	ret = MHD_queue_response(conn, MHD_HTTP_NO_CONTENT, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
request_finish(struct api *a, struct request *rq)
{
	if (rq->route == ROUTE_CHECKPOINT || rq->route == ROUTE_RESTORE)
		return request_finish_stream(a, rq);
	if (rq->err < 0)
		return api_error_errno(rq->conn, rq->err, rq->cause);
	switch (rq->route) {
	case ROUTE_CREATE:
		return api_sprite(a, rq->conn, rq->name, MHD_HTTP_CREATED);
	case ROUTE_FORK:
		return api_sprite(a, rq->conn, rq->new_name, MHD_HTTP_CREATED);
	case ROUTE_DELETE:
		return api_no_content(rq->conn);
	case ROUTE_TEMPLATE_SAVE:
		return template_answer(a, rq->conn, rq->tname, MHD_HTTP_CREATED);
	default:
		return api_sprite(a, rq->conn, rq->name, MHD_HTTP_OK);
	}
}

/* Splits /v1/sprites[/NAME[/ACTION]] and /v1/templates[/NAME] into a route;
 * *@name gets the sprite's (or template's) name, *@ckpt the checkpoint id of
 * .../checkpoints/ID[/restore]. */
static enum route
api_route(const char *url, const char *method, char **name, char **ckpt, int *bad_method)
{
	const char *p, *slash, *end;
	size_t n;

	*bad_method = 0;
	if (strcmp(url, "/v1/daemon") == 0) {
		*bad_method = strcmp(method, "GET") != 0;
		return ROUTE_DAEMON;
	}
	if (strcmp(url, "/v1/sprites") == 0 || strcmp(url, "/v1/sprites/") == 0) {
		if (strcmp(method, "GET") == 0)
			return ROUTE_LIST;
		if (strcmp(method, "POST") == 0)
			return ROUTE_CREATE;
		*bad_method = 1;
		return ROUTE_LIST;
	}
	if (strncmp(url, "/v1/images/", 11) == 0 && url[11] != '\0') {
		p = url + 11;
		slash = strchr(p, '/');
		if (slash != NULL && strcmp(slash, "/build") != 0)
			return ROUTE_NONE;
		*name = xstrndup(p, slash ? (size_t)(slash - p) : strlen(p));
		*bad_method = strcmp(method, slash ? "POST" : "GET") != 0;
		return slash ? ROUTE_IMAGE_BUILD : ROUTE_IMAGE;
	}
	if (strcmp(url, "/v1/templates") == 0 || strcmp(url, "/v1/templates/") == 0) {
		if (strcmp(method, "GET") == 0)
			return ROUTE_TEMPLATES;
		if (strcmp(method, "POST") == 0)
			return ROUTE_TEMPLATE_SAVE;
		*bad_method = 1;
		return ROUTE_TEMPLATES;
	}
	if (strncmp(url, "/v1/templates/", 14) == 0) {
		p = url + 14;	/* not empty: "/v1/templates/" is the list */
		if (strchr(p, '/') != NULL)
			return ROUTE_NONE;
		*name = xstrdup(p);
		*bad_method = strcmp(method, "DELETE") != 0;
		return ROUTE_TEMPLATE_RM;
	}
	if (strncmp(url, "/v1/sprites/", 12) != 0)
		return ROUTE_NONE;
	p = url + 12;
	slash = strchr(p, '/');
	n = slash ? (size_t)(slash - p) : strlen(p);
	if (n == 0)
		return ROUTE_NONE;
	*name = xstrndup(p, n);
	if (slash == NULL) {
		if (strcmp(method, "GET") == 0)
			return ROUTE_GET;
		if (strcmp(method, "DELETE") == 0)
			return ROUTE_DELETE;
		*bad_method = 1;
		return ROUTE_GET;
	}
	if (strcmp(slash, "/start") == 0 || strcmp(slash, "/stop") == 0) {
		*bad_method = strcmp(method, "POST") != 0;
		return slash[3] == 'a' ? ROUTE_START : ROUTE_STOP;
	}
	if (strcmp(slash, "/sleep") == 0 || strcmp(slash, "/wake") == 0) {
		*bad_method = strcmp(method, "POST") != 0;
		return slash[1] == 's' ? ROUTE_SLEEP : ROUTE_WAKE;
	}
	if (strcmp(slash, "/probe") == 0) {
		*bad_method = strcmp(method, "POST") != 0;
		return ROUTE_PROBE;
	}
	if (strcmp(slash, "/exec") == 0) {
		*bad_method = strcmp(method, "GET") != 0;
		return ROUTE_EXEC;
	}
	if (strcmp(slash, "/checkpoint") == 0 || strcmp(slash, "/fork") == 0) {
		*bad_method = strcmp(method, "POST") != 0;
		return slash[1] == 'c' ? ROUTE_CHECKPOINT : ROUTE_FORK;
	}
	if (strcmp(slash, "/checkpoints") == 0) {
		*bad_method = strcmp(method, "GET") != 0;
		return ROUTE_CHECKPOINTS;
	}
	if (strncmp(slash, "/checkpoints/", 13) == 0 && slash[13] != '\0' && slash[13] != '/') {
		p = slash + 13;
		end = strchr(p, '/');
		if (end == NULL) {
			*ckpt = xstrdup(p);
			if (strcmp(method, "DELETE") == 0)
				return ROUTE_CHECKPOINT_RM;
			*bad_method = strcmp(method, "GET") != 0;
			return ROUTE_CHECKPOINT_GET;
		}
		if (strcmp(end, "/restore") == 0) {
			*ckpt = xstrndup(p, (size_t)(end - p));
			*bad_method = strcmp(method, "POST") != 0;
			return ROUTE_RESTORE;
		}
	}
	free(*name);
	*name = NULL;
	return ROUTE_NONE;
}

static enum MHD_Result
api_handle(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **state)
{
	struct api *a = cls;
	struct request *rq = *state;
	int bad_method;

	if (rq == NULL) {
		rq = xcalloc(1, sizeof *rq);
		rq->api = a;
		rq->conn = conn;
		rq->refs = 1;
		buf_init(&rq->body);
		rq->route = api_route(url, method, &rq->name, &rq->ckpt, &bad_method);
		if (rq->name != NULL && strncmp(url, "/v1/sprites/", 12) == 0)
			core_touch(a->core, rq->name);	/* any call on a sprite is use */
		if (rq->route == ROUTE_TEMPLATE_RM) {
			rq->tname = rq->name;
			rq->name = NULL;
		}
		*state = rq;
		if (rq->route == ROUTE_NONE)
			return api_error(conn, MHD_HTTP_NOT_FOUND, "not_found",
			    "no such API route");
		if (bad_method)
			return api_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
			    "that method is not allowed on this route");
		if (rq->route == ROUTE_EXEC)
			return exec_handle(a, conn, rq->name, &rq->exec);
		return MHD_YES;	/* the body, if any, comes next */
	}
	if (rq->route == ROUTE_EXEC)
		return exec_handle(a, conn, rq->name, &rq->exec);
	if (rq->route == ROUTE_PROBE && *upload_data_size == 0)
		return probe_handle(a, conn, rq->name, &rq->probe);
	if (*upload_data_size > 0) {
		if (buf_used(&rq->body) + *upload_data_size > API_MAX_BODY)
			rq->too_big = 1;
		else
			buf_add(&rq->body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (rq->too_big)
		return api_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
		    "the request body is over 1 MiB");
	if (rq->finished)
		return request_finish(a, rq);
	switch (rq->route) {
	case ROUTE_LIST:
		return api_list(a, conn);
	case ROUTE_GET:
		return api_sprite(a, conn, rq->name, MHD_HTTP_OK);
	case ROUTE_DAEMON:
		return api_daemon(a, conn);
	case ROUTE_IMAGE:
	case ROUTE_IMAGE_BUILD:
		return api_image(a, conn, rq->name, rq->route == ROUTE_IMAGE_BUILD);
	case ROUTE_CHECKPOINTS:
		return timeline_list(a, conn, rq->name);
	case ROUTE_CHECKPOINT_GET:
		return timeline_get(a, conn, rq->name, rq->ckpt);
	case ROUTE_TEMPLATES:
		return template_list(a, conn);
	case ROUTE_TEMPLATE_RM:
		return template_rm(a, conn, rq->tname);
	case ROUTE_CREATE:
	case ROUTE_CHECKPOINT:
	case ROUTE_FORK:
	case ROUTE_TEMPLATE_SAVE:
		if (!rq->parsed) {
			char *cause = NULL;
			enum MHD_Result ret;

			if (request_parse(rq, &cause) < 0) {
				ret = api_error(conn, MHD_HTTP_BAD_REQUEST, "invalid_request", cause);
				free(cause);
				return ret;
			}
			rq->parsed = 1;
		}
		if (rq->route == ROUTE_CREATE)
			return request_start(a, rq);	/* a new sprite: nothing to wait for */
		break;
	default:
		break;
	}
	/* Start, stop, sleep, wake, destroy and the timeline's operations wait
	 * for an operation under way (say, the re-adoption after a daemon
	 * restart, or a boot) rather than fail. */
	if (!rq->idle) {
		char *cause = NULL;
		enum MHD_Result ret;
		int r;

		rq->refs++;
		r = core_wait_idle(a->core, rq->name, request_idle, rq, &cause);
		if (r == 0) {
			MHD_suspend_connection(conn);
			return MHD_YES;
		}
		rq->refs--;
		ret = api_error_errno(conn, r, cause);
		free(cause);
		return ret;
	}
	if (rq->route == ROUTE_CHECKPOINT_RM)
		return timeline_rm(a, conn, rq->name, rq->ckpt);	/* no waiting in it */
	return request_start(a, rq);
}

static void
api_completed(void *cls, struct MHD_Connection *conn, void **state,
    enum MHD_RequestTerminationCode toe)
{
	struct request *rq = *state;

	if (rq == NULL)
		return;
	rq->conn = NULL;
	*state = NULL;
	request_unref(rq);
}

static void
api_run(struct api *a)
{
	MHD_run(a->mhd);
}

static void
api_on_epoll(struct loop *l, int fd, int events, void *arg)
{
	api_run(arg);
}

static void
api_on_timer(struct loop *l, uint64_t id, void *arg)
{
	struct api *a = arg;

	a->timer = 0;
	api_run(a);
}

void
api_resume(struct api *a, struct MHD_Connection *conn)
{
	MHD_resume_connection(conn);
	a->resumed = 1;
}

/*
 * Before the loop sleeps: let MHD handle connections resumed during this
 * turn (in external epoll mode nothing wakes it for them), then wake for
 * its next connection timeout.
 */
static void
api_before_sleep(struct loop *l, void *arg)
{
	struct api *a = arg;
	MHD_UNSIGNED_LONG_LONG ms;

	while (a->resumed) {
		a->resumed = 0;
		MHD_run(a->mhd);
	}

	loop_del_timer(l, a->timer);
	a->timer = 0;
	if (MHD_get_timeout(a->mhd, &ms) == MHD_YES)
		a->timer = loop_add_timer(l, ms, api_on_timer, a);
}

int
api_new(struct loop *l, struct core *c, int fd, struct api **ret, char **cause)
{
	struct api *a = xcalloc(1, sizeof *a);
	const union MHD_DaemonInfo *info;
	int r;

	a->loop = l;
	a->core = c;
	a->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
	    MHD_ALLOW_UPGRADE, 0, NULL, NULL,
	    api_handle, a,
	    MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_NOTIFY_COMPLETED, api_completed, a,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)API_MAX_CONNECTIONS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
	    MHD_OPTION_END);
	if (a->mhd == NULL) {
		*cause = xstrdup("cannot start the HTTP server (libmicrohttpd)");
		close(fd);
		free(a);
		return -EIO;
	}
	info = MHD_get_daemon_info(a->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	a->epfd = info ? info->epoll_fd : -1;
	r = a->epfd >= 0 ? loop_add_fd(l, a->epfd, LOOP_READ, api_on_epoll, a) : -EIO;
	if (r < 0) {
		*cause = xstrdup("cannot watch the HTTP server's events");
		MHD_stop_daemon(a->mhd);
		free(a);
		return r;
	}
	loop_set_before_sleep(l, api_before_sleep, a);
	*ret = a;
	return 0;
}

void
api_free(struct api *a)
{
	if (a == NULL)
		return;
	exec_close_all(a);
	loop_set_before_sleep(a->loop, NULL, NULL);
	loop_del_timer(a->loop, a->timer);
	loop_del_fd(a->loop, a->epfd);
	MHD_stop_daemon(a->mhd);
	free(a);
}
