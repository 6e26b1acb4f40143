/*
 * client: the CLI's way to the daemon. HTTP/JSON requests over
 * $SPRIG_HOME/api.sock (blocking HTTP/1.1, answers parsed by cli/response),
 * the API's error shape, starting the daemon on demand (as tmux starts its
 * server) and stopping it, and the sprig-tunnel helper for --host. Both the
 * sprig command and the dashboard (sprig-dashboard) use it.
 */
#ifndef SPRIG_CLI_CLIENT_H
#define SPRIG_CLI_CLIENT_H

#include <stddef.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

struct buf;

struct client {
	char		*home;		/* absolute $SPRIG_HOME; NULL for a remote host */
	char		*sock;		/* <home>/api.sock, or the tunnel's local end */
	int		 autostart;	/* may still start the daemon once */
	char		*remote;	/* --host: "user@box:/path/api.sock"; else NULL */
	int		 tunnel_fd;	/* to sprig-tunnel: closing it ends the tunnel */
	pid_t		 tunnel_pid;	/* 0 without one */
};

/* Resolves $SPRIG_HOME (creating it). Returns 0 or a negative errno with
 * *cause set (newly allocated). */
int client_init(struct client *c, char **cause);
/* For `sprig --host @url` (ssh://user@box[:port][/path/api.sock]): starts
 * sprig-tunnel (cli/tunnel.h, in a process of its own so that only --host
 * loads libssh), which opens the SSH tunnel to that daemon and a local
 * socket leading to it; talks through that; never starts a daemon. Returns
 * 0 or a negative errno with *cause set. */
int client_init_remote(struct client *c, const char *url, char **cause);
/* client_init_remote when @host is set and not "", else client_init. */
int client_open(struct client *c, const char *host, char **cause);
/* Ends the tunnel (waiting until its socket is gone). */
void client_done(struct client *c);

/* The path of sprig's program @name (sprig-daemon, sprig-dashboard,
 * sprig-tunnel): beside this one. Newly allocated. */
char *client_program(const char *name);

/*
 * Sends @method (GET, POST, DELETE) @path ("/v1/...") with @body (JSON, not
 * consumed; may be NULL) and waits at most @timeout_s. On a 2xx answer
 * returns 0 and the parsed body in *ret (NULL when empty; the caller frees).
 * Otherwise returns a negative errno (-EPROTO for an HTTP error) and *cause:
 * the API's message or what went wrong on the way.
 */
int client_request(struct client *c, const char *method, const char *path, const cJSON *body,
    long timeout_s, cJSON **ret, char **cause);

/* client_request's way for answers that are not one JSON value (NDJSON):
 * on a 2xx answer returns 0 with the body added to @resp. */
int client_request_text(struct client *c, const char *method, const char *path,
    const cJSON *body, long timeout_s, struct buf *resp, char **cause);

/*
 * GETs @path and hands each line of a 2xx answer to @fn as it arrives (an
 * NDJSON stream such as /v1/events?follow=1), with no time limit; returns
 * when the server ends the answer: 0, or as client_request_text.
 */
typedef void (*client_line_fn)(const char *line, size_t len, void *arg);
int client_stream(struct client *c, const char *path, client_line_fn fn, void *arg,
    char **cause);

/*
 * Opens a WebSocket to @path: a connection (starting the daemon if need
 * be), then the upgrade. On success returns 0 with *ret_fd (non-blocking,
 * the caller's to close) and in @prefix the bytes read past the response
 * head. Otherwise a negative errno and *cause.
 */
int client_websocket(struct client *c, const char *path, int timeout_ms, int *ret_fd,
    struct buf *prefix, char **cause);

/* Stops the daemon named in daemon.pid (SIGTERM, then waits up to 30 s).
 * Returns 1 if it was running and is gone, 0 if it was not running, or a
 * negative errno with *cause. */
int client_stop_daemon(struct client *c, char **cause);

/* The text for an HTTP error answer: the JSON "message" (or "error"), else
 * "HTTP <status>" and the body. Newly allocated. */
char *client_error_message(long status, const char *body, size_t len);

/* %-escapes all but RFC 3986's unreserved characters. Newly allocated. */
char *client_escape(const char *s);

#endif
