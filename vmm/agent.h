/*
 * agent: the host side of the agent protocol (common/agent_proto.h) on one
 * connected channel to a guest's sprig-init. It sends HELLO, waits for the
 * guest's, and then multiplexes exec sessions over the channel.
 *
 * Sessions are identified by the channel number the host picks. A session's
 * callbacks run until its EXIT, its failure to start, agent_forget, or the
 * channel's end (lost); after any of those the session is gone.
 */
#ifndef SPRIG_AGENT_H
#define SPRIG_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/agent_proto.h"

/* Stdin a session whose owner has no stdin_room callback may have waiting:
 * far more than a command normally lags behind its input, far less than a
 * client that pours /dev/zero into a command that never reads would take. */
#define AGENT_STDIN_BACKLOG_MAX	(256u << 20)

struct loop;
struct agent;

struct agent_callbacks {
	/* The guest said HELLO (again after a host reconnect). */
	void (*hello)(struct agent *a, const char *hostname, void *arg);
	/* The channel closed or broke; every session was told first. */
	void (*closed)(struct agent *a, const char *why, void *arg);
	/* Optional: a `sprite-env` command line from the guest (@argv
	 * valid during the call); answer it once with agent_reply. */
	void (*request)(struct agent *a, uint32_t id, int argc, char **argv, void *arg);
};

/* Arguments a request may carry. */
#define AGENT_REQUEST_MAX_ARGS	64

/*
 * Flow control (see common/agent_proto.h): each session may have
 * AGENT_WINDOW_SIZE bytes of output delivered and not yet consumed, and as
 * many bytes of stdin sent and not yet written to the process.
 */
struct agent_session_callbacks {
	/* EXEC_OK (err 0) or EXEC_ERR (negative errno and the guest's message). */
	void (*started)(void *arg, int err, const char *message);
	/* Output of stream 1 (stdout, or the tty) or 2 (stderr). Unless
	 * manual_window, the bytes count as consumed once this returns. */
	void (*output)(void *arg, int stream, const uint8_t *data, size_t len);
	/* The process ended: exit code, or signal (then code is 128 + signal).
	 * It comes after all the process's output was given to output. */
	void (*exited)(void *arg, int code, int sig);
	/* The channel went away before the process ended. */
	void (*lost)(void *arg, const char *why);
	/* Optional: agent_stdin_room grew after it was 0 or after agent_stdin
	 * refused with -EAGAIN. Setting it also chooses how agent_stdin
	 * behaves when the room is short (see there). */
	void (*stdin_room)(void *arg);
	/* 0: output counts as consumed when output returns. 1: the owner calls
	 * agent_consumed as it gets rid of output (say, once its WebSocket has
	 * written it), and the guest stops sending while AGENT_WINDOW_SIZE
	 * bytes are not consumed. */
	int manual_window;
	/* A file request's end (agent_fs): @err 0 or a negative errno, with
	 * the guest's message (on success the path it resolved) and value. */
	void (*fs_done)(void *arg, int err, const char *message, uint64_t value);
};

/* Takes ownership of the connected @fd and sends HELLO. */
struct agent *agent_new(struct loop *l, int fd, const struct agent_callbacks *cb, void *arg);
/* Closes the channel; sessions are told lost. */
void agent_free(struct agent *a);
int agent_ready(const struct agent *a);	/* the guest's HELLO has arrived */
/* The protocol version the guest's HELLO gave (0 before it). */
uint32_t agent_version(const struct agent *a);

/* Starts @e in the guest. Returns 0 with the session's channel in *ret_chan. */
int agent_exec(struct agent *a, const struct agent_exec *e,
    const struct agent_session_callbacks *cb, void *arg, uint32_t *ret_chan);
/*
 * Starts file request @f in the guest: a session whose callbacks are
 * output (a read's bytes, a list's records), stdin_room (a write's bytes go
 * with agent_stdin and end with agent_stdin_eof), lost and fs_done; it is
 * cancelled with agent_forget. Returns 0 with its channel in *ret_chan,
 * -ENOTCONN, or -ENOTSUP for a guest too old to serve files.
 */
