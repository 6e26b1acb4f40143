/*
 * agent: host side of the agent channel. Owns the channel fd, its input and
 * output buffers, the table of exec sessions (with each one's flow-control
 * credit and, for owners that cannot wait for room, stdin that did not fit)
 * and the pending pings.
 */
#include "agent.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/loop.h"
#include "common/trace.h"
#include "common/util.h"
#include "common/xmalloc.h"

struct agent_session {
	uint32_t				 chan;
	const struct agent_session_callbacks	*cb;
	void					*arg;
	int					 started;
	uint64_t				 out_unconsumed; /* manual: delivered,
								  * not consumed */
	uint64_t				 out_grant;	/* consumed, not yet
								 * granted back */
	size_t					 stdin_room;	/* stdin credit left */
	int					 stdin_wants_room; /* call stdin_room
								    * when it grows */
	struct buf				 stdin_backlog;	/* no stdin_room callback:
								 * what did not fit */
	int					 stdin_eof;	/* send EOF after it */
	int					 stdin_killed;	/* the backlog overflowed */
	struct agent_session			*next;
};

struct agent_ping {
	uint64_t		 cookie;
	uint64_t		 sent_us;
	agent_ping_fn		 fn;
	void			*arg;
	struct agent_ping	*next;
};

struct agent {
	struct loop			*loop;
	int				 fd;
	const struct agent_callbacks	*cb;
	void				*arg;
	struct buf			 in;
	struct buf			 out;
	int				 ready;
	uint32_t			 version;	/* the guest's, from its HELLO */
	int				 closed;
	int				 in_callback;	/* agent_free deferred while > 0 */
	int				 free_pending;
	uint32_t			 next_chan;
	uint64_t			 next_cookie;
	struct agent_session		*sessions;
	struct agent_ping		*pings;
};

static void agent_io(struct loop *l, int fd, int events, void *arg);

static void
agent_update_mask(struct agent *a)
{
	if (!a->closed)
		loop_set_fd(a->loop, a->fd, LOOP_READ | (buf_used(&a->out) ? LOOP_WRITE : 0));
}

static void
agent_send(struct agent *a, uint16_t type, uint32_t chan, const void *p, size_t n)
{
	agent_frame_add(&a->out, type, chan, p, n);
	agent_update_mask(a);
}

struct agent *
agent_new(struct loop *l, int fd, const struct agent_callbacks *cb, void *arg)
{
	struct agent *a = xcalloc(1, sizeof *a);
	size_t off;

	a->loop = l;
	a->fd = fd;
	a->cb = cb;
	a->arg = arg;
	a->next_chan = 1;
	buf_init(&a->in);
	buf_init(&a->out);
	fd_set_nonblock(fd, 1);
	off = agent_frame_begin(&a->out, AGENT_HELLO, 0);
	buf_add_u32(&a->out, AGENT_VERSION);
	buf_add_u64(&a->out, (uint64_t)now_unix_ms());
	agent_frame_end(&a->out, off);
	if (loop_add_fd(l, fd, LOOP_READ | LOOP_WRITE, agent_io, a) < 0)
		a->closed = 1;
	return a;
}

static struct agent_session *
agent_find(const struct agent *a, uint32_t chan)
{
	struct agent_session *s;

	for (s = a->sessions; s != NULL; s = s->next) {
		if (s->chan == chan)
			return s;
	}
	return NULL;
}

static void
agent_session_free(struct agent_session *s)
{
	buf_done(&s->stdin_backlog);
	free(s);
}

static void
agent_unlink(struct agent *a, struct agent_session *s)
{
	struct agent_session **pp;

	for (pp = &a->sessions; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			agent_session_free(s);
			return;
		}
	}
}

