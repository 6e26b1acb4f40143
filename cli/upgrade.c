/*
 * upgrade: WebSocket handshake over a raw socket, before common/ws takes it.
 */
#include "upgrade.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/client.h"
#include "cli/response.h"
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

int
upgrade_parse_head(const char *data, size_t len, struct upgrade_head *ret)
{
	struct response r;
	long n = 0;
	int rc = 0;

	response_init(&r, 1);
	/* Not on nothing: @data is NULL before the first read, and a length
	 * of 0 would tell the parser the connection ended. */
	if (len > 0)
		n = response_feed(&r, data, len);
	if (n < 0)
		rc = -EBADMSG;
	else if (!r.head_done)
		rc = len > UPGRADE_MAX_HEAD ? -EBADMSG : -EAGAIN;
	if (rc == 0) {
		ret->status = r.status;
		ret->upgrade_websocket = r.upgrade_websocket;
		ret->connection_upgrade = r.connection_upgrade;
		memcpy(ret->accept, r.accept, sizeof ret->accept);
		ret->content_length = r.content_length;
		ret->chunked = r.chunked;
		ret->head_len = r.head_len;
	}
	response_done(&r);
	return rc;
}

int
upgrade_dechunk(const char *data, size_t len, struct buf *out)
{
	/* The parser reads chunks only as part of a message: give it the
	 * head such a body comes with. */
	static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
	struct response r;
	int rc;

	response_init(&r, 0);
	rc = response_feed(&r, head, sizeof head - 1) < 0 ||
	    (len > 0 && response_feed(&r, data, len) < 0) ? -EBADMSG : 0;
	if (rc == 0 && !r.complete)
		rc = -EAGAIN;
	if (rc != -EBADMSG)
		buf_add(out, buf_head(&r.body), buf_used(&r.body));
	response_done(&r);
	return rc;
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

/* The message of a refused upgrade: its body (the rest read from @fd after
 * what @in holds) parsed from the start of the answer. */
static char *
upgrade_refused(int fd, const struct upgrade_head *h, struct buf *in, uint64_t deadline)
{
	struct response r;
	uint8_t data[16384];
	ssize_t n;
	char *msg;

	response_init(&r, 0);
	if (response_feed(&r, (const char *)buf_head(in), buf_used(in)) < 0)
		goto out;
	while (!r.complete && buf_used(&r.body) <= UPGRADE_MAX_BODY) {
		n = read(fd, data, sizeof data);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN && upgrade_wait(fd, POLLIN, deadline) == 0)
			continue;
		if (n < 0 || response_feed(&r, (const char *)data, (size_t)n) < 0 || n == 0)
			break;
	}
out:
	msg = client_error_message(h->status, (const char *)buf_head(&r.body),
	    buf_used(&r.body));
	response_done(&r);
	return msg;
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
		*cause = upgrade_refused(fd, &h, &in, deadline);
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
