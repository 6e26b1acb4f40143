/*
 * response: one HTTP/1.1 response as it arrives, parsed by http-parser
 * (nodejs/http-parser, Debian's libhttp-parser). It owns the parser, the
 * few headers sprig looks at and the body, de-chunked. Used by the CLI's
 * requests (cli/client.c) and by the WebSocket handshake (cli/upgrade.c).
 */
#ifndef SPRIG_CLI_RESPONSE_H
#define SPRIG_CLI_RESPONSE_H

#include <stddef.h>

#include <http_parser.h>

#include "common/buf.h"

/* A body the CLI keeps whole (the JSON of an answer, a file it reads, a
 * stream's line) is at most this: the daemon's own limits are lower, and a
 * remote daemon (through a tunnel) must not fill the CLI's memory. */
#define RESPONSE_BODY_MAX	(64u << 20)

struct response {
	http_parser	 parser;
	int		 head_only;		/* stop at the end of the head */
	int		 status;
	int		 upgrade_websocket;	/* Upgrade: websocket */
	int		 connection_upgrade;	/* Connection: ... upgrade ... */
	char		 accept[64];		/* Sec-WebSocket-Accept, or "" */
	long		 content_length;	/* -1 when absent */
	int		 chunked;		/* Transfer-Encoding: ... chunked */
	int		 head_done;
	int		 complete;		/* the whole message is in */
	int		 too_large;		/* the body passed RESPONSE_BODY_MAX */
	size_t		 head_len;		/* with head_only: bytes of the head */
	struct buf	 body;			/* de-chunked; callers may consume it */
	struct buf	 field;			/* the header being read */
	struct buf	 value;
	int		 in_value;
};

/* With @head_only, parsing stops after the head (what follows a 101 is
 * another protocol; an error body is the caller's to read). */
void response_init(struct response *r, int head_only);
void response_done(struct response *r);

/*
 * Feeds @len bytes; @len 0 says the connection ended (which completes a
 * body that runs to the end). Returns the bytes taken (fewer than @len
 * only once the message or, with head_only, its head is complete),
 * -EBADMSG when it is not HTTP, or -EFBIG when the body kept (unconsumed)
 * passes RESPONSE_BODY_MAX.
 */
long response_feed(struct response *r, const char *data, size_t len);

#endif
