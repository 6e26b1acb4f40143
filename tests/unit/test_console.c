/*
 * test_console: the terminal model under the dashboard's consoles. What a
 * program writes must land in the right cells with the right colours, lines
 * scrolled off must be kept and given back, and keys must become the bytes
 * a program expects, or every console shows garbage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "tui/console.h"

static void
feed(struct console *c, const char *s)
{
	console_feed(c, s, strlen(s));
}

static void
assert_row(struct console *c, int row, const char *want)
{
	char *got = console_row_text(c, row);

	assert_string_equal(got, want);
	free(got);
}

static void
test_text_and_cursor(void **state)
{
	struct console *c;
	int row, col, vis, lo, hi, moved;

	assert_int_equal(console_new(5, 20, 100, &c), 0);
	assert_int_equal(console_take_damage(c, &lo, &hi, &moved), 1);
	feed(c, "hello\r\nworld");
	assert_row(c, 0, "hello");
	assert_row(c, 1, "world");
	console_cursor(c, &row, &col, &vis);
	assert_int_equal(row, 1);
	assert_int_equal(col, 5);
	assert_int_equal(vis, 1);
	assert_int_equal(console_take_damage(c, &lo, &hi, &moved), 1);
	assert_int_equal(lo, 0);
	assert_true(hi >= 2);
	assert_int_equal(moved, 1);
	/* Nothing fed, nothing to redraw. */
	assert_int_equal(console_take_damage(c, &lo, &hi, &moved), 0);

	/* Cursor addressing and erasing: CUP to row 3 col 4, then clear line. */
	feed(c, "\033[3;4Hxyz");
	assert_row(c, 2, "   xyz");
	assert_int_equal(console_take_damage(c, &lo, &hi, &moved), 1);
	assert_int_equal(lo, 2);
	assert_int_equal(hi, 3);
	feed(c, "\033[2K");
	assert_row(c, 2, "");
	feed(c, "\033[?25l");
	console_cursor(c, &row, &col, &vis);
	assert_int_equal(vis, 0);
	console_free(c);
}

static void
test_colours_and_attrs(void **state)
{
	struct console_cell cell;
	struct console *c;

	assert_int_equal(console_new(3, 20, 0, &c), 0);
	feed(c, "\033[1;31mR\033[0m\033[42mG\033[0m\033[38;5;200mX\033[38;2;1;2;3mY\033[0;4;7mZ");
	console_cell(c, 0, 0, &cell);
	assert_int_equal(cell.chars[0], 'R');
	assert_true(cell.attrs & CONSOLE_BOLD);
	assert_int_equal(cell.fg.kind, CONSOLE_COLOR_INDEX);
	assert_int_equal(cell.fg.idx, 1);
	assert_int_equal(cell.bg.kind, CONSOLE_COLOR_DEFAULT);

	console_cell(c, 0, 1, &cell);
	assert_int_equal(cell.chars[0], 'G');
	assert_false(cell.attrs & CONSOLE_BOLD);
	assert_int_equal(cell.fg.kind, CONSOLE_COLOR_DEFAULT);
	assert_int_equal(cell.bg.kind, CONSOLE_COLOR_INDEX);
	assert_int_equal(cell.bg.idx, 2);

	console_cell(c, 0, 2, &cell);
	assert_int_equal(cell.fg.kind, CONSOLE_COLOR_INDEX);
	assert_int_equal(cell.fg.idx, 200);

	console_cell(c, 0, 3, &cell);
	assert_int_equal(cell.fg.kind, CONSOLE_COLOR_RGB);
	assert_int_equal(cell.fg.r, 1);
	assert_int_equal(cell.fg.g, 2);
	assert_int_equal(cell.fg.b, 3);

	console_cell(c, 0, 4, &cell);
	assert_true(cell.attrs & CONSOLE_UNDERLINE);
	assert_true(cell.attrs & CONSOLE_REVERSE);
	assert_int_equal(cell.fg.kind, CONSOLE_COLOR_DEFAULT);
	console_free(c);
}