/* Ends the channel: every session and ping is told, then the owner. */
static void
agent_close(struct agent *a, const char *why)
{
	struct agent_session *s;
	struct agent_ping *p;

	if (a->closed)
		return;
	a->closed = 1;
	loop_del_fd(a->loop, a->fd);
	a->in_callback++;
	while ((s = a->sessions) != NULL) {
		a->sessions = s->next;
		if (s->cb->lost != NULL)
			s->cb->lost(s->arg, why);
		agent_session_free(s);
	}
	while ((p = a->pings) != NULL) {
		a->pings = p->next;
		p->fn(a, -ECONNRESET, 0, p->arg);
		free(p);
	}
	if (a->cb->closed != NULL && !a->free_pending)
		a->cb->closed(a, why, a->arg);
	a->in_callback--;
}

static void
agent_destroy(struct agent *a)
{
	close(a->fd);
	buf_done(&a->in);
	buf_done(&a->out);
	free(a);
}

void
agent_free(struct agent *a)
{
	if (a == NULL)
		return;
	if (a->in_callback > 0) {
		a->free_pending = 1;
		return;
	}
	a->free_pending = 1;
	agent_close(a, "the channel was closed");
	agent_destroy(a);
}

int
agent_ready(const struct agent *a)
{
	return a->ready && !a->closed;
}

uint32_t
agent_version(const struct agent *a)
{
	return a->ready ? a->version : 0;
}

/* Gives @n bytes of output credit back to the guest, a batch at a time. */
static void
agent_grant_output(struct agent *a, struct agent_session *s, uint64_t n)
{
	uint32_t k;

	s->out_grant += n;
	while (s->out_grant >= AGENT_WINDOW_BATCH) {
		k = s->out_grant > UINT32_MAX ? UINT32_MAX : (uint32_t)s->out_grant;
		agent_window_add(&a->out, AGENT_WINDOW, s->chan, k);
		s->out_grant -= k;
	}
	agent_update_mask(a);
}

/* Queues @len bytes of stdin as frames; the caller checked the room. */
static void
agent_stdin_send(struct agent *a, struct agent_session *s, const uint8_t *p, size_t len)
{
	while (len > 0) {
		size_t n = len > AGENT_CHUNK ? AGENT_CHUNK : len;

		agent_frame_add(&a->out, AGENT_STDIN, s->chan, p, n);
		s->stdin_room -= n;
		p += n;
		len -= n;
	}
	agent_update_mask(a);
}

/* Sends what the room allows of the backlog, then a STDIN_EOF waiting on it. */
static void
agent_stdin_drain(struct agent *a, struct agent_session *s)
{
	size_t n = buf_used(&s->stdin_backlog);

	if (n > s->stdin_room)
		n = s->stdin_room;
	if (n > 0) {
		agent_stdin_send(a, s, buf_head(&s->stdin_backlog), n);
		buf_consume(&s->stdin_backlog, n);
	}
	/* A burst must not keep the daemon that much bigger for good. */
	if (buf_used(&s->stdin_backlog) == 0 && s->stdin_backlog.cap > AGENT_CHUNK) {
		buf_done(&s->stdin_backlog);
		buf_init(&s->stdin_backlog);
	}
	if (buf_used(&s->stdin_backlog) == 0 && s->stdin_eof) {
		s->stdin_eof = 0;
		agent_send(a, AGENT_STDIN_EOF, s->chan, NULL, 0);
	}
}

/* The guest wrote stdin to the process: more may go. */
static void
agent_on_stdin_window(struct agent *a, struct agent_session *s, uint32_t bytes)
{
	/* Never more than the window in flight, whatever the guest says. */
	if (bytes > AGENT_WINDOW_SIZE - s->stdin_room)
		bytes = AGENT_WINDOW_SIZE - (uint32_t)s->stdin_room;
	s->stdin_room += bytes;
	agent_stdin_drain(a, s);
	if (s->stdin_wants_room && s->stdin_room > 0 && s->cb->stdin_room != NULL) {
		s->stdin_wants_room = 0;
		s->cb->stdin_room(s->arg);
	}
}

