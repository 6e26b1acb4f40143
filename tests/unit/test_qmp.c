/*
 * test_qmp: the QMP client against a fake QEMU on the other end of a
 * socketpair. The test reads what the client writes (a byte at a time, so an
 * fd passed with SCM_RIGHTS is pinned to the byte it came with), answers as
 * QEMU would, and turns the loop until what it waits for has happened.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/loop.h"
#include "common/xmalloc.h"
#include "vmm/qmp.h"

#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, " \
	"\"major\": 7}, \"package\": \"\"}, \"capabilities\": [\"oob\"]}}\r\n"
#define MAX_TURNS	200
#define MAX_FDS		8
#define MAX_EVENTS	8

struct fake;

/* A command's completion as the test saw it. */
struct reply {
	struct fake	*f;
	int		 calls;
	int		 err;
	cJSON		*ret;
	char		*desc;
	int		 seq;
	int		 free_client;	/* qmp_free from inside the callback */
};

#define MAX_REPLIES	4

struct fake {
	struct loop	*l;
	struct qmp	*q;
	int		 peer;

	struct buf	 rx;		/* bytes from the client not yet taken as lines */
	size_t		 rx_base;	/* stream offset of rx's head */
	size_t		 line_off;	/* stream offset of the last line taken */
	int		 fds[MAX_FDS];	/* received with SCM_RIGHTS ... */
	size_t		 fd_off[MAX_FDS];	/* ... with this stream byte */
	int		 nfds;

	int		 seq;		/* orders every callback */
	int		 ready_calls;
	int		 ready_err;
	int		 ready_seq;
	int		 eof_calls;
	int		 eof_seq;
	int		 free_in_eof;
	char		*events[MAX_EVENTS];
	cJSON		*event_data[MAX_EVENTS];
	int		 nevents;
	/* Here rather than on a test's stack: commands still pending when an
	 * assertion fails complete at teardown. */
	struct reply	 r[MAX_REPLIES];
};


static void
on_ready(struct qmp *q, int err, void *arg)
{
	struct fake *f = arg;

	f->ready_calls++;
	f->ready_err = err;
	f->ready_seq = ++f->seq;
}

static void
on_event(struct qmp *q, const char *event, const cJSON *data, void *arg)
{
	struct fake *f = arg;

	assert_true(f->nevents < MAX_EVENTS);
	f->events[f->nevents] = xstrdup(event);
	f->event_data[f->nevents] = data ? cJSON_Duplicate(data, 1) : NULL;
	f->nevents++;
}

static void
on_eof(struct qmp *q, void *arg)
{
	struct fake *f = arg;

	f->eof_calls++;
	f->eof_seq = ++f->seq;
	if (f->free_in_eof) {
		qmp_free(q);
		f->q = NULL;
	}
}

static void
reply_done(struct reply *r)
{
	cJSON_Delete(r->ret);
	free(r->desc);
	r->ret = NULL;
	r->desc = NULL;
}

static void
on_reply(struct qmp *q, int err, const cJSON *ret, const char *desc, void *arg)
{
	struct reply *r = arg;

	reply_done(r);
	r->calls++;
	r->err = err;
	r->ret = ret ? cJSON_Duplicate(ret, 1) : NULL;
	r->desc = desc ? xstrdup(desc) : NULL;
	r->seq = ++r->f->seq;
	if (r->free_client) {
		qmp_free(q);
		r->f->q = NULL;
	}
}

static const struct qmp_callbacks callbacks = { on_ready, on_event, on_eof };

