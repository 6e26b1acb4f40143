/*
 * ws: a wslay event context bound to one fd in the loop.
 *
 * Reading and writing happen only from the loop (the fd's callback or a
 * zero-delay "kick" timer), never from ws_send or ws_close, so no callback
 * runs inside a caller's ws_send. A callback may free its own ws: the free is
 * then deferred until the I/O step that called it unwinds (@depth).
 *
 * wslay sends control frames before queued data, so a close asked for with
 * ws_close waits until the data queued before it has been written.
 */
#include "ws.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nettle/base64.h>
#include <nettle/sha1.h>
#include <wslay/wslay.h>

#include "buf.h"
#include "loop.h"
#include "util.h"
#include "xmalloc.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
/* ws_send2's buffer is kept for the next message up to this size. */
#define WS_SCRATCH_KEEP	(1u << 20)

struct ws {
	struct loop		*loop;
	int			 fd;
	int			 own_fd;
	wslay_event_context_ptr	 ctx;
	struct ws_callbacks	 cb;
	void			*arg;

	uint8_t			*prefix;	/* bytes read before us */
	size_t			 prefix_len;
	size_t			 prefix_off;

	int			 watching;	/* fd is in the loop */
	int			 hup;		/* the loop reported a hang-up */
	int			 paused;
	int			 high;		/* pending reached WS_LOW_WATER */
	int			 failed;	/* I/O error or end of file */
	int			 closing;	/* ws_close was called */
	int			 close_queued;	/* our close frame is queued */
	uint16_t		 close_code;
	char			 close_reason[124];
	int			 closed;	/* closed callback done */
	int			 dead;		/* ws_free was called */
	int			 depth;		/* I/O steps on the stack */

	uint64_t		 kick_timer;
	uint64_t		 close_timer;
};

static void ws_io(struct ws *, int);

static ssize_t
ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *arg)
{
	struct ws *ws = arg;
	ssize_t n;

	if (ws->dead || ws->paused) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (ws->prefix_off < ws->prefix_len) {
		n = (ssize_t)(ws->prefix_len - ws->prefix_off);
		if ((size_t)n > len)
			n = (ssize_t)len;
		memcpy(buf, ws->prefix + ws->prefix_off, (size_t)n);
		ws->prefix_off += (size_t)n;
		return n;
	}
	for (;;) {
		n = read(ws->fd, buf, len);
		if (n > 0)
			return n;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
			return -1;
		}
		ws->failed = 1;
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
}

static ssize_t
ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *arg)
{
	struct ws *ws = arg;
	ssize_t n;

	for (;;) {
		n = send(ws->fd, data, len, MSG_NOSIGNAL);
		if (n < 0 && errno == ENOTSOCK)
			n = write(ws->fd, data, len);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
			return -1;
		}
		ws->failed = 1;
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
}

static int
ws_genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *arg)
{
	/* Masks are 4 bytes: the kernel's pool gives them whole. */
	return getrandom(buf, len, 0) == (ssize_t)len ? 0 : -1;
}

static void
ws_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *m, void *arg)
{
	struct ws *ws = arg;

	if (m->opcode != WSLAY_TEXT_FRAME && m->opcode != WSLAY_BINARY_FRAME)
		return;
	if (ws->dead || ws->closed)
		return;
	if (ws->cb.message != NULL)
		ws->cb.message(ws, m->opcode == WSLAY_BINARY_FRAME,
		    m->msg != NULL ? m->msg : (const uint8_t *)"", m->msg_length, ws->arg);
	/* Freed inside the callback: stop wslay from parsing what it holds. */
	if (ws->dead)
		wslay_event_shutdown_read(ctx);
}

static void
ws_unwatch(struct ws *ws)
{
	if (ws->watching)
		loop_del_fd(ws->loop, ws->fd);
	ws->watching = 0;
}

static void
ws_fd_cb(struct loop *l, int fd, int events, void *arg)
{
	ws_io(arg, events);
}

