/*
 * exec: running a command in a sprite over a WebSocket, in the Sprites
 * API's framing. Non-tty: binary messages whose first byte names a stream
 * (0 stdin, 1 stdout, 2 stderr, 3 exit + one byte code, 4 stdin EOF). Tty:
 * binary messages are raw terminal bytes both ways; the client sends
 * {"type":"resize","cols","rows"} and {"type":"signal","signal"} as text; the
 * server ends with {"type":"exit","exit_code"} before closing. A command that
 * cannot start gets {"type":"error",...} and exit code 127; a sprite that
 * stops underneath gets {"type":"error","error":"sprite_stopped",...} and a
 * 1011 close.
 *
 * A sleeping sprite is woken first (the caller just waits); a stopped one
 * is refused with how to start it.
 *
 * An exec is shared by the HTTP request (until the upgrade), by core (while
 * it waits for the sprite to be idle or awake) and by the live session, so
 * it is reference-counted.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api_internal.h"
#include "common/loop.h"
#include "common/ws.h"
#include "common/xmalloc.h"
#include "core/core.h"
#include "vmm/agent.h"

#define EXEC_MAX_ARGS	1024

enum {
	STREAM_STDIN = 0,
	STREAM_STDOUT = 1,
	STREAM_STDERR = 2,
	STREAM_EXIT = 3,
	STREAM_STDIN_EOF = 4,
};

struct exec {
	struct api			*api;
	struct MHD_Connection		*conn;
	int				 refs;
	char				*name;
	char				**argv;
	size_t				 argc;
	char				**env;
	size_t				 envc;
	char				*cwd;
	int				 tty;
	unsigned			 rows, cols;
	char				*bad_query;	/* why the query was refused */
	int				 waited;	/* the sprite was idle */
	int				 woke;		/* a wake was asked for */
	int				 wake_err;	/* and failed so */
	char				*wake_cause;
	struct ws			*ws;
	struct MHD_UpgradeResponseHandle *urh;
	struct agent			*agent;		/* while the session is live */
	uint32_t			 chan;
	int				 done;		/* exit sent or failed */
	int				 held;		/* core_hold was called */
	struct exec			*next;		/* in api->execs once upgraded */
};

static void
strv_add(char ***v, size_t *n, const char *s)
{
	*v = xreallocarray(*v, *n + 2, sizeof **v);
	(*v)[(*n)++] = xstrdup(s);
	(*v)[*n] = NULL;
}

