/*
 * api: the daemon's HTTP + WebSocket API (libmicrohttpd in external epoll
 * mode on the process's loop), shaped like the Sprites REST API:
 *
 *	GET    /v1/sprites			list
 *	POST   /v1/sprites			create {"name", "image"?}
 *	GET    /v1/sprites/NAME			get
 *	DELETE /v1/sprites/NAME			destroy
 *	POST   /v1/sprites/NAME/start|stop	sprig's own
 *	GET    /v1/sprites/NAME/exec		WebSocket exec (api/exec.c)
 *	POST   /v1/sprites/NAME/checkpoint	{"comment"?} -> NDJSON, last {"type":"complete","id":"v3"}
 *	GET    /v1/sprites/NAME/checkpoints	the timeline, oldest first
 *	GET    /v1/sprites/NAME/checkpoints/ID	one checkpoint
 *	POST   /v1/sprites/NAME/checkpoints/ID/restore	ID "vN" or "undo" -> NDJSON
 *	POST   /v1/sprites/NAME/fork		{"name", "checkpoint"?} -> 201 the new sprite
 *	GET    /v1/daemon			version, accelerator, pid
 *
 * Errors are {"error": code, "message": sentence} with a fitting status.
 */
#ifndef SPRIG_API_H
#define SPRIG_API_H

struct loop;
struct core;
struct api;

/* Serves on the listening socket @fd (taken). Returns 0 or a negative errno. */
int api_new(struct loop *l, struct core *c, int fd, struct api **ret, char **cause);
void api_free(struct api *a);

#endif
