/*
 * test_qcow2: the new empty layers sprig writes itself. What a user would
 * lose otherwise: a fork or restore whose disk QEMU cannot open, or opens
 * as the wrong size or over the wrong backing file. The layers are checked
 * field by field here, and against qemu-img's own reading of them.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "common/util.h"
#include "common/xmalloc.h"
#include "vmm/qcow2.h"

struct dir {
	char	path[64];
};

static int
dir_setup(void **state)
{
	struct dir *d = xcalloc(1, sizeof *d);

	snprintf(d->path, sizeof d->path, "/tmp/sprig-test-qcow2.XXXXXX");
	assert_non_null(mkdtemp(d->path));
	*state = d;
	return 0;
}

static int
dir_teardown(void **state)
{
	struct dir *d = *state;

	rm_rf(d->path);
	free(d);
	return 0;
}

static char *
in(const struct dir *d, const char *name)
{
	return xasprintf("%s/%s", d->path, name);
}

static void
make_raw(const char *path, off_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	close(fd);
}

static uint64_t
be64_at(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof v);
	return be64toh(v);
}

static uint32_t
be32_at(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof v);
	return be32toh(v);
}

/* The whole file; *len its length. */
static uint8_t *
slurp(const char *path, size_t *len)
{
	char *buf = NULL;

	assert_int_equal(read_file(path, 1 << 20, &buf, len), 0);
	return (uint8_t *)buf;
}

/* `qemu-img info --output=json` of @path, parsed. */
static cJSON *
qemu_img_info(const char *path)
{
	char *cmd = xasprintf("qemu-img info --output=json '%s' 2>&1", path), buf[8192];
	FILE *f = popen(cmd, "r");
	size_t n;
	cJSON *j;

	assert_non_null(f);
	n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	assert_int_equal(pclose(f), 0);
	free(cmd);
	j = cJSON_Parse(buf);
	assert_non_null(j);
	return j;
}

static int
qemu_img_check(const char *path)
{
	char *cmd = xasprintf("qemu-img check -q '%s'", path);
	int r = system(cmd);

	free(cmd);
	return r;
}

/* A layer over a raw image: every header field, the tables, the length. */
static void
test_over_raw(void **state)
{
	struct dir *d = *state;
	char *raw = in(d, "rootfs.img"), *top = in(d, "top.qcow2");
	uint8_t *b;
	size_t len;

	make_raw(raw, 34 * 1024 * 1024 + 100);	/* not whole sectors */
	assert_int_equal(qcow2_create(top, raw, "raw"), 0);
	b = slurp(top, &len);
	assert_int_equal(be32_at(b), 0x514649fb);
	assert_int_equal(be32_at(b + 4), 3);
	assert_int_equal(be32_at(b + 20), 16);			/* 64 KiB clusters */
	assert_int_equal(be64_at(b + 24), 34 * 1024 * 1024 + 512);
	assert_int_equal(be32_at(b + 32), 0);			/* no encryption */
	assert_int_equal(be32_at(b + 36), 1);			/* L1 entries */
	assert_int_equal(be64_at(b + 40), 3 * 65536);
	assert_int_equal(be64_at(b + 48), 65536);
	assert_int_equal(be32_at(b + 56), 1);
	assert_int_equal(be32_at(b + 60), 0);			/* no snapshots */
	assert_int_equal(be64_at(b + 72), 0);			/* no feature bits */
	assert_int_equal(be32_at(b + 96), 4);
	assert_int_equal(be32_at(b + 100), 112);
	assert_int_equal(be32_at(b + 112), 0xe2792aca);	/* backing format */
	assert_int_equal(be32_at(b + 116), 3);
	assert_memory_equal(b + 120, "raw", 3);
	assert_int_equal(be32_at(b + 128), 0);			/* end of extensions */
	assert_int_equal(be64_at(b + 8), 136);
	assert_int_equal(be32_at(b + 16), strlen(raw));
	assert_memory_equal(b + 136, raw, strlen(raw));
	assert_int_equal(be64_at(b + 65536), 2 * 65536);	/* refcount table */
	for (int i = 0; i < 4; i++)
		assert_int_equal(b[2 * 65536 + 2 * i + 1], 1);
	assert_int_equal(b[2 * 65536 + 9], 0);
	assert_int_equal(len, 3 * 65536 + 8);
	free(b);
	assert_int_equal(qemu_img_check(top), 0);
	free(raw);
	free(top);
}

