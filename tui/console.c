/*
 * console: libvterm's state layer (parsing, cursor, modes, pen) under a
 * screen kept here.
 *
 * libvterm's own screen layer moves every cell of the screen for each line
 * that scrolls (a memmove per row per line feed), which caps a flood of
 * output at a few MB/s. Here the screen is an array of row pointers: a full
 * width scroll rotates pointers, the rows scrolled off the top go to the
 * scrollback ring as they are (the ring hands back the oldest row for
 * reuse), and only the rows that changed are marked for the drawer. Other
 * moves (insert and delete characters, partial scroll regions) go through
 * libvterm's vterm_scroll_rect, cell by cell.
 */
#include "console.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <vterm.h>

#include "common/buf.h"
#include "common/xmalloc.h"

struct sb_line {
	struct console_cell	*cells;
	int			 cols;	/* cells in use */
	int			 cap;	/* cells allocated */
};

struct console {
	VTerm			*vt;
	VTermState		*state;
	int			 rows, cols;

	struct console_cell	**buf[2];	/* primary and alternate screens */
	int			 alt;		/* the alternate screen is on */
	struct console_cell	 pen;		/* attributes of what is written next */

	struct sb_line		*sb;		/* ring of sb_cap lines */
	size_t			 sb_cap;
	size_t			 sb_head;	/* index of the newest */
	size_t			 sb_len;
	int			 offset;	/* view scrolled back by this many lines */

	int			 dirty_lo, dirty_hi;	/* view rows, hi exclusive */
	int			 cursor_moved;
	VTermPos		 cursor;
	int			 cursor_visible;
	char			*title;

	console_output_fn	 out;
	void			*out_arg;
};

static void
console_mark(struct console *c, int lo, int hi)
{
	lo += c->offset;
	hi += c->offset;
	if (lo < 0)
		lo = 0;
	if (hi > c->rows)
		hi = c->rows;
	if (lo >= hi)
		return;
	if (c->dirty_lo >= c->dirty_hi) {
		c->dirty_lo = lo;
		c->dirty_hi = hi;
		return;
	}
	if (lo < c->dirty_lo)
		c->dirty_lo = lo;
	if (hi > c->dirty_hi)
		c->dirty_hi = hi;
}

static void
console_mark_view(struct console *c)
{
	c->dirty_lo = 0;
	c->dirty_hi = c->rows;
}

static void
console_color_from(const VTermColor *v, int fg, struct console_color *ret)
{
	memset(ret, 0, sizeof *ret);
	if ((fg && VTERM_COLOR_IS_DEFAULT_FG(v)) || (!fg && VTERM_COLOR_IS_DEFAULT_BG(v))) {
		ret->kind = CONSOLE_COLOR_DEFAULT;
	} else if (VTERM_COLOR_IS_INDEXED(v)) {
		ret->kind = CONSOLE_COLOR_INDEX;
		ret->idx = v->indexed.idx;
	} else {
		ret->kind = CONSOLE_COLOR_RGB;
		ret->r = v->rgb.red;
		ret->g = v->rgb.green;
		ret->b = v->rgb.blue;
	}
}

static void
console_blank(struct console_cell *ret)
{
	memset(ret, 0, sizeof *ret);
	ret->width = 1;
}

/* An erased cell: blank, in the pen's colours (background colour erase). */
static void
console_erased(const struct console *c, struct console_cell *ret)
{
	console_blank(ret);
	ret->fg = c->pen.fg;
	ret->bg = c->pen.bg;
}

static struct console_cell **
console_screen(struct console *c)
{
	return c->buf[c->alt];
}

static struct console_cell **
console_new_screen(int rows, int cols)
{
	struct console_cell **b = xcalloc((size_t)rows, sizeof *b);

	for (int r = 0; r < rows; r++) {
		b[r] = xcalloc((size_t)cols, sizeof *b[r]);
		for (int k = 0; k < cols; k++)
			b[r][k].width = 1;
	}
	return b;
}

static void
console_free_screen(struct console_cell **b, int rows)
{
	if (b == NULL)
		return;
	for (int r = 0; r < rows; r++)
		free(b[r]);
	free(b);
}

/* Keeps @row (cols cells) as the newest scrollback line, giving back a row
 * of at least @cols cells for the screen to reuse. */
