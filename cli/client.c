/*
 * client: HTTP/1.1 over the API socket, the error shape, daemon start and
 * stop, the tunnel helper.
 *
 * Why not libcurl here (the dashboard keeps it, in tui/http.c): a process
 * that links Debian's libcurl4 loads some 30 shared libraries (gnutls via
 * librtmp, OpenSSL, krb5, ldap, sasl, nghttp2, ...) before main. Measured on
 * the 2-core test machine, an empty main() ran in 2.0 ms, in 12.9 ms linked
 * with -lcurl, and in 2.4 ms with what the CLI links now (cJSON, wslay,
 * http-parser, nettle; libcrypto alone would add 2.3 ms). A command's own
 * work is a millisecond or two, so that start-up was most of `sprig
 * version` (20.6 ms, now 3.3 ms against /bin/true's 2.4) and half of `sprig
 * checkpoint` (40 ms, now 20 ms). A request here is one connection to the
 * unix socket, "Connection: close", a blocking write and reads parsed by
 * http-parser (cli/response.c) until the message ends.
 *
 * The daemon is started on the first connection refused (no socket, or a
 * stale one): fork, setsid, fork again (so it is nobody's child), then exec
 * sprig-daemon (beside this binary) as `sprig serve` with SPRIG_READY_FD
 * naming a pipe; the daemon writes one byte there once it listens. End of
 * file first means it died, and its log says why.
 *
 * --host runs sprig-tunnel with one end of a socketpair as its stdin: it
 * answers "0\n<socket>\n<name>\n" once the tunnel is up (or "-errno\n" and
 * why, then exits), and it ends the tunnel when that socket reads end of
 * file, so it dies with its parent however the parent goes.
 */
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/response.h"
#include "cli/upgrade.h"
#include "common/buf.h"
#include "common/home.h"
#include "common/loop.h"
#include "common/util.h"
#include "common/ws.h"
#include "common/xmalloc.h"

#define CLIENT_CONNECT_TIMEOUT_S	10
#define CLIENT_START_TIMEOUT_MS		30000
#define CLIENT_STOP_TIMEOUT_MS		30000
#define CLIENT_LOG_LINES		15

int
client_init(struct client *c, char **cause)
{
	char *home, *abs;
	int r;

	memset(c, 0, sizeof *c);
	r = home_dir(&home);
	if (r < 0) {
		*cause = r == -ENOENT ? xstrdup("no home for sprig: set SPRIG_HOME or HOME") :
		    xasprintf("cannot create sprig's home: %s", strerror(-r));
		return r;
	}
	/* Absolute, because the daemon we may start runs in "/". */
	abs = realpath(home, NULL);
	if (abs != NULL) {
		free(home);
		home = abs;
	}
	c->home = home;
	c->sock = home_path(home, "api.sock");
	c->autostart = 1;
	c->tunnel_fd = -1;
	return 0;
}

char *
client_program(const char *name)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

	if (n <= 0)
		return xstrdup(name);	/* then PATH finds it */
	exe[n] = '\0';
	return xasprintf("%s/%s", dirname(exe), name);
}

/* The remote client whose tunnel exit() must end: commands exit(1) on
 * errors, and its socket must be gone when they have. */
static struct client *client_live;

/* A pipe (or with @sock, a socketpair), both ends O_CLOEXEC, then fork.
 * Returns 0 in both processes (*ret_pid 0 in the child), or a negative
 * errno with nothing left open. */
static int
client_fork_pair(int fds[2], int sock, pid_t *ret_pid)
{
	int r;

	if ((sock ? socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) :
	    pipe2(fds, O_CLOEXEC)) < 0)
		return -errno;
	fflush(NULL);
	*ret_pid = fork();
	if (*ret_pid < 0) {
		r = -errno;
		close(fds[0]);
		close(fds[1]);
		return r;
	}
	return 0;
}

