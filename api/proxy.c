/*
 * proxy: GET /v1/sprites/NAME/proxy, a forwarded connection over a
 * WebSocket, as the SDK's proxyPort speaks it: after the upgrade the client
 * sends one text message {"host"?, "port"} (host defaults to localhost,
 * inside the sprite), the server answers {"status": "connected"} or
 * {"status": "error", "error", "message"} and a close, then binary
 * messages are the connection's bytes both ways. The far end closing ends
 * the WebSocket (1000; 1011 if the connection broke); the client closing
 * it drops the connection. sprig's own client may send the text message
 * {"type": "eof"} to half-close instead: the far end reads end of file and
 * may still answer.
 *
 * The connection itself is core's (core/proxy.c: wake, hold, agent
 * channel). Back-pressure both ways: output credit goes back to the guest
 * only while the WebSocket has less than WS_LOW_WATER unsent, so a client
 * that does not read stops the far end instead of growing the daemon; and
 * while the guest has no room for the client's bytes, the WebSocket is not
 * read (at most one message waits here).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api_internal.h"
#include "common/agent_proto.h"
#include "common/buf.h"
#include "common/ws.h"
#include "common/xmalloc.h"
#include "core/core.h"

enum proxy_state {
	PROXY_INIT,		/* waiting for the client's {"host", "port"} */
	PROXY_CONNECTING,	/* core connects (maybe waking the sprite) */
	PROXY_OPEN,
	PROXY_DONE,		/* the connection is over; the WebSocket closes */
};

struct proxy {
	struct api			*api;
	int				 refs;		/* the request's, the upgraded one's */
	char				*name;
	struct ws			*ws;
	struct MHD_UpgradeResponseHandle *urh;
	struct core_proxy		*cp;		/* while connecting or open */
	enum proxy_state		 state;
	struct buf			 pending;	/* the client's bytes the guest
							 * has no room for yet */
	int				 eof_pending;	/* half-close once they go */
	size_t				 owed;		/* output credit held back */
	struct proxy			*next;		/* in api->proxies once upgraded */
};

void
proxy_unref(struct proxy *px)
{
	if (px == NULL || --px->refs > 0)
		return;
	buf_done(&px->pending);
	free(px->name);
	free(px);
}

int
proxy_parse_target(const char *text, size_t len, char **ret_host, uint16_t *ret_port,
    char **cause)
{
	cJSON *j = cJSON_ParseWithLength(text, len), *host, *port;
	const char *h = "localhost";
	int r = -EINVAL;

	if (!cJSON_IsObject(j)) {
		*cause = xstrdup("the first message must be JSON: {\"host\": \"localhost\", "
		    "\"port\": 8080}");
		goto out;
	}
	host = cJSON_GetObjectItemCaseSensitive(j, "host");
	port = cJSON_GetObjectItemCaseSensitive(j, "port");
	if (host != NULL && !cJSON_IsNull(host)) {
		if (!cJSON_IsString(host) || host->valuestring[0] == '\0' ||
		    strlen(host->valuestring) > AGENT_CONNECT_HOST_MAX ||
		    strpbrk(host->valuestring, " \t\r\n/") != NULL) {
			*cause = xstrdup("host must be a host name or an address, such as "
			    "localhost or 127.0.0.1");
			goto out;
		}
		h = host->valuestring;
	}
	if (!cJSON_IsNumber(port) || port->valuedouble != (double)port->valueint ||
	    port->valueint < 1 || port->valueint > 65535) {
		*cause = xstrdup("port must be a number from 1 to 65535");
		goto out;
	}
	*ret_host = xstrdup(h);
	*ret_port = (uint16_t)port->valueint;
	r = 0;
out:
	cJSON_Delete(j);
	return r;
}

static void
proxy_send_status(struct proxy *px, const char *status, const char *code, const char *msg)
{
	cJSON *j = cJSON_CreateObject();
	char *text;

	cJSON_AddStringToObject(j, "status", status);
	if (code != NULL)
		cJSON_AddStringToObject(j, "error", code);
	if (msg != NULL)
		cJSON_AddStringToObject(j, "message", msg);
	text = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (text != NULL)
		ws_send(px->ws, 0, text, strlen(text));
	free(text);
}

