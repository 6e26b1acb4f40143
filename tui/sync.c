/*
 * sync: keeps the dashboard's model in step with the daemon. The list is
 * read once, then each line of the event stream (GET /v1/events?follow=1)
 * names the sprite whose row to re-read; the selected sprite's timeline is
 * re-read when an event names it. When the stream ends the daemon is gone:
 * the header says "reconnecting" and a one-second timer tries again,
 * re-reading the list and following from the last event seen. Actions are
 * requests whose answers end up on the status line and in the log; while
 * any runs, a one-second tick shows the newest one's progress there (its
 * NDJSON "info" lines, a create's image build read from GET /v1/images/NAME,
 * how many of several forks are made, the time so far).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cli/client.h"
#include "cli/format.h"
#include "cli/timeline.h"
#include "common/loop.h"
#include "common/xmalloc.h"
#include "tui/dash.h"
#include "tui/http.h"
#include "tui/list.h"
#include "tui/tree.h"

static void sync_events_start(struct dash *d);

/* A daemon event in the log, at the time it happened. */
static void
sync_log_event(struct dash *d, const cJSON *ev)
{
	const cJSON *sp = cJSON_GetObjectItemCaseSensitive(ev, "sprite");
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(ev, "kind");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(ev, "message");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(ev, "time");
	int64_t at = (int64_t)time(NULL);
	char *msg;

	if (cJSON_IsString(t))
		format_parse_time(t->valuestring, &at);
	else if (cJSON_IsNumber(t))
		at = (int64_t)(t->valuedouble / 1000);	/* milliseconds */
	msg = xasprintf("%s%s%s: %s", cJSON_IsString(sp) ? sp->valuestring : "",
	    cJSON_IsString(sp) ? " " : "", cJSON_IsString(k) ? k->valuestring : "?",
	    cJSON_IsString(m) ? m->valuestring : "");
	dash_log_at(d, (time_t)at, msg);
	free(msg);
}

/* ---- talking to the daemon ---- */

/* "/v1/sprites/NAME" and @rest ("/checkpoints", or NULL). Newly allocated. */
static char *
sync_path(const char *name, const char *rest)
{
	char *e = client_escape(name), *p;

	p = xasprintf("/v1/sprites/%s%s", e, rest != NULL ? rest : "");
	free(e);
	return p;
}

static void
sync_set_connected(struct dash *d, int connected)
{
	if (d->connected == connected)
		return;
	d->connected = connected;
	d->dirty |= DIRTY_HEADER;
}

static void
sync_reconnect_cb(struct loop *l, uint64_t id, void *arg)
{
	struct dash *d = arg;

	d->reconnect_timer = 0;
	sync_events_start(d);
}

/* The daemon went away: say so, and try again in a second. */
void
sync_lost(struct dash *d, const char *cause)
{
	if (d->connected)
		dash_error(d, "lost the daemon (%s): reconnecting", cause);
	sync_set_connected(d, 0);
	if (d->reconnect_timer == 0 && !d->quit)
		d->reconnect_timer = loop_add_timer(d->loop, DASH_RECONNECT_MS, sync_reconnect_cb, d);
}

void
sync_mark_refresh(struct dash *d, const char *name)
{
	for (size_t i = 0; i < d->nrefresh; i++) {
		if (strcmp(d->refresh[i], name) == 0)
			return;
	}
	d->refresh = xreallocarray(d->refresh, d->nrefresh + 1, sizeof *d->refresh);
	d->refresh[d->nrefresh++] = xstrdup(name);
}

struct sprite_req {
	struct dash	*d;
	char		*name;
};

