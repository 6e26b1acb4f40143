/*
 * dashboard: the app and its loop.
 *
 * Everything runs on one loop (common/loop): the terminal's input, signals
 * (a signalfd: SIGWINCH resizes, SIGTERM/SIGHUP quit), requests to the
 * daemon (tui/http, curl multi), the event stream (one followed request),
 * consoles' connections (tui/wsconn) and a few timers that matter: reconnecting
 * while the daemon is away, the sleep countdown while one is shown, feeding
 * consoles that have output waiting. Callbacks only change the model and
 * mark what changed; the before-sleep hook draws it, once per turn, and
 * curses sends the terminal only the cells that differ. With nothing
 * happening no timer is armed and the process sleeps in epoll_wait.
 *
 * Consoles are fed in bounded chunks per turn (DASH_FEED_CHUNK), and a
 * session's input is paused while its backlog is long, so a flood of output
 * never starves the keyboard; console output alone redraws at most once a
 * frame. The daemon's side (event stream, reads, actions) is tui/sync.c.
 *
 * A console's shell is a detachable session: closing the console or
 * quitting the dashboard leaves it running, and opening the sprite's
 * console again re-attaches to it (the daemon replays what it kept).
 */
#include "dashboard.h"

#include <curses.h>
#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include <cjson/cJSON.h>

#include "cli/client.h"
#include "cli/session.h"
#include "common/buf.h"
#include "common/loop.h"
#include "common/xmalloc.h"
#include "tui/cmd.h"
#include "tui/console.h"
#include "tui/dash.h"
#include "tui/http.h"
#include "tui/list.h"
#include "tui/pane.h"
#include "tui/tree.h"
#include "tui/ui.h"
#include "tui/wsconn.h"

static void dash_layout(struct dash *d);
static void dash_countdown_cb(struct loop *l, uint64_t id, void *arg);

/* ---- status line and event log ---- */

void
dash_status(struct dash *d, int err, const char *fmt, ...)
{
	va_list ap;

	free(d->status);
	va_start(ap, fmt);
	if (vasprintf(&d->status, fmt, ap) < 0)
		abort();
	va_end(ap);
	d->status_err = err;
	d->status_progress = 0;
	d->status_ms = loop_now_ms();
	d->dirty |= DIRTY_STATUS;
}

void
dash_log_at(struct dash *d, time_t at, const char *msg)
{
	char when[16], *line;
	struct tm tm;

	localtime_r(&at, &tm);
	strftime(when, sizeof when, "%H:%M:%S", &tm);
	line = xasprintf("%s %s", when, msg);
	free(d->log[d->log_head]);
	d->log[d->log_head] = line;
	d->log_head = (d->log_head + 1) % DASH_LOG_MAX;
	if (d->log_n < DASH_LOG_MAX)
		d->log_n++;
	d->dirty |= DIRTY_LOG;
}

void
dash_log(struct dash *d, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	dash_log_at(d, time(NULL), msg);
	free(msg);
}


/* An error: on the status line and in the log. */
void
dash_error(struct dash *d, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	dash_status(d, 1, "%s", msg);
	dash_log(d, "error: %s", msg);
	free(msg);
}

/* ---- consoles ---- */

static int
dash_pane_index(struct dash *d, const char *sprite)
{
	for (int i = 0; i < d->npanes; i++) {
		if (strcmp(d->panes[i]->sprite, sprite) == 0)
			return i;
	}
	return -1;
}

static void
dash_feed_cb(struct loop *l, uint64_t id, void *arg)
{
	struct dash *d = arg;
	int more = 0;

	d->feed_timer = 0;
	for (int i = 0; i < d->npanes; i++) {
		struct pane *p = d->panes[i];
		size_t n = buf_used(&p->pending);

		if (n == 0)
			continue;
		if (n > DASH_FEED_CHUNK)
			n = DASH_FEED_CHUNK;
		console_feed(p->con, (const char *)buf_head(&p->pending), n);
		buf_consume(&p->pending, n);
		if (buf_used(&p->pending) > 0)
			more = 1;
		if (p->paused && buf_used(&p->pending) < DASH_PAUSE_LOW) {
			p->paused = 0;
			if (p->conn != NULL)
				wsconn_pause(p->conn, 0);
		}
	}
	/* The rest next turn: keys and drawing come first. */
	if (more)
		d->feed_timer = loop_add_timer(d->loop, 0, dash_feed_cb, d);
}

static void
dash_pane_data(struct wsconn *s, const uint8_t *data, size_t len, void *arg)
{
	struct pane *p = arg;
	struct dash *d = p->d;

	buf_add(&p->pending, data, len);
	if (!p->paused && buf_used(&p->pending) > DASH_PAUSE_HIGH) {
		p->paused = 1;
		wsconn_pause(s, 1);
	}
	if (d->feed_timer == 0)
		d->feed_timer = loop_add_timer(d->loop, 0, dash_feed_cb, d);
}

static void
dash_pane_opened(struct wsconn *s, void *arg)
{
	struct pane *p = arg;

	p->live = 1;
	p->d->dirty |= DIRTY_PANES;
	/* A session holds the sprite awake: its row says so. */
	sync_mark_refresh(p->d, p->sprite);
}

static void
dash_pane_ended(struct wsconn *s, int exit_code, const char *why, void *arg)
{
	struct pane *p = arg;

	p->live = 0;
	p->ended = 1;
	free(p->msg);
	if (why != NULL)
		p->msg = xstrdup(why);
	else
		p->msg = xasprintf("the shell exited (status %d)", exit_code);
	p->d->dirty |= DIRTY_PANES;
	sync_mark_refresh(p->d, p->sprite);
}

/* Keys typed into the console, on their way to the shell. */
static void
dash_pane_output(const char *data, size_t len, void *arg)
{
	struct pane *p = arg;

	if (p->conn != NULL && p->live)
		wsconn_send(p->conn, data, len);
}

/* The daemon named the shell: the title shows its id. */
static void
dash_pane_info(struct wsconn *s, void *arg)
{
	struct pane *p = arg;

	p->d->dirty |= DIRTY_PANES;
}

static const struct wsconn_callbacks dash_wsconn_cb = {
	.opened = dash_pane_opened,
	.info = dash_pane_info,
	.data = dash_pane_data,
	.ended = dash_pane_ended,
};

/* The sprite's sessions are in: re-attach to a console shell left running,
 * or start one. */
static void
dash_pane_found(int err, long status, const char *body, size_t len, const char *cause,
    void *arg)
{
	struct pane *p = arg;
	struct dash *d = p->d;
	char *id = NULL;
	int rows, cols, r;

	p->find_req = 0;
	/* With no list (an error, a daemon without sessions) a new shell
	 * says what is wrong, if anything is. */
	if (err == 0 && status >= 200 && status < 300)
		wsconn_find_console(body, len, &id);
	console_size(p->con, &rows, &cols);
	r = wsconn_open(d->loop, d->client->sock, p->sprite, id, rows, cols, &dash_wsconn_cb, p,
	    &p->conn);
	if (r < 0) {
		p->ended = 1;
		p->msg = xasprintf("cannot open a session: %s", strerror(-r));
	} else if (id != NULL) {
		dash_log(d, "%s: re-attached to shell %s", p->sprite, id);
	}
	free(id);
	d->dirty |= DIRTY_PANES;
}

