/*
 * session: the processes the host starts with EXEC, one per channel. A
 * session owns its child (a process group and session of its own), the
 * pipes or the pty master it talks to the child through, the stdin the
 * child has not read yet, and the pipe that tells whether exec worked.
 *
 * Its life: started (exec status pipe watched) -> EXEC_OK or EXEC_ERR ->
 * output streamed -> EXIT once the child is reaped and every output
 * descriptor has reached end of file (EIO for a pty), so nothing the child
 * wrote can arrive after EXIT. Descriptors are watched from the loop's
 * before-sleep hook (session_update_all) according to the session's state,
 * so callbacks only change state. Callbacks find their session by channel.
 *
 * Flow control (common/agent_proto.h): a session reads its output only while
 * it has output credit from the host, so a host that does not take one
 * session's output stops only that session's child (which then blocks on a
 * full pipe), and EXIT, which waits for end of file, follows its output.
 * Stdin the host sends is within the credit this end gave; each byte taken
 * off the queue (written to the child, or thrown away because nobody will
 * read it) is credit given back. A host that sends more than its credit
 * has a bug the child must not pay for silently: the session is killed.
 *
 * A forwarded connection (CONNECT) is a session without a process: its one
 * descriptor is a TCP socket, read and written as a pty master is. EXEC_OK
 * once connected; end of file from the far end (or its error) is the
 * session's end, EXIT carrying the errno; STDIN_EOF is a shutdown of the
 * sending side, so the far end sees the end of the request and can still
 * answer.
 */
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "common/agent_proto.h"
#include "common/buf.h"
#include "common/loop.h"
#include "common/xmalloc.h"
#include "agent.h"
#include "sprig-init.h"

#define SESSION_ROWS		24
#define SESSION_COLS		80
/* The most of a pipe's output sent as one frame: bigger frames, fewer
 * system calls on both sides. */
#define SESSION_FRAME_MAX	(256u * 1024)
/* Output pipes hold this much, so a writer runs ahead while the agent is
 * busy, and the agent takes bigger pieces at a time. */
#define SESSION_PIPE_SIZE	(256 * 1024)

static const char *const session_base_env[] = {
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/root",
	"USER=root",
	"LOGNAME=root",
	"SHELL=/bin/sh",
};

/* What a child that could not start writes to its status pipe. */
struct session_status {
	int	err;
	char	message[256];
};

struct session_fd {
	int	fd;	/* -1: closed */
	int	mask;	/* what the loop watches it for; 0: not in the loop */
};

struct session {
	uint32_t		 chan;
	pid_t			 pid;
	int			 tty;
	int			 started;	/* EXEC_OK sent */
	int			 reaped;
	int			 status;	/* wait status, once reaped */
	struct session_fd	 exec;		/* status pipe until exec is known */
	struct session_fd	 in;		/* stdin pipe, or the pty master */
	struct session_fd	 out;		/* stdout pipe; unused with a pty */
	struct session_fd	 err;		/* stderr pipe; unused with a pty */
	struct buf		 inq;		/* stdin not written yet */
	int			 in_eof;	/* close stdin once inq drains */
	int			 in_broken;	/* the host overran its credit */
	size_t			 in_unreturned;	/* stdin taken, credit not given back */
	size_t			 in_grant;	/* credit to give back, batched */
	uint64_t		 out_window;	/* output credit left */
	int			 out_done;	/* the pty reached EIO, or the
						 * connection its end */
	int			 conn;		/* a forwarded connection: no process,
						 * @in is its socket */
	int			 connecting;	/* connect() is under way */
	int			 conn_err;	/* what broke it: EXIT's code */
	int			 conn_sig;	/* SIGNAL dropped it */
	int			 wr_shut;	/* its sending side is shut */
	int			 hup;		/* it hung up: do not watch it
						 * while there is no credit */
	char			*conn_name;	/* "HOST port PORT", for messages */
};

static struct loop	 *session_loop;
static struct session	**sessions;
static size_t		  nsessions;
static size_t		  sessions_cap;

static void session_io(struct loop *l, int fd, int events, void *arg);
static void session_write_input(struct session *s);

