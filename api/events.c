/*
 * events: GET /v1/events, the daemon's event log.
 *
 * Without ?follow, a JSON array: the newest events, or with ?after=ID
 * those after it. With ?follow=1, an NDJSON stream that stays open: what
 * came after ?after=ID first, then each event as core records it. This is
 * how the dashboard learns what changed without polling. Transient notices
 * (an operation beginning or ending: kind "op") carry id 0 and are not in
 * the log. ?sprite=NAME keeps one sprite's events (and daemon-wide ones).
 *
 * A stream's connection is suspended while there is nothing to send and
 * resumed when core reports; a client that stops reading is cut off once
 * its backlog passes EVENTS_MAX_BACKLOG (it may reconnect with ?after=).
 *
 * GET /v1/sprites with Accept: application/x-ndjson (the SDK's
 * watchSprites) rides the same streams: one line per sprite (?prefix=
 * applies) with its status, then a line each time a sprite's status
 * changes ("deleted" when it goes), each with the counts the SDK calls the
 * organization's: running (awake), warm (paused or asleep), cold (stopped
 * or broken), and running_limit (the max_awake setting) when set. Core's
 * events say when to look; a heartbeat line comes every
 * EVENTS_HEARTBEAT_MS so that a quiet stream is seen to be alive.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api_internal.h"
#include "common/buf.h"
#include "common/loop.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "core/core.h"

#define EVENTS_LIST_MAX		1000
#define EVENTS_MAX_STREAMS	64
#define EVENTS_MAX_BACKLOG	(1024 * 1024)
#define EVENTS_HEARTBEAT_MS	30000

/* A sprite's status as a watchSprites stream last told it. */
struct watch_seen {
	char			*name;
	char			*status;
};

struct evstream {
	struct api		*api;
	struct MHD_Connection	*conn;
	uint64_t		 watch;
	char			*sprite;	/* the filter, or NULL */
	struct buf		 out;
	int			 suspended;
	int			 closing;	/* end the stream once out is sent */
	struct evstream		*next;
	/* watchSprites: statuses rather than events. */
	int			 sprites;
	char			*prefix;	/* or NULL */
	struct watch_seen	*seen;
	size_t			 nseen;
	uint64_t		 heartbeat;	/* its timer */
};

static cJSON *
event_json(const struct event_row *ev)
{
	cJSON *j = cJSON_CreateObject();
	char when[32];

	cJSON_AddNumberToObject(j, "id", (double)ev->id);
	format_rfc3339(ev->at, when, sizeof when);
	cJSON_AddStringToObject(j, "time", when);
	if (ev->sprite != NULL)
		cJSON_AddStringToObject(j, "sprite", ev->sprite);
	else
		cJSON_AddNullToObject(j, "sprite");
	cJSON_AddStringToObject(j, "kind", ev->kind);
	cJSON_AddStringToObject(j, "message", ev->message);
	return j;
}

static int
event_matches(const struct event_row *ev, const char *sprite)
{
	return sprite == NULL || ev->sprite == NULL || strcmp(ev->sprite, sprite) == 0;
}

static void
evstream_wake(struct evstream *st)
{
	if (st->suspended && st->conn != NULL) {
		st->suspended = 0;
		api_resume(st->api, st->conn);
	}
}

/* Adds @j (consumed) to @st's output as one line, and wakes the stream. */
static void
evstream_line(struct evstream *st, cJSON *j)
{
	char *line = cJSON_PrintUnformatted(j);

	cJSON_Delete(j);
	buf_add_printf(&st->out, "%s\n", line);
	free(line);
	if (buf_used(&st->out) > EVENTS_MAX_BACKLOG) {
		/* The client is not reading: end its stream rather than hold
		 * the log in memory for it. */
		buf_reset(&st->out);
		buf_add_printf(&st->out, "%s\n", "{\"id\":0,\"kind\":\"overflow\","
		    "\"message\":\"events were not read fast enough; reconnect with ?after=\"}");
		st->closing = 1;
	}
	evstream_wake(st);
}

/* The SDK's "org" object: the daemon's sprites counted by status. */
static cJSON *
watch_org(struct api *a)
{
	struct sprite_row *rows = NULL;
	struct core_settings set;
	int running = 0, warm = 0, cold = 0;
	cJSON *org = cJSON_CreateObject();
	size_t n = 0;

	if (core_list(a->core, &rows, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			const char *st = rows[i].state;

			if (strcmp(st, SPRITE_RUNNING) == 0)
				running++;
			else if (strcmp(st, SPRITE_PAUSED) == 0 || strcmp(st, SPRITE_SLEEPING) == 0)
				warm++;
			else if (strcmp(st, SPRITE_STOPPED) == 0 || strcmp(st, SPRITE_BROKEN) == 0)
				cold++;
		}
		sprite_rows_free(rows, n);
	}
	core_settings_get(a->core, &set);
	cJSON_AddStringToObject(org, "name", "local");
	cJSON_AddNumberToObject(org, "running", running);
	cJSON_AddNumberToObject(org, "warm", warm);
	cJSON_AddNumberToObject(org, "cold", cold);
	if (set.max_awake > 0)
		cJSON_AddNumberToObject(org, "running_limit", (double)set.max_awake);
	return org;
}

