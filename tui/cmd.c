/*
 * cmd: words, then a table of verbs with how many arguments each takes, then
 * the verb's own reading of them. Messages say what was expected, in the
 * command's own syntax, because they end up on a one-line status bar.
 */
#include "cmd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/xmalloc.h"

const char *const cmd_help_lines[][2] = {
	{ ":fork SPRITE[@vN] NAME...", "fork new sprites from a checkpoint (default: current)" },
	{ ":checkpoint SPRITE [COMMENT]", "checkpoint a sprite" },
	{ ":checkpoint -m SPRITE [COMMENT]", "checkpoint with memory (processes too)" },
	{ ":restore [SPRITE@]vN", "restore a sprite to a checkpoint (or 'undo')" },
	{ ":delete [SPRITE@]vN", "delete a checkpoint" },
	{ ":template NAME [SPRITE[@vN]]", "save a checkpoint as a template" },
	{ ":create NAME [IMAGE|-t TEMPLATE]", "create a sprite" },
	{ ":sleep|wake|start|stop [SPRITE]", "change a sprite's state" },
	{ ":destroy SPRITE", "destroy a sprite and its checkpoints" },
	{ ":console [SPRITE]", "open a console" },
	{ ":filter [TEXT]", "show only sprites whose name has TEXT" },
	{ ":help  :quit", "this screen; leave the dashboard" },
	{ NULL, NULL },
};

static const struct {
	const char	*name;
	const char	*alias;
	enum cmd_verb	 verb;
	int		 min, max;	/* arguments; max -1: any */
	const char	*usage;
} cmd_table[] = {
	{ "fork", NULL, CMD_FORK, 2, -1, "fork SPRITE[@vN] NAME..." },
	{ "sleep", NULL, CMD_SLEEP, 0, 1, "sleep [SPRITE]" },
	{ "wake", NULL, CMD_WAKE, 0, 1, "wake [SPRITE]" },
	{ "start", NULL, CMD_START, 0, 1, "start [SPRITE]" },
	{ "stop", NULL, CMD_STOP, 0, 1, "stop [SPRITE]" },
	{ "destroy", NULL, CMD_DESTROY, 1, 1, "destroy SPRITE" },
	{ "checkpoint", "cp", CMD_CHECKPOINT, 0, -1, "checkpoint [-m] SPRITE [COMMENT]" },
	{ "restore", NULL, CMD_RESTORE, 1, 2, "restore [SPRITE@]vN" },
	{ "delete", "rm", CMD_DELETE, 1, 2, "delete [SPRITE@]vN" },
	{ "template", NULL, CMD_TEMPLATE, 1, 2, "template NAME [SPRITE[@vN]]" },
	{ "create", "new", CMD_CREATE, 1, 3, "create NAME [IMAGE | -t TEMPLATE]" },
	{ "console", "open", CMD_CONSOLE, 0, 1, "console [SPRITE]" },
	{ "filter", NULL, CMD_FILTER, 0, -1, "filter [TEXT]" },
	{ "help", "h", CMD_HELP, 0, 0, "help" },
	{ "quit", "q", CMD_QUIT, 0, 0, "quit" },
};

int
cmd_split(const char *line, char ***ret, size_t *ret_n)
{
	char **words = xcalloc(1, sizeof *words);
	size_t n = 0;
	struct buf w;
	const char *p = line;
	char quote;

	buf_init(&w);
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		buf_reset(&w);
		while (*p != '\0' && *p != ' ' && *p != '\t') {
			if (*p == '"' || *p == '\'') {
				quote = *p++;
				while (*p != '\0' && *p != quote)
					buf_add_u8(&w, (uint8_t)*p++);
				if (*p != quote) {
					buf_done(&w);
					cmd_words_free(words);
					return -EINVAL;
				}
				p++;
				continue;
			}
			buf_add_u8(&w, (uint8_t)*p++);
		}
		words = xreallocarray(words, n + 2, sizeof *words);
		words[n++] = xstrdup(buf_cstr(&w));
		words[n] = NULL;
	}
	buf_done(&w);
	*ret = words;
	*ret_n = n;
	return 0;
}

void
cmd_words_free(char **words)
{
	if (words == NULL)
		return;
	for (char **w = words; *w != NULL; w++)
		free(*w);
	free(words);
}