/* Sets the loop's interest: read unless paused or done reading, write only
 * while output is queued. After a hang-up the fd stays out of the loop until
 * there is something to try (it would be reported again on every turn). */
static void
ws_rearm(struct ws *ws)
{
	int mask = 0;

	if (ws->closed || ws->dead)
		return;
	if (!ws->paused && wslay_event_get_read_enabled(ws->ctx))
		mask |= LOOP_READ;
	if (wslay_event_want_write(ws->ctx) ||
	    (ws->closing && !ws->close_queued))
		mask |= LOOP_WRITE;
	if (ws->watching) {
		loop_set_fd(ws->loop, ws->fd, mask);
		return;
	}
	if (ws->hup && mask == 0)
		return;
	if (loop_add_fd(ws->loop, ws->fd, mask, ws_fd_cb, ws) == 0)
		ws->watching = 1;
	else
		ws->failed = 1;
}

static void
ws_finish(struct ws *ws, int code)
{
	ws->closed = 1;
	ws_unwatch(ws);
	loop_del_timer(ws->loop, ws->kick_timer);
	loop_del_timer(ws->loop, ws->close_timer);
	ws->kick_timer = ws->close_timer = 0;
	if (ws->cb.closed != NULL)
		ws->cb.closed(ws, code, ws->arg);
}

static int
ws_final_code(struct ws *ws)
{
	if (wslay_event_get_close_received(ws->ctx))
		return wslay_event_get_status_code_received(ws->ctx);
	if (wslay_event_get_close_sent(ws->ctx))
		return wslay_event_get_status_code_sent(ws->ctx);
	return WSLAY_CODE_ABNORMAL_CLOSURE;
}

static void
ws_close_timer_cb(struct loop *l, uint64_t id, void *arg)
{
	struct ws *ws = arg;

	ws->close_timer = 0;
	ws->depth++;
	if (!ws->closed)
		ws_finish(ws, ws_final_code(ws));
	if (--ws->depth == 0 && ws->dead)
		ws_free(ws);
}

static void
ws_kick_cb(struct loop *l, uint64_t id, void *arg)
{
	struct ws *ws = arg;

	ws->kick_timer = 0;
	ws_io(ws, LOOP_READ | LOOP_WRITE);
}

/* Queues our close frame once the data queued before ws_close is out. */
static void
ws_queue_close(struct ws *ws)
{
	int r;

	if (!ws->closing || ws->close_queued ||
	    wslay_event_get_queued_msg_count(ws->ctx) > 0)
		return;
	ws->close_queued = 1;
	r = wslay_event_queue_close(ws->ctx, ws->close_code, (const uint8_t *)ws->close_reason,
	    strlen(ws->close_reason));
	if (r != 0 && r != WSLAY_ERR_NO_MORE_MSG)
		ws->failed = 1;
}

static void
ws_flush(struct ws *ws)
{
	int i;

	for (i = 0; i < 2 && !ws->failed; i++) {
		ws_queue_close(ws);
		if (!wslay_event_want_write(ws->ctx))
			break;
		if (wslay_event_send(ws->ctx) != 0)
			ws->failed = 1;
	}
}

/* After I/O: ends the connection when the close handshake is over or it
 * failed, else re-arms the loop and reports drained output. */
static void
ws_update(struct ws *ws)
{
	wslay_event_context_ptr ctx = ws->ctx;

	if (ws->closed)
		return;
	if (ws->failed) {
		ws_finish(ws, wslay_event_get_close_received(ctx) ?
		    wslay_event_get_status_code_received(ctx) : WSLAY_CODE_ABNORMAL_CLOSURE);
		return;
	}
	if (wslay_event_get_close_sent(ctx) && !wslay_event_get_read_enabled(ctx)) {
		ws_finish(ws, ws_final_code(ws));
		return;
	}
	/* The handshake's last phase (our close is queued, or wslay stopped
	 * reading after the peer's close or an error) gets a deadline. */
	if (ws->close_timer == 0 && (ws->close_queued || !wslay_event_get_read_enabled(ctx)))
		ws->close_timer = loop_add_timer(ws->loop, WS_CLOSE_TIMEOUT_MS,
		    ws_close_timer_cb, ws);
	ws_rearm(ws);
	if (ws->failed) {
		ws_finish(ws, WSLAY_CODE_ABNORMAL_CLOSURE);
		return;
	}
	if (ws->high && ws_pending(ws) < WS_LOW_WATER) {
		ws->high = 0;
		if (ws->cb.drained != NULL)
			ws->cb.drained(ws, ws->arg);
	}
}

