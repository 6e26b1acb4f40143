/*
 * upgrade: the client side of the HTTP/1.1 WebSocket handshake (RFC 6455
 * section 4) on a socket of its own, for common/ws to take over. It owns
 * nothing: it writes a request on a connected socket and reads the response
 * head (and, when the upgrade is refused, the error body) with cli/response.
 */
#ifndef SPRIG_CLI_UPGRADE_H
#define SPRIG_CLI_UPGRADE_H

#include <stddef.h>

struct buf;

struct upgrade_head {
	int	 status;
	int	 upgrade_websocket;	/* Upgrade: websocket */
	int	 connection_upgrade;	/* Connection: ... upgrade ... */
	char	 accept[64];		/* Sec-WebSocket-Accept, or "" */
	long	 content_length;	/* -1 when absent */
	int	 chunked;		/* Transfer-Encoding: chunked */
	size_t	 head_len;		/* bytes up to and with the blank line */
};

/* Returns the request head for upgrading @path with @key. Newly allocated. */
char *upgrade_request(const char *path, const char *key);

/* Parses a response head at the start of @data. Returns 0, -EAGAIN when
 * the blank line has not arrived yet, or -EBADMSG. */
int upgrade_parse_head(const char *data, size_t len, struct upgrade_head *ret);

/* Decodes a chunked body from @data into @out. Returns 0 once the last
 * chunk is in, -EAGAIN when more is needed, -EBADMSG. */
int upgrade_dechunk(const char *data, size_t len, struct buf *out);

/*
 * Upgrades the connected, non-blocking socket @fd to a WebSocket at @path
 * with the client key @key, waiting at most @timeout_ms for the answer. On
 * 101 with the right Sec-WebSocket-Accept, returns 0 and appends to @prefix
 * the bytes read past the head. Otherwise returns a negative errno (-EPROTO:
 * the server answered with an error) and *cause (newly allocated).
 */
int upgrade_perform(int fd, const char *path, const char *key, int timeout_ms,
    struct buf *prefix, char **cause);

#endif