/* Looks for a console shell to re-attach to (dash_pane_found goes on). */
static void
dash_pane_find(struct dash *d, struct pane *p)
{
	char *e, *path;

	e = client_escape(p->sprite);
	path = xasprintf("/v1/sprites/%s/exec", e);
	p->find_req = http_request(d->http, "GET", path, NULL, DASH_READ_TIMEOUT_S, NULL,
	    dash_pane_found, p);
	free(path);
	free(e);
	d->dirty |= DIRTY_PANES;
}

/* The sprite a console waited for is started, or not: looked up by name,
 * since the console may have been closed meanwhile. */
static void
dash_pane_started(struct dash *d, const char *sprite, int err, const char *cause)
{
	int i = dash_pane_index(d, sprite);
	struct pane *p;

	if (i < 0 || !d->panes[i]->starting)
		return;
	p = d->panes[i];
	p->starting = 0;
	d->dirty |= DIRTY_PANES;
	if (err < 0) {
		p->ended = 1;
		free(p->msg);
		p->msg = xasprintf("cannot start %s: %s", p->sprite, cause);
		return;
	}
	dash_pane_find(d, p);
}

/* (Re)opens the pane's shell. A stopped sprite is started first (a
 * sleeping one wakes by itself when a shell is asked of it). */
static void
dash_pane_attach(struct dash *d, struct pane *p)
{
	struct sprite *s = list_find(&d->list, p->sprite);

	wsconn_free(p->conn);
	p->conn = NULL;
	http_cancel(d->http, p->find_req);
	p->find_req = 0;
	p->live = p->ended = 0;
	free(p->msg);
	free(p->note);
	p->msg = p->note = NULL;
	buf_reset(&p->pending);
	p->paused = 0;
	d->dirty |= DIRTY_PANES;
	if (s != NULL && strcmp(s->status, "stopped") == 0) {
		p->starting = 1;
		sync_start(d, p->sprite, dash_pane_started);
		return;
	}
	dash_pane_find(d, p);
}

static void
dash_pane_free(struct pane *p)
{
	if (p == NULL)
		return;
	http_cancel(p->d->http, p->find_req);
	wsconn_free(p->conn);
	console_free(p->con);
	buf_done(&p->pending);
	free(p->sprite);
	free(p->msg);
	free(p->note);
	free(p);
}

static void
dash_focus(struct dash *d, int i)
{
	d->focus = i;
	d->dirty |= DIRTY_PANES | DIRTY_STATUS;
}

static void
dash_open_console(struct dash *d, const char *sprite)
{
	struct pane *p;
	int i = dash_pane_index(d, sprite);

	if (i >= 0) {
		if (d->panes[i]->ended)
			dash_pane_attach(d, d->panes[i]);
		dash_focus(d, i);
		return;
	}
	if (d->npanes == DASH_MAX_PANES) {
		dash_error(d, "%d consoles are open: close one first (x)", DASH_MAX_PANES);
		return;
	}
	p = xcalloc(1, sizeof *p);
	p->d = d;
	p->sprite = xstrdup(sprite);
	buf_init(&p->pending);
	if (console_new(24, 80, DASH_SCROLLBACK, &p->con) < 0) {
		dash_error(d, "cannot make a console");
		dash_pane_free(p);
		return;
	}
	console_set_output(p->con, dash_pane_output, p);
	d->panes[d->npanes++] = p;
	dash_layout(d);	/* sizes the console before the session asks for it */
	dash_pane_attach(d, p);
	dash_focus(d, d->npanes - 1);
	dash_status(d, 0, "console %s: keys go to the shell; C-%c for dashboard keys", sprite,
	    d->prefix + 'a' - 1);
}

static void
dash_pane_remove(struct dash *d, int i)
{
	dash_pane_free(d->panes[i]);
	memmove(&d->panes[i], &d->panes[i + 1], (size_t)(d->npanes - i - 1) * sizeof d->panes[0]);
	d->npanes--;
	if (d->focus >= d->npanes)
		d->focus = -1;
	d->last_focus = -1;
	dash_layout(d);
}

/* Closes console @i; its shell, if it runs, runs on. */
static void
dash_close_console(struct dash *d, int i)
{
	struct pane *p = d->panes[i];

	if (p->live && p->conn != NULL && wsconn_id(p->conn) != NULL)
		dash_log(d, "%s: console detached (shell %s runs on)", p->sprite,
		    wsconn_id(p->conn));
	else
		dash_log(d, "%s: console closed", p->sprite);
	dash_pane_remove(d, i);
}

struct console_kill {
	struct dash	*d;
	char		*what;		/* "dev: shell 3" */
};

static void
dash_kill_done(int err, long status, const char *body, size_t len, const char *cause,
    void *arg)
{
	struct console_kill *k = arg;
	char *why = NULL;
	int code;

	if (err < 0 || status < 200 || status > 299)
		dash_error(k->d, "kill %s: %s", k->what, cause ? cause : "no answer");
	else if (session_kill_result(body, len, &code, &why) < 0)
		dash_error(k->d, "kill %s: %s", k->what, why);
	else if (code >= 0)
		dash_status(k->d, 0, "%s ended (status %d)", k->what, code);
	else
		dash_status(k->d, 0, "%s ended", k->what);
	free(why);
	free(k->what);
	free(k);
}

/* Closes console @i and ends its shell for good. */
static void
dash_kill_console(struct dash *d, int i)
{
	struct pane *p = d->panes[i];
	const char *id = p->conn != NULL ? wsconn_id(p->conn) : NULL;
	struct console_kill *k;
	char *e, *eid, *path;

	if (id == NULL || p->ended) {
		dash_close_console(d, i);
		return;
	}
	k = xcalloc(1, sizeof *k);
	k->d = d;
	k->what = xasprintf("%s: shell %s", p->sprite, id);
	e = client_escape(p->sprite);
	eid = client_escape(id);
	/* A hangup, as when a terminal closes: an interactive shell ignores
	 * SIGTERM. The daemon sends SIGKILL if it outlives that. */
	path = xasprintf("/v1/sprites/%s/exec/%s/kill?signal=HUP&timeout=5s", e, eid);
	dash_log(d, "%s: killing the console's shell %s", p->sprite, id);
	dash_status(d, 0, "killing %s ...", k->what);
	http_request(d->http, "POST", path, NULL, DASH_READ_TIMEOUT_S, NULL, dash_kill_done, k);
	free(path);
	free(eid);
	free(e);
	/* The kill's answer, not this console, says how the shell ended. */
	dash_pane_remove(d, i);
}

/* ---- layout and drawing ---- */

