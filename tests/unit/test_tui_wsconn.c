/*
 * test_tui_wsconn: which shell a console re-attaches to. From a sprite's
 * session list the dashboard must pick its own console shell that still
 * runs (never a user's `sprig exec -d`, a pipe session, or one that ended),
 * an unattended one before one another client holds, the newest of those;
 * and say when there is none or the answer is not a list.
 *
 * The module is compiled in here: tests/CMakeLists.txt links a test without
 * an entry of its own against the API and the CLI, which is all it needs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tui/wsconn.c"

#define CONSOLE	"\"command\":\"" WSCONN_CONSOLE_COMMAND "\""

static int
find(const char *body, char **id)
{
	*id = NULL;
	return wsconn_find_console(body, strlen(body), id);
}

static void
test_picks_newest_live_console(void **state)
{
	const char *body = "{\"sessions\":["
	    "{\"id\":\"1\"," CONSOLE ",\"tty\":true,\"attached\":false,\"exited\":false},"
	    "{\"id\":\"2\",\"command\":\"/bin/sh -l\",\"tty\":true,\"attached\":false,"
	    "\"exited\":false},"
	    "{\"id\":\"3\"," CONSOLE ",\"tty\":true,\"attached\":false,\"exited\":false},"
	    "{\"id\":\"4\"," CONSOLE ",\"tty\":true,\"attached\":false,\"exited\":true,"
	    "\"reason\":\"the sprite went to sleep\"},"
	    "{\"id\":\"5\"," CONSOLE ",\"tty\":false,\"attached\":false,\"exited\":false}"
	    "],\"count\":5}";
	char *id;

	(void)state;
	assert_int_equal(find(body, &id), 0);
	assert_string_equal(id, "3");
	free(id);
}

static void
test_prefers_unattached(void **state)
{
	const char *held_newest = "{\"sessions\":["
	    "{\"id\":\"7\"," CONSOLE ",\"tty\":true,\"attached\":false,\"exited\":false},"
	    "{\"id\":\"8\"," CONSOLE ",\"tty\":true,\"attached\":true,\"exited\":false}]}";
	const char *all_held = "{\"sessions\":["
	    "{\"id\":\"7\"," CONSOLE ",\"tty\":true,\"attached\":true,\"exited\":false},"
	    "{\"id\":\"8\"," CONSOLE ",\"tty\":true,\"attached\":true,\"exited\":false}]}";
	char *id;

	(void)state;
	assert_int_equal(find(held_newest, &id), 0);
	assert_string_equal(id, "7");
	free(id);
	/* Held elsewhere only: taken over, as a second attach does. */
	assert_int_equal(find(all_held, &id), 0);
	assert_string_equal(id, "8");
	free(id);
}

static void
test_none(void **state)
{
	const char *others = "{\"sessions\":["
	    "{\"id\":\"1\",\"command\":\"sleep 100\",\"tty\":true,\"exited\":false},"
	    "{\"id\":\"2\"," CONSOLE ",\"tty\":true,\"exited\":true,\"exit_code\":0}]}";
	char *id;

	(void)state;
	assert_int_equal(find("{\"sessions\":[],\"count\":0}", &id), -ENOENT);
	assert_null(id);
	assert_int_equal(find(others, &id), -ENOENT);
	assert_null(id);
	assert_int_equal(find("{\"error\":\"not found\"}", &id), -EBADMSG);
	assert_int_equal(find("<html>", &id), -EBADMSG);
	assert_null(id);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_picks_newest_live_console),
		cmocka_unit_test(test_prefers_unattached),
		cmocka_unit_test(test_none),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
