/*
 * session: the processes the host starts with EXEC, one per channel.
 */
#ifndef SPRIG_GUEST_SESSION_H
#define SPRIG_GUEST_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct loop;
struct agent_exec;

void session_init(struct loop *l);

/*
 * Starts @e on @chan. EXEC_OK or EXEC_ERR follows once the child has called
 * exec or failed to. Returns 0, or a negative errno and an allocated
 * *cause to send as EXEC_ERR (the caller frees it).
 */
int session_exec(uint32_t chan, const struct agent_exec *e, char **cause);
/*
 * Opens a forwarded connection to @host:@port on @chan (common/agent_proto.h,
 * CONNECT). EXEC_OK follows once connected (at once, often, on loopback),
 * or EXEC_ERR. Returns 0, or a negative errno and an allocated *cause to
 * send as EXEC_ERR (the caller frees it).
 */
int session_connect(uint32_t chan, const char *host, uint16_t port, char **cause);
/* Queues stdin for the child. It always takes the bytes: the host sends no
 * more than its credit (a host that does is logged and the session killed). */
void session_stdin(uint32_t chan, const void *data, size_t len);
/* WINDOW: the host grants @bytes more of the session's output. */
void session_window(uint32_t chan, uint32_t bytes);
void session_stdin_eof(uint32_t chan);
void session_signal(uint32_t chan, int sig);
void session_resize(uint32_t chan, unsigned rows, unsigned cols);

/* Tells the sessions a child was reaped (any child: orphans too). */
void session_reaped(pid_t pid, int status);
/* SIGKILLs every session's process group and forgets the sessions. */
void session_kill_all(void);
/* Sets what each session's descriptors are watched for; with @out_full, or
 * for a session without output credit, output is left in the pipes
 * (back-pressure toward the children). */
void session_update_all(int out_full);

#endif