static void
sync_sprite_done(int err, long status, const char *body, size_t len, const char *cause,
    void *arg)
{
	struct sprite_req *rq = arg;
	struct dash *d = rq->d;
	struct sprite *sel;
	cJSON *j;

	if (err == 0 && status == 404) {
		if (list_remove(&d->list, rq->name)) {
			d->dirty |= DIRTY_LIST | DIRTY_HEADER;
			sel = list_selected(&d->list);
			if (sel == NULL || d->tree.sprite == NULL ||
			    strcmp(sel->name, d->tree.sprite) != 0)
				sync_tree_fetch(d);
		}
	} else if (err == 0 && status >= 200 && status < 300) {
		j = cJSON_ParseWithLength(body, len);
		if (j != NULL) {
			list_update(&d->list, j, loop_now_ms());
			d->dirty |= DIRTY_LIST | DIRTY_HEADER;
			if (list_selected(&d->list) != NULL && d->tree.sprite == NULL)
				sync_tree_fetch(d);
		}
		cJSON_Delete(j);
	}
	free(rq->name);
	free(rq);
}

void
sync_sprite_fetch(struct dash *d, const char *name)
{
	struct sprite_req *rq = xcalloc(1, sizeof *rq);
	char *path = sync_path(name, NULL);

	rq->d = d;
	rq->name = xstrdup(name);
	http_request(d->http, "GET", path, NULL, DASH_READ_TIMEOUT_S, NULL, sync_sprite_done, rq);
	free(path);
}

/* Sets the list from GET /v1/sprites's answer; returns 0 or -EBADMSG. */
static int
sync_list_from(struct dash *d, const char *body, size_t len)
{
	cJSON *j = cJSON_ParseWithLength(body, len);
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "sprites");
	struct sprite *sel;

	if (!cJSON_IsArray(arr)) {
		cJSON_Delete(j);
		return -EBADMSG;
	}
	list_set_all(&d->list, arr, loop_now_ms());
	cJSON_Delete(j);
	d->dirty |= DIRTY_LIST | DIRTY_HEADER;
	sel = list_selected(&d->list);
	if (sel == NULL ? d->tree.sprite != NULL :
	    d->tree.sprite == NULL || strcmp(d->tree.sprite, sel->name) != 0 || d->tree.n == 0)
		sync_tree_fetch(d);
	return 0;
}

static void
sync_list_done(int err, long status, const char *body, size_t len, const char *cause,
    void *arg)
{
	struct dash *d = arg;

	if (err < 0) {
		sync_lost(d, cause);
		return;
	}
	if (status < 200 || status > 299 || sync_list_from(d, body, len) < 0)
		dash_error(d, "cannot list sprites: %s", cause ? cause : "bad answer");
}

void
sync_list_fetch(struct dash *d)
{
	http_request(d->http, "GET", "/v1/sprites", NULL, DASH_READ_TIMEOUT_S, NULL,
	    sync_list_done, d);
}

static void
sync_tree_done(int err, long status, const char *body, size_t len, const char *cause,
    void *arg)
{
	struct dash *d = arg;
	struct sprite *sel = list_selected(&d->list);
	cJSON *j;

	d->tree_req = 0;
	if (sel == NULL)
		return;
	d->dirty |= DIRTY_TREE;
	if (err < 0 || status < 200 || status > 299) {
		tree_reset(&d->tree, sel->name, cause ? cause : "cannot read the timeline");
		return;
	}
	j = cJSON_ParseWithLength(body, len);
	if (cJSON_IsArray(j))
		tree_set(&d->tree, sel->name, j, (int64_t)time(NULL));
	else
		tree_reset(&d->tree, sel->name, "the daemon's timeline is not a list");
	cJSON_Delete(j);
}

/* (Re)reads the selected sprite's timeline. */
void
sync_tree_fetch(struct dash *d)
{
	struct sprite *sel = list_selected(&d->list);
	char *path;

	if (d->tree_req != 0)
		http_cancel(d->http, d->tree_req);
	d->tree_req = 0;
	d->dirty |= DIRTY_TREE;
	if (sel == NULL) {
		tree_reset(&d->tree, NULL, NULL);
		return;
	}
	tree_reset(&d->tree, sel->name, "loading");
	path = sync_path(sel->name, "/checkpoints");
	d->tree_req = http_request(d->http, "GET", path, NULL, DASH_READ_TIMEOUT_S, NULL,
	    sync_tree_done, d);
	free(path);
}