static struct console_cell *
console_sb_push(struct console *c, struct console_cell *row, int cols)
{
	struct console_cell *spare = NULL;
	struct sb_line *l;
	size_t slot;
	int used = cols;

	if (c->sb_cap == 0)
		return row;
	while (used > 0 && row[used - 1].chars[0] == 0 &&
	    row[used - 1].bg.kind == CONSOLE_COLOR_DEFAULT)
		used--;
	slot = c->sb_len == 0 ? 0 : (c->sb_head + 1) % c->sb_cap;
	l = &c->sb[slot];
	if (c->sb_len == c->sb_cap) {
		spare = l->cells;	/* the oldest line goes */
		if (l->cap < cols) {
			free(spare);
			spare = NULL;
		}
	}
	l->cells = row;
	l->cols = used;
	l->cap = cols;
	c->sb_head = slot;
	if (c->sb_len < c->sb_cap)
		c->sb_len++;
	/* A view scrolled back stays on the same lines. */
	if (c->offset > 0 && (size_t)c->offset < c->sb_len)
		c->offset++;
	if (spare == NULL)
		spare = xmalloc((size_t)cols * sizeof *spare);
	return spare;
}

/* Takes the newest scrollback line back (a screen growing taller), as a row
 * of @cols cells; NULL when there is none. */
static struct console_cell *
console_sb_pop(struct console *c, int cols)
{
	struct sb_line *l;
	struct console_cell *row;

	if (c->sb_len == 0)
		return NULL;
	l = &c->sb[c->sb_head];
	row = l->cells;
	if (l->cap < cols)
		row = xreallocarray(row, (size_t)cols, sizeof *row);
	for (int k = l->cols; k < cols; k++)
		console_blank(&row[k]);
	l->cells = NULL;
	l->cols = l->cap = 0;
	c->sb_head = c->sb_head == 0 ? c->sb_cap - 1 : c->sb_head - 1;
	c->sb_len--;
	if ((size_t)c->offset > c->sb_len)
		c->offset = (int)c->sb_len;
	return row;
}

static int
console_putglyph_cb(VTermGlyphInfo *info, VTermPos pos, void *user)
{
	struct console *c = user;
	struct console_cell *cell;
	int i;

	if (pos.row < 0 || pos.row >= c->rows || pos.col < 0 || pos.col >= c->cols)
		return 1;
	cell = &console_screen(c)[pos.row][pos.col];
	*cell = c->pen;
	for (i = 0; i < CONSOLE_MAX_CHARS && i < VTERM_MAX_CHARS_PER_CELL && info->chars[i]; i++)
		cell->chars[i] = info->chars[i];
	for (; i < CONSOLE_MAX_CHARS; i++)
		cell->chars[i] = 0;
	cell->width = (uint8_t)(info->width > 0 ? info->width : 1);
	/* The right half of a wide character. */
	for (i = 1; i < info->width && pos.col + i < c->cols; i++) {
		cell[i] = c->pen;
		memset(cell[i].chars, 0, sizeof cell[i].chars);
		cell[i].width = 0;
	}
	console_mark(c, pos.row, pos.row + 1);
	return 1;
}

static int
console_movecursor_cb(VTermPos pos, VTermPos oldpos, int visible, void *user)
{
	struct console *c = user;

	c->cursor = pos;
	c->cursor_moved = 1;
	return 1;
}

/* Moves the cells of @src to @dest (same size), row by row in the order
 * that does not overwrite what is still to move. */
static int
console_moverect_cb(VTermRect dest, VTermRect src, void *user)
{
	struct console *c = user;
	struct console_cell **b = console_screen(c);
	int n = src.end_col - src.start_col, down = src.start_row - dest.start_row, r;
	int lo = dest.start_row < src.start_row ? dest.start_row : src.start_row;
	int hi = dest.end_row > src.end_row ? dest.end_row : src.end_row;

	if (down > 0) {
		for (r = dest.start_row; r < dest.end_row; r++)
			memmove(&b[r][dest.start_col], &b[r + down][src.start_col], (size_t)n * sizeof **b);
	} else {
		for (r = dest.end_row - 1; r >= dest.start_row; r--)
			memmove(&b[r][dest.start_col], &b[r + down][src.start_col], (size_t)n * sizeof **b);
	}
	console_mark(c, lo, hi);
	return 1;
}