static int
setup(void **state)
{
	struct fake *f = xcalloc(1, sizeof *f);
	int sv[2], i;

	assert_int_equal(loop_new(&f->l), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->peer = sv[1];
	assert_int_equal(fcntl(f->peer, F_SETFL, O_NONBLOCK), 0);
	for (i = 0; i < MAX_REPLIES; i++)
		f->r[i].f = f;
	buf_init(&f->rx);
	f->q = qmp_new(f->l, sv[0], &callbacks, f);
	assert_non_null(f->q);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fake *f = *state;
	int i;

	qmp_free(f->q);
	loop_free(f->l);
	if (f->peer >= 0)
		close(f->peer);
	for (i = 0; i < f->nfds; i++)
		close(f->fds[i]);
	for (i = 0; i < f->nevents; i++) {
		free(f->events[i]);
		cJSON_Delete(f->event_data[i]);
	}
	for (i = 0; i < MAX_REPLIES; i++)
		reply_done(&f->r[i]);
	buf_done(&f->rx);
	free(f);
	return 0;
}

/* Takes whatever the client has written, a byte per recvmsg. */
static void
fake_recv(struct fake *f)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
	} u;
	struct cmsghdr *cm;
	struct msghdr msg;
	struct iovec iov;
	uint8_t c;
	ssize_t n;

	for (;;) {
		iov.iov_base = &c;
		iov.iov_len = 1;
		memset(&msg, 0, sizeof msg);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = u.buf;
		msg.msg_controllen = sizeof u.buf;
		n = recvmsg(f->peer, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n <= 0)
			return;
		for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
			size_t i, nfd;

			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (i = 0; i < nfd; i++) {
				assert_true(f->nfds < MAX_FDS);
				memcpy(&f->fds[f->nfds], CMSG_DATA(cm) + i * sizeof(int),
				    sizeof(int));
				f->fd_off[f->nfds++] = f->rx_base + buf_used(&f->rx);
			}
		}
		buf_add(&f->rx, &c, 1);
	}
}

static size_t
fake_written(struct fake *f)
{
	fake_recv(f);
	return f->rx_base + buf_used(&f->rx);
}

static int
fake_has_line(struct fake *f)
{
	fake_recv(f);
	return memchr(buf_head(&f->rx), '\n', buf_used(&f->rx)) != NULL;
}

/* Turns the loop until @cond holds, within a bounded number of turns. */
#define RUN_UNTIL(f, cond) do {						\
	int turn_;							\
	for (turn_ = 0; turn_ < MAX_TURNS && !(cond); turn_++)		\
		loop_run_once((f)->l, 50);				\
	assert_true(cond);						\
} while (0)

/* Turns the loop a few times without waiting. */
static void
turns(struct fake *f, int n)
{
	while (n-- > 0)
		loop_run_once(f->l, 0);
}

static void
fake_send(struct fake *f, const char *s)
{
	size_t len = strlen(s), done = 0;
	ssize_t n;

	while (done < len) {
		n = send(f->peer, s + done, len - done, MSG_NOSIGNAL);
		if (n < 0 && errno == EAGAIN) {
			turns(f, 1);
			continue;
		}
		assert_true(n > 0);
		done += (size_t)n;
	}
}