/* ---- the event stream ---- */

/* What an event did to the sprite under a console, for the pane to say;
 * @msg is the event's message ("restored to v2 with its memory"). */
static void
sync_pane_note(struct dash *d, const char *sprite, const char *kind, const char *msg)
{
	static const struct {
		const char *kind, *note;
	} notes[] = {
		{ "sleep", "the sprite went to sleep" },
		{ "stop", "the sprite was stopped" },
		{ "exit", "the sprite stopped unexpectedly" },
		{ "restore", "the sprite was restored to a checkpoint" },
		{ "destroy", "the sprite was destroyed" },
	};
	const char *note = NULL;

	for (size_t k = 0; k < sizeof notes / sizeof notes[0]; k++) {
		if (strcmp(kind, notes[k].kind) == 0)
			note = notes[k].note;
	}
	if (note == NULL)
		return;
	for (int i = 0; i < d->npanes; i++) {
		struct pane *p = d->panes[i];

		if (strcmp(p->sprite, sprite) != 0)
			continue;
		free(p->note);
		/* Say where a restore went, and that its processes came back
		 * when it had memory (the shell's session still ended). */
		if (strcmp(kind, "restore") == 0 && msg != NULL && strncmp(msg, "restored ", 9) == 0)
			p->note = xasprintf("the sprite was %s%s", msg, strstr(msg, "memory") ?
			    ": its processes resumed" : "");
		else
			p->note = xstrdup(note);
		d->dirty |= DIRTY_PANES;
	}
}

static void
sync_event(struct dash *d, const cJSON *ev)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(ev, "id");
	const cJSON *sp = cJSON_GetObjectItemCaseSensitive(ev, "sprite");
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(ev, "kind");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(ev, "message");
	const char *k = cJSON_IsString(kind) ? kind->valuestring : "?";

	if (cJSON_IsNumber(id) && (int64_t)id->valuedouble > d->last_event)
		d->last_event = (int64_t)id->valuedouble;
	/* An operation's end says nothing the next line will not; usage
	 * figures belong in the list, not the log. */
	if ((strcmp(k, "op") != 0 || !cJSON_IsString(msg) ||
	    strcmp(msg->valuestring, "idle") != 0) && strcmp(k, "usage") != 0)
		sync_log_event(d, ev);
	if (!cJSON_IsString(sp)) {
		/* Templates and the daemon itself: the list may have changed. */
		if (strcmp(k, "template") != 0)
			d->refresh_all = 1;
		return;
	}
	sync_mark_refresh(d, sp->valuestring);
	sync_pane_note(d, sp->valuestring, k, cJSON_IsString(msg) ? msg->valuestring : NULL);
}

static void
sync_events_line(const char *line, size_t len, void *arg)
{
	struct dash *d = arg;
	cJSON *j = cJSON_ParseWithLength(line, len);

	if (j != NULL)
		sync_event(d, j);
	cJSON_Delete(j);
}

static void
sync_events_done(int err, long status, const char *body, size_t len, const char *cause,
    void *arg)
{
	struct dash *d = arg;

	d->events_req = 0;
	if (d->quit)
		return;
	if (err == 0 && status == 404) {
		/* A daemon from before the event stream: nothing to follow. */
		d->no_events = 1;
		dash_log(d, "this daemon has no event stream: the list refreshes after "
		    "actions and with C-l");
		return;
	}
	sync_lost(d, err < 0 && err != -ECONNRESET ? cause : "it went away");
}

