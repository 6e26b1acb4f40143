/*
 * qmp: the QEMU machine protocol client. It owns the monitor socket, its
 * input and output buffers and the FIFO of commands awaiting a reply; the
 * loop calls qmp_io when the socket is readable or, while output is
 * pending, writable.
 *
 * Callbacks may free the client (qmp_free) or queue commands. The io path
 * holds a reference while it dispatches and stops as soon as a callback has
 * closed or freed the client, so nothing is touched after it is gone (the
 * pattern of libvirt's qemuMonitorIO and tmux's references).
 */
#include "qmp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/loop.h"
#include "common/util.h"
#include "common/xmalloc.h"

/* A line longer than this is a protocol error, not a reason to grow. */
#define QMP_LINE_MAX	(16u << 20)
#define QMP_READ_CHUNK	65536

enum qmp_state {
	QMP_GREETING,	/* nothing may be written yet */
	QMP_NEGOTIATING,	/* qmp_capabilities sent, user commands held */
	QMP_READY,
	QMP_CLOSED,
};

struct qmp_cmd {
	TAILQ_ENTRY(qmp_cmd) entry;
	cJSON		*msg;	/* {"execute", "arguments"} until sent */
	char		*line;	/* serialized with its id, once assigned */
	uint64_t	 id;
	int		 fd;	/* our duplicate of the fd to pass, or -1 */
	int		 sent;
	qmp_reply_fn	 fn;
	void		*arg;
};
TAILQ_HEAD(qmp_cmds, qmp_cmd);

struct qmp {
	struct loop		*loop;
	int			 fd;
	int			 mask;
	struct qmp_callbacks	 cb;
	void			*arg;

	enum qmp_state		 state;
	int			 freed;
	unsigned		 refs;
	uint64_t		 fail_timer;	/* reports a failed qmp_new */
	int			 fail_err;

	struct buf		 in;
	size_t			 scanned;	/* bytes of @in known to hold no '\n' */
	struct buf		 out;

	/* Sent commands first, in order, then those waiting to be sent. */
	struct qmp_cmds		 cmds;
	struct qmp_cmd		*unsent;
	uint64_t		 next_id;
};

static void
qmp_ref(struct qmp *q)
{
	q->refs++;
}

static void
qmp_unref(struct qmp *q)
{
	if (--q->refs > 0)
		return;
	buf_done(&q->in);
	buf_done(&q->out);
	free(q);
}