static void fake_sendf(struct fake *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fake_sendf(struct fake *f, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	assert_true(vasprintf(&s, fmt, ap) >= 0);
	va_end(ap);
	fake_send(f, s);
	free(s);
}

/* Waits for the client's next line and checks it executes @name. */
static cJSON *
fake_expect(struct fake *f, const char *name)
{
	const cJSON *exec, *id;
	uint8_t *p, *nl;
	cJSON *msg;
	size_t len;

	RUN_UNTIL(f, fake_has_line(f));
	p = buf_head(&f->rx);
	nl = memchr(p, '\n', buf_used(&f->rx));
	len = (size_t)(nl - p);
	msg = cJSON_ParseWithLength((const char *)p, len);
	assert_non_null(msg);
	f->line_off = f->rx_base;
	f->rx_base += len + 1;
	buf_consume(&f->rx, len + 1);
	exec = cJSON_GetObjectItemCaseSensitive(msg, "execute");
	assert_true(cJSON_IsString(exec));
	assert_string_equal(exec->valuestring, name);
	id = cJSON_GetObjectItemCaseSensitive(msg, "id");
	assert_true(cJSON_IsNumber(id));
	return msg;
}

static long
msg_id(const cJSON *msg)
{
	return (long)cJSON_GetObjectItemCaseSensitive(msg, "id")->valuedouble;
}

/* Expects @name and answers with {"return": @ret}. */
static void
fake_answer(struct fake *f, const char *name, const char *ret)
{
	cJSON *msg = fake_expect(f, name);

	fake_sendf(f, "{\"return\": %s, \"id\": %ld}\r\n", ret, msg_id(msg));
	cJSON_Delete(msg);
}

static void
handshake(struct fake *f)
{
	fake_send(f, GREETING);
	fake_answer(f, "qmp_capabilities", "{}");
	RUN_UNTIL(f, f->ready_calls == 1);
	assert_int_equal(f->ready_err, 0);
}

static void
test_nothing_before_greeting(void **state)
{
	struct fake *f = *state;
	struct reply *r = &f->r[0];
	size_t half = strlen(GREETING) / 2;
	char part[sizeof GREETING];

	assert_int_equal(qmp_command(f->q, "query-status", NULL, -1, on_reply, r), 0);
	turns(f, 5);
	loop_run_once(f->l, 20);
	assert_int_equal(fake_written(f), 0);

	/* Half a greeting is no greeting. */
	memcpy(part, GREETING, half);
	part[half] = '\0';
	fake_send(f, part);
	turns(f, 5);
	loop_run_once(f->l, 20);
	assert_int_equal(fake_written(f), 0);
	assert_int_equal(f->ready_calls, 0);

	fake_send(f, GREETING + half);
	fake_answer(f, "qmp_capabilities", "{}");
	RUN_UNTIL(f, f->ready_calls == 1);
	fake_answer(f, "query-status", "{\"status\": \"prelaunch\"}");
	RUN_UNTIL(f, r->calls == 1);
	assert_int_equal(r->err, 0);
}

static void
test_handshake(void **state)
{
	struct fake *f = *state;
	cJSON *caps;

	fake_send(f, GREETING);
	caps = fake_expect(f, "qmp_capabilities");
	assert_null(cJSON_GetObjectItemCaseSensitive(caps, "arguments"));
	turns(f, 3);
	assert_int_equal(f->ready_calls, 0);
	fake_sendf(f, "{\"return\": {}, \"id\": %ld}\r\n", msg_id(caps));
	cJSON_Delete(caps);
	RUN_UNTIL(f, f->ready_calls == 1);
	assert_int_equal(f->ready_err, 0);
	turns(f, 3);
	assert_int_equal(f->ready_calls, 1);
	assert_int_equal(f->eof_calls, 0);
}

static void
test_caps_error(void **state)
{
	struct fake *f = *state;
	cJSON *caps;

	fake_send(f, GREETING);
	caps = fake_expect(f, "qmp_capabilities");
	fake_sendf(f, "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"no\"}, "
	    "\"id\": %ld}\n", msg_id(caps));
	cJSON_Delete(caps);
	RUN_UNTIL(f, f->ready_calls == 1);
	assert_int_equal(f->ready_err, -EIO);
	assert_int_equal(f->eof_calls, 0);
	assert_int_equal(qmp_command(f->q, "query-status", NULL, -1, NULL, NULL), -ENOTCONN);
}

static void
test_command_return(void **state)
{
	struct fake *f = *state;
	struct reply *r = &f->r[0];
	const cJSON *args;
	cJSON *a, *msg;

	handshake(f);
	a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "device", "drive0");
	cJSON_AddNumberToObject(a, "speed", 1024);
	assert_int_equal(qmp_command(f->q, "block-job-set-speed", a, -1, on_reply, r), 0);
	msg = fake_expect(f, "block-job-set-speed");
	args = cJSON_GetObjectItemCaseSensitive(msg, "arguments");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(args, "device")->valuestring,
	    "drive0");
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(args, "speed")->valueint, 1024);
	fake_sendf(f, "{\"return\": {\"status\": \"running\", \"running\": true}, "
	    "\"id\": %ld}\r\n", msg_id(msg));
	cJSON_Delete(msg);
	RUN_UNTIL(f, r->calls == 1);
	assert_int_equal(r->err, 0);
	assert_null(r->desc);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(r->ret, "status")->valuestring,
	    "running");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r->ret, "running")));
}