int
cmd_is_ckpt(const char *s)
{
	if (s[0] != 'v' || s[1] == '\0')
		return 0;
	for (s++; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return 0;
	}
	return 1;
}

/* A sprite's (or template's) name as the daemon takes them: letters, digits,
 * '-', '_' and '.', not starting with a punctuation mark. The daemon has
 * the last word; this catches typos such as a stray '@' early. */
static int
cmd_name_ok(const char *s)
{
	if (*s == '\0' || *s == '-' || *s == '.' || *s == '_' || strlen(s) > 63)
		return 0;
	for (; *s != '\0'; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return 0;
	}
	return 1;
}

/* "SPRITE", "SPRITE@vN" (or "@undo" where @undo_ok). */
static int
cmd_target(const char *word, int ckpt_ok, int undo_ok, struct cmd_line *l, char **cause)
{
	const char *at = strchr(word, '@');
	char *name = at ? xstrndup(word, (size_t)(at - word)) : xstrdup(word);

	if (!cmd_name_ok(name)) {
		*cause = xasprintf("'%s' is not a sprite name", name);
		free(name);
		return -EINVAL;
	}
	if (at != NULL) {
		if (!ckpt_ok) {
			*cause = xasprintf("'%s': a checkpoint makes no sense here", word);
			free(name);
			return -EINVAL;
		}
		if (!cmd_is_ckpt(at + 1) && !(undo_ok && strcmp(at + 1, "undo") == 0)) {
			*cause = xasprintf("'%s' is not a checkpoint id (they look like v3)", at + 1);
			free(name);
			return -EINVAL;
		}
		l->ckpt = xstrdup(at + 1);
	}
	free(l->sprite);
	l->sprite = name;
	return 0;
}

static int
cmd_need_selected(struct cmd_line *l, const char *selected, const char *usage, char **cause)
{
	if (l->sprite != NULL)
		return 0;
	if (selected == NULL) {
		*cause = xasprintf("no sprite selected: %s", usage);
		return -EINVAL;
	}
	l->sprite = xstrdup(selected);
	return 0;
}

static char *
cmd_join(char **words, size_t n)
{
	struct buf b;
	char *out;

	buf_init(&b);
	for (size_t i = 0; i < n; i++)
		buf_add_printf(&b, "%s%s", i ? " " : "", words[i]);
	out = xstrdup(buf_cstr(&b));
	buf_done(&b);
	return out;
}

/* restore and delete: "vN", "SPRITE@vN", or "SPRITE vN". */
static int
cmd_ckpt_args(char **a, size_t n, int undo_ok, struct cmd_line *l, char **cause)
{
	int r;

	if (n == 1 && (cmd_is_ckpt(a[0]) || (undo_ok && strcmp(a[0], "undo") == 0))) {
		l->ckpt = xstrdup(a[0]);
		return 0;
	}
	r = cmd_target(a[0], 1, undo_ok, l, cause);
	if (r < 0)
		return r;
	if (n == 2) {
		if (l->ckpt != NULL || !(cmd_is_ckpt(a[1]) ||
		    (undo_ok && strcmp(a[1], "undo") == 0))) {
			*cause = xasprintf("'%s' is not a checkpoint id (they look like v3)", a[1]);
			return -EINVAL;
		}
		l->ckpt = xstrdup(a[1]);
	}
	if (l->ckpt == NULL) {
		*cause = xasprintf("which checkpoint of %s? (%s@v3)", l->sprite, l->sprite);
		return -EINVAL;
	}
	return 0;
}

