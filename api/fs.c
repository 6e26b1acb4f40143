/*
 * fs: the Sprites SDK's filesystem calls, /v1/sprites/NAME/fs/OP (see
 * api/README.md): read, write, list, delete, rename, copy, chmod, chown.
 * The guest does the file work (core_fs, guest/files.c); paths are the
 * guest's and never touch the host. Errors answer in the SDK's filesystem
 * error shape, {"error": message, "code": "ENOENT", "path": path}.
 *
 * A request is shared by MHD (until it completes), by core (while the file
 * request runs) and by a read's streamed answer, so it is reference-counted.
 * It waits suspended for core; a read's answer streams as the guest sends,
 * the guest sending more as MHD takes what it has.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api_internal.h"
#include "common/agent_proto.h"
#include "common/buf.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "core/core.h"

/* Most bytes a read or a write moves in one request. */
#define FS_MAX_FILE		(32u << 20)
/* Most entries a list answers with. */
#define FS_MAX_ENTRIES		10000
/* Most bytes of a JSON body (rename, copy, chmod, chown). */
#define FS_MAX_JSON		(64u << 10)

struct fsreq {
	struct api		*api;
	struct MHD_Connection	*conn;
	int			 refs;		/* MHD's, core's, the answer's */
	uint32_t		 op;		/* enum agent_fs_op, 0 until known */
	const char		*verb;		/* the URL's op */
	char			*name;
	char			*path;		/* as asked, for errors */
	struct agent_fs		 req;
	struct core_fs		*cf;		/* while core runs it */
	struct buf		 body;
	int			 too_big;
	int			 started;
	int			 done;
	int			 err;
	char			*cause;
	char			*resolved;	/* the guest's path */
	uint64_t		 value;
	struct buf		 data;		/* read: bytes to send; list: records */
	int			 streaming;	/* a read's answer is queued */
	int			 suspended;	/* and waits for the guest */
};

static const struct {
	const char	*verb;
	const char	*method;
	uint32_t	 op;
} fs_ops[] = {
	{ "read", "GET", AGENT_FS_READ },
	{ "write", "PUT", AGENT_FS_WRITE },
	{ "list", "GET", AGENT_FS_LIST },
	{ "delete", "DELETE", AGENT_FS_DELETE },
	{ "rename", "POST", AGENT_FS_RENAME },
	{ "copy", "POST", AGENT_FS_COPY },
	{ "chmod", "POST", AGENT_FS_CHMOD },
	{ "chown", "POST", AGENT_FS_CHOWN },
};

static void
fs_unref(struct fsreq *f)
{
	if (f == NULL || --f->refs > 0)
		return;
	agent_fs_done(&f->req);
	buf_done(&f->body);
	buf_done(&f->data);
	free(f->name);
	free(f->path);
	free(f->cause);
	free(f->resolved);
	free(f);
}

void
fs_release(struct fsreq *f)
{
	if (f == NULL)
		return;
	f->conn = NULL;
	/* The client left before the guest was done: drop the request. */
	if (f->cf != NULL) {
		core_fs_cancel(f->cf);
		f->cf = NULL;
		fs_unref(f);	/* core's */
	}
	fs_unref(f);
}

