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
 * POST .../exec (the SDK's execFileHTTP) runs a non-tty command without a
 * WebSocket: the request body is its stdin, the answer a chunked body whose
 * every HTTP chunk is one frame in the same framing (1 stdout, 2 stderr,
 * 3 exit + one byte code), so the SDK's reader can tell frames apart.
 *
 * detachable=true (or max_run_after_disconnect) makes the command a session
 * (api/session.c) that outlives its WebSocket; GET .../exec/ID attaches to
 * one, GET .../exec without a command lists them.
 *
 * A sleeping sprite is woken first (the caller just waits); a stopped one
 * is refused with how to start it. Commands running at once are capped in
 * all and per sprite (core's settings max_execs, max_execs_per_sprite):
 * past a cap the exec is refused with 429 too_many_execs, before any
 * upgrade, rather than queued; a command counts from then until it exits
 * or its client leaves.
 *
 * An exec is shared by the HTTP request (until the upgrade), by core (while
 * it waits for the sprite to be idle or awake) and by the live session, so
 * it is reference-counted.
 *
 * Output credit (common/agent_proto.h) goes back to the guest as output is
 * handed on, but not while the WebSocket has WS_LOW_WATER bytes unsent: a
 * client that does not read stops the command (its pipe fills) instead of
 * growing the daemon; the credit held back goes once the socket drains. An
 * attached session's client gives the session's credit the same way.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>

#include "api_internal.h"
#include "common/buf.h"
#include "common/loop.h"
#include "common/ws.h"
#include "common/xmalloc.h"
#include "core/core.h"
#include "session.h"
#include "vmm/agent.h"

#define EXEC_MAX_ARGS	1024
/* An HTTP exec's output record in ex->out: stream, u32 length, bytes. */
#define EXEC_REC_HEAD	5
/*
 * The gap between an HTTP exec's frames. The SDK takes each read of the
 * body for one frame, and its HTTP client joins chunks that arrive
 * together; frames sent apart arrive apart. Output of one stream that
 * piles up meanwhile goes out as one frame, so the gap costs little for
 * small outputs; big ones go at about FRAME_MAX per GAP (the SDK says to
 * use the WebSocket exec for those).
 */
#define EXEC_HTTP_GAP_MS	5
/* The exit frame after output waits longer: joined to the output it is lost. */
#define EXEC_HTTP_EXIT_GAP_MS	25
/* And a frame bigger than this may reach it in two reads. */
#define EXEC_HTTP_FRAME_MAX	(16 * 1024)
/* MHD does not see a suspended connection close: look this often. */
#define EXEC_HTTP_WATCH_MS	1000

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
	const char			*unsupported;	/* what it asked that sprig lacks */
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
	int				 parsed;	/* the query was read and checked */
	int				 http;		/* POST .../exec: a chunked answer */
	struct buf			 out;		/* HTTP: output records not yet sent */
	int				 suspended;	/* HTTP: the answer waits for output or pace */
	int				 pacing;	/* HTTP: a frame just went; wait a little */
	int				 sent_data;	/* HTTP: output frames went */
	int				 exit_waited;	/* HTTP: the longer gap before exit passed */
	uint64_t			 pace_timer;
	uint64_t			 watch_timer;
	int				 gone;		/* HTTP: the client closed its end */
	int				 detachable;	/* start a session */
	uint64_t			 max_run_ms;	/* its max_run_after_disconnect */
	char				*sid;		/* attach to this session */
	struct session			*sess;		/* attached to it (a ref) */
	struct exec			*next;		/* in api->execs once upgraded */
	int				 counted;	/* in api->running */
	struct exec			*run_next;
	size_t				 owed;		/* WebSocket: output credit held
							 * back while the client is slow */
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

/* Counts @ex against the exec limits, or -EUSERS with *@cause past one. */
static int
exec_admit(struct api *a, struct exec *ex, char **cause)
{
	struct core_settings set;
	int64_t all = 0, mine = 0;

	core_settings_get(a->core, &set);
	for (struct exec *e = a->running; e != NULL; e = e->run_next) {
		all++;
		mine += strcmp(e->name, ex->name) == 0;
	}
	if (set.max_execs_sprite > 0 && mine >= set.max_execs_sprite) {
		*cause = xasprintf("sprite \"%s\" runs %lld commands, the most it may run at once "
		    "(max_execs_per_sprite): wait for one to end", ex->name, (long long)mine);
		return -EUSERS;
	}
	if (set.max_execs > 0 && all >= set.max_execs) {
		*cause = xasprintf("sprig runs %lld commands, the most it may run at once "
		    "(max_execs): wait for one to end", (long long)all);
		return -EUSERS;
	}
	ex->counted = 1;
	ex->run_next = a->running;
	a->running = ex;
	return 0;
}

/* @ex's command is over (or never ran): it no longer counts. */
static void
exec_retire(struct exec *ex)
{
	if (!ex->counted)
		return;
	for (struct exec **pp = &ex->api->running; *pp != NULL; pp = &(*pp)->run_next) {
		if (*pp == ex) {
			*pp = ex->run_next;
			break;
		}
	}
	ex->counted = 0;
}

static enum MHD_Result
exec_too_many(struct MHD_Connection *conn, char *cause)
{
	enum MHD_Result ret = api_error(conn, MHD_HTTP_TOO_MANY_REQUESTS, "too_many_execs",
	    cause);

	free(cause);
	return ret;
}

void
exec_unref(struct exec *ex)
{
	if (ex == NULL || --ex->refs > 0)
		return;
	exec_retire(ex);
	strv_free(ex->argv);
	strv_free(ex->env);
	free(ex->cwd);
	free(ex->name);
	free(ex->bad_query);
	free(ex->wake_cause);
	free(ex->sid);
	buf_done(&ex->out);
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
	} else if (strcmp(key, "detachable") == 0) {
		ex->detachable = strcmp(value, "true") == 0 || strcmp(value, "1") == 0;
	} else if (strcmp(key, "cc") == 0 && strcmp(value, "true") == 0) {
		ex->unsupported = "control connections (controlMode)";
	} else if (strcmp(key, "max_run_after_disconnect") == 0 && *value != '\0') {
		if (session_parse_duration(value, &ex->max_run_ms) < 0)
			ex->bad_query = xasprintf("max_run_after_disconnect must be a duration "
			    "such as 30s, 5m or 1h, not \"%.64s\"", value);
	}
	/* stdin and path (the SDK's copy of cmd[0]) need nothing here. */
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

/* HTTP: resumes the answer's connection if it waits and may go on. */
static void
exec_http_wake(struct exec *ex)
{
	if (ex->suspended && !ex->pacing && ex->conn != NULL) {
		ex->suspended = 0;
		api_resume(ex->api, ex->conn);
	}
}

/* HTTP: whether the client left, which MHD cannot tell while the answer is
 * suspended; if it did, the answer ends (and the command with it). */
static void
exec_http_watch(struct loop *l, uint64_t id, void *arg)
{
	struct exec *ex = arg;
	const union MHD_ConnectionInfo *ci;
	char c;

	ex->watch_timer = 0;
	ci = MHD_get_connection_info(ex->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci != NULL && recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0) {
		ex->gone = 1;
		if (ex->suspended) {
			ex->suspended = 0;
			api_resume(ex->api, ex->conn);
		}
		return;
	}
	ex->watch_timer = loop_add_timer(l, EXEC_HTTP_WATCH_MS, exec_http_watch, ex);
}

static void
exec_http_paced(struct loop *l, uint64_t id, void *arg)
{
	struct exec *ex = arg;

	ex->pace_timer = 0;
	ex->pacing = 0;
	exec_http_wake(ex);
}

/* HTTP: queues a record of @stream for the answer. */
static void
exec_http_add(struct exec *ex, int stream, const void *data, size_t len)
{
	buf_add_u8(&ex->out, (uint8_t)stream);
	buf_add_u32(&ex->out, (uint32_t)len);
	buf_add(&ex->out, data, len);
	exec_http_wake(ex);
}

/* HTTP: no more output; the answer ends once the records are sent. */
static void
exec_http_end_stream(struct exec *ex)
{
	ex->done = 1;
	exec_http_wake(ex);
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
	uint8_t byte = (uint8_t)code;

	if (ex->http) {
		exec_http_add(ex, STREAM_EXIT, &byte, 1);
	} else if (ex->tty) {
		cJSON *j = cJSON_CreateObject();

		cJSON_AddStringToObject(j, "type", "exit");
		cJSON_AddNumberToObject(j, "exit_code", code);
		exec_send_json(ex, j);
	} else {
		uint8_t frame[2] = { STREAM_EXIT, byte };

		ws_send(ex->ws, 1, frame, sizeof frame);
	}
}

static void
exec_send_error(struct exec *ex, const char *code, const char *message)
{
	cJSON *j;
	char *line;

	if (ex->http) {	/* for a person reading stderr */
		line = xasprintf("sprig: %s\n", message);
		exec_http_add(ex, STREAM_STDERR, line, strlen(line));
		free(line);
		return;
	}
	j = cJSON_CreateObject();

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
	exec_retire(ex);
	ex->agent = NULL;
	ex->done = 1;
	exec_send_error(ex, err == -ENOENT ? "not_found" : "exec_failed", message);
	exec_send_exit(ex, err == -ENOENT ? 127 : 126);
	if (ex->http)
		exec_http_end_stream(ex);
	else
		ws_close(ex->ws, 1000, NULL);
}

/* WebSocket: gives the output credit held back to the guest (@now: even
 * if the client is behind; else exec_ws_drained does it then). */
static void
exec_ws_credit(struct exec *ex, int now)
{
	if (ex->agent == NULL || ex->owed == 0 || (!now && ws_pending(ex->ws) >= WS_LOW_WATER))
		return;
	agent_consumed(ex->agent, ex->chan, ex->owed);
	ex->owed = 0;
}

static void
exec_output(void *arg, int stream, const uint8_t *data, size_t len)
{
	struct exec *ex = arg;
	uint8_t head = (uint8_t)stream;

	if (ex->http) {
		exec_http_add(ex, stream, data, len);
		return;
	}
	if (ex->tty)
		ws_send(ex->ws, 1, data, len);
	else
		ws_send2(ex->ws, 1, &head, 1, data, len);
	ex->owed += len;
	exec_ws_credit(ex, 0);
}

static void
exec_exited(void *arg, int code, int sig)
{
	struct exec *ex = arg;

	exec_retire(ex);
	ex->agent = NULL;
	ex->done = 1;
	exec_send_exit(ex, code);
	if (ex->http) {
		exec_http_end_stream(ex);
		return;
	}
	/* The SDKs know a tty command's status only by the close code: 1000
	 * for 0, any other for failure; 4000 + the status says which. */
	ws_close(ex->ws, ex->tty && code != 0 ? 4000 + (code & 255) : 1000, NULL);
}

static void
exec_lost(void *arg, const char *why)
{
	struct exec *ex = arg;
	char *msg;

	exec_retire(ex);
	ex->agent = NULL;
	ex->done = 1;
	ex->held = 0;	/* the sprite it held stopped; a later one is not ours */
	msg = xasprintf("sprite \"%s\" stopped while the command ran (%s)", ex->name, why);
	exec_send_error(ex, "sprite_stopped", msg);
	free(msg);
	if (ex->http)
		exec_http_end_stream(ex);	/* no exit frame: there is no status */
	else
		ws_close(ex->ws, 1011, "sprite stopped");
}

static const struct agent_session_callbacks exec_session_cb = {
	.started = exec_started,
	.output = exec_output,
	.exited = exec_exited,
	.lost = exec_lost,
	.manual_window = 1,
};

int
exec_signal_number(const char *s)
{
	static const struct { const char *name; int num; } names[] = {
		{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT },
		{ "KILL", SIGKILL }, { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 },
		{ "TERM", SIGTERM }, { "CONT", SIGCONT }, { "STOP", SIGSTOP },
		{ "WINCH", SIGWINCH },
	};
	char *end;
	long v;

	if (*s >= '0' && *s <= '9') {
		v = strtol(s, &end, 10);
		return *end == '\0' && v > 0 && v < 65 ? (int)v : -1;
	}
	if (strncmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcmp(s, names[i].name) == 0)
			return names[i].num;
	}
	return -1;
}

static int
signal_number(const cJSON *sig)
{
	if (cJSON_IsNumber(sig))
		return sig->valueint > 0 && sig->valueint < 65 ? sig->valueint : -1;
	if (!cJSON_IsString(sig))
		return -1;
	return exec_signal_number(sig->valuestring);
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

/* The client is gone: a command still running is killed, and the sprite
 * may sleep again. */
static void
exec_release(struct exec *ex)
{
	exec_retire(ex);
	if (ex->sess != NULL) {	/* a session goes on without its client */
		/* What this client was given is in the session's record; the
		 * session holds back what comes next. */
		exec_ws_credit(ex, 1);
		session_detach(ex->sess, ex);
		session_put(ex->sess);
		ex->sess = NULL;
		ex->agent = NULL;
		return;
	}
	if (ex->held)
		core_unhold(ex->api->core, ex->name);
	ex->held = 0;
	if (ex->agent != NULL)
		agent_forget(ex->agent, ex->chan);
	ex->agent = NULL;
}

static void
exec_end(struct exec *ex)
{
	struct exec **pp;

	exec_release(ex);
	for (pp = &ex->api->execs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == ex) {
			*pp = ex->next;
			break;
		}
	}
	api_ws_close(ex->api, &ex->ws, &ex->urh);
	exec_unref(ex);
}

static void
exec_ws_closed(struct ws *ws, int code, void *arg)
{
	exec_end(arg);
}

static void
exec_ws_drained(struct ws *ws, void *arg)
{
	exec_ws_credit(arg, 0);
}

static const struct ws_callbacks exec_ws_cb = {
	.message = exec_ws_message,
	.closed = exec_ws_closed,
	.drained = exec_ws_drained,
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
	if (ex->sid != NULL) {
		struct session *s = session_find(ex->api, ex->name, ex->sid);

		if (s != NULL) {
			session_attach(s, ex);
			return;
		}
		ex->done = 1;
		exec_send_error(ex, "not_found", "the session ended meanwhile");
		ws_close(ex->ws, 1011, "no such session");
		return;
	}
	/* The sprite may have stopped between the 101 and now. */
	r = core_agent(ex->api->core, ex->name, &ex->agent, &cause);
	spec.flags = ex->tty ? AGENT_EXEC_TTY : 0;
	spec.rows = (uint16_t)ex->rows;
	spec.cols = (uint16_t)ex->cols;
	spec.argv = ex->argv;
	spec.env = ex->env;
	spec.cwd = ex->cwd;
	if (r == 0 && (ex->detachable || ex->max_run_ms > 0)) {
		struct session *s;
		struct agent *agent = ex->agent;

		ex->agent = NULL;	/* the session's, once bound */
		r = session_start(ex->api, ex->name, agent, &spec, ex->max_run_ms, &s, &cause);
		if (r == 0) {
			session_attach(s, ex);
			return;
		}
		ex->done = 1;
		exec_send_error(ex, r == -EUSERS ? "too_many_sessions" : "sprite_stopped", cause);
		ws_close(ex->ws, 1011, "cannot exec");
		free(cause);
		return;
	}
	if (r == 0) {
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
	enum MHD_Result ret;
	int queued;

	ex->refs++;	/* the session's */
	ret = api_ws_upgrade(conn, exec_upgraded, ex, &queued);
	if (!queued)
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

static enum MHD_Result
exec_refuse(struct MHD_Connection *conn, int err, char *cause)
{
	const char *code;
	unsigned status = api_status_for(err, &code);
	enum MHD_Result ret = api_error(conn, status, code, cause ? cause : strerror(-err));

	free(cause);
	return ret;
}

/*
 * What the WebSocket and the HTTP exec share: the query is checked, the
 * sprite waited for until idle and woken if it sleeps. Returns 1 with the
 * sprite's agent in *@ret_agent when the command may start; otherwise 0 and
 * what to give MHD in *@ret (the connection waits, or an error was queued).
 */
static int
exec_ready(struct api *a, struct MHD_Connection *conn, struct exec *ex,
    struct agent **ret_agent, enum MHD_Result *ret)
{
	struct sprite_row row = { 0 };
	char *cause = NULL, *why = NULL;
	int r, w;

	if (!ex->waited) {
		if (ex->parsed) {	/* only a wait's end resumes it: not a client's */
			*ret = MHD_NO;
			return 0;
		}
		ex->parsed = 1;
		MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, exec_query_arg, ex);
		if (ex->bad_query != NULL) {
			*ret = api_error(conn, MHD_HTTP_BAD_REQUEST, "bad_request", ex->bad_query);
			return 0;
		}
		if (ex->unsupported != NULL) {
			*ret = exec_refuse(conn, -ENOTSUP, xasprintf("sprig does not support %s yet",
			    ex->unsupported));
			return 0;
		}
		if (ex->argc == 0 || ex->argv[0][0] == '\0') {
			*ret = api_error(conn, MHD_HTTP_BAD_REQUEST, "bad_request",
			    "no command: pass it as cmd=PROGRAM&cmd=ARG...");
			return 0;
		}
		if (ex->http && ex->tty) {
			*ret = api_error(conn, MHD_HTTP_BAD_REQUEST, "bad_request",
			    "exec over HTTP has no tty: use the WebSocket exec for one");
			return 0;
		}
		r = core_get(a->core, ex->name, &row, &cause);
		sprite_row_done(&row);
		if (r == 0) {
			ex->refs++;	/* core's, until the sprite is idle */
			r = core_wait_idle(a->core, ex->name, exec_idle, ex, &cause);
			if (r < 0)
				ex->refs--;
		}
		if (r < 0) {
			*ret = exec_refuse(conn, r, cause);
			return 0;
		}
		MHD_suspend_connection(conn);
		*ret = MHD_YES;
		return 0;
	}
	if (ex->wake_err < 0) {
		*ret = exec_refuse(conn, ex->wake_err, xstrdup(ex->wake_cause));
		return 0;
	}
	r = core_agent(a->core, ex->name, ret_agent, &cause);
	if (r == -EAGAIN) {
		w = exec_wake(a, ex, &why);
		if (w == 1) {
			free(cause);
			MHD_suspend_connection(conn);
			*ret = MHD_YES;
			return 0;
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
		*ret = exec_refuse(conn, r, cause);
		return 0;
	}
	return 1;
}

static struct exec *
exec_new(struct api *a, struct MHD_Connection *conn, const char *name, int http)
{
	struct exec *ex = xcalloc(1, sizeof *ex);

	ex->api = a;
	ex->conn = conn;
	ex->refs = 1;
	ex->name = xstrdup(name);
	ex->http = http;
	buf_init(&ex->out);
	return ex;
}

/* GET .../exec/ID: the session must be there; the sprite need not wake (a
 * session keeps it awake while it runs, and an ended one only replays). */
static enum MHD_Result
exec_attach(struct api *a, struct MHD_Connection *conn, struct exec *ex)
{
	struct sprite_row row = { 0 };
	char *cause = NULL;
	enum MHD_Result ret;
	int r;

	r = core_get(a->core, ex->name, &row, &cause);
	sprite_row_done(&row);
	if (r < 0)
		return exec_refuse(conn, r, cause);
	if (session_find(a, ex->name, ex->sid) == NULL) {
		cause = xasprintf("sprite \"%s\" has no session \"%s\" ('sprig sessions %s' "
		    "lists them)", ex->name, ex->sid, ex->name);
		ret = api_error(conn, MHD_HTTP_NOT_FOUND, "not_found", cause);
		free(cause);
		return ret;
	}
	return exec_upgrade(ex, conn);
}

enum MHD_Result
exec_handle(struct api *a, struct MHD_Connection *conn, const char *name, const char *sid,
    struct exec **slot)
{
	struct exec *ex = *slot;
	struct sprite_row row = { 0 };
	struct agent *agent;
	const char *upgrade, *key;
	enum MHD_Result ret;
	char *cause = NULL;
	int r;

	if (ex == NULL) {
		*slot = exec_new(a, conn, name, 0);
		if (sid != NULL)
			(*slot)->sid = xstrdup(sid);
		return MHD_YES;
	}
	if (!ex->waited) {
		upgrade = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_UPGRADE);
		key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Key");
		if (upgrade == NULL && sid == NULL && MHD_lookup_connection_value(conn,
		    MHD_GET_ARGUMENT_KIND, "cmd") == NULL) {
			r = core_get(a->core, name, &row, &cause);
			sprite_row_done(&row);
			if (r < 0)
				return exec_refuse(conn, r, cause);
			return session_list(a, conn, name);
		}
		if (upgrade == NULL || !header_has_token(upgrade, "websocket") || key == NULL ||
		    strlen(key) != 24)
			return api_error(conn, MHD_HTTP_BAD_REQUEST, "bad_request",
			    "exec is a WebSocket endpoint: send Upgrade: websocket with a "
			    "Sec-WebSocket-Key (or POST for exec over plain HTTP)");
		if (ex->sid != NULL)
			return exec_attach(a, conn, ex);
	}
	if (!exec_ready(a, conn, ex, &agent, &ret))
		return ret;
	if ((ex->detachable || ex->max_run_ms > 0) &&
	    session_count(a, name) >= SESSION_MAX_PER_SPRITE) {
		cause = xasprintf("sprite \"%s\" has %d sessions, the most it may have: kill "
		    "one first ('sprig sessions kill %s ID')", name, SESSION_MAX_PER_SPRITE, name);
		ret = api_error(conn, MHD_HTTP_TOO_MANY_REQUESTS, "too_many_sessions", cause);
		free(cause);
		return ret;
	}
	if (!ex->detachable && ex->max_run_ms == 0 && exec_admit(a, ex, &cause) < 0)
		return exec_too_many(conn, cause);
	return exec_upgrade(ex, conn);
}

void
exec_session_bind(struct exec *ex, struct session *s, struct agent *agent, uint32_t chan,
    int tty)
{
	session_ref(s);
	ex->sess = s;
	ex->agent = agent;
	ex->chan = chan;
	ex->tty = tty;
}

void
exec_session_output(struct exec *ex, int stream, const uint8_t *data, size_t len)
{
	exec_output(ex, stream, data, len);
}

void
exec_session_json(struct exec *ex, cJSON *j)
{
	exec_send_json(ex, j);
}

void
exec_session_ended(struct exec *ex, int code, const char *why)
{
	char *msg;

	if (code < 0) {
		ex->agent = NULL;
		ex->done = 1;
		msg = xasprintf("%s", why != NULL ? why : "the session ended");
		exec_send_error(ex, "sprite_stopped", msg);
		free(msg);
		ws_close(ex->ws, 1011, "sprite stopped");
		return;
	}
	if (why != NULL)
		exec_send_error(ex, code == 126 || code == 127 ? "exec_failed" : "session_ended",
		    why);
	exec_exited(ex, code, 0);
}

void
exec_session_taken(struct exec *ex)
{
	cJSON *j = cJSON_CreateObject();
	struct session *s = ex->sess;

	exec_ws_credit(ex, 1);
	ex->sess = NULL;
	ex->agent = NULL;
	ex->done = 1;
	cJSON_AddStringToObject(j, "type", "detached");
	cJSON_AddStringToObject(j, "message", "another client attached to this session");
	exec_send_json(ex, j);
	session_put(s);
	ws_close(ex->ws, 1008, "attached elsewhere");
}

/*
 * The HTTP exec's body: one frame per call (one HTTP chunk): the next
 * record, joined by the records of the same stream behind it and cut to
 * what fits. With nothing to send, or right after a frame, the connection
 * is suspended until the command writes or ends, or the gap has passed.
 */
static ssize_t
exec_http_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct exec *ex = cls;
	size_t n, w = 0;
	uint32_t len, rest;
	int stream = -1;
	struct rd r;
	uint8_t *rec;

	if (ex->gone)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (max > EXEC_HTTP_FRAME_MAX)
		max = EXEC_HTTP_FRAME_MAX;
	while (!ex->pacing && max > 1 && w < max - 1 && buf_used(&ex->out) >= EXEC_REC_HEAD) {
		rec = buf_head(&ex->out);
		rd_init(&r, rec + 1, 4);
		len = rd_u32(&r);
		if (len == 0) {
			buf_consume(&ex->out, EXEC_REC_HEAD);
			continue;
		}
		if (stream >= 0 && (rec[0] != stream || stream == STREAM_EXIT))
			break;
		if (rec[0] == STREAM_EXIT && ex->sent_data && !ex->exit_waited) {
			ex->exit_waited = 1;
			ex->pacing = 1;
			ex->pace_timer = loop_add_timer(ex->api->loop, EXEC_HTTP_EXIT_GAP_MS,
			    exec_http_paced, ex);
			break;
		}
		stream = rec[0];
		out[0] = (char)stream;
		n = len < max - 1 - w ? len : max - 1 - w;
		memcpy(out + 1 + w, rec + EXEC_REC_HEAD, n);
		w += n;
		if (n < len) {
			/* The rest becomes a record of its own, over what was sent. */
			rest = len - (uint32_t)n;
			rec[n] = (uint8_t)stream;
			for (int i = 0; i < 4; i++)
				rec[n + 1 + i] = (uint8_t)(rest >> (8 * i));
			buf_consume(&ex->out, n);
		} else {
			buf_consume(&ex->out, EXEC_REC_HEAD + n);
		}
	}
	if (stream >= 0) {
		if (stream != STREAM_EXIT) {
			ex->sent_data = 1;
			if (ex->agent != NULL)
				agent_consumed(ex->agent, ex->chan, w);
		}
		ex->pacing = 1;
		ex->pace_timer = loop_add_timer(ex->api->loop, EXEC_HTTP_GAP_MS, exec_http_paced,
		    ex);
		return (ssize_t)(w + 1);
	}
	return api_stream_wait(ex->conn, ex->done && buf_used(&ex->out) == 0, &ex->suspended);
}

/* The answer is done with: sent, or the client left. */
static void
exec_http_free(void *cls)
{
	struct exec *ex = cls;

	exec_release(ex);
	ex->done = 1;
	loop_del_timer(ex->api->loop, ex->pace_timer);
	loop_del_timer(ex->api->loop, ex->watch_timer);
	ex->pace_timer = ex->watch_timer = 0;
	ex->conn = NULL;
	exec_unref(ex);
}

static const struct agent_session_callbacks exec_http_cb = {
	.started = exec_started,
	.output = exec_output,
	.exited = exec_exited,
	.lost = exec_lost,
	.manual_window = 1,
};

enum MHD_Result
exec_http(struct api *a, struct MHD_Connection *conn, const char *name,
    const struct buf *body, struct exec **slot)
{
	struct exec *ex = *slot;
	struct agent_exec spec = { 0 };
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char *cause = NULL;
	int r;

	if (ex == NULL)
		ex = *slot = exec_new(a, conn, name, 1);
	if (!exec_ready(a, conn, ex, &ex->agent, &ret))
		return ret;
	if (exec_admit(a, ex, &cause) < 0) {
		ex->agent = NULL;
		return exec_too_many(conn, cause);
	}
	spec.argv = ex->argv;
	spec.env = ex->env;
	spec.cwd = ex->cwd;
	r = agent_exec(ex->agent, &spec, &exec_http_cb, ex, &ex->chan);
	if (r < 0) {
		ex->agent = NULL;
		exec_retire(ex);
		return exec_refuse(conn, -EAGAIN, xstrdup("the sprite's agent is not connected"));
	}
	core_hold(a->core, ex->name);
	ex->held = 1;
	if (buf_used(body) > 0)
		agent_stdin(ex->agent, ex->chan, buf_head(body), buf_used(body));
	agent_stdin_eof(ex->agent, ex->chan);
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, exec_http_read, ex,
	    exec_http_free);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream");
	ex->refs++;	/* the answer's, until exec_http_free */
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	if (ret == MHD_YES)
		ex->watch_timer = loop_add_timer(a->loop, EXEC_HTTP_WATCH_MS, exec_http_watch, ex);
	return ret;
}

void
exec_close_all(struct api *a)
{
	while (a->execs != NULL)
		exec_end(a->execs);
}
