/*
 * request: the guest end of `sprite-env`, the command with which a program
 * inside a sprite asks the host for something (its checkpoints, to stay
 * awake).
 *
 * sprig-init listens on REQUEST_SOCK. A client sends one message and gets
 * one back, each a u32 length and then the body (little endian, as frames):
 *
 *	request:  u32 argc, argc strings (the command line after "sprite-env")
 *	answer:   i32 exit status, str what to print
 *
 * Requests travel to the host as AGENT_REQUEST frames under an id of ours;
 * the host runs them and answers with AGENT_REPLY. A client whose host is
 * not connected, or never answers, is told so rather than left waiting.
 */
#include "request.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"
#include "common/agent_proto.h"
#include "common/buf.h"
#include "common/loop.h"
#include "common/xmalloc.h"
#include "sprig-init.h"

/* A request's body, and the arguments in it. */
#define REQUEST_MAX		65536
#define REQUEST_MAX_ARGS	64
/* How long a client waits for the host: a checkpoint takes milliseconds
 * and a memory one well under a second, but the host may be busy. */
#define REQUEST_TIMEOUT_MS	120000

struct client {
	int		 fd;
	uint32_t	 id;		/* the request's, once sent to the host */
	int		 answered;	/* out holds the answer */
	struct buf	 in;
	struct buf	 out;
	uint64_t	 timer;
	struct client	*next;
};

static struct {
	struct loop	*loop;
	int		 fd;
	uint32_t	 next_id;
	struct client	*clients;
} rq = { .fd = -1 };

static void
client_free(struct client *c)
{
	struct client **pp;

	for (pp = &rq.clients; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	loop_del_timer(rq.loop, c->timer);
	loop_del_fd(rq.loop, c->fd);
	close(c->fd);
	buf_done(&c->in);
	buf_done(&c->out);
	free(c);
}

/* Queues the answer and starts writing it; the client is done after. */
static void
client_answer(struct client *c, int status, const char *text)
{
	if (c->answered)
		return;
	c->answered = 1;
	loop_del_timer(rq.loop, c->timer);
	c->timer = 0;
	buf_add_u32(&c->out, (uint32_t)(8 + strlen(text)));
	buf_add_u32(&c->out, (uint32_t)status);
	buf_add_str(&c->out, text);
	loop_set_fd(rq.loop, c->fd, LOOP_WRITE);
}

static void
client_timeout(struct loop *l, uint64_t id, void *arg)
{
	struct client *c = arg;

	c->timer = 0;
	client_answer(c, 1, "sprite-env: the host did not answer (is the sprig daemon "
	    "running, and new enough?)\n");
}

/* A whole request is in c->in: check it and pass it to the host. */
static void
client_request(struct client *c, const uint8_t *p, size_t n)
{
	struct buf frame;
	struct rd r;
	uint32_t argc;
	char *arg;

	rd_init(&r, p, n);
	argc = rd_u32(&r);
	if (r.err || argc > REQUEST_MAX_ARGS) {
		client_answer(c, 2, "sprite-env: malformed request\n");
		return;
	}
	if (!agent_host_up()) {
		client_answer(c, 1, "sprite-env: the host is not connected\n");
		return;
	}
	/* Check every string before anything goes out. */
	for (uint32_t i = 0; i < argc; i++) {
		arg = rd_str(&r, REQUEST_MAX);
		if (arg == NULL) {
			client_answer(c, 2, "sprite-env: malformed request\n");
			return;
		}
		free(arg);
	}
	c->id = ++rq.next_id;
	if (c->id == 0)
		c->id = ++rq.next_id;
	buf_init(&frame);
	buf_add_u32(&frame, c->id);
	buf_add(&frame, p, n);
	agent_send(AGENT_REQUEST, 0, buf_head(&frame), buf_used(&frame));
	buf_done(&frame);
	c->timer = loop_add_timer(rq.loop, REQUEST_TIMEOUT_MS, client_timeout, c);
}

static void
client_read(struct client *c)
{
	struct rd r;
	uint8_t *p;
	uint32_t len;
	ssize_t n;

	p = buf_reserve(&c->in, 4096);
	n = read(c->fd, p, 4096);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_free(c);	/* gone before asking, or before the answer */
		return;
	}
	buf_commit(&c->in, (size_t)n);
	if (c->id != 0 || buf_used(&c->in) < 4)
		return;
	rd_init(&r, buf_head(&c->in), 4);
	len = rd_u32(&r);
	if (len > REQUEST_MAX) {
		client_answer(c, 2, "sprite-env: request too large\n");
		return;
	}
	if (buf_used(&c->in) < 4 + (size_t)len)
		return;
	client_request(c, buf_head(&c->in) + 4, len);
}

static void
client_write(struct client *c)
{
	ssize_t n;

	n = write(c->fd, buf_head(&c->out), buf_used(&c->out));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		client_free(c);
		return;
	}
	buf_consume(&c->out, (size_t)n);
	if (buf_used(&c->out) == 0)
		client_free(c);
}

static void
client_io(struct loop *l, int fd, int events, void *arg)
{
	struct client *c = arg;

	if (c->answered)
		client_write(c);
	else
		client_read(c);
}

static void
request_accept(struct loop *l, int fd, int events, void *arg)
{
	struct client *c;
	int cfd;

	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return;
	c = xcalloc(1, sizeof *c);
	c->fd = cfd;
	buf_init(&c->in);
	buf_init(&c->out);
	if (loop_add_fd(rq.loop, cfd, LOOP_READ, client_io, c) < 0) {
		close(cfd);
		buf_done(&c->in);
		buf_done(&c->out);
		free(c);
		return;
	}
	c->next = rq.clients;
	rq.clients = c;
}

void
request_start(struct loop *l)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	rq.loop = l;
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", REQUEST_SOCK);
	unlink(REQUEST_SOCK);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    chmod(REQUEST_SOCK, 0666) < 0 || listen(fd, 16) < 0 ||
	    loop_add_fd(l, fd, LOOP_READ, request_accept, NULL) < 0) {
		init_log("sprite-env socket %s: %s", REQUEST_SOCK, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	rq.fd = fd;
}

void
request_reply(const uint8_t *p, size_t n)
{
	struct rd r;
	uint32_t id, status;
	char *text;

	rd_init(&r, p, n);
	id = rd_u32(&r);
	status = rd_u32(&r);
	text = rd_str(&r, AGENT_MAX_PAYLOAD);
	if (r.err || text == NULL) {
		init_log("malformed reply frame (%zu bytes)", n);
		free(text);
		return;
	}
	for (struct client *c = rq.clients; c != NULL; c = c->next) {
		if (c->id == id) {
			client_answer(c, (int)status, text);
			break;
		}
	}
	free(text);
}

void
request_host_gone(void)
{
	struct client *c, *next;

	for (c = rq.clients; c != NULL; c = next) {
		next = c->next;
		if (c->id != 0)
			client_answer(c, 1, "sprite-env: the host went away before answering\n");
	}
}