static cJSON *
watch_line(struct api *a, const char *type, const char *name, const char *status)
{
	cJSON *j = cJSON_CreateObject();
	char when[32];

	if (type != NULL)
		cJSON_AddStringToObject(j, "type", type);
	if (name != NULL) {
		cJSON_AddStringToObject(j, "name", name);
		cJSON_AddStringToObject(j, "status", status);
	}
	format_rfc3339(now_unix_ms(), when, sizeof when);
	cJSON_AddStringToObject(j, "timestamp", when);
	cJSON_AddItemToObject(j, "org", watch_org(a));
	return j;
}

/* Tells @name's @status unless the stream told it last. */
static void
watch_status(struct evstream *st, const char *name, const char *status)
{
	struct watch_seen *w = NULL;

	if (st->prefix != NULL && strncmp(name, st->prefix, strlen(st->prefix)) != 0)
		return;
	for (size_t i = 0; i < st->nseen && w == NULL; i++) {
		if (strcmp(st->seen[i].name, name) == 0)
			w = &st->seen[i];
	}
	if (w == NULL) {
		st->seen = xreallocarray(st->seen, st->nseen + 1, sizeof *st->seen);
		w = &st->seen[st->nseen++];
		w->name = xstrdup(name);
		w->status = NULL;
	} else if (strcmp(w->status, status) == 0) {
		return;
	}
	free(w->status);
	w->status = xstrdup(status);
	evstream_line(st, watch_line(st->api, NULL, name, status));
}

/* A sprite's event: look at where it stands now. */
static void
watch_event(struct evstream *st, const struct event_row *ev)
{
	struct sprite_row row = { 0 };
	char *cause = NULL;
	int r;

	if (st->closing || ev->sprite == NULL)
		return;
	r = core_get(st->api->core, ev->sprite, &row, &cause);
	if (r == 0)
		watch_status(st, row.name, row.state);
	else if (r == -ENOENT)
		watch_status(st, ev->sprite, "deleted");
	sprite_row_done(&row);
	free(cause);
}

static void
watch_heartbeat(struct loop *l, uint64_t id, void *arg)
{
	struct evstream *st = arg;

	st->heartbeat = loop_add_timer(l, EVENTS_HEARTBEAT_MS, watch_heartbeat, st);
	if (!st->closing)
		evstream_line(st, watch_line(st->api, "heartbeat", NULL, NULL));
}

static void
evstream_add(struct evstream *st, const struct event_row *ev)
{
	if (st->closing || !event_matches(ev, st->sprite))
		return;
	evstream_line(st, event_json(ev));
}

static void
evstream_on_event(void *arg, const struct event_row *ev)
{
	struct evstream *st = arg;

	if (st->sprites)
		watch_event(st, ev);
	else
		evstream_add(st, ev);
}

/* Nothing to send parks the connection until core reports. */
static ssize_t
evstream_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct evstream *st = cls;

	return api_stream_read(st->conn, &st->out, st->closing, &st->suspended, out, max);
}

static void
evstream_free(void *cls)
{
	struct evstream *st = cls, **pp;

	for (pp = &st->api->streams; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == st) {
			*pp = st->next;
			break;
		}
	}
	if (st->watch != 0)
		core_unwatch(st->api->core, st->watch);
	loop_del_timer(st->api->loop, st->heartbeat);
	for (size_t i = 0; i < st->nseen; i++) {
		free(st->seen[i].name);
		free(st->seen[i].status);
	}
	free(st->seen);
	buf_done(&st->out);
	free(st->prefix);
	free(st->sprite);
	free(st);
}

/* Parses ?after=ID; 0 when absent. */
/* Whether any of @rows is about @sprite. */
static int
events_mention(const struct event_row *rows, size_t n, const char *sprite)
{
	for (size_t i = 0; i < n; i++) {
		if (rows[i].sprite != NULL && strcmp(rows[i].sprite, sprite) == 0)
			return 1;
	}
	return 0;
}

static int
events_after(struct MHD_Connection *conn, int64_t *ret)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "after");
	char *end;
	long long n;

	*ret = 0;
	if (v == NULL)
		return 0;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < 0)
		return -EINVAL;
	*ret = n;
	return 0;
}