/* The history the log starts with, then the stream after it. */
void
sync_history_done(int err, long status, const char *body, size_t len, const char *cause,
    void *arg)
{
	struct dash *d = arg;
	const cJSON *ev;
	char *path;
	cJSON *j;

	if (err < 0) {
		sync_lost(d, cause);
		return;
	}
	if (status >= 200 && status < 300 && d->last_event == 0) {
		j = cJSON_ParseWithLength(body, len);
		cJSON_ArrayForEach(ev, j) {
			const cJSON *id = cJSON_GetObjectItemCaseSensitive(ev, "id");

			if (cJSON_IsNumber(id) && (int64_t)id->valuedouble > d->last_event)
				d->last_event = (int64_t)id->valuedouble;
		}
		/* Only the last few: the log pane is short. */
		int n = cJSON_GetArraySize(j), i = 0;

		cJSON_ArrayForEach(ev, j) {
			if (i++ >= n - 20)
				sync_log_event(d, ev);
		}
		cJSON_Delete(j);
	}
	path = xasprintf("/v1/events?follow=1&after=%lld", (long long)d->last_event);
	d->events_req = http_request(d->http, "GET", path, NULL, 0, sync_events_line,
	    sync_events_done, d);
	free(path);
}

static void
sync_connect_done(int err, long status, const char *body, size_t len, const char *cause,
    void *arg)
{
	struct dash *d = arg;

	if (err < 0) {
		sync_lost(d, cause);
		return;
	}
	if (!d->connected)
		dash_status(d, 0, "connected to the daemon");
	sync_set_connected(d, 1);
	http_request(d->http, "GET", "/v1/daemon", NULL, DASH_READ_TIMEOUT_S, NULL,
	    sync_daemon_done, d);
	if (status >= 200 && status < 300)
		sync_list_from(d, body, len);
	if (d->no_events)
		return;
	if (d->last_event == 0)
		http_request(d->http, "GET", "/v1/events", NULL, DASH_READ_TIMEOUT_S, NULL,
		    sync_history_done, d);
	else
		sync_history_done(0, 204, "", 0, NULL, d);
}

void
sync_daemon_done(int err, long status, const char *body, size_t len, const char *cause,
    void *arg)
{
	struct dash *d = arg;
	const cJSON *accel;
	cJSON *j;

	if (err < 0 || status < 200 || status > 299)
		return;
	j = cJSON_ParseWithLength(body, len);
	accel = cJSON_GetObjectItemCaseSensitive(j, "accel");
	if (cJSON_IsString(accel)) {
		free(d->accel);
		d->accel = xstrdup(accel->valuestring);
		d->dirty |= DIRTY_HEADER;
	}
	cJSON_Delete(j);
}

/* Reads the list (missed while away), then follows the event stream. */
static void
sync_events_start(struct dash *d)
{
	if (d->events_req != 0)
		return;
	http_request(d->http, "GET", "/v1/sprites", NULL, DASH_READ_TIMEOUT_S, NULL,
	    sync_connect_done, d);
}

/* ---- actions ---- */

/* Forks asked for at once: one line says how many are made. */
struct fork_group {
	int		 n, made, failed;
	int		 refs;		/* its actions still under way */
	char		*what;		/* "fork dev@v3" */
	struct buf	 names;		/* the ones made */
	struct buf	 errors;	/* "c: why" of the others */
};

struct action {
	struct dash	*d;
	struct action	*next;
	uint64_t	 req;
	char		*sprite;	/* whose row shows it busy, or NULL */
	char		*what;		/* "checkpoint dev" for messages */
	char		*progress;	/* the latest word on it, or NULL */
	char		*done_note;	/* said after a success ("its processes resume") */
	uint64_t	 started_ms;
	int		 ndjson;	/* a checkpoint or restore answer */
	struct buf	 lines;		/* its NDJSON lines so far */
	int		 created;	/* the answer is a new sprite */
	char		*image;		/* a create that may build this image first */
	uint64_t	 image_timer;
	uint64_t	 image_req;
	struct fork_group *group;
	sync_then_fn	 then;		/* told how it ended (by sprite name) */
};

static void
sync_busy(struct dash *d, const char *sprite, const char *label)
{
	struct sprite *s = sprite ? list_find(&d->list, sprite) : NULL;

	if (s == NULL)
		return;
	free(s->busy);
	s->busy = label ? xstrdup(label) : NULL;
	d->dirty |= DIRTY_LIST;
}

