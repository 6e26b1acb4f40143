/*
 * agent: the guest end of the agent protocol (common/agent_proto.h) on the
 * virtio-serial port org.sprig.agent.
 */
#ifndef SPRIG_GUEST_AGENT_H
#define SPRIG_GUEST_AGENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct loop;

/* Looks for the port (it may appear late) and serves it from then on. */
void agent_start(struct loop *l);

/* Whether a host is connected to the port. */
int agent_host_up(void);

/* Queue frames toward the host; they are dropped if the host goes away first. */
void agent_send(uint16_t type, uint32_t chan, const void *payload, size_t len);
void agent_send_exec_ok(uint32_t chan, int pid);
/* @err is a positive errno. */
void agent_send_exec_err(uint32_t chan, int err, const char *message);
void agent_send_exit(uint32_t chan, int code, int sig);
/*
 * Reads up to @max bytes of a session's output from @fd straight into the
 * queue, as one STDOUT/STDERR frame. Returns the bytes queued, 0 at end of
 * file, or -errno from the read.
 */
ssize_t agent_send_output(uint16_t type, uint32_t chan, int fd, size_t max);
/* Gives the host @bytes more stdin credit on @chan. */
void agent_send_stdin_window(uint32_t chan, uint32_t bytes);

/*
 * Once per loop turn, before the loop sleeps: writes to the host, and sets
 * what the port and the sessions' descriptors are watched for (output is not
 * read while the queue toward the host is full, nor for a session without
 * output credit).
 */
void agent_before_sleep(struct loop *l, void *arg);

#endif