static void
strv_free(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

void
exec_unref(struct exec *ex)
{
	if (ex == NULL || --ex->refs > 0)
		return;
	strv_free(ex->argv);
	strv_free(ex->env);
	free(ex->cwd);
	free(ex->name);
	free(ex->bad_query);
	free(ex->wake_cause);
	free(ex);
}

static int
parse_uint(const char *s, unsigned max, unsigned *ret)
{
	char *end;
	unsigned long v;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	v = strtoul(s, &end, 10);
	if (*end != '\0' || v > max)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

static enum MHD_Result
exec_query_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct exec *ex = cls;

	if (ex->bad_query != NULL)
		return MHD_NO;
	if (value == NULL)
		value = "";
	if (strcmp(key, "cmd") == 0) {
		if (ex->argc >= EXEC_MAX_ARGS)
			ex->bad_query = xstrdup("too many cmd arguments");
		else
			strv_add(&ex->argv, &ex->argc, value);
	} else if (strcmp(key, "env") == 0) {
		if (strchr(value, '=') == NULL || value[0] == '=')
			ex->bad_query = xasprintf("env must be KEY=VALUE, not \"%.64s\"", value);
		else if (ex->envc >= EXEC_MAX_ARGS)
			ex->bad_query = xstrdup("too many env entries");
		else
			strv_add(&ex->env, &ex->envc, value);
	} else if (strcmp(key, "dir") == 0) {
		free(ex->cwd);
		ex->cwd = xstrdup(value);
	} else if (strcmp(key, "tty") == 0) {
		ex->tty = strcmp(value, "true") == 0 || strcmp(value, "1") == 0;
	} else if (strcmp(key, "rows") == 0) {
		if (parse_uint(value, 65535, &ex->rows) < 0)
			ex->bad_query = xstrdup("rows must be a number from 0 to 65535");
	} else if (strcmp(key, "cols") == 0) {
		if (parse_uint(value, 65535, &ex->cols) < 0)
			ex->bad_query = xstrdup("cols must be a number from 0 to 65535");
	}
	/* stdin, path and the SDK's other options need nothing here. */
	return MHD_YES;
}

static void
exec_idle(void *arg, int err, const char *cause)
{
	struct exec *ex = arg;

	ex->waited = 1;
	if (ex->conn != NULL)
		api_resume(ex->api, ex->conn);
	exec_unref(ex);
}

/* core_wake's answer: go on as after the wait for idle. */
static void
exec_woken(void *arg, int err, const char *cause)
{
	struct exec *ex = arg;

	ex->wake_err = err;
	if (err < 0)
		ex->wake_cause = xstrdup(cause ? cause : strerror(-err));
	exec_idle(ex, 0, NULL);
}

/* Wakes @ex's sprite if it sleeps: returns 1 when a wake is under way (the
 * connection waits for exec_woken), 0 when the sprite does not sleep, or a
 * negative errno with *cause. */
static int
exec_wake(struct api *a, struct exec *ex, char **cause)
{
	struct sprite_row row = { 0 };
	int r, sleeping;

	if (ex->woke || core_get(a->core, ex->name, &row, cause) < 0)
		return 0;
	sleeping = strcmp(row.state, SPRITE_SLEEPING) == 0;
	sprite_row_done(&row);
	if (!sleeping)
		return 0;
	ex->woke = 1;
	ex->waited = 0;
	ex->refs++;	/* core's, until it is awake */
	r = core_wake(a->core, ex->name, exec_woken, ex, cause);
	if (r < 0) {
		ex->refs--;
		return r;
	}
	return 1;
}

static void
exec_send_json(struct exec *ex, cJSON *j)
{
	char *text = cJSON_PrintUnformatted(j);

	cJSON_Delete(j);
	if (text != NULL)
		ws_send(ex->ws, 0, text, strlen(text));
	free(text);
}

static void
exec_send_exit(struct exec *ex, int code)
{
	if (ex->tty) {
		cJSON *j = cJSON_CreateObject();

		cJSON_AddStringToObject(j, "type", "exit");
		cJSON_AddNumberToObject(j, "exit_code", code);
		exec_send_json(ex, j);
	} else {
		uint8_t frame[2] = { STREAM_EXIT, (uint8_t)code };

		ws_send(ex->ws, 1, frame, sizeof frame);
	}
}

static void
exec_send_error(struct exec *ex, const char *code, const char *message)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddStringToObject(j, "type", "error");
	cJSON_AddStringToObject(j, "error", code);
	cJSON_AddStringToObject(j, "message", message);
	exec_send_json(ex, j);
}

static void
exec_started(void *arg, int err, const char *message)
{
	struct exec *ex = arg;

	if (err == 0)
		return;
	ex->agent = NULL;
	ex->done = 1;
	exec_send_error(ex, err == -ENOENT ? "not_found" : "exec_failed", message);
	exec_send_exit(ex, err == -ENOENT ? 127 : 126);
	ws_close(ex->ws, 1000, NULL);
}

static void
exec_output(void *arg, int stream, const uint8_t *data, size_t len)
{
	struct exec *ex = arg;
	uint8_t *frame;

	if (ex->tty) {
		ws_send(ex->ws, 1, data, len);
		return;
	}
	frame = xmalloc(len + 1);
	frame[0] = (uint8_t)stream;
	memcpy(frame + 1, data, len);
	ws_send(ex->ws, 1, frame, len + 1);
	free(frame);
}

static void
exec_exited(void *arg, int code, int sig)
{
	struct exec *ex = arg;

	ex->agent = NULL;
	ex->done = 1;
	exec_send_exit(ex, code);
	ws_close(ex->ws, 1000, NULL);
}

static void
exec_lost(void *arg, const char *why)
{
	struct exec *ex = arg;
	char *msg;

	ex->agent = NULL;
	ex->done = 1;
	ex->held = 0;	/* the sprite it held stopped; a later one is not ours */
	msg = xasprintf("sprite \"%s\" stopped while the command ran (%s)", ex->name, why);
	exec_send_error(ex, "sprite_stopped", msg);
	free(msg);
	ws_close(ex->ws, 1011, "sprite stopped");
}

static const struct agent_session_callbacks exec_session_cb = {
	.started = exec_started,
	.output = exec_output,
	.exited = exec_exited,
	.lost = exec_lost,
};

