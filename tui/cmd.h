/*
 * cmd: the dashboard's ':' command line, parsed into what to do. Pure: it
 * knows neither curses nor the daemon; the dashboard runs the result. Every
 * command also has a key; the commands name their sprite explicitly (or
 * default to the selected one where that is unambiguous).
 */
#ifndef SPRIG_TUI_CMD_H
#define SPRIG_TUI_CMD_H

#include <stddef.h>

enum cmd_verb {
	CMD_NONE,
	CMD_FORK,	/* fork SPRITE[@vN] NAME...        names[] */
	CMD_SLEEP,	/* sleep [SPRITE] */
	CMD_WAKE,	/* wake [SPRITE] */
	CMD_START,	/* start [SPRITE] */
	CMD_STOP,	/* stop [SPRITE] */
	CMD_DESTROY,	/* destroy SPRITE (always named: it cannot be undone) */
	CMD_CHECKPOINT,	/* checkpoint [-m] [SPRITE] [COMMENT...]  text, memory */
	CMD_RESTORE,	/* restore [SPRITE@]vN | [SPRITE] undo */
	CMD_DELETE,	/* delete [SPRITE@]vN: a checkpoint */
	CMD_TEMPLATE,	/* template NAME [SPRITE[@vN]]        names[0] */
	CMD_CREATE,	/* create NAME [IMAGE] | create NAME -t TEMPLATE */
	CMD_CONSOLE,	/* console [SPRITE] */
	CMD_FILTER,	/* filter [TEXT] */
	CMD_HELP,
	CMD_QUIT,
};

struct cmd_line {
	enum cmd_verb	  verb;
	char		 *sprite;	/* the sprite acted on; the selected one if not named */
	char		 *ckpt;		/* "vN", "undo", or NULL */
	char		**names;	/* new sprites (fork), the template (template) */
	size_t		  nnames;
	char		 *text;		/* comment, image, filter */
	char		 *tmpl;		/* create from this template */
	int		  memory;	/* checkpoint the guest's memory too */
};

/*
 * Parses @line (without the ':'). @selected is the selected sprite or NULL.
 * Returns 0 and fills *ret (cmd_line_done frees it), or -EINVAL with *cause
 * (newly allocated) saying what is wrong, for the status line.
 */
int cmd_parse(const char *line, const char *selected, struct cmd_line *ret, char **cause);
void cmd_line_done(struct cmd_line *l);

/* Splits @line into words: blanks separate, "..." and '...' group. Returns 0
 * or -EINVAL (an unclosed quote). *ret is NULL-terminated; free with
 * cmd_words_free. */
int cmd_split(const char *line, char ***ret, size_t *ret_n);
void cmd_words_free(char **words);

/* Whether @s is a checkpoint id: "v" and digits. */
int cmd_is_ckpt(const char *s);

/* The list of commands with their syntax, for the help screen: lines of
 * "syntax", "what" pairs, ending with NULL. */
extern const char *const cmd_help_lines[][2];

#endif
