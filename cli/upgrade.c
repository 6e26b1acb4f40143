/*
 * upgrade: WebSocket handshake over a raw socket, before common/ws takes it.
 */
#include "upgrade.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/client.h"
#include "common/buf.h"
#include "common/loop.h"
#include "common/ws.h"
#include "common/xmalloc.h"

#define UPGRADE_MAX_HEAD	(64 * 1024)
#define UPGRADE_MAX_BODY	(1024 * 1024)

char *
upgrade_request(const char *path, const char *key)
{
	return xasprintf("GET %s HTTP/1.1\r\n"
	    "Host: localhost\r\n"
	    "User-Agent: sprig\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "\r\n", path, key);
}

/* Whether the comma-separated header value @v (of length @n) lists @token. */
static int
upgrade_has_token(const char *v, size_t n, const char *token)
{
	size_t tl = strlen(token), i = 0;

	while (i < n) {
		size_t s, e;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && strncasecmp(v + s, token, tl) == 0)
			return 1;
	}
	return 0;
}

int
upgrade_parse_head(const char *data, size_t len, struct upgrade_head *ret)
{
	struct upgrade_head h = { .content_length = -1 };
	const char *end, *p, *eol;
	char *num_end;
	long v;

	/* Not memmem on nothing: @data is NULL before the first read. */
	end = len >= 4 ? memmem(data, len, "\r\n\r\n", 4) : NULL;
	if (end == NULL)
		return len > UPGRADE_MAX_HEAD ? -EBADMSG : -EAGAIN;
	h.head_len = (size_t)(end - data) + 4;
	if (h.head_len < 12 || strncmp(data, "HTTP/1.", 7) != 0 || data[8] != ' ')
		return -EBADMSG;
	v = strtol(data + 9, &num_end, 10);
	if (num_end != data + 12 || v < 100 || v > 999)
		return -EBADMSG;
	h.status = (int)v;
	p = memmem(data, h.head_len, "\r\n", 2) + 2;
	while (p < end + 2) {
		const char *colon, *val;
		size_t name_len, val_len;

		eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
		colon = memchr(p, ':', (size_t)(eol - p));
		if (colon == NULL)
			return -EBADMSG;
		name_len = (size_t)(colon - p);
		val = colon + 1;
		while (val < eol && (*val == ' ' || *val == '\t'))
			val++;
		val_len = (size_t)(eol - val);
		while (val_len > 0 && (val[val_len - 1] == ' ' || val[val_len - 1] == '\t'))
			val_len--;
#define IS(name) (name_len == strlen(name) && strncasecmp(p, name, name_len) == 0)
		if (IS("Upgrade"))
			h.upgrade_websocket = upgrade_has_token(val, val_len, "websocket");
		else if (IS("Connection"))
			h.connection_upgrade = upgrade_has_token(val, val_len, "upgrade");
		else if (IS("Sec-WebSocket-Accept") && val_len < sizeof h.accept) {
			memcpy(h.accept, val, val_len);
			h.accept[val_len] = '\0';
		} else if (IS("Content-Length")) {
			char tmp[24];

			if (val_len == 0 || val_len >= sizeof tmp)
				return -EBADMSG;
			memcpy(tmp, val, val_len);
			tmp[val_len] = '\0';
			h.content_length = strtol(tmp, &num_end, 10);
			if (*num_end != '\0' || h.content_length < 0)
				return -EBADMSG;
		} else if (IS("Transfer-Encoding"))
			h.chunked = upgrade_has_token(val, val_len, "chunked");
#undef IS
		p = eol + 2;
	}
	*ret = h;
	return 0;
}

int
upgrade_dechunk(const char *data, size_t len, struct buf *out)
{
	size_t off = 0;

	for (;;) {
		const char *eol = memmem(data + off, len - off, "\r\n", 2);
		unsigned long n;
		char *e;

		if (eol == NULL)
			return -EAGAIN;
		n = strtoul(data + off, &e, 16);
		if (e == data + off || (*e != '\r' && *e != ';'))
			return -EBADMSG;
		off = (size_t)(eol - data) + 2;
		if (n == 0)
			return 0;	/* trailers are of no interest */
		if (n > UPGRADE_MAX_BODY || len - off < n + 2)
			return -EAGAIN;
		buf_add(out, data + off, n);
		off += n;
		if (memcmp(data + off, "\r\n", 2) != 0)
			return -EBADMSG;
		off += 2;
	}
}