static int
signal_number(const cJSON *sig)
{
	static const struct { const char *name; int num; } names[] = {
		{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT },
		{ "KILL", SIGKILL }, { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 },
		{ "TERM", SIGTERM }, { "CONT", SIGCONT }, { "STOP", SIGSTOP },
		{ "WINCH", SIGWINCH },
	};
	const char *s;

	if (cJSON_IsNumber(sig))
		return sig->valueint > 0 && sig->valueint < 65 ? sig->valueint : -1;
	if (!cJSON_IsString(sig))
		return -1;
	s = sig->valuestring;
	if (strncmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcmp(s, names[i].name) == 0)
			return names[i].num;
	}
	return -1;
}

static void
exec_control(struct exec *ex, const uint8_t *data, size_t len)
{
	cJSON *j = cJSON_ParseWithLength((const char *)data, len), *type;
	int sig;

	type = cJSON_GetObjectItemCaseSensitive(j, "type");
	if (!cJSON_IsString(type) || ex->agent == NULL)
		goto out;
	if (strcmp(type->valuestring, "resize") == 0) {
		cJSON *rows = cJSON_GetObjectItemCaseSensitive(j, "rows");
		cJSON *cols = cJSON_GetObjectItemCaseSensitive(j, "cols");

		if (cJSON_IsNumber(rows) && cJSON_IsNumber(cols) && rows->valueint > 0 &&
		    cols->valueint > 0 && rows->valueint < 65536 && cols->valueint < 65536)
			agent_resize(ex->agent, ex->chan, (unsigned)rows->valueint,
			    (unsigned)cols->valueint);
	} else if (strcmp(type->valuestring, "signal") == 0) {
		sig = signal_number(cJSON_GetObjectItemCaseSensitive(j, "signal"));
		if (sig > 0)
			agent_signal(ex->agent, ex->chan, sig);
	}
out:
	cJSON_Delete(j);
}

static void
exec_ws_message(struct ws *ws, int binary, const uint8_t *data, size_t len, void *arg)
{
	struct exec *ex = arg;

	if (!binary) {
		exec_control(ex, data, len);
		return;
	}
	if (ex->agent == NULL)
		return;
	if (ex->tty) {
		agent_stdin(ex->agent, ex->chan, data, len);
		return;
	}
	if (len == 0)
		return;
	if (data[0] == STREAM_STDIN)
		agent_stdin(ex->agent, ex->chan, data + 1, len - 1);
	else if (data[0] == STREAM_STDIN_EOF)
		agent_stdin_eof(ex->agent, ex->chan);
}

static void
exec_end(struct exec *ex)
{
	struct exec **pp;

	if (ex->held)
		core_unhold(ex->api->core, ex->name);
	ex->held = 0;
	for (pp = &ex->api->execs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == ex) {
			*pp = ex->next;
			break;
		}
	}
	if (ex->agent != NULL)
		agent_forget(ex->agent, ex->chan);	/* the client left: kill it */
	ex->agent = NULL;
	ws_free(ex->ws);
	ex->ws = NULL;
	MHD_upgrade_action(ex->urh, MHD_UPGRADE_ACTION_CLOSE);
	ex->urh = NULL;
	/* The close takes effect in MHD's next run: make it this turn. */
	ex->api->resumed = 1;
	exec_unref(ex);
}

static void
exec_ws_closed(struct ws *ws, int code, void *arg)
{
	exec_end(arg);
}

static const struct ws_callbacks exec_ws_cb = {
	.message = exec_ws_message,
	.closed = exec_ws_closed,
};

static void
exec_upgraded(void *cls, struct MHD_Connection *conn, void *req_cls,
    const char *extra_in, size_t extra_in_size, MHD_socket sock,
    struct MHD_UpgradeResponseHandle *urh)
{
	struct exec *ex = cls;
	struct agent_exec spec = { 0 };
	char *cause = NULL;
	int r;

