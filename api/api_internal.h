/*
 * api_internal: what api.c shares with exec.c, probe.c, template.c and
 * timeline.c.
 */
#ifndef SPRIG_API_INTERNAL_H
#define SPRIG_API_INTERNAL_H

#include <stdint.h>

#include <microhttpd.h>
#include <cjson/cJSON.h>

struct ws;

struct loop;
struct core;
struct exec;
struct session;
struct agent;
struct probe;
struct evstream;
struct buf;
struct sprite_row;

struct auth;

/* One listening socket: its own MHD daemon on the same loop. */
struct api_listener {
	struct api		*api;
	struct MHD_Daemon	*mhd;
	int			 epfd;
	int			 tcp;		/* every request needs a bearer token */
};

#define API_MAX_LISTENERS	2

struct api {
	struct loop		*loop;
	struct core		*core;
	struct auth		*auth;
	struct api_listener	 listeners[API_MAX_LISTENERS];
	size_t			 nlisteners;
	uint64_t		 timer;
	struct exec		*execs;		/* live exec sessions */
	struct session		*sessions;	/* detachable ones (api/session.c) */
	int			 resumed;	/* a connection was resumed this turn */
	struct evstream		*streams;	/* GET /v1/events?follow=1 (api/events.c) */
	struct exec		*running;	/* execs counted against the limits */
	struct proxy		*proxies;	/* live forwarded connections */
};

/* Resumes a suspended connection; MHD handles it before the loop sleeps. */
void api_resume(struct api *a, struct MHD_Connection *conn);
/*
 * For a streamed answer's content reader (MHD_create_response_from_callback):
 * api_stream_wait ends the body once @ended, or else suspends @conn and sets
 * *@suspended (whoever has more to send resumes it with api_resume).
 * api_stream_read first sends what @b holds, at most @max bytes.
 */
ssize_t api_stream_wait(struct MHD_Connection *conn, int ended, int *suspended);
ssize_t api_stream_read(struct MHD_Connection *conn, struct buf *b, int ended, int *suspended,
    char *out, size_t max);

/* Queues a JSON error response; returns MHD's result. */
enum MHD_Result api_error(struct MHD_Connection *conn, unsigned status,
    const char *code, const char *message);
/* The HTTP status and error code for a core errno. */
unsigned api_status_for(int err, const char **code);
/* Queues the JSON error for core's @err, with @cause (or strerror). */
enum MHD_Result api_error_errno(struct MHD_Connection *conn, int err, const char *cause);
/* Answers a WebSocket handshake (its Sec-WebSocket-Key checked by the
 * caller) with 101: @fn then gets the connection with @cls. *@queued says
 * whether it was answered so (else an error was, or nothing could be). */
enum MHD_Result api_ws_upgrade(struct MHD_Connection *conn, MHD_UpgradeHandler fn, void *cls,
    int *queued);
/* Ends an upgraded connection: frees *@ws and closes *@urh (both set to
 * NULL), and has the close happen in this loop turn. */
void api_ws_close(struct api *a, struct ws **ws, struct MHD_UpgradeResponseHandle **urh);
/* Queues an empty 204. */
enum MHD_Result api_no_content(struct MHD_Connection *conn);

/*
 * Handles GET /v1/sprites/NAME/exec: the WebSocket upgrade and the session.
 * Called for every access-handler call of the request; *@slot holds the
 * request's exec state (the request drops its reference with exec_unref).
 */
enum MHD_Result exec_handle(struct api *a, struct MHD_Connection *conn,
    const char *name, const char *sid, struct exec **slot);
void exec_unref(struct exec *ex);
/* POST /v1/sprites/NAME/exec: the command runs with @body as its stdin and
 * answers in chunked frames (the SDK's execFileHTTP). Called once the body
 * is in, and again after each wait; *@slot as for exec_handle. */
enum MHD_Result exec_http(struct api *a, struct MHD_Connection *conn, const char *name,
    const struct buf *body, struct exec **slot);
