/*
 * test_agent_proto: the agent frame codec (common/agent_proto.c): headers,
 * whole frames, and EXEC and FS payloads both well formed and hostile. A decoder
 * that accepts a bad EXEC, or leaks while refusing it, is a guest PID 1
 * that a confused host can crash or grow.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/agent_proto.h"
#include "common/buf.h"

static void
put_hdr(uint8_t *p, uint32_t len, uint16_t type, uint16_t flags, uint32_t chan)
{
	struct buf b;

	buf_init(&b);
	buf_add_u32(&b, len);
	buf_add_u16(&b, type);
	buf_add_u16(&b, flags);
	buf_add_u32(&b, chan);
	memcpy(p, buf_head(&b), AGENT_HDR_SIZE);
	buf_done(&b);
}

static void
test_hdr_short(void **state)
{
	uint8_t p[AGENT_HDR_SIZE];
	struct agent_hdr h = { .len = 77 };

	put_hdr(p, 5, AGENT_PING, 0, 0);
	for (size_t n = 0; n < AGENT_HDR_SIZE; n++)
		assert_int_equal(agent_hdr_decode(p, n, &h), -EAGAIN);
	assert_int_equal(h.len, 77);	/* untouched on failure */
}

static void
test_hdr_fields(void **state)
{
	uint8_t p[AGENT_HDR_SIZE] = {
		0x04, 0x03, 0x02, 0x01,	/* len, little endian */
		0x0d, 0x00,		/* STDIN */
		0x00, 0x00,
		0x78, 0x56, 0x34, 0x12,	/* chan */
	};
	struct agent_hdr h;

	/* 0x01020304 is over the maximum; the same bytes with a small length pass. */
	assert_int_equal(agent_hdr_decode(p, sizeof p, &h), -EPROTO);
	p[3] = 0;
	p[2] = 0;
	assert_int_equal(agent_hdr_decode(p, sizeof p, &h), 0);
	assert_int_equal(h.len, 0x0304);
	assert_int_equal(h.type, AGENT_STDIN);
	assert_int_equal(h.flags, 0);
	assert_int_equal(h.chan, 0x12345678);
}

static void
test_hdr_max(void **state)
{
	uint8_t p[AGENT_HDR_SIZE];
	struct agent_hdr h = { 0 };

	put_hdr(p, AGENT_MAX_PAYLOAD, AGENT_STDOUT, 0, 1);
	assert_int_equal(agent_hdr_decode(p, sizeof p, &h), 0);
	assert_int_equal(h.len, AGENT_MAX_PAYLOAD);
	put_hdr(p, AGENT_MAX_PAYLOAD + 1, AGENT_STDOUT, 0, 1);
	h.len = 9;
	assert_int_equal(agent_hdr_decode(p, sizeof p, &h), -EPROTO);
	assert_int_equal(h.len, 9);
	put_hdr(p, UINT32_MAX, AGENT_STDOUT, 0, 1);
	assert_int_equal(agent_hdr_decode(p, sizeof p, &h), -EPROTO);
}

static void
test_frame_round_trip(void **state)
{
	const char payload[] = "hello, guest";
	struct agent_hdr h;
	struct buf b;

	buf_init(&b);
	agent_frame_add(&b, AGENT_STDOUT, 42, payload, sizeof payload - 1);
	agent_frame_add(&b, AGENT_STDIN_EOF, 43, NULL, 0);
	assert_int_equal(buf_used(&b), 2 * AGENT_HDR_SIZE + sizeof payload - 1);

	assert_int_equal(agent_hdr_decode(buf_head(&b), buf_used(&b), &h), 0);
	assert_int_equal(h.len, sizeof payload - 1);
	assert_int_equal(h.type, AGENT_STDOUT);
	assert_int_equal(h.chan, 42);
	assert_memory_equal(buf_head(&b) + AGENT_HDR_SIZE, payload, h.len);
	buf_consume(&b, AGENT_HDR_SIZE + h.len);

	assert_int_equal(agent_hdr_decode(buf_head(&b), buf_used(&b), &h), 0);
	assert_int_equal(h.len, 0);
	assert_int_equal(h.type, AGENT_STDIN_EOF);
	assert_int_equal(h.chan, 43);
	buf_consume(&b, AGENT_HDR_SIZE);
	assert_int_equal(buf_used(&b), 0);
	buf_done(&b);
}