static void
test_error_reply(void **state)
{
	struct fake *f = *state;
	struct reply *r = &f->r[0];
	cJSON *msg;

	handshake(f);
	assert_int_equal(qmp_command(f->q, "blockdev-del", NULL, -1, on_reply, r), 0);
	msg = fake_expect(f, "blockdev-del");
	fake_sendf(f, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"Node 'x' not "
	    "found\"}, \"id\": %ld}\r\n", msg_id(msg));
	cJSON_Delete(msg);
	RUN_UNTIL(f, r->calls == 1);
	assert_int_equal(r->err, -EIO);
	assert_null(r->ret);
	assert_string_equal(r->desc, "GenericError: Node 'x' not found");
	assert_int_equal(f->eof_calls, 0);
}

static void
test_fifo_pipelined(void **state)
{
	struct fake *f = *state;
	struct reply *r = f->r;
	cJSON *m[3];
	int i;

	handshake(f);
	for (i = 0; i < 3; i++)
		assert_int_equal(qmp_command(f->q, "query-status", NULL, -1, on_reply, &f->r[i]),
		    0);
	for (i = 0; i < 3; i++)
		m[i] = fake_expect(f, "query-status");
	assert_true(msg_id(m[0]) != msg_id(m[1]) && msg_id(m[1]) != msg_id(m[2]));
	/* All three answers in one write, each telling which it answers. */
	fake_sendf(f, "{\"return\": 0, \"id\": %ld}\r\n{\"return\": 1, \"id\": %ld}\r\n"
	    "{\"return\": 2, \"id\": %ld}\r\n", msg_id(m[0]), msg_id(m[1]), msg_id(m[2]));
	RUN_UNTIL(f, r[2].calls == 1);
	for (i = 0; i < 3; i++) {
		assert_int_equal(r[i].calls, 1);
		assert_int_equal(r[i].err, 0);
		assert_int_equal(r[i].ret->valueint, i);
		if (i > 0)
			assert_true(r[i].seq > r[i - 1].seq);
		cJSON_Delete(m[i]);
	}
}

static void
test_events(void **state)
{
	struct fake *f = *state;
	struct reply *r = &f->r[0];
	cJSON *msg;

	handshake(f);
	assert_int_equal(qmp_command(f->q, "stop", NULL, -1, on_reply, r), 0);
	msg = fake_expect(f, "stop");
	/* An event may come before the reply it belongs with. */
	fake_sendf(f, "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, "
	    "\"event\": \"STOP\"}\r\n{\"return\": {}, \"id\": %ld}\r\n"
	    "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 3}, \"event\": \"SHUTDOWN\", "
	    "\"data\": {\"guest\": true, \"reason\": \"guest-shutdown\"}}\r\n", msg_id(msg));
	cJSON_Delete(msg);
	RUN_UNTIL(f, f->nevents == 2);
	assert_int_equal(r->calls, 1);
	assert_string_equal(f->events[0], "STOP");
	assert_null(f->event_data[0]);
	assert_string_equal(f->events[1], "SHUTDOWN");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(f->event_data[1],
	    "reason")->valuestring, "guest-shutdown");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(f->event_data[1], "guest")));
	assert_int_equal(f->eof_calls, 0);
}

static void
test_queued_before_ready(void **state)
{
	struct fake *f = *state;
	struct reply *r = f->r;
	cJSON *caps;

	assert_int_equal(qmp_command(f->q, "query-version", NULL, -1, on_reply, &f->r[0]), 0);
	fake_send(f, GREETING);
	caps = fake_expect(f, "qmp_capabilities");
	/* Queued while negotiating: still held until capabilities are done. */
	assert_int_equal(qmp_command(f->q, "cont", NULL, -1, on_reply, &f->r[1]), 0);
	turns(f, 5);
	loop_run_once(f->l, 20);
	assert_false(fake_has_line(f));
	assert_int_equal(buf_used(&f->rx), 0);

	fake_sendf(f, "{\"return\": {}, \"id\": %ld}\r\n", msg_id(caps));
	cJSON_Delete(caps);
	fake_answer(f, "query-version", "{\"qemu\": {\"major\": 7}}");
	fake_answer(f, "cont", "{}");
	RUN_UNTIL(f, r[1].calls == 1);
	assert_int_equal(f->ready_calls, 1);
	assert_true(f->ready_seq < r[0].seq && r[0].seq < r[1].seq);
	assert_int_equal(r[0].err, 0);
	assert_int_equal(r[1].err, 0);
}

