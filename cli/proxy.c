/*
 * proxy: `sprig proxy`, one loop for the listening socket and every
 * forwarded connection. Each accepted connection gets its own WebSocket to
 * the API's proxy route (the SDK's protocol, api/proxy.c): it says where to
 * connect, waits for {"status": "connected"}, then moves bytes both ways.
 * The local end's end of file goes on as a half-close ({"type": "eof"}), so
 * a request sent then shut still gets its answer; the WebSocket's close
 * ends the local connection once what came before it is written.
 *
 * Back-pressure: the local socket is read only while the WebSocket has
 * less than WS_LOW_WATER unsent, and the WebSocket only while the local
 * socket's queue is short.
 *
 * The WebSocket's handshake is a blocking exchange on the API's unix socket
 * (client_websocket): the daemon answers it at once, before it wakes the
 * sprite or connects, so it holds the loop for no more than a round trip.
 */
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli/client.h"
#include "common/buf.h"
#include "common/loop.h"
#include "common/util.h"
#include "common/ws.h"
#include "common/xmalloc.h"

#define PROXY_CHUNK		65536
#define PROXY_OUT_HIGH		(1024 * 1024)	/* pause the WebSocket above this */
#define PROXY_OPEN_TIMEOUT_MS	10000

struct proxy_conn {
	struct proxy_run	*run;
	int			 fd;		/* the local connection */
	int			 mask;		/* what the loop watches it for */
	struct ws		*ws;
	int			 connected;	/* the server said so */
	int			 in_eof;	/* the local end sent its end */
	int			 ws_closed;	/* the far end is over */
	struct buf		 out;		/* for the local end, not written yet */
	struct proxy_conn	*next;
};

struct proxy_run {
	struct client		*client;
	struct loop		*loop;
	const char		*name;
	uint16_t		 remote;
	char			*path;
	int			 lfd;
	struct proxy_conn	*conns;
};

int
proxy_parse_ports(const char *spec, uint16_t *ret_local, uint16_t *ret_remote,
    char **cause)
{
	const char *colon = strchr(spec, ':');
	unsigned long local, remote;
	char *end;

	if (colon == NULL) {
		remote = strtoul(spec, &end, 10);
		local = remote;
	} else {
		local = strtoul(spec, &end, 10);
		if (end != colon || spec[0] < '0' || spec[0] > '9' || local > 65535)
			goto bad;
		remote = strtoul(colon + 1, &end, 10);
		if (colon[1] < '0' || colon[1] > '9')
			goto bad;
	}
	if (*end != '\0' || spec[0] < '0' || spec[0] > '9' || remote < 1 || remote > 65535 ||
	    (colon == NULL && local == 0))
		goto bad;
	*ret_local = (uint16_t)local;
	*ret_remote = (uint16_t)remote;
	return 0;
bad:
	*cause = xasprintf("'%s' is not PORT or LOCAL:REMOTE (ports 1 to 65535; "
	    "LOCAL 0 picks a free one)", spec);
	return -EINVAL;
}

static void proxy_conn_io(struct loop *l, int fd, int events, void *arg);

static void
proxy_conn_free(struct proxy_conn *pc)
{
	struct proxy_conn **pp;

	for (pp = &pc->run->conns; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == pc) {
			*pp = pc->next;
			break;
		}
	}
	ws_free(pc->ws);
	if (pc->mask != 0)
		loop_del_fd(pc->run->loop, pc->fd);
	close(pc->fd);
	buf_done(&pc->out);
	free(pc);
}

/* Watches the local socket for what this connection can use now. */
static void
proxy_conn_watch(struct proxy_conn *pc)
{
	int want = 0;

	if (pc->connected && !pc->in_eof && !pc->ws_closed &&
	    ws_pending(pc->ws) < WS_LOW_WATER)
		want |= LOOP_READ;
	if (buf_used(&pc->out) > 0)
		want |= LOOP_WRITE;
	if (want == pc->mask)
		return;
	if (pc->mask == 0)
		loop_add_fd(pc->run->loop, pc->fd, want, proxy_conn_io, pc);
	else if (want == 0)
		loop_del_fd(pc->run->loop, pc->fd);
	else
		loop_set_fd(pc->run->loop, pc->fd, want);
	pc->mask = want;
}

