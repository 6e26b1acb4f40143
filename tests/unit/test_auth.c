/* API tokens (api/auth.c) on a real database, and the TCP listener's
 * address (api/listen.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/auth.h"
#include "api/listen.h"
#include "common/util.h"
#include "common/xmalloc.h"

struct fixture {
	char		 dir[64];
	struct store	*store;
	struct auth	*au;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	char *path, *cause = NULL;

	snprintf(f->dir, sizeof f->dir, "/tmp/sprig-test-auth.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	path = xasprintf("%s/sprig.db", f->dir);
	assert_int_equal(store_open(path, &f->store, &cause), 0);
	f->au = auth_new(f->store);
	free(path);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	auth_free(f->au);
	store_close(f->store);
	rm_rf(f->dir);
	free(f);
	return 0;
}

static void
test_hash(void **state)
{
	char out[65];

	auth_hash("abc", out);
	assert_string_equal(out,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void
test_names(void **state)
{
	char long_name[AUTH_NAME_MAX + 2];

	assert_true(auth_name_valid("ci"));
	assert_true(auth_name_valid("laptop.home_2-x"));
	assert_false(auth_name_valid(""));
	assert_false(auth_name_valid("a/b"));
	assert_false(auth_name_valid("a b"));
	assert_false(auth_name_valid("caf\xc3\xa9"));
	memset(long_name, 'a', AUTH_NAME_MAX);
	long_name[AUTH_NAME_MAX] = '\0';
	assert_true(auth_name_valid(long_name));
	long_name[AUTH_NAME_MAX] = 'a';
	long_name[AUTH_NAME_MAX + 1] = '\0';
	assert_false(auth_name_valid(long_name));
}

/* auth_check of "Bearer @token" (or of @header as is, when @token is NULL). */
static int
check(struct auth *au, const char *header, const char *token)
{
	char *h = token ? xasprintf("Bearer %s", token) : xstrdup(header), *cause = NULL;
	int r = auth_check(au, h, &cause);

	assert_true(r == 0 ? cause == NULL : cause != NULL && *cause != '\0');
	free(cause);
	free(h);
	return r;
}

static void
test_lifecycle(void **state)
{
	struct fixture *f = *state;
	char *token = NULL, *name = NULL, *other = NULL, *oname = NULL, *cause = NULL;
	struct token_row *rows = NULL;
	int64_t created = 0;
	size_t n = 0;

	assert_int_equal(auth_token_create(f->au, "ci", &token, &name, &created, &cause), 0);
	assert_string_equal(name, "ci");
	assert_int_equal(strlen(token), AUTH_TOKEN_LEN);
	assert_memory_equal(token, AUTH_TOKEN_PREFIX, strlen(AUTH_TOKEN_PREFIX));
	assert_true(created > 0);
	assert_int_equal(check(f->au, NULL, token), 0);
	assert_int_equal(check(f->au, "bearer  ", NULL), -EACCES);

	/* Unnamed: a generated name, and a different secret. */
	assert_int_equal(auth_token_create(f->au, NULL, &other, &oname, &created, &cause), 0);
	assert_memory_equal(oname, "token-", 6);
	assert_string_not_equal(token, other);
	assert_int_equal(check(f->au, NULL, other), 0);

	assert_int_equal(auth_token_create(f->au, "ci", &other, &oname, &created, &cause), -EEXIST);
	assert_non_null(strstr(cause, "already exists"));
	free(cause);
	cause = NULL;
	assert_int_equal(auth_token_create(f->au, "a/b", &other, &oname, &created, &cause), -EINVAL);
	free(cause);
	cause = NULL;

	assert_int_equal(auth_token_list(f->au, &rows, &n, &cause), 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].name, "ci");
	token_rows_free(rows, n);

	assert_int_equal(auth_token_revoke(f->au, "ci", &cause), 0);
	assert_int_equal(check(f->au, NULL, token), -EACCES);
	assert_int_equal(check(f->au, NULL, other), 0);
	assert_int_equal(auth_token_revoke(f->au, "ci", &cause), -ENOENT);
	assert_non_null(strstr(cause, "no token named"));
	free(cause);
	free(token);
	free(name);
	free(other);
	free(oname);
}

static void
test_bad_headers(void **state)
{
	struct fixture *f = *state;
	char *cause = NULL, zeros[AUTH_TOKEN_LEN + 1];

	assert_int_equal(auth_check(f->au, NULL, &cause), -EACCES);
	assert_non_null(strstr(cause, "sprig token create"));
	free(cause);
	assert_int_equal(check(f->au, "Basic dXNlcjpwYXNz", NULL), -EACCES);
	assert_int_equal(check(f->au, "Bearer", NULL), -EACCES);
	assert_int_equal(check(f->au, NULL, "sprig_short"), -EACCES);
	memset(zeros, '0', AUTH_TOKEN_LEN);
	zeros[AUTH_TOKEN_LEN] = '\0';
	assert_int_equal(check(f->au, NULL, zeros), -EACCES);	/* no prefix */
	memcpy(zeros, AUTH_TOKEN_PREFIX, strlen(AUTH_TOKEN_PREFIX));
	assert_int_equal(check(f->au, NULL, zeros), -EACCES);	/* never made */
}

static void
expect_parse(const char *spec, const char *host, const char *port)
{
	char *h = NULL, *p = NULL;

	assert_int_equal(listen_parse(spec, &h, &p), 0);
	assert_string_equal(h, host);
	assert_string_equal(p, port);
	free(h);
	free(p);
}

static void
test_listen_parse(void **state)
{
	const char *bad[] = { "", "7777", "127.0.0.1", "127.0.0.1:", "127.0.0.1:x",
	    "127.0.0.1:99999", "::1:7777", "[::1:7777", "host:123456" };
	char *h = NULL, *p = NULL;

	expect_parse("127.0.0.1:7777", "127.0.0.1", "7777");
	expect_parse("[::1]:80", "::1", "80");
	expect_parse("localhost:1", "localhost", "1");
	expect_parse(":7777", "", "7777");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(listen_parse(bad[i], &h, &p), -EINVAL);
}

static void
test_listen_loopback_only(void **state)
{
	char *cause = NULL;
	int fd = -1, loopback = -1;

	assert_int_equal(listen_tcp("0.0.0.0:0", 0, &fd, &loopback, &cause), -EPERM);
	assert_non_null(strstr(cause, "--listen-any"));
	free(cause);
	cause = NULL;
	assert_int_equal(listen_tcp("127.0.0.1:0", 0, &fd, &loopback, &cause), 0);
	assert_int_equal(loopback, 1);
	close(fd);
	assert_int_equal(listen_tcp("0.0.0.0:0", 1, &fd, &loopback, &cause), 0);
	assert_int_equal(loopback, 0);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_headers, setup, teardown),
		cmocka_unit_test(test_listen_parse),
		cmocka_unit_test(test_listen_loopback_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