/* The SDK's error code for an errno (it knows the first nine). */
static const char *
fs_code(int err, unsigned *status)
{
	static const struct { int err; const char *code; unsigned status; } codes[] = {
		{ ENOENT, "ENOENT", MHD_HTTP_NOT_FOUND },
		{ EEXIST, "EEXIST", MHD_HTTP_CONFLICT },
		{ ENOTDIR, "ENOTDIR", MHD_HTTP_BAD_REQUEST },
		{ EISDIR, "EISDIR", MHD_HTTP_BAD_REQUEST },
		{ EACCES, "EACCES", MHD_HTTP_FORBIDDEN },
		{ EPERM, "EPERM", MHD_HTTP_FORBIDDEN },
		{ ENOTEMPTY, "ENOTEMPTY", MHD_HTTP_CONFLICT },
		{ EINVAL, "EINVAL", MHD_HTTP_BAD_REQUEST },
		{ EIO, "EIO", MHD_HTTP_INTERNAL_SERVER_ERROR },
		{ EFBIG, "EFBIG", MHD_HTTP_CONTENT_TOO_LARGE },
		{ E2BIG, "E2BIG", MHD_HTTP_CONTENT_TOO_LARGE },
		{ ELOOP, "ELOOP", MHD_HTTP_BAD_REQUEST },
		{ ENAMETOOLONG, "ENAMETOOLONG", MHD_HTTP_BAD_REQUEST },
		{ EXDEV, "EXDEV", MHD_HTTP_BAD_REQUEST },
		{ EROFS, "EROFS", MHD_HTTP_FORBIDDEN },
		{ ENOSPC, "ENOSPC", MHD_HTTP_INSUFFICIENT_STORAGE },
		{ EBUSY, "EBUSY", MHD_HTTP_CONFLICT },
	};

	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		if (codes[i].err == -err) {
			*status = codes[i].status;
			return codes[i].code;
		}
	}
	*status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	return "EIO";
}

static enum MHD_Result
fs_error_shape(struct MHD_Connection *conn, unsigned status, const char *code,
    const char *message, const char *path)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddStringToObject(j, "error", message);
	cJSON_AddStringToObject(j, "code", code);
	if (path != NULL)
		cJSON_AddStringToObject(j, "path", path);
	return api_json(conn, status, j);
}

/* A file error from the guest (or a bad argument): the errno's code. */
static enum MHD_Result
fs_error(struct fsreq *f, int err, const char *message)
{
	unsigned status;
	const char *code = fs_code(err, &status);

	return fs_error_shape(f->conn, status, code, message ? message : strerror(-err),
	    f->path);
}

/* An error of the sprite rather than of a file (none, stopped, gone): the
 * API's own status and code, in the same shape. */
static enum MHD_Result
fs_error_sprite(struct fsreq *f, int err, const char *cause)
{
	const char *code;
	unsigned status = api_status_for(err, &code);

	if (err == -EAGAIN)
		status = MHD_HTTP_CONFLICT;	/* stopped: start it first */
	return fs_error_shape(f->conn, status, code, cause ? cause : strerror(-err), f->path);
}

static const char *
fs_arg(struct MHD_Connection *conn, const char *key)
{
	return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, key);
}

/* A query flag: absent, "", "false", "0" are off; "true", "1" on. */
static int
fs_flag(struct MHD_Connection *conn, const char *key, int *ret)
{
	const char *v = fs_arg(conn, key);

	*ret = 0;
	if (v == NULL || *v == '\0' || strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		return 0;
	if (strcmp(v, "true") != 0 && strcmp(v, "1") != 0)
		return -EINVAL;
	*ret = 1;
	return 0;
}

/* "0644", "755": octal permission bits. */
static int
fs_mode(const char *s, uint32_t *ret)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	v = strtol(s, &end, 8);
	if (*end != '\0' || v < 0 || v > 07777)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

/* A JSON id for chown: a number, or digits in a string; absent is "leave it". */
static int
fs_id(const cJSON *v, uint32_t *ret)
{
	char *end;
	double d;

	*ret = UINT32_MAX;
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (cJSON_IsString(v)) {
		d = (double)strtoul(v->valuestring, &end, 10);
		if (*v->valuestring == '\0' || *end != '\0')
			return -EINVAL;
	} else if (cJSON_IsNumber(v)) {
		d = v->valuedouble;
	} else {
		return -EINVAL;
	}
	if (d < 0 || d >= UINT32_MAX || d != (double)(uint32_t)d)
		return -EINVAL;
	*ret = (uint32_t)d;
	return 0;
}

static int
fs_json_bool(const cJSON *j, const char *key, uint32_t flag, uint32_t *flags, char **cause)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);

	if (v != NULL && !cJSON_IsNull(v) && !cJSON_IsBool(v)) {
		*cause = xasprintf("%s must be true or false", key);
		return -EINVAL;
	}
	if (cJSON_IsTrue(v))
		*flags |= flag;
	return 0;
}