static void
qmp_cmd_free(struct qmp_cmd *c)
{
	cJSON_Delete(c->msg);
	free(c->line);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

/* Takes the first command off the FIFO; the caller completes and frees it. */
static struct qmp_cmd *
qmp_pop(struct qmp *q)
{
	struct qmp_cmd *c = TAILQ_FIRST(&q->cmds);

	if (c == NULL)
		return NULL;
	if (q->unsent == c)
		q->unsent = TAILQ_NEXT(c, entry);
	TAILQ_REMOVE(&q->cmds, c, entry);
	return c;
}

/* Completes every queued command with @err. A callback may free @q; the
 * caller holds a reference, and a nested drain leaves this one nothing. */
static void
qmp_drain(struct qmp *q, int err)
{
	struct qmp_cmd *c;

	while ((c = qmp_pop(q)) != NULL) {
		if (c->fn != NULL)
			c->fn(q, err, NULL, NULL, c->arg);
		qmp_cmd_free(c);
	}
}

static void
qmp_close_fd(struct qmp *q)
{
	if (q->fail_timer != 0) {
		loop_del_timer(q->loop, q->fail_timer);
		q->fail_timer = 0;
	}
	if (q->fd < 0)
		return;
	loop_del_fd(q->loop, q->fd);
	close(q->fd);
	q->fd = -1;
}

/*
 * The connection is over (end of file, a socket error or a protocol error):
 * pending commands get -ECONNRESET, then the owner hears of it once, as
 * ready(@ready_err) if the handshake never finished, else as eof.
 */
static void
qmp_fail(struct qmp *q, int ready_err)
{
	enum qmp_state was = q->state;

	if (was == QMP_CLOSED)
		return;
	q->state = QMP_CLOSED;
	qmp_close_fd(q);
	qmp_ref(q);
	qmp_drain(q, -ECONNRESET);
	if (!q->freed) {
		if (was != QMP_READY) {
			if (q->cb.ready != NULL)
				q->cb.ready(q, ready_err, q->arg);
		} else if (q->cb.eof != NULL)
			q->cb.eof(q, q->arg);
	}
	qmp_unref(q);
}

static void
qmp_fail_timer(struct loop *l, uint64_t id, void *arg)
{
	struct qmp *q = arg;

	q->fail_timer = 0;
	qmp_fail(q, q->fail_err);
}

/* Whether the next unsent command may go out now. */
static int
qmp_may_send(struct qmp *q)
{
	if (q->unsent == NULL)
		return 0;
	if (q->state == QMP_READY)
		return 1;
	/* While negotiating only qmp_capabilities, queued first, goes out. */
	return q->state == QMP_NEGOTIATING && q->unsent == TAILQ_FIRST(&q->cmds);
}

/* Watches for writability only while something could be written. */
static void
qmp_update_mask(struct qmp *q)
{
	int mask = LOOP_READ;

	if (q->fd < 0)
		return;
	if (buf_used(&q->out) > 0 || qmp_may_send(q))
		mask |= LOOP_WRITE;
	if (mask != q->mask && loop_set_fd(q->loop, q->fd, mask) == 0)
		q->mask = mask;
}

/* Gives @c its id and its bytes on the wire. */
static void
qmp_serialize(struct qmp *q, struct qmp_cmd *c)
{
	char *s;

	if (c->line != NULL)
		return;
	c->id = ++q->next_id;
	cJSON_AddItemToObject(c->msg, "id", cJSON_CreateNumber((double)c->id));
	s = cJSON_PrintUnformatted(c->msg);
	if (s == NULL)
		abort();	/* cJSON fails only when out of memory */
	c->line = xasprintf("%s\n", s);
	cJSON_free(s);
	cJSON_Delete(c->msg);
	c->msg = NULL;
}

/* Sends a command's first bytes with its fd attached; the rest is queued.
 * Returns 1 if sent, 0 if the socket is full, or a negative errno. */
static int
qmp_send_fd(struct qmp *q, struct qmp_cmd *c)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} u;
	size_t len = strlen(c->line);
	struct iovec iov = { .iov_base = c->line, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = sizeof u.buf,
	};
	struct cmsghdr *cm;
	ssize_t n;

	memset(&u, 0, sizeof u);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &c->fd, sizeof(int));
	do
		n = sendmsg(q->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	buf_add(&q->out, c->line + n, len - (size_t)n);
	return 1;
}

/*
 * Writes what it can: buffered bytes first, then commands in order. A
 * command with an fd waits for the buffer to empty so the fd travels with
 * its own first byte. Returns 0 or a negative errno.
 */
static int
qmp_flush(struct qmp *q)
{
	struct qmp_cmd *c;
	ssize_t n;
	int r;

	for (;;) {
		if (buf_used(&q->out) > 0) {
			n = send(q->fd, buf_head(&q->out), buf_used(&q->out),
			    MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					break;
				return -errno;
			}
			buf_consume(&q->out, (size_t)n);
			continue;
		}
		if (!qmp_may_send(q))
			break;
		c = q->unsent;
		qmp_serialize(q, c);
		if (c->fd >= 0) {
			r = qmp_send_fd(q, c);
			if (r < 0)
				return r;
			if (r == 0)
				break;
			close(c->fd);
			c->fd = -1;
		} else
			buf_add(&q->out, c->line, strlen(c->line));
		free(c->line);
		c->line = NULL;
		c->sent = 1;
		q->unsent = TAILQ_NEXT(c, entry);
	}
	return 0;
}

