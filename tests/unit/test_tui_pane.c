/*
 * test_tui_pane: a console drawn into curses. What the program wrote must
 * land in the screen's cells with its colours and attributes, wide
 * characters must not shift the rest of the row, and only the rows given
 * are touched. Curses runs on a terminal of its own (newterm over
 * /dev/null), so the test reads back what the dashboard would send.
 *
 * With SPRIG_BENCH_CONSOLE_MB=N it instead pushes N MB of coloured output
 * through a console and its pane, the way the dashboard does per loop turn,
 * and prints the throughput (bench/run.sh).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#define NCURSES_WIDECHAR 1
#include <curses.h>

#include "tui/console.h"
#include "tui/pane.h"

static SCREEN *scr;
static FILE *out, *in;

static int
setup(void **state)
{
	setlocale(LC_ALL, "C.UTF-8");
	out = fopen("/dev/null", "w");
	in = fopen("/dev/null", "r");
	scr = newterm("xterm-256color", out, in);
	if (scr == NULL)
		return -1;
	set_term(scr);
	start_color();
	use_default_colors();
	resize_term(24, 80);
	return 0;
}

static int
teardown(void **state)
{
	endwin();
	delscreen(scr);
	fclose(out);
	fclose(in);
	return 0;
}

static void
feed(struct console *c, const char *s)
{
	console_feed(c, s, strlen(s));
}

static wchar_t
cell_char(int y, int x, attr_t *attrs, int *pair)
{
	cchar_t cc;
	wchar_t wch[CCHARW_MAX + 1];
	short p = 0;

	mvin_wch(y, x, &cc);
	getcchar(&cc, wch, attrs, &p, pair);
	return wch[0];
}

static void
test_cells_and_colours(void **state)
{
	struct console *c;
	attr_t a;
	int pair, lo, hi, moved;
	short fg, bg;

	assert_int_equal(console_new(5, 20, 0, &c), 0);
	erase();
	feed(c, "ab\033[1;31mR\033[0;44mB\033[0m\033[7mV");
	assert_int_equal(console_take_damage(c, &lo, &hi, &moved), 1);
	pane_draw_rows(c, 2, 10, 5, 20, lo, hi);
	assert_int_equal(cell_char(2, 10, &a, &pair), L'a');
	assert_int_equal(pair, 0);
	assert_int_equal(cell_char(2, 11, &a, &pair), L'b');
	assert_int_equal(cell_char(2, 12, &a, &pair), L'R');
	assert_true(a & A_BOLD);
	pair_content((short)pair, &fg, &bg);
	assert_int_equal(fg, 1);
	assert_int_equal(bg, -1);
	assert_int_equal(cell_char(2, 13, &a, &pair), L'B');
	assert_false(a & A_BOLD);
	pair_content((short)pair, &fg, &bg);
	assert_int_equal(fg, -1);
	assert_int_equal(bg, 4);
	assert_int_equal(cell_char(2, 14, &a, &pair), L'V');
	assert_true(a & A_REVERSE);
	/* Past the text, blanks; left of the pane, untouched. */
	assert_int_equal(cell_char(2, 15, &a, &pair), L' ');
	assert_int_equal(cell_char(2, 9, &a, &pair), L' ');
	console_free(c);
}

static void
test_wide_and_damage(void **state)
{
	struct console *c;
	attr_t a;
	int pair, lo, hi, moved;

	assert_int_equal(console_new(3, 10, 0, &c), 0);
	erase();
	console_take_damage(c, &lo, &hi, &moved);
	feed(c, "\xe4\xb8\xad" "x\r\n\r\nbottom");
	console_take_damage(c, &lo, &hi, &moved);
	assert_int_equal(lo, 0);
	assert_int_equal(hi, 3);
	pane_draw_rows(c, 0, 0, 3, 10, lo, hi);
	assert_int_equal(cell_char(0, 0, &a, &pair), 0x4e2d);
	/* The wide character takes two columns; x comes after both. */
	assert_int_equal(cell_char(0, 2, &a, &pair), L'x');
	assert_int_equal(cell_char(2, 0, &a, &pair), L'b');

	/* Only damaged rows are drawn: scribble on row 0, change row 2. */
	mvaddstr(0, 5, "Z");
	feed(c, "\r\033[2Kend");
	console_take_damage(c, &lo, &hi, &moved);
	assert_int_equal(lo, 2);
	assert_int_equal(hi, 3);
	pane_draw_rows(c, 0, 0, 3, 10, lo, hi);
	assert_int_equal(cell_char(2, 0, &a, &pair), L'e');
	assert_int_equal(cell_char(0, 5, &a, &pair), L'Z');
	console_free(c);
}

static void
test_clipped_and_cursor(void **state)
{
	struct console *c;
	attr_t a;
	int pair, y, x;

	/* A console wider than its pane is clipped, not wrapped. */
	assert_int_equal(console_new(2, 20, 0, &c), 0);
	erase();
	feed(c, "0123456789abcdefghij");
	pane_draw_rows(c, 0, 0, 2, 8, 0, 2);
	assert_int_equal(cell_char(0, 7, &a, &pair), L'7');
	assert_int_equal(cell_char(0, 8, &a, &pair), L' ');
	feed(c, "\033[2;4H");
	assert_int_equal(pane_cursor(c, 5, 6, 2, 8, &y, &x), 1);
	assert_int_equal(y, 6);
	assert_int_equal(x, 9);
	feed(c, "\033[2;12H");
	assert_int_equal(pane_cursor(c, 5, 6, 2, 8, &y, &x), 0);
	console_free(c);
}

/* The bench: N MB through a 38x120 console and its pane. */
static int
bench(long mb)
{
	static const char *const colours[] = { "\033[31m", "\033[32m", "\033[1;34m", "\033[0m" };
	size_t chunk = 256 * 1024, total = (size_t)mb * 1000 * 1000, done = 0, n, k = 0;
	char *buf = malloc(chunk);
	struct console *c;
	struct timespec t0, t1;
	int lo, hi, moved;
	double secs;

	if (buf == NULL || console_new(38, 120, 5000, &c) < 0)
		return 1;
	/* Lines of text with colour changes, like a build log. */
	for (n = 0; n < chunk;) {
		const char *col = colours[k++ % 4];
		size_t l = strlen(col);

		if (n + l + 81 > chunk)
			break;
		memcpy(buf + n, col, l);
		n += l;
		for (int i = 0; i < 78; i++)
			buf[n++] = (char)('a' + (i + (int)k) % 26);
		buf[n++] = '\r';
		buf[n++] = '\n';
	}
	chunk = n;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (done < total) {
		console_feed(c, buf, chunk);
		done += chunk;
		if (console_take_damage(c, &lo, &hi, &moved))
			pane_draw_rows(c, 1, 0, 38, 120, lo, hi);
		refresh();
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%.1f\n", (double)done / secs / 1e6);
	console_free(c);
	free(buf);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cells_and_colours),
		cmocka_unit_test(test_wide_and_damage),
		cmocka_unit_test(test_clipped_and_cursor),
	};
	const char *mb = getenv("SPRIG_BENCH_CONSOLE_MB");
	int r;

	if (mb != NULL) {
		if (setup(NULL) < 0)
			return 1;
		resize_term(40, 120);
		r = bench(atol(mb));
		teardown(NULL);
		return r;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
