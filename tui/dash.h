/*
 * dash: what the dashboard's two halves share: the app's state (struct
 * dash, its panes, what needs drawing) and the calls between tui/dashboard.c
 * (screen, keys, consoles) and tui/sync.c (the daemon: event stream,
 * reconnecting, reads and actions). Private to those two files.
 */
#ifndef SPRIG_TUI_DASH_H
#define SPRIG_TUI_DASH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <wchar.h>

#include "common/buf.h"
#include "tui/list.h"
#include "tui/tree.h"

struct action;
struct client;
struct console;
struct http;
struct loop;
struct wsconn;

#define DASH_MIN_ROWS		24
#define DASH_MIN_COLS		80
#define DASH_MAX_PANES		4
#define DASH_LOG_MAX		200
#define DASH_SCROLLBACK		5000
#define DASH_FEED_CHUNK		(256 * 1024)	/* console bytes fed per pane per turn */
#define DASH_PAUSE_HIGH		(2 * 1024 * 1024)	/* pause a shell's output above this backlog */
#define DASH_PAUSE_LOW		(256 * 1024)
#define DASH_RECONNECT_MS	1000
#define DASH_READ_TIMEOUT_S	30
#define DASH_DRAIN_MS		1000	/* at most, to send typed keys on quitting */
#define DASH_CHANGE_TIMEOUT_S	(20 * 60)	/* a create may build an image */
#define DASH_FRAME_US		16000	/* consoles redraw at most this often */
#define DASH_PROGRESS_MS	1000	/* long actions' status line ticks this often */
#define DASH_STATUS_HOLD_MS	3000	/* a message stays this long before progress returns */

/* What needs drawing at the end of this turn. */
#define DIRTY_HEADER	0x01
#define DIRTY_LIST	0x02
#define DIRTY_TREE	0x04
#define DIRTY_PANES	0x08	/* titles and frames; cells come from damage */
#define DIRTY_LOG	0x10
#define DIRTY_STATUS	0x20
#define DIRTY_ALL	0x3f
#define DIRTY_CLEAR	0x40	/* erase first (layout changed) */

enum prompt_kind {
	PROMPT_NONE,
	PROMPT_COMMAND,
	PROMPT_FILTER,
	PROMPT_COMMENT,
	PROMPT_MEM_COMMENT,	/* a checkpoint with memory */
	PROMPT_FORK,
	PROMPT_TEMPLATE,
	PROMPT_CREATE,
	PROMPT_DESTROY,		/* y/n */
	PROMPT_DELETE,		/* y/n */
};

struct dash;

/* How an action ended, for whoever asked for it: @err 0, or a negative
 * errno with @cause. */
typedef void (*sync_then_fn)(struct dash *d, const char *sprite, int err, const char *cause);

struct pane {
	struct dash	*d;
	char		*sprite;
	struct console	*con;
	struct wsconn	*conn;		/* to the shell, a detachable session */
	uint64_t	 find_req;	/* looking for a shell to re-attach to */
	int		 starting;	/* its stopped sprite is being started first */
	int		 live;		/* the shell runs */
	int		 ended;
	char		*msg;		/* why it ended */
	char		*note;		/* what happened to the sprite under it */
	struct buf	 pending;	/* output not fed to the console yet */
	int		 paused;
	int		 y, x, h, w;	/* frame: title row, then h - 1 rows of console */
};

struct dash {
	struct client	*client;
	struct loop	*loop;
	struct http	*http;
	int		 sigfd;
	int		 quit;

	struct list	 list;
	struct tree	 tree;
	int		 tree_focus;	/* arrows move in the timeline */
	uint64_t	 tree_req;
	char		*accel;

	struct pane	*panes[DASH_MAX_PANES];
	int		 npanes;
	int		 focus;		/* pane index with the keyboard, or -1 */
	int		 last_focus;	/* the pane the prefix key left */
	int		 prefix;	/* the key that leaves a console */
	int		 help;

	enum prompt_kind prompt;
	char		*prompt_label;
	wchar_t		 input[256];
	int		 input_len;
	char		*ctx_sprite;	/* what the prompt acts on */
	char		*ctx_ckpt;

	char		*status;
	int		 status_err;
	int		 status_progress;	/* the status line shows an action's progress */
	uint64_t	 status_ms;		/* when it was last set */
	struct action	*actions;	/* under way, newest first (tui/sync.c) */
	uint64_t	 progress_timer;
	char		*log[DASH_LOG_MAX];
	int		 log_n;		/* lines in the ring */
	int		 log_head;	/* next slot */

	/* The daemon. */
	int		 connected;
	int		 no_events;	/* the daemon has no event stream */
	uint64_t	 events_req;
	int64_t		 last_event;
	uint64_t	 reconnect_timer;
	uint64_t	 countdown_timer;
	uint64_t	 feed_timer;
	char		**refresh;	/* sprites to GET at the end of the turn */
	size_t		 nrefresh;
	int		 refresh_all;

	/* Layout. */
	int		 rows, cols;
	int		 too_small;
	int		 top_y, top_h;	/* list and tree */
	int		 list_w;
	int		 panes_y, panes_h;
	int		 log_y, log_h;
	int		 dirty;
	uint64_t	 first_frame_us;
	uint64_t	 last_frame_us;
	uint64_t	 frame_timer;
	uint64_t	 start_us;
};

/* tui/dashboard.c: the status line and the event log. */
void dash_status(struct dash *d, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void dash_log(struct dash *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A line in the log stamped @at (the event's own time). */
void dash_log_at(struct dash *d, time_t at, const char *msg);
/* An error: on the status line and in the log. */
void dash_error(struct dash *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* tui/sync.c: the daemon went away (says so once, retries every second). */
void sync_lost(struct dash *d, const char *cause);
/* Re-reads @name's row at the end of this turn (once however often asked). */
void sync_mark_refresh(struct dash *d, const char *name);
void sync_sprite_fetch(struct dash *d, const char *name);
void sync_list_fetch(struct dash *d);
/* (Re)reads the selected sprite's timeline. */
void sync_tree_fetch(struct dash *d);
/* http_done_fn for GET /v1/events (the log's first lines, then the stream)
 * and GET /v1/daemon (the accelerator for the header); @arg is the dash. */
void sync_history_done(int err, long status, const char *body, size_t len, const char *cause,
    void *arg);
void sync_daemon_done(int err, long status, const char *body, size_t len, const char *cause,
    void *arg);

/* Actions: each shows its progress on the sprite's row and the status line
 * and its end there and in the log. */
void sync_state_action(struct dash *d, const char *sprite, const char *verb);
/* With @memory the guest's memory too (the sprite must be awake). */
void sync_checkpoint(struct dash *d, const char *sprite, const char *comment, int memory);
void sync_restore(struct dash *d, const char *sprite, const char *ckpt);
void sync_fork(struct dash *d, const char *sprite, const char *ckpt, char **names, size_t n);
void sync_template(struct dash *d, const char *name, const char *sprite, const char *ckpt);
void sync_delete_ckpt(struct dash *d, const char *sprite, const char *ckpt);
void sync_create(struct dash *d, const char *name, const char *image, const char *tmpl);
void sync_destroy(struct dash *d, const char *sprite);
/* Starts a stopped sprite; @fn hears how it went (err 0, or a negative errno
 * with a cause), unless the dashboard quits first. */
void sync_start(struct dash *d, const char *sprite, sync_then_fn fn);
/* Drops what is under way (the dashboard is quitting). */
void sync_actions_free(struct dash *d);

#endif
