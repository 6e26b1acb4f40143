/*
 * session: the registry of detachable exec sessions (api/session.c). The
 * exec (api/exec.c) starts one, attaches to it and detaches; the routes
 * list and kill them.
 */
#ifndef SPRIG_API_SESSION_H
#define SPRIG_API_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

struct api;
struct agent;
struct agent_exec;
struct exec;
struct session;

/* Output kept for a re-attach; at least the agent's output window, so
 * nothing a detached session printed is lost. */
#define SESSION_RING		(256u * 1024)
#define SESSION_MAX_PER_SPRITE	32
/* How long an exited session nobody saw end stays listed. */
#define SESSION_KEEP_MS		(10u * 60 * 1000)

/*
 * Starts @spec on @agent as a session of @sprite, listed in the registry,
 * holding the sprite awake until it ends. @max_run_ms (0: no limit) is how
 * long it may run with no client attached. Returns 0 with the session in
 * *@ret (the registry's; take a ref to keep it), -EUSERS when the sprite
 * has SESSION_MAX_PER_SPRITE, or another negative errno; *@cause says why.
 */
int session_start(struct api *a, const char *sprite, struct agent *agent,
    const struct agent_exec *spec, uint64_t max_run_ms, struct session **ret, char **cause);
/* A listed session of @sprite (any sprite when NULL) by id, or NULL. */
struct session *session_find(struct api *a, const char *sprite, const char *id);
size_t session_count(struct api *a, const char *sprite);
const char *session_id(const struct session *s);
void session_ref(struct session *s);
void session_put(struct session *s);

/*
 * Makes @ex the session's client (the one before is told it was taken
 * over): it gets {"type":"session_info",...}, the output history, then live
 * output, and the end. @ex calls session_detach before it goes.
 */
void session_attach(struct session *s, struct exec *ex);
void session_detach(struct session *s, struct exec *ex);

/* "30s", "5m", "1h30m", "500ms", or seconds: milliseconds, or -EINVAL. */
int session_parse_duration(const char *s, uint64_t *ret_ms);

/* GET /v1/sprites/NAME/exec: {"sessions": [...]} (the SDK's listSessions). */
enum MHD_Result session_list(struct api *a, struct MHD_Connection *conn, const char *sprite);
/* POST .../exec/ID/kill?signal=&timeout=: NDJSON as the process ends. */
enum MHD_Result session_kill(struct api *a, struct MHD_Connection *conn, const char *sprite,
    const char *id);
/* Daemon shutdown: every session ends. */
void session_close_all(struct api *a);

#endif
