/*
 * agent: the guest end of the agent protocol on the virtio-serial port
 * org.sprig.agent. It owns the port, the bytes read from the host and not
 * yet handled, and the queue of frames toward the host; it decodes frames
 * and hands the session ones to session.c. Every frame is handled as it
 * arrives (per-session credit bounds what a session can be sent), so one
 * session's child not reading its stdin never stops the port being read.
 *
 * The host end is QEMU's chardev socket, which the daemon may leave and
 * join again. While no host is connected the port polls as POLLHUP without
 * end, so the port leaves the loop and a timer looks again every
 * AGENT_RETRY_MS.
 *
 * Each host gets a clean stream: whole frames, starting with the guest's
 * HELLO, and nothing of an earlier host's sessions (its channel numbers
 * may be reused). So when a host is found (again), both queues are
 * emptied and the sessions killed (its HELLO would kill them anyway)
 * before the agent says HELLO. A host HELLO likewise drops every frame
 * not yet begun; the rest of a half-written one still goes, since its
 * start went to this host. A host should wait for the guest's HELLO before
 * its first EXEC: the guest may see a new host's first bytes before it
 * sees the old host leave, and then starts that new host clean as well.
 *
 * Output is the bulk of what goes to the host, and under TCG every system
 * call and every byte a guest copies costs. A session's output is read
 * straight into the queue, up to 256 KiB as one frame, and the queue goes
 * out in writes of the most virtio_console takes at once, several to a
 * system call. (Moving a pipe to the port by splice saved little more, and
 * this kernel's virtio_console hands QEMU zero-sized buffers when a splice
 * leaves data in the pipe, which QEMU takes for a broken device.)
 */
#include "agent.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/agent_proto.h"
#include "common/buf.h"
#include "common/loop.h"
#include "common/xmalloc.h"
#include "files.h"
#include "identity.h"
#include "request.h"
#include "session.h"
#include "sprig-init.h"

#define AGENT_PORTS_DIR		"/sys/class/virtio-ports"
/* How often to look for the port, or for a host on it. */
#define AGENT_RETRY_MS		100
/* After this long without the port, say so and look less often. */
#define AGENT_FIND_SLOW_MS	30000
#define AGENT_FIND_SLOW_RETRY_MS 2000
/* Output from sessions stops being read above this many queued bytes. */
#define AGENT_OUT_HIGH		(4u << 20)
/* Room for the largest frame; the port is not read beyond it. */
#define AGENT_IN_MAX		(AGENT_HDR_SIZE + AGENT_MAX_PAYLOAD)
#define AGENT_READ_SIZE		65536
/* An empty queue bigger than this gives its memory back. */
#define AGENT_BUF_KEEP		(256u << 10)
/* virtio_console takes at most this much per write(); a writev of several
 * such pieces costs one system call. */
#define AGENT_PORT_WRITE_MAX	32768
#define AGENT_FLUSH_IOV		16

static struct {
	struct loop	*loop;
	int		 fd;		/* the port, -1 until found */
	int		 up;		/* a host is there and fd is in the loop */
	int		 mask;		/* what fd is watched for while up */
	size_t		 head_left;	/* bytes of @out's first frame still to write,
					 * once part of it is written; 0 at a frame start */
	uint64_t	 timer;
	uint64_t	 since;		/* when the search for the port began */
	int		 slow;		/* the port is late: look less often */
	struct buf	 in;
	struct buf	 out;
} ag = { .fd = -1 };

static void agent_tick(struct loop *l, uint64_t id, void *arg);

void
agent_send(uint16_t type, uint32_t chan, const void *payload, size_t len)
{
	agent_frame_add(&ag.out, type, chan, payload, len);
}

