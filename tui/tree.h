/*
 * tree: the selected sprite's checkpoint timeline as the dashboard shows it:
 * the tree `sprig checkpoints` prints (cli/timeline.c renders it, so both
 * read the same), one checkpoint a line, with a selection to act on. It owns
 * the rendered lines and the checkpoint id of each.
 */
#ifndef SPRIG_TUI_TREE_H
#define SPRIG_TUI_TREE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct tree {
	char	 *sprite;	/* whose timeline, or NULL */
	char	 *header;	/* the column header line */
	char	**lines;
	char	**ids;		/* "vN" of each line */
	unsigned char *memory;	/* whether each line's checkpoint holds memory */
	size_t	  n;
	int	  sel;		/* line index, -1 when empty */
	int	  top;
	int	  current;	/* line of the current checkpoint, or -1 */
	char	 *note;		/* "loading", an error, or NULL */
};

void tree_init(struct tree *t);
void tree_done(struct tree *t);

/* Shows @sprite's timeline from the API's checkpoints array. The selection
 * stays on the same id if it is still there, else goes to the current one. */
void tree_set(struct tree *t, const char *sprite, const cJSON *checkpoints, int64_t now);
/* Forgets the lines and shows @note instead (the sprite changed, or the
 * timeline could not be read). */
void tree_reset(struct tree *t, const char *sprite, const char *note);

/* The selected checkpoint's id, or NULL. */
const char *tree_selected(const struct tree *t);
/* 1 when checkpoint @id is shown and holds the guest's memory (a restore
 * to it resumes the processes), else 0. */
int tree_has_memory(const struct tree *t, const char *id);
int tree_move(struct tree *t, int delta);
int tree_click(struct tree *t, int row);

/* Draws a title line and the tree into @h x @w at @y, @x of stdscr. */
void tree_draw(struct tree *t, int y, int x, int h, int w, int focused);

#endif
