/*
 * client: libcurl over the API socket, the error shape, daemon start and stop.
 *
 * The daemon is started on the first connection refused (no socket, or a
 * stale one): fork, setsid, fork again (so it is nobody's child), then exec
 * this very binary as `sprig serve` with SPRIG_READY_FD naming a pipe; the
 * daemon writes one byte there once it listens. End of file first means it
 * died, and its log says why.
 */
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/tunnel.h"
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
	return 0;
}

int
client_init_remote(struct client *c, const char *url, char **cause)
{
	int r;

	memset(c, 0, sizeof *c);
	r = tunnel_open(url, &c->tunnel, cause);
	if (r < 0)
		return r;
	c->sock = xstrdup(tunnel_sock(c->tunnel));
	return 0;
}

void
client_done(struct client *c)
{
	tunnel_free(c->tunnel);
	free(c->home);
	free(c->sock);
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

static int
client_may_start(struct client *c, CURL *h)
{
	const char *no = getenv("SPRIG_NO_AUTOSTART");
	long err = 0;

	curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &err);
	if (err != ENOENT && err != ECONNREFUSED)
		return 0;
	return c->autostart && (no == NULL || *no == '\0');
}

static char *
client_unreachable(struct client *c, CURL *h, CURLcode cc, const char *errbuf)
{
	long err = 0;

	/* Through a tunnel, a lost daemon or session ends the connection. */
	if (c->tunnel != NULL && cc != CURLE_OPERATION_TIMEDOUT)
		return xasprintf("lost the daemon at %s (is it still running there, and the "
		    "ssh connection up?): %s", tunnel_name(c->tunnel),
		    *errbuf != '\0' ? errbuf : curl_easy_strerror(cc));
	curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &err);
	if (cc == CURLE_COULDNT_CONNECT && (err == ENOENT || err == ECONNREFUSED))
		return xasprintf("the daemon is not running (no one listens on %s); "
		    "start it with 'sprig serve'", c->sock);
	if (cc == CURLE_OPERATION_TIMEDOUT)
		return xstrdup("the daemon did not answer in time");
	return xasprintf("cannot talk to the daemon at %s: %s", c->sock,
	    *errbuf != '\0' ? errbuf : curl_easy_strerror(cc));
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
client_exec_daemon(struct client *c, int ready_fd, const char *log)
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
	execv("/proc/self/exe", argv);
	dprintf(2, "sprig: cannot exec /proc/self/exe: %s\n", strerror(errno));
	_exit(127);
}

