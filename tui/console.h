/*
 * console: the model of one terminal, over libvterm. It owns a VTerm and its
 * screen, the scrollback ring (lines pushed off the top), which rows changed
 * since the drawer last looked, and the bytes keys turn into. Bytes from the
 * program go in with console_feed; cells come out with console_cell. It
 * knows nothing of curses or of where the bytes come from (model: neovim
 * src/nvim/terminal.c, emacs-libvterm vterm-module.c).
 */
#ifndef SPRIG_TUI_CONSOLE_H
#define SPRIG_TUI_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#define CONSOLE_MAX_CHARS	6	/* a base character and its combining marks */

enum {
	CONSOLE_COLOR_DEFAULT,
	CONSOLE_COLOR_INDEX,	/* .idx: 0-15 the ANSI colours, up to 255 xterm's */
	CONSOLE_COLOR_RGB,
};

struct console_color {
	uint8_t	kind;
	uint8_t	idx;
	uint8_t	r, g, b;
};

#define CONSOLE_BOLD		0x01
#define CONSOLE_UNDERLINE	0x02
#define CONSOLE_ITALIC		0x04
#define CONSOLE_REVERSE		0x08
#define CONSOLE_BLINK		0x10
#define CONSOLE_STRIKE		0x20

struct console_cell {
	uint32_t		chars[CONSOLE_MAX_CHARS];	/* 0-terminated unless full */
	uint8_t			width;	/* 1, 2 for a wide character, 0 after one */
	uint8_t			attrs;	/* CONSOLE_BOLD ... */
	struct console_color	fg, bg;
};

/* Keys that are not characters (the subset of VTermKey a terminal sends). */
enum console_key {
	CONSOLE_KEY_ENTER = 1,
	CONSOLE_KEY_TAB,
	CONSOLE_KEY_BACKSPACE,
	CONSOLE_KEY_ESCAPE,
	CONSOLE_KEY_UP,
	CONSOLE_KEY_DOWN,
	CONSOLE_KEY_LEFT,
	CONSOLE_KEY_RIGHT,
	CONSOLE_KEY_INS,
	CONSOLE_KEY_DEL,
	CONSOLE_KEY_HOME,
	CONSOLE_KEY_END,
	CONSOLE_KEY_PAGEUP,
	CONSOLE_KEY_PAGEDOWN,
	CONSOLE_KEY_F1,		/* F1 + n - 1 for Fn, up to F12 */
};

#define CONSOLE_MOD_SHIFT	0x1
#define CONSOLE_MOD_ALT		0x2
#define CONSOLE_MOD_CTRL	0x4

struct console;

/* Bytes the terminal answers with (keys, replies to queries): for the
 * program's input. @data is valid during the call. */
typedef void (*console_output_fn)(const char *data, size_t len, void *arg);

/* A console of @rows x @cols keeping at most @scrollback lines. Returns 0 or
 * a negative errno. */
int console_new(int rows, int cols, size_t scrollback, struct console **ret);
void console_free(struct console *c);

void console_set_output(struct console *c, console_output_fn fn, void *arg);

/* Feeds the program's output; all of it is consumed. */
void console_feed(struct console *c, const char *data, size_t len);

/* Resizes the screen; the program must be told separately. */
void console_resize(struct console *c, int rows, int cols);
void console_size(const struct console *c, int *rows, int *cols);

/* Keys typed into the terminal: the bytes go to the output callback. */
void console_key(struct console *c, enum console_key key, int mods);
void console_char(struct console *c, uint32_t ch, int mods);
/* Pasted text, bracketed if the program asked for it. */
void console_paste(struct console *c, const char *text, size_t len);

/*
 * The cell at @row, @col of what is on view: with the view scrolled back by
 * k lines (console_scroll), rows 0..k-1 are scrollback. Outside the screen,
 * or past the end of a shorter scrollback line, a blank cell.
 */
void console_cell(const struct console *c, int row, int col, struct console_cell *ret);

/* The cells of view row @row, *ret_cols of them (a scrollback line may be
 * shorter than the screen: the rest is blank); NULL when there are none.
 * Valid until the console is fed or resized. For drawing a row at once. */
const struct console_cell *console_row(const struct console *c, int row, int *ret_cols);

/* The cursor in view coordinates; *visible is 0 when the program hid it or
 * the view is scrolled back far enough to hide its row. */
void console_cursor(const struct console *c, int *row, int *col, int *visible);

/* Scrolls the view back (@delta > 0) or forward, within the scrollback.
 * Returns the new offset (0: the live screen). */
int console_scroll(struct console *c, int delta);
int console_scroll_offset(const struct console *c);
size_t console_scrollback_lines(const struct console *c);

/* Rows [*lo, *hi) of the view that changed since the last call, and
 * whether the cursor moved; returns 1 if anything changed, then forgets it. */
int console_take_damage(struct console *c, int *lo, int *hi, int *cursor_moved);

/* Whether console_take_damage would report anything, without taking it. */
int console_damaged(const struct console *c);

/* The title the program set (OSC 0/2), or "". */
const char *console_title(const struct console *c);

/* The text of view row @row, trailing blanks trimmed, as UTF-8 (for tests and
 * search). Newly allocated. */
char *console_row_text(const struct console *c, int row);

#endif