/* A `sprite-env` command line from the guest (AGENT_REQUEST). */
static void
agent_on_request(struct agent *a, const uint8_t *p, size_t n)
{
	char **argv = NULL;
	uint32_t id, argc, i;
	struct rd r;

	rd_init(&r, p, n);
	id = rd_u32(&r);
	argc = rd_u32(&r);
	if (r.err || argc > AGENT_REQUEST_MAX_ARGS)
		return;
	argv = xcalloc((size_t)argc + 1, sizeof *argv);
	for (i = 0; i < argc && !r.err; i++)
		argv[i] = rd_str(&r, AGENT_MAX_PAYLOAD);
	if (r.err)
		agent_reply(a, id, 2, "sprite-env: malformed request\n");
	else if (a->cb->request == NULL)
		agent_reply(a, id, 1, "sprite-env: this host does not take requests\n");
	else
		a->cb->request(a, id, (int)argc, argv, a->arg);
	for (i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
}

static void
agent_on_frame(struct agent *a, const struct agent_hdr *h, const uint8_t *p)
{
	struct agent_session *s = NULL;
	const struct agent_session_callbacks *cb;
	void *cb_arg;
	struct agent_ping **pp, *ping;
	struct rd r;
	char *msg;
	int32_t code, sig;
	uint64_t cookie;
	uint32_t bytes;
	int manual;

	rd_init(&r, p, h->len);
	if (h->chan != 0)
		s = agent_find(a, h->chan);
	if (h->type != AGENT_STDOUT && h->type != AGENT_STDERR && h->type != AGENT_STDIN_WINDOW)
		trace("agent %p: frame %u on %u", (void *)a, h->type, h->chan);
	switch (h->type) {
	case AGENT_HELLO:
		a->version = rd_u32(&r);
		msg = rd_str(&r, 256);
		a->ready = 1;
		if (a->cb->hello != NULL)
			a->cb->hello(a, msg ? msg : "", a->arg);
		free(msg);
		break;
	case AGENT_PONG:
	case AGENT_SYNC_DONE:
		cookie = rd_u64(&r);
		for (pp = &a->pings; *pp != NULL; pp = &(*pp)->next) {
			if ((*pp)->cookie == cookie) {
				ping = *pp;
				*pp = ping->next;
				ping->fn(a, 0, loop_now_us() - ping->sent_us, ping->arg);
				free(ping);
				break;
			}
		}
		break;
	case AGENT_EXEC_OK:
		if (s != NULL && !s->started && s->cb->started != NULL) {
			s->started = 1;
			s->cb->started(s->arg, 0, NULL);
		}
		break;
	case AGENT_EXEC_ERR:
		if (s == NULL || s->cb->started == NULL)	/* none: a file request */
			break;
		code = (int32_t)rd_u32(&r);
		msg = rd_str(&r, 4096);
		cb = s->cb;
		cb_arg = s->arg;
		agent_unlink(a, s);	/* first: the callback may touch sessions */
		cb->started(cb_arg, code > 0 ? -code : -EIO, msg ? msg : "cannot start");
		free(msg);
		break;
	case AGENT_STDOUT:
	case AGENT_STDERR:
		if (s == NULL || h->len == 0)
			break;
		manual = s->cb->manual_window;
		if (manual)
			s->out_unconsumed += h->len;
		s->cb->output(s->arg, h->type == AGENT_STDOUT ? 1 : 2, p, h->len);
		/* The callback may have forgotten the session or freed @a. */
		if (!manual && !a->free_pending && (s = agent_find(a, h->chan)) != NULL)
			agent_grant_output(a, s, h->len);
		break;
	case AGENT_STDIN_WINDOW:
		if (s != NULL && agent_window_decode(p, h->len, &bytes) == 0)
			agent_on_stdin_window(a, s, bytes);
		break;
	case AGENT_EXIT:
		if (s == NULL || s->cb->exited == NULL)
			break;
		code = (int32_t)rd_u32(&r);
		sig = (int32_t)rd_u32(&r);
		cb = s->cb;
		cb_arg = s->arg;
		agent_unlink(a, s);
		/* The guest's numbers are not trusted to be in range. */
		cb->exited(cb_arg, sig > 0 && sig < 128 ? 128 + sig : code, sig);
		break;
	case AGENT_FS_DONE:
		if (s == NULL || s->cb->fs_done == NULL)
			break;
		code = (int32_t)rd_u32(&r);
		msg = rd_str(&r, 4096);
		cookie = rd_u64(&r);
		cb = s->cb;
		cb_arg = s->arg;
		agent_unlink(a, s);
		/* A guest's errno is not trusted to be one. */
		if (r.err)
			cb->fs_done(cb_arg, -EPROTO, "the guest sent a malformed answer", 0);
		else
			cb->fs_done(cb_arg, code > 0 && code < 4096 ? -code : code == 0 ? 0 : -EIO,
			    msg, cookie);
		free(msg);
		break;
	case AGENT_REQUEST:
		agent_on_request(a, p, h->len);
		break;
	default:
		break;	/* a newer guest: ignore what we do not know */
	}
}

static void
agent_read(struct agent *a)
{
	struct agent_hdr h;
	ssize_t n;
	int r;

	for (;;) {
		n = read(a->fd, buf_reserve(&a->in, 65536), 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			agent_close(a, n == 0 ? "the guest agent's channel closed" :
			    "the guest agent's channel failed");
			return;
		}
		buf_commit(&a->in, (size_t)n);
		if ((size_t)n < 65536)
			break;
	}
	a->in_callback++;
	while (!a->closed && !a->free_pending) {
		r = agent_hdr_decode(buf_head(&a->in), buf_used(&a->in), &h);
		if (r == -EAGAIN || (r == 0 && buf_used(&a->in) < AGENT_HDR_SIZE + h.len))
			break;
		if (r < 0) {
			agent_close(a, "the guest agent sent a malformed frame");
			break;
		}
		agent_on_frame(a, &h, buf_head(&a->in) + AGENT_HDR_SIZE);
		buf_consume(&a->in, AGENT_HDR_SIZE + h.len);
	}
	a->in_callback--;
}

static void
agent_write(struct agent *a)
{
	while (buf_used(&a->out) > 0) {
		ssize_t n = write(a->fd, buf_head(&a->out), buf_used(&a->out));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			agent_close(a, "the guest agent's channel failed");
			return;
		}
		buf_consume(&a->out, (size_t)n);
	}
	agent_update_mask(a);
}

