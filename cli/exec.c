/*
 * exec: one session in one loop. The WebSocket (common/ws) carries frames;
 * stdin is read only while the socket's output queue is short (ws_pending,
 * then the drained callback); stdout and stderr are written as they come,
 * queued if the descriptor is non-blocking and full, and the socket's input
 * is paused while that queue is long. Signals come in through a signalfd.
 *
 * stdin may be a regular file, which epoll refuses: it is then read from a
 * zero-delay timer, one chunk per turn. Descriptors 0-2 are never switched to
 * non-blocking mode, since they are usually shared with the shell.
 */
#include "exec.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli/client.h"
#include "cli/tty.h"
#include "common/buf.h"
#include "common/loop.h"
#include "common/ws.h"
#include "common/xmalloc.h"

#define EXEC_CHUNK		65536
#define EXEC_OUT_HIGH		(1024 * 1024)	/* pause the socket above this */
#define EXEC_OPEN_TIMEOUT_MS	(20 * 60 * 1000)	/* a sprite may need to boot */
#define EXEC_LOST		255

struct exec_out {
	int		 fd;
	struct buf	 q;		/* what the fd would not take yet */
	int		 watched;
	int		 broken;	/* write failed: drop the rest */
};

struct exec_session {
	struct loop	*loop;
	struct ws	*ws;
	int		 tty;
	int		 raw;		/* the local terminal is in raw mode */
	int		 detach;	/* print the session's id and leave */
	int		 attached;	/* to a session: EXEC_DETACH_KEY leaves */

	int		 in_pollable;	/* stdin works with epoll */
	int		 in_watched;
	uint64_t	 in_timer;
	int		 in_paused;	/* socket output is backed up */
	int		 in_done;

	struct exec_out	 out[2];	/* stdout, stderr */
	int		 out_paused;	/* socket input paused for them */

	int		 sigfd;
	int		 exit_code;	/* -1 until the server says */
	char		*error;		/* the server's error message */
	int		 status;	/* -1, or decided here */
	int		 closed;
};

char *
exec_path(const struct exec_opts *o)
{
	struct buf b;
	char *e, *out;
	int i;

	buf_init(&b);
	e = client_escape(o->name);
	buf_add_printf(&b, "/v1/sprites/%s/exec", e);
	free(e);
	if (o->session != NULL) {
		e = client_escape(o->session);
		buf_add_printf(&b, "/%s?stdin=true", e);
		free(e);
		goto done;
	}
	buf_add_printf(&b, "?");
	if (o->detach)
		buf_add_printf(&b, "detachable=true&");
	for (i = 0; i < o->argc; i++) {
		e = client_escape(o->argv[i]);
		buf_add_printf(&b, "cmd=%s&", e);
		free(e);
	}
	buf_add_printf(&b, "stdin=true");
	if (o->tty)
		buf_add_printf(&b, "&tty=true&rows=%d&cols=%d", o->rows, o->cols);
	for (i = 0; i < o->nenv; i++) {
		e = client_escape(o->env[i]);
		buf_add_printf(&b, "&env=%s", e);
		free(e);
	}
	if (o->dir != NULL) {
		e = client_escape(o->dir);
		buf_add_printf(&b, "&dir=%s", e);
		free(e);
	}
done:
	out = xstrdup(buf_cstr(&b));
	buf_done(&b);
	return out;
}

void
exec_parse_text(const char *data, size_t len, struct exec_text *ret)
{
	cJSON *j = cJSON_ParseWithLength(data, len);
	const cJSON *type, *v;

	ret->exit_code = -1;
	ret->error = NULL;
	ret->session_id = NULL;
	ret->detached = 0;
	if (j == NULL)
		return;
	type = cJSON_GetObjectItemCaseSensitive(j, "type");
	if (cJSON_IsString(type) && strcmp(type->valuestring, "exit") == 0) {
		v = cJSON_GetObjectItemCaseSensitive(j, "exit_code");
		if (cJSON_IsNumber(v))
			ret->exit_code = v->valueint < 0 ? 255 : v->valueint & 255;
	} else if (cJSON_IsString(type) && strcmp(type->valuestring, "error") == 0) {
		v = cJSON_GetObjectItemCaseSensitive(j, "message");
		if (!cJSON_IsString(v))
			v = cJSON_GetObjectItemCaseSensitive(j, "error");
		ret->error = xstrdup(cJSON_IsString(v) ? v->valuestring : "the command failed");
	} else if (cJSON_IsString(type) && strcmp(type->valuestring, "session_info") == 0) {
		v = cJSON_GetObjectItemCaseSensitive(j, "session_id");
		if (cJSON_IsString(v))
			ret->session_id = xstrdup(v->valuestring);
	} else if (cJSON_IsString(type) && strcmp(type->valuestring, "detached") == 0) {
		ret->detached = 1;
	}
	cJSON_Delete(j);
}