/* Tells the client why there is no connection, and closes. */
static void
proxy_refuse(struct proxy *px, int err, const char *cause, int close_code)
{
	const char *code;

	px->state = PROXY_DONE;
	px->cp = NULL;
	if (err == -ECONNREFUSED)
		code = "connection_refused";
	else if (err == -EHOSTUNREACH)
		code = "bad_request";
	else
		api_status_for(err, &code);
	proxy_send_status(px, "error", code, cause ? cause : strerror(-err));
	ws_close(px->ws, close_code, "no connection");
}

/* Gives the output credit held back to the guest, unless the client is
 * behind (proxy_ws_drained does it then). */
static void
proxy_credit(struct proxy *px)
{
	if (px->cp == NULL || px->owed == 0 || ws_pending(px->ws) >= WS_LOW_WATER)
		return;
	core_proxy_consumed(px->cp, px->owed);
	px->owed = 0;
}

/* Hands the guest what it has room for of the client's bytes; input is
 * read again once none wait. */
static void
proxy_flush(struct proxy *px)
{
	ssize_t n;

	while (px->cp != NULL && buf_used(&px->pending) > 0) {
		n = core_proxy_send(px->cp, buf_head(&px->pending), buf_used(&px->pending));
		if (n <= 0)
			break;
		buf_consume(&px->pending, (size_t)n);
	}
	if (buf_used(&px->pending) > 0)
		return;
	ws_pause_input(px->ws, 0);
	if (px->eof_pending && px->cp != NULL) {
		px->eof_pending = 0;
		core_proxy_shutdown(px->cp);
	}
}

static void
proxy_connected(void *arg, int err, const char *cause)
{
	struct proxy *px = arg;

	if (err < 0) {
		proxy_refuse(px, err, cause, 1011);
		return;
	}
	px->state = PROXY_OPEN;
	proxy_send_status(px, "connected", NULL, NULL);
	proxy_flush(px);	/* bytes the client sent early */
}

static void
proxy_data(void *arg, const uint8_t *p, size_t n)
{
	struct proxy *px = arg;

	ws_send(px->ws, 1, p, n);
	px->owed += n;
	proxy_credit(px);
}

static void
proxy_room(void *arg)
{
	proxy_flush(arg);
}

static void
proxy_closed(void *arg, int err, const char *cause)
{
	struct proxy *px = arg;

	px->state = PROXY_DONE;
	px->cp = NULL;
	if (err < 0)
		proxy_send_status(px, "error", "connection_lost", cause);
	ws_close(px->ws, err < 0 ? 1011 : 1000, err < 0 ? "connection lost" : NULL);
}

static const struct core_proxy_callbacks proxy_core_cb = {
	.connected = proxy_connected,
	.data = proxy_data,
	.room = proxy_room,
	.closed = proxy_closed,
};

/* The client's first message: where to connect. */
static void
proxy_start(struct proxy *px, const uint8_t *data, size_t len)
{
	char *host = NULL, *cause = NULL;
	uint16_t port;
	int r;

	r = proxy_parse_target((const char *)data, len, &host, &port, &cause);
	if (r < 0) {
		proxy_refuse(px, r, cause, 1008);
		free(cause);
		return;
	}
	px->state = PROXY_CONNECTING;
	r = core_proxy(px->api->core, px->name, host, port, &proxy_core_cb, px, &px->cp, &cause);
	if (r < 0)
		proxy_refuse(px, r, cause, 1011);
	free(cause);
	free(host);
}