static void
ws_io(struct ws *ws, int events)
{
	ws->depth++;
	if (ws->closed)
		goto out;
	if ((events & LOOP_READ) && !ws->paused && wslay_event_get_read_enabled(ws->ctx)) {
		if (wslay_event_recv(ws->ctx) != 0)
			ws->failed = 1;
	}
	if (ws->dead)
		goto out;
	if (!ws->failed)
		ws_flush(ws);
	if (events & LOOP_HUP) {
		/* Level-triggered: keep it out of the loop until resumed. */
		ws->hup = 1;
		ws_unwatch(ws);
	}
	ws_update(ws);
out:
	if (--ws->depth == 0 && ws->dead)
		ws_free(ws);
}

static void
ws_kick(struct ws *ws)
{
	if (ws->kick_timer == 0 && !ws->closed && !ws->dead)
		ws->kick_timer = loop_add_timer(ws->loop, 0, ws_kick_cb, ws);
}

struct ws *
ws_new(struct loop *l, int fd, int client, int own_fd, const uint8_t *prefix, size_t prefix_len,
    const struct ws_callbacks *cb, void *arg)
{
	static const struct wslay_event_callbacks wcb = {
		.recv_callback = ws_recv_cb,
		.send_callback = ws_send_cb,
		.genmask_callback = ws_genmask_cb,
		.on_msg_recv_callback = ws_msg_cb,
	};
	struct ws *ws;
	int r;

	r = fd_set_nonblock(fd, 1);
	if (r < 0) {
		errno = -r;
		return NULL;
	}
	ws = xcalloc(1, sizeof *ws);
	ws->loop = l;
	ws->fd = fd;
	ws->cb = *cb;
	ws->arg = arg;
	if (client)
		r = wslay_event_context_client_init(&ws->ctx, &wcb, ws);
	else
		r = wslay_event_context_server_init(&ws->ctx, &wcb, ws);
	if (r != 0) {
		free(ws);
		errno = ENOMEM;
		return NULL;
	}
	wslay_event_config_set_max_recv_msg_length(ws->ctx, WS_MAX_MESSAGE);
	r = loop_add_fd(l, fd, LOOP_READ, ws_fd_cb, ws);
	if (r < 0) {
		wslay_event_context_free(ws->ctx);
		free(ws);
		errno = -r;
		return NULL;
	}
	ws->watching = 1;
	ws->own_fd = own_fd;
	if (prefix_len > 0) {
		ws->prefix = xmalloc(prefix_len);
		memcpy(ws->prefix, prefix, prefix_len);
		ws->prefix_len = prefix_len;
		ws_kick(ws);
	}
	return ws;
}

void
ws_free(struct ws *ws)
{
	if (ws == NULL)
		return;
	if (!ws->dead) {
		ws->dead = 1;
		ws_unwatch(ws);
		loop_del_timer(ws->loop, ws->kick_timer);
		loop_del_timer(ws->loop, ws->close_timer);
		ws->kick_timer = ws->close_timer = 0;
	}
	if (ws->depth > 0)
		return;
	wslay_event_context_free(ws->ctx);
	if (ws->own_fd)
		close(ws->fd);
	free(ws->prefix);
	free(ws);
}

