/*
 * test_proxy: what a forwarded connection's two ends parse: the API's first
 * message {"host"?, "port"} (api/proxy.c) and `sprig proxy`'s PORT or
 * LOCAL:REMOTE (cli/proxy.c). A bad one must be refused with a sentence,
 * never taken for a different port.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/api_internal.h"
#include "cli/proxy.h"

static int
target(const char *text, char **host, uint16_t *port, char **cause)
{
	*host = NULL;
	*cause = NULL;
	return proxy_parse_target(text, strlen(text), host, port, cause);
}

static void
test_target_good(void **state)
{
	char *host, *cause;
	uint16_t port;

	assert_int_equal(target("{\"host\":\"localhost\",\"port\":8080}", &host, &port,
	    &cause), 0);
	assert_string_equal(host, "localhost");
	assert_int_equal(port, 8080);
	free(host);
	/* No host (or null): localhost, inside the sprite. */
	assert_int_equal(target("{\"port\":1}", &host, &port, &cause), 0);
	assert_string_equal(host, "localhost");
	assert_int_equal(port, 1);
	free(host);
	assert_int_equal(target("{\"port\":65535,\"host\":null}", &host, &port, &cause), 0);
	assert_int_equal(port, 65535);
	free(host);
	assert_int_equal(target("{\"host\":\"::1\",\"port\":22}", &host, &port, &cause), 0);
	assert_string_equal(host, "::1");
	free(host);
}

static void
test_target_bad(void **state)
{
	static const char *const bad[] = {
		"", "not json", "[]", "8080", "{}", "{\"host\":\"localhost\"}",
		"{\"port\":0}", "{\"port\":65536}", "{\"port\":-1}", "{\"port\":80.5}",
		"{\"port\":\"80\"}", "{\"port\":1e10}", "{\"host\":\"\",\"port\":80}",
		"{\"host\":7,\"port\":80}", "{\"host\":\"a b\",\"port\":80}",
		"{\"host\":\"a/b\",\"port\":80}",
	};
	char *host, *cause;
	uint16_t port;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(target(bad[i], &host, &port, &cause), -EINVAL);
		assert_null(host);
		assert_non_null(cause);
		free(cause);
	}
}

static void
test_ports_good(void **state)
{
	uint16_t local = 0, remote = 0;
	char *cause = NULL;

	assert_int_equal(proxy_parse_ports("8080", &local, &remote, &cause), 0);
	assert_int_equal(local, 8080);
	assert_int_equal(remote, 8080);
	assert_int_equal(proxy_parse_ports("3000:80", &local, &remote, &cause), 0);
	assert_int_equal(local, 3000);
	assert_int_equal(remote, 80);
	/* LOCAL 0: any free port. */
	assert_int_equal(proxy_parse_ports("0:65535", &local, &remote, &cause), 0);
	assert_int_equal(local, 0);
	assert_int_equal(remote, 65535);
}

static void
test_ports_bad(void **state)
{
	static const char *const bad[] = {
		"", "0", "65536", "70000", "-1", "+80", " 80", "80 ", "http", "80:",
		":80", "80:0", "80:65536", "65536:80", "1:2:3", "a:80", "80:a", "8o",
		"99999999999999999999",
	};
	uint16_t local = 7, remote = 7;
	char *cause;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cause = NULL;
		assert_int_equal(proxy_parse_ports(bad[i], &local, &remote, &cause), -EINVAL);
		assert_non_null(cause);
		free(cause);
		assert_int_equal(local, 7);
		assert_int_equal(remote, 7);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_target_good),
		cmocka_unit_test(test_target_bad),
		cmocka_unit_test(test_ports_good),
		cmocka_unit_test(test_ports_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