/* POST /v1/sprites/NAME/probe (api/probe.c); the request frees *@slot
 * with probe_free. The request must not end while a probe runs: it holds
 * the connection suspended until done. */
enum MHD_Result probe_handle(struct api *a, struct MHD_Connection *conn,
    const char *name, struct probe **slot);
void probe_free(struct probe *p);
/* .../fs/@op (api/fs.c): every access-handler call of the request, body
 * and all; *@slot holds its state, which fs_release drops. */
struct fsreq;
enum MHD_Result fs_handle(struct api *a, struct MHD_Connection *conn, const char *name,
    const char *op, const char *method, const char *upload_data, size_t *upload_data_size,
    struct fsreq **slot);
void fs_release(struct fsreq *f);
/* Queues a JSON response (@json consumed). */
enum MHD_Result api_json(struct MHD_Connection *conn, unsigned status, cJSON *json);

/* GET /v1/sprites/NAME/checkpoints and .../checkpoints/ID (api/timeline.c). */
enum MHD_Result timeline_list(struct api *a, struct MHD_Connection *conn, const char *name);
enum MHD_Result timeline_get(struct api *a, struct MHD_Connection *conn, const char *name,
    const char *id);
/* DELETE .../checkpoints/ID: 204, or 409 while a template uses it. */
enum MHD_Result timeline_rm(struct api *a, struct MHD_Connection *conn, const char *name,
    const char *id);
/* The version of the checkpoint @row's disk grew from, or -ENOENT. */
int timeline_head(struct core *c, const struct sprite_row *row);
/* Adds one NDJSON line {"type": @type, @key: @text[, "id": @id]} to @b. */
void timeline_line(struct buf *b, const char *type, const char *key, const char *text,
    const char *id);

/* GET /v1/templates, DELETE /v1/templates/NAME (api/template.c). */
enum MHD_Result template_list(struct api *a, struct MHD_Connection *conn);
enum MHD_Result template_rm(struct api *a, struct MHD_Connection *conn, const char *tname);
/* Queues template @tname's object with @status (POST /v1/templates' answer). */
enum MHD_Result template_answer(struct api *a, struct MHD_Connection *conn, const char *tname,
    unsigned status);

/* Queues sprite @name's object with @status. */
enum MHD_Result api_sprite(struct api *a, struct MHD_Connection *conn, const char *name,
    unsigned status);

/* POST /v1/sprites/NAME/config (api/config.c), and the daemon's view of a
 * sprite (idle time, time until sleep, operation) added to its object. */
enum MHD_Result config_handle(struct api *a, struct MHD_Connection *conn, const char *name,
    const char *body, size_t len);
void config_add_status(struct api *a, const struct sprite_row *row, cJSON *j);
/* GET and POST /v1/settings (api/config.c). */
enum MHD_Result settings_handle(struct api *a, struct MHD_Connection *conn, int post,
    const char *body, size_t len);

/* GET /v1/events (api/events.c); events_close_all ends the streams. */
enum MHD_Result events_handle(struct api *a, struct MHD_Connection *conn);
void events_close_all(struct api *a);

/* GET, POST /v1/tokens and DELETE /v1/tokens/NAME (api/auth.c). */
enum MHD_Result auth_api_list(struct api *a, struct MHD_Connection *conn);
enum MHD_Result auth_api_create(struct api *a, struct MHD_Connection *conn, const char *body,
    size_t len);
enum MHD_Result auth_api_revoke(struct api *a, struct MHD_Connection *conn, const char *name);

/* -ENOTSUP with *@cause if a create body @j asks for what sprig cannot
 * honour (config, environment, runtime). */
int sdk_create_check(const cJSON *j, char **cause);
/* -EINVAL with *@cause naming the first key of object @v not in @keys
 * (NULL-ended): a misspelt field would otherwise be dropped in silence.
 * @what names @v for that sentence. */