/*
 * A frame built in place while the queue is half written out: the payload
 * makes the buffer move its unread bytes to the front, and the header must
 * still get the right length (it once was written at a stale offset).
 */
static void
test_frame_begin_end_compacting(void **state)
{
	uint8_t big[3000];
	struct agent_hdr h;
	struct buf b;
	size_t off;

	memset(big, 0xab, sizeof big);
	buf_init(&b);
	agent_frame_add(&b, AGENT_STDOUT, 1, big, 1000);	/* fills a 1024-byte buffer */
	buf_consume(&b, 900);					/* "written" to the host */
	off = agent_frame_begin(&b, AGENT_STDERR, 2);
	buf_add(&b, big, sizeof big);
	agent_frame_end(&b, off);

	assert_int_equal(buf_used(&b), 1000 + AGENT_HDR_SIZE - 900 + AGENT_HDR_SIZE + sizeof big);
	buf_consume(&b, 1000 + AGENT_HDR_SIZE - 900);
	assert_int_equal(agent_hdr_decode(buf_head(&b), buf_used(&b), &h), 0);
	assert_int_equal(h.type, AGENT_STDERR);
	assert_int_equal(h.chan, 2);
	assert_int_equal(h.len, sizeof big);
	assert_memory_equal(buf_head(&b) + AGENT_HDR_SIZE, big, sizeof big);
	buf_done(&b);
}

/* Checks the header of the one frame in @b and leaves its payload. */
static void
frame_payload(struct buf *b, uint16_t type, uint32_t chan)
{
	struct agent_hdr h;

	assert_int_equal(agent_hdr_decode(buf_head(b), buf_used(b), &h), 0);
	assert_int_equal(h.type, type);
	assert_int_equal(h.chan, chan);
	assert_int_equal(h.len, buf_used(b) - AGENT_HDR_SIZE);
	buf_consume(b, AGENT_HDR_SIZE);
}

/* Encodes @e as an EXEC frame and returns its payload, checking the header. */
static void
exec_encode(const struct agent_exec *e, struct buf *b, uint32_t chan)
{
	buf_init(b);
	agent_exec_add(b, chan, e);
	frame_payload(b, AGENT_EXEC, chan);
}

static void
assert_strv_equal(char **a, char **b)
{
	size_t i;

	for (i = 0; a[i] != NULL && b[i] != NULL; i++)
		assert_string_equal(a[i], b[i]);
	assert_null(a[i]);
	assert_null(b[i]);
}

static void
test_exec_round_trip(void **state)
{
	char *argv[] = { "sh", "-c", "echo \"$FOO\" | tr a-z A-Z", "", NULL };
	char *env[] = { "FOO=bar", "EMPTY=", "X==y", NULL };
	struct agent_exec e = {
		.flags = AGENT_EXEC_TTY, .rows = 50, .cols = 132,
		.argv = argv, .env = env, .cwd = "/tmp/work dir",
	};
	struct agent_exec d;
	struct buf b;

	exec_encode(&e, &b, 7);
	assert_int_equal(agent_exec_decode(buf_head(&b), buf_used(&b), &d), 0);
	assert_int_equal(d.flags, AGENT_EXEC_TTY);
	assert_int_equal(d.rows, 50);
	assert_int_equal(d.cols, 132);
	assert_strv_equal(d.argv, argv);
	assert_strv_equal(d.env, env);
	assert_string_equal(d.cwd, "/tmp/work dir");
	agent_exec_done(&d);
	assert_null(d.argv);
	buf_done(&b);
}

static void
test_exec_round_trip_defaults(void **state)
{
	char *argv[] = { "true", NULL };
	struct agent_exec e = { .argv = argv };	/* no env, no cwd */
	struct agent_exec d;
	struct buf b;

	exec_encode(&e, &b, 1);
	assert_int_equal(agent_exec_decode(buf_head(&b), buf_used(&b), &d), 0);
	assert_int_equal(d.flags, 0);
	assert_int_equal(d.rows, 0);
	assert_int_equal(d.cols, 0);
	assert_strv_equal(d.argv, argv);
	assert_non_null(d.env);
	assert_null(d.env[0]);
	assert_string_equal(d.cwd, "");
	agent_exec_done(&d);
	buf_done(&b);
}