/* Closes the helper's socket and waits until it has cleaned up. */
static void
client_tunnel_end(struct client *c)
{
	if (c->tunnel_pid <= 0)
		return;
	close(c->tunnel_fd);
	while (waitpid(c->tunnel_pid, NULL, 0) < 0 && errno == EINTR)
		;
	c->tunnel_pid = 0;
	c->tunnel_fd = -1;
	if (client_live == c)
		client_live = NULL;
}

static void
client_atexit(void)
{
	if (client_live != NULL)
		client_tunnel_end(client_live);
}

/* Reads the helper's answer: until end of file, or the third line of a
 * success. */
static int
client_tunnel_answer(struct client *c, char **cause)
{
	char *text, *end, *name, *nl;
	struct buf in;
	ssize_t n;
	long v;
	int r;

	buf_init(&in);
	for (;;) {
		text = (char *)buf_cstr(&in);
		if (strncmp(text, "0\n", 2) == 0 && (nl = strchr(text + 2, '\n')) != NULL &&
		    strchr(nl + 1, '\n') != NULL)
			break;
		n = read(c->tunnel_fd, buf_reserve(&in, 4096), 4096);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		buf_commit(&in, (size_t)n);
	}
	text = (char *)buf_cstr(&in);
	v = strtol(text, &end, 10);
	if (end == text || *end != '\n' || v > 0 || v < -4095) {
		*cause = xstrdup("the ssh tunnel (sprig-tunnel) ended without saying why");
		r = -EPROTO;
	} else if (v < 0) {
		/* The rest is the helper's message. */
		text = end + 1;
		for (n = (ssize_t)strlen(text); n > 0 && text[n - 1] == '\n'; n--)
			text[n - 1] = '\0';
		*cause = xstrdup(*text != '\0' ? text : "the ssh tunnel failed");
		r = (int)v;
	} else {
		text = end + 1;
		name = strchr(text, '\n') + 1;
		name[-1] = '\0';
		name[strcspn(name, "\n")] = '\0';
		c->sock = xstrdup(text);
		c->remote = xstrdup(name);
		r = 0;
	}
	buf_done(&in);
	return r;
}

int
client_init_remote(struct client *c, const char *url, char **cause)
{
	char *prog = client_program("sprig-tunnel");
	static int registered;
	int sv[2], r;
	pid_t pid;

	memset(c, 0, sizeof *c);
	c->tunnel_fd = -1;
	r = client_fork_pair(sv, 1, &pid);
	if (r < 0) {
		*cause = xasprintf("cannot start the ssh tunnel: %s", strerror(-r));
		goto out;
	}
	if (pid == 0) {
		dup2(sv[1], 0);	/* without O_CLOEXEC */
		execl(prog, "sprig-tunnel", url, (char *)NULL);
		dprintf(0, "%d\ncannot run %s: %s\n", -errno, prog, strerror(errno));
		_exit(127);
	}
	close(sv[1]);
	c->tunnel_fd = sv[0];
	c->tunnel_pid = pid;
	client_live = c;
	if (!registered++)
		atexit(client_atexit);
	r = client_tunnel_answer(c, cause);
	if (r < 0)
		client_tunnel_end(c);
out:
	free(prog);
	return r;
}

int
client_open(struct client *c, const char *host, char **cause)
{
	if (host != NULL && *host != '\0')
		return client_init_remote(c, host, cause);
	return client_init(c, cause);
}

void
client_done(struct client *c)
{
	client_tunnel_end(c);
	free(c->home);
	free(c->sock);
	free(c->remote);
}

char *
client_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf b;
	char *out;

	buf_init(&b);
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			buf_add_u8(&b, ch);
		} else {
			buf_add_u8(&b, '%');
			buf_add_u8(&b, (uint8_t)hex[ch >> 4]);
			buf_add_u8(&b, (uint8_t)hex[ch & 15]);
		}
	}
	out = xstrdup(buf_cstr(&b));
	buf_done(&b);
	return out;
}