static void
dash_layout(struct dash *d)
{
	int avail, w, i, x;

	getmaxyx(stdscr, d->rows, d->cols);
	d->too_small = d->rows < DASH_MIN_ROWS || d->cols < DASH_MIN_COLS;
	d->dirty |= DIRTY_ALL | DIRTY_CLEAR;
	if (d->too_small)
		return;
	d->log_h = d->npanes > 0 ? 3 : (d->rows >= 40 ? 8 : 5);
	d->log_y = d->rows - 2 - d->log_h;
	d->top_y = 1;
	avail = d->log_y - d->top_y;
	if (d->npanes > 0) {
		d->top_h = avail / 3 < 7 ? 7 : avail / 3;
		d->panes_y = d->top_y + d->top_h;
		d->panes_h = avail - d->top_h;
	} else {
		d->top_h = avail;
		d->panes_h = 0;
	}
	d->list_w = d->cols * 3 / 5;
	/* Side by side, one column apart. */
	for (i = 0, x = 0; i < d->npanes; i++) {
		struct pane *p = d->panes[i];

		w = (d->cols - (d->npanes - 1)) / d->npanes;
		if (i == d->npanes - 1)
			w = d->cols - x;
		p->y = d->panes_y;
		p->x = x;
		p->h = d->panes_h;
		p->w = w;
		x += w + 1;
		console_resize(p->con, p->h - 1, p->w);
		if (p->conn != NULL)
			wsconn_resize(p->conn, p->h - 1, p->w);
	}
}

static void
dash_draw_header(struct dash *d)
{
	int awake, sleeping, stopped, other, x;
	char left[256], right[128];

	list_counts(&d->list, &awake, &sleeping, &stopped, &other);
	snprintf(left, sizeof left, " sprig  %zu sprite%s: %d awake %d sleeping %d stopped%s  %s",
	    d->list.n, d->list.n == 1 ? "" : "s", awake, sleeping, stopped,
	    other ? " +other" : "", d->accel ? d->accel : "");
	snprintf(right, sizeof right, "%s? help  : command  / filter ",
	    d->connected ? "" : "[reconnecting]  ");
	attr_set(A_NORMAL, UI_PAIR_TITLE, NULL);
	ui_fill(0, 0, d->cols, A_REVERSE * !has_colors());
	attr_set(A_NORMAL, UI_PAIR_TITLE, NULL);
	mvhline(0, 0, ' ', d->cols);
	ui_text(0, 0, d->cols, left, A_BOLD | (has_colors() ? 0 : A_REVERSE),
	    has_colors() ? UI_PAIR_TITLE : 0);
	x = d->cols - ui_width(right);
	if (x > ui_width(left))
		ui_text(0, x, d->cols - x, right, has_colors() ? 0 : A_REVERSE,
		    d->connected ? (has_colors() ? UI_PAIR_TITLE : 0) : UI_PAIR_ERROR);
}

static void
dash_draw_log(struct dash *d)
{
	int i, row, first;

	attr_set(A_NORMAL, 0, NULL);
	mvhline(d->log_y, 0, ACS_HLINE, d->cols);
	ui_text(d->log_y, 2, d->cols - 2, " events ", A_BOLD, 0);
	first = d->log_n - (d->log_h - 1);
	if (first < 0)
		first = 0;
	for (row = 0; row < d->log_h - 1; row++) {
		ui_fill(d->log_y + 1 + row, 0, d->cols, 0);
		i = first + row;
		if (i >= d->log_n)
			continue;
		i = (d->log_head - d->log_n + i + DASH_LOG_MAX) % DASH_LOG_MAX;
		ui_text(d->log_y + 1 + row, 1, d->cols - 1, d->log[i],
		    strstr(d->log[i], " error") != NULL ? 0 : A_DIM,
		    strstr(d->log[i], " error") != NULL ? UI_PAIR_ERROR : 0);
	}
}

static const char *
dash_prompt_hint(struct dash *d)
{
	switch (d->prompt) {
	case PROMPT_DESTROY:
	case PROMPT_DELETE:
		return " (y/n)";
	default:
		return "";
	}
}

static void
dash_draw_status(struct dash *d)
{
	int y = d->rows - 2, x;
	char buf[1024];
	const char *keys;

	ui_fill(y, 0, d->cols, 0);
	if (d->prompt != PROMPT_NONE) {
		snprintf(buf, sizeof buf, "%s%s ", d->prompt_label, dash_prompt_hint(d));
		x = ui_text(y, 0, d->cols, buf, A_BOLD, 0);
		wcstombs(buf, d->input, sizeof buf);
		buf[sizeof buf - 1] = '\0';
		ui_text(y, x, d->cols - x, buf, 0, 0);
	} else if (d->status != NULL) {
		ui_text(y, 1, d->cols - 1, d->status, d->status_err ? A_BOLD : 0,
		    d->status_err ? UI_PAIR_ERROR : 0);
	}
	if (d->focus >= 0)
		keys = " console: keys go to the shell   C-b dashboard keys   "
		    "S-PgUp/PgDn scroll back";
	else
		keys = " enter console  c checkpoint  M with memory  r restore  f fork  t template  d delete  "
		    "s sleep  w wake  S stop/start  D destroy  n new  tab timeline  q quit";
	ui_fill(d->rows - 1, 0, d->cols, A_REVERSE * !has_colors());
	ui_text(d->rows - 1, 0, d->cols, keys, has_colors() ? 0 : A_REVERSE,
	    has_colors() ? UI_PAIR_TITLE : 0);
	if (has_colors()) {
		attr_set(A_NORMAL, UI_PAIR_TITLE, NULL);
		x = ui_width(keys);
		if (x < d->cols)
			mvhline(d->rows - 1, x, ' ', d->cols - x);
		attr_set(A_NORMAL, 0, NULL);
	}
}

static void
dash_draw_pane_frame(struct dash *d, int i)
{
	struct pane *p = d->panes[i];
	char title[256], footer[512];
	int pair = i == d->focus ? UI_PAIR_FOCUS : UI_PAIR_TITLE;
	struct sprite *s = list_find(&d->list, p->sprite);
	const char *state = p->ended ? "ended" : p->live ? "" : p->starting ? "starting..." :
	    s != NULL && strcmp(s->status, "sleeping") == 0 ? "waking..." : "connecting...";
	const char *id = p->conn != NULL ? wsconn_id(p->conn) : NULL;

	snprintf(title, sizeof title, " [%d] %s console%s%s%s%s%s%s", i + 1, p->sprite,
	    id ? "  shell " : "", id ? id : "", *state ? "  " : "", state,
	    *console_title(p->con) ? "  - " : "", console_title(p->con));
	attr_set(has_colors() ? A_NORMAL : (i == d->focus ? A_REVERSE : A_UNDERLINE), 0, NULL);
	if (has_colors())
		attr_set(A_NORMAL, (short)pair, NULL);
	mvhline(p->y, p->x, ' ', p->w);
	ui_text(p->y, p->x, p->w, title, i == d->focus ? A_BOLD : 0, has_colors() ? pair : 0);
	if (i + 1 < d->npanes) {
		attr_set(A_NORMAL, 0, NULL);
		mvvline(p->y, p->x + p->w, ACS_VLINE, p->h);
	}
	if (p->ended || p->note != NULL) {
		/* What happened, then what to do, on the pane's last two rows.
		 * What happened to the sprite says more than how the session
		 * ended, which is then only its consequence. */
		snprintf(footer, sizeof footer, " %s ", p->note ? p->note : p->msg ? p->msg : "");
		ui_fill(p->y + p->h - (p->ended ? 2 : 1), p->x, p->w, A_REVERSE);
		ui_text(p->y + p->h - (p->ended ? 2 : 1), p->x, p->w, footer, A_REVERSE | A_BOLD, 0);
		if (p->ended) {
			/* The keys first: a narrow pane cuts the end. */
			snprintf(footer, sizeof footer, " enter: re-attach%s  x: close%s",
			    s != NULL && strcmp(s->status, "stopped") == 0 ? " (starts it)" :
			    s != NULL && strcmp(s->status, "sleeping") == 0 ? " (wakes it)" : "",
			    i == d->focus ? "" : "  (select it first: its number)");
			ui_fill(p->y + p->h - 1, p->x, p->w, A_REVERSE);
			ui_text(p->y + p->h - 1, p->x, p->w, footer, A_REVERSE, 0);
		}
	}
}