static void
assert_exec_rejected(const uint8_t *p, size_t n)
{
	struct agent_exec d;

	memset(&d, 0x5a, sizeof d);
	assert_int_equal(agent_exec_decode(p, n, &d), -EPROTO);
}

/* Every proper prefix of a good payload is refused (and frees what it took). */
static void
test_exec_truncated(void **state)
{
	char *argv[] = { "ls", "-l", "/", NULL };
	char *env[] = { "A=1", "BB=22", NULL };
	struct agent_exec e = { .argv = argv, .env = env, .cwd = "/root" };
	struct buf b;

	exec_encode(&e, &b, 3);
	for (size_t n = 0; n < buf_used(&b); n++)
		assert_exec_rejected(buf_head(&b), n);
	buf_done(&b);
}

static void
test_exec_trailing_bytes(void **state)
{
	char *argv[] = { "ls", NULL };
	struct agent_exec e = { .argv = argv, .cwd = "/" };
	struct buf b;

	exec_encode(&e, &b, 3);
	buf_add_u8(&b, 0);
	assert_exec_rejected(buf_head(&b), buf_used(&b));
	buf_done(&b);
}

/* Builds an EXEC payload by hand: flags, size, argv, env, cwd. */
static void
raw_exec(struct buf *b, const char *const *argv, size_t argc,
    const char *const *env, size_t envc, const char *cwd)
{
	buf_init(b);
	buf_add_u32(b, 0);
	buf_add_u16(b, 0);
	buf_add_u16(b, 0);
	buf_add_u32(b, (uint32_t)argc);
	for (size_t i = 0; i < argc; i++)
		buf_add_str(b, argv[i]);
	buf_add_u32(b, (uint32_t)envc);
	for (size_t i = 0; i < envc; i++)
		buf_add_str(b, env[i]);
	buf_add_str(b, cwd);
}

static void
test_exec_bad_argv(void **state)
{
	const char *empty[] = { "" };
	const char *ok[] = { "ls", "-l" };
	struct buf b;

	raw_exec(&b, NULL, 0, NULL, 0, "/");		/* no argv at all */
	assert_exec_rejected(buf_head(&b), buf_used(&b));
	buf_done(&b);
	raw_exec(&b, empty, 1, NULL, 0, "/");		/* argv[0] empty */
	assert_exec_rejected(buf_head(&b), buf_used(&b));
	buf_done(&b);
	raw_exec(&b, ok, 2, NULL, 0, "/");		/* the control: accepted */
	{
		struct agent_exec d;

		assert_int_equal(agent_exec_decode(buf_head(&b), buf_used(&b), &d), 0);
		agent_exec_done(&d);
	}
	buf_done(&b);
}

static void
test_exec_bad_env(void **state)
{
	const char *argv[] = { "env" };
	const char *no_eq[] = { "A=1", "NOEQUALS" };
	const char *no_name[] = { "=value" };
	const char *empty[] = { "" };
	struct buf b;

	raw_exec(&b, argv, 1, no_eq, 2, "/");
	assert_exec_rejected(buf_head(&b), buf_used(&b));
	buf_done(&b);
	raw_exec(&b, argv, 1, no_name, 1, "/");
	assert_exec_rejected(buf_head(&b), buf_used(&b));
	buf_done(&b);
	raw_exec(&b, argv, 1, empty, 1, "/");
	assert_exec_rejected(buf_head(&b), buf_used(&b));
	buf_done(&b);
}

/* Writes a u32 length and @n raw bytes (which may hold a NUL). */
static void
add_raw_str(struct buf *b, const void *p, uint32_t n)
{
	buf_add_u32(b, n);
	buf_add(b, p, n);
}

