/*
 * api: HTTP routing and the request lifecycle on libmicrohttpd.
 *
 * Requests that take time (create, start, stop, destroy, sleep, wake,
 * checkpoint, restore, fork, template save) suspend their connection and
 * resume it when core reports; the request record is shared by MHD and
 * core, reference-counted, so either may finish first. Checkpoint and
 * restore answer in NDJSON as the Sprites API streams them: the first line
 * as soon as core takes the operation, the last when it is done (a restore
 * of a running sprite waits for its reboot).
 */
#include "api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "api_internal.h"
#include "route.h"
#include "auth.h"
#include "session.h"
#include "common/buf.h"
#include "common/loop.h"
#include "common/trace.h"
#include "common/util.h"
#include "common/ws.h"
#include "common/xmalloc.h"
#include "core/core.h"
#include "vmm/vmm.h"

#define API_MAX_BODY		(1024 * 1024)
/* Past this many connections on a listener a request is answered 503; MHD
 * itself takes a few more (API_SPARE_CONNECTIONS) so that the answer can
 * be given, and drops what comes past those. */
#define API_MAX_CONNECTIONS	256
#define API_SPARE_CONNECTIONS	16
/* Request line and headers: past API_MAX_HEADERS the answer is 431 here;
 * MHD's buffer for a connection is larger so that it reaches us, and past
 * that MHD answers 431 itself. */
#define API_MAX_HEADERS		(16 * 1024)
#define API_CONN_MEMORY		(64 * 1024)
#define SPRIG_VERSION		"0.1.0"



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
	struct fsreq		*fs;		/* ROUTE_FS's */
	struct proxy		*proxy;		/* ROUTE_PROXY's */
	char			*ckpt;		/* the checkpoint id ("v3", "undo"), or an
						 * exec session's, or NULL */
	char			*comment;	/* ROUTE_CHECKPOINT's, or NULL */
	int			 memory;	/* ROUTE_CHECKPOINT's: with the guest's memory */
	char			*new_name;	/* ROUTE_FORK's */
	char			*image;		/* ROUTE_CREATE's, or NULL */
	char			*labels;	/* ROUTE_CREATE's labels (JSON), or NULL */
	char			*url;		/* and url_settings */
	char			*tname;		/* a template: ROUTE_CREATE's (or NULL),
						 * ROUTE_TEMPLATE_SAVE's, ROUTE_TEMPLATE_RM's */
	int			 parsed;	/* the body was read and checked */
	int			 version;	/* the checkpoint made */
	const char		*unsupported;	/* ROUTE_UNSUPPORTED's phrase */
	struct buf		 out;		/* checkpoint's, restore's NDJSON to send */
	int			 streaming;	/* that answer is queued */
	int			 suspended;	/* and waits for core */
	int			 closed;	/* its last line is made */
};

static void
request_unref(struct request *rq)
{
	if (--rq->refs > 0)
		return;
	exec_unref(rq->exec);
	probe_free(rq->probe);
	fs_release(rq->fs);
	proxy_unref(rq->proxy);
	buf_done(&rq->body);
	buf_done(&rq->out);
	free(rq->name);
	free(rq->cause);
	free(rq->ckpt);
	free(rq->comment);
	free(rq->new_name);
	free(rq->image);
	free(rq->labels);
	free(rq->url);
	free(rq->tname);
	free(rq);
}

enum MHD_Result
api_ws_upgrade(struct MHD_Connection *conn, MHD_UpgradeHandler fn, void *cls, int *queued)
{
	const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    "Sec-WebSocket-Key");
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char accept[29];

	*queued = 0;
	ws_accept_key(key, accept);
	resp = MHD_create_response_for_upgrade(fn, cls);
	if (resp == NULL)
		return api_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
		    "cannot upgrade the connection");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "websocket");
	MHD_add_response_header(resp, "Sec-WebSocket-Accept", accept);
	ret = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
	MHD_destroy_response(resp);
	*queued = ret == MHD_YES;
	return ret;
}