static void
proxy_ws_message(struct ws *ws, int binary, const uint8_t *data, size_t len, void *arg)
{
	struct proxy *px = arg;
	cJSON *j, *type;

	if (px->state == PROXY_INIT) {
		if (binary)
			proxy_refuse(px, -EINVAL, "the first message must be text: "
			    "{\"host\": \"localhost\", \"port\": 8080}", 1008);
		else
			proxy_start(px, data, len);
		return;
	}
	if (px->state == PROXY_DONE)
		return;
	if (!binary) {
		j = cJSON_ParseWithLength((const char *)data, len);
		type = cJSON_GetObjectItemCaseSensitive(j, "type");
		if (cJSON_IsString(type) && strcmp(type->valuestring, "eof") == 0) {
			px->eof_pending = 1;
			if (px->state == PROXY_OPEN)
				proxy_flush(px);
		}
		cJSON_Delete(j);
		return;
	}
	/* Early bytes wait for the connection; later ones go as the guest
	 * takes them, and the client is not read while some wait. */
	buf_add(&px->pending, data, len);
	if (px->state == PROXY_OPEN)
		proxy_flush(px);
	if (buf_used(&px->pending) > 0)
		ws_pause_input(px->ws, 1);
}

static void
proxy_end(struct proxy *px)
{
	struct proxy **pp;

	core_proxy_cancel(px->cp);
	px->cp = NULL;
	for (pp = &px->api->proxies; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == px) {
			*pp = px->next;
			break;
		}
	}
	api_ws_close(px->api, &px->ws, &px->urh);
	proxy_unref(px);
}

static void
proxy_ws_closed(struct ws *ws, int code, void *arg)
{
	proxy_end(arg);
}

static void
proxy_ws_drained(struct ws *ws, void *arg)
{
	proxy_credit(arg);
}

static const struct ws_callbacks proxy_ws_cb = {
	.message = proxy_ws_message,
	.closed = proxy_ws_closed,
	.drained = proxy_ws_drained,
};

static void
proxy_upgraded(void *cls, struct MHD_Connection *conn, void *req_cls,
    const char *extra_in, size_t extra_in_size, MHD_socket sock,
    struct MHD_UpgradeResponseHandle *urh)
{
	struct proxy *px = cls;

	px->urh = urh;
	px->next = px->api->proxies;
	px->api->proxies = px;
	px->ws = ws_new(px->api->loop, sock, 0, 0, (const uint8_t *)extra_in, extra_in_size,
	    &proxy_ws_cb, px);
	if (px->ws == NULL)
		proxy_end(px);
}

enum MHD_Result
proxy_handle(struct api *a, struct MHD_Connection *conn, const char *name,
    struct proxy **slot)
{
	struct sprite_row row = { 0 };
	const char *upgrade, *key;
	struct proxy *px = *slot;
	enum MHD_Result ret;
	char *cause = NULL;
	int r, stopped, queued;

	if (px == NULL) {
		px = xcalloc(1, sizeof *px);
		px->api = a;
		px->refs = 1;
		px->name = xstrdup(name);
		buf_init(&px->pending);
		*slot = px;
		return MHD_YES;
	}
	upgrade = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_UPGRADE);
	key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Key");
	if (upgrade == NULL || strcasestr(upgrade, "websocket") == NULL || key == NULL ||
	    strlen(key) != 24)
		return api_error(conn, MHD_HTTP_BAD_REQUEST, "bad_request",
		    "proxy is a WebSocket endpoint: send Upgrade: websocket with a "
		    "Sec-WebSocket-Key");
	/* What can be told before the upgrade is told as HTTP: a sleeping
	 * sprite is woken once the client says where to connect. */
	r = core_get(a->core, name, &row, &cause);
	stopped = r == 0 && (strcmp(row.state, SPRITE_STOPPED) == 0 ||
	    strcmp(row.state, SPRITE_BROKEN) == 0);
	if (stopped) {
		cause = xasprintf("sprite \"%s\" is %s; start it with: sprig start %s", name,
		    row.state, name);
		r = -EAGAIN;
	}
	sprite_row_done(&row);
	if (r < 0) {
		ret = api_error_errno(conn, r, cause);
		free(cause);
		return ret;
	}
	px->refs++;	/* the upgraded connection's */
	ret = api_ws_upgrade(conn, proxy_upgraded, px, &queued);
	if (!queued)
		px->refs--;
	return ret;
}

void
proxy_close_all(struct api *a)
{
	while (a->proxies != NULL)
		proxy_end(a->proxies);
}
