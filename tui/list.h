/*
 * list: the dashboard's sprite list. It owns one row per sprite as the
 * daemon last described it (kept sorted by name), the filter, the selection
 * (by name, so it survives rows coming and going) and the scroll position,
 * and draws itself into a rectangle of the screen.
 */
#ifndef SPRIG_TUI_LIST_H
#define SPRIG_TUI_LIST_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct sprite {
	char	*name;
	char	*status;	/* running, paused, sleeping, stopped, broken, ... */
	char	*from;		/* origin ("base@v3") or image */
	char	*checkpoint;	/* the current checkpoint, or NULL */
	char	*last_error;
	int	 cpus;
	int	 ram_mb;
	/* What it costs the host now (the API's "usage"); -1 when unknown. */
	int	 cpu_pct;
	int	 rss_mb;
	int	 disk_mb;
	int64_t	 sleep_at_ms;	/* monotonic ms it will sleep at, or 0 */
	int	 sleep_off;	/* never sleeps */
	int	 sessions;	/* exec sessions holding it awake */
	char	*busy;		/* an action under way from here ("ckpt.."), or NULL */
	char	*op;		/* the daemon's operation under way, or NULL */
};

struct list {
	struct sprite	*v;
	size_t		 n;
	char		*selected;	/* name, or NULL */
	char		*filter;	/* or NULL */
	int		 top;		/* first visible (index among shown rows) */
	int		 height;	/* rows last drawn, for paging */
};

void list_init(struct list *l);
void list_done(struct list *l);

/* Replaces every row with the API's sprites array. */
void list_set_all(struct list *l, const cJSON *sprites, uint64_t now_ms);
/* Adds or replaces the row of one sprite (the API's object). */
void list_update(struct list *l, const cJSON *sprite, uint64_t now_ms);
/* Removes @name's row; returns 1 if it was there. */
int list_remove(struct list *l, const char *name);
struct sprite *list_find(struct list *l, const char *name);

/* The selected sprite among those shown, or NULL (selecting the first shown
 * one when the selection is gone). */
struct sprite *list_selected(struct list *l);
/* Moves the selection by @delta shown rows; returns 1 if it changed. */
int list_move(struct list *l, int delta);
/* Selects the shown row @row of the last drawing (a mouse click); returns 1
 * if that is a sprite. */
int list_click(struct list *l, int row);
void list_set_filter(struct list *l, const char *filter);

/* Counts by state for the header: awake (running), sleeping, stopped,
 * other. */
void list_counts(const struct list *l, int *awake, int *sleeping, int *stopped, int *other);
/* Whether any shown row has a countdown to draw (the 1 s timer is needed). */
int list_has_countdown(const struct list *l);

/* Draws the header and rows into @h x @w at @y, @x of stdscr. */
void list_draw(struct list *l, int y, int x, int h, int w, int focused, uint64_t now_ms);

#endif