static void
test_utf8_wide(void **state)
{
	struct console_cell cell;
	struct console *c;

	assert_int_equal(console_new(2, 10, 0, &c), 0);
	feed(c, "a\xc3\xa9\xe4\xb8\xad" "b");	/* a, e-acute, a CJK wide char, b */
	console_cell(c, 0, 1, &cell);
	assert_int_equal(cell.chars[0], 0xe9);
	console_cell(c, 0, 2, &cell);
	assert_int_equal(cell.chars[0], 0x4e2d);
	assert_int_equal(cell.width, 2);
	console_cell(c, 0, 4, &cell);
	assert_int_equal(cell.chars[0], 'b');
	assert_row(c, 0, "a\xc3\xa9\xe4\xb8\xad" "b");
	console_free(c);
}

static void
test_scrollback(void **state)
{
	struct console *c;
	char line[32];
	int i;

	assert_int_equal(console_new(3, 10, 4, &c), 0);
	for (i = 0; i < 8; i++) {
		snprintf(line, sizeof line, "%sline%d", i ? "\r\n" : "", i);
		feed(c, line);
	}
	/* line0..line4 went off the top; the ring keeps the newest four. */
	assert_row(c, 0, "line5");
	assert_row(c, 2, "line7");
	assert_int_equal(console_scrollback_lines(c), 4);

	assert_int_equal(console_scroll(c, 2), 2);
	assert_row(c, 0, "line3");
	assert_row(c, 1, "line4");
	assert_row(c, 2, "line5");
	/* Scrolling is bounded by what was kept. */
	assert_int_equal(console_scroll(c, 100), 4);
	assert_row(c, 0, "line1");
	assert_int_equal(console_scroll(c, -100), 0);
	assert_row(c, 0, "line5");
	console_free(c);
}

/* Moves other than whole lines scrolling up: they take another path. */
static void
test_regions_and_edits(void **state)
{
	struct console *c;

	assert_int_equal(console_new(4, 10, 10, &c), 0);
	feed(c, "abcdef");
	feed(c, "\033[1;2H\033[2@");	/* insert two blanks at column 2 */
	assert_row(c, 0, "a  bcdef");
	feed(c, "\033[1;2H\033[3P");	/* delete three characters */
	assert_row(c, 0, "acdef");

	/* A scroll region of rows 2-3: a line feed at its bottom scrolls
	 * only it, and nothing goes to the scrollback. */
	feed(c, "\033[2;1Hone\033[3;1Htwo\033[4;1Hfour");
	feed(c, "\033[2;3r\033[3;1H\nthree");
	assert_row(c, 0, "acdef");
	assert_row(c, 1, "two");
	assert_row(c, 2, "three");
	assert_row(c, 3, "four");
	assert_int_equal(console_scrollback_lines(c), 0);

	/* Reverse index at the region's top scrolls it down. */
	feed(c, "\033[2;1H\033M");
	assert_row(c, 1, "");
	assert_row(c, 2, "two");
	assert_row(c, 3, "four");
	feed(c, "\033[r");

	/* Scroll up three lines at once (CSI S) from the full screen. */
	feed(c, "\033[3S");
	assert_row(c, 0, "four");
	assert_int_equal(console_scrollback_lines(c), 3);
	/* A background colour fills what an erase leaves (BCE). */
	feed(c, "\033[44m\033[2J");
	{
		struct console_cell cell;

		console_cell(c, 1, 1, &cell);
		assert_int_equal(cell.bg.kind, CONSOLE_COLOR_INDEX);
		assert_int_equal(cell.bg.idx, 4);
	}
	console_free(c);
}