static void
test_exec_nul_in_string(void **state)
{
	struct buf b;

	/* in argv */
	buf_init(&b);
	buf_add_u32(&b, 0);
	buf_add_u32(&b, 0);
	buf_add_u32(&b, 1);
	add_raw_str(&b, "ls\0-l", 5);
	buf_add_u32(&b, 0);
	buf_add_str(&b, "/");
	assert_exec_rejected(buf_head(&b), buf_used(&b));
	buf_done(&b);

	/* in env */
	buf_init(&b);
	buf_add_u32(&b, 0);
	buf_add_u32(&b, 0);
	buf_add_u32(&b, 1);
	buf_add_str(&b, "env");
	buf_add_u32(&b, 1);
	add_raw_str(&b, "A=1\0B=2", 7);
	buf_add_str(&b, "/");
	assert_exec_rejected(buf_head(&b), buf_used(&b));
	buf_done(&b);

	/* in cwd */
	buf_init(&b);
	buf_add_u32(&b, 0);
	buf_add_u32(&b, 0);
	buf_add_u32(&b, 1);
	buf_add_str(&b, "pwd");
	buf_add_u32(&b, 0);
	add_raw_str(&b, "/tmp\0/etc", 9);
	assert_exec_rejected(buf_head(&b), buf_used(&b));
	buf_done(&b);
}

static void
test_exec_huge_counts(void **state)
{
	struct buf b;

	/* argv count far beyond the bytes there: refused before allocating */
	buf_init(&b);
	buf_add_u32(&b, 0);
	buf_add_u32(&b, 0);
	buf_add_u32(&b, UINT32_MAX);
	buf_add_str(&b, "ls");
	assert_exec_rejected(buf_head(&b), buf_used(&b));
	buf_done(&b);

	/* more arguments than allowed, each present (empty strings) */
	buf_init(&b);
	buf_add_u32(&b, 0);
	buf_add_u32(&b, 0);
	buf_add_u32(&b, 5000);
	buf_add_str(&b, "ls");
	for (int i = 1; i < 5000; i++)
		buf_add_str(&b, "");
	buf_add_u32(&b, 0);
	buf_add_str(&b, "/");
	assert_exec_rejected(buf_head(&b), buf_used(&b));
	buf_done(&b);

	/* env count huge after a good argv */
	buf_init(&b);
	buf_add_u32(&b, 0);
	buf_add_u32(&b, 0);
	buf_add_u32(&b, 1);
	buf_add_str(&b, "ls");
	buf_add_u32(&b, 0x40000000);
	buf_add_str(&b, "A=1");
	assert_exec_rejected(buf_head(&b), buf_used(&b));
	buf_done(&b);

	/* a string length far beyond the payload */
	buf_init(&b);
	buf_add_u32(&b, 0);
	buf_add_u32(&b, 0);
	buf_add_u32(&b, 1);
	buf_add_u32(&b, UINT32_MAX);
	buf_add(&b, "ls", 2);
	assert_exec_rejected(buf_head(&b), buf_used(&b));
	buf_done(&b);

	/* a string over the per-string limit, though all its bytes are there */
	{
		size_t n = 300 * 1024;
		char *s = malloc(n);

		assert_non_null(s);
		memset(s, 'x', n);
		buf_init(&b);
		buf_add_u32(&b, 0);
		buf_add_u32(&b, 0);
		buf_add_u32(&b, 1);
		add_raw_str(&b, s, (uint32_t)n);
		buf_add_u32(&b, 0);
		buf_add_str(&b, "/");
		assert_exec_rejected(buf_head(&b), buf_used(&b));
		buf_done(&b);
		free(s);
	}
}

/* WINDOW and STDIN_WINDOW: a u32 of credit, the whole range, both directions. */
static void
test_window_round_trip(void **state)
{
	const uint32_t grants[] = { 0, 1, AGENT_WINDOW_BATCH, AGENT_WINDOW_SIZE, UINT32_MAX };
	const uint16_t types[] = { AGENT_WINDOW, AGENT_STDIN_WINDOW };
	struct agent_hdr h;
	uint32_t bytes;
	struct buf b;

	for (size_t t = 0; t < 2; t++) {
		for (size_t i = 0; i < sizeof grants / sizeof grants[0]; i++) {
			buf_init(&b);
			agent_window_add(&b, types[t], 9, grants[i]);
			assert_int_equal(buf_used(&b), AGENT_HDR_SIZE + 4);
			assert_int_equal(agent_hdr_decode(buf_head(&b), buf_used(&b), &h), 0);
			assert_int_equal(h.type, types[t]);
			assert_int_equal(h.chan, 9);
			assert_int_equal(h.len, 4);
			bytes = 12345;
			assert_int_equal(agent_window_decode(buf_head(&b) + AGENT_HDR_SIZE,
			    h.len, &bytes), 0);
			assert_int_equal(bytes, grants[i]);
			buf_done(&b);
		}
	}
}