/* What the action under way says on the status line: what, its latest
 * word, how long it has taken so far, how many more run. */
static char *
sync_progress_text(struct dash *d, const struct action *a)
{
	uint64_t secs = (loop_now_ms() - a->started_ms) / 1000;
	const struct fork_group *g = a->group;
	struct buf b;
	char *text;
	int more = 0;

	for (const struct action *o = d->actions; o != NULL; o = o->next) {
		if (o != a && (g == NULL || o->group != g))
			more++;
	}
	buf_init(&b);
	if (g != NULL)
		buf_add_printf(&b, "%s: %d of %d made", g->what, g->made, g->n);
	else
		buf_add_printf(&b, "%s", a->what);
	if (a->progress != NULL)
		buf_add_printf(&b, ": %s", a->progress);
	buf_add_printf(&b, " ...");
	if (secs > 0)
		buf_add_printf(&b, " %llus", (unsigned long long)secs);
	if (more > 0)
		buf_add_printf(&b, "  (+%d more)", more);
	text = xstrdup(buf_cstr(&b));
	buf_done(&b);
	return text;
}

/* The newest action's progress on the status line, unless a message came
 * there less than DASH_STATUS_HOLD_MS ago. */
static void
sync_progress_show(struct dash *d, int force)
{
	char *text;

	if (d->actions == NULL)
		return;
	if (!force && !d->status_progress &&
	    loop_now_ms() - d->status_ms < DASH_STATUS_HOLD_MS)
		return;
	text = sync_progress_text(d, d->actions);
	dash_status(d, 0, "%s", text);
	d->status_progress = 1;
	free(text);
}

static void
sync_progress_tick(struct loop *l, uint64_t id, void *arg)
{
	struct dash *d = arg;

	d->progress_timer = 0;
	if (d->actions == NULL)
		return;
	sync_progress_show(d, 0);
	d->progress_timer = loop_add_timer(l, DASH_PROGRESS_MS, sync_progress_tick, d);
}

static void
sync_action_free(struct action *a)
{
	struct dash *d = a->d;

	if (a->image_timer != 0)
		loop_del_timer(d->loop, a->image_timer);
	http_cancel(d->http, a->image_req);
	if (a->group != NULL && --a->group->refs == 0) {
		free(a->group->what);
		buf_done(&a->group->names);
		buf_done(&a->group->errors);
		free(a->group);
	}
	buf_done(&a->lines);
	free(a->sprite);
	free(a->what);
	free(a->progress);
	free(a->done_note);
	free(a->image);
	free(a);
}

static void
sync_action_unlink(struct action *a)
{
	for (struct action **pp = &a->d->actions; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			return;
		}
	}
}

void
sync_actions_free(struct dash *d)
{
	struct action *a;

	while ((a = d->actions) != NULL) {
		d->actions = a->next;
		http_cancel(d->http, a->req);
		sync_action_free(a);
	}
	if (d->progress_timer != 0)
		loop_del_timer(d->loop, d->progress_timer);
	d->progress_timer = 0;
}

/* One fork of a group ended: the last one says how all went. */
static void
sync_fork_done(struct dash *d, struct action *a, const char *name, const char *why)
{
	struct fork_group *g = a->group;

	if (why == NULL) {
		g->made++;
		buf_add_printf(&g->names, "%s%s", buf_used(&g->names) ? ", " : "", name);
	} else {
		g->failed++;
		buf_add_printf(&g->errors, "%s%s: %s", buf_used(&g->errors) ? "; " : "", name,
		    why);
	}
	if (g->made + g->failed < g->n) {
		sync_progress_show(d, 1);
		return;
	}
	if (g->failed == 0)
		dash_status(d, 0, "%s: made %s", g->what, buf_cstr(&g->names));
	else
		dash_error(d, "%s: %d of %d made%s%s%s; %s", g->what, g->made, g->n,
		    g->made ? " (" : "", g->made ? buf_cstr(&g->names) : "", g->made ? ")" : "",
		    buf_cstr(&g->errors));
}