static int
console_erase_cb(VTermRect rect, int selective, void *user)
{
	struct console *c = user;
	struct console_cell **b = console_screen(c), blank;

	console_erased(c, &blank);
	for (int r = rect.start_row; r < rect.end_row && r < c->rows; r++) {
		for (int k = rect.start_col; k < rect.end_col && k < c->cols; k++)
			b[r][k] = blank;
	}
	console_mark(c, rect.start_row, rect.end_row);
	return 1;
}

static int
console_scrollrect_cb(VTermRect rect, int downward, int rightward, void *user)
{
	struct console *c = user;
	struct console_cell **b = console_screen(c), *tmp[256], **keep = tmp, blank;
	int n = rect.end_row - rect.start_row, r, k;

	/* Anything but whole lines moving up or down: libvterm splits it. */
	if (rightward != 0 || downward == 0 || rect.start_col != 0 || rect.end_col != c->cols ||
	    abs(downward) >= n) {
		vterm_scroll_rect(rect, downward, rightward, console_moverect_cb, console_erase_cb, c);
		return 1;
	}
	if (abs(downward) > 256)
		keep = xcalloc((size_t)abs(downward), sizeof *keep);
	console_erased(c, &blank);
	if (downward > 0) {
		/* Up: the top rows leave (to the scrollback from the primary
		 * screen's top), come back blank at the bottom. */
		for (r = 0; r < downward; r++) {
			struct console_cell *row = b[rect.start_row + r];

			if (rect.start_row == 0 && !c->alt)
				row = console_sb_push(c, row, c->cols);
			keep[r] = row;
		}
		memmove(&b[rect.start_row], &b[rect.start_row + downward],
		    (size_t)(n - downward) * sizeof *b);
		for (r = 0; r < downward; r++) {
			b[rect.end_row - downward + r] = keep[r];
			for (k = 0; k < c->cols; k++)
				keep[r][k] = blank;
		}
	} else {
		int up = -downward;

		for (r = 0; r < up; r++)
			keep[r] = b[rect.end_row - up + r];
		memmove(&b[rect.start_row + up], &b[rect.start_row], (size_t)(n - up) * sizeof *b);
		for (r = 0; r < up; r++) {
			b[rect.start_row + r] = keep[r];
			for (k = 0; k < c->cols; k++)
				keep[r][k] = blank;
		}
	}
	if (keep != tmp)
		free(keep);
	console_mark(c, rect.start_row, rect.end_row);
	if (c->offset > 0)
		console_mark_view(c);
	return 1;
}

static int
console_initpen_cb(void *user)
{
	struct console *c = user;

	console_blank(&c->pen);
	return 1;
}

static int
console_setpenattr_cb(VTermAttr attr, VTermValue *val, void *user)
{
	struct console *c = user;
	uint8_t bit = 0;

	switch (attr) {
	case VTERM_ATTR_BOLD:
		bit = CONSOLE_BOLD;
		break;
	case VTERM_ATTR_UNDERLINE:
		bit = CONSOLE_UNDERLINE;
		break;
	case VTERM_ATTR_ITALIC:
		bit = CONSOLE_ITALIC;
		break;
	case VTERM_ATTR_BLINK:
		bit = CONSOLE_BLINK;
		break;
	case VTERM_ATTR_REVERSE:
		bit = CONSOLE_REVERSE;
		break;
	case VTERM_ATTR_STRIKE:
		bit = CONSOLE_STRIKE;
		break;
	case VTERM_ATTR_FOREGROUND:
		console_color_from(&val->color, 1, &c->pen.fg);
		return 1;
	case VTERM_ATTR_BACKGROUND:
		console_color_from(&val->color, 0, &c->pen.bg);
		return 1;
	default:
		return 1;
	}
	/* Booleans, and underline's number (0: off). */
	if (val->number)
		c->pen.attrs |= bit;
	else
		c->pen.attrs &= (uint8_t)~bit;
	return 1;
}

static int
console_settermprop_cb(VTermProp prop, VTermValue *val, void *user)
{
	struct console *c = user;

	switch (prop) {
	case VTERM_PROP_CURSORVISIBLE:
		c->cursor_visible = val->boolean;
		c->cursor_moved = 1;
		return 1;
	case VTERM_PROP_TITLE:
		free(c->title);
		c->title = xstrdup(val->string != NULL ? val->string : "");
		return 1;
	case VTERM_PROP_ALTSCREEN:
		c->alt = !!val->boolean;
		/* Entering, the state erases it; leaving, all of it is new. */
		console_mark_view(c);
		return 1;
	default:
		return 1;
	}
}