/*
 * The help screen: every key, then the ':' commands, in two columns that
 * fit the smallest screen (80x24: a title and 2 x 23 rows). A line with an
 * empty key is a section's title.
 */
static const char *const dash_help_keys[][2] = {
	{ "", "keys" },
	{ "j k up dn", "select sprite or checkpoint" },
	{ "PgUp PgDn", "a page up, down" },
	{ "tab", "list <-> timeline" },
	{ "enter", "console: open, go to it" },
	{ "1-4", "go to console 1-4" },
	{ "x", "close console (shell runs)" },
	{ "K", "close console, end shell" },
	{ "c", "checkpoint (asks comment)" },
	{ "M", "checkpoint with memory" },
	{ "r", "restore to the checkpoint" },
	{ "f", "fork checkpoint (names)" },
	{ "t", "checkpoint to template" },
	{ "d", "delete checkpoint (asks)" },
	{ "s w", "sleep, wake" },
	{ "S", "stop, or start if stopped" },
	{ "D", "destroy sprite (asks)" },
	{ "n", "new: NAME [IMAGE|-t TMPL]" },
	{ "/", "filter the list by name" },
	{ ":", "a command (below)" },
	{ "?", "this help" },
	{ "C-l", "redraw, re-read all" },
	{ "mouse", "click sprite, node, console" },
	{ "q", "quit (shells run on)" },
	{ "", "in a console" },
	{ "C-b", "back to these keys" },
	{ "C-b C-b", "send C-b (SPRIG_PREFIX)" },
	{ "S-PgUp/Dn", "scroll back" },
	{ "enter x", "ended: re-attach, close" },
	{ "", "in a prompt" },
	{ "esc C-u", "cancel; clear the line" },
};

static void
dash_draw_help(struct dash *d)
{
	int nkeys = (int)(sizeof dash_help_keys / sizeof dash_help_keys[0]);
	int rows = d->rows - 1, colw = d->cols / 2, n = 0, y, x;
	char line[256];

	erase();
	ui_text(0, 1, d->cols - 1, "sprig dashboard: keys and commands   (any key closes this)",
	    A_BOLD, 0);
	/* The keys, then the commands, top to bottom, left column first. */
	for (int i = 0; i < nkeys; i++, n++) {
		y = 1 + n % rows;
		x = n / rows * colw;
		if (x >= d->cols)
			break;
		if (*dash_help_keys[i][0] == '\0') {
			ui_text(y, x + 1, colw - 1, dash_help_keys[i][1], A_BOLD, 0);
			continue;
		}
		snprintf(line, sizeof line, "  %-10s %s", dash_help_keys[i][0],
		    dash_help_keys[i][1]);
		ui_text(y, x, colw, line, 0, 0);
	}
	for (int i = -1; i < 0 || cmd_help_lines[i][0] != NULL; i++, n++) {
		y = 1 + n % rows;
		x = n / rows * colw;
		if (x >= d->cols)
			break;
		if (i < 0) {
			ui_text(y, x + 1, colw - 1, "commands", A_BOLD, 0);
			continue;
		}
		/* What each does, where there is room for it. */
		if (colw >= 70)
			snprintf(line, sizeof line, "  %-33s %s", cmd_help_lines[i][0],
			    cmd_help_lines[i][1]);
		else
			snprintf(line, sizeof line, "  %s", cmd_help_lines[i][0]);
		ui_text(y, x, colw, line, 0, 0);
	}
}

/* A frame's time has passed: the hook after this turn draws. */
static void
dash_frame_cb(struct loop *l, uint64_t id, void *arg)
{
	struct dash *d = arg;

	d->frame_timer = 0;
}

static void
dash_draw(struct loop *l, void *arg)
{
	struct dash *d = arg;
	int cy = 0, cx = 0, cursor = 0, lo, hi, moved, sel_focus;
	char msg[128];

	if (d->quit)
		return;
	/* Sprites named by events this turn, once each. */
	if (d->refresh_all) {
		d->refresh_all = 0;
		sync_list_fetch(d);
	}
	for (size_t i = 0; i < d->nrefresh; i++) {
		struct sprite *sel = list_selected(&d->list);

		sync_sprite_fetch(d, d->refresh[i]);
		if (sel != NULL && strcmp(sel->name, d->refresh[i]) == 0)
			sync_tree_fetch(d);
		free(d->refresh[i]);
	}
	d->nrefresh = 0;
	if (d->countdown_timer == 0 && list_has_countdown(&d->list))
		d->countdown_timer = loop_add_timer(d->loop, 1000, dash_countdown_cb, d);

	if (d->help) {
		if (d->dirty) {
			dash_draw_help(d);
			curs_set(0);
			refresh();
		}
		d->dirty = 0;
		return;
	}
	/* Console output alone redraws at most once a frame: a flood then
	 * costs one drawing per frame, not one per message. */
	if (!d->too_small && d->dirty == 0 && d->last_frame_us != 0) {
		uint64_t now = loop_now_us();
		int damaged = 0;

		for (int i = 0; i < d->npanes; i++)
			damaged |= console_damaged(d->panes[i]->con);
		if (!damaged)
			return;
		if (now - d->last_frame_us < DASH_FRAME_US) {
			if (d->frame_timer == 0)
				d->frame_timer = loop_add_timer(d->loop,
				    (DASH_FRAME_US - (now - d->last_frame_us)) / 1000 + 1,
				    dash_frame_cb, d);
			return;
		}
	}
	if (d->too_small) {
		if (d->dirty) {
			erase();
			snprintf(msg, sizeof msg, "terminal too small: %dx%d, sprig needs %dx%d",
			    d->cols, d->rows, DASH_MIN_COLS, DASH_MIN_ROWS);
			ui_text(d->rows / 2, 0, d->cols, msg, A_BOLD, 0);
			curs_set(0);
			refresh();
		}
		d->dirty = 0;
		return;
	}
	if (d->dirty & DIRTY_CLEAR)
		erase();
	if (d->dirty & DIRTY_HEADER)
		dash_draw_header(d);
	sel_focus = d->focus < 0;
	if (d->dirty & DIRTY_LIST)
		list_draw(&d->list, d->top_y, 0, d->top_h, d->list_w, sel_focus && !d->tree_focus,
		    loop_now_ms());
	if (d->dirty & (DIRTY_TREE | DIRTY_LIST)) {
		attr_set(A_NORMAL, 0, NULL);
		mvvline(d->top_y, d->list_w, ACS_VLINE, d->top_h);
		tree_draw(&d->tree, d->top_y, d->list_w + 1, d->top_h, d->cols - d->list_w - 1,
		    sel_focus && d->tree_focus);
	}
	for (int i = 0; i < d->npanes; i++) {
		struct pane *p = d->panes[i];

		if (console_take_damage(p->con, &lo, &hi, &moved) || (d->dirty & DIRTY_PANES))
			pane_draw_rows(p->con, p->y + 1, p->x, p->h - 1, p->w,
			    (d->dirty & DIRTY_PANES) ? 0 : lo, (d->dirty & DIRTY_PANES) ? p->h : hi);
		if ((d->dirty & DIRTY_PANES) || p->ended || p->note)
			dash_draw_pane_frame(d, i);
		if (i == d->focus && !p->ended)
			cursor = pane_cursor(p->con, p->y + 1, p->x, p->h - 1, p->w, &cy, &cx);
	}
	if (d->dirty & DIRTY_LOG)
		dash_draw_log(d);
	if (d->dirty & (DIRTY_STATUS | DIRTY_PANES))
		dash_draw_status(d);
	if (d->prompt != PROMPT_NONE) {
		cursor = 1;
		cy = d->rows - 2;
		cx = ui_width(d->prompt_label) + ui_width(dash_prompt_hint(d)) + 1 +
		    wcswidth(d->input, (size_t)d->input_len);
		if (cx >= d->cols)
			cx = d->cols - 1;
	}
	curs_set(cursor);
	if (cursor)
		move(cy, cx);
	refresh();
	d->dirty = 0;
	d->last_frame_us = loop_now_us();
	if (d->first_frame_us == 0)
		d->first_frame_us = d->last_frame_us;
}

