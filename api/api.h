/*
 * api: the daemon's HTTP + WebSocket API (libmicrohttpd in external epoll
 * mode on the process's loop), shaped like the Sprites REST API:
 *
 *	GET    /v1/sprites			list (?prefix, ?max_results, ?continuation_token)
 *	POST   /v1/sprites			create {"name", "image"?}
 *	GET    /v1/sprites/NAME			get
 *	DELETE /v1/sprites/NAME			destroy
 *	POST   /v1/sprites/NAME/start|stop	sprig's own
 *	GET    /v1/sprites/NAME/exec		WebSocket exec (api/exec.c)
 *	POST   /v1/sprites/NAME/exec		exec over plain HTTP: body stdin, chunked frames
 *	POST   /v1/sprites/NAME/checkpoint	{"comment"?} -> NDJSON, last {"type":"complete","id":"v3"}
 *	GET    /v1/sprites/NAME/checkpoints	the timeline, oldest first
 *	GET    /v1/sprites/NAME/checkpoints/ID	one checkpoint
 *	POST   /v1/sprites/NAME/checkpoints/ID/restore	ID "vN" or "undo" -> NDJSON
 *	POST   /v1/sprites/NAME/fork		{"name", "checkpoint"?} -> 201 the new sprite
 *	GET    /v1/daemon			version, accelerator, pid
 *	GET    /v1/events			the event log; ?follow=1 streams it (api/events.c)
 *
 *	GET|POST /v1/tokens, DELETE /v1/tokens/NAME	bearer tokens (api/auth.c)
 *
 * and answers the Sprites SDK's other routes with 501 (api/sdk.c); the
 * wire reference is api/README.md. Errors are {"error": code, "message":
 * sentence} with a fitting status.
 */
#ifndef SPRIG_API_H
#define SPRIG_API_H

struct loop;
struct core;
struct api;
struct auth;

/* Serves on the unix listening socket @fd (taken), with @au (taken) for
 * tokens. Returns 0 or a negative errno with *@cause. */
int api_new(struct loop *l, struct core *c, struct auth *au, int fd, struct api **ret,
    char **cause);
/* Serves on the TCP listening socket @fd (taken) too, on the same loop:
 * every request there needs a bearer token. */
int api_listen_tcp(struct api *a, int fd, char **cause);
/* Ends the event streams and stops following core: call before core_free
 * (which answers the other waiting requests). */
void api_unwatch(struct api *a);
void api_free(struct api *a);

#endif