static int
console_bell_cb(void *user)
{
	return 1;
}

/* A new size: rows leave the top (to the scrollback) when the cursor would
 * fall off the bottom, and come back from it when the screen grows; @delta
 * tells the state how far the cursor moved with them. */
static int
console_resize_cb(int rows, int cols, VTermPos *delta, void *user)
{
	struct console *c = user;
	struct console_cell **nb[2], *row;
	int which, r, k, shift, from, keep;

	for (which = 0; which < 2; which++) {
		struct console_cell **ob = c->buf[which];

		nb[which] = xcalloc((size_t)rows, sizeof **nb);
		shift = 0;
		if (which == 0 && rows < c->rows && c->cursor.row >= rows)
			shift = c->cursor.row - rows + 1;	/* lines that must leave */
		/* Rows kept from the old screen, from @from on. */
		from = which == 0 ? shift : 0;
		keep = c->rows - from < rows ? c->rows - from : rows;
		for (r = 0; r < from; r++) {
			row = console_sb_push(c, ob[r], c->cols);
			free(row);
		}
		/* Growing taller, the primary screen takes lines back. */
		int pulled = 0;

		if (which == 0 && rows > c->rows) {
			while (pulled < rows - c->rows && c->sb_len > 0) {
				row = console_sb_pop(c, cols > c->cols ? cols : c->cols);
				nb[which][rows - c->rows - 1 - pulled] = row;
				pulled++;
			}
			/* Shift the pulled lines to the top. */
			if (pulled < rows - c->rows) {
				memmove(&nb[which][0], &nb[which][rows - c->rows - pulled],
				    (size_t)pulled * sizeof **nb);
			}
		}
		for (r = 0; r < keep; r++)
			nb[which][pulled + r] = ob[from + r];
		for (r = from + keep; r < c->rows; r++)
			free(ob[r]);
		for (r = 0; r < rows; r++) {
			if (nb[which][r] == NULL) {
				nb[which][r] = xcalloc((size_t)cols, sizeof ***nb);
				for (k = 0; k < cols; k++)
					nb[which][r][k].width = 1;
				continue;
			}
			if (cols > c->cols) {
				nb[which][r] = xreallocarray(nb[which][r], (size_t)cols, sizeof ***nb);
				for (k = c->cols; k < cols; k++)
					console_blank(&nb[which][r][k]);
			}
		}
		free(ob);
		if (which == 0) {
			delta->row = pulled - from;
			/* A wide character cut in half at the new right edge. */
		}
	}
	c->buf[0] = nb[0];
	c->buf[1] = nb[1];
	c->rows = rows;
	c->cols = cols;
	if (c->offset > (int)c->sb_len)
		c->offset = (int)c->sb_len;
	console_mark_view(c);
	c->cursor_moved = 1;
	return 1;
}

static int
console_setlineinfo_cb(int row, const VTermLineInfo *newinfo, const VTermLineInfo *oldinfo,
    void *user)
{
	return 1;
}

static const VTermStateCallbacks console_callbacks = {
	.putglyph = console_putglyph_cb,
	.movecursor = console_movecursor_cb,
	.scrollrect = console_scrollrect_cb,
	.moverect = console_moverect_cb,
	.erase = console_erase_cb,
	.initpen = console_initpen_cb,
	.setpenattr = console_setpenattr_cb,
	.settermprop = console_settermprop_cb,
	.bell = console_bell_cb,
	.resize = console_resize_cb,
	.setlineinfo = console_setlineinfo_cb,
};

static void
console_output_cb(const char *s, size_t len, void *user)
{
	struct console *c = user;

	if (c->out != NULL)
		c->out(s, len, c->out_arg);
}