void
api_ws_close(struct api *a, struct ws **ws, struct MHD_UpgradeResponseHandle **urh)
{
	ws_free(*ws);
	*ws = NULL;
	MHD_upgrade_action(*urh, MHD_UPGRADE_ACTION_CLOSE);
	*urh = NULL;
	/* The close takes effect in MHD's next run: make it this turn. */
	a->resumed = 1;
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
	case -ENOTSUP:
		*code = "not_implemented";
		return MHD_HTTP_NOT_IMPLEMENTED;
	case -EACCES:
		*code = "unauthorized";
		return MHD_HTTP_UNAUTHORIZED;
	case -EPERM:
		*code = "forbidden";
		return MHD_HTTP_FORBIDDEN;
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
	sdk_meta_json(row, j);
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
	config_add_status(a, row, j);
	return j;
}

enum MHD_Result
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
	enum MHD_Result ret;
	size_t n = 0;
	int r;

	r = core_list(a->core, &rows, &n);
	if (r < 0)
		return api_error_errno(conn, r, "cannot list sprites");
	ret = sdk_list(a, conn, rows, n, sprite_json);
	sprite_rows_free(rows, n);
	return ret;
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
	/* A streaming answer is suspended only while it has nothing to send. */
	if (rq->conn != NULL && (!rq->streaming || rq->suspended)) {
		rq->suspended = 0;
		api_resume(rq->api, rq->conn);
	}
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
		if (r == 0)
			r = sdk_create_check(j, cause);
		if (r == 0)
			r = sdk_meta_parse(j, &rq->labels, &rq->url, cause);
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

/* The NDJSON line that opens a checkpoint's or restore's answer. */
static void
stream_open_line(struct request *rq, struct buf *b)
{
	char *text;

	if (rq->route == ROUTE_CHECKPOINT) {
		timeline_line(b, "info", "data", rq->memory ?
		    "creating checkpoint (disk and memory)" : "creating checkpoint", NULL);
		return;
	}
	text = strcmp(rq->ckpt, "undo") == 0 ? xstrdup("undoing the last restore") :
	    xasprintf("restoring to %s", rq->ckpt);
	timeline_line(b, "info", "data", text, NULL);
	free(text);
}

/* And the line that closes it once core has answered: complete or error. */
static void
stream_close_line(struct api *a, struct request *rq, struct buf *b)
{
	struct sprite_row row = { 0 };
	char *cause = NULL, id[32], *text;
	int v = -ENOENT;

	if (rq->err < 0) {
		timeline_line(b, "error", "error", rq->cause ? rq->cause : strerror(-rq->err),
		    NULL);
		return;
	}
	if (rq->route == ROUTE_CHECKPOINT) {
		snprintf(id, sizeof id, "v%d", rq->version);
		text = xasprintf("checkpoint %s created", id);
	} else {
		/* Say where it went: for "undo" only the sprite's head knows. */
		if (core_get(a->core, rq->name, &row, &cause) == 0)
			v = timeline_head(a->core, &row);
		sprite_row_done(&row);
		free(cause);
		if (v >= 0)
			snprintf(id, sizeof id, "v%d", v);
		else
			snprintf(id, sizeof id, "%s", rq->ckpt);
		text = xasprintf("restored to %s", id);
	}
	timeline_line(b, "complete", "data", text, id);
	free(text);
}

/* The NDJSON body: the opening line at once, the closing one when core
 * answers; in between the connection is suspended. */
static ssize_t
stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct request *rq = cls;

	if (buf_used(&rq->out) == 0 && rq->finished && !rq->closed) {
		stream_close_line(rq->api, rq, &rq->out);
		rq->closed = 1;
	}
	return api_stream_read(rq->conn, &rq->out, rq->closed, &rq->suspended, out, max);
}

static void
stream_free(void *cls)
{
	request_unref(cls);
}

/* Checkpoint and restore answer in NDJSON as they go, as the Sprites API
 * streams them. */