char *
client_error_message(long status, const char *body, size_t len)
{
	cJSON *j = body != NULL && len > 0 ? cJSON_ParseWithLength(body, len) : NULL;
	const cJSON *m;
	char *out;

	if (j != NULL) {
		m = cJSON_GetObjectItemCaseSensitive(j, "message");
		if (!cJSON_IsString(m) || *m->valuestring == '\0')
			m = cJSON_GetObjectItemCaseSensitive(j, "error");
		if (cJSON_IsString(m) && *m->valuestring != '\0') {
			out = xstrdup(m->valuestring);
			cJSON_Delete(j);
			return out;
		}
		cJSON_Delete(j);
	}
	/* Not the API's shape: show what came, trimmed, on one line. */
	while (len > 0 && (body[len - 1] == '\n' || body[len - 1] == '\r' ||
	    body[len - 1] == ' ' || body[len - 1] == '\t'))
		len--;
	if (len == 0)
		return xasprintf("HTTP %ld", status);
	if (len > 500)
		len = 500;
	out = xasprintf("HTTP %ld: %.*s", status, (int)len, body);
	for (char *p = out; *p != '\0'; p++) {
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	}
	return out;
}

/* Whether a failed connect (-@err) may start the daemon. */
static int
client_may_start(struct client *c, int err)
{
	const char *no = getenv("SPRIG_NO_AUTOSTART");

	if (err != ENOENT && err != ECONNREFUSED)
		return 0;
	return c->autostart && (no == NULL || *no == '\0');
}

/* What to tell the user when the daemon cannot be reached or went quiet:
 * @err is the errno (ECONNRESET: it closed the connection unanswered). */
static char *
client_unreachable(struct client *c, int err)
{
	const char *why = err == ECONNRESET ? "it closed the connection without an answer" :
	    strerror(err);

	/* Through a tunnel, a lost daemon or session ends the connection. */
	if (c->remote != NULL && err != ETIMEDOUT)
		return xasprintf("lost the daemon at %s (is it still running there, and the "
		    "ssh connection up?): %s", c->remote, why);
	if (err == ENOENT || err == ECONNREFUSED)
		return xasprintf("the daemon is not running (no one listens on %s); "
		    "start it with 'sprig serve'", c->sock);
	if (err == ETIMEDOUT)
		return xstrdup("the daemon did not answer in time");
	return xasprintf("cannot talk to the daemon at %s: %s", c->sock, why);
}

/* The last lines written to daemon.log from offset @since on, for a
 * start-up that failed (earlier runs' lines would mislead). */
static char *
client_log_tail(const char *log, off_t since)
{
	char *tail = NULL, *p, *out;
	struct stat st;
	size_t len = 0;
	ssize_t n;
	int fd, lines = 0;

	fd = open(log, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size > since) {
		if (st.st_size - since > 4096)
			since = st.st_size - 4096;
		tail = xmalloc((size_t)(st.st_size - since) + 1);
		n = pread(fd, tail, (size_t)(st.st_size - since), since);
		len = n > 0 ? (size_t)n : 0;
		tail[len] = '\0';
	}
	if (fd >= 0)
		close(fd);
	while (len > 0 && (tail[len - 1] == '\n' || tail[len - 1] == '\r'))
		tail[--len] = '\0';
	if (len == 0) {
		free(tail);
		return xstrdup("(it wrote nothing)");
	}
	for (p = tail + len; p > tail; p--) {
		if (p[-1] == '\n' && ++lines == CLIENT_LOG_LINES)
			break;
	}
	out = xstrdup(p);
	free(tail);
	return out;
}

/* In the grandchild: becomes the daemon. Never returns. */
static void __attribute__((noreturn))
client_exec_daemon(struct client *c, int ready_fd, const char *log, const char *prog)
{
	char *argv[] = { "sprig", "serve", NULL }, num[16];
	sigset_t none;
	int fd;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		dup2(fd, 0);
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	/* The daemon outlives this command and its caller: it must not hold
	 * their pipes (a shell's $(...), a CI step waiting for EOF), nor pass
	 * them on to every QEMU. */
	fd_cloexec_from(3);
	fd_set_cloexec(ready_fd, 0);
	snprintf(num, sizeof num, "%d", ready_fd);
	setenv("SPRIG_READY_FD", num, 1);
	setenv("SPRIG_HOME", c->home, 1);
	if (chdir("/") < 0)
		_exit(127);
	execv(prog, argv);
	dprintf(2, "sprig: cannot run %s: %s\n", prog, strerror(errno));
	_exit(127);
}

