/*
 * wsconn: connect, send the upgrade, read the head (and, when refused, the
 * error body), then hand the socket to common/ws. Until the head is in, the
 * socket is this module's loop fd; after, it is the ws's. An end found
 * while opening is reported from a zero-delay timer, so no callback ever
 * runs inside wsconn_open.
 */
#include "wsconn.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli/client.h"
#include "cli/exec.h"
#include "cli/upgrade.h"
#include "common/buf.h"
#include "common/loop.h"
#include "common/ws.h"
#include "common/xmalloc.h"

#define WSCONN_READ_MAX	(64 * 1024)	/* an error body is short */

enum {
	WSCONN_CONNECTING,
	WSCONN_HEAD,		/* request sent, reading the answer's head */
	WSCONN_BODY,		/* refused: reading the error body */
	WSCONN_OPEN,
	WSCONN_ENDED,
};

struct wsconn {
	struct loop			*loop;
	int				 fd;		/* until the ws owns it */
	int				 state;
	char				 key[25];
	struct buf			 out;		/* the request, unsent part */
	struct buf			 in;		/* the answer so far */
	struct upgrade_head		 head;
	struct ws			*ws;
	struct wsconn_callbacks	 cb;
	void				*arg;
	int				 rows, cols;
	int				 exit_code;
	char				*error;
	uint64_t			 end_timer;
	int				 paused;
	int				 attach;	/* to an existing session */
	char				*id;		/* the session's, from session_info */
};

static void
wsconn_close_fd(struct wsconn *s)
{
	if (s->fd >= 0) {
		loop_del_fd(s->loop, s->fd);
		close(s->fd);
		s->fd = -1;
	}
}

static void
wsconn_end_cb(struct loop *l, uint64_t id, void *arg)
{
	struct wsconn *s = arg;

	s->end_timer = 0;
	s->cb.ended(s, s->exit_code, s->error, s->arg);
}

/* Ends while opening: reported from the loop. @why is consumed. */
static void
wsconn_fail(struct wsconn *s, char *why)
{
	wsconn_close_fd(s);
	s->state = WSCONN_ENDED;
	free(s->error);
	s->error = why;
	s->exit_code = -1;
	s->end_timer = loop_add_timer(s->loop, 0, wsconn_end_cb, s);
}

static void
wsconn_ws_message(struct ws *ws, int binary, const uint8_t *data, size_t len, void *arg)
{
	struct wsconn *s = arg;
	struct exec_text t;

	if (binary) {
		s->cb.data(s, data, len, s->arg);
		return;
	}
	exec_parse_text((const char *)data, len, &t);
	if (t.session_id != NULL && s->id == NULL) {
		s->id = t.session_id;
		t.session_id = NULL;
		if (s->cb.info != NULL)
			s->cb.info(s, s->arg);
	}
	free(t.session_id);
	if (t.detached && s->error == NULL)
		s->error = xstrdup("detached: another client attached to this shell");
	if (t.exit_code >= 0 && s->exit_code < 0)
		s->exit_code = t.exit_code;
	if (t.error != NULL && s->error == NULL)
		s->error = t.error;
	else
		free(t.error);
}

static void
wsconn_ws_closed(struct ws *ws, int code, void *arg)
{
	struct wsconn *s = arg;

	if (s->state == WSCONN_ENDED)
		return;
	s->state = WSCONN_ENDED;
	if (s->exit_code < 0 && s->error == NULL)
		s->error = xstrdup(code == 1006 ? "lost the connection to the daemon" :
		    "the daemon closed the session");
	s->cb.ended(s, s->error != NULL ? -1 : s->exit_code, s->error, s->arg);
}

static void
wsconn_start_ws(struct wsconn *s)
{
	static const struct ws_callbacks cb = {
		.message = wsconn_ws_message,
		.closed = wsconn_ws_closed,
	};
	int fd = s->fd;
	char msg[96];

	loop_del_fd(s->loop, fd);
	s->fd = -1;
	s->ws = ws_new(s->loop, fd, 1, 1, buf_head(&s->in) + s->head.head_len,
	    buf_used(&s->in) - s->head.head_len, &cb, s);
	if (s->ws == NULL) {
		close(fd);
		wsconn_fail(s, xasprintf("cannot start the WebSocket: %s", strerror(errno)));
		return;
	}
	buf_reset(&s->in);
	s->state = WSCONN_OPEN;
	if (s->paused)
		ws_pause_input(s->ws, 1);
	/* The pane may have changed size while the sprite woke. A shell
	 * attached to at the size it had gets no SIGWINCH from that alone, so
	 * it first hears one row less: full-screen programs redraw. */
	if (s->attach && s->rows > 1) {
		snprintf(msg, sizeof msg, "{\"type\":\"resize\",\"cols\":%d,\"rows\":%d}",
		    s->cols, s->rows - 1);
		ws_send(s->ws, 0, msg, strlen(msg));
	}
	snprintf(msg, sizeof msg, "{\"type\":\"resize\",\"cols\":%d,\"rows\":%d}", s->cols,
	    s->rows);
	ws_send(s->ws, 0, msg, strlen(msg));
	if (s->cb.opened != NULL)
		s->cb.opened(s, s->arg);
}