static int
fs_json_string(const cJSON *j, const char *key, int required, char **ret, char **cause)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);

	if ((v == NULL || cJSON_IsNull(v)) && !required)
		return 0;
	if (!cJSON_IsString(v) || (required && *v->valuestring == '\0')) {
		*cause = xasprintf("%s must be a string%s", key, required ? " and is required" : "");
		return -EINVAL;
	}
	free(*ret);
	*ret = xstrdup(v->valuestring);
	return 0;
}

/* The query of read, write, list and delete. */
static int
fs_parse_query(struct fsreq *f, char **cause)
{
	const char *mode = fs_arg(f->conn, "mode"), *pattern = fs_arg(f->conn, "pattern");
	int on, r = 0;

	f->req.path = xstrdup(fs_arg(f->conn, "path") ? fs_arg(f->conn, "path") : "");
	f->req.cwd = xstrdup(fs_arg(f->conn, "workingDir") ? fs_arg(f->conn, "workingDir") : "");
	f->req.path2 = xstrdup(pattern && f->op == AGENT_FS_LIST ? pattern : "");
	if (fs_flag(f->conn, "recursive", &on) < 0 || fs_flag(f->conn, "asRoot", &on) < 0 ||
	    fs_flag(f->conn, "mkdirParents", &on) < 0 || fs_flag(f->conn, "mkdir", &on) < 0) {
		*cause = xstrdup("recursive, asRoot, mkdirParents and mkdir must be true or false");
		return -EINVAL;
	}
	fs_flag(f->conn, "recursive", &on);
	f->req.flags |= on ? AGENT_FS_RECURSIVE : 0;
	fs_flag(f->conn, "mkdirParents", &on);
	f->req.flags |= on ? AGENT_FS_MKDIRS : 0;
	fs_flag(f->conn, "mkdir", &on);
	f->req.flags |= on ? AGENT_FS_MKDIRS : 0;
	if (mode != NULL && f->op == AGENT_FS_WRITE) {
		r = fs_mode(mode, &f->req.mode);
		if (r < 0)
			*cause = xstrdup("mode must be octal permission bits, such as 0644");
		f->req.flags |= AGENT_FS_MODE;
	}
	return r;
}

/* The JSON body of rename, copy, chmod and chown. */
static int
fs_parse_json(struct fsreq *f, char **cause)
{
	cJSON *j = cJSON_ParseWithLength((const char *)buf_head(&f->body), buf_used(&f->body));
	const cJSON *mode;
	const char *src_key = f->op == AGENT_FS_RENAME || f->op == AGENT_FS_COPY ?
	    "source" : "path";
	int r;

	if (!cJSON_IsObject(j)) {
		*cause = xasprintf("the request body must be a JSON object with \"%s\"", src_key);
		r = -EINVAL;
		goto out;
	}
	r = fs_json_string(j, src_key, 1, &f->req.path, cause);
	if (r == 0 && (f->op == AGENT_FS_RENAME || f->op == AGENT_FS_COPY))
		r = fs_json_string(j, "dest", 1, &f->req.path2, cause);
	if (r == 0)
		r = fs_json_string(j, "workingDir", 0, &f->req.cwd, cause);
	if (r == 0)
		r = fs_json_bool(j, "recursive", AGENT_FS_RECURSIVE, &f->req.flags, cause);
	if (r == 0)
		r = fs_json_bool(j, "preserveAttrs", AGENT_FS_PRESERVE, &f->req.flags, cause);
	if (r == 0 && f->op == AGENT_FS_CHMOD) {
		mode = cJSON_GetObjectItemCaseSensitive(j, "mode");
		if (!cJSON_IsString(mode) || fs_mode(mode->valuestring, &f->req.mode) < 0) {
			*cause = xstrdup("mode must be a string of octal permission bits, "
			    "such as \"0755\"");
			r = -EINVAL;
		}
	}
	if (r == 0 && f->op == AGENT_FS_CHOWN) {
		if (fs_id(cJSON_GetObjectItemCaseSensitive(j, "uid"), &f->req.uid) < 0 ||
		    fs_id(cJSON_GetObjectItemCaseSensitive(j, "gid"), &f->req.gid) < 0) {
			*cause = xstrdup("uid and gid must be numeric ids: sprig does not look "
			    "user or group names up");
			r = -EINVAL;
		} else if (f->req.uid == UINT32_MAX && f->req.gid == UINT32_MAX) {
			*cause = xstrdup("uid or gid is required");
			r = -EINVAL;
		}
	}
out:
	cJSON_Delete(j);
	return r;
}

