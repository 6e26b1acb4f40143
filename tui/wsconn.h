/*
 * wsconn: one shell in a sprite for a console pane: the exec WebSocket
 * (Sprites framing, tty mode: binary messages are raw terminal bytes both
 * ways, resize is a text message) opened without blocking the loop: a
 * non-blocking connect to the API socket, the upgrade request, the answer's
 * head read as it comes, then common/ws. The shell is a detachable session:
 * closing the connection leaves it running in the sprite, and a later
 * wsconn_open re-attaches to it by id. It owns the socket and the ws.
 */
#ifndef SPRIG_TUI_WSCONN_H
#define SPRIG_TUI_WSCONN_H

#include <stddef.h>
#include <stdint.h>

/* A console's command as the session list shows it (argv joined by spaces):
 * how the dashboard finds its own shells among a sprite's sessions. The
 * variable stays in the shell's environment. */
#define WSCONN_CONSOLE_COMMAND	"env SPRIG_CONSOLE=1 /bin/sh -l"

struct loop;
struct wsconn;

struct wsconn_callbacks {
	/* The shell runs: bytes may be sent. */
	void	(*opened)(struct wsconn *c, void *arg);
	/* The daemon named the session (wsconn_id has it now). */
	void	(*info)(struct wsconn *c, void *arg);
	/* Terminal bytes from the shell; valid during the call. A re-attach
	 * first replays the output the daemon kept. */
	void	(*data)(struct wsconn *c, const uint8_t *data, size_t len, void *arg);
	/* The connection is over (called once, never from wsconn_free): the
	 * shell's exit code, or -1 with @why (an error from the daemon, a
	 * refused upgrade, a lost connection, another client attaching). It
	 * stays valid, but inert, until wsconn_free. */
	void	(*ended)(struct wsconn *c, int exit_code, const char *why, void *arg);
};

/*
 * Starts opening a console in @sprite at @rows x @cols over @sock: a new
 * login shell (WSCONN_CONSOLE_COMMAND, detachable) when @attach is NULL,
 * else the session @attach, whose programs are told the size again so that
 * full-screen ones redraw. The callbacks come from the loop, never from
 * here. Returns 0 or a negative errno.
 */
int wsconn_open(struct loop *l, const char *sock, const char *sprite, const char *attach,
    int rows, int cols, const struct wsconn_callbacks *cb, void *arg, struct wsconn **ret);
/* Closes the connection: the shell runs on, detached. NULL is ignored. */
void wsconn_free(struct wsconn *c);
/* Writes the keys still queued, waiting at most until @deadline_ms
 * (loop_now_ms), outside the loop: before the dashboard exits. */
void wsconn_drain(struct wsconn *c, uint64_t deadline_ms);

/* The session's id once the daemon has said it, else NULL. */
const char *wsconn_id(const struct wsconn *c);

/* Queues keyboard bytes; dropped before the shell is open or after. */
void wsconn_send(struct wsconn *c, const void *data, size_t len);
void wsconn_resize(struct wsconn *c, int rows, int cols);
/* Stops (@paused) or resumes reading the shell's output: back-pressure
 * while the console has not caught up. */
void wsconn_pause(struct wsconn *c, int paused);

/*
 * The console shell to re-attach to in a session list (GET
 * /v1/sprites/NAME/exec, @body of @len bytes): a tty session running
 * WSCONN_CONSOLE_COMMAND that has not ended, one no client holds before one
 * that is attached, the newest of those. Returns 0 with its id in *ret_id
 * (newly allocated), -ENOENT when there is none, -EBADMSG when @body is not
 * a session list.
 */
int wsconn_find_console(const char *body, size_t len, char **ret_id);

#endif
