/*
 * ui: what every part of the dashboard draws with: the colour scheme (fixed
 * colour pairs for states and chrome), clipped UTF-8 text and blank runs on
 * stdscr. It owns nothing but the pair numbers it sets up.
 */
#ifndef SPRIG_TUI_UI_H
#define SPRIG_TUI_UI_H

enum {
	UI_PAIR_NONE,
	UI_PAIR_RUNNING,
	UI_PAIR_SLEEPING,
	UI_PAIR_STOPPED,
	UI_PAIR_BROKEN,
	UI_PAIR_BUSY,
	UI_PAIR_TITLE,		/* header and pane titles */
	UI_PAIR_FOCUS,		/* the focused pane's title */
	UI_PAIR_ERROR,
	UI_PAIR_CURRENT,	/* the current checkpoint */
	UI_PAIR_COUNT,
};

/* Sets up the pairs (after initscr); without colours they stay 0. */
void ui_init_colors(void);
/* The pair for a sprite state (running, sleeping, ...). */
int ui_state_pair(const char *state);

/* Blanks @w cells at @y, @x. */
void ui_fill(int y, int x, int w, int attr);
/* Writes UTF-8 @text at @y, @x, at most @w columns (the rest not touched).
 * Returns the columns written. */
int ui_text(int y, int x, int w, const char *text, int attr, int pair);
/* The columns @text takes. */
int ui_width(const char *text);

#endif