void
session_init(struct loop *l)
{
	session_loop = l;
}

static struct session *
session_find(uint32_t chan)
{
	for (size_t i = 0; i < nsessions; i++) {
		if (sessions[i]->chan == chan)
			return sessions[i];
	}
	return NULL;
}

static void
session_close_fd(struct session_fd *f)
{
	if (f->fd < 0)
		return;
	if (f->mask != 0)
		loop_del_fd(session_loop, f->fd);
	close(f->fd);
	f->fd = -1;
	f->mask = 0;
}

static void
session_free(struct session *s)
{
	for (size_t i = 0; i < nsessions; i++) {
		if (sessions[i] == s) {
			sessions[i] = sessions[--nsessions];
			break;
		}
	}
	session_close_fd(&s->exec);
	session_close_fd(&s->in);
	session_close_fd(&s->out);
	session_close_fd(&s->err);
	buf_done(&s->inq);
	free(s->conn_name);
	free(s);
}

/* @n bytes of stdin are off the queue: the host may send as many more. */
static void
session_input_done(struct session *s, size_t n)
{
	s->in_unreturned -= n;
	s->in_grant += n;
	if (s->in_grant >= AGENT_WINDOW_BATCH) {
		agent_send_stdin_window(s->chan, (uint32_t)s->in_grant);
		s->in_grant = 0;
	}
}

/* Throws away the stdin nobody will read, giving its credit back. */
static void
session_drop_input(struct session *s)
{
	size_t n = buf_used(&s->inq);

	buf_reset(&s->inq);
	if (n > 0)
		session_input_done(s, n);
}

/* Whether all output has been read to end of file. */
static int
session_output_done(const struct session *s)
{
	if (s->tty || s->conn)
		return s->out_done;
	return s->out.fd < 0 && s->err.fd < 0;
}

/* Sends EXIT and forgets the session once nothing more can come of it. */
static void
session_check_end(struct session *s)
{
	int code, sig = 0;

	if (!s->started || !s->reaped || !session_output_done(s))
		return;
	if (s->conn) {
		code = s->conn_err;
		sig = s->conn_sig;
	} else if (WIFSIGNALED(s->status)) {
		sig = WTERMSIG(s->status);
		code = 128 + sig;
	} else {
		code = WEXITSTATUS(s->status);
	}
	agent_send_exit(s->chan, code, sig);
	session_free(s);
}

/* Builds the child's environment: the defaults, then the host's entries
 * (which replace a default of the same name). All strings are allocated. */
static char **
session_env(const struct agent_exec *e)
{
	size_t nbase = sizeof session_base_env / sizeof session_base_env[0];
	size_t nenv = 0, n = 0, i, j, klen;
	char **v;

	while (e->env[nenv] != NULL)
		nenv++;
	v = xcalloc(nbase + 1 + nenv + 1, sizeof *v);
	for (i = 0; i < nbase; i++)
		v[n++] = xstrdup(session_base_env[i]);
	if (e->flags & AGENT_EXEC_TTY)
		v[n++] = xstrdup("TERM=xterm-256color");
	for (i = 0; i < nenv; i++) {
		klen = (size_t)(strchr(e->env[i], '=') - e->env[i]) + 1;
		for (j = 0; j < n; j++) {
			if (strncmp(v[j], e->env[i], klen) == 0)
				break;
		}
		if (j < n)
			free(v[j]);
		else
			n++;
		v[j] = xstrdup(e->env[i]);
	}
	return v;
}