/* Counts down "sleeps in" once a second while one is shown. */
static void
dash_countdown_cb(struct loop *l, uint64_t id, void *arg)
{
	struct dash *d = arg;

	d->countdown_timer = 0;
	d->dirty |= DIRTY_LIST;
	if (list_has_countdown(&d->list))
		d->countdown_timer = loop_add_timer(l, 1000, dash_countdown_cb, d);
}

/* ---- prompts and commands ---- */

static void
dash_prompt(struct dash *d, enum prompt_kind kind, const char *label, const char *sprite,
    const char *ckpt, const char *initial)
{
	d->prompt = kind;
	free(d->prompt_label);
	d->prompt_label = xstrdup(label);
	free(d->ctx_sprite);
	free(d->ctx_ckpt);
	d->ctx_sprite = sprite ? xstrdup(sprite) : NULL;
	d->ctx_ckpt = ckpt ? xstrdup(ckpt) : NULL;
	d->input_len = initial ? (int)mbstowcs(d->input, initial, 255) : 0;
	if (d->input_len < 0)
		d->input_len = 0;
	d->input[d->input_len] = L'\0';
	d->dirty |= DIRTY_STATUS;
}

static void
dash_run_cmd(struct dash *d, const char *text)
{
	struct sprite *sel = list_selected(&d->list);
	struct cmd_line c;
	char *cause = NULL;

	if (cmd_parse(text, sel ? sel->name : NULL, &c, &cause) < 0) {
		dash_error(d, ":%s: %s", text, cause);
		free(cause);
		return;
	}
	switch (c.verb) {
	case CMD_FORK:
		sync_fork(d, c.sprite, c.ckpt, c.names, c.nnames);
		break;
	case CMD_SLEEP:
		sync_state_action(d, c.sprite, "sleep");
		break;
	case CMD_WAKE:
		sync_state_action(d, c.sprite, "wake");
		break;
	case CMD_START:
		sync_state_action(d, c.sprite, "start");
		break;
	case CMD_STOP:
		sync_state_action(d, c.sprite, "stop");
		break;
	case CMD_DESTROY:
		sync_destroy(d, c.sprite);
		break;
	case CMD_CHECKPOINT:
		sync_checkpoint(d, c.sprite, c.text, c.memory);
		break;
	case CMD_RESTORE:
		sync_restore(d, c.sprite, c.ckpt);
		break;
	case CMD_DELETE:
		sync_delete_ckpt(d, c.sprite, c.ckpt);
		break;
	case CMD_TEMPLATE:
		sync_template(d, c.names[0], c.sprite, c.ckpt);
		break;
	case CMD_CREATE:
		sync_create(d, c.sprite, c.text, c.tmpl);
		break;
	case CMD_CONSOLE:
		dash_open_console(d, c.sprite);
		break;
	case CMD_FILTER:
		list_set_filter(&d->list, c.text);
		d->dirty |= DIRTY_LIST;
		break;
	case CMD_HELP:
		d->help = 1;
		d->dirty |= DIRTY_ALL;
		break;
	case CMD_QUIT:
		d->quit = 1;
		loop_stop(d->loop);
		break;
	default:
		break;
	}
	cmd_line_done(&c);
}

static void
dash_prompt_done(struct dash *d, int accepted)
{
	enum prompt_kind kind = d->prompt;
	char text[1024], *line;
	struct cmd_line c;
	char *cause = NULL;

	d->prompt = PROMPT_NONE;
	d->dirty |= DIRTY_STATUS;
	if (wcstombs(text, d->input, sizeof text) == (size_t)-1)
		text[0] = '\0';
	text[sizeof text - 1] = '\0';
	if (!accepted) {
		if (kind == PROMPT_FILTER) {
			list_set_filter(&d->list, NULL);
			d->dirty |= DIRTY_LIST;
		}
		dash_status(d, 0, "cancelled");
		return;
	}
	switch (kind) {
	case PROMPT_COMMAND:
		dash_run_cmd(d, text);
		break;
	case PROMPT_FILTER:
		list_set_filter(&d->list, text);
		d->dirty |= DIRTY_LIST;
		break;
	case PROMPT_COMMENT:
	case PROMPT_MEM_COMMENT:
		sync_checkpoint(d, d->ctx_sprite, text, kind == PROMPT_MEM_COMMENT);
		break;
	case PROMPT_FORK:
		line = xasprintf("fork %s@%s %s", d->ctx_sprite, d->ctx_ckpt, text);
		if (cmd_parse(line, NULL, &c, &cause) < 0) {
			dash_error(d, "fork: %s", cause);
			free(cause);
		} else {
			sync_fork(d, c.sprite, c.ckpt, c.names, c.nnames);
			cmd_line_done(&c);
		}
		free(line);
		break;
	case PROMPT_TEMPLATE:
		line = xasprintf("template %s %s@%s", text, d->ctx_sprite, d->ctx_ckpt);
		if (cmd_parse(line, NULL, &c, &cause) < 0) {
			dash_error(d, "template: %s", cause);
			free(cause);
		} else {
			sync_template(d, c.names[0], c.sprite, c.ckpt);
			cmd_line_done(&c);
		}
		free(line);
		break;
	case PROMPT_CREATE:
		line = xasprintf("create %s", text);
		if (cmd_parse(line, NULL, &c, &cause) < 0) {
			dash_error(d, "%s", cause);
			free(cause);
		} else {
			sync_create(d, c.sprite, c.text, c.tmpl);
			cmd_line_done(&c);
		}
		free(line);
		break;
	default:
		break;
	}
}