ssize_t
agent_send_output(uint16_t type, uint32_t chan, int fd, size_t max)
{
	size_t off, got = 0;
	ssize_t n;

	/* Read into the queue, as much as there is (a pty gives a few KiB a
	 * read): one frame for it all. */
	off = agent_frame_begin(&ag.out, type, chan);
	while (got < max) {
		n = read(fd, buf_reserve(&ag.out, max - got), max - got);
		if (n > 0) {
			buf_commit(&ag.out, (size_t)n);
			got += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (got > 0)
			break;	/* the end or the error shows on the next read */
		ag.out.len -= AGENT_HDR_SIZE;	/* no frame after all */
		return n == 0 ? 0 : -errno;
	}
	agent_frame_end(&ag.out, off);
	return (ssize_t)got;
}

void
agent_send_exec_ok(uint32_t chan, int pid)
{
	size_t off = agent_frame_begin(&ag.out, AGENT_EXEC_OK, chan);

	buf_add_u32(&ag.out, (uint32_t)pid);
	agent_frame_end(&ag.out, off);
}

void
agent_send_exec_err(uint32_t chan, int err, const char *message)
{
	size_t off = agent_frame_begin(&ag.out, AGENT_EXEC_ERR, chan);

	buf_add_u32(&ag.out, (uint32_t)err);
	buf_add_str(&ag.out, message);
	agent_frame_end(&ag.out, off);
}

void
agent_send_stdin_window(uint32_t chan, uint32_t bytes)
{
	agent_window_add(&ag.out, AGENT_STDIN_WINDOW, chan, bytes);
}

void
agent_send_exit(uint32_t chan, int code, int sig)
{
	size_t off = agent_frame_begin(&ag.out, AGENT_EXIT, chan);

	buf_add_u32(&ag.out, (uint32_t)code);
	buf_add_u32(&ag.out, (uint32_t)sig);
	agent_frame_end(&ag.out, off);
}

static void
agent_send_hello(void)
{
	char name[HOST_NAME_MAX + 1] = "";
	size_t off;

	if (gethostname(name, sizeof name) < 0)
		name[0] = '\0';
	name[sizeof name - 1] = '\0';
	off = agent_frame_begin(&ag.out, AGENT_HELLO, 0);
	buf_add_u32(&ag.out, AGENT_VERSION);
	buf_add_str(&ag.out, name);
	agent_frame_end(&ag.out, off);
}

static void
agent_retry(uint64_t ms)
{
	loop_del_timer(ag.loop, ag.timer);
	ag.timer = loop_add_timer(ag.loop, ms, agent_tick, NULL);
}

/* Writing @n bytes of @out: keeps count of where its frames start. */
static void
agent_out_consume(size_t n)
{
	struct agent_hdr h;
	size_t done = 0, k;

	while (done < n) {
		if (ag.head_left == 0) {
			/* A frame starts here; @out holds whole frames of ours. */
			if (agent_hdr_decode(buf_head(&ag.out) + done,
			    buf_used(&ag.out) - done, &h) < 0)
				break;
			ag.head_left = AGENT_HDR_SIZE + h.len;
		}
		k = n - done < ag.head_left ? n - done : ag.head_left;
		ag.head_left -= k;
		done += k;
	}
	buf_consume(&ag.out, n);
}

/* Drops every frame not yet begun (the rest of a begun one must follow). */
static void
agent_out_drop_unsent(void)
{
	ag.out.len = ag.out.off + ag.head_left;
	if (ag.head_left == 0)
		buf_reset(&ag.out);
}

/* The host left: forget what was in flight and wait for the next one. */
static void
agent_down(const char *why)
{
	init_log("host disconnected (%s)", why);
	loop_del_fd(ag.loop, ag.fd);
	ag.up = 0;
	ag.mask = 0;
	ag.head_left = 0;
	buf_reset(&ag.in);
	buf_reset(&ag.out);
	files_kill_all();
	request_host_gone();
	agent_retry(AGENT_RETRY_MS);
}

int
agent_host_up(void)
{
	return ag.up;
}

/* A host is there, maybe a new one: start its stream clean, with a HELLO. */
static void
agent_greet(void)
{
	ag.head_left = 0;
	buf_reset(&ag.in);
	buf_reset(&ag.out);
	session_kill_all();
	files_kill_all();
	request_host_gone();
	agent_send_hello();
}

/* Sets the clock, ends the previous host's sessions and answers. */
static void
agent_host_hello(uint32_t version, uint64_t ms)
{
	struct timespec ts;

	if (version != AGENT_VERSION)
		init_log("host speaks version %u, this agent %u", version, AGENT_VERSION);
	if (ms != 0) {
		ts.tv_sec = (time_t)(ms / 1000);
		ts.tv_nsec = (long)(ms % 1000) * 1000000;
		if (clock_settime(CLOCK_REALTIME, &ts) < 0)
			init_log("set the clock: %s", strerror(errno));
	}
	/* What is queued was for the previous host and its sessions, killed here. */
	agent_out_drop_unsent();
	session_kill_all();
	files_kill_all();
	request_host_gone();
	agent_send_hello();
}

static void
agent_exec(uint32_t chan, const uint8_t *p, size_t len)
{
	struct agent_exec e;
	char *cause = NULL;
	int r;

	if (chan == 0) {
		agent_send_exec_err(chan, EINVAL, "exec on channel 0");
		return;
	}
	/* The frame's length is sound, so only this frame is lost. */
	if (agent_exec_decode(p, len, &e) < 0) {
		init_log("malformed exec frame on channel %u (%zu bytes)", chan, len);
		agent_send_exec_err(chan, EPROTO, "malformed exec request");
		return;
	}
	r = session_exec(chan, &e, &cause);
	if (r < 0)
		agent_send_exec_err(chan, -r, cause ? cause : strerror(-r));
	free(cause);
	agent_exec_done(&e);
}

static void
agent_connect(uint32_t chan, const uint8_t *p, size_t len)
{
	char *host = NULL, *cause = NULL;
	uint16_t port;
	int r;

	if (chan == 0) {
		agent_send_exec_err(chan, EINVAL, "connect on channel 0");
		return;
	}
	if (agent_connect_decode(p, len, &host, &port) < 0) {
		agent_send_exec_err(chan, EPROTO, "malformed connect request");
		return;
	}
	r = session_connect(chan, host, port, &cause);
	if (r < 0)
		agent_send_exec_err(chan, -r, cause ? cause : strerror(-r));
	free(cause);
	free(host);
}

/* Handles one frame. */
static void
agent_frame(const struct agent_hdr *h, const uint8_t *p)
{
	struct rd r;
	uint32_t version, sig, bytes;
	uint64_t ms;
	uint16_t rows, cols;

	/* A file request's channel carries the same frames as a session's. */
	if (files_frame(h->type, h->chan, p, h->len))
		return;
	rd_init(&r, p, h->len);
	/* Fixed payloads may grow at the end in a newer host: only too short is wrong. */
	switch (h->type) {
	case AGENT_HELLO:
		version = rd_u32(&r);
		ms = rd_u64(&r);
		if (r.err)
			break;
		agent_host_hello(version, ms);
		return;
	case AGENT_PING:
		if (h->len < 8)
			break;
		agent_send(AGENT_PONG, h->chan, p, 8);
		return;
	case AGENT_SYNC:
		/* Before a disk checkpoint: what the guest wrote must be on the
		 * disk the host freezes. sync() blocks the agent for its
		 * duration, which is the point. */
		if (h->len < 8)
			break;
		sync();
		agent_send(AGENT_SYNC_DONE, h->chan, p, 8);
		return;
	case AGENT_EXEC:
		agent_exec(h->chan, p, h->len);
		return;
	case AGENT_FS:
		files_request(h->chan, p, h->len);
		return;
	case AGENT_CONNECT:
		agent_connect(h->chan, p, h->len);
		return;
	case AGENT_STDIN:
		session_stdin(h->chan, p, h->len);
		return;
	case AGENT_STDIN_EOF:
		session_stdin_eof(h->chan);
		return;
	case AGENT_SIGNAL:
		sig = rd_u32(&r);
		if (r.err)
			break;
		session_signal(h->chan, (int)sig);
		return;
	case AGENT_WINDOW:
		if (agent_window_decode(p, h->len, &bytes) < 0)
			break;
		session_window(h->chan, bytes);
		return;
	case AGENT_RESIZE:
		rows = rd_u16(&r);
		cols = rd_u16(&r);
		if (r.err)
			break;
		session_resize(h->chan, rows, cols);
		return;
	case AGENT_REPLY:
		request_reply(p, h->len);
		return;
	case AGENT_IDENTITY:
		identity_apply(p, h->len);
		return;
	case AGENT_SHUTDOWN:
		init_log("the host asked to power off");
		session_kill_all();
		init_poweroff();
	default:
		return;	/* a newer host: ignore what we do not know */
	}
	init_log("malformed %s frame (%u bytes)", agent_type_name(h->type), h->len);
}

/* Handles the whole frames in @in. */
static void
agent_process(void)
{
	struct agent_hdr h;
	int r;

	while (ag.up) {
		r = agent_hdr_decode(buf_head(&ag.in), buf_used(&ag.in), &h);
		if (r == -EAGAIN)
			return;
		if (r < 0) {
			init_log("malformed frame header from the host: dropped %zu bytes",
			    buf_used(&ag.in));
			buf_reset(&ag.in);
			return;
		}
		if (buf_used(&ag.in) - AGENT_HDR_SIZE < h.len)
			return;
		agent_frame(&h, buf_head(&ag.in) + AGENT_HDR_SIZE);
		buf_consume(&ag.in, AGENT_HDR_SIZE + h.len);
	}
}

static void
agent_read(void)
{
	ssize_t n;

	while (ag.up && buf_used(&ag.in) < AGENT_IN_MAX) {
		n = read(ag.fd, buf_reserve(&ag.in, AGENT_READ_SIZE), AGENT_READ_SIZE);
		if (n > 0) {
			buf_commit(&ag.in, (size_t)n);
			agent_process();
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		/* The port reads end-of-file while no host is connected. */
		agent_down(n == 0 ? "end of file" : strerror(errno));
		return;
	}
}

static void
agent_flush(void)
{
	struct iovec iov[AGENT_FLUSH_IOV];
	size_t off, len;
	ssize_t n;
	int k;

	while (ag.up && buf_used(&ag.out) > 0) {
		for (k = 0, off = 0; k < AGENT_FLUSH_IOV && off < buf_used(&ag.out); k++) {
			len = buf_used(&ag.out) - off;
			if (len > AGENT_PORT_WRITE_MAX)
				len = AGENT_PORT_WRITE_MAX;
			iov[k].iov_base = buf_head(&ag.out) + off;
			iov[k].iov_len = len;
			off += len;
		}
		n = writev(ag.fd, iov, k);
		if (n > 0) {
			agent_out_consume((size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		agent_down(n == 0 ? "short write" : strerror(errno));
		return;
	}
}

/* Whether no host is on the port right now. */
static int
agent_host_gone(void)
{
	struct pollfd pfd = { .fd = ag.fd, .events = POLLIN };

	return poll(&pfd, 1, 0) < 0 || (pfd.revents & (POLLHUP | POLLERR | POLLNVAL));
}

static void
agent_io(struct loop *l, int fd, int events, void *arg)
{
	/* The host left, and may be back already (a restarted daemon). */
	if (events & LOOP_HUP) {
		if (agent_host_gone()) {
			/* Take what it sent before it left (a SHUTDOWN, say). */
			agent_read();
			if (ag.up)
				agent_down("hang-up");
			return;
		}
		init_log("host reconnected");
		agent_greet();
	}
	if (events & LOOP_WRITE)
		agent_flush();
	if (events & LOOP_READ)
		agent_read();
}

/* Serves the port if a host is on it; else looks again later. */
static void
agent_check_host(void)
{
	int r;

	if (agent_host_gone()) {
		agent_retry(AGENT_RETRY_MS);
		return;
	}
	r = loop_add_fd(ag.loop, ag.fd, LOOP_READ, agent_io, NULL);
	if (r < 0) {
		init_log("watch the agent port: %s", strerror(-r));
		agent_retry(AGENT_RETRY_MS);
		return;
	}
	init_log("host connected");
	ag.up = 1;
	ag.mask = LOOP_READ;
	agent_greet();
}

/* Finds /dev/vportNpM named AGENT_PORT_NAME (there is no udev to name it). */
static int
agent_find_port(char *path, size_t size)
{
	char name_path[PATH_MAX], name[64];
	struct dirent *de;
	DIR *d;
	ssize_t n;
	int fd, found = 0;

	d = opendir(AGENT_PORTS_DIR);
	if (d == NULL)
		return 0;
	while (!found && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(name_path, sizeof name_path, "%s/%s/name", AGENT_PORTS_DIR, de->d_name);
		fd = open(name_path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, name, sizeof name - 1);
		close(fd);
		if (n <= 0)
			continue;
		name[n] = '\0';
		name[strcspn(name, "\n")] = '\0';
		if (strcmp(name, AGENT_PORT_NAME) == 0) {
			snprintf(path, size, "/dev/%s", de->d_name);
			found = 1;
		}
	}
	closedir(d);
	return found;
}

static void
agent_open(void)
{
	char path[PATH_MAX];
	int fd;

	if (!agent_find_port(path, sizeof path)) {
		if (!ag.slow && loop_now_ms() - ag.since >= AGENT_FIND_SLOW_MS) {
			init_log("no virtio port named %s after %d s; still looking",
			    AGENT_PORT_NAME, AGENT_FIND_SLOW_MS / 1000);
			ag.slow = 1;
		}
		agent_retry(ag.slow ? AGENT_FIND_SLOW_RETRY_MS : AGENT_RETRY_MS);
		return;
	}
	fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		/* ENOENT: the node is not in /dev yet. */
		if (errno != ENOENT)
			init_log("open %s: %s", path, strerror(errno));
		agent_retry(errno == ENOENT ? AGENT_RETRY_MS : AGENT_FIND_SLOW_RETRY_MS);
		return;
	}
	init_log("agent on %s", path);
	ag.fd = fd;
	agent_check_host();
}

static void
agent_tick(struct loop *l, uint64_t id, void *arg)
{
	ag.timer = 0;
	if (ag.fd < 0)
		agent_open();
	else if (!ag.up)
		agent_check_host();
}

void
agent_start(struct loop *l)
{
	ag.loop = l;
	ag.since = loop_now_ms();
	buf_init(&ag.in);
	buf_init(&ag.out);
	agent_open();
}

/* A burst of output must not keep PID 1 megabytes bigger for good. */
static void
agent_trim(struct buf *b)
{
	if (buf_used(b) == 0 && b->cap > AGENT_BUF_KEEP) {
		buf_done(b);
		buf_init(b);
	}
}

void
agent_before_sleep(struct loop *l, void *arg)
{
	int mask;

	if (ag.up)
		files_pump(buf_used(&ag.out) > AGENT_OUT_HIGH);
	agent_flush();
	agent_trim(&ag.in);
	agent_trim(&ag.out);
	session_update_all(buf_used(&ag.out) > AGENT_OUT_HIGH);
	if (!ag.up)
		return;
	mask = 0;
	if (buf_used(&ag.in) < AGENT_IN_MAX)
		mask |= LOOP_READ;
	if (buf_used(&ag.out) > 0)
		mask |= LOOP_WRITE;
	if (mask != ag.mask && loop_set_fd(ag.loop, ag.fd, mask) == 0)
		ag.mask = mask;
}