static void
test_window_wire_bytes(void **state)
{
	const uint8_t want[] = {
		0x04, 0x00, 0x00, 0x00,	/* len */
		0x14, 0x00,		/* WINDOW = 20 */
		0x00, 0x00,
		0x07, 0x00, 0x00, 0x00,	/* chan */
		0x00, 0x00, 0x04, 0x00,	/* 256 KiB, little endian */
	};
	struct buf b;

	assert_int_equal(AGENT_WINDOW, 20);
	assert_int_equal(AGENT_STDIN_WINDOW, 21);
	buf_init(&b);
	agent_window_add(&b, AGENT_WINDOW, 7, AGENT_WINDOW_SIZE);
	assert_int_equal(buf_used(&b), sizeof want);
	assert_memory_equal(buf_head(&b), want, sizeof want);
	buf_done(&b);
}

/* Too short is refused and leaves the result alone; longer is a newer peer. */
static void
test_window_decode_lengths(void **state)
{
	const uint8_t p[8] = { 0x10, 0x00, 0x01, 0x00, 0xff, 0xff, 0xff, 0xff };
	uint32_t bytes = 77;

	for (size_t n = 0; n < 4; n++) {
		assert_int_equal(agent_window_decode(p, n, &bytes), -EPROTO);
		assert_int_equal(bytes, 77);
	}
	assert_int_equal(agent_window_decode(p, 4, &bytes), 0);
	assert_int_equal(bytes, 0x10010);
	bytes = 0;
	assert_int_equal(agent_window_decode(p, sizeof p, &bytes), 0);
	assert_int_equal(bytes, 0x10010);
}

/* The window constants hold the promise in agent_proto.h: no deadlock. */
static void
test_window_constants(void **state)
{
	assert_true(AGENT_WINDOW_BATCH < AGENT_WINDOW_SIZE);
	assert_true(AGENT_CHUNK <= AGENT_WINDOW_SIZE);
	assert_true(AGENT_WINDOW_SIZE <= AGENT_MAX_PAYLOAD);
	assert_true(AGENT_VERSION >= 2);
}

/* Encodes @f as an FS frame and returns its payload, checking the header. */
static void
fs_encode(const struct agent_fs *f, struct buf *b, uint32_t chan)
{
	buf_init(b);
	agent_fs_add(b, chan, f);
	frame_payload(b, AGENT_FS, chan);
}

static void
test_fs_round_trip(void **state)
{
	struct agent_fs f = {
		.op = AGENT_FS_COPY, .flags = AGENT_FS_RECURSIVE | AGENT_FS_PRESERVE,
		.mode = 0755, .uid = 1000, .gid = UINT32_MAX, .limit = 32u << 20,
		.path = "../etc/hostname", .path2 = "/tmp/a b", .cwd = "/root",
	};
	struct agent_fs d;
	struct buf b;

	fs_encode(&f, &b, 9);
	assert_int_equal(agent_fs_decode(buf_head(&b), buf_used(&b), &d), 0);
	assert_int_equal(d.op, AGENT_FS_COPY);
	assert_int_equal(d.flags, AGENT_FS_RECURSIVE | AGENT_FS_PRESERVE);
	assert_int_equal(d.mode, 0755);
	assert_int_equal(d.uid, 1000);
	assert_int_equal(d.gid, UINT32_MAX);
	assert_int_equal(d.limit, 32u << 20);
	assert_string_equal(d.path, "../etc/hostname");
	assert_string_equal(d.path2, "/tmp/a b");
	assert_string_equal(d.cwd, "/root");
	agent_fs_done(&d);
	assert_null(d.path);
	buf_done(&b);

	/* NULL path2 and cwd go as "". */
	f = (struct agent_fs){ .op = AGENT_FS_READ, .path = "x" };
	fs_encode(&f, &b, 1);
	assert_int_equal(agent_fs_decode(buf_head(&b), buf_used(&b), &d), 0);
	assert_string_equal(d.path2, "");
	assert_string_equal(d.cwd, "");
	agent_fs_done(&d);
	buf_done(&b);
}