int
cmd_parse(const char *line, const char *selected, struct cmd_line *ret, char **cause)
{
	struct cmd_line l = { 0 };
	char **w = NULL, **a;
	size_t n = 0, na, i, k;
	int r;

	r = cmd_split(line, &w, &n);
	if (r < 0) {
		*cause = xstrdup("a quote is not closed");
		return r;
	}
	if (n == 0) {
		*cause = xstrdup("type a command, e.g. :fork base@v3 a b (see :help)");
		r = -EINVAL;
		goto out;
	}
	for (k = 0; k < sizeof cmd_table / sizeof cmd_table[0]; k++) {
		if (strcmp(w[0], cmd_table[k].name) == 0 ||
		    (cmd_table[k].alias != NULL && strcmp(w[0], cmd_table[k].alias) == 0))
			break;
	}
	if (k == sizeof cmd_table / sizeof cmd_table[0]) {
		*cause = xasprintf("unknown command '%s' (see :help)", w[0]);
		r = -EINVAL;
		goto out;
	}
	a = w + 1;
	na = n - 1;
	if ((int)na < cmd_table[k].min || (cmd_table[k].max >= 0 && (int)na > cmd_table[k].max)) {
		*cause = xasprintf("usage: :%s", cmd_table[k].usage);
		r = -EINVAL;
		goto out;
	}
	l.verb = cmd_table[k].verb;
	switch (l.verb) {
	case CMD_FORK:
		r = cmd_target(a[0], 1, 0, &l, cause);
		if (r < 0)
			goto out;
		l.names = xcalloc(na, sizeof *l.names);
		for (i = 1; i < na; i++) {
			if (!cmd_name_ok(a[i])) {
				*cause = xasprintf("'%s' is not a sprite name", a[i]);
				r = -EINVAL;
				goto out;
			}
			for (size_t j = 0; j < l.nnames; j++) {
				if (strcmp(l.names[j], a[i]) == 0) {
					*cause = xasprintf("'%s' is named twice", a[i]);
					r = -EINVAL;
					goto out;
				}
			}
			l.names[l.nnames++] = xstrdup(a[i]);
		}
		break;
	case CMD_SLEEP:
	case CMD_WAKE:
	case CMD_START:
	case CMD_STOP:
	case CMD_DESTROY:
	case CMD_CONSOLE:
		if (na == 1 && (r = cmd_target(a[0], 0, 0, &l, cause)) < 0)
			goto out;
		r = cmd_need_selected(&l, selected, cmd_table[k].usage, cause);
		break;
	case CMD_CHECKPOINT:
		/* -m (--memory): the guest's memory too, so a restore resumes
		 * its processes. */
		if (na >= 1 && (strcmp(a[0], "-m") == 0 || strcmp(a[0], "--memory") == 0)) {
			l.memory = 1;
			a++;
			na--;
		}
		if (na >= 1 && a[0][0] == '-') {
			*cause = xasprintf("unknown option '%s' (usage: :%s)", a[0],
			    cmd_table[k].usage);
			r = -EINVAL;
			goto out;
		}
		if (na >= 1 && (r = cmd_target(a[0], 0, 0, &l, cause)) < 0)
			goto out;
		r = cmd_need_selected(&l, selected, cmd_table[k].usage, cause);
		if (r == 0 && na > 1)
			l.text = cmd_join(a + 1, na - 1);
		break;
	case CMD_RESTORE:
	case CMD_DELETE:
		r = cmd_ckpt_args(a, na, l.verb == CMD_RESTORE, &l, cause);
		if (r == 0)
			r = cmd_need_selected(&l, selected, cmd_table[k].usage, cause);
		break;
	case CMD_TEMPLATE:
		if (!cmd_name_ok(a[0])) {
			*cause = xasprintf("'%s' is not a template name", a[0]);
			r = -EINVAL;
			goto out;
		}
		l.names = xcalloc(1, sizeof *l.names);
		l.names[l.nnames++] = xstrdup(a[0]);
		if (na == 2 && (r = cmd_target(a[1], 1, 0, &l, cause)) < 0)
			goto out;
		r = cmd_need_selected(&l, selected, cmd_table[k].usage, cause);
		break;
	case CMD_CREATE:
		if ((r = cmd_target(a[0], 0, 0, &l, cause)) < 0)
			goto out;
		if (na == 2 && strcmp(a[1], "-t") != 0) {
			l.text = xstrdup(a[1]);
		} else if (na == 3 && strcmp(a[1], "-t") == 0 && cmd_name_ok(a[2])) {
			l.tmpl = xstrdup(a[2]);
		} else if (na != 1) {
			*cause = xasprintf("usage: :%s", cmd_table[k].usage);
			r = -EINVAL;
		}
		break;
	case CMD_FILTER:
		l.text = cmd_join(a, na);
		break;
	default:
		break;
	}
out:
	cmd_words_free(w);
	if (r < 0) {
		cmd_line_done(&l);
		return r;
	}
	*ret = l;
	return 0;
}

void
cmd_line_done(struct cmd_line *l)
{
	for (size_t i = 0; i < l->nnames; i++)
		free(l->names[i]);
	free(l->names);
	free(l->sprite);
	free(l->ckpt);
	free(l->text);
	free(l->tmpl);
	memset(l, 0, sizeof *l);
}