static void
check_same_file(int a, int b)
{
	struct stat sa, sb;

	assert_int_equal(fstat(a, &sa), 0);
	assert_int_equal(fstat(b, &sb), 0);
	assert_true(sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino);
}

static int
temp_file(void)
{
	char path[] = "/tmp/test_qmp.XXXXXX";
	int fd = mkostemp(path, O_CLOEXEC);

	assert_true(fd >= 0);
	unlink(path);
	return fd;
}

static void
test_fd_passing(void **state)
{
	struct fake *f = *state;
	struct reply *r = f->r;
	cJSON *a, *m;
	int fd = temp_file(), early = temp_file();
	size_t getfd_off;

	/* Queued before the greeting: the client keeps its own copy. */
	a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "fdname", "early");
	assert_int_equal(qmp_command(f->q, "getfd", a, early, on_reply, &f->r[0]), 0);
	handshake(f);
	m = fake_expect(f, "getfd");
	assert_int_equal(f->nfds, 1);
	assert_int_equal(f->fd_off[0], f->line_off);
	check_same_file(f->fds[0], early);
	fake_sendf(f, "{\"return\": {}, \"id\": %ld}\r\n", msg_id(m));
	cJSON_Delete(m);
	close(early);

	/* Behind a command without one: the fd goes with its own command. */
	assert_int_equal(qmp_command(f->q, "query-status", NULL, -1, on_reply, &f->r[1]), 0);
	a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "fdname", "disk0");
	assert_int_equal(qmp_command(f->q, "getfd", a, fd, on_reply, &f->r[2]), 0);
	m = fake_expect(f, "query-status");
	fake_sendf(f, "{\"return\": {}, \"id\": %ld}\r\n", msg_id(m));
	cJSON_Delete(m);
	m = fake_expect(f, "getfd");
	getfd_off = f->line_off;
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(m, "arguments"), "fdname")->valuestring, "disk0");
	assert_int_equal(f->nfds, 2);
	assert_int_equal(f->fd_off[1], getfd_off);
	check_same_file(f->fds[1], fd);
	fake_sendf(f, "{\"return\": {}, \"id\": %ld}\r\n", msg_id(m));
	cJSON_Delete(m);
	RUN_UNTIL(f, r[2].calls == 1);
	assert_int_equal(r[0].err, 0);
	assert_int_equal(r[2].err, 0);
	/* The caller's fd is still the caller's. */
	assert_true(fcntl(fd, F_GETFD) >= 0);
	close(fd);
}

static void
test_eof_pending(void **state)
{
	struct fake *f = *state;
	struct reply *r = f->r;
	cJSON *m;

	handshake(f);
	assert_int_equal(qmp_command(f->q, "query-status", NULL, -1, on_reply, &f->r[0]), 0);
	assert_int_equal(qmp_command(f->q, "query-version", NULL, -1, on_reply, &f->r[1]), 0);
	m = fake_expect(f, "query-status");
	cJSON_Delete(m);
	m = fake_expect(f, "query-version");
	cJSON_Delete(m);
	close(f->peer);
	f->peer = -1;
	RUN_UNTIL(f, f->eof_calls == 1);
	assert_int_equal(r[0].calls, 1);
	assert_int_equal(r[0].err, -ECONNRESET);
	assert_int_equal(r[1].calls, 1);
	assert_int_equal(r[1].err, -ECONNRESET);
	assert_true(r[0].seq < r[1].seq && r[1].seq < f->eof_seq);
	assert_int_equal(qmp_command(f->q, "cont", NULL, -1, on_reply, &f->r[0]), -ENOTCONN);
	turns(f, 5);
	assert_int_equal(f->eof_calls, 1);
	assert_int_equal(r[0].calls, 1);
	assert_int_equal(f->ready_calls, 1);
}