/* The WebSocket ended and everything it brought is written: the local end
 * sees end of file. */
static void
proxy_conn_check_end(struct proxy_conn *pc)
{
	if (pc->ws_closed && buf_used(&pc->out) == 0)
		proxy_conn_free(pc);
	else
		proxy_conn_watch(pc);
}

static void
proxy_conn_flush(struct proxy_conn *pc)
{
	ssize_t n;

	while (buf_used(&pc->out) > 0) {
		n = write(pc->fd, buf_head(&pc->out), buf_used(&pc->out));
		if (n > 0) {
			buf_consume(&pc->out, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		/* The local end went away: so does the far one. */
		buf_reset(&pc->out);
		pc->in_eof = 1;
		if (!pc->ws_closed)
			ws_close(pc->ws, 1000, NULL);
		break;
	}
	if (!pc->ws_closed)
		ws_pause_input(pc->ws, buf_used(&pc->out) > PROXY_OUT_HIGH);
}

static void
proxy_conn_read(struct proxy_conn *pc)
{
	static const char eof[] = "{\"type\":\"eof\"}";
	uint8_t data[PROXY_CHUNK];
	ssize_t n;

	n = read(pc->fd, data, sizeof data);
	if (n > 0) {
		ws_send(pc->ws, 1, data, (size_t)n);
		return;
	}
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	pc->in_eof = 1;
	if (n == 0)
		ws_send(pc->ws, 0, eof, sizeof eof - 1);
	else
		ws_close(pc->ws, 1000, NULL);	/* reset: drop it all */
}

static void
proxy_conn_io(struct loop *l, int fd, int events, void *arg)
{
	struct proxy_conn *pc = arg;

	if (events & (LOOP_WRITE | LOOP_HUP))
		proxy_conn_flush(pc);
	if ((events & (LOOP_READ | LOOP_HUP)) && pc->connected && !pc->in_eof && !pc->ws_closed)
		proxy_conn_read(pc);
	proxy_conn_check_end(pc);
}

static void
proxy_ws_message(struct ws *ws, int binary, const uint8_t *data, size_t len, void *arg)
{
	struct proxy_conn *pc = arg;
	cJSON *j, *status, *msg;

	if (binary) {
		buf_add(&pc->out, data, len);
		proxy_conn_flush(pc);
		proxy_conn_watch(pc);
		return;
	}
	if (pc->connected)
		return;
	j = cJSON_ParseWithLength((const char *)data, len);
	status = cJSON_GetObjectItemCaseSensitive(j, "status");
	msg = cJSON_GetObjectItemCaseSensitive(j, "message");
	if (cJSON_IsString(status) && strcmp(status->valuestring, "connected") == 0) {
		pc->connected = 1;
		proxy_conn_watch(pc);
	} else {
		fprintf(stderr, "sprig: %s port %u: %s\n", pc->run->name, pc->run->remote,
		    cJSON_IsString(msg) ? msg->valuestring : "the daemon refused the connection");
	}
	cJSON_Delete(j);
}

static void
proxy_ws_closed(struct ws *ws, int code, void *arg)
{
	struct proxy_conn *pc = arg;

	pc->ws_closed = 1;
	proxy_conn_check_end(pc);
}

static void
proxy_ws_drained(struct ws *ws, void *arg)
{
	proxy_conn_watch(arg);
}

static const struct ws_callbacks proxy_ws_cb = {
	.message = proxy_ws_message,
	.closed = proxy_ws_closed,
	.drained = proxy_ws_drained,
};

/* A local connection: its own WebSocket to the daemon, which is told where
 * to connect. */
static void
proxy_accept(struct loop *l, int lfd, int events, void *arg)
{
	struct proxy_run *run = arg;
	struct proxy_conn *pc;
	struct buf prefix;
	char *cause = NULL, *hello;
	int fd, wfd, r;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	buf_init(&prefix);
	r = client_websocket(run->client, run->path, PROXY_OPEN_TIMEOUT_MS, &wfd, &prefix,
	    &cause);
	if (r < 0) {
		fprintf(stderr, "sprig: %s\n", cause);
		free(cause);
		close(fd);
		buf_done(&prefix);
		return;
	}
	pc = xcalloc(1, sizeof *pc);
	pc->run = run;
	pc->fd = fd;
	buf_init(&pc->out);
	pc->ws = ws_new(l, wfd, 1, 1, buf_head(&prefix), buf_used(&prefix), &proxy_ws_cb, pc);
	buf_done(&prefix);
	if (pc->ws == NULL) {
		fprintf(stderr, "sprig: cannot start the WebSocket: %s\n", strerror(errno));
		close(wfd);
		close(fd);
		free(pc);
		return;
	}
	pc->next = run->conns;
	run->conns = pc;
	hello = xasprintf("{\"host\":\"localhost\",\"port\":%u}", run->remote);
	ws_send(pc->ws, 0, hello, strlen(hello));
	free(hello);
}

static void
proxy_signal(struct loop *l, int fd, int events, void *arg)
{
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof si) > 0)
		loop_stop(l);
}

