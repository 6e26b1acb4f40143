/*
 * tunnel: the SSH session to a remote sprig host and the local socket that
 * leads through it.
 *
 * Set-up (connect, host key, keys, the remote socket's path, a first
 * forward to see that a daemon listens) runs blocking, in tunnel_open. Then
 * tunnel_run pumps: one poll over the descriptor that says stop, the
 * listening socket, the SSH socket and each forwarded connection, with the
 * session in non-blocking mode. Bytes move
 * only as far as the other side takes them: a channel is read while its
 * connection's queue is short, a connection while its channel's window is
 * open, so a slow reader slows the remote writer instead of filling memory.
 * A lost session is reopened on the next connection.
 */
#include "tunnel.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libssh/libssh.h>

#include "common/buf.h"
#include "common/loop.h"
#include "common/util.h"
#include "common/xmalloc.h"

#define TUNNEL_TIMEOUT_S	15
#define TUNNEL_ASK_TIMEOUT_MS	60000	/* may start the remote daemon */
#define TUNNEL_CHUNK		32768
#define TUNNEL_QUEUE_MAX	(256 * 1024)
#define TUNNEL_RETRY_MS		2000

/*
 * Asks the remote for its socket, as its sprig would find it (common/home.c),
 * and starts its daemon there if it is not running and sprig is on its PATH.
 * sh -c, whatever the login shell is.
 */
#define TUNNEL_ASK \
	"sh -c 'h=${SPRIG_HOME:-}; if [ -z \"$h\" ]; then case ${XDG_DATA_HOME:-} in " \
	"/*) h=$XDG_DATA_HOME/sprig ;; *) h=$HOME/.local/share/sprig ;; esac; fi; " \
	"if [ ! -S \"$h/api.sock\" ] && command -v sprig >/dev/null 2>&1; then " \
	"SPRIG_HOME=$h sprig list >/dev/null 2>&1 </dev/null; fi; " \
	"printf \"%s\\n\" \"$h/api.sock\"'"

struct tunnel_conn {
	int			 fd;
	ssh_channel		 chan;
	int			 open;		/* else the channel is opening */
	int			 sent_eof;	/* the local side ended: told the channel */
	int			 shut;		/* the channel ended: shut our write side */
	int			 pfd;		/* its index in this turn's pollfds, or -1 */
	struct buf		 queue;		/* from the channel, not yet written to fd */
	struct tunnel_conn	*next;
};

struct tunnel {
	char			*user;		/* NULL: ssh's default */
	char			*host;
	unsigned int		 port;		/* 0: ssh's default */
	char			*path;		/* the remote socket */
	char			*ssh_dir;	/* $HOME/.ssh, or NULL */
	char			*where;		/* user@host[:port] for messages */
	char			*name;		/* where:path */
	char			*dir;		/* the 0700 directory of... */
	char			*sock;		/* ...the local socket */
	int			 listen_fd;
	ssh_session		 ssh;		/* NULL while the session is down */
	ssh_event		 ev;		/* the session alone, to drive its I/O */
	uint64_t		 retry_at;
	struct tunnel_conn	*conns;
};

/* ssh://[user@]host[:port][/path]; [v6] in brackets. */
static int
tunnel_parse(struct tunnel *t, const char *url, char **cause)
{
	const char *p = url, *end, *at, *colon = NULL, *hend;
	char *e, port_s[12] = "";
	long port;
	int v6;

	if (strncmp(p, "ssh://", 6) == 0)
		p += 6;
	else if (strstr(p, "://") != NULL)
		goto bad;
	end = p + strcspn(p, "/");
	at = memrchr(p, '@', (size_t)(end - p));
	if (at != NULL) {
		if (at == p)
			goto bad;
		t->user = xstrndup(p, (size_t)(at - p));
		p = at + 1;
	}
	if (*p == '[') {
		hend = memchr(p, ']', (size_t)(end - p));
		if (hend == NULL)
			goto bad;
		t->host = xstrndup(p + 1, (size_t)(hend - p - 1));
		if (hend + 1 < end) {
			if (hend[1] != ':')
				goto bad;
			colon = hend + 1;
		}
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
		t->host = xstrndup(p, (size_t)((colon != NULL ? colon : end) - p));
	}
	if (*t->host == '\0')
		goto bad;
	if (colon != NULL) {
		errno = 0;
		port = strtol(colon + 1, &e, 10);
		if (e != end || e == colon + 1 || errno != 0 || port < 1 || port > 65535)
			goto bad;
		t->port = (unsigned int)port;
	}
	if (*end == '/' && end[1] != '\0')
		t->path = xstrdup(end);
	if (t->port != 0)
		snprintf(port_s, sizeof port_s, ":%u", t->port);
	v6 = strchr(t->host, ':') != NULL;
	t->where = xasprintf("%s%s%s%s%s%s", t->user != NULL ? t->user : "",
	    t->user != NULL ? "@" : "", v6 ? "[" : "", t->host, v6 ? "]" : "", port_s);
	return 0;
bad:
	*cause = xasprintf("'%s' is not an ssh host: give ssh://[user@]host[:port]"
	    "[/path/to/api.sock]", url);
	return -EINVAL;
}