	ex->urh = urh;
	ex->next = ex->api->execs;
	ex->api->execs = ex;
	ex->ws = ws_new(ex->api->loop, sock, 0, 0, (const uint8_t *)extra_in,
	    extra_in_size, &exec_ws_cb, ex);
	if (ex->ws == NULL) {
		exec_end(ex);
		return;
	}
	/* The sprite may have stopped between the 101 and now. */
	r = core_agent(ex->api->core, ex->name, &ex->agent, &cause);
	if (r == 0) {
		spec.flags = ex->tty ? AGENT_EXEC_TTY : 0;
		spec.rows = (uint16_t)ex->rows;
		spec.cols = (uint16_t)ex->cols;
		spec.argv = ex->argv;
		spec.env = ex->env;
		spec.cwd = ex->cwd;
		r = agent_exec(ex->agent, &spec, &exec_session_cb, ex, &ex->chan);
		if (r < 0)
			cause = xstrdup("the sprite's agent is not connected");
	}
	if (r == 0) {
		/* An open session keeps the sprite awake, quiet or not. */
		core_hold(ex->api->core, ex->name);
		ex->held = 1;
	}
	if (r < 0) {
		ex->agent = NULL;
		ex->done = 1;
		exec_send_error(ex, "sprite_stopped", cause);
		ws_close(ex->ws, 1011, "cannot exec");
	}
	free(cause);
}

static enum MHD_Result
exec_upgrade(struct exec *ex, struct MHD_Connection *conn)
{
	const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    "Sec-WebSocket-Key");
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char accept[29];

	ws_accept_key(key, accept);
	resp = MHD_create_response_for_upgrade(exec_upgraded, ex);
	if (resp == NULL)
		return api_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
		    "cannot upgrade the connection");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "websocket");
	MHD_add_response_header(resp, "Sec-WebSocket-Accept", accept);
	ex->refs++;	/* the session's */
	ret = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
	MHD_destroy_response(resp);
	if (ret != MHD_YES)
		ex->refs--;
	return ret;
}

static int
header_has_token(const char *value, const char *token)
{
	size_t n = strlen(token);

	for (const char *p = value; p != NULL && *p; p++) {
		if (strncasecmp(p, token, n) == 0)
			return 1;
	}
	return 0;
}

enum MHD_Result
exec_handle(struct api *a, struct MHD_Connection *conn, const char *name,
    struct exec **slot)
{
	struct exec *ex = *slot;
	struct sprite_row row = { 0 };
	struct agent *agent;
	const char *upgrade, *key;
	char *cause = NULL;
	enum MHD_Result ret;
	int r;

	if (ex == NULL) {
		ex = xcalloc(1, sizeof *ex);
		ex->api = a;
		ex->conn = conn;
		ex->refs = 1;
		ex->name = xstrdup(name);
		*slot = ex;
		return MHD_YES;
	}
	if (ex->waited) {
		if (ex->wake_err < 0)
			return api_error_errno(conn, ex->wake_err, ex->wake_cause);
		r = core_agent(a->core, ex->name, &agent, &cause);
		if (r == -EAGAIN) {
			char *why = NULL;
			int w = exec_wake(a, ex, &why);

			if (w == 1) {
				free(cause);
				MHD_suspend_connection(conn);
				return MHD_YES;
			}
			if (w < 0) {
				free(cause);
				cause = why;
				r = w;
			} else {
				free(why);
			}
		}
		if (r < 0) {
			const char *code;
			unsigned status = api_status_for(r, &code);

			ret = api_error(conn, status, code, cause);
			free(cause);
			return ret;
		}
		return exec_upgrade(ex, conn);
	}
	upgrade = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_UPGRADE);
	key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Key");
	if (upgrade == NULL || !header_has_token(upgrade, "websocket") || key == NULL ||
	    strlen(key) != 24)
		return api_error(conn, MHD_HTTP_BAD_REQUEST, "bad_request",
		    "exec is a WebSocket endpoint: send Upgrade: websocket with a Sec-WebSocket-Key");
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, exec_query_arg, ex);
	if (ex->bad_query != NULL)
		return api_error(conn, MHD_HTTP_BAD_REQUEST, "bad_request", ex->bad_query);
	if (ex->argc == 0 || ex->argv[0][0] == '\0')
		return api_error(conn, MHD_HTTP_BAD_REQUEST, "bad_request",
		    "no command: pass it as cmd=PROGRAM&cmd=ARG...");
	r = core_get(a->core, ex->name, &row, &cause);
	sprite_row_done(&row);
	if (r == 0) {
		ex->refs++;	/* core's, until the sprite is idle */
		r = core_wait_idle(a->core, ex->name, exec_idle, ex, &cause);
		if (r < 0)
			ex->refs--;
	}
	if (r < 0) {
		const char *code;
		unsigned status = api_status_for(r, &code);

		ret = api_error(conn, status, code, cause);
		free(cause);
		return ret;
	}
	MHD_suspend_connection(conn);
	return MHD_YES;
}

void
exec_close_all(struct api *a)
{
	while (a->execs != NULL)
		exec_end(a->execs);
}
