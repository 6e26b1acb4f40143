/*
 * session: detachable exec sessions, the registry behind the Sprites API's
 * createSession, attachSession, listSessions and killSession. It owns each
 * session's agent session (its callbacks come here, not to a WebSocket), a
 * bounded record of its recent output, its core_hold on the sprite, and the
 * timers that end it (max_run_after_disconnect, the keeping of an exited one).
 *
 * At most one exec (api/exec.c) is attached; a second one takes the session
 * over. While nobody is attached the host gives the guest no output credit,
 * so at most AGENT_WINDOW_SIZE bytes arrive unseen, which the ring holds
 * whole: the guest pauses rather than the daemon growing. An attach replays
 * the ring (the last SESSION_RING bytes of output, seen or not) and then
 * gives the credit back. While attached, the exec gives credit back as its
 * WebSocket takes the output, so a client that does not read pauses the
 * guest too.
 *
 * A session is reference-counted: the registry holds one while it is listed,
 * an attached exec one, a kill request one. Timers and kill requests find it
 * by id.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "api_internal.h"
#include "session.h"
#include "common/buf.h"
#include "common/loop.h"
#include "common/xmalloc.h"
#include "core/core.h"
#include "vmm/agent.h"

/* A record in the ring: stream, u32 length, bytes. */
#define SESSION_REC_HEAD	5
#define SESSION_KILL_TIMEOUT_MS	(10 * 1000)

struct session {
	struct api		*api;
	int			 refs;
	uint64_t		 id;
	char			 idstr[24];
	char			*sprite;
	char			*command;	/* argv joined by spaces */
	char			*workdir;
	int			 tty;
	time_t			 created;
	time_t			 last_activity;
	uint64_t		 bytes;		/* output so far */
	struct agent		*agent;		/* while it runs */
	uint32_t		 chan;
	int			 held;		/* core_hold was called */
	int			 ended;
	int			 code;		/* exit code, or -1 when lost */
	char			*reason;	/* why it ended, if not by itself */
	int			 seen;		/* a client was told how it ended */
	struct buf		 ring;		/* records */
	size_t			 owed;		/* output credit held back */
	struct exec		*client;	/* attached, holding a ref */
	uint64_t		 max_run_ms;	/* after a disconnect; 0: no limit */
	uint64_t		 detach_timer;
	uint64_t		 keep_timer;
	int			 listed;	/* in api->sessions */
	struct session		*next;
	struct session_kill	*kills;		/* waiting for the end */
};

/* A POST .../exec/ID/kill that waits for the process to end. */
struct session_kill {
	struct api		*api;
	struct MHD_Connection	*conn;
	int			 refs;		/* the answer's and the session's */
	uint64_t		 sid;
	struct buf		 out;		/* NDJSON not sent yet */
	int			 closed;
	int			 suspended;
	uint64_t		 timer;
	int			 killed;	/* SIGKILL went */
	struct session_kill	*next;
};

static uint64_t session_next_id = 1;

static void session_kills_end(struct session *s);

static void
session_unref(struct session *s)
{
	if (s == NULL || --s->refs > 0)
		return;
	free(s->sprite);
	free(s->command);
	free(s->workdir);
	free(s->reason);
	buf_done(&s->ring);
	free(s);
}

void
session_ref(struct session *s)
{
	s->refs++;
}

void
session_put(struct session *s)
{
	session_unref(s);
}

const char *
session_id(const struct session *s)
{
	return s->idstr;
}

