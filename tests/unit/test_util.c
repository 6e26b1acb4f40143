/* Unit tests for common/util: durations, sizes, process facts. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"

static void
test_duration(void **state)
{
	static const struct {
		const char	*in;
		int64_t		 want;	/* -1: refused */
	} cases[] = {
		{ "0", 0 }, { "90", 90 }, { "90s", 90 }, { "5m", 300 }, { "2h", 7200 },
		{ "1d", 86400 }, { "366d", 366 * 86400 }, { "367d", -1 }, { "", -1 },
		{ "m", -1 }, { "-5", -1 }, { "5x", -1 }, { "5mm", -1 }, { "1.5h", -1 },
		{ " 5", -1 }, { "99999999999999999999", -1 },
	};
	static const struct {
		int64_t		 s;
		const char	*want;
	} shows[] = {
		{ 0, "0s" }, { 45, "45s" }, { 60, "1m" }, { 90, "1m30s" }, { 300, "5m" },
		{ 3600, "1h" }, { 8100, "2h15m" }, { 86400 * 3 + 5, "3d" }, { -4, "0s" },
	};
	char out[32];
	int64_t v;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		v = -1;
		if (cases[i].want < 0) {
			assert_int_equal(duration_parse(cases[i].in, &v), -EINVAL);
			assert_int_equal(v, -1);	/* untouched */
		} else {
			assert_int_equal(duration_parse(cases[i].in, &v), 0);
			assert_int_equal(v, cases[i].want);
		}
	}
	for (size_t i = 0; i < sizeof shows / sizeof shows[0]; i++) {
		duration_format(shows[i].s, out, sizeof out);
		assert_string_equal(out, shows[i].want);
	}
}

static void
test_size(void **state)
{
	static const struct {
		const char	*in;
		int64_t		 want;	/* -1: refused */
	} cases[] = {
		{ "512", 512 }, { "512M", 512 }, { "512MiB", 512 }, { "2G", 2048 },
		{ "1T", 1048576 }, { "0", 0 }, { "", -1 }, { "G", -1 }, { "-1G", -1 },
		{ "2g", -1 }, { "1.5G", -1 }, { "2GB", -1 }, { "99999999999G", -1 },
	};
	int64_t v;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		v = -1;
		if (cases[i].want < 0) {
			assert_int_equal(size_parse_mib(cases[i].in, &v), -EINVAL);
			assert_int_equal(v, -1);
		} else {
			assert_int_equal(size_parse_mib(cases[i].in, &v), 0);
			assert_int_equal(v, cases[i].want);
		}
	}
}

/* A process's start time and usage, read past a command name that holds
 * spaces and parentheses. */
static void
test_proc(void **state)
{
	uint64_t start = 0, again = 0, cpu = 0, rss = 0;
	int fds[2], status;
	pid_t pid;
	char c;

	assert_int_equal(proc_usage(getpid(), &cpu, &rss), 0);
	assert_true(rss > 100);	/* kB: this test is resident */
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_NAME, "x) (y z", 0, 0, 0);
		if (write(fds[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(fds[0], &c, 1), 1);
	assert_int_equal(proc_start_time(pid, &start), 0);
	assert_true(start > 0);
	assert_int_equal(proc_usage(pid, &cpu, &rss), 0);
	assert_true(rss > 0);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(proc_start_time(pid, &again), -ENOENT);
	assert_int_equal(proc_usage(pid, &cpu, &rss), -ENOENT);
	close(fds[0]);
	close(fds[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_proc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