static void
dash_prompt_key(struct dash *d, int is_key, wint_t ch)
{
	if (d->prompt == PROMPT_DESTROY || d->prompt == PROMPT_DELETE) {
		enum prompt_kind kind = d->prompt;

		d->prompt = PROMPT_NONE;
		d->dirty |= DIRTY_STATUS;
		if (is_key || (ch != L'y' && ch != L'Y')) {
			dash_status(d, 0, "cancelled");
			return;
		}
		if (kind == PROMPT_DESTROY)
			sync_destroy(d, d->ctx_sprite);
		else
			sync_delete_ckpt(d, d->ctx_sprite, d->ctx_ckpt);
		return;
	}
	if ((!is_key && (ch == L'\r' || ch == L'\n')) || (is_key && ch == KEY_ENTER)) {
		dash_prompt_done(d, 1);
		return;
	}
	if (!is_key && (ch == 27 || ch == 3 || ch == 7)) {	/* escape, C-c, C-g */
		dash_prompt_done(d, 0);
		return;
	}
	if ((is_key && ch == KEY_BACKSPACE) || (!is_key && (ch == 127 || ch == 8))) {
		if (d->input_len > 0)
			d->input[--d->input_len] = L'\0';
		else if (d->prompt != PROMPT_FILTER) {
			dash_prompt_done(d, 0);
			return;
		}
	} else if (!is_key && ch == 21) {	/* C-u */
		d->input_len = 0;
		d->input[0] = L'\0';
	} else if (!is_key && ch >= L' ' && d->input_len < 254) {
		d->input[d->input_len++] = (wchar_t)ch;
		d->input[d->input_len] = L'\0';
	}
	/* The filter applies as it is typed. */
	if (d->prompt == PROMPT_FILTER) {
		char text[1024];

		if (wcstombs(text, d->input, sizeof text) != (size_t)-1) {
			text[sizeof text - 1] = '\0';
			list_set_filter(&d->list, text);
			d->dirty |= DIRTY_LIST;
		}
	}
	d->dirty |= DIRTY_STATUS;
}

/* ---- keys ---- */

static void
dash_selection_changed(struct dash *d)
{
	d->dirty |= DIRTY_LIST;
	sync_tree_fetch(d);
}

/* The selected checkpoint, with a message when there is none. */
static const char *
dash_need_ckpt(struct dash *d)
{
	const char *id = tree_selected(&d->tree);

	if (id == NULL || d->tree.sprite == NULL)
		dash_error(d, "no checkpoint selected (tab moves to the timeline)");
	return id;
}

static void
dash_key(struct dash *d, int is_key, wint_t ch)
{
	struct sprite *sel = list_selected(&d->list);
	const char *ckpt;
	char label[256];
	int i;

	if (is_key && ch == KEY_UP)
		ch = 'k', is_key = 0;
	else if (is_key && ch == KEY_DOWN)
		ch = 'j', is_key = 0;
	if (is_key) {
		switch (ch) {
		case KEY_ENTER:
			if (sel != NULL)
				dash_open_console(d, sel->name);
			break;
		case KEY_NPAGE:
		case KEY_PPAGE:
			i = (ch == KEY_NPAGE ? 1 : -1) * (d->top_h - 2);
			if (d->tree_focus ? tree_move(&d->tree, i) : list_move(&d->list, i)) {
				if (d->tree_focus)
					d->dirty |= DIRTY_TREE;
				else
					dash_selection_changed(d);
			}
			break;
		}
		return;
	}
	switch (ch) {
	case 'q':
		d->quit = 1;
		loop_stop(d->loop);
		break;
	case '?':
		d->help = 1;
		d->dirty |= DIRTY_ALL;
		break;
	case ':':
		dash_prompt(d, PROMPT_COMMAND, ":", NULL, NULL, NULL);
		break;
	case '/':
		dash_prompt(d, PROMPT_FILTER, "/", NULL, NULL, d->list.filter);
		break;
	case 'j':
	case 'k':
		if (d->tree_focus) {
			if (tree_move(&d->tree, ch == 'j' ? 1 : -1))
				d->dirty |= DIRTY_TREE;
		} else if (list_move(&d->list, ch == 'j' ? 1 : -1)) {
			dash_selection_changed(d);
		}
		break;
	case '\t':
		d->tree_focus = !d->tree_focus;
		d->dirty |= DIRTY_LIST | DIRTY_TREE;
		break;
	case '\r':
	case '\n':
		if (sel != NULL)
			dash_open_console(d, sel->name);
		break;
	case '1': case '2': case '3': case '4':
		if ((int)(ch - '1') < d->npanes)
			dash_focus(d, (int)(ch - '1'));
		break;
	case 'x':
		i = sel ? dash_pane_index(d, sel->name) : -1;
		if (i < 0 && d->last_focus >= 0 && d->last_focus < d->npanes)
			i = d->last_focus;
		if (i >= 0)
			dash_close_console(d, i);
		else
			dash_error(d, "no console to close");
		break;
	case 'K':
		i = sel ? dash_pane_index(d, sel->name) : -1;
		if (i < 0 && d->last_focus >= 0 && d->last_focus < d->npanes)
			i = d->last_focus;
		if (i >= 0)
			dash_kill_console(d, i);
		else
			dash_error(d, "no console to kill (K kills an open console's shell)");
		break;
	case 12:	/* C-l */
		clearok(curscr, TRUE);
		d->dirty |= DIRTY_ALL;
		if (d->connected)
			sync_list_fetch(d);
		sync_tree_fetch(d);
		break;
	case 'n':
		dash_prompt(d, PROMPT_CREATE, "create NAME [IMAGE | -t TEMPLATE]:", NULL, NULL, NULL);
		break;
	}
	if (sel == NULL) {
		if (strchr("cMsSwDrftd", (int)ch) != NULL && ch != 0)
			dash_error(d, "no sprite selected");
		return;
	}
	switch (ch) {
	case 'c':
		snprintf(label, sizeof label, "checkpoint %s, comment:", sel->name);
		dash_prompt(d, PROMPT_COMMENT, label, sel->name, NULL, NULL);
		break;
	case 'M':
		/* The daemon says why when it cannot (a sprite not awake). */
		snprintf(label, sizeof label, "checkpoint %s with memory, comment:", sel->name);
		dash_prompt(d, PROMPT_MEM_COMMENT, label, sel->name, NULL, NULL);
		break;
	case 's':
		sync_state_action(d, sel->name, "sleep");
		break;
	case 'w':
		sync_state_action(d, sel->name, "wake");
		break;
	case 'S':
		sync_state_action(d, sel->name, strcmp(sel->status, "stopped") == 0 ? "start" :
		    "stop");
		break;
	case 'D':
		snprintf(label, sizeof label, "destroy %s and all its checkpoints?", sel->name);
		dash_prompt(d, PROMPT_DESTROY, label, sel->name, NULL, NULL);
		break;
	case 'r':
		if ((ckpt = dash_need_ckpt(d)) != NULL)
			sync_restore(d, d->tree.sprite, ckpt);
		break;
	case 'f':
		if ((ckpt = dash_need_ckpt(d)) != NULL) {
			snprintf(label, sizeof label, "fork %s@%s as (names):", d->tree.sprite, ckpt);
			dash_prompt(d, PROMPT_FORK, label, d->tree.sprite, ckpt, NULL);
		}
		break;
	case 't':
		if ((ckpt = dash_need_ckpt(d)) != NULL) {
			snprintf(label, sizeof label, "save %s@%s as template:", d->tree.sprite, ckpt);
			dash_prompt(d, PROMPT_TEMPLATE, label, d->tree.sprite, ckpt, NULL);
		}
		break;
	case 'd':
		if ((ckpt = dash_need_ckpt(d)) != NULL) {
			snprintf(label, sizeof label, "delete checkpoint %s@%s?", d->tree.sprite, ckpt);
			dash_prompt(d, PROMPT_DELETE, label, d->tree.sprite, ckpt, NULL);
		}
		break;
	}
}