static void
session_env_free(char **v)
{
	for (size_t i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* Opens a pty of the given size: a non-blocking master and its slave. */
static int
session_pty(unsigned rows, unsigned cols, int *ret_master, int *ret_slave)
{
	struct winsize ws = { 0 };
	char name[64];
	int m, s, n, r;

	m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (m < 0)
		return -errno;
	if (unlockpt(m) < 0 || ioctl(m, TIOCGPTN, &n) < 0) {
		r = -errno;
		close(m);
		return r;
	}
	snprintf(name, sizeof name, "/dev/pts/%d", n);
	s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0) {
		r = -errno;
		close(m);
		return r;
	}
	ws.ws_row = rows ? rows : SESSION_ROWS;
	ws.ws_col = cols ? cols : SESSION_COLS;
	ioctl(m, TIOCSWINSZ, &ws);
	*ret_master = m;
	*ret_slave = s;
	return 0;
}

/*
 * The child's side of EXEC: a session of its own (so the host can signal
 * the whole group), the pty as its controlling terminal or the pipes as its
 * stdio, then exec. Every other descriptor is close-on-exec. A failure is
 * written to @status_fd, which exec closes on success.
 */
static void __attribute__((noreturn))
session_child(const struct agent_exec *e, const char *path, char **envp, const int stdio[3],
    int status_fd)
{
	struct session_status st;
	const char *cwd = e->cwd != NULL && e->cwd[0] != '\0' ? e->cwd : "/";

	memset(&st, 0, sizeof st);
	init_child_reset();
	if (setsid() < 0) {
		st.err = errno;
		snprintf(st.message, sizeof st.message, "setsid: %s", strerror(st.err));
		goto fail;
	}
	if ((e->flags & AGENT_EXEC_TTY) && ioctl(stdio[0], TIOCSCTTY, 0) < 0) {
		st.err = errno;
		snprintf(st.message, sizeof st.message, "TIOCSCTTY: %s", strerror(st.err));
		goto fail;
	}
	for (int i = 0; i < 3; i++) {
		if (dup2(stdio[i], i) < 0) {
			st.err = errno;
			snprintf(st.message, sizeof st.message, "dup2: %s", strerror(st.err));
			goto fail;
		}
	}
	if (chdir(cwd) < 0) {
		st.err = errno;
		snprintf(st.message, sizeof st.message, "chdir \"%s\": %s", cwd, strerror(st.err));
		goto fail;
	}
	execve(path, e->argv, envp);
	st.err = errno;
	snprintf(st.message, sizeof st.message, "exec \"%s\": %s", e->argv[0], strerror(st.err));
fail:
	if (write(status_fd, &st, sizeof st) < 0) {
		/* The parent then sees EXEC_OK and an exit of 127. */
	}
	_exit(127);
}

/*
 * vfork: under TCG copying even PID 1's small address space costs more than
 * the exec itself (an exec of `true` went from 5.6 to 3.8 ms). The child
 * makes only system calls on its own stack before exec or _exit. Kept in
 * its own function so no caller's locals live across the vfork.
 */
static pid_t __attribute__((noinline))
session_spawn(const struct agent_exec *e, const char *path, char **envp,
    const int stdio[3], int status_fd)
{
	pid_t pid = vfork();

	if (pid == 0)
		session_child(e, path, envp, stdio, status_fd);
	return pid;
}

/*
 * Finds @file the way execvp would, but in the PATH of the command's own
 * environment @envp, before the vfork (the child must not allocate).
 * Returns a newly allocated path, or NULL with errno ENOENT or EACCES.
 */
static char *
session_which(const char *file, char **envp)
{
	const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	int err = ENOENT;

	if (strchr(file, '/') != NULL)
		return xstrdup(file);
	for (size_t i = 0; envp[i] != NULL; i++) {
		if (strncmp(envp[i], "PATH=", 5) == 0)
			path = envp[i] + 5;
	}
	for (const char *p = path; ; ) {
		const char *end = strchrnul(p, ':');
		char *cand = end == p ? xasprintf("./%s", file) :
		    xasprintf("%.*s/%s", (int)(end - p), p, file);
		struct stat st;

		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode)) {
			if (access(cand, X_OK) == 0)
				return cand;
			err = EACCES;
		}
		free(cand);
		if (*end == '\0')
			break;
		p = end + 1;
	}
	errno = err;
	return NULL;
}

static int
session_pipe(int fds[2])
{
	return pipe2(fds, O_CLOEXEC) < 0 ? -errno : 0;
}

static void
session_close_all(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
	}
}