static void exec_in_resume(struct exec_session *);

/* Ends the session from this side: the server hears a close and stops the
 * command; the process exits with @status. */
static void
exec_finish(struct exec_session *s, int status)
{
	if (s->status < 0)
		s->status = status;
	ws_close(s->ws, 1000, NULL);
}

static void
exec_update_out_pause(struct exec_session *s)
{
	size_t queued = buf_used(&s->out[0].q) + buf_used(&s->out[1].q);

	if (!s->out_paused && queued > EXEC_OUT_HIGH) {
		s->out_paused = 1;
		ws_pause_input(s->ws, 1);
	} else if (s->out_paused && queued == 0) {
		s->out_paused = 0;
		ws_pause_input(s->ws, 0);
	}
}

static void
exec_out_broken(struct exec_session *s, int i, int err)
{
	struct exec_out *o = &s->out[i];

	o->broken = 1;
	buf_reset(&o->q);
	if (o->watched)
		loop_del_fd(s->loop, o->fd);
	o->watched = 0;
	/* Like a local command whose reader went away: die of SIGPIPE. */
	if (i == 0 && err == EPIPE)
		exec_finish(s, 128 + SIGPIPE);
}

/* Writes what it can of the queue; returns when the fd would block. */
static void
exec_out_flush(struct exec_session *s, int i)
{
	struct exec_out *o = &s->out[i];

	while (buf_used(&o->q) > 0 && !o->broken) {
		ssize_t n = write(o->fd, buf_head(&o->q), buf_used(&o->q));

		if (n > 0) {
			buf_consume(&o->q, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		exec_out_broken(s, i, n < 0 ? errno : EIO);
	}
}

static void
exec_out_cb(struct loop *l, int fd, int events, void *arg)
{
	struct exec_session *s = arg;
	int i = fd == s->out[0].fd ? 0 : 1;

	exec_out_flush(s, i);
	if (buf_used(&s->out[i].q) == 0 && s->out[i].watched) {
		loop_del_fd(l, fd);
		s->out[i].watched = 0;
	}
	exec_update_out_pause(s);
}

static void
exec_write(struct exec_session *s, int i, const uint8_t *data, size_t len)
{
	struct exec_out *o = &s->out[i];

	if (o->broken || len == 0)
		return;
	buf_add(&o->q, data, len);
	if (o->watched)
		return;	/* keep the order: the loop writes it */
	exec_out_flush(s, i);
	if (buf_used(&o->q) > 0 && !o->broken) {
		if (loop_add_fd(s->loop, o->fd, LOOP_WRITE, exec_out_cb, s) == 0)
			o->watched = 1;
		else
			exec_out_broken(s, i, EIO);
	}
	exec_update_out_pause(s);
}

static void
exec_got_exit(struct exec_session *s, int code)
{
	if (s->exit_code < 0)
		s->exit_code = code;
	ws_close(s->ws, 1000, NULL);
}

static void
exec_on_message(struct ws *ws, int binary, const uint8_t *data, size_t len, void *arg)
{
	struct exec_session *s = arg;
	struct exec_text t;

	if (!binary) {
		exec_parse_text((const char *)data, len, &t);
		if (t.error != NULL && s->error == NULL)
			s->error = t.error;
		else
			free(t.error);
		if (t.exit_code >= 0)
			exec_got_exit(s, t.exit_code);
		if (t.session_id != NULL && s->detach) {
			printf("%s\n", t.session_id);
			exec_finish(s, 0);
		}
		if (t.detached && s->status < 0) {
			free(s->error);
			s->error = xstrdup("detached: another client attached to the session");
			exec_finish(s, 0);
		}
		free(t.session_id);
		return;
	}
	if (s->tty) {
		exec_write(s, 0, data, len);
		return;
	}
	if (len == 0)
		return;
	switch (data[0]) {
	case EXEC_STDOUT:
		exec_write(s, 0, data + 1, len - 1);
		break;
	case EXEC_STDERR:
		exec_write(s, 1, data + 1, len - 1);
		break;
	case EXEC_EXIT:
		exec_got_exit(s, len > 1 ? data[1] : 0);
		break;
	}
}

static void
exec_on_closed(struct ws *ws, int code, void *arg)
{
	struct exec_session *s = arg;

	s->closed = 1;
	loop_stop(s->loop);
}

static void
exec_on_drained(struct ws *ws, void *arg)
{
	struct exec_session *s = arg;

	if (s->in_paused) {
		s->in_paused = 0;
		exec_in_resume(s);
	}
}

static void
exec_in_stop(struct exec_session *s)
{
	if (s->in_watched)
		loop_del_fd(s->loop, 0);
	s->in_watched = 0;
	loop_del_timer(s->loop, s->in_timer);
	s->in_timer = 0;
}

static void
exec_in_eof(struct exec_session *s)
{
	static const uint8_t eof = EXEC_STDIN_EOF;

	exec_in_stop(s);
	s->in_done = 1;
	/* A terminal has no end of input to pass on: ^D is just a byte. */
	if (!s->tty)
		ws_send(s->ws, 1, &eof, 1);
}

static void
exec_in_read(struct exec_session *s)
{
	uint8_t chunk[1 + EXEC_CHUNK];
	ssize_t n;

	n = read(0, chunk + 1, EXEC_CHUNK);
	if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n <= 0) {
		exec_in_eof(s);
		return;
	}
	chunk[0] = EXEC_STDIN;
	if (s->attached && s->tty) {
		uint8_t *key = memchr(chunk + 1, EXEC_DETACH_KEY, (size_t)n);

		if (key != NULL) {
			if (key > chunk + 1)
				ws_send(s->ws, 1, chunk + 1, (size_t)(key - chunk - 1));
			exec_in_stop(s);
			if (s->error == NULL)
				s->error = xstrdup("detached");
			exec_finish(s, 0);
			return;
		}
	}
	if (s->tty)
		ws_send(s->ws, 1, chunk + 1, (size_t)n);
	else
		ws_send(s->ws, 1, chunk, (size_t)n + 1);
	if (ws_pending(s->ws) >= WS_LOW_WATER) {
		s->in_paused = 1;
		exec_in_stop(s);
	}
}

static void
exec_in_cb(struct loop *l, int fd, int events, void *arg)
{
	exec_in_read(arg);
}

static void
exec_in_timer_cb(struct loop *l, uint64_t id, void *arg)
{
	struct exec_session *s = arg;

	s->in_timer = 0;
	exec_in_read(s);
	if (!s->in_done && !s->in_paused && s->in_timer == 0)
		s->in_timer = loop_add_timer(l, 0, exec_in_timer_cb, s);
}

static void
exec_in_resume(struct exec_session *s)
{
	int r;

	if (s->in_done || s->in_watched || s->in_timer != 0)
		return;
	if (s->in_pollable) {
		r = loop_add_fd(s->loop, 0, LOOP_READ, exec_in_cb, s);
		if (r == 0) {
			s->in_watched = 1;
			return;
		}
		if (r != -EPERM) {	/* no stdin at all */
			exec_in_eof(s);
			return;
		}
		s->in_pollable = 0;	/* a regular file, or /dev/null */
	}
	s->in_timer = loop_add_timer(s->loop, 0, exec_in_timer_cb, s);
}

static void
exec_resize(struct exec_session *s)
{
	char msg[96];
	int rows, cols;

	if (tty_size(0, &rows, &cols) < 0)
		return;
	snprintf(msg, sizeof msg, "{\"type\":\"resize\",\"cols\":%d,\"rows\":%d}", cols, rows);
	ws_send(s->ws, 0, msg, strlen(msg));
}

static void
exec_signal_cb(struct loop *l, int fd, int events, void *arg)
{
	struct exec_session *s = arg;
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGWINCH)
			exec_resize(s);
		else
			exec_finish(s, 128 + (int)si.ssi_signo);
	}
}