/* A key for the focused console. */
static void
dash_console_key(struct dash *d, struct pane *p, int is_key, wint_t ch)
{
	static const struct {
		int			 curses;
		enum console_key	 key;
		int			 mods;
	} keys[] = {
		{ KEY_UP, CONSOLE_KEY_UP, 0 }, { KEY_DOWN, CONSOLE_KEY_DOWN, 0 },
		{ KEY_LEFT, CONSOLE_KEY_LEFT, 0 }, { KEY_RIGHT, CONSOLE_KEY_RIGHT, 0 },
		{ KEY_HOME, CONSOLE_KEY_HOME, 0 }, { KEY_END, CONSOLE_KEY_END, 0 },
		{ KEY_PPAGE, CONSOLE_KEY_PAGEUP, 0 }, { KEY_NPAGE, CONSOLE_KEY_PAGEDOWN, 0 },
		{ KEY_IC, CONSOLE_KEY_INS, 0 }, { KEY_DC, CONSOLE_KEY_DEL, 0 },
		{ KEY_BACKSPACE, CONSOLE_KEY_BACKSPACE, 0 }, { KEY_ENTER, CONSOLE_KEY_ENTER, 0 },
		{ KEY_BTAB, CONSOLE_KEY_TAB, CONSOLE_MOD_SHIFT },
		{ KEY_SLEFT, CONSOLE_KEY_LEFT, CONSOLE_MOD_SHIFT },
		{ KEY_SRIGHT, CONSOLE_KEY_RIGHT, CONSOLE_MOD_SHIFT },
		{ KEY_SR, CONSOLE_KEY_UP, CONSOLE_MOD_SHIFT },
		{ KEY_SF, CONSOLE_KEY_DOWN, CONSOLE_MOD_SHIFT },
	};
	char b;

	if (p->ended) {
		if ((!is_key && (ch == '\r' || ch == '\n')) || (is_key && ch == KEY_ENTER))
			dash_pane_attach(d, p);
		else if (!is_key && ch == 'x')
			dash_close_console(d, d->focus);
		return;
	}
	if (is_key && (ch == KEY_SPREVIOUS || ch == KEY_SNEXT)) {
		int rows, cols;

		console_size(p->con, &rows, &cols);
		console_scroll(p->con, (ch == KEY_SPREVIOUS ? 1 : -1) * (rows / 2));
		return;
	}
	if (console_scroll_offset(p->con) != 0)
		console_scroll(p->con, -console_scroll_offset(p->con));
	if (is_key) {
		if (ch >= KEY_F(1) && ch <= KEY_F(12)) {
			console_key(p->con, (enum console_key)(CONSOLE_KEY_F1 + (int)(ch - KEY_F(1))), 0);
			return;
		}
		for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
			if ((wint_t)keys[i].curses == ch) {
				console_key(p->con, keys[i].key, keys[i].mods);
				return;
			}
		}
		return;
	}
	switch (ch) {
	case '\r':
		console_key(p->con, CONSOLE_KEY_ENTER, 0);
		return;
	case '\t':
		console_key(p->con, CONSOLE_KEY_TAB, 0);
		return;
	case 27:
		console_key(p->con, CONSOLE_KEY_ESCAPE, 0);
		return;
	case 127:
		console_key(p->con, CONSOLE_KEY_BACKSPACE, 0);
		return;
	}
	if (ch < 0x20) {
		/* Control characters go as they are (C-c, C-d, C-z ...). */
		b = (char)ch;
		dash_pane_output(&b, 1, p);
		return;
	}
	console_char(p->con, (uint32_t)ch, 0);
}

static void
dash_mouse(struct dash *d)
{
	MEVENT ev;
	int i;

	if (getmouse(&ev) != OK || !(ev.bstate & (BUTTON1_PRESSED | BUTTON1_CLICKED)))
		return;
	if (d->too_small || d->help)
		return;
	for (i = 0; i < d->npanes; i++) {
		struct pane *p = d->panes[i];

		if (ev.y >= p->y && ev.y < p->y + p->h && ev.x >= p->x && ev.x < p->x + p->w) {
			dash_focus(d, i);
			return;
		}
	}
	if (ev.y > d->top_y && ev.y < d->top_y + d->top_h) {
		if (d->focus >= 0) {
			d->last_focus = d->focus;
			dash_focus(d, -1);
		}
		if (ev.x < d->list_w) {
			d->tree_focus = 0;
			if (list_click(&d->list, ev.y - d->top_y - 1))
				dash_selection_changed(d);
		} else {
			d->tree_focus = 1;
			tree_click(&d->tree, ev.y - d->top_y - 2);
		}
		d->dirty |= DIRTY_LIST | DIRTY_TREE;
	}
}

static void
dash_input(struct dash *d, int is_key, wint_t ch)
{
	struct pane *p;

	if (is_key && ch == KEY_MOUSE) {
		dash_mouse(d);
		return;
	}
	if (is_key && ch == KEY_RESIZE) {
		dash_layout(d);
		return;
	}
	if (d->help) {
		d->help = 0;
		d->dirty |= DIRTY_ALL | DIRTY_CLEAR;
		return;
	}
	if (d->prompt != PROMPT_NONE) {
		dash_prompt_key(d, is_key, ch);
		return;
	}
	if (d->focus >= 0) {
		p = d->panes[d->focus];
		if (!is_key && (int)ch == d->prefix) {
			d->last_focus = d->focus;
			dash_focus(d, -1);
			dash_status(d, 0, "dashboard keys (enter or 1-4: back to a console)");
			return;
		}
		dash_console_key(d, p, is_key, ch);
		return;
	}
	/* The prefix twice sends it to the console it left. */
	if (!is_key && (int)ch == d->prefix && d->last_focus >= 0 && d->last_focus < d->npanes) {
		char b = (char)d->prefix;

		dash_focus(d, d->last_focus);
		dash_pane_output(&b, 1, d->panes[d->focus]);
		return;
	}
	if (d->too_small && !(!is_key && ch == 'q'))
		return;
	dash_key(d, is_key, ch);
	if (d->countdown_timer == 0 && list_has_countdown(&d->list))
		d->countdown_timer = loop_add_timer(d->loop, 1000, dash_countdown_cb, d);
}