int agent_fs(struct agent *a, const struct agent_fs *f,
    const struct agent_session_callbacks *cb, void *arg, uint32_t *ret_chan);
/*
 * Opens a forwarded connection from the guest to @host:@port: a session
 * whose started says connected (or why not: -ECONNREFUSED...), whose
 * output is the bytes from the far end and whose stdin goes to it;
 * agent_stdin_eof half-closes it, exited (code 0 or the errno that broke
 * it) is its end, agent_forget drops it. Returns 0 with its channel in
 * *ret_chan, -ENOTCONN, or -ENOTSUP for a guest too old to connect.
 */
int agent_connect(struct agent *a, const char *host, uint16_t port,
    const struct agent_session_callbacks *cb, void *arg, uint32_t *ret_chan);
/*
 * Sends @len bytes to the process's stdin. Returns 0, -ENOENT for a session
 * that is not there (any more), or -ENOTCONN once the channel is gone.
 *
 * At most agent_stdin_room bytes may go at once. An owner with a stdin_room
 * callback gets -EAGAIN, and nothing is sent, when @len is more than that:
 * it should send what fits, keep the rest, stop reading its own source and
 * go on when stdin_room is called. For an owner without one (which cannot be
 * told when there is room again) what does not fit waits on the host, in
 * order, up to AGENT_STDIN_BACKLOG_MAX bytes a session; beyond that the
 * bytes are refused with -ENOBUFS and the process is killed, since input
 * with a hole in it is worse than none.
 */
int agent_stdin(struct agent *a, uint32_t chan, const void *data, size_t len);
/* Stdin bytes that agent_stdin takes on @chan now; 0 for an unknown session. */
size_t agent_stdin_room(const struct agent *a, uint32_t chan);
/* Ends stdin; with bytes still waiting on the host, after them. */
int agent_stdin_eof(struct agent *a, uint32_t chan);
/*
 * With manual_window: the owner is rid of @n more bytes of @chan's output,
 * so the guest may send as many more (told in batches of AGENT_WINDOW_BATCH).
 * More than was delivered counts as all of it. Returns 0, -ENOENT or
 * -ENOTCONN as agent_stdin.
 */
int agent_consumed(struct agent *a, uint32_t chan, size_t n);
int agent_signal(struct agent *a, uint32_t chan, int sig);
int agent_resize(struct agent *a, uint32_t chan, unsigned rows, unsigned cols);
/* Drops a session's callbacks (the client left); the process is killed and
 * the guest may send the rest of its output unhindered, which is dropped. */
void agent_forget(struct agent *a, uint32_t chan);

/* Round trip: @fn gets the elapsed microseconds, or err < 0. */
typedef void (*agent_ping_fn)(struct agent *a, int err, uint64_t usec, void *arg);
int agent_ping(struct agent *a, agent_ping_fn fn, void *arg);
/* Asks the guest to flush its writes to disk; @fn as for a ping. */
int agent_sync(struct agent *a, agent_ping_fn fn, void *arg);
/* Answers request @id: @status is the command's exit status, @text what it
 * prints. Returns 0, or -ENOTCONN once the channel is gone. */
int agent_reply(struct agent *a, uint32_t id, int status, const char *text);
/* Bytes of randomness agent_identity gives the guest's pool. */
#define AGENT_SEED_SIZE		64
/* Tells the guest its hostname and machine-id and adds fresh randomness to
 * its pool (after every boot and resume). Returns 0, -ENOTCONN or -EIO. */
int agent_identity(struct agent *a, const char *hostname, const char *machine_id);
/* Asks the guest to sync and power off. */
int agent_shutdown(struct agent *a);
/* Bytes queued toward the guest and not yet written to the channel. */
size_t agent_pending(const struct agent *a);

#endif