static void
sync_action_done(int err, long status, const char *body, size_t len, const char *cause,
    void *arg)
{
	struct action *a = arg;
	struct dash *d = a->d;
	char *data = NULL, *id = NULL, *why = NULL, *fail = NULL;
	cJSON *j;

	sync_action_unlink(a);
	sync_busy(d, a->sprite, NULL);
	if (err < 0 || status < 200 || status > 299) {
		fail = xstrdup(cause ? cause : "no answer");
	} else if (a->ndjson) {
		buf_add(&a->lines, body, len);
		if (timeline_result((const char *)buf_head(&a->lines), buf_used(&a->lines), &data,
		    &id, &why) < 0)
			fail = xstrdup(why);
	} else if (a->created && (j = cJSON_ParseWithLength(body, len)) != NULL) {
		list_update(&d->list, j, loop_now_ms());
		d->dirty |= DIRTY_LIST | DIRTY_HEADER;
		cJSON_Delete(j);
	}
	if (a->group != NULL) {
		const char *name = strrchr(a->what, ' ') + 1;	/* "... as NAME" */

		sync_fork_done(d, a, name, fail);
	} else if (fail != NULL) {
		dash_error(d, "%s: %s", a->what, fail);
	} else {
		dash_status(d, 0, "%s: %s%s%s", a->what, data ? data : "done",
		    a->done_note ? ": " : "", a->done_note ? a->done_note : "");
	}
	if (err < 0)
		sync_lost(d, cause);
	if (a->then != NULL)
		a->then(d, a->sprite, fail != NULL ? (err < 0 ? err : -EIO) : 0, fail);
	free(data);
	free(id);
	free(why);
	free(fail);
	/* The event stream says the same; without one, this is how we know. */
	if (a->sprite != NULL)
		sync_mark_refresh(d, a->sprite);
	if (d->no_events)
		d->refresh_all = 1;
	sync_action_free(a);
}

/* A streamed NDJSON line: an "info" line is the action's latest word. */
static void
sync_action_line(const char *line, size_t len, void *arg)
{
	struct action *a = arg;
	const cJSON *type, *data;
	cJSON *j;

	buf_add(&a->lines, line, len);
	buf_add_u8(&a->lines, '\n');
	j = cJSON_ParseWithLength(line, len);
	type = cJSON_GetObjectItemCaseSensitive(j, "type");
	data = cJSON_GetObjectItemCaseSensitive(j, "data");
	if (cJSON_IsString(type) && strcmp(type->valuestring, "info") == 0 &&
	    cJSON_IsString(data)) {
		free(a->progress);
		a->progress = xstrdup(data->valuestring);
		if (a->d->actions == a)
			sync_progress_show(a->d, 1);
	}
	cJSON_Delete(j);
}

static void sync_image_poll(struct loop *l, uint64_t id, void *arg);

/* GET /v1/images/NAME while a create waits: "building" with the recipe's
 * latest line is the create's progress. */
static void
sync_image_done(int err, long status, const char *body, size_t len, const char *cause,
    void *arg)
{
	struct action *a = arg;
	const cJSON *state, *line;
	cJSON *j;

	a->image_req = 0;
	if (err == 0 && status >= 200 && status < 300 &&
	    (j = cJSON_ParseWithLength(body, len)) != NULL) {
		state = cJSON_GetObjectItemCaseSensitive(j, "state");
		line = cJSON_GetObjectItemCaseSensitive(j, "progress");
		if (cJSON_IsString(state) && strcmp(state->valuestring, "building") == 0) {
			free(a->progress);
			a->progress = xasprintf("building image %s%s%s", a->image,
			    cJSON_IsString(line) ? ": " : "",
			    cJSON_IsString(line) ? line->valuestring : "");
			if (a->d->actions == a)
				sync_progress_show(a->d, 0);
		} else if (a->progress != NULL) {
			/* Built: what is left is the boot. */
			free(a->progress);
			a->progress = xasprintf("image %s built, booting", a->image);
		}
		cJSON_Delete(j);
	}
	a->image_timer = loop_add_timer(a->d->loop, DASH_PROGRESS_MS, sync_image_poll, a);
}