static void
dash_stdin_cb(struct loop *l, int fd, int events, void *arg)
{
	struct dash *d = arg;
	wint_t ch;
	int r, n = 0;

	/* What has arrived, up to a bound: a paste of megabytes is read over
	 * several turns, with drawing between. */
	while (n++ < 4096 && !d->quit && (r = get_wch(&ch)) != ERR)
		dash_input(d, r == KEY_CODE_YES, ch);
	if (events & LOOP_HUP) {
		d->quit = 1;
		loop_stop(l);
	}
	if (d->countdown_timer == 0 && list_has_countdown(&d->list))
		d->countdown_timer = loop_add_timer(d->loop, 1000, dash_countdown_cb, d);
}

static void
dash_signal_cb(struct loop *l, int fd, int events, void *arg)
{
	struct dash *d = arg;
	struct signalfd_siginfo si;
	struct winsize ws;

	while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGWINCH) {
			if (ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0)
				resizeterm(ws.ws_row, ws.ws_col);
			dash_layout(d);
		} else if (si.ssi_signo == SIGCONT) {
			clearok(curscr, TRUE);
			d->dirty |= DIRTY_ALL;
		} else {
			d->quit = 1;
			loop_stop(l);
		}
	}
}

/* SPRIG_PREFIX: "C-a", "^a" or one character. */
static int
dash_prefix(void)
{
	const char *p = getenv("SPRIG_PREFIX");

	if (p == NULL || *p == '\0')
		return 2;	/* C-b */
	if ((p[0] == 'C' || p[0] == 'c') && p[1] == '-' && p[2] != '\0' && p[3] == '\0')
		return p[2] & 0x1f;
	if (p[0] == '^' && p[1] != '\0' && p[2] == '\0')
		return p[1] & 0x1f;
	return (unsigned char)p[0];
}

int
dashboard_main(struct client *c)
{
	struct dash d = { .client = c, .sigfd = -1, .focus = -1, .last_focus = -1 };
	char *cause = NULL;
	cJSON *list = NULL;
	sigset_t mask, old;
	uint64_t drain_end;
	int r, status = 0, list_err;

	if (!isatty(0) || !isatty(1))
		return -ENOTTY;
	d.start_us = loop_now_us();
	setlocale(LC_ALL, "");
	d.prefix = dash_prefix();
	list_init(&d.list);
	tree_init(&d.tree);

	/* The first answer before the screen is taken: this may start the
	 * daemon, which says what it does on stderr. */
	list_err = client_request(c, "GET", "/v1/sprites", NULL, DASH_READ_TIMEOUT_S, &list,
	    &cause);
	/* From now on a daemon that goes away is waited for, not restarted. */
	c->autostart = 0;

	r = loop_new(&d.loop);
	if (r == 0)
		r = http_new(d.loop, c->sock, &d.http);
	if (r < 0) {
		fprintf(stderr, "sprig: cannot start the dashboard: %s\n", strerror(-r));
		status = 1;
		goto out;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGWINCH);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGQUIT);
	sigaddset(&mask, SIGCONT);
	sigprocmask(SIG_BLOCK, &mask, &old);
	d.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (d.sigfd >= 0)
		loop_add_fd(d.loop, d.sigfd, LOOP_READ, dash_signal_cb, &d);

	set_escdelay(25);
	if (initscr() == NULL) {
		fprintf(stderr, "sprig: cannot start the dashboard on this terminal\n");
		status = 1;
		goto out;
	}
	raw();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	mousemask(BUTTON1_PRESSED | BUTTON1_CLICKED, NULL);
	mouseinterval(0);
	ui_init_colors();
	loop_add_fd(d.loop, 0, LOOP_READ, dash_stdin_cb, &d);
	loop_set_before_sleep(d.loop, dash_draw, &d);

	if (list_err == 0) {
		d.connected = 1;
		list_set_all(&d.list, cJSON_GetObjectItemCaseSensitive(list, "sprites"),
		    loop_now_ms());
		/* The sprites, then their events: a dashboard opened in the
		 * middle of a change misses nothing. */
		http_request(d.http, "GET", "/v1/events", NULL, DASH_READ_TIMEOUT_S, NULL,
		    sync_history_done, &d);
		http_request(d.http, "GET", "/v1/daemon", NULL, DASH_READ_TIMEOUT_S, NULL,
		    sync_daemon_done, &d);
		sync_tree_fetch(&d);
		dash_status(&d, 0, "%zu sprite%s; ? for help", d.list.n, d.list.n == 1 ? "" : "s");
	} else {
		d.connected = 1;	/* so that sync_lost says it */
		sync_lost(&d, cause ? cause : "no answer");
	}
	dash_layout(&d);
	if (list_has_countdown(&d.list))
		d.countdown_timer = loop_add_timer(d.loop, 1000, dash_countdown_cb, &d);

	r = loop_run(d.loop);
	if (r < 0 && !d.quit)
		status = 1;
	endwin();
	/* For bench/run.sh: the dashboard's own start-up, from main. */
	if (getenv("SPRIG_DASHBOARD_TIMING") != NULL)
		fprintf(stderr, "sprig: first frame %.1f ms after start, %zu sprites\n",
		    (double)(d.first_frame_us - d.start_us) / 1000.0, d.list.n);
out:
	d.quit = 1;
	/* Keys typed just before quitting are still queued: a command and
	 * its Enter, then the quit, arrive in one read. */
	drain_end = loop_now_ms() + DASH_DRAIN_MS;
	for (int i = 0; i < d.npanes; i++)
		wsconn_drain(d.panes[i]->conn, drain_end);
	for (int i = 0; i < d.npanes; i++)
		dash_pane_free(d.panes[i]);
	http_free(d.http);
	sync_actions_free(&d);
	if (d.sigfd >= 0) {
		loop_del_fd(d.loop, d.sigfd);
		close(d.sigfd);
		sigprocmask(SIG_SETMASK, &old, NULL);
	}
	loop_free(d.loop);
	list_done(&d.list);
	tree_done(&d.tree);
	for (int i = 0; i < DASH_LOG_MAX; i++)
		free(d.log[i]);
	for (size_t i = 0; i < d.nrefresh; i++)
		free(d.refresh[i]);
	free(d.refresh);
	free(d.status);
	free(d.prompt_label);
	free(d.ctx_sprite);
	free(d.ctx_ckpt);
	free(d.accel);
	free(cause);
	cJSON_Delete(list);
	return status;
}
