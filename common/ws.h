/*
 * ws: WebSocket framing (RFC 6455) on an already connected, already upgraded
 * file descriptor, driven by the process's loop. wslay does the framing; this
 * module owns the wslay context, the fd's place in the loop and the close
 * handshake. Used by the daemon (server side) and by `sprig exec` (client).
 */
#ifndef SPRIG_WS_H
#define SPRIG_WS_H

#include <stddef.h>
#include <stdint.h>

struct loop;
struct ws;

/* The largest message accepted from the peer; a bigger one closes with 1009. */
#define WS_MAX_MESSAGE		(16u * 1024 * 1024)
/* drained fires when ws_pending() falls below this after reaching it. */
#define WS_LOW_WATER		(256u * 1024)
/* How long a close handshake may take before the connection is dropped. */
#define WS_CLOSE_TIMEOUT_MS	5000

struct ws_callbacks {
	/* A whole message (fragments joined); @data is valid during the call. */
	void	(*message)(struct ws *ws, int binary, const uint8_t *data, size_t len,
		    void *arg);
	/* Called once: the close handshake finished (@code is the peer's close
	 * code, or ours when the peer never answered), or the connection failed
	 * (1006). The ws stays valid, but inert, until ws_free. */
	void	(*closed)(struct ws *ws, int code, void *arg);
	/* Optional: output fell below WS_LOW_WATER after reaching it. */
	void	(*drained)(struct ws *ws, void *arg);
};

/*
 * Starts WebSocket framing on @fd, which is made non-blocking and watched in
 * @l. @client selects masking (a client masks its frames). @prefix holds
 * bytes already read past the HTTP handshake (copied). With @own_fd, ws_free
 * closes @fd. @cb is copied. No callback runs before the loop's next turn.
 * Returns the new ws, or NULL with errno set.
 */
struct ws *ws_new(struct loop *l, int fd, int client, int own_fd, const uint8_t *prefix,
    size_t prefix_len, const struct ws_callbacks *cb, void *arg);
/* Frees @ws, closing its fd if owned. Safe inside @ws's own callbacks (the
 * memory is released when the callback returns); NULL is ignored. */
void ws_free(struct ws *ws);

/* Queues one message (copied). Returns 0, or -EPIPE once closing or closed. */
int ws_send(struct ws *ws, int binary, const void *data, size_t len);
/* Queues one message of @head then @data (both copied): as ws_send. */
int ws_send2(struct ws *ws, int binary, const void *head, size_t head_len, const void *data,
    size_t len);
/* Starts the close handshake with @code (1000: normal) and @reason (may be
 * NULL, at most 123 bytes). closed follows when it ends. */
void ws_close(struct ws *ws, int code, const char *reason);
/*
 * Writes what is queued, waiting up to @timeout_ms for the peer to take it,
 * outside the loop: for a client about to exit, so that what it was told to
 * send (keys typed just before quitting) is not lost. Returns 0 once all is
 * written, -ETIMEDOUT, or -EPIPE.
 */
int ws_drain(struct ws *ws, int timeout_ms);
/* Payload bytes queued for output and not yet written: for back-pressure. */
size_t ws_pending(const struct ws *ws);
/* Stops (@paused) or resumes reading from the peer. */
void ws_pause_input(struct ws *ws, int paused);

/* Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (28 chars + NUL). */
void ws_accept_key(const char *client_key, char out[29]);
/* A random Sec-WebSocket-Key (24 chars + NUL). */
void ws_client_key(char out[25]);

#endif