static void
sync_image_poll(struct loop *l, uint64_t id, void *arg)
{
	struct action *a = arg;
	char *e = client_escape(a->image), *path = xasprintf("/v1/images/%s", e);

	a->image_timer = 0;
	a->image_req = http_request(a->d->http, "GET", path, NULL, DASH_READ_TIMEOUT_S, NULL,
	    sync_image_done, a);
	free(path);
	free(e);
}

/* Sends an action; @path, @body and @what are consumed. */
static struct action *
sync_action(struct dash *d, const char *method, char *path, cJSON *body, const char *sprite,
    const char *busy, int ndjson, int created, char *what)
{
	struct action *a = xcalloc(1, sizeof *a);
	char *text = body ? cJSON_PrintUnformatted(body) : NULL;

	a->d = d;
	a->sprite = sprite ? xstrdup(sprite) : NULL;
	a->what = what;
	a->ndjson = ndjson;
	a->created = created;
	a->started_ms = loop_now_ms();
	buf_init(&a->lines);
	a->next = d->actions;
	d->actions = a;
	sync_busy(d, sprite, busy);
	a->req = http_request(d->http, method, path, text, DASH_CHANGE_TIMEOUT_S,
	    ndjson ? sync_action_line : NULL, sync_action_done, a);
	if (d->progress_timer == 0)
		d->progress_timer = loop_add_timer(d->loop, DASH_PROGRESS_MS, sync_progress_tick,
		    d);
	free(text);
	free(path);
	cJSON_Delete(body);
	return a;
}

static const char *
sync_state_busy(const char *verb)
{
	static const struct {
		const char *verb, *busy;
	} busy[] = {
		{ "sleep", "sleeping.." }, { "wake", "waking.." }, { "start", "starting.." },
		{ "stop", "stopping.." },
	};

	for (size_t i = 0; i < sizeof busy / sizeof busy[0]; i++) {
		if (strcmp(busy[i].verb, verb) == 0)
			return busy[i].busy;
	}
	return "busy";
}

static struct action *
sync_state_request(struct dash *d, const char *sprite, const char *verb)
{
	char *rest = xasprintf("/%s", verb);
	struct action *a;

	a = sync_action(d, "POST", sync_path(sprite, rest), NULL, sprite, sync_state_busy(verb),
	    0, 0, xasprintf("%s %s", verb, sprite));
	free(rest);
	return a;
}

void
sync_state_action(struct dash *d, const char *sprite, const char *verb)
{
	sync_state_request(d, sprite, verb);
	sync_progress_show(d, 1);
}

void
sync_start(struct dash *d, const char *sprite, sync_then_fn fn)
{
	struct action *a = sync_state_request(d, sprite, "start");

	a->then = fn;
	sync_progress_show(d, 1);
}

void
sync_checkpoint(struct dash *d, const char *sprite, const char *comment, int memory)
{
	cJSON *b = cJSON_CreateObject();
	struct action *a;

	if (comment != NULL && *comment != '\0')
		cJSON_AddStringToObject(b, "comment", comment);
	if (memory)
		cJSON_AddTrueToObject(b, "memory");
	a = sync_action(d, "POST", sync_path(sprite, "/checkpoint"), b, sprite,
	    memory ? "mem ckpt.." : "ckpt..", 1, 0,
	    xasprintf("%scheckpoint %s", memory ? "memory " : "", sprite));
	if (memory) {
		a->progress = xstrdup("saving the guest's memory");
		a->done_note = xstrdup("a restore to it resumes the processes");
	}
	sync_progress_show(d, 1);
}