/* qemu-img reads ours as it reads its own, over a raw file and a qcow2. */
static void
test_as_qemu_img_makes_it(void **state)
{
	struct dir *d = *state;
	char *raw = in(d, "rootfs.img"), *mid = in(d, "mid.qcow2"), *ours = in(d, "ours.qcow2");
	char *theirs = in(d, "theirs.qcow2"), *cmd;
	const char *keys[] = { "virtual-size", "cluster-size", "format", "backing-filename",
	    "backing-filename-format", "format-specific" };
	cJSON *a, *b;

	make_raw(raw, 64 * 1024 * 1024);
	assert_int_equal(qcow2_create(mid, raw, "raw"), 0);
	assert_int_equal(qcow2_create(ours, mid, "qcow2"), 0);
	cmd = xasprintf("qemu-img create -q -f qcow2 -F qcow2 -b '%s' '%s'", mid, theirs);
	assert_int_equal(system(cmd), 0);
	a = qemu_img_info(ours);
	b = qemu_img_info(theirs);
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		char *x = cJSON_PrintUnformatted(cJSON_GetObjectItem(a, keys[i]));
		char *y = cJSON_PrintUnformatted(cJSON_GetObjectItem(b, keys[i]));

		assert_non_null(x);
		assert_string_equal(x, y);
		free(x);
		free(y);
	}
	assert_int_equal(qemu_img_check(ours), 0);
	cJSON_Delete(a);
	cJSON_Delete(b);
	free(cmd);
	free(raw);
	free(mid);
	free(ours);
	free(theirs);
}

/* A disk beyond one L1 entry's reach (512 MiB) gets as many entries. */
static void
test_large_disk(void **state)
{
	struct dir *d = *state;
	char *raw = in(d, "big.img"), *top = in(d, "top.qcow2");
	uint8_t *b;
	size_t len;

	make_raw(raw, (off_t)1 << 40);	/* 1 TiB, sparse */
	assert_int_equal(qcow2_create(top, raw, "raw"), 0);
	b = slurp(top, &len);
	assert_int_equal(be32_at(b + 36), 2048);
	assert_int_equal(len, 3 * 65536 + 2048 * 8);
	free(b);
	assert_int_equal(qemu_img_check(top), 0);
	free(raw);
	free(top);
}

/* Bad input: nothing is written, nothing existing is touched. */
static void
test_refusals(void **state)
{
	struct dir *d = *state;
	char *raw = in(d, "rootfs.img"), *top = in(d, "top.qcow2"), *none = in(d, "none");
	char *empty = in(d, "empty.img"), long_name[1100];
	char *buf = NULL;
	struct stat st;

	make_raw(raw, 1024 * 1024);
	make_raw(empty, 0);
	assert_int_equal(qcow2_create(top, none, "raw"), -ENOENT);
	assert_int_equal(qcow2_create(top, raw, "qcow2"), -EINVAL);	/* no qcow2 magic */
	assert_int_equal(qcow2_create(top, raw, "vmdk"), -EINVAL);
	assert_int_equal(qcow2_create(top, empty, "raw"), -EINVAL);
	memset(long_name, 'a', sizeof long_name - 1);
	long_name[0] = '/';
	long_name[sizeof long_name - 1] = '\0';
	assert_int_equal(qcow2_create(top, long_name, "raw"), -ENAMETOOLONG);
	assert_int_equal(stat(top, &st), -1);
	/* An existing file is never written over. */
	assert_int_equal(write_file_atomic(top, "keep", 4, 0644), 0);
	assert_int_equal(qcow2_create(top, raw, "raw"), -EEXIST);
	assert_int_equal(read_file(top, 64, &buf, NULL), 0);
	assert_string_equal(buf, "keep");
	free(buf);
	/* Nor is its temporary file left behind. */
	buf = xasprintf("%s.tmp", top);
	assert_int_equal(stat(buf, &st), -1);
	free(buf);
	free(raw);
	free(top);
	free(none);
	free(empty);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_over_raw, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_as_qemu_img_makes_it, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_large_disk, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_refusals, dir_setup, dir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