/* Writes what is queued at once, not on the loop's next turn: what the
 * socket cannot take yet, and any error, are left to agent_io. */
static void
agent_write_now(struct agent *a)
{
	ssize_t n;

	if (a->closed || buf_used(&a->out) == 0)
		return;
	n = write(a->fd, buf_head(&a->out), buf_used(&a->out));
	if (n > 0)
		buf_consume(&a->out, (size_t)n);
	agent_update_mask(a);
}

static void
agent_io(struct loop *l, int fd, int events, void *arg)
{
	struct agent *a = arg;

	a->in_callback++;
	if (events & LOOP_WRITE)
		agent_write(a);
	if ((events & LOOP_READ) && !a->closed)
		agent_read(a);
	a->in_callback--;
	if (a->free_pending && a->in_callback == 0) {
		/* Freed from inside a callback: sessions still hear "lost". */
		agent_close(a, "the channel was closed");
		agent_destroy(a);
	}
}

/* A new session on a new channel, for an EXEC or FS the caller sends;
 * NULL while there is no guest to send it to. */
static struct agent_session *
agent_session_new(struct agent *a, const struct agent_session_callbacks *cb, void *arg)
{
	struct agent_session *s;

	if (a->closed || !a->ready)
		return NULL;
	s = xcalloc(1, sizeof *s);

	s->chan = a->next_chan++;
	if (a->next_chan == 0)
		a->next_chan = 1;
	s->cb = cb;
	s->arg = arg;
	s->stdin_room = AGENT_WINDOW_SIZE;
	buf_init(&s->stdin_backlog);
	s->next = a->sessions;
	a->sessions = s;
	return s;
}