int
console_new(int rows, int cols, size_t scrollback, struct console **ret)
{
	struct console *c;

	if (rows < 1 || cols < 1)
		return -EINVAL;
	c = xcalloc(1, sizeof *c);
	c->vt = vterm_new(rows, cols);
	if (c->vt == NULL) {
		free(c);
		return -ENOMEM;
	}
	c->rows = rows;
	c->cols = cols;
	c->buf[0] = console_new_screen(rows, cols);
	c->buf[1] = console_new_screen(rows, cols);
	c->cursor_visible = 1;
	console_blank(&c->pen);
	c->sb_cap = scrollback;
	c->sb = scrollback > 0 ? xcalloc(scrollback, sizeof *c->sb) : NULL;
	c->title = xstrdup("");
	vterm_set_utf8(c->vt, 1);
	vterm_output_set_callback(c->vt, console_output_cb, c);
	c->state = vterm_obtain_state(c->vt);
	vterm_state_set_callbacks(c->state, &console_callbacks, c);
	vterm_state_reset(c->state, 1);
	console_mark_view(c);
	*ret = c;
	return 0;
}

void
console_free(struct console *c)
{
	if (c == NULL)
		return;
	vterm_free(c->vt);
	console_free_screen(c->buf[0], c->rows);
	console_free_screen(c->buf[1], c->rows);
	for (size_t i = 0; i < c->sb_cap; i++)
		free(c->sb[i].cells);
	free(c->sb);
	free(c->title);
	free(c);
}

void
console_set_output(struct console *c, console_output_fn fn, void *arg)
{
	c->out = fn;
	c->out_arg = arg;
}

void
console_feed(struct console *c, const char *data, size_t len)
{
	vterm_input_write(c->vt, data, len);
}

void
console_resize(struct console *c, int rows, int cols)
{
	if (rows < 1 || cols < 1 || (rows == c->rows && cols == c->cols))
		return;
	vterm_set_size(c->vt, rows, cols);
	console_mark_view(c);
	c->cursor_moved = 1;
}

void
console_size(const struct console *c, int *rows, int *cols)
{
	*rows = c->rows;
	*cols = c->cols;
}

static VTermModifier
console_mods(int mods)
{
	return (VTermModifier)(((mods & CONSOLE_MOD_SHIFT) ? VTERM_MOD_SHIFT : 0) |
	    ((mods & CONSOLE_MOD_ALT) ? VTERM_MOD_ALT : 0) |
	    ((mods & CONSOLE_MOD_CTRL) ? VTERM_MOD_CTRL : 0));
}

void
console_key(struct console *c, enum console_key key, int mods)
{
	static const VTermKey map[] = {
		[CONSOLE_KEY_ENTER] = VTERM_KEY_ENTER,
		[CONSOLE_KEY_TAB] = VTERM_KEY_TAB,
		[CONSOLE_KEY_BACKSPACE] = VTERM_KEY_BACKSPACE,
		[CONSOLE_KEY_ESCAPE] = VTERM_KEY_ESCAPE,
		[CONSOLE_KEY_UP] = VTERM_KEY_UP,
		[CONSOLE_KEY_DOWN] = VTERM_KEY_DOWN,
		[CONSOLE_KEY_LEFT] = VTERM_KEY_LEFT,
		[CONSOLE_KEY_RIGHT] = VTERM_KEY_RIGHT,
		[CONSOLE_KEY_INS] = VTERM_KEY_INS,
		[CONSOLE_KEY_DEL] = VTERM_KEY_DEL,
		[CONSOLE_KEY_HOME] = VTERM_KEY_HOME,
		[CONSOLE_KEY_END] = VTERM_KEY_END,
		[CONSOLE_KEY_PAGEUP] = VTERM_KEY_PAGEUP,
		[CONSOLE_KEY_PAGEDOWN] = VTERM_KEY_PAGEDOWN,
	};
	VTermKey k;

	if (key >= CONSOLE_KEY_F1 && key < CONSOLE_KEY_F1 + 12)
		k = VTERM_KEY_FUNCTION(key - CONSOLE_KEY_F1 + 1);
	else if (key > 0 && (size_t)key < sizeof map / sizeof map[0])
		k = map[key];
	else
		return;
	vterm_keyboard_key(c->vt, k, console_mods(mods));
}

void
console_char(struct console *c, uint32_t ch, int mods)
{
	vterm_keyboard_unichar(c->vt, ch, console_mods(mods));
}

void
console_paste(struct console *c, const char *text, size_t len)
{
	vterm_keyboard_start_paste(c->vt);
	console_output_cb(text, len, c);
	vterm_keyboard_end_paste(c->vt);
}

/* Scrollback line @k back from the newest (0: the newest). */
static const struct sb_line *
console_sb_line(const struct console *c, size_t k)
{
	if (k >= c->sb_len)
		return NULL;
	return &c->sb[(c->sb_head + c->sb_cap - k) % c->sb_cap];
}

