/*
 * api_internal: what api.c shares with exec.c, probe.c, template.c and
 * timeline.c.
 */
#ifndef SPRIG_API_INTERNAL_H
#define SPRIG_API_INTERNAL_H

#include <microhttpd.h>
#include <cjson/cJSON.h>

struct loop;
struct core;
struct exec;
struct probe;
struct buf;
struct sprite_row;

struct api {
	struct loop		*loop;
	struct core		*core;
	struct MHD_Daemon	*mhd;
	int			 epfd;
	uint64_t		 timer;
	struct exec		*execs;		/* live exec sessions */
	int			 resumed;	/* a connection was resumed this turn */
};

/* Resumes a suspended connection; MHD handles it before the loop sleeps. */
void api_resume(struct api *a, struct MHD_Connection *conn);

/* Queues a JSON error response; returns MHD's result. */
enum MHD_Result api_error(struct MHD_Connection *conn, unsigned status,
    const char *code, const char *message);
/* The HTTP status and error code for a core errno. */
unsigned api_status_for(int err, const char **code);
/* Queues the JSON error for core's @err, with @cause (or strerror). */
enum MHD_Result api_error_errno(struct MHD_Connection *conn, int err, const char *cause);
/* Queues an empty 204. */
enum MHD_Result api_no_content(struct MHD_Connection *conn);

/*
 * Handles GET /v1/sprites/NAME/exec: the WebSocket upgrade and the session.
 * Called for every access-handler call of the request; *@slot holds the
 * request's exec state (the request drops its reference with exec_unref).
 */
enum MHD_Result exec_handle(struct api *a, struct MHD_Connection *conn,
    const char *name, struct exec **slot);
void exec_unref(struct exec *ex);
/* POST /v1/sprites/NAME/probe (api/probe.c); the request frees *@slot
 * with probe_free. The request must not end while a probe runs: it holds
 * the connection suspended until done. */
enum MHD_Result probe_handle(struct api *a, struct MHD_Connection *conn,
    const char *name, struct probe **slot);
void probe_free(struct probe *p);
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
/* Queues a 200 application/x-ndjson response of @b's bytes (copied). */
enum MHD_Result timeline_ndjson(struct MHD_Connection *conn, struct buf *b);

/* GET /v1/templates, DELETE /v1/templates/NAME (api/template.c). */
enum MHD_Result template_list(struct api *a, struct MHD_Connection *conn);
enum MHD_Result template_rm(struct api *a, struct MHD_Connection *conn, const char *tname);
/* Queues template @tname's object with @status (POST /v1/templates' answer). */
enum MHD_Result template_answer(struct api *a, struct MHD_Connection *conn, const char *tname,
    unsigned status);

/* Ends every exec session (daemon shutdown). */
void exec_close_all(struct api *a);

#endif