static void
test_eof_before_ready(void **state)
{
	struct fake *f = *state;
	struct reply *r = &f->r[0];

	assert_int_equal(qmp_command(f->q, "query-status", NULL, -1, on_reply, r), 0);
	close(f->peer);
	f->peer = -1;
	RUN_UNTIL(f, f->ready_calls == 1);
	assert_int_equal(f->ready_err, -ECONNRESET);
	assert_int_equal(r->calls, 1);
	assert_int_equal(r->err, -ECONNRESET);
	assert_true(r->seq < f->ready_seq);
	turns(f, 3);
	assert_int_equal(f->eof_calls, 0);
}

/* After the handshake, @pre, then if @post the command's id and @post, from
 * QEMU end the connection. */
static void
check_protocol_error(struct fake *f, const char *pre, const char *post)
{
	struct reply *r = &f->r[0];
	cJSON *m;

	handshake(f);
	assert_int_equal(qmp_command(f->q, "query-status", NULL, -1, on_reply, r), 0);
	m = fake_expect(f, "query-status");
	fake_send(f, pre);
	if (post != NULL)
		fake_sendf(f, "%ld%s", msg_id(m), post);
	cJSON_Delete(m);
	RUN_UNTIL(f, f->eof_calls == 1);
	assert_int_equal(r->calls, 1);
	assert_int_equal(r->err, -ECONNRESET);
	assert_true(r->seq < f->eof_seq);
	/* The socket is closed: the fake sees end of file. */
	assert_int_equal(recv(f->peer, (char[1]){ 0 }, 1, MSG_DONTWAIT), 0);
}

static void
test_malformed_json(void **state)
{
	check_protocol_error(*state, "{\"return\": {\"status\": \r\n", NULL);
}

static void
test_not_an_object(void **state)
{
	check_protocol_error(*state, "[", "]\r\n");
}

static void
test_trailing_garbage(void **state)
{
	check_protocol_error(*state, "{\"return\": {}, \"id\": ", "} x\r\n");
}

static void
test_wrong_id(void **state)
{
	check_protocol_error(*state, "{\"return\": {}, \"id\": ", "000}\r\n");
}

static void
test_reply_without_command(void **state)
{
	struct fake *f = *state;

	handshake(f);
	fake_send(f, "{\"return\": {}, \"id\": 1}\r\n");
	RUN_UNTIL(f, f->eof_calls == 1);
}

static void
test_malformed_greeting(void **state)
{
	struct fake *f = *state;

	fake_send(f, "{\"QMP\": \r\n");
	RUN_UNTIL(f, f->ready_calls == 1);
	assert_int_equal(f->ready_err, -ECONNRESET);
	assert_int_equal(f->eof_calls, 0);
	assert_int_equal(fake_written(f), 0);
}

static void
test_free_in_reply(void **state)
{
	struct fake *f = *state;
	struct reply *r = f->r;
	cJSON *m[2];

	r[0].free_client = 1;
	handshake(f);
	assert_int_equal(qmp_command(f->q, "query-status", NULL, -1, on_reply, &f->r[0]), 0);
	assert_int_equal(qmp_command(f->q, "query-version", NULL, -1, on_reply, &f->r[1]), 0);
	m[0] = fake_expect(f, "query-status");
	m[1] = fake_expect(f, "query-version");
	/* Both answers and an event arrive together; the first frees the client. */
	fake_sendf(f, "{\"return\": {}, \"id\": %ld}\r\n{\"event\": \"STOP\"}\r\n"
	    "{\"return\": {}, \"id\": %ld}\r\n", msg_id(m[0]), msg_id(m[1]));
	cJSON_Delete(m[0]);
	cJSON_Delete(m[1]);
	RUN_UNTIL(f, f->q == NULL);
	turns(f, 3);
	assert_int_equal(r[0].calls, 1);
	assert_int_equal(r[0].err, 0);
	assert_int_equal(r[1].calls, 1);
	assert_int_equal(r[1].err, -ECANCELED);
	assert_int_equal(f->nevents, 0);
	assert_int_equal(f->eof_calls, 0);
}