/* Gives @s its credit and puts it in the table. */
static void
session_add(struct session *s)
{
	s->out_window = AGENT_WINDOW_SIZE;
	buf_init(&s->inq);
	if (nsessions == sessions_cap) {
		sessions_cap = sessions_cap ? sessions_cap * 2 : 8;
		sessions = xreallocarray(sessions, sessions_cap, sizeof *sessions);
	}
	sessions[nsessions++] = s;
}

int
session_exec(uint32_t chan, const struct agent_exec *e, char **cause)
{
	/* [0,1] exec status, [2,3] stdin, [4,5] stdout, [6,7] stderr: read ends even. */
	int fds[8] = { -1, -1, -1, -1, -1, -1, -1, -1 };
	int stdio[3], master = -1, slave = -1, tty = (e->flags & AGENT_EXEC_TTY) != 0;
	struct session *s;
	char **envp, *path;
	pid_t pid;
	int r;

	if (session_find(chan) != NULL) {
		*cause = xasprintf("channel %u is in use", chan);
		return -EEXIST;
	}
	if ((r = session_pipe(&fds[0])) < 0)
		goto fail;
	if (tty) {
		if ((r = session_pty(e->rows, e->cols, &master, &slave)) < 0)
			goto fail;
		stdio[0] = stdio[1] = stdio[2] = slave;
	} else {
		if ((r = session_pipe(&fds[2])) < 0 || (r = session_pipe(&fds[4])) < 0 ||
		    (r = session_pipe(&fds[6])) < 0)
			goto fail;
		stdio[0] = fds[2];
		stdio[1] = fds[5];
		stdio[2] = fds[7];
	}
	envp = session_env(e);
	path = session_which(e->argv[0], envp);
	if (path == NULL) {
		r = -errno;
		*cause = xasprintf("exec \"%s\": %s", e->argv[0], strerror(errno));
		session_env_free(envp);
		goto fail;
	}
	pid = session_spawn(e, path, envp, stdio, fds[1]);
	r = pid < 0 ? -errno : 0;
	session_env_free(envp);
	free(path);
	if (r < 0)
		goto fail;

	/* The parent keeps the status read end, stdin's write end, the
	 * output read ends (or the master); the child has the rest. */
	close(fds[1]);
	if (tty) {
		close(slave);
	} else {
		close(fds[2]);
		close(fds[5]);
		close(fds[7]);
		fcntl(fds[3], F_SETFL, O_NONBLOCK);
		fcntl(fds[4], F_SETFL, O_NONBLOCK);
		fcntl(fds[6], F_SETFL, O_NONBLOCK);
		/* Not fatal: the default size works, only slower. */
		fcntl(fds[4], F_SETPIPE_SZ, SESSION_PIPE_SIZE);
		fcntl(fds[6], F_SETPIPE_SZ, SESSION_PIPE_SIZE);
	}
	fcntl(fds[0], F_SETFL, O_NONBLOCK);

	s = xcalloc(1, sizeof *s);
	s->chan = chan;
	s->pid = pid;
	s->tty = tty;
	s->exec.fd = fds[0];
	s->in.fd = tty ? master : fds[3];
	s->out.fd = tty ? -1 : fds[4];
	s->err.fd = tty ? -1 : fds[6];
	session_add(s);
	return 0;

fail:
	if (*cause == NULL)
		*cause = xasprintf("cannot start \"%s\": %s", e->argv[0], strerror(-r));
	session_close_all(fds, 8);
	if (master >= 0)
		close(master);
	if (slave >= 0)
		close(slave);
	return r;
}

/* STDIN_EOF, once the bytes before it are written: a pipe is closed, a
 * connection's sending side shut (its reading side goes on). */
static void
session_end_input(struct session *s)
{
	if (s->conn) {
		if (!s->wr_shut && s->in.fd >= 0 && shutdown(s->in.fd, SHUT_WR) < 0 &&
		    errno != ENOTCONN)
			init_log("channel %u: shutdown: %s", s->chan, strerror(errno));
		s->wr_shut = 1;
	} else if (!s->tty) {
		session_close_fd(&s->in);
	}
}

/*
 * Where @host:@port is: an IPv4 or IPv6 address, or "localhost" (the
 * guest has no network card and no resolver, so a name is not looked up).
 */