static int
fs_parse(struct fsreq *f, char **cause)
{
	int r;

	f->req.op = f->op;
	f->req.uid = f->req.gid = UINT32_MAX;
	f->req.limit = f->op == AGENT_FS_LIST ? FS_MAX_ENTRIES : FS_MAX_FILE;
	if (f->op == AGENT_FS_READ || f->op == AGENT_FS_WRITE || f->op == AGENT_FS_LIST ||
	    f->op == AGENT_FS_DELETE)
		r = fs_parse_query(f, cause);
	else
		r = fs_parse_json(f, cause);
	if (r < 0)
		return r;
	if (f->req.path2 == NULL)
		f->req.path2 = xstrdup("");
	if (f->req.cwd == NULL)
		f->req.cwd = xstrdup("");
	f->path = xstrdup(f->req.path);
	if (*f->req.path == '\0') {
		*cause = xstrdup("path is required");
		return -EINVAL;
	}
	if (strlen(f->req.path) > AGENT_FS_PATH_MAX || strlen(f->req.path2) > AGENT_FS_PATH_MAX ||
	    strlen(f->req.cwd) > AGENT_FS_PATH_MAX) {
		*cause = xasprintf("a path is longer than %d bytes", AGENT_FS_PATH_MAX);
		return -ENAMETOOLONG;
	}
	return 0;
}

static void
fs_data(void *arg, const uint8_t *p, size_t n)
{
	struct fsreq *f = arg;

	buf_add(&f->data, p, n);
	/* A list is answered whole: take all the guest has. */
	if (f->op == AGENT_FS_LIST && f->cf != NULL)
		core_fs_consumed(f->cf, n);
	if (f->conn != NULL && (!f->streaming || f->suspended)) {
		f->suspended = 0;
		api_resume(f->api, f->conn);
	}
}

static void
fs_done(void *arg, int err, const char *cause, const char *path, uint64_t value)
{
	struct fsreq *f = arg;

	f->cf = NULL;
	f->done = 1;
	f->err = err;
	f->cause = cause ? xstrdup(cause) : NULL;
	f->resolved = xstrdup(path ? path : "");
	f->value = value;
	if (f->conn != NULL && (!f->streaming || f->suspended)) {
		f->suspended = 0;
		api_resume(f->api, f->conn);
	}
	fs_unref(f);	/* core's */
}

static const struct core_fs_callbacks fs_cb = {
	.data = fs_data,
	.done = fs_done,
};