static void
assert_fs_rejected(const struct agent_fs *f)
{
	struct agent_fs d;
	struct buf b;

	fs_encode(f, &b, 2);
	memset(&d, 0x5a, sizeof d);
	assert_int_equal(agent_fs_decode(buf_head(&b), buf_used(&b), &d), -EPROTO);
	buf_done(&b);
}

/* Unknown ops, an empty path, a mode past 07777, any truncation, trailing
 * bytes and a NUL inside a path are refused. */
static void
test_fs_hostile(void **state)
{
	struct agent_fs f = { .op = AGENT_FS_WRITE, .path = "/a", .path2 = "", .cwd = "/" };
	struct agent_fs d;
	struct buf b;
	uint8_t *p;

	f.op = 0;
	assert_fs_rejected(&f);
	f.op = AGENT_FS_OP_MAX + 1;
	assert_fs_rejected(&f);
	f.op = AGENT_FS_WRITE;
	f.path = "";
	assert_fs_rejected(&f);
	f.path = "/a";
	f.mode = 010000;
	assert_fs_rejected(&f);
	f.mode = 0644;

	fs_encode(&f, &b, 2);
	for (size_t n = 0; n < buf_used(&b); n++)
		assert_int_equal(agent_fs_decode(buf_head(&b), n, &d), -EPROTO);
	buf_add_u8(&b, 0);
	assert_int_equal(agent_fs_decode(buf_head(&b), buf_used(&b), &d), -EPROTO);
	buf_done(&b);

	/* "/a" becomes "/\0": a C string would name another file. */
	fs_encode(&f, &b, 2);
	p = memchr(buf_head(&b), 'a', buf_used(&b));
	assert_non_null(p);
	*p = '\0';
	assert_int_equal(agent_fs_decode(buf_head(&b), buf_used(&b), &d), -EPROTO);
	buf_done(&b);

	/* A path longer than AGENT_FS_PATH_MAX. */
	f.path = calloc(1, AGENT_FS_PATH_MAX + 2);
	memset(f.path, 'x', AGENT_FS_PATH_MAX + 1);
	assert_fs_rejected(&f);
	free(f.path);
}

static void
test_fs_entries(void **state)
{
	struct agent_fs_entry e[2] = {
		{ .type = AGENT_FS_DIR, .mode = 0755, .size = 4096, .mtime = 1700000000,
		  .name = "sub" },
		{ .type = AGENT_FS_SYMLINK, .mode = 0777, .size = (uint64_t)1 << 40,
		  .mtime = -5, .name = "sub/link" },
	}, d;
	struct buf b;
	struct rd r;
	size_t one;

	buf_init(&b);
	agent_fs_entry_add(&b, &e[0]);
	one = buf_used(&b);
	agent_fs_entry_add(&b, &e[1]);
	rd_init(&r, buf_head(&b), buf_used(&b));
	for (int i = 0; i < 2; i++) {
		assert_int_equal(agent_fs_entry_decode(&r, &d), 0);
		assert_int_equal(d.type, e[i].type);
		assert_int_equal(d.mode, e[i].mode);
		assert_int_equal(d.size, e[i].size);
		assert_int_equal(d.mtime, e[i].mtime);
		assert_string_equal(d.name, e[i].name);
		free(d.name);
	}
	assert_int_equal(rd_left(&r), 0);

	/* Cut short anywhere, the record is refused. */
	for (size_t n = 0; n < one; n++) {
		rd_init(&r, buf_head(&b), n);
		assert_int_equal(agent_fs_entry_decode(&r, &d), -EPROTO);
	}
	buf_done(&b);

	/* An unknown type, a mode past 07777 and an empty name too. */
	e[0].type = 9;
	buf_init(&b);
	agent_fs_entry_add(&b, &e[0]);
	rd_init(&r, buf_head(&b), buf_used(&b));
	assert_int_equal(agent_fs_entry_decode(&r, &d), -EPROTO);
	buf_done(&b);
	e[0].type = AGENT_FS_FILE;
	e[0].mode = 070000;
	buf_init(&b);
	agent_fs_entry_add(&b, &e[0]);
	rd_init(&r, buf_head(&b), buf_used(&b));
	assert_int_equal(agent_fs_entry_decode(&r, &d), -EPROTO);
	buf_done(&b);
	e[0].mode = 0644;
	e[0].name = "";
	buf_init(&b);
	agent_fs_entry_add(&b, &e[0]);
	rd_init(&r, buf_head(&b), buf_used(&b));
	assert_int_equal(agent_fs_entry_decode(&r, &d), -EPROTO);
	buf_done(&b);
}