/* "ssh-ed25519 key SHA256:...", newly allocated. */
static char *
tunnel_fingerprint(ssh_session s)
{
	ssh_key key = NULL;
	unsigned char *hash = NULL;
	char *fp = NULL, *out;
	size_t len;

	if (ssh_get_server_publickey(s, &key) == SSH_OK &&
	    ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &len) == 0)
		fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, len);
	out = xasprintf("%s key %s", key != NULL ? ssh_key_type_to_char(ssh_key_type(key)) :
	    "a", fp != NULL ? fp : "(no fingerprint)");
	ssh_string_free_char(fp);
	ssh_clean_pubkey_hash(&hash);
	ssh_key_free(key);
	return out;
}

/* Refuses a host whose key known_hosts does not have, as ssh does, and says
 * how to add it; never accepts a key by itself. */
static int
tunnel_verify(struct tunnel *t, ssh_session s, char **cause)
{
	enum ssh_known_hosts_e known = ssh_session_is_known_server(s);
	char *fp, *entry, *scan, *kh;
	unsigned int port = 22;

	if (known == SSH_KNOWN_HOSTS_OK)
		return 0;
	ssh_options_get_port(s, &port);
	entry = port == 22 ? xstrdup(t->host) : xasprintf("[%s]:%u", t->host, port);
	scan = port == 22 ? xasprintf("ssh-keyscan %s", t->host) :
	    xasprintf("ssh-keyscan -p %u %s", port, t->host);
	kh = t->ssh_dir != NULL ? xasprintf("%s/known_hosts", t->ssh_dir) :
	    xstrdup("~/.ssh/known_hosts");
	fp = tunnel_fingerprint(s);
	if (known == SSH_KNOWN_HOSTS_CHANGED || known == SSH_KNOWN_HOSTS_OTHER)
		*cause = xasprintf("the host key of %s has CHANGED (it now offers %s)%s: "
		    "someone may be eavesdropping on you (a man-in-the-middle attack), or "
		    "the host's key was replaced. Refusing to connect. If the new key is "
		    "right, remove the old one with `ssh-keygen -R '%s' -f %s` and add the "
		    "new one with `%s >> %s`", entry, fp,
		    known == SSH_KNOWN_HOSTS_OTHER ? ", of another type than the one known" :
		    "", entry, kh, scan, kh);
	else if (known == SSH_KNOWN_HOSTS_ERROR)
		*cause = xasprintf("cannot check the host key of %s: %s", entry, ssh_get_error(s));
	else
		*cause = xasprintf("the authenticity of host '%s' can't be established: %s has "
		    "no key for it (it offers %s). If that is its key, add it with `%s >> %s` "
		    "(or connect once with ssh and accept it)", entry, kh, fp, scan, kh);
	free(fp);
	free(entry);
	free(scan);
	free(kh);
	return -EPERM;
}

/* The agent's keys, then ~/.ssh/id_*; no password prompts. */
static int
tunnel_auth(struct tunnel *t, ssh_session s, char **cause)
{
	int rc;

	rc = ssh_userauth_none(s, NULL);
	if (rc == SSH_AUTH_SUCCESS)
		return 0;
	if (rc != SSH_AUTH_ERROR)
		rc = ssh_userauth_publickey_auto(s, NULL, NULL);
	if (rc == SSH_AUTH_SUCCESS)
		return 0;
	if (rc == SSH_AUTH_ERROR)
		*cause = xasprintf("ssh authentication with %s failed: %s", t->where,
		    ssh_get_error(s));
	else
		*cause = xasprintf("%s accepted none of our keys (the ssh-agent's, %s/id_ed25519, "
		    "id_ecdsa, id_rsa): add your public key to ~/.ssh/authorized_keys there",
		    t->where, t->ssh_dir != NULL ? t->ssh_dir : "~/.ssh");
	return -EACCES;
}

