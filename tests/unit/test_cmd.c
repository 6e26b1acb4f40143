/*
 * test_cmd: the dashboard's ':' commands. A misread command acts on the
 * wrong sprite or checkpoint (a restore is not something to get wrong), and
 * a bad one must say what is wrong rather than do something.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tui/cmd.h"

static void
test_fork_many(void **state)
{
	struct cmd_line l;
	char *cause = NULL;

	assert_int_equal(cmd_parse("fork base@v3 a b c", "other", &l, &cause), 0);
	assert_int_equal(l.verb, CMD_FORK);
	assert_string_equal(l.sprite, "base");
	assert_string_equal(l.ckpt, "v3");
	assert_int_equal(l.nnames, 3);
	assert_string_equal(l.names[0], "a");
	assert_string_equal(l.names[2], "c");
	cmd_line_done(&l);

	/* No checkpoint: from where the sprite is now. */
	assert_int_equal(cmd_parse("  fork   dev  x ", NULL, &l, &cause), 0);
	assert_string_equal(l.sprite, "dev");
	assert_null(l.ckpt);
	assert_int_equal(l.nnames, 1);
	cmd_line_done(&l);
}

static void
expect_bad(const char *line, const char *selected, const char *want)
{
	struct cmd_line l;
	char *cause = NULL;

	assert_int_equal(cmd_parse(line, selected, &l, &cause), -EINVAL);
	assert_non_null(cause);
	if (strstr(cause, want) == NULL)
		fail_msg("'%s': expected [%s] in [%s]", line, want, cause);
	free(cause);
}

static void
test_bad_commands(void **state)
{
	expect_bad("", "dev", "type a command");
	expect_bad("frok base a", "dev", "unknown command 'frok'");
	expect_bad("fork base", "dev", "usage: :fork SPRITE[@vN] NAME...");
	expect_bad("fork base@3 a", "dev", "'3' is not a checkpoint id");
	expect_bad("fork base@v3 a a", "dev", "'a' is named twice");
	expect_bad("fork base@v3 a/b", "dev", "'a/b' is not a sprite name");
	expect_bad("sleep a b", "dev", "usage: :sleep [SPRITE]");
	expect_bad("sleep", NULL, "no sprite selected");
	expect_bad("sleep dev@v2", NULL, "a checkpoint makes no sense here");
	expect_bad("destroy", "dev", "usage: :destroy SPRITE");
	expect_bad("restore dev", "dev", "which checkpoint of dev?");
	expect_bad("restore dev x", "dev", "'x' is not a checkpoint id");
	expect_bad("checkpoint dev \"open", "dev", "a quote is not closed");
	expect_bad("quit now", "dev", "usage: :quit");
	expect_bad("create a -t", "dev", "usage: :create");
}

static void
test_selected_default(void **state)
{
	struct cmd_line l;
	char *cause = NULL;

	assert_int_equal(cmd_parse("sleep dev", "other", &l, &cause), 0);
	assert_int_equal(l.verb, CMD_SLEEP);
	assert_string_equal(l.sprite, "dev");
	cmd_line_done(&l);

	assert_int_equal(cmd_parse("wake", "sel", &l, &cause), 0);
	assert_int_equal(l.verb, CMD_WAKE);
	assert_string_equal(l.sprite, "sel");
	cmd_line_done(&l);

	assert_int_equal(cmd_parse("restore v2", "sel", &l, &cause), 0);
	assert_string_equal(l.sprite, "sel");
	assert_string_equal(l.ckpt, "v2");
	cmd_line_done(&l);

	assert_int_equal(cmd_parse("restore dev@undo", "sel", &l, &cause), 0);
	assert_string_equal(l.sprite, "dev");
	assert_string_equal(l.ckpt, "undo");
	cmd_line_done(&l);

	assert_int_equal(cmd_parse("rm dev v4", "sel", &l, &cause), 0);
	assert_int_equal(l.verb, CMD_DELETE);
	assert_string_equal(l.sprite, "dev");
	assert_string_equal(l.ckpt, "v4");
	cmd_line_done(&l);
}

static void
test_comment_and_create(void **state)
{
	struct cmd_line l;
	char *cause = NULL;

	assert_int_equal(cmd_parse("checkpoint dev tests \"now pass\"", NULL, &l, &cause), 0);
	assert_int_equal(l.verb, CMD_CHECKPOINT);
	assert_string_equal(l.sprite, "dev");
	assert_string_equal(l.text, "tests now pass");
	assert_int_equal(l.memory, 0);
	cmd_line_done(&l);

	/* -m: with the guest's memory, on the named or the selected sprite. */
	assert_int_equal(cmd_parse("checkpoint -m dev warm cache", "sel", &l, &cause), 0);
	assert_int_equal(l.verb, CMD_CHECKPOINT);
	assert_int_equal(l.memory, 1);
	assert_string_equal(l.sprite, "dev");
	assert_string_equal(l.text, "warm cache");
	cmd_line_done(&l);
	assert_int_equal(cmd_parse("cp --memory", "sel", &l, &cause), 0);
	assert_int_equal(l.memory, 1);
	assert_string_equal(l.sprite, "sel");
	assert_null(l.text);
	cmd_line_done(&l);
	expect_bad("checkpoint -m", NULL, "no sprite selected");
	expect_bad("checkpoint -x dev", "dev", "unknown option '-x'");

	assert_int_equal(cmd_parse("create box debian", NULL, &l, &cause), 0);
	assert_int_equal(l.verb, CMD_CREATE);
	assert_string_equal(l.sprite, "box");
	assert_string_equal(l.text, "debian");
	assert_null(l.tmpl);
	cmd_line_done(&l);

	assert_int_equal(cmd_parse("new box -t node-base", NULL, &l, &cause), 0);
	assert_string_equal(l.tmpl, "node-base");
	assert_null(l.text);
	cmd_line_done(&l);

	assert_int_equal(cmd_parse("template tpl dev@v1", "x", &l, &cause), 0);
	assert_int_equal(l.verb, CMD_TEMPLATE);
	assert_string_equal(l.names[0], "tpl");
	assert_string_equal(l.sprite, "dev");
	assert_string_equal(l.ckpt, "v1");
	cmd_line_done(&l);

	assert_int_equal(cmd_parse("q", NULL, &l, &cause), 0);
	assert_int_equal(l.verb, CMD_QUIT);
	cmd_line_done(&l);
}

static void
test_split(void **state)
{
	char **w;
	size_t n;

	assert_int_equal(cmd_split("a 'b c'd \"\" e", &w, &n), 0);
	assert_int_equal(n, 4);
	assert_string_equal(w[1], "b cd");
	assert_string_equal(w[2], "");
	assert_null(w[4]);
	cmd_words_free(w);
	assert_true(cmd_is_ckpt("v12"));
	assert_false(cmd_is_ckpt("v"));
	assert_false(cmd_is_ckpt("v1x"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fork_many),
		cmocka_unit_test(test_bad_commands),
		cmocka_unit_test(test_selected_default),
		cmocka_unit_test(test_comment_and_create),
		cmocka_unit_test(test_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