static void
qmp_caps_done(struct qmp *q, int err, const cJSON *ret, const char *desc, void *arg)
{
	if (err == 0) {
		q->state = QMP_READY;
		if (q->cb.ready != NULL)
			q->cb.ready(q, 0, q->arg);
	} else if (err == -EIO)
		qmp_fail(q, -EIO);
	/* Otherwise the connection is already closing and reports itself. */
}

static void
qmp_on_greeting(struct qmp *q)
{
	struct qmp_cmd *c = xcalloc(1, sizeof *c);

	c->msg = cJSON_CreateObject();
	cJSON_AddStringToObject(c->msg, "execute", "qmp_capabilities");
	c->fd = -1;
	c->fn = qmp_caps_done;
	/* Nothing has been sent yet, so this goes before any queued command. */
	TAILQ_INSERT_HEAD(&q->cmds, c, entry);
	q->unsent = c;
	q->state = QMP_NEGOTIATING;
}

/* Completes the command at the head of the FIFO with a reply. Returns 0, or
 * -EPROTO if the reply answers no command we are waiting for. */
static int
qmp_on_reply(struct qmp *q, const cJSON *msg)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
	const cJSON *ret, *err, *cls, *desc;
	struct qmp_cmd *c = TAILQ_FIRST(&q->cmds);
	char *text;

	if (c == NULL || !c->sent || !cJSON_IsNumber(id) || id->valuedouble != (double)c->id)
		return -EPROTO;
	qmp_pop(q);
	ret = cJSON_GetObjectItemCaseSensitive(msg, "return");
	if (ret != NULL) {
		if (c->fn != NULL)
			c->fn(q, 0, ret, NULL, c->arg);
	} else {
		err = cJSON_GetObjectItemCaseSensitive(msg, "error");
		cls = cJSON_GetObjectItemCaseSensitive(err, "class");
		desc = cJSON_GetObjectItemCaseSensitive(err, "desc");
		text = xasprintf("%s: %s",
		    cJSON_IsString(cls) ? cls->valuestring : "GenericError",
		    cJSON_IsString(desc) ? desc->valuestring : "unknown error");
		if (c->fn != NULL)
			c->fn(q, -EIO, NULL, text, c->arg);
		free(text);
	}
	qmp_cmd_free(c);
	return 0;
}

/* Handles one line (without its '\n'). Returns 0 or -EPROTO. */
static int
qmp_on_line(struct qmp *q, char *line, size_t len)
{
	const cJSON *event;
	const char *end;
	cJSON *msg;
	int r = 0;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (strspn(line, " \t\r") >= len)
		return 0;
	msg = cJSON_ParseWithLengthOpts(line, len, &end, 0);
	if (msg == NULL)
		return -EPROTO;
	if (!cJSON_IsObject(msg) || strspn(end, " \t\r") < len - (size_t)(end - line)) {
		r = -EPROTO;
		goto out;
	}
	if (cJSON_HasObjectItem(msg, "QMP")) {
		if (q->state != QMP_GREETING)
			r = -EPROTO;
		else
			qmp_on_greeting(q);
	} else if (q->state == QMP_GREETING)
		r = -EPROTO;
	else if (cJSON_HasObjectItem(msg, "return") || cJSON_HasObjectItem(msg, "error"))
		r = qmp_on_reply(q, msg);
	else if (cJSON_IsString(event = cJSON_GetObjectItemCaseSensitive(msg, "event"))) {
		if (q->cb.event != NULL)
			q->cb.event(q, event->valuestring,
			    cJSON_GetObjectItemCaseSensitive(msg, "data"), q->arg);
	} else
		r = -EPROTO;
out:
	cJSON_Delete(msg);
	return r;
}

/* Handles every complete line in the input. Returns 0, or -EPROTO. Stops
 * early, returning 0, once a callback has closed the client. */
