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
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api_internal.h"
#include "common/buf.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "core/core.h"

#define EVENTS_LIST_MAX		1000
#define EVENTS_MAX_STREAMS	64
#define EVENTS_MAX_BACKLOG	(1024 * 1024)

struct evstream {
	struct api		*api;
	struct MHD_Connection	*conn;
	uint64_t		 watch;
	char			*sprite;	/* the filter, or NULL */
	struct buf		 out;
	int			 suspended;
	int			 closing;	/* end the stream once out is sent */
	struct evstream		*next;
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

static void
evstream_add(struct evstream *st, const struct event_row *ev)
{
	cJSON *j;
	char *line;

	if (st->closing || !event_matches(ev, st->sprite))
		return;
	j = event_json(ev);
	line = cJSON_PrintUnformatted(j);
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

static void
evstream_on_event(void *arg, const struct event_row *ev)
{
	evstream_add(arg, ev);
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
	buf_done(&st->out);
	free(st->sprite);
	free(st);
}

/* Parses ?after=ID; 0 when absent. */
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

static enum MHD_Result
events_follow(struct api *a, struct MHD_Connection *conn, const struct event_row *rows,
    size_t n, const char *sprite)
{
	struct MHD_Response *resp;
	struct evstream *st;
	enum MHD_Result ret;
	int count = 0;

	for (st = a->streams; st != NULL; st = st->next)
		count++;
	if (count >= EVENTS_MAX_STREAMS)
		return api_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "too_many_streams",
		    "too many event streams are open");
	st = xcalloc(1, sizeof *st);
	st->api = a;
	st->conn = conn;
	st->sprite = sprite ? xstrdup(sprite) : NULL;
	buf_init(&st->out);
	for (size_t i = 0; i < n; i++)
		evstream_add(st, &rows[i]);
	st->watch = core_watch(a->core, evstream_on_event, st);
	st->next = a->streams;
	a->streams = st;

	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, evstream_read,
	    st, evstream_free);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-ndjson");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);	/* the connection holds it, and st with it */
	return ret;
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
		st->closing = 1;
		evstream_wake(st);
	}
}