/* Writes out what is still queued, waiting as long as the reader needs. */
static void
exec_drain_outputs(struct exec_session *s)
{
	int i;

	for (i = 0; i < 2; i++) {
		struct exec_out *o = &s->out[i];

		if (o->watched)
			loop_del_fd(s->loop, o->fd);
		o->watched = 0;
		while (buf_used(&o->q) > 0 && !o->broken) {
			exec_out_flush(s, i);
			if (buf_used(&o->q) > 0 && !o->broken)
				poll(&(struct pollfd){ .fd = o->fd, .events = POLLOUT }, 1, -1);
		}
	}
}

int
exec_run(struct client *c, struct exec_opts *o, char **cause)
{
	static const struct ws_callbacks cb = {
		.message = exec_on_message,
		.closed = exec_on_closed,
		.drained = exec_on_drained,
	};
	struct exec_session s = { .sigfd = -1, .exit_code = -1, .status = -1,
	    .in_pollable = 1 };
	sigset_t mask, old;
	struct buf prefix;
	char *path;
	int fd = -1, r, status;

	s.tty = o->tty;
	s.detach = o->detach;
	s.attached = o->session != NULL;
	s.out[0].fd = 1;
	s.out[1].fd = 2;
	buf_init(&s.out[0].q);
	buf_init(&s.out[1].q);
	buf_init(&prefix);
	sigemptyset(&mask);
	sigprocmask(SIG_BLOCK, NULL, &old);
	if (o->tty && tty_size(0, &o->rows, &o->cols) < 0 &&
	    tty_size(1, &o->rows, &o->cols) < 0) {
		o->rows = 24;
		o->cols = 80;
	}
	path = exec_path(o);
	r = client_websocket(c, path, EXEC_OPEN_TIMEOUT_MS, &fd, &prefix, cause);
	free(path);
	if (r < 0) {
		status = 1;
		goto out;
	}
	r = loop_new(&s.loop);
	if (r < 0) {
		*cause = xasprintf("cannot make an event loop: %s", strerror(-r));
		status = 1;
		goto out;
	}
	s.ws = ws_new(s.loop, fd, 1, 0, buf_head(&prefix), buf_used(&prefix), &cb, &s);
	if (s.ws == NULL) {
		*cause = xasprintf("cannot start the WebSocket: %s", strerror(errno));
		status = 1;
		goto out;
	}

	/* With a local terminal in raw mode, ^C and friends are bytes for the
	 * sprite; a signal from elsewhere ends the session cleanly. */
	if (o->tty && isatty(0) && tty_raw(0) == 0) {
		s.raw = 1;
		sigaddset(&mask, SIGWINCH);
		sigaddset(&mask, SIGINT);
		sigaddset(&mask, SIGTERM);
		sigaddset(&mask, SIGHUP);
		sigaddset(&mask, SIGQUIT);
		sigprocmask(SIG_BLOCK, &mask, NULL);
		s.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
		if (s.sigfd >= 0)
			loop_add_fd(s.loop, s.sigfd, LOOP_READ, exec_signal_cb, &s);
	}
	if (!o->detach)
		exec_in_resume(&s);

	r = loop_run(s.loop);
	if (r < 0 && s.status < 0)
		s.status = EXEC_LOST;
	exec_in_stop(&s);
	exec_drain_outputs(&s);
	if (s.status >= 0)
		status = s.status;
	else if (s.exit_code >= 0)
		status = s.exit_code;
	else
		status = EXEC_LOST;
	if (s.error != NULL)
		*cause = xstrdup(s.error);
	else if (status == EXEC_LOST && s.status < 0)
		*cause = xstrdup("lost the connection to the daemon before the command exited");
out:
	tty_restore();
	ws_free(s.ws);
	if (s.sigfd >= 0) {
		loop_del_fd(s.loop, s.sigfd);
		close(s.sigfd);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	loop_free(s.loop);
	if (fd >= 0)
		close(fd);
	buf_done(&prefix);
	buf_done(&s.out[0].q);
	buf_done(&s.out[1].q);
	free(s.error);
	return status;
}
