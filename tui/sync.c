/*
 * sync: keeps the dashboard's model in step with the daemon. The list is
 * read once, then each line of the event stream (GET /v1/events?follow=1)
 * names the sprite whose row to re-read; the selected sprite's timeline is
 * re-read when an event names it. When the stream ends the daemon is gone:
 * the header says "reconnecting" and a one-second timer tries again,
 * re-reading the list and following from the last event seen. Actions are
 * requests whose answers end up on the status line and in the log.
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

static void
sync_pane_note(struct dash *d, const char *sprite, const char *kind)
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

	for (int i = 0; i < d->npanes; i++) {
		struct pane *p = d->panes[i];

		if (strcmp(p->sprite, sprite) != 0)
			continue;
		for (size_t k = 0; k < sizeof notes / sizeof notes[0]; k++) {
			if (strcmp(kind, notes[k].kind) == 0) {
				free(p->note);
				p->note = xstrdup(notes[k].note);
				d->dirty |= DIRTY_PANES;
			}
		}
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
	sync_pane_note(d, sp->valuestring, k);
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

struct action {
	struct dash	*d;
	char		*sprite;	/* whose row shows it busy, or NULL */
	char		*what;		/* "checkpoint dev" for messages */
	int		 ndjson;	/* a checkpoint or restore answer */
	int		 created;	/* the answer is a new sprite */
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

static void
sync_action_done(int err, long status, const char *body, size_t len, const char *cause,
    void *arg)
{
	struct action *a = arg;
	struct dash *d = a->d;
	char *data = NULL, *id = NULL, *why = NULL;
	cJSON *j;

	sync_busy(d, a->sprite, NULL);
	if (err < 0) {
		dash_error(d, "%s: %s", a->what, cause);
		sync_lost(d, cause);
	} else if (status < 200 || status > 299) {
		dash_error(d, "%s: %s", a->what, cause);
	} else if (a->ndjson) {
		if (timeline_result(body, len, &data, &id, &why) < 0)
			dash_error(d, "%s: %s", a->what, why);
		else
			dash_status(d, 0, "%s: %s", a->what, data ? data : "done");
	} else {
		dash_status(d, 0, "%s: done", a->what);
		if (a->created && (j = cJSON_ParseWithLength(body, len)) != NULL) {
			list_update(&d->list, j, loop_now_ms());
			d->dirty |= DIRTY_LIST | DIRTY_HEADER;
			cJSON_Delete(j);
		}
	}
	free(data);
	free(id);
	free(why);
	/* The event stream says the same; without one, this is how we know. */
	if (a->sprite != NULL)
		sync_mark_refresh(d, a->sprite);
	if (d->no_events)
		d->refresh_all = 1;
	free(a->sprite);
	free(a->what);
	free(a);
}

/* Sends an action; @body is consumed. */
static void
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
	sync_busy(d, sprite, busy);
	dash_status(d, 0, "%s ...", what);
	http_request(d->http, method, path, text, DASH_CHANGE_TIMEOUT_S, NULL, sync_action_done, a);
	free(text);
	free(path);
	cJSON_Delete(body);
}

void
sync_state_action(struct dash *d, const char *sprite, const char *verb)
{
	static const struct {
		const char *verb, *busy;
	} busy[] = {
		{ "sleep", "sleeping.." }, { "wake", "waking.." }, { "start", "starting.." },
		{ "stop", "stopping.." },
	};
	const char *label = "busy";
	char *rest = xasprintf("/%s", verb);

	for (size_t i = 0; i < sizeof busy / sizeof busy[0]; i++) {
		if (strcmp(busy[i].verb, verb) == 0)
			label = busy[i].busy;
	}
	sync_action(d, "POST", sync_path(sprite, rest), NULL, sprite,
	    label, 0, 0, xasprintf("%s %s", verb, sprite));
	free(rest);
}

void
sync_checkpoint(struct dash *d, const char *sprite, const char *comment)
{
	cJSON *b = cJSON_CreateObject();

	if (comment != NULL && *comment != '\0')
		cJSON_AddStringToObject(b, "comment", comment);
	sync_action(d, "POST", sync_path(sprite, "/checkpoint"), b, sprite,
	    "ckpt..", 1, 0, xasprintf("checkpoint %s", sprite));
}

void
sync_restore(struct dash *d, const char *sprite, const char *ckpt)
{
	char *rest = xasprintf("/checkpoints/%s/restore", ckpt);

	sync_action(d, "POST", sync_path(sprite, rest), NULL, sprite,
	    "restoring", 1, 0, xasprintf("restore %s to %s", sprite, ckpt));
	free(rest);
}

void
sync_fork(struct dash *d, const char *sprite, const char *ckpt, char **names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		cJSON *b = cJSON_CreateObject();

		cJSON_AddStringToObject(b, "name", names[i]);
		if (ckpt != NULL)
			cJSON_AddStringToObject(b, "checkpoint", ckpt);
		sync_action(d, "POST", sync_path(sprite, "/fork"), b, NULL,
		    NULL, 0, 1, xasprintf("fork %s%s%s as %s", sprite, ckpt ? "@" : "",
		    ckpt ? ckpt : "", names[i]));
	}
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
}

void
sync_delete_ckpt(struct dash *d, const char *sprite, const char *ckpt)
{
	char *rest = xasprintf("/checkpoints/%s", ckpt);

	sync_action(d, "DELETE", sync_path(sprite, rest), NULL, sprite, NULL,
	    0, 0, xasprintf("delete %s@%s", sprite, ckpt));
	free(rest);
}

void
sync_create(struct dash *d, const char *name, const char *image, const char *tmpl)
{
	cJSON *b = cJSON_CreateObject();

	cJSON_AddStringToObject(b, "name", name);
	if (image != NULL)
		cJSON_AddStringToObject(b, "image", image);
	if (tmpl != NULL)
		cJSON_AddStringToObject(b, "template", tmpl);
	sync_action(d, "POST", xstrdup("/v1/sprites"), b, NULL, NULL, 0, 1,
	    xasprintf("create %s", name));
}

void
sync_destroy(struct dash *d, const char *sprite)
{
	sync_action(d, "DELETE", sync_path(sprite, NULL), NULL, sprite,
	    "destroying", 0, 0, xasprintf("destroy %s", sprite));
}