static int
session_conn_addr(const char *host, uint16_t port, struct sockaddr_storage *ss,
    socklen_t *ret_len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	char h[AGENT_CONNECT_HOST_MAX + 1];
	size_t n = strlen(host);

	memset(ss, 0, sizeof *ss);
	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*ret_len = sizeof *in4;
		return 0;
	}
	/* "[::1]" as in a URL, or "::1". */
	if (n >= 2 && n < sizeof h && host[0] == '[' && host[n - 1] == ']') {
		memcpy(h, host + 1, n - 2);
		h[n - 2] = '\0';
		host = h;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*ret_len = sizeof *in6;
		return 0;
	}
	return -EHOSTUNREACH;
}

/* The non-blocking connect ended: EXEC_OK, or EXEC_ERR and the end. */
static void
session_conn_done(struct session *s)
{
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(s->in.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == EINPROGRESS || err == EALREADY)
		return;
	s->connecting = 0;
	if (err != 0) {
		char *msg = xasprintf("connect to %s: %s", s->conn_name, strerror(err));

		agent_send_exec_err(s->chan, err, msg);
		free(msg);
		session_free(s);
		return;
	}
	s->started = 1;
	agent_send_exec_ok(s->chan, 0);
	session_write_input(s);
}

int
session_connect(uint32_t chan, const char *host, uint16_t port, char **cause)
{
	struct sockaddr_storage ss;
	struct session *s;
	socklen_t len;
	int fd, r, one = 1;

	if (session_find(chan) != NULL) {
		*cause = xasprintf("channel %u is in use", chan);
		return -EEXIST;
	}
	if ((r = session_conn_addr(host, port, &ss, &len)) < 0) {
		*cause = xasprintf("cannot reach \"%s\": a sprite has no network, so give "
		    "localhost or an address", host);
		return r;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		*cause = xasprintf("socket: %s", strerror(-r));
		return r;
	}
	/* Small writes go at once: this end forwards what it is given. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	s = xcalloc(1, sizeof *s);
	s->chan = chan;
	s->conn = 1;
	s->reaped = 1;	/* nothing to wait for but the socket */
	s->exec.fd = s->out.fd = s->err.fd = -1;
	s->in.fd = fd;
	s->conn_name = xasprintf("%s port %u", host, port);
	if (connect(fd, (struct sockaddr *)&ss, len) == 0) {
		s->started = 1;
		agent_send_exec_ok(chan, 0);
	} else if (errno == EINPROGRESS || errno == EINTR) {
		s->connecting = 1;	/* the socket turns writable when it is done */
	} else {
		r = -errno;
		*cause = xasprintf("connect to %s: %s", s->conn_name, strerror(-r));
		close(fd);
		free(s->conn_name);
		free(s);
		return r;
	}
	session_add(s);
	return 0;
}

