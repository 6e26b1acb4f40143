/*
 * ui: UTF-8 is decoded with mbrtowc (the dashboard runs in the user's
 * locale) and clipped by wcwidth, so a long name never wraps onto the next
 * line and a wide character never straddles a border.
 */
#include "ui.h"

#include <curses.h>
#include <string.h>
#include <wchar.h>

void
ui_init_colors(void)
{
	if (!has_colors())
		return;
	start_color();
	use_default_colors();
	init_pair(UI_PAIR_RUNNING, COLOR_GREEN, -1);
	init_pair(UI_PAIR_SLEEPING, COLOR_CYAN, -1);
	init_pair(UI_PAIR_STOPPED, COLOR_YELLOW, -1);
	init_pair(UI_PAIR_BROKEN, COLOR_RED, -1);
	init_pair(UI_PAIR_BUSY, COLOR_MAGENTA, -1);
	init_pair(UI_PAIR_TITLE, COLOR_BLACK, COLOR_CYAN);
	init_pair(UI_PAIR_FOCUS, COLOR_BLACK, COLOR_GREEN);
	init_pair(UI_PAIR_ERROR, COLOR_RED, -1);
	init_pair(UI_PAIR_CURRENT, COLOR_GREEN, -1);
}

int
ui_state_pair(const char *state)
{
	if (!has_colors())
		return 0;
	if (strcmp(state, "running") == 0)
		return UI_PAIR_RUNNING;
	if (strcmp(state, "sleeping") == 0)
		return UI_PAIR_SLEEPING;
	if (strcmp(state, "stopped") == 0)
		return UI_PAIR_STOPPED;
	if (strcmp(state, "broken") == 0 || strcmp(state, "error") == 0)
		return UI_PAIR_BROKEN;
	return UI_PAIR_BUSY;
}

void
ui_fill(int y, int x, int w, int attr)
{
	if (w <= 0)
		return;
	attrset(attr);
	mvhline(y, x, ' ', w);
	attrset(A_NORMAL);
}

/* Decodes one character; invalid bytes show as '?'. */
static size_t
ui_next(const char *s, size_t len, mbstate_t *st, wchar_t *ret)
{
	size_t n = mbrtowc(ret, s, len, st);

	if (n == (size_t)-1 || n == (size_t)-2) {
		memset(st, 0, sizeof *st);
		*ret = L'?';
		return 1;
	}
	return n == 0 ? 1 : n;
}

int
ui_width(const char *text)
{
	size_t len = strlen(text), off = 0;
	mbstate_t st;
	wchar_t wc;
	int w = 0, cw;

	memset(&st, 0, sizeof st);
	while (off < len) {
		off += ui_next(text + off, len - off, &st, &wc);
		cw = wcwidth(wc);
		w += cw > 0 ? cw : 0;
	}
	return w;
}

int
ui_text(int y, int x, int w, const char *text, int attr, int pair)
{
	size_t len = strlen(text), off = 0;
	wchar_t buf[512];
	int n = 0, used = 0, cw;
	mbstate_t st;
	wchar_t wc;

	if (w <= 0)
		return 0;
	memset(&st, 0, sizeof st);
	while (off < len && n < (int)(sizeof buf / sizeof buf[0]) - 1) {
		off += ui_next(text + off, len - off, &st, &wc);
		if (wc < L' ' || wc == 0x7f)
			wc = L' ';	/* control characters would move the cursor */
		cw = wcwidth(wc);
		if (cw < 0)
			cw = 1, wc = L'?';
		if (used + cw > w)
			break;
		buf[n++] = wc;
		used += cw;
	}
	buf[n] = L'\0';
	attr_set((attr_t)attr, (short)pair, NULL);
	mvaddnwstr(y, x, buf, n);
	attr_set(A_NORMAL, 0, NULL);
	return used;
}