static enum MHD_Result
stream_start(struct request *rq)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	stream_open_line(rq, &rq->out);
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, rq,
	    stream_free);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-ndjson");
	rq->streaming = 1;
	rq->refs++;	/* the answer's, until stream_free */
	ret = MHD_queue_response(rq->conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Hands an operation to core and suspends the connection until it answers
 * (a checkpoint or restore starts its NDJSON answer instead). */
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
	if (rq->route == ROUTE_CHECKPOINT || rq->route == ROUTE_RESTORE)
		return stream_start(rq);
	MHD_suspend_connection(rq->conn);
	return MHD_YES;
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
	if (rq->err < 0)
		return api_error_errno(rq->conn, rq->err, rq->cause);
	switch (rq->route) {
	case ROUTE_CREATE:
		if (sdk_meta_store(a, rq->name, rq->labels, rq->url, &rq->cause) < 0)
			return api_error(rq->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
			    rq->cause);
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

/* On the TCP listener: -EACCES without a live token, -EPERM for the token
 * routes (tokens are made with the unix socket's authority). */
static int
api_tcp_check(struct api *a, struct MHD_Connection *conn, enum route route, char **cause)
{
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	int r = auth_check(a->auth, h, cause);

	if (r == 0 && (route == ROUTE_TOKENS || route == ROUTE_TOKEN_CREATE ||
	    route == ROUTE_TOKEN_RM)) {
		*cause = xstrdup("tokens are managed over the unix socket only "
		    "('sprig token create|list|revoke')");
		r = -EPERM;
	}
	return r;
}

static enum MHD_Result
api_header_size(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	size_t *n = cls;

	*n += strlen(key) + (value ? strlen(value) : 0) + 4;	/* ": " and CRLF */
	return MHD_YES;
}

/* The limits a request meets before its route: open connections on its
 * listener, and the size of its request line and headers. */
static enum MHD_Result
api_limits(struct api_listener *li, struct MHD_Connection *conn, const char *url, int *hit)
{
	const union MHD_DaemonInfo *info;
	size_t n = strlen(url);

	*hit = 1;
	info = MHD_get_daemon_info(li->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	if (info != NULL && info->num_connections > API_MAX_CONNECTIONS)
		return api_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "too_many_connections",
		    "the API has too many open connections; try again when some close");
	MHD_get_connection_values(conn, MHD_HEADER_KIND, api_header_size, &n);
	if (n > API_MAX_HEADERS)
		return api_error(conn, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
		    "headers_too_large", "the request line and headers are over 16 KiB");
	*hit = 0;
	return MHD_YES;
}

static enum MHD_Result
api_handle(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **state)
{
	struct api_listener *li = cls;
	struct api *a = li->api;
	struct request *rq = *state;
	int bad_method;

	if (rq == NULL) {
		char *cause = NULL;
		enum MHD_Result ret;
		int r;

		trace("api: %s %s", method, url);
		rq = xcalloc(1, sizeof *rq);
		rq->api = a;
		rq->conn = conn;
		rq->refs = 1;
		buf_init(&rq->body);
		buf_init(&rq->out);
		*state = rq;
		ret = api_limits(li, conn, url, &r);
		if (r)
			return ret;
		rq->route = route_match(url, method, &rq->name, &rq->ckpt, &bad_method,
		    &rq->unsupported);
		if (li->tcp && (r = api_tcp_check(a, conn, rq->route, &cause)) < 0) {
			ret = api_error_errno(conn, r, cause);
			free(cause);
			return ret;
		}
		if (rq->name != NULL && strncmp(url, "/v1/sprites/", 12) == 0)
			core_touch(a->core, rq->name);	/* any call on a sprite is use */
		if (rq->route == ROUTE_TEMPLATE_RM) {
			rq->tname = rq->name;
			rq->name = NULL;
		}
		if (rq->route == ROUTE_UNSUPPORTED) {
			cause = xasprintf("sprig does not support %s yet", rq->unsupported);
			ret = api_error(conn, MHD_HTTP_NOT_IMPLEMENTED, "not_implemented", cause);
			free(cause);
			return ret;
		}
		if (rq->route == ROUTE_NONE)
			return api_error(conn, MHD_HTTP_NOT_FOUND, "not_found",
			    "no such API route");
		if (bad_method)
			return api_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
			    "that method is not allowed on this route");
		if (rq->route == ROUTE_EXEC)
			return exec_handle(a, conn, rq->name, rq->ckpt, &rq->exec);
		if (rq->route == ROUTE_PROXY)
			return proxy_handle(a, conn, rq->name, &rq->proxy);
		return MHD_YES;	/* the body, if any, comes next */
	}
	if (rq->route == ROUTE_EXEC)
		return exec_handle(a, conn, rq->name, rq->ckpt, &rq->exec);
	if (rq->route == ROUTE_PROXY)
		return proxy_handle(a, conn, rq->name, &rq->proxy);
	if (rq->route == ROUTE_FS)
		return fs_handle(a, conn, rq->name, rq->ckpt, method, upload_data,
		    upload_data_size, &rq->fs);
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
	case ROUTE_EVENTS:
		return events_handle(a, conn);
	case ROUTE_SETTINGS:
		return settings_handle(a, conn, strcmp(method, "POST") == 0,
		    (const char *)buf_head(&rq->body), buf_used(&rq->body));
	case ROUTE_CONFIG:
		return config_handle(a, conn, rq->name, (const char *)buf_head(&rq->body),
		    buf_used(&rq->body));
	case ROUTE_UPDATE:
		return sdk_update(a, conn, rq->name, (const char *)buf_head(&rq->body),
		    buf_used(&rq->body));
	case ROUTE_POLICY:
		return policy_handle(a, conn, rq->name, rq->ckpt, method,
		    (const char *)buf_head(&rq->body), buf_used(&rq->body));
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
	case ROUTE_EXEC_HTTP:
		return exec_http(a, conn, rq->name, &rq->body, &rq->exec);
	case ROUTE_SESSION_KILL:
		return session_kill(a, conn, rq->name, rq->ckpt);
	case ROUTE_TOKENS:
		return auth_api_list(a, conn);
	case ROUTE_TOKEN_CREATE:
		return auth_api_create(a, conn, (const char *)buf_head(&rq->body),
		    buf_used(&rq->body));
	case ROUTE_TOKEN_RM:
		return auth_api_revoke(a, conn, rq->name);
	case ROUTE_CREATE:
	case ROUTE_CHECKPOINT:
	case ROUTE_FORK:
	case ROUTE_TEMPLATE_SAVE:
		if (!rq->parsed) {
			char *cause = NULL;
			enum MHD_Result ret;
			int r = request_parse(rq, &cause);

			if (r < 0) {
				ret = api_error_errno(conn, r, cause);	/* 400, or 501 */
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
	trace("api: request over");
	rq->conn = NULL;
	*state = NULL;
	request_unref(rq);
}

static void
api_on_epoll(struct loop *l, int fd, int events, void *arg)
{
	struct api_listener *li = arg;

	MHD_run(li->mhd);
}

static void
api_run_all(struct api *a)
{
	for (size_t i = 0; i < a->nlisteners; i++)
		MHD_run(a->listeners[i].mhd);
}

static void
api_on_timer(struct loop *l, uint64_t id, void *arg)
{
	struct api *a = arg;

	a->timer = 0;
	api_run_all(a);
}

void
api_resume(struct api *a, struct MHD_Connection *conn)
{
	MHD_resume_connection(conn);
	a->resumed = 1;
}

ssize_t
api_stream_wait(struct MHD_Connection *conn, int ended, int *suspended)
{
	if (ended)
		return MHD_CONTENT_READER_END_OF_STREAM;
	*suspended = 1;
	MHD_suspend_connection(conn);
	return 0;
}

ssize_t
api_stream_read(struct MHD_Connection *conn, struct buf *b, int ended, int *suspended,
    char *out, size_t max)
{
	size_t n = buf_used(b);

	if (n == 0)
		return api_stream_wait(conn, ended, suspended);
	if (n > max)
		n = max;
	memcpy(out, buf_head(b), n);
	buf_consume(b, n);
	return (ssize_t)n;
}

/*
 * Before the loop sleeps: let MHD handle connections resumed during this
 * turn (in external epoll mode nothing wakes it for them), then wake for
 * the listeners' next connection timeout.
 */
static void
api_before_sleep(struct loop *l, void *arg)
{
	struct api *a = arg;
	MHD_UNSIGNED_LONG_LONG ms, least = 0;
	int any = 0;

	while (a->resumed) {
		a->resumed = 0;
		api_run_all(a);
	}

	loop_del_timer(l, a->timer);
	a->timer = 0;
	for (size_t i = 0; i < a->nlisteners; i++) {
		if (MHD_get_timeout(a->listeners[i].mhd, &ms) == MHD_YES && (!any || ms < least)) {
			least = ms;
			any = 1;
		}
	}
	if (any)
		a->timer = loop_add_timer(l, least, api_on_timer, a);
}

/* Serves the listening socket @fd (taken) in @a's next listener slot; with
 * @tcp, every request needs a bearer token. */
static int
api_listen(struct api *a, int fd, int tcp, char **cause)
{
	struct api_listener *li = &a->listeners[a->nlisteners];
	const union MHD_DaemonInfo *info;
	int r;

	if (a->nlisteners == API_MAX_LISTENERS) {
		close(fd);
		*cause = xstrdup("the API already has all its listeners");
		return -ENOSPC;
	}
	li->api = a;
	li->tcp = tcp;
	li->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
	    MHD_ALLOW_UPGRADE, 0, NULL, NULL,
	    api_handle, li,
	    MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_NOTIFY_COMPLETED, api_completed, li,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)(API_MAX_CONNECTIONS + API_SPARE_CONNECTIONS),
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)API_CONN_MEMORY,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
	    MHD_OPTION_END);
	if (li->mhd == NULL) {
		*cause = xstrdup("cannot start the HTTP server (libmicrohttpd)");
		close(fd);
		return -EIO;
	}
	info = MHD_get_daemon_info(li->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	li->epfd = info ? info->epoll_fd : -1;
	r = li->epfd >= 0 ? loop_add_fd(a->loop, li->epfd, LOOP_READ, api_on_epoll, li) : -EIO;
	if (r < 0) {
		*cause = xstrdup("cannot watch the HTTP server's events");
		MHD_stop_daemon(li->mhd);
		li->mhd = NULL;
		return r;
	}
	a->nlisteners++;
	return 0;
}

int
api_new(struct loop *l, struct core *c, struct auth *au, int fd, struct api **ret,
    char **cause)
{
	struct api *a = xcalloc(1, sizeof *a);
	int r;

	a->loop = l;
	a->core = c;
	a->auth = au;
	r = api_listen(a, fd, 0, cause);
	if (r < 0) {
		auth_free(au);
		free(a);
		return r;
	}
	loop_set_before_sleep(l, api_before_sleep, a);
	*ret = a;
	return 0;
}

int
api_listen_tcp(struct api *a, int fd, char **cause)
{
	return api_listen(a, fd, 1, cause);
}

void
api_unwatch(struct api *a)
{
	if (a == NULL)
		return;
	events_close_all(a);
	/* Let MHD send what the streams have left and their last chunk, so a
	 * follower sees the stream end rather than a broken transfer. */
	for (int i = 0; i < 3; i++)
		api_run_all(a);
}

void
api_free(struct api *a)
{
	if (a == NULL)
		return;
	exec_close_all(a);
	proxy_close_all(a);
	session_close_all(a);
	loop_set_before_sleep(a->loop, NULL, NULL);
	loop_del_timer(a->loop, a->timer);
	for (size_t i = 0; i < a->nlisteners; i++) {
		loop_del_fd(a->loop, a->listeners[i].epfd);
		MHD_stop_daemon(a->listeners[i].mhd);
	}
	auth_free(a->auth);
	free(a);
}