void
sync_restore(struct dash *d, const char *sprite, const char *ckpt)
{
	char *rest = xasprintf("/checkpoints/%s/restore", ckpt);
	int memory = d->tree.sprite != NULL && strcmp(d->tree.sprite, sprite) == 0 &&
	    tree_has_memory(&d->tree, ckpt);
	struct action *a;

	a = sync_action(d, "POST", sync_path(sprite, rest), NULL, sprite,
	    "restoring", 1, 0, xasprintf("restore %s to %s", sprite, ckpt));
	if (memory) {
		a->progress = xstrdup("resuming from memory");
		a->done_note = xstrdup("its processes resume where the checkpoint left them");
	}
	sync_progress_show(d, 1);
	free(rest);
}

void
sync_fork(struct dash *d, const char *sprite, const char *ckpt, char **names, size_t n)
{
	struct fork_group *g = NULL;
	struct action *a;

	if (n > 1) {
		g = xcalloc(1, sizeof *g);
		g->n = (int)n;
		g->what = xasprintf("fork %s%s%s", sprite, ckpt ? "@" : "", ckpt ? ckpt : "");
		buf_init(&g->names);
		buf_init(&g->errors);
	}
	for (size_t i = 0; i < n; i++) {
		cJSON *b = cJSON_CreateObject();

		cJSON_AddStringToObject(b, "name", names[i]);
		if (ckpt != NULL)
			cJSON_AddStringToObject(b, "checkpoint", ckpt);
		a = sync_action(d, "POST", sync_path(sprite, "/fork"), b, NULL,
		    NULL, 0, 1, xasprintf("fork %s%s%s as %s", sprite, ckpt ? "@" : "",
		    ckpt ? ckpt : "", names[i]));
		a->group = g;
		if (g != NULL)
			g->refs++;
	}
	sync_progress_show(d, 1);
}

void
sync_template(struct dash *d, const char *name, const char *sprite, const char *ckpt)
{
	cJSON *b = cJSON_CreateObject();

	cJSON_AddStringToObject(b, "name", name);
	cJSON_AddStringToObject(b, "sprite", sprite);
	if (ckpt != NULL)
		cJSON_AddStringToObject(b, "checkpoint", ckpt);
	sync_action(d, "POST", xstrdup("/v1/templates"), b, NULL, NULL, 0, 0,
	    xasprintf("save %s%s%s as template %s", sprite, ckpt ? "@" : "", ckpt ? ckpt : "",
	    name));
	sync_progress_show(d, 1);
}

void
sync_delete_ckpt(struct dash *d, const char *sprite, const char *ckpt)
{
	char *rest = xasprintf("/checkpoints/%s", ckpt);

	sync_action(d, "DELETE", sync_path(sprite, rest), NULL, sprite, NULL,
	    0, 0, xasprintf("delete %s@%s", sprite, ckpt));
	sync_progress_show(d, 1);
	free(rest);
}

void
sync_create(struct dash *d, const char *name, const char *image, const char *tmpl)
{
	cJSON *b = cJSON_CreateObject();
	struct action *a;

	cJSON_AddStringToObject(b, "name", name);
	if (image != NULL)
		cJSON_AddStringToObject(b, "image", image);
	if (tmpl != NULL)
		cJSON_AddStringToObject(b, "template", tmpl);
	a = sync_action(d, "POST", xstrdup("/v1/sprites"), b, NULL, NULL, 0, 1,
	    xasprintf("create %s", name));
	/* The first create of an image builds it: minutes, with the recipe's
	 * lines to show. (A template's disk is built already.) */
	if (tmpl == NULL) {
		a->image = xstrdup(image != NULL ? image : "minimal");
		a->image_timer = loop_add_timer(d->loop, DASH_PROGRESS_MS / 2, sync_image_poll, a);
	}
	sync_progress_show(d, 1);
}

void
sync_destroy(struct dash *d, const char *sprite)
{
	sync_action(d, "DELETE", sync_path(sprite, NULL), NULL, sprite,
	    "destroying", 0, 0, xasprintf("destroy %s", sprite));
	sync_progress_show(d, 1);
}
