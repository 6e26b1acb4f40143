/*
 * pane: a run is a stretch of cells with equal attributes and colours; it is
 * written with one mvaddnwstr. Colours map onto what the terminal has:
 * indexed colours as they are when it has 256, down to the 16 (or 8) ANSI
 * ones otherwise, direct (RGB) colours to the nearest of xterm's 256.
 */
#include "pane.h"

#include <curses.h>
#include <string.h>
#include <wchar.h>

#include "tui/console.h"

#define PANE_RUN_MAX	512

/* xterm's 6x6x6 cube and grey ramp, nearest to @r, @g, @b. */
static int
pane_rgb_to_256(int r, int g, int b)
{
	static const int level[6] = { 0, 95, 135, 175, 215, 255 };
	int ri, gi, bi, grey, gi2, dc, dg, k;

	ri = r < 48 ? 0 : r < 115 ? 1 : (r - 35) / 40;
	gi = g < 48 ? 0 : g < 115 ? 1 : (g - 35) / 40;
	bi = b < 48 ? 0 : b < 115 ? 1 : (b - 35) / 40;
	grey = (r + g + b) / 3;
	gi2 = grey > 238 ? 23 : grey < 8 ? 0 : (grey - 8) / 10;
	k = 8 + 10 * gi2;
	dc = (level[ri] - r) * (level[ri] - r) + (level[gi] - g) * (level[gi] - g) +
	    (level[bi] - b) * (level[bi] - b);
	dg = (k - r) * (k - r) + (k - g) * (k - g) + (k - b) * (k - b);
	return dg < dc ? 232 + gi2 : 16 + 36 * ri + 6 * gi + bi;
}

/* A 256-colour index down to the 16 ANSI colours. */
static int
pane_256_to_16(int idx)
{
	int r, g, b, v, bright;

	if (idx < 16)
		return idx;
	if (idx >= 232) {
		v = (idx - 232) * 10 + 8;
		return v < 64 ? 0 : v < 160 ? 8 : v < 224 ? 7 : 15;
	}
	idx -= 16;
	r = idx / 36;
	g = (idx / 6) % 6;
	b = idx % 6;
	bright = r > 3 || g > 3 || b > 3;
	return ((r > 1) ? 1 : 0) | ((g > 1) ? 2 : 0) | ((b > 1) ? 4 : 0) | (bright ? 8 : 0);
}

static int
pane_color(const struct console_color *c)
{
	int idx;

	if (c->kind == CONSOLE_COLOR_DEFAULT || !has_colors())
		return -1;
	idx = c->kind == CONSOLE_COLOR_INDEX ? c->idx : pane_rgb_to_256(c->r, c->g, c->b);
	if (idx < COLORS)
		return idx;
	idx = pane_256_to_16(idx);
	return idx < COLORS ? idx : idx & 7;
}

static int
pane_pair(const struct console_cell *cell)
{
	int fg = pane_color(&cell->fg), bg = pane_color(&cell->bg), pair;

	if (fg < 0 && bg < 0)
		return 0;
	pair = alloc_pair(fg, bg);
	return pair < 0 ? 0 : pair;
}

static attr_t
pane_attrs(const struct console_cell *cell)
{
	attr_t a = A_NORMAL;

	if (cell->attrs & CONSOLE_BOLD)
		a |= A_BOLD;
	if (cell->attrs & CONSOLE_UNDERLINE)
		a |= A_UNDERLINE;
	if (cell->attrs & CONSOLE_REVERSE)
		a |= A_REVERSE;
	if (cell->attrs & CONSOLE_BLINK)
		a |= A_BLINK;
	if (cell->attrs & CONSOLE_ITALIC)
		a |= A_ITALIC;
	return a;
}

static void
pane_flush(int y, int x, wchar_t *run, int n, attr_t attrs, int pair)
{
	if (n == 0)
		return;
	run[n] = L'\0';
	attr_set(attrs, 0, &pair);
	mvaddnwstr(y, x, run, n);
}

void
pane_draw_rows(const struct console *c, int y, int x, int h, int w, int lo, int hi)
{
	const struct console_cell *cells;
	struct console_cell cell;
	wchar_t run[PANE_RUN_MAX + CONSOLE_MAX_CHARS + 1];
	int row, col, n, run_x, pair, run_pair = 0, cols, cw;
	attr_t attrs, run_attrs = A_NORMAL;

	if (lo < 0)
		lo = 0;
	if (hi > h)
		hi = h;
	for (row = lo; row < hi; row++) {
		n = 0;
		run_x = x;
		cells = console_row(c, row, &cols);
		for (col = 0; col < w; col++) {
			if (col < cols) {
				cell = cells[col];
			} else {
				memset(&cell, 0, sizeof cell);
				cell.width = 1;
			}
			if (cell.width == 0)
				continue;	/* drawn by the wide character before it */
			cw = cell.width;
			if (col + cw > w) {
				memset(&cell, 0, sizeof cell);
				cw = 1;
			}
			attrs = pane_attrs(&cell);
			pair = pane_pair(&cell);
			if (n > 0 && (attrs != run_attrs || pair != run_pair || n >= PANE_RUN_MAX)) {
				pane_flush(y + row, run_x, run, n, run_attrs, run_pair);
				n = 0;
			}
			if (n == 0) {
				run_x = x + col;
				run_attrs = attrs;
				run_pair = pair;
			}
			if (cell.chars[0] == 0) {
				run[n++] = L' ';
				continue;
			}
			for (int i = 0; i < CONSOLE_MAX_CHARS && cell.chars[i] != 0; i++) {
				wchar_t wc = (wchar_t)cell.chars[i];

				/* A stray control character would move curses' cursor. */
				if (i == 0 && (wc < L' ' || wcwidth(wc) < 0))
					wc = L'?';
				run[n++] = wc;
			}
		}
		pane_flush(y + row, run_x, run, n, run_attrs, run_pair);
	}
	attr_set(A_NORMAL, 0, NULL);
}

int
pane_cursor(const struct console *c, int y, int x, int h, int w, int *ret_y, int *ret_x)
{
	int row, col, vis;

	console_cursor(c, &row, &col, &vis);
	if (!vis || row < 0 || row >= h || col < 0 || col >= w)
		return 0;
	*ret_y = y + row;
	*ret_x = x + col;
	return 1;
}