/* Opens, checks and authenticates a session into t->ssh (blocking). */
static int
tunnel_connect(struct tunnel *t, char **cause)
{
	ssh_session s = ssh_new();
	long timeout = TUNNEL_TIMEOUT_S;
	int r;

	if (s == NULL)
		abort();
	ssh_options_set(s, SSH_OPTIONS_HOST, t->host);
	/* libssh finds ~ in the password database; sprig's tests, and people,
	 * expect $HOME's ~/.ssh. */
	if (t->ssh_dir != NULL)
		ssh_options_set(s, SSH_OPTIONS_SSH_DIR, t->ssh_dir);
	/* ~/.ssh/config first, so that the URL's user and port win. */
	if (ssh_options_parse_config(s, NULL) < 0) {
		*cause = xasprintf("cannot read the ssh configuration: %s", ssh_get_error(s));
		r = -EINVAL;
		goto fail;
	}
	if (t->user != NULL)
		ssh_options_set(s, SSH_OPTIONS_USER, t->user);
	if (t->port != 0)
		ssh_options_set(s, SSH_OPTIONS_PORT, &t->port);
	ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout);
	if (ssh_connect(s) != SSH_OK) {
		*cause = xasprintf("cannot connect to %s: %s", t->where, ssh_get_error(s));
		r = -ECONNREFUSED;
		goto fail;
	}
	r = tunnel_verify(t, s, cause);
	if (r == 0)
		r = tunnel_auth(t, s, cause);
	if (r < 0) {
		ssh_disconnect(s);
		goto fail;
	}
	t->ssh = s;
	return 0;
fail:
	ssh_free(s);
	return r;
}

/* Runs TUNNEL_ASK on the remote for its socket's path (blocking). */
static int
tunnel_ask_path(struct tunnel *t, char **cause)
{
	ssh_channel ch = ssh_channel_new(t->ssh);
	struct buf out;
	char data[512];
	const char *p;
	size_t len;
	int n, r = 0;

	buf_init(&out);
	if (ch == NULL || ssh_channel_open_session(ch) != SSH_OK ||
	    ssh_channel_request_exec(ch, TUNNEL_ASK) != SSH_OK) {
		*cause = xasprintf("cannot ask %s where its sprig daemon listens (%s); give the "
		    "path: ssh://%s/path/to/api.sock", t->where, ssh_get_error(t->ssh), t->where);
		r = -EPROTO;
		goto out;
	}
	while (buf_used(&out) < 4096 &&
	    (n = ssh_channel_read_timeout(ch, data, sizeof data, 0, TUNNEL_ASK_TIMEOUT_MS)) > 0)
		buf_add(&out, data, (size_t)n);
	p = buf_cstr(&out);
	len = strcspn(p, "\n");
	if (*p != '/' || len < 2) {
		*cause = xasprintf("%s did not say where its sprig daemon listens; give the "
		    "path: ssh://%s/path/to/api.sock", t->where, t->where);
		r = -EPROTO;
		goto out;
	}
	t->path = xstrndup(p, len);
out:
	if (ch != NULL) {
		ssh_channel_close(ch);
		ssh_channel_free(ch);
	}
	buf_done(&out);
	return r;
}

/* One forward to the remote socket, to say now, not at the first request,
 * that no daemon listens there (blocking). */
static int
tunnel_probe(struct tunnel *t, char **cause)
{
	ssh_channel ch = ssh_channel_new(t->ssh);

	if (ch == NULL)
		abort();
	if (ssh_channel_open_forward_unix(ch, t->path, "127.0.0.1", 0) == SSH_OK) {
		ssh_channel_close(ch);
		ssh_channel_free(ch);
		return 0;
	}
	/* sshd says "open failed" both when nothing listens there and when
	 * its policy forbids the forward: the likely one first. */
	*cause = xasprintf("no sprig daemon at %s; start one there with `sprig serve` (if one "
	    "runs, the remote sshd must allow AllowStreamLocalForwarding)", t->name);
	ssh_channel_free(ch);
	return -ECONNREFUSED;
}

static void
tunnel_conn_free(struct tunnel_conn *c)
{
	close(c->fd);
	/* Not ssh_channel_close: on a channel never opened it would close the
	 * server's channel 0. ssh_channel_free closes only what is open. */
	ssh_channel_free(c->chan);
	buf_done(&c->queue);
	free(c);
}

/* The session broke: its connections end (their clients see the end) and
 * the next connection tries a new session. */