/* Listens on 127.0.0.1:@port (0: any free port); *@ret_port the one it got. */
static int
proxy_listen(uint16_t port, int *ret_fd, uint16_t *ret_port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	socklen_t len = sizeof sa;
	int fd, one = 1, r;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*ret_fd = fd;
	*ret_port = ntohs(sa.sin_port);
	return 0;
}

int
proxy_run(struct client *c, const char *name, uint16_t local, uint16_t remote, char **cause)
{
	struct proxy_run run = { .client = c, .name = name, .remote = remote, .lfd = -1 };
	sigset_t mask, old;
	char *e, *path;
	cJSON *j = NULL;
	uint16_t port = 0;
	int sigfd = -1, r, status = 1;

	/* A missing sprite is said once, not at every connection. */
	e = client_escape(name);
	path = xasprintf("/v1/sprites/%s", e);
	run.path = xasprintf("/v1/sprites/%s/proxy", e);
	free(e);
	r = client_request(c, "GET", path, NULL, 30, &j, cause);
	free(path);
	cJSON_Delete(j);
	if (r < 0)
		goto out;
	r = proxy_listen(local, &run.lfd, &port);
	if (r < 0) {
		*cause = xasprintf("cannot listen on 127.0.0.1:%u: %s", local, strerror(-r));
		goto out;
	}
	r = loop_new(&run.loop);
	if (r < 0) {
		*cause = xasprintf("cannot make an event loop: %s", strerror(-r));
		goto out;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, &old);
	/* A local end that leaves must not kill the forwarder. */
	signal(SIGPIPE, SIG_IGN);
	sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0 || loop_add_fd(run.loop, sigfd, LOOP_READ, proxy_signal, NULL) < 0 ||
	    loop_add_fd(run.loop, run.lfd, LOOP_READ, proxy_accept, &run) < 0) {
		*cause = xstrdup("cannot watch the listening socket");
		sigprocmask(SIG_SETMASK, &old, NULL);
		goto out;
	}
	printf("Forwarding 127.0.0.1:%u to port %u in sprite %s (Ctrl-C ends)\n", port, remote,
	    name);
	fflush(stdout);
	loop_run(run.loop);
	status = 0;
	while (run.conns != NULL)
		proxy_conn_free(run.conns);
	sigprocmask(SIG_SETMASK, &old, NULL);
out:
	if (sigfd >= 0)
		close(sigfd);
	if (run.lfd >= 0)
		close(run.lfd);
	loop_free(run.loop);
	free(run.path);
	return status;
}