static void
test_resize(void **state)
{
	struct console *c;
	int rows, cols, row, col, vis;

	assert_int_equal(console_new(4, 10, 10, &c), 0);
	feed(c, "a\r\nb\r\nc\r\nd\r\ne");	/* "a" goes to scrollback */
	assert_row(c, 0, "b");
	assert_int_equal(console_scrollback_lines(c), 1);

	/* Taller: the line in the scrollback comes back on top. */
	console_resize(c, 5, 10);
	console_size(c, &rows, &cols);
	assert_int_equal(rows, 5);
	assert_row(c, 0, "a");
	assert_row(c, 4, "e");
	assert_int_equal(console_scrollback_lines(c), 0);
	console_cursor(c, &row, &col, &vis);
	assert_int_equal(row, 4);

	/* Shorter: the top lines are pushed away, the cursor row stays on view. */
	console_resize(c, 2, 10);
	assert_row(c, 0, "d");
	assert_row(c, 1, "e");
	assert_int_equal(console_scrollback_lines(c), 3);

	/* Narrower: text past the edge is not on view. */
	console_resize(c, 2, 3);
	feed(c, "\r\nabcdef");
	console_size(c, &rows, &cols);
	assert_int_equal(cols, 3);
	assert_row(c, 0, "abc");
	assert_row(c, 1, "def");
	console_free(c);
}

static void
test_alt_screen(void **state)
{
	struct console *c;

	assert_int_equal(console_new(3, 10, 10, &c), 0);
	feed(c, "shell$");
	feed(c, "\033[?1049h\033[2J\033[Hvi");
	assert_row(c, 0, "vi");
	feed(c, "\033[?1049l");
	assert_row(c, 0, "shell$");
	console_free(c);
}

static void
collect(const char *data, size_t len, void *arg)
{
	buf_add(arg, data, len);
}

static void
test_keys(void **state)
{
	struct console *c;
	struct buf out;

	buf_init(&out);
	assert_int_equal(console_new(3, 10, 0, &c), 0);
	console_set_output(c, collect, &out);
	console_char(c, 'l', 0);
	console_char(c, 's', 0);
	console_key(c, CONSOLE_KEY_ENTER, 0);
	assert_string_equal(buf_cstr(&out), "ls\r");
	buf_reset(&out);

	console_key(c, CONSOLE_KEY_UP, 0);
	assert_string_equal(buf_cstr(&out), "\033[A");
	buf_reset(&out);
	/* An application asking for cursor-key mode gets SS3 sequences. */
	feed(c, "\033[?1h");
	console_key(c, CONSOLE_KEY_UP, 0);
	assert_string_equal(buf_cstr(&out), "\033OA");
	buf_reset(&out);

	console_char(c, 'c', CONSOLE_MOD_CTRL);
	assert_int_equal(buf_used(&out), 1);
	assert_int_equal(buf_head(&out)[0], 3);
	buf_reset(&out);
	console_char(c, 0xe9, 0);
	assert_string_equal(buf_cstr(&out), "\xc3\xa9");
	buf_reset(&out);

	/* A device status query is answered through the output. */
	feed(c, "\033[2;3H\033[6n");
	assert_string_equal(buf_cstr(&out), "\033[2;3R");
	buf_reset(&out);

	feed(c, "\033[?2004h");
	console_paste(c, "hi", 2);
	assert_string_equal(buf_cstr(&out), "\033[200~hi\033[201~");
	console_free(c);
	buf_done(&out);
}

static void
test_title(void **state)
{
	struct console *c;

	assert_int_equal(console_new(3, 10, 0, &c), 0);
	assert_string_equal(console_title(c), "");
	feed(c, "\033]2;top - dev\007");
	assert_string_equal(console_title(c), "top - dev");
	console_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_and_cursor),
		cmocka_unit_test(test_colours_and_attrs),
		cmocka_unit_test(test_utf8_wide),
		cmocka_unit_test(test_scrollback),
		cmocka_unit_test(test_regions_and_edits),
		cmocka_unit_test(test_resize),
		cmocka_unit_test(test_alt_screen),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_title),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