static void
tunnel_down(struct tunnel *t)
{
	struct tunnel_conn *c;

	while ((c = t->conns) != NULL) {
		t->conns = c->next;
		tunnel_conn_free(c);
	}
	if (t->ev != NULL) {
		ssh_event_remove_session(t->ev, t->ssh);
		ssh_event_free(t->ev);
		t->ev = NULL;
	}
	if (t->ssh != NULL) {
		ssh_disconnect(t->ssh);
		ssh_free(t->ssh);
		t->ssh = NULL;
	}
	t->retry_at = loop_now_ms() + TUNNEL_RETRY_MS;
}

/* From set-up to pumping: non-blocking, its I/O driven by an event. */
static void
tunnel_up(struct tunnel *t)
{
	ssh_set_blocking(t->ssh, 0);
	t->ev = ssh_event_new();
	if (t->ev == NULL || ssh_event_add_session(t->ev, t->ssh) != SSH_OK)
		abort();
}

static void
tunnel_accept(struct tunnel *t)
{
	struct tunnel_conn *c;
	char *cause = NULL;
	int fd;

	fd = accept4(t->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	if (t->ssh == NULL) {
		/* Blocking, but nothing else is in flight without a
		 * session; and not more often than every TUNNEL_RETRY_MS. */
		if (loop_now_ms() < t->retry_at) {
			close(fd);
			return;
		}
		if (tunnel_connect(t, &cause) < 0) {
			free(cause);
			t->retry_at = loop_now_ms() + TUNNEL_RETRY_MS;
			close(fd);
			return;
		}
		tunnel_up(t);
	}
	c = xcalloc(1, sizeof *c);
	c->fd = fd;
	c->pfd = -1;
	c->chan = ssh_channel_new(t->ssh);
	if (c->chan == NULL)
		abort();
	buf_init(&c->queue);
	c->next = t->conns;
	t->conns = c;
}

/* Moves what can move between @c's fd and channel. Returns 0 when the
 * connection is over. */
static int
tunnel_conn_pump(struct tunnel *t, struct tunnel_conn *c, short revents)
{
	uint8_t data[TUNNEL_CHUNK];
	uint32_t win;
	ssize_t n;
	int rc = 0;

	if (!c->open) {
		rc = ssh_channel_open_forward_unix(c->chan, t->path, "127.0.0.1", 0);
		if (rc == SSH_AGAIN)
			return 1;
		if (rc != SSH_OK)
			return 0;	/* the daemon went away: its client sees an end */
		c->open = 1;
	}
	/* Channel to fd. */
	while (!c->shut && buf_used(&c->queue) < TUNNEL_QUEUE_MAX) {
		rc = ssh_channel_read_nonblocking(c->chan, data, sizeof data, 0);
		if (rc <= 0)
			break;
		buf_add(&c->queue, data, (size_t)rc);
	}
	if (rc < 0 && rc != SSH_EOF)
		return 0;
	while (buf_used(&c->queue) > 0) {
		n = send(c->fd, buf_head(&c->queue), buf_used(&c->queue), MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n < 0)
			return 0;
		buf_consume(&c->queue, (size_t)n);
	}
	if (!c->shut && buf_used(&c->queue) == 0 &&
	    (rc == SSH_EOF || ssh_channel_is_eof(c->chan) || ssh_channel_is_closed(c->chan))) {
		shutdown(c->fd, SHUT_WR);
		c->shut = 1;
	}
	/* Fd to channel, as much as its window takes. */
	if (!c->sent_eof && (revents & (POLLIN | POLLHUP | POLLERR)) &&
	    (win = ssh_channel_window_size(c->chan)) > 0) {
		n = read(c->fd, data, win < sizeof data ? win : sizeof data);
		if (n > 0 && ssh_channel_write(c->chan, data, (uint32_t)n) != n)
			return 0;
		if (n == 0) {
			ssh_channel_send_eof(c->chan);
			c->sent_eof = 1;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return 0;
	}
	if (c->shut && (c->sent_eof || ssh_channel_is_closed(c->chan)))
		return 0;
	return 1;
}

int
tunnel_run(struct tunnel *t, int stop_fd)
{
	struct pollfd *pfds = NULL;
	struct tunnel_conn *c, **pp;
	size_t cap = 0, n;
	int timeout, r = 0;

	for (;;) {
		n = 0;
		for (c = t->conns; c != NULL; c = c->next)
			n++;
		if (n + 3 > cap) {
			cap = (n + 3) * 2;
			pfds = xreallocarray(pfds, cap, sizeof *pfds);
		}
		pfds[0] = (struct pollfd){ .fd = stop_fd, .events = POLLIN };
		pfds[1] = (struct pollfd){ .fd = t->listen_fd, .events = POLLIN };
		pfds[2] = (struct pollfd){ .fd = -1 };
		timeout = -1;
		if (t->ssh != NULL) {
			int flags = ssh_get_poll_flags(t->ssh);

			/* What libssh waits for: POLLOUT while it has
			 * output queued. */
			pfds[2].fd = ssh_get_fd(t->ssh);
			pfds[2].events = POLLIN | (flags & SSH_WRITE_PENDING ? POLLOUT : 0);
		}
		n = 3;
		for (c = t->conns; c != NULL; c = c->next) {
			short ev = 0;

			if (c->open && !c->sent_eof && ssh_channel_window_size(c->chan) > 0)
				ev |= POLLIN;
			if (buf_used(&c->queue) > 0)
				ev |= POLLOUT;
			else if (c->open && !c->shut && ssh_channel_poll(c->chan, 0) != 0)
				timeout = 0;	/* data or an end libssh holds */
			/* With nothing to wait for on it, a hung-up fd would
			 * wake every turn. */
			c->pfd = (int)n;
			pfds[n++] = (struct pollfd){ .fd = ev != 0 ? c->fd : -1, .events = ev };
		}
		if (poll(pfds, (nfds_t)n, timeout) < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
		if (pfds[0].revents != 0)
			break;
		if (t->ssh != NULL && (ssh_event_dopoll(t->ev, 0) == SSH_ERROR ||
		    !ssh_is_connected(t->ssh)))
			tunnel_down(t);
		/* New connections first, so that their channels' opens go
		 * out in this turn. */
		if (pfds[1].revents & POLLIN)
			tunnel_accept(t);
		for (pp = &t->conns; (c = *pp) != NULL;) {
			if (tunnel_conn_pump(t, c, c->pfd >= 0 ? pfds[c->pfd].revents : 0)) {
				pp = &c->next;
				continue;
			}
			*pp = c->next;
			tunnel_conn_free(c);
		}
	}
	free(pfds);
	return r;
}

int
tunnel_open(const char *url, struct tunnel **ret, char **cause)
{
	struct tunnel *t = xcalloc(1, sizeof *t);
	const char *home = getenv("HOME"), *base = getenv("XDG_RUNTIME_DIR");
	struct stat st;
	int r;

	t->listen_fd = -1;
	r = tunnel_parse(t, url, cause);
	if (r < 0)
		goto fail;
	if (home != NULL && *home == '/')
		t->ssh_dir = xasprintf("%s/.ssh", home);
	ssh_init();
	r = tunnel_connect(t, cause);
	if (r == 0 && t->path == NULL)
		r = tunnel_ask_path(t, cause);
	if (r < 0)
		goto fail;
	t->name = xasprintf("%s:%s", t->where, t->path);
	r = tunnel_probe(t, cause);
	if (r < 0)
		goto fail;

	/* The local end: only this user may use the session through it. */
	if (base == NULL || *base != '/' || stat(base, &st) < 0 || !S_ISDIR(st.st_mode))
		base = "/tmp";
	t->dir = xasprintf("%s/sprig-ssh.XXXXXX", base);
	if (mkdtemp(t->dir) == NULL) {
		r = -errno;
		*cause = xasprintf("cannot make a directory for the ssh tunnel in %s: %s", base,
		    strerror(errno));
		free(t->dir);
		t->dir = NULL;
		goto fail;
	}
	t->sock = xasprintf("%s/api.sock", t->dir);
	t->listen_fd = unix_listen(t->sock, 0600);
	if (t->listen_fd < 0) {
		r = t->listen_fd;
		*cause = xasprintf("cannot listen on %s: %s", t->sock, strerror(-r));
		goto fail;
	}
	tunnel_up(t);
	*ret = t;
	return 0;
fail:
	tunnel_free(t);
	return r;
}

void
tunnel_free(struct tunnel *t)
{
	if (t == NULL)
		return;
	tunnel_down(t);
	if (t->listen_fd >= 0)
		close(t->listen_fd);
	if (t->sock != NULL)
		unlink(t->sock);
	if (t->dir != NULL)
		rmdir(t->dir);
	free(t->user);
	free(t->host);
	free(t->path);
	free(t->ssh_dir);
	free(t->where);
	free(t->name);
	free(t->dir);
	free(t->sock);
	free(t);
}

const char *
tunnel_sock(const struct tunnel *t)
{
	return t->sock;
}

const char *
tunnel_name(const struct tunnel *t)
{
	return t->name;
}
