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

struct loop;
struct agent;

struct agent_callbacks {
	/* The guest said HELLO (again after a host reconnect). */
	void (*hello)(struct agent *a, const char *hostname, void *arg);
	/* The channel closed or broke; every session was told first. */
	void (*closed)(struct agent *a, const char *why, void *arg);
};

struct agent_session_callbacks {
	/* EXEC_OK (err 0) or EXEC_ERR (negative errno and the guest's message). */
	void (*started)(void *arg, int err, const char *message);
	/* Output of stream 1 (stdout, or the tty) or 2 (stderr). */
	void (*output)(void *arg, int stream, const uint8_t *data, size_t len);
	/* The process ended: exit code, or signal (then code is 128 + signal). */
	void (*exited)(void *arg, int code, int sig);
	/* The channel went away before the process ended. */
	void (*lost)(void *arg, const char *why);
};

/* Takes ownership of the connected @fd and sends HELLO. */
struct agent *agent_new(struct loop *l, int fd, const struct agent_callbacks *cb, void *arg);
/* Closes the channel; sessions are told lost. */
void agent_free(struct agent *a);
int agent_ready(const struct agent *a);	/* the guest's HELLO has arrived */

/* Starts @e in the guest. Returns 0 with the session's channel in *ret_chan. */
int agent_exec(struct agent *a, const struct agent_exec *e,
    const struct agent_session_callbacks *cb, void *arg, uint32_t *ret_chan);
int agent_stdin(struct agent *a, uint32_t chan, const void *data, size_t len);
int agent_stdin_eof(struct agent *a, uint32_t chan);
int agent_signal(struct agent *a, uint32_t chan, int sig);
int agent_resize(struct agent *a, uint32_t chan, unsigned rows, unsigned cols);
/* Drops a session's callbacks (the client left); the process is killed. */
void agent_forget(struct agent *a, uint32_t chan);

/* Round trip: @fn gets the elapsed microseconds, or err < 0. */
typedef void (*agent_ping_fn)(struct agent *a, int err, uint64_t usec, void *arg);
int agent_ping(struct agent *a, agent_ping_fn fn, void *arg);
/* Asks the guest to flush its writes to disk; @fn as for a ping. */
int agent_sync(struct agent *a, agent_ping_fn fn, void *arg);
/* Asks the guest to sync and power off. */
int agent_shutdown(struct agent *a);
/* Bytes queued toward the guest (for back-pressure on stdin). */
size_t agent_pending(const struct agent *a);

#endif