int sdk_known_keys(const cJSON *v, const char *what, const char *const *keys, char **cause);
/* -EINVAL with *@cause ("@key must be @hint") unless @v's @key is absent or
 * a string among @allowed (NULL-ended). */
int sdk_enum_field(const cJSON *v, const char *key, const char *const *allowed,
    const char *hint, char **cause);
/* Checks "labels" and "url_settings" of a create or update body @j: each
 * absent leaves its *@ret NULL, else gets the JSON text to store (caller
 * frees). -EINVAL with *@cause for a bad one. */
int sdk_meta_parse(const cJSON *j, char **ret_labels, char **ret_url, char **cause);
/* Stores what sdk_meta_parse gave for sprite @name (NULLs leave a field). */
int sdk_meta_store(struct api *a, const char *name, const char *labels, const char *url,
    char **cause);
/* Adds "labels" and "url_settings" (when set) from @row to sprite object @j. */
void sdk_meta_json(const struct sprite_row *row, cJSON *j);
/* 1 if @row carries label @label. */
int sdk_has_label(const struct sprite_row *row, const char *label);
/* PUT /v1/sprites/NAME {"labels"?, "url_settings"?}: the sprite (api/sdk.c). */
enum MHD_Result sdk_update(struct api *a, struct MHD_Connection *conn, const char *name,
    const char *body, size_t len);
/* GET, POST, DELETE /v1/sprites/NAME/policy/KIND (api/policy.c). */
enum MHD_Result policy_handle(struct api *a, struct MHD_Connection *conn, const char *name,
    const char *kind, const char *method, const char *body, size_t len);
/* GET /v1/sprites with Accept: application/x-ndjson, the SDK's watchSprites:
 * the list, then each change of a sprite's status (api/events.c). */
enum MHD_Result events_watch_sprites(struct api *a, struct MHD_Connection *conn,
    const struct sprite_row *rows, size_t n);
/* GET /v1/sprites: ?prefix, ?max_results and ?continuation_token applied to
 * @rows (sorted by name), in the SDK's list shape; @fn makes each sprite's
 * object (api/sdk.c). */
enum MHD_Result sdk_list(struct api *a, struct MHD_Connection *conn,
    const struct sprite_row *rows, size_t n,
    cJSON *(*fn)(struct api *, const struct sprite_row *));

/*
 * What a detachable session (api/session.c) tells the exec attached to it.
 * bind: @ex is now @s's client (it takes a ref on @s) and sends stdin,
 * resizes and signals to @agent's @chan. ended: the process exited with
 * @code, or (@code < 0) went with its sprite; @why says more, or is NULL.
 * taken: another client attached; @ex closes.
 */
void exec_session_bind(struct exec *ex, struct session *s, struct agent *agent,
    uint32_t chan, int tty);
void exec_session_output(struct exec *ex, int stream, const uint8_t *data, size_t len);
void exec_session_json(struct exec *ex, cJSON *j);	/* @j consumed */
void exec_session_ended(struct exec *ex, int code, const char *why);
void exec_session_taken(struct exec *ex);
/* A signal's number from "TERM", "SIGTERM" or "15"; -1 if none. */
int exec_signal_number(const char *s);

/* GET /v1/sprites/NAME/proxy (api/proxy.c): every access-handler call of
 * the request; *@slot holds its state, which proxy_unref drops. */
struct proxy;
enum MHD_Result proxy_handle(struct api *a, struct MHD_Connection *conn, const char *name,
    struct proxy **slot);
void proxy_unref(struct proxy *px);
/* Ends every forwarded connection (daemon shutdown). */
void proxy_close_all(struct api *a);
/*
 * The client's first message, {"host"?, "port"}: 0 with *@ret_host
 * (allocated; "localhost" when absent) and *@ret_port, or -EINVAL with
 * *@cause.
 */
int proxy_parse_target(const char *text, size_t len, char **ret_host, uint16_t *ret_port,
    char **cause);

/* Ends every exec session (daemon shutdown). */
void exec_close_all(struct api *a);

#endif