void
console_cell(const struct console *c, int row, int col, struct console_cell *ret)
{
	const struct sb_line *line;

	if (row < 0 || row >= c->rows || col < 0 || col >= c->cols) {
		console_blank(ret);
		return;
	}
	if (row < c->offset) {
		line = console_sb_line(c, (size_t)(c->offset - 1 - row));
		if (line == NULL || col >= line->cols)
			console_blank(ret);
		else
			*ret = line->cells[col];
		return;
	}
	*ret = c->buf[c->alt][row - c->offset][col];
}

const struct console_cell *
console_row(const struct console *c, int row, int *ret_cols)
{
	const struct sb_line *line;

	*ret_cols = 0;
	if (row < 0 || row >= c->rows)
		return NULL;
	if (row < c->offset) {
		line = console_sb_line(c, (size_t)(c->offset - 1 - row));
		if (line == NULL)
			return NULL;
		*ret_cols = line->cols < c->cols ? line->cols : c->cols;
		return line->cells;
	}
	*ret_cols = c->cols;
	return c->buf[c->alt][row - c->offset];
}

void
console_cursor(const struct console *c, int *row, int *col, int *visible)
{
	*row = c->cursor.row + c->offset;
	*col = c->cursor.col;
	*visible = c->cursor_visible && *row < c->rows;
}

int
console_scroll(struct console *c, int delta)
{
	long off = (long)c->offset + delta;

	if (off < 0)
		off = 0;
	if (off > (long)c->sb_len)
		off = (long)c->sb_len;
	if (off != c->offset) {
		c->offset = (int)off;
		console_mark_view(c);
		c->cursor_moved = 1;
	}
	return c->offset;
}

int
console_scroll_offset(const struct console *c)
{
	return c->offset;
}

size_t
console_scrollback_lines(const struct console *c)
{
	return c->sb_len;
}

int
console_take_damage(struct console *c, int *lo, int *hi, int *cursor_moved)
{
	int any = c->dirty_lo < c->dirty_hi || c->cursor_moved;

	*lo = c->dirty_lo;
	*hi = c->dirty_hi;
	*cursor_moved = c->cursor_moved;
	c->dirty_lo = c->dirty_hi = 0;
	c->cursor_moved = 0;
	return any;
}

int
console_damaged(const struct console *c)
{
	return c->dirty_lo < c->dirty_hi || c->cursor_moved;
}

const char *
console_title(const struct console *c)
{
	return c->title;
}

static void
console_utf8(struct buf *b, uint32_t ch)
{
	if (ch < 0x80) {
		buf_add_u8(b, (uint8_t)ch);
	} else if (ch < 0x800) {
		buf_add_u8(b, (uint8_t)(0xc0 | (ch >> 6)));
		buf_add_u8(b, (uint8_t)(0x80 | (ch & 0x3f)));
	} else if (ch < 0x10000) {
		buf_add_u8(b, (uint8_t)(0xe0 | (ch >> 12)));
		buf_add_u8(b, (uint8_t)(0x80 | ((ch >> 6) & 0x3f)));
		buf_add_u8(b, (uint8_t)(0x80 | (ch & 0x3f)));
	} else {
		buf_add_u8(b, (uint8_t)(0xf0 | (ch >> 18)));
		buf_add_u8(b, (uint8_t)(0x80 | ((ch >> 12) & 0x3f)));
		buf_add_u8(b, (uint8_t)(0x80 | ((ch >> 6) & 0x3f)));
		buf_add_u8(b, (uint8_t)(0x80 | (ch & 0x3f)));
	}
}

char *
console_row_text(const struct console *c, int row)
{
	struct console_cell cell;
	size_t keep = 0;
	struct buf b;
	char *out;
	int col, i;

	buf_init(&b);
	for (col = 0; col < c->cols; col++) {
		console_cell(c, row, col, &cell);
		if (cell.width == 0)
			continue;	/* the right half of a wide character */
		if (cell.chars[0] == 0) {
			buf_add_u8(&b, ' ');
			continue;
		}
		for (i = 0; i < CONSOLE_MAX_CHARS && cell.chars[i] != 0; i++)
			console_utf8(&b, cell.chars[i]);
		keep = buf_used(&b);
	}
	out = xstrndup((const char *)buf_head(&b), keep);
	buf_done(&b);
	return out;
}