int
ws_send(struct ws *ws, int binary, const void *data, size_t len)
{
	struct wslay_event_msg m = {
		.opcode = binary ? WSLAY_BINARY_FRAME : WSLAY_TEXT_FRAME,
		.msg = data,
		.msg_length = len,
	};
	int r;

	if (ws->closed || ws->dead || ws->closing)
		return -EPIPE;
	r = wslay_event_queue_msg(ws->ctx, &m);
	if (r == WSLAY_ERR_NO_MORE_MSG)
		return -EPIPE;
	if (r == WSLAY_ERR_NOMEM)
		return -ENOMEM;
	if (r != 0)
		return -EINVAL;
	if (ws_pending(ws) >= WS_LOW_WATER)
		ws->high = 1;
	ws_rearm(ws);
	return 0;
}

int
ws_send2(struct ws *ws, int binary, const void *head, size_t head_len, const void *data,
    size_t len)
{
	/* wslay copies the message: joining the parts in memory already
	 * touched spares a fresh allocation (and its page faults) per message. */
	static struct buf scratch;
	int r;

	buf_reset(&scratch);
	buf_add(&scratch, head, head_len);
	buf_add(&scratch, data, len);
	r = ws_send(ws, binary, buf_head(&scratch), buf_used(&scratch));
	if (scratch.cap > WS_SCRATCH_KEEP) {
		buf_done(&scratch);
		buf_init(&scratch);
	}
	return r;
}

void
ws_close(struct ws *ws, int code, const char *reason)
{
	size_t n = reason != NULL ? strlen(reason) : 0;

	if (ws->closed || ws->dead || ws->closing)
		return;
	ws->closing = 1;
	ws->close_code = (uint16_t)code;
	if (n >= sizeof ws->close_reason)
		n = sizeof ws->close_reason - 1;
	if (n > 0)
		memcpy(ws->close_reason, reason, n);
	ws->close_reason[n] = '\0';
	ws_rearm(ws);
}

int
ws_drain(struct ws *ws, int timeout_ms)
{
	uint64_t end = loop_now_ms() + (uint64_t)timeout_ms, now;
	struct pollfd pfd = { .fd = ws->fd, .events = POLLOUT };

	while (!ws->closed && !ws->failed && wslay_event_want_write(ws->ctx)) {
		ws_flush(ws);
		if (!ws->failed && !wslay_event_want_write(ws->ctx))
			return 0;
		now = loop_now_ms();
		if (now >= end)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)(end - now)) < 0 && errno != EINTR)
			return -errno;
	}
	return ws->closed || ws->failed ? -EPIPE : 0;
}

size_t
ws_pending(const struct ws *ws)
{
	return wslay_event_get_queued_msg_length(ws->ctx);
}

void
ws_pause_input(struct ws *ws, int paused)
{
	if (ws->paused == !!paused)
		return;
	ws->paused = !!paused;
	if (ws->closed || ws->dead)
		return;
	ws_rearm(ws);
	/* Bytes of the prefix, or a hang-up, give no new read event. */
	if (!paused)
		ws_kick(ws);
}

void
ws_accept_key(const char *client_key, char out[29])
{
	uint8_t md[SHA1_DIGEST_SIZE];
	char *s = xasprintf("%s%s", client_key, WS_GUID);
	struct sha1_ctx ctx;

	sha1_init(&ctx);
	sha1_update(&ctx, strlen(s), (const uint8_t *)s);
	sha1_digest(&ctx, sizeof md, md);
	base64_encode_raw(out, sizeof md, md);
	out[BASE64_ENCODE_RAW_LENGTH(sizeof md)] = '\0';
	free(s);
}

void
ws_client_key(char out[25])
{
	uint8_t nonce[16];

	if (getrandom(nonce, sizeof nonce, 0) != (ssize_t)sizeof nonce)
		abort();
	base64_encode_raw(out, sizeof nonce, nonce);
	out[BASE64_ENCODE_RAW_LENGTH(sizeof nonce)] = '\0';
}