int
agent_exec(struct agent *a, const struct agent_exec *e,
    const struct agent_session_callbacks *cb, void *arg, uint32_t *ret_chan)
{
	struct agent_session *s = agent_session_new(a, cb, arg);

	if (s == NULL)
		return -ENOTCONN;
	trace("agent %p: exec %s on %u", (void *)a, e->argv[0] ? e->argv[0] : "", s->chan);
	agent_exec_add(&a->out, s->chan, e);
	agent_update_mask(a);
	*ret_chan = s->chan;
	return 0;
}

int
agent_fs(struct agent *a, const struct agent_fs *f,
    const struct agent_session_callbacks *cb, void *arg, uint32_t *ret_chan)
{
	struct agent_session *s;

	if (!a->closed && a->ready && a->version < AGENT_VERSION_FS)
		return -ENOTSUP;
	if ((s = agent_session_new(a, cb, arg)) == NULL)
		return -ENOTCONN;
	s->started = 1;
	agent_fs_add(&a->out, s->chan, f);
	agent_update_mask(a);
	*ret_chan = s->chan;
	return 0;
}

int
agent_connect(struct agent *a, const char *host, uint16_t port,
    const struct agent_session_callbacks *cb, void *arg, uint32_t *ret_chan)
{
	struct agent_session *s;

	/* An older guest would ignore CONNECT and never answer. */
	if (!a->closed && a->ready && a->version < AGENT_VERSION_PROXY)
		return -ENOTSUP;
	if ((s = agent_session_new(a, cb, arg)) == NULL)
		return -ENOTCONN;
	agent_connect_add(&a->out, s->chan, host, port);
	agent_update_mask(a);
	*ret_chan = s->chan;
	return 0;
}

static int
agent_session_send(struct agent *a, uint32_t chan, uint16_t type, const void *p, size_t n)
{
	if (a->closed)
		return -ENOTCONN;
	if (agent_find(a, chan) == NULL)
		return -ENOENT;
	agent_send(a, type, chan, p, n);
	return 0;
}

int
agent_stdin(struct agent *a, uint32_t chan, const void *data, size_t len)
{
	struct agent_session *s;
	const uint8_t *p = data;
	size_t n;

	if (a->closed)
		return -ENOTCONN;
	if ((s = agent_find(a, chan)) == NULL)
		return -ENOENT;
	if (s->cb->stdin_room != NULL) {
		if (len > s->stdin_room) {
			s->stdin_wants_room = 1;
			return -EAGAIN;
		}
		agent_stdin_send(a, s, p, len);
		if (s->stdin_room == 0)
			s->stdin_wants_room = 1;
		return 0;
	}
	/* An owner that cannot wait: keep what does not fit, within reason. */
	if (s->stdin_killed)
		return -ENOBUFS;
	if (len > AGENT_STDIN_BACKLOG_MAX - buf_used(&s->stdin_backlog)) {
		s->stdin_killed = 1;
		buf_done(&s->stdin_backlog);
		buf_init(&s->stdin_backlog);
		agent_signal(a, chan, SIGKILL);
		return -ENOBUFS;
	}
	if (buf_used(&s->stdin_backlog) == 0) {
		n = len < s->stdin_room ? len : s->stdin_room;
		agent_stdin_send(a, s, p, n);
		p += n;
		len -= n;
	}
	buf_add(&s->stdin_backlog, p, len);
	return 0;
}

size_t
agent_stdin_room(const struct agent *a, uint32_t chan)
{
	struct agent_session *s;

	if (a->closed)
		return 0;
	if ((s = agent_find(a, chan)) == NULL || s->stdin_killed ||
	    buf_used(&s->stdin_backlog) > 0)
		return 0;
	return s->stdin_room;
}

int
agent_stdin_eof(struct agent *a, uint32_t chan)
{
	struct agent_session *s;

	if (a->closed)
		return -ENOTCONN;
	if ((s = agent_find(a, chan)) == NULL)
		return -ENOENT;
	if (buf_used(&s->stdin_backlog) > 0) {
		s->stdin_eof = 1;
		return 0;
	}
	agent_send(a, AGENT_STDIN_EOF, chan, NULL, 0);
	return 0;
}