/* Waits until @fd is ready for @events or @deadline (monotonic ms) passes. */
static int
upgrade_wait(int fd, short events, uint64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	uint64_t now;
	int r;

	for (;;) {
		now = loop_now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, (int)(deadline - now > 60000 ? 60000 : deadline - now));
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

/* Reads the rest of a refused upgrade's body into @in (which already holds
 * what came with the head). */
static void
upgrade_read_body(int fd, struct buf *in, const struct upgrade_head *h, uint64_t deadline)
{
	for (;;) {
		size_t have = buf_used(in) - h->head_len;
		ssize_t n;

		if (h->content_length >= 0 && have >= (size_t)h->content_length)
			return;
		if (h->chunked) {
			struct buf tmp;
			int r;

			buf_init(&tmp);
			r = upgrade_dechunk((const char *)buf_head(in) + h->head_len, have, &tmp);
			buf_done(&tmp);
			if (r != -EAGAIN)
				return;
		}
		if (have > UPGRADE_MAX_BODY)
			return;
		n = read(fd, buf_reserve(in, 16384), 16384);
		if (n > 0) {
			buf_commit(in, (size_t)n);
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			return;
		if (errno == EAGAIN && upgrade_wait(fd, POLLIN, deadline) < 0)
			return;
	}
}

static char *
upgrade_refused(const struct upgrade_head *h, struct buf *in)
{
	const char *body = (const char *)buf_head(in) + h->head_len;
	size_t len = buf_used(in) - h->head_len;
	char *msg;

	if (h->content_length >= 0 && (size_t)h->content_length < len)
		len = (size_t)h->content_length;
	if (h->chunked) {
		struct buf plain;

		buf_init(&plain);
		upgrade_dechunk(body, len, &plain);
		msg = client_error_message(h->status, (const char *)buf_head(&plain),
		    buf_used(&plain));
		buf_done(&plain);
		return msg;
	}
	return client_error_message(h->status, body, len);
}

int
upgrade_perform(int fd, const char *path, const char *key, int timeout_ms, struct buf *prefix,
    char **cause)
{
	uint64_t deadline = loop_now_ms() + (uint64_t)timeout_ms;
	char *req = upgrade_request(path, key), want[29];
	size_t off = 0, len = strlen(req);
	struct upgrade_head h;
	struct buf in;
	int r;

	buf_init(&in);
	while (off < len) {
		ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);

		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		r = errno == EAGAIN ? upgrade_wait(fd, POLLOUT, deadline) : -errno;
		if (r == 0)
			continue;
		*cause = xasprintf("cannot send the exec request: %s", strerror(-r));
		goto out;
	}
	for (;;) {
		ssize_t n;

		r = upgrade_parse_head((const char *)buf_head(&in), buf_used(&in), &h);
		if (r != -EAGAIN)
			break;
		n = read(fd, buf_reserve(&in, 4096), 4096);
		if (n > 0) {
			buf_commit(&in, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		r = n == 0 ? -ECONNRESET : errno == EAGAIN ? upgrade_wait(fd, POLLIN, deadline) :
		    -errno;
		if (r == 0)
			continue;
		if (r == -ETIMEDOUT)
			*cause = xasprintf("the daemon did not answer the exec request in %d s",
			    timeout_ms / 1000);
		else if (r == -ECONNRESET)
			*cause = xstrdup("the daemon closed the connection before answering the "
			    "exec request");
		else
			*cause = xasprintf("cannot read the daemon's answer: %s", strerror(-r));
		goto out;
	}
	if (r < 0) {
		*cause = xstrdup("the daemon's answer to the exec request is not HTTP");
		goto out;
	}
	if (h.status != 101) {
		upgrade_read_body(fd, &in, &h, deadline);
		*cause = upgrade_refused(&h, &in);
		r = -EPROTO;
		goto out;
	}
	ws_accept_key(key, want);
	if (!h.upgrade_websocket || !h.connection_upgrade || strcmp(h.accept, want) != 0) {
		*cause = xstrdup("the daemon's WebSocket handshake is invalid");
		r = -EPROTO;
		goto out;
	}
	buf_add(prefix, buf_head(&in) + h.head_len, buf_used(&in) - h.head_len);
	r = 0;
out:
	buf_done(&in);
	free(req);
	return r;
}
