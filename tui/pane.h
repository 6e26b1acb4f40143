/*
 * pane: draws a console (tui/console) into a rectangle of stdscr: its
 * cells, run by run of equal attributes, in the terminal's colours (pairs
 * allocated on demand with alloc_pair), and the cursor. It owns nothing;
 * which rows to draw comes from the console's damage.
 */
#ifndef SPRIG_TUI_PANE_H
#define SPRIG_TUI_PANE_H

struct console;

/* Draws view rows [@lo, @hi) of @c at @y, @x, clipped to @h x @w. */
void pane_draw_rows(const struct console *c, int y, int x, int h, int w, int lo, int hi);
/* Where the terminal's cursor goes for @c drawn at @y, @x; returns 0 when it
 * is hidden or outside. */
int pane_cursor(const struct console *c, int y, int x, int h, int w, int *ret_y, int *ret_x);

#endif