int
agent_consumed(struct agent *a, uint32_t chan, size_t n)
{
	struct agent_session *s;

	if (a->closed)
		return -ENOTCONN;
	if ((s = agent_find(a, chan)) == NULL)
		return -ENOENT;
	if (n > s->out_unconsumed)
		n = (size_t)s->out_unconsumed;
	s->out_unconsumed -= n;
	agent_grant_output(a, s, n);
	return 0;
}

int
agent_signal(struct agent *a, uint32_t chan, int sig)
{
	uint8_t p[4] = { sig & 0xff, (sig >> 8) & 0xff, 0, 0 };

	return agent_session_send(a, chan, AGENT_SIGNAL, p, sizeof p);
}

int
agent_resize(struct agent *a, uint32_t chan, unsigned rows, unsigned cols)
{
	uint8_t p[4] = { rows & 0xff, (rows >> 8) & 0xff, cols & 0xff, (cols >> 8) & 0xff };

	return agent_session_send(a, chan, AGENT_RESIZE, p, sizeof p);
}

void
agent_forget(struct agent *a, uint32_t chan)
{
	struct agent_session *s = agent_find(a, chan);

	if (s == NULL)
		return;
	agent_signal(a, chan, SIGKILL);
	/* The guest ends a session only once its pipes are drained; whatever
	 * the process left there comes on to be dropped here, rather than
	 * keeping that session in the guest for good. */
	if (!a->closed)
		agent_window_add(&a->out, AGENT_WINDOW, chan, UINT32_MAX);
	agent_unlink(a, s);
}

/* A request answered by the guest echoing its cookie (PING, SYNC). */
static int
agent_request(struct agent *a, uint16_t type, agent_ping_fn fn, void *arg)
{
	struct agent_ping *p;
	uint8_t c[8];

	if (a->closed)
		return -ENOTCONN;
	p = xcalloc(1, sizeof *p);
	p->cookie = ++a->next_cookie;
	p->sent_us = loop_now_us();
	p->fn = fn;
	p->arg = arg;
	p->next = a->pings;
	a->pings = p;
	for (int i = 0; i < 8; i++)
		c[i] = (uint8_t)(p->cookie >> (8 * i));
	agent_send(a, type, 0, c, sizeof c);
	return 0;
}

int
agent_ping(struct agent *a, agent_ping_fn fn, void *arg)
{
	return agent_request(a, AGENT_PING, fn, arg);
}

int
agent_sync(struct agent *a, agent_ping_fn fn, void *arg)
{
	return agent_request(a, AGENT_SYNC, fn, arg);
}

int
agent_reply(struct agent *a, uint32_t id, int status, const char *text)
{
	size_t off;

	if (a->closed)
		return -ENOTCONN;
	off = agent_frame_begin(&a->out, AGENT_REPLY, 0);
	buf_add_u32(&a->out, id);
	buf_add_u32(&a->out, (uint32_t)status);
	buf_add_str(&a->out, text);
	agent_frame_end(&a->out, off);
	agent_update_mask(a);
	return 0;
}

int
agent_identity(struct agent *a, const char *hostname, const char *machine_id)
{
	uint8_t seed[AGENT_SEED_SIZE];
	size_t off;

	if (a->closed)
		return -ENOTCONN;
	if (getrandom(seed, sizeof seed, 0) != (ssize_t)sizeof seed)
		return -EIO;
	off = agent_frame_begin(&a->out, AGENT_IDENTITY, 0);
	buf_add_str(&a->out, hostname);
	buf_add_str(&a->out, machine_id);
	buf_add_u32(&a->out, sizeof seed);
	buf_add(&a->out, seed, sizeof seed);
	agent_frame_end(&a->out, off);
	/* Now: the guest takes its identity (tens of ms under TCG for a
	 * fork) while the host records the boot, and a first command
	 * waits behind it. */
	agent_write_now(a);
	return 0;
}

int
agent_shutdown(struct agent *a)
{
	if (a->closed)
		return -ENOTCONN;
	agent_send(a, AGENT_SHUTDOWN, 0, NULL, 0);
	return 0;
}

size_t
agent_pending(const struct agent *a)
{
	return buf_used(&a->out);
}