/* The error body is complete (or the daemon hung up). */
static int
wsconn_body_done(struct wsconn *s, int eof)
{
	const char *body = (const char *)buf_head(&s->in) + s->head.head_len;
	size_t len = buf_used(&s->in) - s->head.head_len;
	struct buf plain;
	char *msg;
	int r;

	buf_init(&plain);
	if (s->head.chunked) {
		r = upgrade_dechunk(body, len, &plain);
		if (r == -EAGAIN && !eof) {
			buf_done(&plain);
			return 0;
		}
		body = (const char *)buf_head(&plain);
		len = buf_used(&plain);
	} else if (s->head.content_length >= 0 && len < (size_t)s->head.content_length && !eof) {
		buf_done(&plain);
		return 0;
	} else if (s->head.content_length < 0 && !eof) {
		buf_done(&plain);
		return 0;
	}
	msg = client_error_message(s->head.status, body, len);
	buf_done(&plain);
	wsconn_fail(s, msg);
	return 1;
}

static void
wsconn_read(struct wsconn *s)
{
	char want[29];
	ssize_t n;
	int r;

	for (;;) {
		if (buf_used(&s->in) > WSCONN_READ_MAX) {
			wsconn_fail(s, xstrdup("the daemon's answer to the exec request is too long"));
			return;
		}
		n = read(s->fd, buf_reserve(&s->in, 4096), 4096);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n > 0)
			buf_commit(&s->in, (size_t)n);
		if (s->state == WSCONN_HEAD) {
			r = upgrade_parse_head((const char *)buf_head(&s->in), buf_used(&s->in),
			    &s->head);
			if (r == -EAGAIN && n > 0)
				continue;
			if (r < 0) {
				wsconn_fail(s, xstrdup(n == 0 ?
				    "the daemon closed the connection before answering" :
				    "the daemon's answer to the exec request is not HTTP"));
				return;
			}
			if (s->head.status == 101) {
				ws_accept_key(s->key, want);
				if (!s->head.upgrade_websocket || strcmp(s->head.accept, want) != 0) {
					wsconn_fail(s, xstrdup("the daemon's WebSocket handshake "
					    "is invalid"));
					return;
				}
				wsconn_start_ws(s);
				return;
			}
			s->state = WSCONN_BODY;
		}
		if (wsconn_body_done(s, n <= 0))
			return;
		if (n <= 0) {
			wsconn_fail(s, xstrdup("lost the connection to the daemon"));
			return;
		}
	}
}

