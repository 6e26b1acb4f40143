/* cli/session.c: the sessions table, a session's tty, a kill's answer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/session.h"

static const char list_json[] =
    "{\"sessions\":["
    "{\"id\":\"3\",\"command\":\"sh -c x\",\"created\":\"2026-11-23T06:00:00Z\","
    "\"tty\":true,\"exited\":false,\"attached\":false},"
    "{\"id\":\"4\",\"command\":\"false\",\"created\":\"2026-11-23T06:00:00Z\","
    "\"tty\":false,\"exited\":true,\"exit_code\":1},"
    "{\"id\":\"5\",\"command\":\"sleep 9\",\"created\":\"2026-11-23T06:00:00Z\","
    "\"exited\":true,\"reason\":\"sprite slept\"}]}";

static void
test_table(void **state)
{
	cJSON *j = cJSON_Parse(list_json), *empty = cJSON_Parse("{\"sessions\":[]}");
	char *t = session_table(j, 1795413660);	/* 1 min after creation */

	assert_non_null(strstr(t, "ID     STATE"));
	assert_non_null(strstr(t, "3      running    yes  1m ago     sh -c x\n"));
	assert_non_null(strstr(t, "4      exited 1   no"));
	assert_non_null(strstr(t, "5      ended      no   1m ago     sleep 9 (sprite slept)\n"));
	free(t);
	t = session_table(empty, 0);
	assert_string_equal(t, "");
	free(t);
	assert_int_equal(session_tty(j, "3"), 1);
	assert_int_equal(session_tty(j, "4"), 0);
	assert_int_equal(session_tty(j, "9"), -ENOENT);
	cJSON_Delete(j);
	cJSON_Delete(empty);
}

static void
test_kill_result(void **state)
{
	static const char ok[] = "{\"type\":\"signal\",\"signal\":\"SIGTERM\"}\n"
	    "{\"type\":\"exited\",\"exit_code\":143}\n{\"type\":\"complete\"}\n";
	static const char lost[] = "{\"type\":\"exited\",\"message\":\"slept\"}\n"
	    "{\"type\":\"complete\"}";
	static const char cut[] = "{\"type\":\"signal\"}\n";
	char *cause = NULL;
	int code = 0;

	assert_int_equal(session_kill_result(ok, sizeof ok - 1, &code, &cause), 0);
	assert_int_equal(code, 143);
	assert_int_equal(session_kill_result(lost, sizeof lost - 1, &code, &cause), 0);
	assert_int_equal(code, -1);
	assert_int_equal(session_kill_result(cut, sizeof cut - 1, &code, &cause), -EBADMSG);
	assert_non_null(cause);
	free(cause);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_kill_result),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
