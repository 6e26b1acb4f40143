/*
 * test_buf: the byte buffer and its reader, where a mistake corrupts every
 * wire message built on them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"

static void
test_printf_short_and_long(void **state)
{
	char big[1000];
	struct buf b;

	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	buf_init(&b);
	buf_add_printf(&b, "%s=%d", "a", 1);
	assert_string_equal(buf_cstr(&b), "a=1");
	/* Longer than any first guess at the free space. */
	buf_add_printf(&b, "[%s]", big);
	assert_int_equal(buf_used(&b), 3 + 2 + strlen(big));
	assert_memory_equal(buf_head(&b) + 4, big, strlen(big));
	assert_int_equal(buf_head(&b)[buf_used(&b) - 1], ']');
	/* Nothing at all adds nothing. */
	buf_add_printf(&b, "%s", "");
	assert_int_equal(buf_used(&b), 3 + 2 + strlen(big));
	buf_done(&b);
}

/* After a partial consume the buffer may compact while formatting. */
static void
test_printf_after_consume(void **state)
{
	struct buf b;
	char want[400];

	buf_init(&b);
	for (int i = 0; i < 250; i++)
		buf_add_u8(&b, 'a');
	buf_consume(&b, 200);
	buf_add_printf(&b, "%0300d", 7);
	memset(want, 'a', 50);
	memset(want + 50, '0', 299);
	want[349] = '7';
	assert_int_equal(buf_used(&b), 350);
	assert_memory_equal(buf_head(&b), want, 350);
	buf_done(&b);
}

static void
test_reader_bounds(void **state)
{
	static const uint8_t p[] = { 1, 0, 0, 0, 'x', 0xff, 0xff, 0xff, 0x7f };
	struct rd r;
	char *s;

	rd_init(&r, p, sizeof p);
	s = rd_str(&r, 16);
	assert_string_equal(s, "x");
	free(s);
	assert_null(rd_str(&r, 16));	/* a length past the end */
	assert_true(r.err);
	assert_int_equal(rd_u32(&r), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_printf_short_and_long),
		cmocka_unit_test(test_printf_after_consume),
		cmocka_unit_test(test_reader_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