/* Writes queued stdin; the pipe is closed once it drains after STDIN_EOF. */
static void
session_write_input(struct session *s)
{
	ssize_t n;

	if (s->in.fd < 0)
		return;
	while (buf_used(&s->inq) > 0) {
		n = write(s->in.fd, buf_head(&s->inq), buf_used(&s->inq));
		if (n > 0) {
			buf_consume(&s->inq, (size_t)n);
			session_input_done(s, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		/* EPIPE: the child closed its stdin; nobody will read the rest. */
		session_drop_input(s);
		if (s->conn)
			s->in_eof = 1;	/* its reading side may still have bytes */
		else if (!s->tty)
			session_close_fd(&s->in);
		return;
	}
	if (s->in_eof)
		session_end_input(s);
}

/* Reads what the status pipe says: nothing (exec closed it) or why not. */
static void
session_read_exec(struct session *s)
{
	struct session_status st;
	ssize_t n;

	n = read(s->exec.fd, &st, sizeof st);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	session_close_fd(&s->exec);
	if (n == (ssize_t)sizeof st) {
		st.message[sizeof st.message - 1] = '\0';
		agent_send_exec_err(s->chan, st.err > 0 ? st.err : EIO, st.message);
		/* The child is reaped like any orphan. */
		session_free(s);
		return;
	}
	s->started = 1;
	agent_send_exec_ok(s->chan, s->pid);
	/* Input that came early, or an early STDIN_EOF. */
	session_write_input(s);
	session_check_end(s);
}

/* Sends one frame of output, within the credit; at end of file the
 * descriptor is closed. */
static void
session_read_output(struct session *s, struct session_fd *f, uint16_t type)
{
	size_t max = s->tty ? AGENT_CHUNK : SESSION_FRAME_MAX;
	size_t want = s->out_window < max ? (size_t)s->out_window : max;
	ssize_t n;

	if (want == 0)
		return;
	n = agent_send_output(type, s->chan, f->fd, want);
	if (n > 0) {
		s->out_window -= (size_t)n;
		return;
	}
	if (n == -EINTR || n == -EAGAIN)
		return;
	/* 0, or EIO from a pty master once every slave descriptor is closed. */
	if (n < 0 && !(s->tty && n == -EIO) && !s->conn)
		init_log("channel %u: read: %s", s->chan, strerror((int)-n));
	if (s->conn)
		s->conn_err = n < 0 ? (int)-n : 0;
	if (s->tty || s->conn) {
		s->out_done = 1;
		session_drop_input(s);
	}
	session_close_fd(f);
}

/* The connection's socket is ready: connected, or bytes to move. */
static void
session_conn_io(struct session *s, int events)
{
	if (s->connecting) {
		session_conn_done(s);
		return;
	}
	if (events & LOOP_HUP)
		s->hup = 1;
	if ((events & (LOOP_WRITE | LOOP_HUP)) && buf_used(&s->inq) > 0)
		session_write_input(s);
	if ((events & (LOOP_READ | LOOP_HUP)) && s->out_window > 0)
		session_read_output(s, &s->in, AGENT_STDOUT);
	session_check_end(s);
}

static void
session_io(struct loop *l, int fd, int events, void *arg)
{
	struct session *s = session_find((uint32_t)(uintptr_t)arg);

	if (s == NULL)
		return;
	if (fd == s->exec.fd) {
		session_read_exec(s);
		return;
	}
	if (s->conn) {
		session_conn_io(s, events);
		return;
	}
	/* A hang-up on stdin shows as an error on the next write. */
	if (fd == s->in.fd && (events & (LOOP_WRITE | LOOP_HUP)) && buf_used(&s->inq) > 0)
		session_write_input(s);
	if (s->tty && fd == s->in.fd) {
		if (events & LOOP_READ)
			session_read_output(s, &s->in, AGENT_STDOUT);
		else if (events & LOOP_HUP)
			session_drop_input(s);	/* the slave side is gone */
	} else if (fd == s->out.fd) {
		session_read_output(s, &s->out, AGENT_STDOUT);
	} else if (fd == s->err.fd) {
		session_read_output(s, &s->err, AGENT_STDERR);
	}
	session_check_end(s);
}

/* Watches @f for @want (0: not at all). */
static void
session_watch(struct session *s, struct session_fd *f, int want)
{
	int r;

	if (f->fd < 0 || f->mask == want)
		return;
	if (want == 0) {
		loop_del_fd(session_loop, f->fd);
		r = 0;
	} else if (f->mask == 0) {
		r = loop_add_fd(session_loop, f->fd, want, session_io, (void *)(uintptr_t)s->chan);
	} else {
		r = loop_set_fd(session_loop, f->fd, want);
	}
	if (r < 0) {
		init_log("channel %u: watch fd %d: %s", s->chan, f->fd, strerror(-r));
		return;
	}
	f->mask = want;
}

void
session_update_all(int out_full)
{
	for (size_t i = 0; i < nsessions; i++) {
		struct session *s = sessions[i];
		int rd = out_full || s->out_window == 0 ? 0 : LOOP_READ;
		int wr = buf_used(&s->inq) > 0 ? LOOP_WRITE : 0;

		session_watch(s, &s->exec, LOOP_READ);
		if (s->conn && s->connecting) {
			session_watch(s, &s->in, LOOP_WRITE);
			continue;
		}
		if (!s->started)
			continue;
		if (s->conn) {
			/* A hung-up socket polls ready without end: watch it only
			 * once its last bytes and end may be read. */
			if (s->out_done || (s->hup && !rd))
				session_watch(s, &s->in, 0);
			else
				session_watch(s, &s->in, rd | (s->hup ? 0 : wr));
		} else if (s->tty) {
			session_watch(s, &s->in, (s->out_done ? 0 : rd) | wr);
		} else {
			session_watch(s, &s->in, wr);
			session_watch(s, &s->out, rd);
			session_watch(s, &s->err, rd);
		}
	}
}

void
session_stdin(uint32_t chan, const void *data, size_t len)
{
	struct session *s = session_find(chan);

	/* No session: it ended, and so does the host's once EXIT arrives. */
	if (s == NULL || s->in_broken || len == 0)
		return;
	if (len > AGENT_WINDOW_SIZE - s->in_unreturned) {
		init_log("channel %u: %zu bytes of stdin over the host's credit of %zu; "
		    "killing the session", chan, len, AGENT_WINDOW_SIZE - s->in_unreturned);
		s->in_broken = 1;
		buf_reset(&s->inq);
		if (!s->tty && !s->conn)
			session_close_fd(&s->in);
		session_signal(chan, SIGKILL);
		return;
	}
	s->in_unreturned += len;
	if (s->in.fd < 0 || s->in_eof || ((s->tty || s->conn) && s->out_done)) {
		session_input_done(s, len);	/* nobody will read it */
		return;
	}
	buf_add(&s->inq, data, len);
	if (s->started)
		session_write_input(s);
}

void
session_window(uint32_t chan, uint32_t bytes)
{
	struct session *s = session_find(chan);

	if (s != NULL)
		s->out_window += bytes;
}

void
session_stdin_eof(uint32_t chan)
{
	struct session *s = session_find(chan);

	/* A pty has no end of input to give; the host sends ^D if it means one. */
	if (s == NULL || s->tty || s->in_eof)
		return;
	s->in_eof = 1;
	if (s->started && buf_used(&s->inq) == 0)
		session_end_input(s);
}

void
session_signal(uint32_t chan, int sig)
{
	struct session *s = session_find(chan);

	if (s == NULL || sig <= 0 || sig >= NSIG)
		return;
	if (s->conn) {	/* no process: the connection is dropped */
		if (!s->out_done) {
			s->out_done = 1;
			s->conn_sig = sig;
			session_drop_input(s);
			session_close_fd(&s->in);
		}
		s->started = 1;	/* a connect under way ends too */
		s->connecting = 0;
		session_check_end(s);
		return;
	}
	/* Before the child's setsid there is no group yet. */
	if (kill(-s->pid, sig) < 0 && errno == ESRCH && !s->reaped)
		kill(s->pid, sig);
}

void
session_resize(uint32_t chan, unsigned rows, unsigned cols)
{
	struct session *s = session_find(chan);
	struct winsize ws = { 0 };

	if (s == NULL || !s->tty || s->in.fd < 0)
		return;
	ws.ws_row = rows ? rows : SESSION_ROWS;
	ws.ws_col = cols ? cols : SESSION_COLS;
	/* The kernel sends SIGWINCH to the terminal's foreground group. */
	if (ioctl(s->in.fd, TIOCSWINSZ, &ws) < 0)
		init_log("channel %u: resize: %s", chan, strerror(errno));
}

void
session_reaped(pid_t pid, int status)
{
	for (size_t i = 0; i < nsessions; i++) {
		struct session *s = sessions[i];

		if (s->pid == pid && !s->reaped) {
			s->reaped = 1;
			s->status = status;
			session_check_end(s);
			return;
		}
	}
}

void
session_kill_all(void)
{
	while (nsessions > 0) {
		struct session *s = sessions[nsessions - 1];

		/* A connection has no process (pid 0 would be our own group). */
		if (!s->conn && kill(-s->pid, SIGKILL) < 0 && errno == ESRCH && !s->reaped)
			kill(s->pid, SIGKILL);
		session_free(s);
	}
}