static int
client_start_daemon(struct client *c, char **cause)
{
	char *log = home_path(c->home, "daemon.log"), *tail;
	struct stat st;
	off_t since = 0;
	uint64_t deadline;
	int p[2], wst, r, fd;
	pid_t pid;
	char b;

	c->autostart = 0;
	if (stat(log, &st) == 0)
		since = st.st_size;
	if (pipe2(p, O_CLOEXEC) < 0) {
		r = -errno;
		*cause = xasprintf("cannot start the daemon: %s", strerror(errno));
		goto out_log;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		r = -errno;
		*cause = xasprintf("cannot start the daemon: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		goto out_log;
	}
	if (pid == 0) {
		close(p[0]);
		setsid();
		pid = fork();
		if (pid != 0)
			_exit(pid < 0 ? 1 : 0);
		client_exec_daemon(c, p[1], log);
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
	return r;
}

/* Where an answer's body goes: all into @resp, or, with @line, each line
 * to it as it arrives (a 2xx answer; any other is kept whole in @resp for
 * the error message). */
struct client_sink {
	struct buf	*resp;
	client_line_fn	 line;
	void		*arg;
	CURL		*h;
};

static size_t
client_write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct client_sink *sk = arg;
	long status = 0;
	uint8_t *nl;

	buf_add(sk->resp, data, size * n);
	if (sk->line == NULL)
		return size * n;
	curl_easy_getinfo(sk->h, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299)
		return size * n;
	while ((nl = memchr(buf_head(sk->resp), '\n', buf_used(sk->resp))) != NULL) {
		size_t len = (size_t)(nl - buf_head(sk->resp));

		sk->line((const char *)buf_head(sk->resp), len, sk->arg);
		buf_consume(sk->resp, len + 1);
	}
	return size * n;
}

static int client_http(struct client *c, const char *method, const char *path,
    const cJSON *body, long timeout_s, struct client_sink *sk, char **cause);

int
client_request_text(struct client *c, const char *method, const char *path,
    const cJSON *body, long timeout_s, struct buf *resp, char **cause)
{
	struct client_sink sk = { .resp = resp };

	return client_http(c, method, path, body, timeout_s, &sk, cause);
}

int
client_stream(struct client *c, const char *path, client_line_fn fn, void *arg, char **cause)
{
	struct buf rest;
	struct client_sink sk = { .resp = &rest, .line = fn, .arg = arg };
	int r;

	buf_init(&rest);
	r = client_http(c, "GET", path, NULL, 0, &sk, cause);
	buf_done(&rest);
	return r;
}

static int
client_http(struct client *c, const char *method, const char *path,
    const cJSON *body, long timeout_s, struct client_sink *sk, char **cause)
{
	struct buf *resp = sk->resp;
	char *url = xasprintf("http://localhost%s", path), *json = NULL;
	char errbuf[CURL_ERROR_SIZE];
	struct curl_slist *hdrs = NULL;
	CURL *h = NULL;
	CURLcode cc;
	long status = 0;
	int r;

	if (body != NULL)
		json = cJSON_PrintUnformatted(body);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (json != NULL)
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	for (;;) {
		h = curl_easy_init();
		if (h == NULL)
			abort();
		errbuf[0] = '\0';
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->sock);
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(h, CURLOPT_USERAGENT, "sprig");
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)CLIENT_CONNECT_TIMEOUT_S);
		curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, client_write_cb);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, sk);
		sk->h = h;
		if (strcmp(method, "POST") == 0) {
			curl_easy_setopt(h, CURLOPT_POST, 1L);
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, json != NULL ? json : "");
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE,
			    (long)(json != NULL ? strlen(json) : 0));
		} else if (strcmp(method, "GET") != 0) {
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
		}
		cc = curl_easy_perform(h);
		if (cc != CURLE_COULDNT_CONNECT || !client_may_start(c, h))
			break;
		curl_easy_cleanup(h);
		h = NULL;
		r = client_start_daemon(c, cause);
		if (r < 0)
			goto out;
	}
	if (cc != CURLE_OK) {
		*cause = client_unreachable(c, h, cc, errbuf);
		r = cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -ECONNREFUSED;
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		*cause = client_error_message(status, (const char *)buf_head(resp), buf_used(resp));
		r = -EPROTO;
		goto out;
	}
	r = 0;
out:
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	free(json);
	free(url);
	return r;
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

/* A connected socket to the API, owned by the returned curl handle. */
static int
client_connect(struct client *c, CURL **ret_handle, int *ret_fd, char **cause)
{
	char errbuf[CURL_ERROR_SIZE];
	curl_socket_t fd = CURL_SOCKET_BAD;
	CURLcode cc;
	CURL *h;
	int r;

	for (;;) {
		h = curl_easy_init();
		if (h == NULL)
			abort();
		errbuf[0] = '\0';
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->sock);
		curl_easy_setopt(h, CURLOPT_URL, "http://localhost/");
		curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)CLIENT_CONNECT_TIMEOUT_S);
		cc = curl_easy_perform(h);
		if (cc != CURLE_COULDNT_CONNECT || !client_may_start(c, h))
			break;
		curl_easy_cleanup(h);
		r = client_start_daemon(c, cause);
		if (r < 0)
			return r;
	}
	if (cc == CURLE_OK)
		cc = curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, &fd);
	if (cc != CURLE_OK || fd == CURL_SOCKET_BAD) {
		*cause = client_unreachable(c, h, cc, errbuf);
		curl_easy_cleanup(h);
		return -ECONNREFUSED;
	}
	*ret_handle = h;
	*ret_fd = (int)fd;
	return 0;
}

int
client_websocket(struct client *c, const char *path, int timeout_ms, CURL **ret_handle,
    int *ret_fd, struct buf *prefix, char **cause)
{
	char key[25];
	CURL *h;
	int fd, r;

	r = client_connect(c, &h, &fd, cause);
	if (r < 0)
		return r;
	ws_client_key(key);
	fd_set_nonblock(fd, 1);
	r = upgrade_perform(fd, path, key, timeout_ms, prefix, cause);
	if (r < 0) {
		curl_easy_cleanup(h);
		return r;
	}
	*ret_handle = h;
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