static void
wsconn_fd_cb(struct loop *l, int fd, int events, void *arg)
{
	struct wsconn *s = arg;
	int err = 0;
	socklen_t elen = sizeof err;
	ssize_t n;

	if (s->state == WSCONN_CONNECTING) {
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
			err = errno;
		if (err != 0) {
			wsconn_fail(s, xasprintf("cannot reach the daemon: %s", strerror(err)));
			return;
		}
		while (buf_used(&s->out) > 0) {
			n = send(fd, buf_head(&s->out), buf_used(&s->out), MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return;
			if (n < 0) {
				wsconn_fail(s, xasprintf("cannot send the exec request: %s",
				    strerror(errno)));
				return;
			}
			buf_consume(&s->out, (size_t)n);
		}
		s->state = WSCONN_HEAD;
		loop_set_fd(l, fd, LOOP_READ);
		return;
	}
	wsconn_read(s);
}

int
wsconn_open(struct loop *l, const char *sock, const char *sprite, const char *attach,
    int rows, int cols, const struct wsconn_callbacks *cb, void *arg, struct wsconn **ret)
{
	/* WSCONN_CONSOLE_COMMAND, word by word. */
	static char *const argv[] = { "env", "SPRIG_CONSOLE=1", "/bin/sh", "-l" };
	static char *const env[] = { "TERM=xterm-256color" };
	struct exec_opts o = { .name = sprite, .argv = argv, .argc = 4, .env = env, .nenv = 1,
	    .tty = 1, .rows = rows, .cols = cols, .detach = attach == NULL, .session = attach };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct wsconn *s;
	char *path, *req;
	int r;

	if (strlen(sock) >= sizeof sa.sun_path)
		return -ENAMETOOLONG;
	s = xcalloc(1, sizeof *s);
	s->loop = l;
	s->cb = *cb;
	s->arg = arg;
	s->exit_code = -1;
	s->rows = rows;
	s->cols = cols;
	s->attach = attach != NULL;
	buf_init(&s->out);
	buf_init(&s->in);
	ws_client_key(s->key);
	path = exec_path(&o);
	req = upgrade_request(path, s->key);
	buf_add(&s->out, req, strlen(req));
	free(req);
	free(path);
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		r = -errno;
		goto fail;
	}
	strcpy(sa.sun_path, sock);
	s->state = WSCONN_CONNECTING;
	if (connect(s->fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS &&
	    errno != EAGAIN) {
		wsconn_fail(s, xasprintf("cannot reach the daemon: %s", strerror(errno)));
		*ret = s;
		return 0;
	}
	r = loop_add_fd(l, s->fd, LOOP_WRITE, wsconn_fd_cb, s);
	if (r < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	if (s->fd >= 0)
		close(s->fd);
	buf_done(&s->out);
	buf_done(&s->in);
	free(s);
	return r;
}

void
wsconn_free(struct wsconn *s)
{
	if (s == NULL)
		return;
	wsconn_close_fd(s);
	loop_del_timer(s->loop, s->end_timer);
	ws_free(s->ws);
	buf_done(&s->out);
	buf_done(&s->in);
	free(s->error);
	free(s->id);
	free(s);
}

void
wsconn_drain(struct wsconn *s, uint64_t deadline_ms)
{
	uint64_t now = loop_now_ms();

	if (s != NULL && s->state == WSCONN_OPEN && now < deadline_ms)
		ws_drain(s->ws, (int)(deadline_ms - now));
}

const char *
wsconn_id(const struct wsconn *s)
{
	return s->id;
}

void
wsconn_send(struct wsconn *s, const void *data, size_t len)
{
	if (s->state == WSCONN_OPEN && len > 0)
		ws_send(s->ws, 1, data, len);
}

void
wsconn_resize(struct wsconn *s, int rows, int cols)
{
	char msg[96];

	if (rows == s->rows && cols == s->cols)
		return;
	s->rows = rows;
	s->cols = cols;
	if (s->state != WSCONN_OPEN)
		return;
	snprintf(msg, sizeof msg, "{\"type\":\"resize\",\"cols\":%d,\"rows\":%d}", cols, rows);
	ws_send(s->ws, 0, msg, strlen(msg));
}

void
wsconn_pause(struct wsconn *s, int paused)
{
	s->paused = paused;
	if (s->state == WSCONN_OPEN)
		ws_pause_input(s->ws, paused);
}

/* Whether @o's boolean @key is true. */
static bool
wsconn_flag(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

int
wsconn_find_console(const char *body, size_t len, char **ret_id)
{
	cJSON *j = cJSON_ParseWithLength(body, len);
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "sessions"), *o, *cmd, *id;
	const char *best = NULL;
	bool best_free = false;
	int r = -ENOENT;

	if (!cJSON_IsArray(arr)) {
		cJSON_Delete(j);
		return -EBADMSG;
	}
	/* Oldest first: a later one of the same kind is newer. */
	cJSON_ArrayForEach(o, arr) {
		cmd = cJSON_GetObjectItemCaseSensitive(o, "command");
		id = cJSON_GetObjectItemCaseSensitive(o, "id");
		if (!cJSON_IsString(cmd) || !cJSON_IsString(id) ||
		    strcmp(cmd->valuestring, WSCONN_CONSOLE_COMMAND) != 0 ||
		    !wsconn_flag(o, "tty") || wsconn_flag(o, "exited"))
			continue;
		if (best != NULL && best_free && wsconn_flag(o, "attached"))
			continue;
		best = id->valuestring;
		best_free = !wsconn_flag(o, "attached");
	}
	if (best != NULL) {
		*ret_id = xstrdup(best);
		r = 0;
	}
	cJSON_Delete(j);
	return r;
}