static int
qmp_parse(struct qmp *q)
{
	char *p, *nl;
	size_t len;
	int r;

	while (q->state != QMP_CLOSED) {
		p = (char *)buf_head(&q->in);
		nl = memchr(p + q->scanned, '\n', buf_used(&q->in) - q->scanned);
		if (nl == NULL) {
			q->scanned = buf_used(&q->in);
			return q->scanned > QMP_LINE_MAX ? -EPROTO : 0;
		}
		len = (size_t)(nl - p);
		if (len > QMP_LINE_MAX)
			return -EPROTO;
		*nl = '\0';
		r = qmp_on_line(q, p, len);
		if (r < 0)
			return r;
		buf_consume(&q->in, len + 1);
		q->scanned = 0;
	}
	return 0;
}

/* Reads everything available and dispatches it. Returns 0, -ECONNRESET at
 * end of file or on a socket error, or -EPROTO. */
static int
qmp_read(struct qmp *q)
{
	ssize_t n;
	int r;

	while (q->state != QMP_CLOSED) {
		n = recv(q->fd, buf_reserve(&q->in, QMP_READ_CHUNK), QMP_READ_CHUNK,
		    MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -ECONNRESET;
		}
		if (n == 0)
			return -ECONNRESET;
		buf_commit(&q->in, (size_t)n);
		r = qmp_parse(q);
		if (r < 0)
			return r;
	}
	return 0;
}

static void
qmp_io(struct loop *l, int fd, int events, void *arg)
{
	struct qmp *q = arg;
	int r = 0;

	qmp_ref(q);
	if (events & (LOOP_READ | LOOP_HUP))
		r = qmp_read(q);
	if (r == 0 && q->state != QMP_CLOSED)
		r = qmp_flush(q);
	if (r < 0)
		qmp_fail(q, -ECONNRESET);
	else
		qmp_update_mask(q);
	qmp_unref(q);
}

struct qmp *
qmp_new(struct loop *l, int fd, const struct qmp_callbacks *cb, void *arg)
{
	struct qmp *q = xcalloc(1, sizeof *q);
	int r;

	q->loop = l;
	q->fd = fd;
	q->cb = *cb;
	q->arg = arg;
	q->refs = 1;
	q->state = QMP_GREETING;
	buf_init(&q->in);
	buf_init(&q->out);
	TAILQ_INIT(&q->cmds);

	r = fd_set_nonblock(fd, 1);
	if (r == 0)
		r = loop_add_fd(l, fd, LOOP_READ, qmp_io, q);
	if (r == 0)
		q->mask = LOOP_READ;
	else {
		/* Reported from the loop, not from inside this call. */
		close(fd);
		q->fd = -1;
		q->fail_err = r;
		q->fail_timer = loop_add_timer(l, 0, qmp_fail_timer, q);
	}
	return q;
}

void
qmp_free(struct qmp *q)
{
	if (q == NULL || q->freed)
		return;
	q->freed = 1;
	q->state = QMP_CLOSED;
	qmp_close_fd(q);
	qmp_drain(q, -ECANCELED);
	qmp_unref(q);
}

int
qmp_command(struct qmp *q, const char *name, cJSON *args, int fd,
    qmp_reply_fn fn, void *arg)
{
	struct qmp_cmd *c;
	int dup_fd = -1;

	if (q->state == QMP_CLOSED) {
		cJSON_Delete(args);
		return -ENOTCONN;
	}
	if (fd >= 0) {
		dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (dup_fd < 0) {
			cJSON_Delete(args);
			return -errno;
		}
	}
	c = xcalloc(1, sizeof *c);
	c->msg = cJSON_CreateObject();
	cJSON_AddStringToObject(c->msg, "execute", name);
	if (args != NULL)
		cJSON_AddItemToObject(c->msg, "arguments", args);
	c->fd = dup_fd;
	c->fn = fn;
	c->arg = arg;
	TAILQ_INSERT_TAIL(&q->cmds, c, entry);
	if (q->unsent == NULL)
		q->unsent = c;
	/* Written from the loop, so no callback runs inside this call. */
	qmp_update_mask(q);
	return 0;
}