static int
query_flag(struct MHD_Connection *conn, const char *key)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, key);

	return v != NULL && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
}

static enum MHD_Result
events_list(struct api *a, struct MHD_Connection *conn, const struct event_row *rows,
    size_t n, const char *sprite)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; i < n; i++) {
		if (event_matches(&rows[i], sprite))
			cJSON_AddItemToArray(arr, event_json(&rows[i]));
	}
	return api_json(conn, MHD_HTTP_OK, arr);
}

/* A new stream on @conn, or NULL when too many are open. */
static struct evstream *
evstream_new(struct api *a, struct MHD_Connection *conn)
{
	struct evstream *st;
	int count = 0;

	for (st = a->streams; st != NULL; st = st->next)
		count++;
	if (count >= EVENTS_MAX_STREAMS)
		return NULL;
	st = xcalloc(1, sizeof *st);
	st->api = a;
	st->conn = conn;
	buf_init(&st->out);
	return st;
}

/* Follows core's events and queues @st's answer. */
static enum MHD_Result
evstream_start(struct evstream *st)
{
	struct api *a = st->api;
	struct MHD_Response *resp;
	enum MHD_Result ret;

	st->watch = core_watch(a->core, evstream_on_event, st);
	st->next = a->streams;
	a->streams = st;
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, evstream_read,
	    st, evstream_free);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-ndjson");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	ret = MHD_queue_response(st->conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);	/* the connection holds it, and st with it */
	return ret;
}

static enum MHD_Result
events_too_many(struct MHD_Connection *conn)
{
	return api_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "too_many_streams",
	    "too many event streams are open");
}

static enum MHD_Result
events_follow(struct api *a, struct MHD_Connection *conn, const struct event_row *rows,
    size_t n, const char *sprite)
{
	struct evstream *st = evstream_new(a, conn);

	if (st == NULL)
		return events_too_many(conn);
	st->sprite = sprite ? xstrdup(sprite) : NULL;
	for (size_t i = 0; i < n; i++)
		evstream_add(st, &rows[i]);
	return evstream_start(st);
}

enum MHD_Result
events_watch_sprites(struct api *a, struct MHD_Connection *conn,
    const struct sprite_row *rows, size_t n)
{
	const char *prefix = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "prefix");
	struct evstream *st = evstream_new(a, conn);

	if (st == NULL)
		return events_too_many(conn);
	st->sprites = 1;
	st->prefix = prefix != NULL && *prefix != '\0' ? xstrdup(prefix) : NULL;
	for (size_t i = 0; i < n; i++)
		watch_status(st, rows[i].name, rows[i].state);
	st->heartbeat = loop_add_timer(a->loop, EVENTS_HEARTBEAT_MS, watch_heartbeat, st);
	return evstream_start(st);
}

enum MHD_Result
events_handle(struct api *a, struct MHD_Connection *conn)
{
	const char *sprite = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "sprite");
	struct event_row *rows = NULL;
	size_t n = 0;
	char *cause = NULL;
	enum MHD_Result ret;
	int64_t after;
	int r;

	if (events_after(conn, &after) < 0)
		return api_error(conn, MHD_HTTP_BAD_REQUEST, "invalid_request",
		    "after must be an event id (a whole number)");
	if (after == 0 && !query_flag(conn, "follow"))
		r = core_events_newest(a->core, sprite, EVENTS_LIST_MAX, &rows, &n, &cause);
	else if (after == 0)
		r = 0;	/* a new follower: from now on */
	else
		r = core_events(a->core, after, EVENTS_LIST_MAX, &rows, &n, &cause);
	if (r < 0) {
		ret = api_error_errno(conn, r, cause);
		free(cause);
		return ret;
	}
	/* A list for a name that is no sprite and never was one: a typo would
	 * otherwise answer nothing. (A follower may wait for a name to come.) */
	if (sprite != NULL && !query_flag(conn, "follow") && !events_mention(rows, n, sprite)) {
		struct sprite_row row;

		r = core_get(a->core, sprite, &row, &cause);
		if (r < 0) {
			event_rows_free(rows, n);
			ret = api_error_errno(conn, r, cause);
			free(cause);
			return ret;
		}
		sprite_row_done(&row);
	}
	if (query_flag(conn, "follow"))
		ret = events_follow(a, conn, rows, n, sprite);
	else
		ret = events_list(a, conn, rows, n, sprite);
	event_rows_free(rows, n);
	return ret;
}

void
events_close_all(struct api *a)
{
	for (struct evstream *st = a->streams; st != NULL; st = st->next) {
		if (st->watch != 0)
			core_unwatch(a->core, st->watch);
		st->watch = 0;
		loop_del_timer(a->loop, st->heartbeat);
		st->heartbeat = 0;
		st->closing = 1;
		evstream_wake(st);
	}
}