static int
client_start_daemon(struct client *c, char **cause)
{
	char *log = home_path(c->home, "daemon.log"), *tail;
	char *prog = client_program("sprig-daemon");
	struct stat st;
	off_t since = 0;
	uint64_t deadline;
	int p[2], wst, r, fd;
	pid_t pid;
	char b;

	c->autostart = 0;
	if (stat(log, &st) == 0)
		since = st.st_size;
	r = client_fork_pair(p, 0, &pid);
	if (r < 0) {
		*cause = xasprintf("cannot start the daemon: %s", strerror(-r));
		goto out_log;
	}
	if (pid == 0) {
		close(p[0]);
		setsid();
		pid = fork();
		if (pid != 0)
			_exit(pid < 0 ? 1 : 0);
		client_exec_daemon(c, p[1], log, prog);
	}
	close(p[1]);
	while (waitpid(pid, &wst, 0) < 0 && errno == EINTR)
		;

	deadline = loop_now_ms() + CLIENT_START_TIMEOUT_MS;
	for (;;) {
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		uint64_t now = loop_now_ms();
		ssize_t n;

		if (now >= deadline) {
			r = -ETIMEDOUT;
			*cause = xasprintf("the daemon did not get ready in %d s (see %s)",
			    CLIENT_START_TIMEOUT_MS / 1000, log);
			break;
		}
		if (poll(&pfd, 1, (int)(deadline - now)) <= 0)
			continue;
		n = read(p[0], &b, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 1) {
			r = 0;
			break;
		}
		/* It went away. Maybe another sprig's daemon won the race. */
		fd = unix_connect(c->sock, 0);
		if (fd >= 0) {
			close(fd);
			r = 0;
			break;
		}
		tail = client_log_tail(log, since);
		*cause = xasprintf("the daemon failed to start; the end of %s:\n%s", log, tail);
		free(tail);
		r = -ECHILD;
		break;
	}
	close(p[0]);
out_log:
	free(log);
	free(prog);
	return r;
}

/* A connected, blocking socket to the API (starting the daemon if it
 * may). Returns 0 and *ret_fd, or a negative errno and *cause. */
static int
client_connect(struct client *c, int *ret_fd, char **cause)
{
	int fd, r;

	for (;;) {
		fd = unix_connect(c->sock, 0);
		if (fd >= 0)
			break;
		if (!client_may_start(c, -fd)) {
			*cause = client_unreachable(c, -fd);
			return -ECONNREFUSED;
		}
		r = client_start_daemon(c, cause);
		if (r < 0)
			return r;
	}
	*ret_fd = fd;
	return 0;
}

/* The request's bytes: the head, and @json as its body. */
static void
client_request_head(struct buf *out, const char *method, const char *path, const char *json)
{
	buf_add_printf(out, "%s %s HTTP/1.1\r\n"
	    "Host: localhost\r\n"
	    "User-Agent: sprig\r\n"
	    "Accept: application/json\r\n"
	    "Connection: close\r\n", method, path);
	if (json != NULL)
		buf_add_printf(out, "Content-Type: application/json\r\n");
	if (json != NULL || strcmp(method, "POST") == 0)
		buf_add_printf(out, "Content-Length: %zu\r\n", json != NULL ? strlen(json) : 0);
	buf_add_printf(out, "\r\n%s", json != NULL ? json : "");
}

/* Waits until @fd is ready for @events or @deadline (monotonic ms; 0: no
 * limit) passes. Returns 0 or -ETIMEDOUT. */