/* Takes @s out of the registry (it stays alive while referenced). */
static void
session_unlist(struct session *s)
{
	struct session **pp;

	if (!s->listed)
		return;
	for (pp = &s->api->sessions; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	s->listed = 0;
	loop_del_timer(s->api->loop, s->detach_timer);
	loop_del_timer(s->api->loop, s->keep_timer);
	s->detach_timer = s->keep_timer = 0;
	session_unref(s);
}

struct session *
session_find(struct api *a, const char *sprite, const char *id)
{
	for (struct session *s = a->sessions; s != NULL; s = s->next) {
		if (strcmp(s->idstr, id) == 0 && (sprite == NULL || strcmp(s->sprite, sprite) == 0))
			return s;
	}
	return NULL;
}

static struct session *
session_by_id(struct api *a, uint64_t id)
{
	for (struct session *s = a->sessions; s != NULL; s = s->next) {
		if (s->id == id)
			return s;
	}
	return NULL;
}

size_t
session_count(struct api *a, const char *sprite)
{
	size_t n = 0;

	for (struct session *s = a->sessions; s != NULL; s = s->next)
		n += strcmp(s->sprite, sprite) == 0;
	return n;
}

static void
session_keep_expired(struct loop *l, uint64_t id, void *arg)
{
	struct api *a = arg;

	/* The id is the timer's: find whose it was. */
	for (struct session *s = a->sessions; s != NULL; s = s->next) {
		if (s->keep_timer == id) {
			s->keep_timer = 0;
			session_unlist(s);
			return;
		}
	}
}

static void
session_detach_expired(struct loop *l, uint64_t id, void *arg)
{
	struct api *a = arg;

	for (struct session *s = a->sessions; s != NULL; s = s->next) {
		if (s->detach_timer == id) {
			s->detach_timer = 0;
			if (!s->ended && s->agent != NULL) {
				free(s->reason);
				s->reason = xstrdup("killed: max_run_after_disconnect passed");
				agent_signal(s->agent, s->chan, SIGKILL);
			}
			return;
		}
	}
}

/* @s ended (@code, or -1 with @why when its sprite went away). The attached
 * client is told; an exited session nobody saw end is kept a while. */
static void
session_end(struct session *s, int code, const char *why)
{
	struct exec *ex = s->client;

	if (s->ended)
		return;
	s->ended = 1;
	s->code = code;
	s->last_activity = time(NULL);
	if (why != NULL && s->reason == NULL)
		s->reason = xstrdup(why);
	if (s->held && code >= 0)
		core_unhold(s->api->core, s->sprite);
	s->held = 0;	/* a lost sprite's holds went with it */
	s->agent = NULL;
	loop_del_timer(s->api->loop, s->detach_timer);
	s->detach_timer = 0;
	s->refs++;
	session_kills_end(s);
	if (ex != NULL) {
		s->seen = 1;
		exec_session_ended(ex, code, s->reason);
	}
	if (s->seen)
		session_unlist(s);
	else if (s->listed)
		s->keep_timer = loop_add_timer(s->api->loop, SESSION_KEEP_MS,
		    session_keep_expired, s->api);
	session_unref(s);
}

static void
session_started(void *arg, int err, const char *message)
{
	struct session *s = arg;
	char *why;

	if (err == 0)
		return;
	why = xasprintf("%s", message != NULL ? message : strerror(-err));
	free(s->reason);
	s->reason = why;
	session_end(s, err == -ENOENT ? 127 : 126, NULL);
}

static void
session_ring_add(struct session *s, int stream, const uint8_t *data, size_t len)
{
	uint32_t n;
	struct rd r;

	buf_add_u8(&s->ring, (uint8_t)stream);
	buf_add_u32(&s->ring, (uint32_t)len);
	buf_add(&s->ring, data, len);
	/* Old records go, whole, while the rest still fills the ring. */
	while (buf_used(&s->ring) > SESSION_RING) {
		rd_init(&r, buf_head(&s->ring) + 1, 4);
		n = rd_u32(&r);
		if (buf_used(&s->ring) - SESSION_REC_HEAD - n < SESSION_RING)
			break;
		buf_consume(&s->ring, SESSION_REC_HEAD + n);
	}
}

static void
session_output(void *arg, int stream, const uint8_t *data, size_t len)
{
	struct session *s = arg;

	s->bytes += len;
	s->last_activity = time(NULL);
	session_ring_add(s, stream, data, len);
	if (s->client != NULL) {
		/* The client gives the credit back as its socket takes it. */
		exec_session_output(s->client, stream, data, len);
	} else {
		s->owed += len;	/* the guest stops once the window is used */
	}
}

static void
session_exited(void *arg, int code, int sig)
{
	session_end(arg, code, NULL);
}

static void
session_lost(void *arg, const char *why)
{
	struct session *s = arg;
	char *msg = xasprintf("sprite \"%s\" stopped or slept while the session ran (%s)",
	    s->sprite, why);

	session_end(s, -1, msg);
	free(msg);
}

static const struct agent_session_callbacks session_cb = {
	.started = session_started,
	.output = session_output,
	.exited = session_exited,
	.lost = session_lost,
	.manual_window = 1,
};

int
session_start(struct api *a, const char *sprite, struct agent *agent,
    const struct agent_exec *spec, uint64_t max_run_ms, struct session **ret, char **cause)
{
	struct session *s;
	struct buf cmd;
	int r;

	if (session_count(a, sprite) >= SESSION_MAX_PER_SPRITE) {
		*cause = xasprintf("sprite \"%s\" has %d sessions, the most it may have: "
		    "kill one first", sprite, SESSION_MAX_PER_SPRITE);
		return -EUSERS;
	}
	s = xcalloc(1, sizeof *s);
	s->api = a;
	s->refs = 1;	/* the registry's */
	s->id = session_next_id++;
	snprintf(s->idstr, sizeof s->idstr, "%llu", (unsigned long long)s->id);
	s->sprite = xstrdup(sprite);
	buf_init(&cmd);
	for (size_t i = 0; spec->argv[i] != NULL; i++)
		buf_add_printf(&cmd, "%s%s", i ? " " : "", spec->argv[i]);
	s->command = xstrdup(buf_cstr(&cmd));
	buf_done(&cmd);
	s->workdir = xstrdup(spec->cwd != NULL ? spec->cwd : "");
	s->tty = (spec->flags & AGENT_EXEC_TTY) != 0;
	s->created = s->last_activity = time(NULL);
	s->max_run_ms = max_run_ms;
	s->code = -1;
	buf_init(&s->ring);
	r = agent_exec(agent, spec, &session_cb, s, &s->chan);
	if (r < 0) {
		*cause = xstrdup("the sprite's agent is not connected");
		session_unref(s);
		return r;
	}
	s->agent = agent;
	core_hold(a->core, sprite);
	s->held = 1;
	s->listed = 1;
	s->next = a->sessions;
	a->sessions = s;
	*ret = s;
	return 0;
}

static cJSON *
session_json(const struct session *s, const char *type)
{
	cJSON *j = cJSON_CreateObject();
	char when[32];
	struct tm tm;

	if (type != NULL)
		cJSON_AddStringToObject(j, "type", type);
	cJSON_AddStringToObject(j, type != NULL ? "session_id" : "id", s->idstr);
	cJSON_AddStringToObject(j, "command", s->command);
	cJSON_AddStringToObject(j, "workdir", s->workdir);
	gmtime_r(&s->created, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_AddStringToObject(j, "created", when);
	gmtime_r(&s->last_activity, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_AddStringToObject(j, "last_activity", when);
	cJSON_AddBoolToObject(j, "tty", s->tty);
	cJSON_AddBoolToObject(j, "is_active", !s->ended);
	cJSON_AddBoolToObject(j, "attached", s->client != NULL);
	cJSON_AddBoolToObject(j, "exited", s->ended);
	if (s->ended && s->code >= 0)
		cJSON_AddNumberToObject(j, "exit_code", s->code);
	if (s->reason != NULL)
		cJSON_AddStringToObject(j, "reason", s->reason);
	cJSON_AddNumberToObject(j, "bytes", (double)s->bytes);
	return j;
}

void
session_attach(struct session *s, struct exec *ex)
{
	struct exec *old = s->client;
	uint8_t *p;
	uint32_t n;
	struct rd r;
	size_t off;

	if (old != NULL) {
		s->client = NULL;	/* so its own detach finds nothing */
		exec_session_taken(old);
	}
	loop_del_timer(s->api->loop, s->detach_timer);
	s->detach_timer = 0;
	s->client = ex;
	exec_session_bind(ex, s, s->agent, s->chan, s->tty);
	exec_session_json(ex, session_json(s, "session_info"));
	/* The history first, as the SDK expects it before live output. */
	for (off = 0; off + SESSION_REC_HEAD <= buf_used(&s->ring);
	    off += SESSION_REC_HEAD + n) {
		p = buf_head(&s->ring) + off;
		rd_init(&r, p + 1, 4);
		n = rd_u32(&r);
		exec_session_output(ex, p[0], p + SESSION_REC_HEAD, n);
		if (s->client != ex)
			return;	/* the client went meanwhile */
	}
	if (s->ended) {
		s->seen = 1;
		exec_session_ended(ex, s->code, s->reason);
		session_unlist(s);
		return;
	}
	if (s->owed > 0 && s->agent != NULL)
		agent_consumed(s->agent, s->chan, s->owed);
	s->owed = 0;
}

void
session_detach(struct session *s, struct exec *ex)
{
	if (s->client != ex)
		return;
	s->client = NULL;
	s->last_activity = time(NULL);
	if (!s->ended && s->listed && s->max_run_ms > 0)
		s->detach_timer = loop_add_timer(s->api->loop, s->max_run_ms,
		    session_detach_expired, s->api);
}

int
session_parse_duration(const char *s, uint64_t *ret_ms)
{
	uint64_t total = 0, v, mul;
	char *end;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	while (*s != '\0') {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = strtoull(s, &end, 10);
		if (v > 100000000)
			return -EINVAL;
		if (strncmp(end, "ms", 2) == 0) {
			mul = 1;
			end += 2;
		} else if (*end == 's' || *end == '\0') {
			mul = 1000;
			end += *end == 's';
		} else if (*end == 'm') {
			mul = 60 * 1000;
			end++;
		} else if (*end == 'h') {
			mul = 3600 * 1000;
			end++;
		} else {
			return -EINVAL;
		}
		total += v * mul;
		s = end;
	}
	*ret_ms = total;
	return 0;
}

enum MHD_Result
session_list(struct api *a, struct MHD_Connection *conn, const char *sprite)
{
	cJSON *j = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(j, "sessions");

	/* Oldest first: the registry is newest first. */
	for (struct session *s = a->sessions; s != NULL; s = s->next) {
		if (strcmp(s->sprite, sprite) == 0)
			cJSON_InsertItemInArray(arr, 0, session_json(s, NULL));
	}
	cJSON_AddNumberToObject(j, "count", cJSON_GetArraySize(arr));
	return api_json(conn, MHD_HTTP_OK, j);
}

/* Kill requests ---------------------------------------------------------- */

static void
kill_unref(struct session_kill *k)
{
	if (k == NULL || --k->refs > 0)
		return;
	loop_del_timer(k->api->loop, k->timer);
	buf_done(&k->out);
	free(k);
}

static void
kill_line(struct session_kill *k, cJSON *j)
{
	char *text = cJSON_PrintUnformatted(j);

	cJSON_Delete(j);
	buf_add(&k->out, text, strlen(text));
	buf_add_u8(&k->out, '\n');
	free(text);
	if (k->suspended && k->conn != NULL) {
		k->suspended = 0;
		api_resume(k->api, k->conn);
	}
}

static cJSON *
kill_event(const char *type, const char *message)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddStringToObject(j, "type", type);
	if (message != NULL)
		cJSON_AddStringToObject(j, "message", message);
	return j;
}

/* The last lines: how @s ended. */
static void
kill_finish(struct session_kill *k, const struct session *s)
{
	cJSON *j;

	if (s->code >= 0) {
		j = kill_event("exited", "the process exited");
		cJSON_AddNumberToObject(j, "exit_code", s->code);
	} else {
		j = kill_event("exited", s->reason);
	}
	kill_line(k, j);
	kill_line(k, kill_event("complete", "session killed"));
	k->closed = 1;
	if (k->suspended && k->conn != NULL) {
		k->suspended = 0;
		api_resume(k->api, k->conn);
	}
}

static void
session_kills_end(struct session *s)
{
	struct session_kill *k;

	while ((k = s->kills) != NULL) {
		s->seen = 1;	/* the kill reports the exit code */
		s->kills = k->next;
		loop_del_timer(k->api->loop, k->timer);
		k->timer = 0;
		kill_finish(k, s);
		kill_unref(k);
		session_unref(s);	/* the kill's */
	}
}

static void
kill_timeout(struct loop *l, uint64_t id, void *arg)
{
	struct session_kill *k = arg;
	struct session *s = session_by_id(k->api, k->sid);
	cJSON *j;

	k->timer = 0;
	if (s == NULL || s->ended || s->agent == NULL)
		return;
	kill_line(k, kill_event("timeout", "the process outlived the signal"));
	agent_signal(s->agent, s->chan, SIGKILL);
	j = kill_event("killed", "sent SIGKILL");
	cJSON_AddStringToObject(j, "signal", "SIGKILL");
	kill_line(k, j);
	k->killed = 1;
}

static ssize_t
kill_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct session_kill *k = cls;

	return api_stream_read(k->conn, &k->out, k->closed, &k->suspended, out, max);
}

static void
kill_free(void *cls)
{
	struct session_kill *k = cls;

	k->conn = NULL;
	kill_unref(k);
}

enum MHD_Result
session_kill(struct api *a, struct MHD_Connection *conn, const char *sprite, const char *id)
{
	struct session *s = session_find(a, sprite, id);
	const char *sigq = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "signal");
	const char *tq = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "timeout");
	uint64_t timeout_ms = SESSION_KILL_TIMEOUT_MS;
	struct MHD_Response *resp;
	struct session_kill *k;
	enum MHD_Result ret;
	char *msg;
	cJSON *j;
	int sig = SIGTERM;

	if (sigq != NULL && *sigq != '\0' && (sig = exec_signal_number(sigq)) < 0)
		return api_error(conn, MHD_HTTP_BAD_REQUEST, "bad_request",
		    "signal must be a signal name (TERM, SIGKILL, ...) or number");
	if (tq != NULL && *tq != '\0' && (session_parse_duration(tq, &timeout_ms) < 0 ||
	    timeout_ms == 0))
		return api_error(conn, MHD_HTTP_BAD_REQUEST, "bad_request",
		    "timeout must be a duration such as 5s, 500ms or 1m");
	if (s == NULL) {
		msg = xasprintf("sprite \"%s\" has no session \"%s\" ('sprig sessions %s' "
		    "lists them)", sprite, id, sprite);
		ret = api_error(conn, MHD_HTTP_NOT_FOUND, "not_found", msg);
		free(msg);
		return ret;
	}
	k = xcalloc(1, sizeof *k);
	k->api = a;
	k->conn = conn;
	k->refs = 1;	/* the answer's */
	k->sid = s->id;
	buf_init(&k->out);
	if (s->ended) {
		kill_finish(k, s);
		s->seen = 1;
		session_unlist(s);
	} else {
		free(s->reason);
		s->reason = xstrdup("killed by request");
		agent_signal(s->agent, s->chan, sig);
		j = kill_event("signal", "signal sent");
		cJSON_AddStringToObject(j, "signal", sigq != NULL && *sigq != '\0' ? sigq : "SIGTERM");
		kill_line(k, j);
		k->refs++;	/* the session's */
		s->refs++;	/* the kill's */
		k->next = s->kills;
		s->kills = k;
		k->timer = loop_add_timer(a->loop, timeout_ms, kill_timeout, k);
	}
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, kill_read, k, kill_free);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-ndjson");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

void
session_close_all(struct api *a)
{
	struct session *s;

	while ((s = a->sessions) != NULL) {
		s->refs++;
		if (!s->ended) {
			if (s->agent != NULL)
				agent_forget(s->agent, s->chan);
			s->agent = NULL;
			session_end(s, -1, "the daemon stopped");
		}
		session_unlist(s);
		session_unref(s);
	}
}
