/* Unit tests for common/util: durations, sizes, process facts, sparse copies,
 * whole-file writes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"
#include "common/xmalloc.h"

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

/* Whether a process has a file open: what start-up asks of a VM to tell
 * whether a checkpoint cut off by a crash reached it. */
/* The directory to sync after making a file: never "" for a root file. */
static void
test_path_dir(void **state)
{
	const char *cases[][2] = {
		{ "/a/b/c.qcow2", "/a/b" }, { "/c", "/" }, { "c", "." }, { "a/c", "a" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *d = path_dir(cases[i][0]);

		assert_string_equal(d, cases[i][1]);
		free(d);
	}
}

static void
test_proc_has_open(void **state)
{
	char path[] = "/tmp/sprig-test-util.XXXXXX", *other;
	int fd = mkstemp(path), fd2;

	assert_true(fd >= 0);
	other = xasprintf("%s.other", path);
	fd2 = open(other, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd2 >= 0);
	close(fd2);
	assert_int_equal(proc_has_open(getpid(), path), 1);
	assert_int_equal(proc_has_open(getpid(), other), 0);
	close(fd);
	assert_int_equal(proc_has_open(getpid(), path), 0);
	unlink(other);
	assert_int_equal(proc_has_open(getpid(), other), -ENOENT);
	assert_int_equal(proc_has_open(999999999, path), -ENOENT);
	unlink(path);
	free(other);
}

#define MIB	(1 << 20)

/* Copies @src_path (@size bytes) step by step into a new file of its size;
 * returns the number of steps, and checks the bytes and holes. */
static int
sparse_copy_check(const char *src_path, const char *dst_path, off_t size, size_t max)
{
	int src = open(src_path, O_RDONLY), dst, r, steps = 0;
	char *a = malloc((size_t)size), *b = malloc((size_t)size);
	struct stat sst, dstt;
	off_t off = 0;

	assert_true(src >= 0);
	dst = open(dst_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(dst >= 0);
	assert_int_equal(ftruncate(dst, size), 0);
	do {
		r = copy_sparse_step(src, dst, &off, size, max);
		assert_true(r == 0 || r == 1);
		steps++;
		assert_true(steps < 1000);
	} while (r == 0);
	assert_int_equal(pread(src, a, (size_t)size, 0), size);
	assert_int_equal(pread(dst, b, (size_t)size, 0), size);
	assert_memory_equal(a, b, (size_t)size);
	/* The holes stayed holes: no more blocks than the source. */
	assert_int_equal(fstat(src, &sst), 0);
	assert_int_equal(fstat(dst, &dstt), 0);
	assert_true(dstt.st_blocks <= sst.st_blocks);
	assert_int_equal(dstt.st_size, size);
	close(src);
	close(dst);
	free(a);
	free(b);
	return steps;
}

static void
put(int fd, off_t off, size_t len, int seed)
{
	char *buf = malloc(len);

	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(i * 31 + (size_t)seed);
	assert_int_equal(pwrite(fd, buf, len, off), (ssize_t)len);
	free(buf);
}

static void
test_copy_sparse(void **state)
{
	char dir[] = "/tmp/sprig-test-sparse.XXXXXX", src[64], dst[64];
	off_t size = 64 * MIB;
	int fd, steps;

	assert_non_null(mkdtemp(dir));
	snprintf(src, sizeof src, "%s/src", dir);
	snprintf(dst, sizeof dst, "%s/dst", dir);
	/* Data at the start, small extents, one across several steps, one
	 * far past a step's end, and the last page. */
	fd = open(src, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	put(fd, 0, 4096, 1);
	put(fd, MIB, MIB / 2, 2);
	put(fd, 3 * MIB - 4096, 8192, 3);
	put(fd, 10 * MIB, 9 * MIB + 123, 4);
	put(fd, 40 * MIB, 4096, 5);
	put(fd, size - 4096, 4096, 6);
	close(fd);
	steps = sparse_copy_check(src, dst, size, 4 * MIB);
	assert_true(steps >= 3);	/* 9.6 MiB of data, 4 MiB a step */
	/* One step for all of it. */
	assert_int_equal(sparse_copy_check(src, dst, size, (size_t)size), 1);

	/* Ending in a hole; and no data at all. */
	fd = open(src, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(ftruncate(fd, 8 * MIB), 0);
	put(fd, 5000, 100, 7);
	close(fd);
	sparse_copy_check(src, dst, 8 * MIB, MIB);

	/* A whole file: bytes, size and holes, into a new file only. */
	{
		char *a = malloc(8 * MIB), *b = malloc(8 * MIB);
		struct stat sst, dstt;

		unlink(dst);
		assert_int_equal(copy_sparse_file(src, dst), 0);
		fd = open(dst, O_RDONLY);
		assert_int_equal(pread(fd, b, 8 * MIB, 0), 8 * MIB);
		assert_int_equal(fstat(fd, &dstt), 0);
		close(fd);
		fd = open(src, O_RDONLY);
		assert_int_equal(pread(fd, a, 8 * MIB, 0), 8 * MIB);
		assert_int_equal(fstat(fd, &sst), 0);
		close(fd);
		assert_memory_equal(a, b, 8 * MIB);
		assert_int_equal(dstt.st_size, 8 * MIB);
		assert_true(dstt.st_blocks <= sst.st_blocks);
		assert_int_equal(copy_sparse_file(src, dst), -EEXIST);
		assert_int_equal(copy_sparse_file("/nonexistent/sprig", dst), -ENOENT);
		assert_int_equal(access(dst, F_OK), 0);	/* untouched by either */
		unlink(dst);
		free(a);
		free(b);
	}
	fd = open(src, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(ftruncate(fd, 8 * MIB), 0);
	close(fd);
	assert_int_equal(sparse_copy_check(src, dst, 8 * MIB, MIB), 1);

	unlink(src);
	unlink(dst);
	rmdir(dir);
}

/* Both writers replace a file whole, leave no temporary file, and refuse
 * a directory that is not there. */
static void
test_write_file(void **state)
{
	char dir[] = "/tmp/sprig-test-write.XXXXXX", *path, *got = NULL;
	int (*writers[])(const char *, const void *, size_t, mode_t) = {
		write_file_atomic, write_file_replace,
	};
	struct stat st;
	size_t n;

	assert_non_null(mkdtemp(dir));
	path = malloc(strlen(dir) + 16);
	sprintf(path, "%s/pid", dir);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(writers[i](path, "older text\n", 11, 0600), 0);
		assert_int_equal(writers[i](path, "42\n", 3, 0600), 0);
		assert_int_equal(read_file(path, 64, &got, &n), 0);
		assert_string_equal(got, "42\n");
		free(got);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
		assert_int_equal(writers[i]("/nonexistent-dir/pid", "1", 1, 0600), -ENOENT);
		unlink(path);
	}
	assert_int_equal(rmdir(dir), 0);	/* empty: no temporary file left */
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_proc),
		cmocka_unit_test(test_path_dir),
		cmocka_unit_test(test_proc_has_open),
		cmocka_unit_test(test_copy_sparse),
		cmocka_unit_test(test_write_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