static void
test_free_in_eof(void **state)
{
	struct fake *f = *state;
	struct reply *r = &f->r[0];
	cJSON *m;

	f->free_in_eof = 1;
	handshake(f);
	assert_int_equal(qmp_command(f->q, "query-status", NULL, -1, on_reply, r), 0);
	m = fake_expect(f, "query-status");
	cJSON_Delete(m);
	close(f->peer);
	f->peer = -1;
	RUN_UNTIL(f, f->eof_calls == 1);
	assert_null(f->q);
	assert_int_equal(r->calls, 1);
	assert_int_equal(r->err, -ECONNRESET);
	turns(f, 3);
	assert_int_equal(f->eof_calls, 1);
}

static void
test_free_while_failing(void **state)
{
	struct fake *f = *state;
	struct reply *r = f->r;

	/* The first completion of an end of file frees the client. */
	r[0].free_client = 1;
	handshake(f);
	assert_int_equal(qmp_command(f->q, "query-status", NULL, -1, on_reply, &f->r[0]), 0);
	assert_int_equal(qmp_command(f->q, "query-version", NULL, -1, on_reply, &f->r[1]), 0);
	close(f->peer);
	f->peer = -1;
	RUN_UNTIL(f, f->q == NULL);
	turns(f, 3);
	assert_int_equal(r[0].err, -ECONNRESET);
	assert_int_equal(r[1].calls, 1);
	assert_int_equal(r[1].err, -ECANCELED);
	assert_int_equal(f->eof_calls, 0);
}

static void
test_free_pending(void **state)
{
	struct fake *f = *state;
	struct reply *r = f->r;
	cJSON *m;

	handshake(f);
	assert_int_equal(qmp_command(f->q, "query-status", NULL, -1, on_reply, &f->r[0]), 0);
	m = fake_expect(f, "query-status");
	cJSON_Delete(m);
	assert_int_equal(qmp_command(f->q, "cont", NULL, -1, on_reply, &f->r[1]), 0);
	qmp_free(f->q);
	f->q = NULL;
	assert_int_equal(r[0].err, -ECANCELED);
	assert_int_equal(r[1].err, -ECANCELED);
	assert_true(r[0].seq < r[1].seq);
	assert_int_equal(f->eof_calls, 0);
	turns(f, 3);
	assert_int_equal(r[0].calls, 1);
}

static void
test_partial_lines(void **state)
{
	struct fake *f = *state;
	struct reply *r = &f->r[0];
	char line[128];
	cJSON *m;
	size_t i;

	handshake(f);
	assert_int_equal(qmp_command(f->q, "query-status", NULL, -1, on_reply, r), 0);
	m = fake_expect(f, "query-status");
	snprintf(line, sizeof line, "{\"event\": \"RESUME\"}\r\n{\"return\": "
	    "{\"status\": \"running\"}, \"id\": %ld}\r\n", msg_id(m));
	cJSON_Delete(m);
	for (i = 0; line[i] != '\0'; i++) {
		char c[2] = { line[i], '\0' };

		assert_int_equal(r->calls, 0);
		fake_send(f, c);
		turns(f, 2);
		if (line[i] == '\n' && f->nevents == 0)
			RUN_UNTIL(f, f->nevents == 1);
	}
	RUN_UNTIL(f, r->calls == 1);
	assert_int_equal(r->err, 0);
	assert_string_equal(f->events[0], "RESUME");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(r->ret, "status")->valuestring,
	    "running");
}

static void
test_line_too_long(void **state)
{
	struct fake *f = *state;
	size_t chunk = 1 << 20, sent = 0, total = (16u << 20) + chunk;
	char *junk = xmalloc(chunk);
	ssize_t n;
	int i;

	handshake(f);
	memset(junk, ' ', chunk);
	junk[0] = '"';
	/* No '\n' ever: the client must give up rather than buffer forever. */
	for (i = 0; i < 100000 && sent < total && f->eof_calls == 0; i++) {
		n = send(f->peer, junk, chunk, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0)
			sent += (size_t)n;
		loop_run_once(f->l, 0);
	}
	free(junk);
	RUN_UNTIL(f, f->eof_calls == 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_nothing_before_greeting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handshake, setup, teardown),
		cmocka_unit_test_setup_teardown(test_caps_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_return, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_pipelined, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queued_before_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fd_passing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eof_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eof_before_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_an_object, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trailing_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_without_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_greeting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_in_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_in_eof, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_while_failing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_too_long, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