static int
client_wait(int fd, short events, uint64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	uint64_t now;

	for (;;) {
		now = loop_now_ms();
		if (deadline != 0 && now >= deadline)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, deadline == 0 ? -1 : (int)(deadline - now)) > 0)
			return 0;
	}
}

/*
 * One request on a connection of its own. A 2xx answer's body goes to
 * @resp, or with @line, each line to it as it arrives; any other answer
 * becomes *cause (-EPROTO).
 */
static int
client_http(struct client *c, const char *method, const char *path, const cJSON *body,
    long timeout_s, struct buf *resp, client_line_fn line, void *arg, char **cause)
{
	uint64_t deadline = timeout_s > 0 ? loop_now_ms() + (uint64_t)timeout_s * 1000 : 0;
	char *json = body != NULL ? cJSON_PrintUnformatted(body) : NULL, data[16384];
	struct response r;
	struct buf out;
	uint8_t *nl;
	ssize_t n;
	int fd = -1, rc;

	buf_init(&out);
	response_init(&r, 0);
	rc = client_connect(c, &fd, cause);
	if (rc < 0)
		goto out;
	client_request_head(&out, method, path, json);
	while (buf_used(&out) > 0) {
		n = send(fd, buf_head(&out), buf_used(&out), MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto lost;
		}
		buf_consume(&out, (size_t)n);
	}
	while (!r.complete) {
		rc = client_wait(fd, POLLIN, deadline);
		if (rc < 0)
			goto lost;
		n = read(fd, data, sizeof data);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto lost;
		}
		rc = (int)response_feed(&r, data, (size_t)n);
		if (rc == -EFBIG) {
			*cause = xasprintf("the daemon's answer to %s %s is larger than %u MiB",
			    method, path, RESPONSE_BODY_MAX >> 20);
			goto out;
		}
		if (rc < 0) {
			*cause = xasprintf("the daemon's answer to %s %s is not HTTP", method, path);
			rc = -EBADMSG;
			goto out;
		}
		/* An NDJSON stream: each whole line as it comes. */
		while (line != NULL && r.status >= 200 && r.status <= 299 &&
		    (nl = memchr(buf_head(&r.body), '\n', buf_used(&r.body))) != NULL) {
			size_t len = (size_t)(nl - buf_head(&r.body));

			line((const char *)buf_head(&r.body), len, arg);
			buf_consume(&r.body, len + 1);
		}
		if (n == 0 && !r.complete) {
			rc = -ECONNRESET;
			goto lost;
		}
	}
	if (r.status < 200 || r.status > 299) {
		*cause = client_error_message(r.status, (const char *)buf_head(&r.body),
		    buf_used(&r.body));
		rc = -EPROTO;
		goto out;
	}
	if (line == NULL)
		buf_add(resp, buf_head(&r.body), buf_used(&r.body));
	rc = 0;
	goto out;
lost:
	*cause = client_unreachable(c, -rc);
	rc = rc == -ETIMEDOUT ? -ETIMEDOUT : -ECONNREFUSED;
out:
	if (fd >= 0)
		close(fd);
	response_done(&r);
	buf_done(&out);
	free(json);
	return rc;
}

int
client_request_text(struct client *c, const char *method, const char *path,
    const cJSON *body, long timeout_s, struct buf *resp, char **cause)
{
	return client_http(c, method, path, body, timeout_s, resp, NULL, NULL, cause);
}

int
client_stream(struct client *c, const char *path, client_line_fn fn, void *arg, char **cause)
{
	return client_http(c, "GET", path, NULL, 0, NULL, fn, arg, cause);
}

int
client_request(struct client *c, const char *method, const char *path, const cJSON *body,
    long timeout_s, cJSON **ret, char **cause)
{
	struct buf resp;
	cJSON *j = NULL;
	int r;

	buf_init(&resp);
	r = client_request_text(c, method, path, body, timeout_s, &resp, cause);
	if (r == 0 && buf_used(&resp) > 0) {
		j = cJSON_ParseWithLength((const char *)buf_head(&resp), buf_used(&resp));
		if (j == NULL) {
			*cause = xasprintf("the daemon's answer to %s %s is not JSON", method, path);
			r = -EBADMSG;
		}
	}
	if (r == 0)
		*ret = j;
	buf_done(&resp);
	return r;
}

