/* Sprite name validation: DNS labels only. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/names.h"

static void
expect_bad(const char *name, const char *fragment)
{
	char *cause = NULL;

	assert_int_equal(name_check(name, &cause), -EINVAL);
	assert_non_null(cause);
	assert_non_null(strstr(cause, fragment));
	free(cause);
}

static void
test_good_names(void **state)
{
	const char *good[] = { "a", "dev", "try-a", "x1", "0", "a-b-c",
	    "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0" };
	char *cause = NULL;

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		assert_int_equal(name_check(good[i], &cause), 0);
		assert_null(cause);
	}
}

static void
test_bad_names(void **state)
{
	char long_name[70];

	expect_bad("", "needs a name");
	expect_bad(NULL, "needs a name");
	expect_bad("Dev", "lower case");
	expect_bad("../x", "only a-z");
	expect_bad("a b", "only a-z");
	expect_bad("a_b", "only a-z");
	expect_bad("a.b", "only a-z");
	expect_bad("-a", "start or end");
	expect_bad("a-", "start or end");
	expect_bad("caf\xc3\xa9", "only a-z");
	memset(long_name, 'a', 64);
	long_name[64] = '\0';
	expect_bad(long_name, "at most 63");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_names),
		cmocka_unit_test(test_bad_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