/* CONNECT: its target round trips; an empty or overlong host, a port of 0
 * or over 65535, and a truncated payload are refused without a leak. */
static void
test_connect_codec(void **state)
{
	struct buf b, p;
	struct agent_hdr h;
	char *host = NULL, long_host[AGENT_CONNECT_HOST_MAX + 2];
	uint16_t port = 0;

	buf_init(&b);
	agent_connect_add(&b, 7, "::1", 65535);
	assert_int_equal(agent_hdr_decode(buf_head(&b), buf_used(&b), &h), 0);
	assert_int_equal(h.type, AGENT_CONNECT);
	assert_int_equal(h.chan, 7);
	assert_int_equal(agent_connect_decode(buf_head(&b) + AGENT_HDR_SIZE, h.len, &host,
	    &port), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 65535);
	free(host);
	/* Truncated anywhere. */
	for (size_t n = 0; n < h.len; n++)
		assert_int_equal(agent_connect_decode(buf_head(&b) + AGENT_HDR_SIZE, n, &host,
		    &port), -EPROTO);
	buf_done(&b);

	memset(long_host, 'a', sizeof long_host - 1);
	long_host[sizeof long_host - 1] = '\0';
	const struct { const char *host; uint32_t port; } bad[] = {
		{ "", 80 }, { long_host, 80 }, { "localhost", 0 }, { "localhost", 65536 },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		buf_init(&p);
		buf_add_str(&p, bad[i].host);
		buf_add_u32(&p, bad[i].port);
		assert_int_equal(agent_connect_decode(buf_head(&p), buf_used(&p), &host, &port),
		    -EPROTO);
		buf_done(&p);
	}
	/* A newer host's extra fields are ignored. */
	buf_init(&p);
	buf_add_str(&p, "localhost");
	buf_add_u32(&p, 80);
	buf_add_u32(&p, 1);
	assert_int_equal(agent_connect_decode(buf_head(&p), buf_used(&p), &host, &port), 0);
	assert_string_equal(host, "localhost");
	free(host);
	buf_done(&p);
}

static void
test_type_names(void **state)
{
	assert_string_equal(agent_type_name(AGENT_EXEC), "exec");
	assert_string_equal(agent_type_name(AGENT_SHUTDOWN), "shutdown");
	assert_string_equal(agent_type_name(AGENT_WINDOW), "window");
	assert_string_equal(agent_type_name(AGENT_STDIN_WINDOW), "stdin-window");
	assert_string_equal(agent_type_name(AGENT_FS), "fs");
	assert_string_equal(agent_type_name(AGENT_FS_DONE), "fs-done");
	assert_string_equal(agent_type_name(AGENT_CONNECT), "connect");
	assert_string_equal(agent_type_name(999), "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hdr_short),
		cmocka_unit_test(test_hdr_fields),
		cmocka_unit_test(test_hdr_max),
		cmocka_unit_test(test_frame_round_trip),
		cmocka_unit_test(test_frame_begin_end_compacting),
		cmocka_unit_test(test_exec_round_trip),
		cmocka_unit_test(test_exec_round_trip_defaults),
		cmocka_unit_test(test_exec_truncated),
		cmocka_unit_test(test_exec_trailing_bytes),
		cmocka_unit_test(test_exec_bad_argv),
		cmocka_unit_test(test_exec_bad_env),
		cmocka_unit_test(test_exec_nul_in_string),
		cmocka_unit_test(test_exec_huge_counts),
		cmocka_unit_test(test_window_round_trip),
		cmocka_unit_test(test_window_wire_bytes),
		cmocka_unit_test(test_window_decode_lengths),
		cmocka_unit_test(test_window_constants),
		cmocka_unit_test(test_fs_round_trip),
		cmocka_unit_test(test_fs_hostile),
		cmocka_unit_test(test_fs_entries),
		cmocka_unit_test(test_connect_codec),
		cmocka_unit_test(test_type_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