int
client_websocket(struct client *c, const char *path, int timeout_ms, int *ret_fd,
    struct buf *prefix, char **cause)
{
	char key[25];
	int fd, r;

	r = client_connect(c, &fd, cause);
	if (r < 0)
		return r;
	ws_client_key(key);
	fd_set_nonblock(fd, 1);
	r = upgrade_perform(fd, path, key, timeout_ms, prefix, cause);
	if (r < 0) {
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

/* Whether @pid has exited: gone, or a zombie (a daemon we started and
 * nobody reaped yet). Only for kernels without pidfds. */
static int
client_pid_gone(pid_t pid)
{
	char path[64], *stat = NULL, *p;
	int gone;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 1;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (read_file(path, 4096, &stat, NULL) < 0)
		return 1;
	p = strrchr(stat, ')');
	gone = p != NULL && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
	free(stat);
	return gone;
}

/* Whether @pid runs `... serve ...`: a pid file can outlive its daemon and
 * its pid be reused by anything. */
static int
client_is_daemon(pid_t pid)
{
	char path[64], *cmd = NULL, *p;
	size_t len = 0;
	int yes = 0;

	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	if (read_file(path, 65536, &cmd, &len) < 0)
		return 0;
	for (p = cmd; p < cmd + len; p += strlen(p) + 1) {
		if (p != cmd && strcmp(p, "serve") == 0)
			yes = 1;
	}
	free(cmd);
	return yes;
}

int
client_stop_daemon(struct client *c, char **cause)
{
	char *path = home_path(c->home, "daemon.pid"), *text = NULL, *end;
	struct pollfd pfd = { .fd = -1, .events = POLLIN };
	uint64_t deadline;
	long v;
	pid_t pid;
	int r;

	r = read_file(path, 4096, &text, NULL);
	free(path);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		*cause = xasprintf("cannot read daemon.pid: %s", strerror(-r));
		return r;
	}
	v = strtol(text, &end, 10);
	r = end == text || v <= 0 || v > INT_MAX;
	free(text);
	if (r)
		return 0;
	pid = (pid_t)v;
	/* A pidfd names this process, not whatever reuses its pid later. */
	pfd.fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd.fd < 0 && errno == ESRCH)
		return 0;
	if (!client_is_daemon(pid)) {
		r = 0;
		goto out;
	}
	if (pfd.fd >= 0)
		r = (int)syscall(SYS_pidfd_send_signal, pfd.fd, SIGTERM, NULL, 0);
	else
		r = kill(pid, SIGTERM);
	if (r < 0) {
		r = errno == ESRCH ? 0 : -errno;
		if (r < 0)
			*cause = xasprintf("cannot stop the daemon (pid %d): %s", (int)pid,
			    strerror(-r));
		goto out;
	}
	deadline = loop_now_ms() + CLIENT_STOP_TIMEOUT_MS;
	for (;;) {
		uint64_t now = loop_now_ms();

		if (pfd.fd < 0 ? client_pid_gone(pid) : poll(&pfd, 1, 0) == 1) {
			r = 1;
			break;
		}
		if (now >= deadline) {
			*cause = xasprintf("the daemon (pid %d) did not exit within %d s",
			    (int)pid, CLIENT_STOP_TIMEOUT_MS / 1000);
			r = -ETIMEDOUT;
			break;
		}
		/* With a pidfd this waits for the exit itself; without one
		 * (old kernels) it checks ten times a second. */
		if (pfd.fd >= 0)
			poll(&pfd, 1, (int)(deadline - now));
		else
			poll(NULL, 0, 100);
	}
out:
	if (pfd.fd >= 0)
		close(pfd.fd);
	return r;
}