static ssize_t
fs_read_body(void *cls, uint64_t pos, char *out, size_t max)
{
	struct fsreq *f = cls;
	size_t n = buf_used(&f->data);

	if (n == 0 && f->done && f->err < 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;	/* cut, not short */
	if (n > max)
		n = max;
	if (n > 0 && f->cf != NULL)
		core_fs_consumed(f->cf, n);
	return api_stream_read(f->conn, &f->data, f->done, &f->suspended, out, max);
}

static void
fs_read_free(void *cls)
{
	fs_unref(cls);
}

/* A read's bytes, streamed as they come. */
static enum MHD_Result
fs_answer_read(struct fsreq *f)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, fs_read_body, f,
	    fs_read_free);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream");
	f->streaming = 1;
	f->refs++;	/* the answer's */
	ret = MHD_queue_response(f->conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

static const char *
fs_type_name(uint8_t type)
{
	switch (type) {
	case AGENT_FS_FILE: return "file";
	case AGENT_FS_DIR: return "directory";
	case AGENT_FS_SYMLINK: return "symlink";
	default: return "other";
	}
}

static enum MHD_Result
fs_answer_list(struct fsreq *f)
{
	struct agent_fs_entry e;
	cJSON *j = cJSON_CreateObject(), *arr, *o;
	char mode[8], when[32], *path;
	size_t count = 0;
	struct rd r;

	cJSON_AddStringToObject(j, "path", f->resolved);
	arr = cJSON_AddArrayToObject(j, "entries");
	rd_init(&r, buf_head(&f->data), buf_used(&f->data));
	while (rd_left(&r) > 0) {
		if (agent_fs_entry_decode(&r, &e) < 0 || count == FS_MAX_ENTRIES) {
			cJSON_Delete(j);
			return fs_error(f, -EIO, "the guest sent a malformed list");
		}
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", e.name);
		path = xasprintf("%s%s%s", f->resolved,
		    *f->resolved && f->resolved[strlen(f->resolved) - 1] == '/' ? "" : "/", e.name);
		cJSON_AddStringToObject(o, "path", path);
		free(path);
		cJSON_AddStringToObject(o, "type", fs_type_name(e.type));
		cJSON_AddNumberToObject(o, "size", (double)e.size);
		snprintf(mode, sizeof mode, "%04o", e.mode);
		cJSON_AddStringToObject(o, "mode", mode);
		format_rfc3339(e.mtime * 1000, when, sizeof when);
		cJSON_AddStringToObject(o, "modTime", when);
		cJSON_AddBoolToObject(o, "isDir", e.type == AGENT_FS_DIR);
		cJSON_AddItemToArray(arr, o);
		free(e.name);
		count++;
	}
	cJSON_AddNumberToObject(j, "count", (double)count);
	return api_json(f->conn, MHD_HTTP_OK, j);
}

/* The guest is done: the answer of each op, in the SDK's shapes. */
static enum MHD_Result
fs_answer(struct fsreq *f)
{
	cJSON *j;
	char mode[8];

	if (f->op == AGENT_FS_LIST)
		return fs_answer_list(f);
	j = cJSON_CreateObject();
	switch (f->op) {
	case AGENT_FS_WRITE:
		cJSON_AddStringToObject(j, "path", f->resolved);
		cJSON_AddNumberToObject(j, "size", (double)f->value);
		if (f->req.flags & AGENT_FS_MODE) {
			snprintf(mode, sizeof mode, "%04o", f->req.mode);
			cJSON_AddStringToObject(j, "mode", mode);
		}
		break;
	case AGENT_FS_DELETE:
		cJSON_AddItemToObject(j, "deleted", cJSON_CreateStringArray(
		    (const char *const []){ f->resolved }, 1));
		cJSON_AddNumberToObject(j, "count", (double)f->value);
		break;
	case AGENT_FS_RENAME:
	case AGENT_FS_COPY:
		cJSON_AddStringToObject(j, "source", f->path);
		cJSON_AddStringToObject(j, "dest", f->resolved);
		if (f->op == AGENT_FS_COPY)
			cJSON_AddNumberToObject(j, "count", (double)f->value);
		break;
	default:
		cJSON_AddStringToObject(j, "path", f->resolved);
		if (f->op == AGENT_FS_CHMOD) {
			snprintf(mode, sizeof mode, "%04o", f->req.mode);
			cJSON_AddStringToObject(j, "mode", mode);
		}
		cJSON_AddNumberToObject(j, "count", (double)f->value);
		break;
	}
	return api_json(f->conn, MHD_HTTP_OK, j);
}

/* The guest's error codes are errnos; the sprite's own come from core
 * with a cause of its own (stopped, gone, too old). */
static int
fs_sprite_err(int err)
{
	return err == -EAGAIN || err == -ECANCELED || err == -ENOTSUP || err == -EPROTO;
}

static struct fsreq *
fs_new(struct api *a, struct MHD_Connection *conn, const char *name, const char *verb,
    const char *method, enum MHD_Result *ret)
{
	struct fsreq *f;
	char *msg;

	for (size_t i = 0; i < sizeof fs_ops / sizeof fs_ops[0]; i++) {
		if (strcmp(fs_ops[i].verb, verb) != 0)
			continue;
		f = xcalloc(1, sizeof *f);
		f->api = a;
		f->conn = conn;
		f->refs = 1;
		f->op = fs_ops[i].op;
		f->verb = fs_ops[i].verb;
		f->name = xstrdup(name);
		buf_init(&f->body);
		buf_init(&f->data);
		/* The SDK writes with PUT; POST is taken for curl's sake. */
		if (strcmp(method, fs_ops[i].method) != 0 &&
		    !(f->op == AGENT_FS_WRITE && strcmp(method, "POST") == 0)) {
			msg = xasprintf("fs/%s takes %s", verb, fs_ops[i].method);
			*ret = fs_error_shape(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
			    "method_not_allowed", msg, NULL);
			free(msg);
		}
		return f;
	}
	msg = xasprintf("no filesystem call named \"%s\" (sprig serves read, write, list, "
	    "delete, rename, copy, chmod and chown)", verb);
	*ret = fs_error_shape(conn, MHD_HTTP_NOT_FOUND, "not_found", msg, NULL);
	free(msg);
	return NULL;
}

/* Takes a piece of the body; a write's may be up to FS_MAX_FILE. */
static void
fs_body(struct fsreq *f, const char *data, size_t n)
{
	size_t max = f->op == AGENT_FS_WRITE ? FS_MAX_FILE : FS_MAX_JSON;

	if (f->too_big || n > max - buf_used(&f->body)) {
		f->too_big = 1;
		buf_done(&f->body);
		buf_init(&f->body);
		return;
	}
	buf_add(&f->body, data, n);
}

static enum MHD_Result
fs_too_big(struct fsreq *f)
{
	char *msg = f->op == AGENT_FS_WRITE ?
	    xasprintf("the file is over the limit of %u bytes (%u MiB) a write may send",
	    FS_MAX_FILE, FS_MAX_FILE >> 20) :
	    xasprintf("the request body is over %u bytes", FS_MAX_JSON);
	enum MHD_Result ret = fs_error(f, -EFBIG, msg);

	free(msg);
	return ret;
}

enum MHD_Result
fs_handle(struct api *a, struct MHD_Connection *conn, const char *name, const char *verb,
    const char *method, const char *upload_data, size_t *upload_data_size,
    struct fsreq **slot)
{
	struct fsreq *f = *slot;
	enum MHD_Result ret = MHD_YES;
	const char *len;
	char *cause = NULL;
	int r;

	if (f == NULL) {
		f = *slot = fs_new(a, conn, name, verb, method, &ret);
		if (f == NULL || ret != MHD_YES)
			return ret;
		if (f->op == AGENT_FS_WRITE &&
		    (len = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH)) != NULL &&
		    strtoull(len, NULL, 10) > FS_MAX_FILE) {
			f->too_big = 1;	/* answered once it is read (and thrown away):
					 * a client may not read an answer it is
					 * still sending the body of */
		}
	}
	if (*upload_data_size > 0) {
		fs_body(f, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (f->too_big)
		return fs_too_big(f);
	if (!f->started) {
		r = fs_parse(f, &cause);
		if (r < 0) {
			ret = fs_error(f, r, cause);
			free(cause);
			return ret;
		}
		r = core_fs(a->core, f->name, &f->req, buf_head(&f->body), buf_used(&f->body),
		    &fs_cb, f, &f->cf, &cause);
		if (r < 0) {
			ret = fs_error_sprite(f, r, cause);
			free(cause);
			return ret;
		}
		f->started = 1;
		f->refs++;	/* core's */
		MHD_suspend_connection(conn);
		return MHD_YES;
	}
	if (f->streaming)
		return MHD_YES;
	if (f->done && f->err < 0) {
		if (fs_sprite_err(f->err))
			return fs_error_sprite(f, f->err, f->cause);
		return fs_error(f, f->err, f->cause);
	}
	if (f->op == AGENT_FS_READ && (f->done || buf_used(&f->data) > 0))
		return fs_answer_read(f);
	if (f->done)
		return fs_answer(f);
	MHD_suspend_connection(conn);	/* a list's records came: wait for its end */
	return MHD_YES;
}
