/*
 * files: file requests on a sprite's guest (see core.h, core_fs). Owns each
 * request from the call until its done callback or its cancel: the wait for
 * the sprite to be idle, its wake if it sleeps, the agent request, the
 * write's body as the guest's credit takes it, and the hold that keeps the
 * sprite awake while the request runs. What the guest sends back is checked
 * against what was asked before the caller sees it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "common/agent_proto.h"
#include "common/xmalloc.h"
#include "vmm/agent.h"

/* Most bytes of entry records a list may send back (its entries are
 * limited too; this bounds what a guest that lies can make the host keep). */
#define CORE_FS_LIST_BYTES	(64u << 20)

struct core_fs {
	struct core			*core;
	char				*name;
	struct agent_fs			 req;
	const uint8_t			*body;
	size_t				 len, off;
	const struct core_fs_callbacks	*cb;
	void				*arg;
	struct agent			*agent;		/* once running */
	uint32_t			 chan;
	int				 waiting;	/* core owes a callback */
	int				 cancelled;	/* and the caller left meanwhile */
	int				 woke;
	uint64_t			 received;
	uint64_t			 max_data;
};

static void core_fs_go(struct core_fs *f);

static void
core_fs_free(struct core_fs *f)
{
	free(f->name);
	agent_fs_done(&f->req);
	free(f);
}

/* The end: the caller hears once, then @f is gone. */
static void
core_fs_end(struct core_fs *f, int err, const char *cause, const char *path, uint64_t value)
{
	if (f->agent != NULL) {
		core_unhold(f->core, f->name);
		f->agent = NULL;
	}
	core_touch(f->core, f->name);
	f->cb->done(f->arg, err, cause, path, value);
	core_fs_free(f);
}

static void
core_fs_fail(struct core_fs *f, int err, char *cause)
{
	core_fs_end(f, err, cause ? cause : strerror(-err), NULL, 0);
	free(cause);
}

/* Sends what the guest's credit takes of a write's body, then its end. */
static void
core_fs_push(void *arg)
{
	struct core_fs *f = arg;
	size_t n;

	if (f->req.op != AGENT_FS_WRITE || f->off > f->len)
		return;
	n = agent_stdin_room(f->agent, f->chan);
	if (n > f->len - f->off)
		n = f->len - f->off;
	if (n > 0 && agent_stdin(f->agent, f->chan, f->body + f->off, n) == 0)
		f->off += n;
	if (f->off == f->len) {
		agent_stdin_eof(f->agent, f->chan);
		f->off = f->len + 1;	/* all sent */
	}
}

static void
core_fs_output(void *arg, int stream, const uint8_t *data, size_t len)
{
	struct core_fs *f = arg;

	f->received += len;
	if (stream != 1 || f->received > f->max_data) {
		agent_forget(f->agent, f->chan);
		core_fs_fail(f, -EPROTO, xstrdup("the guest sent more than was asked for"));
		return;
	}
	f->cb->data(f->arg, data, len);
}

static void
core_fs_lost(void *arg, const char *why)
{
	struct core_fs *f = arg;

	f->agent = NULL;	/* the channel is gone: nothing to unhold through it */
	core_unhold(f->core, f->name);
	core_fs_fail(f, -ECANCELED, xasprintf("the sprite went away during the request (%s)",
	    why));
}

static void
core_fs_answered(void *arg, int err, const char *message, uint64_t value)
{
	struct core_fs *f = arg;

	if (err < 0)
		core_fs_end(f, err, message, NULL, 0);
	else
		core_fs_end(f, 0, NULL, message, value);
}

static const struct agent_session_callbacks core_fs_session_cb = {
	.output = core_fs_output,
	.lost = core_fs_lost,
	.stdin_room = core_fs_push,
	.manual_window = 1,
	.fs_done = core_fs_answered,
};

/* Core answered a wait (for idle, or for a wake): go on, or drop a
 * request whose caller left. */
static void
core_fs_resume(void *arg, int err, const char *cause)
{
	struct core_fs *f = arg;

	f->waiting = 0;
	if (f->cancelled) {
		core_fs_free(f);
		return;
	}
	if (err < 0) {
		core_fs_fail(f, err, xstrdup(cause ? cause : strerror(-err)));
		return;
	}
	core_fs_go(f);
}

/* The sprite is idle: wake it if it sleeps (core_fs_resume comes back
 * here once it is awake), then reach its agent and send. */
static void
core_fs_go(struct core_fs *f)
{
	char *cause = NULL;
	struct agent *a;
	int r;

	r = core_agent_wake(f->core, f->name, &f->woke, core_fs_resume, f, &a, &cause);
	if (r == 1) {
		f->waiting = 1;
		return;
	}
	if (r == 0) {
		r = agent_fs(a, &f->req, &core_fs_session_cb, f, &f->chan);
		if (r == -ENOTSUP)
			cause = xstrdup("this sprite's guest agent is too old to serve files: "
			    "make a new sprite to use the filesystem calls");
		else if (r < 0)
			cause = xstrdup("the sprite's agent is not connected");
	}
	if (r < 0) {
		core_fs_fail(f, r, cause);
		return;
	}
	f->agent = a;
	core_hold(f->core, f->name);
	core_fs_push(f);
}

int
core_fs(struct core *c, const char *name, const struct agent_fs *req, const void *body,
    size_t len, const struct core_fs_callbacks *cb, void *arg, struct core_fs **ret,
    char **cause)
{
	struct sprite_row row = { 0 };
	struct core_fs *f;
	int r;

	r = core_get(c, name, &row, cause);
	sprite_row_done(&row);
	if (r < 0)
		return r;
	f = xcalloc(1, sizeof *f);
	f->core = c;
	f->name = xstrdup(name);
	f->req = *req;
	f->req.path = xstrdup(req->path);
	f->req.path2 = xstrdup(req->path2 ? req->path2 : "");
	f->req.cwd = xstrdup(req->cwd ? req->cwd : "");
	f->body = body;
	f->len = len;
	f->cb = cb;
	f->arg = arg;
	f->max_data = req->op == AGENT_FS_READ ? req->limit :
	    req->op == AGENT_FS_LIST ? CORE_FS_LIST_BYTES : 0;
	r = core_wait_idle(c, name, core_fs_resume, f, cause);
	if (r < 0) {
		core_fs_free(f);
		return r;
	}
	f->waiting = 1;
	core_touch(c, name);
	*ret = f;
	return 0;
}

void
core_fs_consumed(struct core_fs *f, size_t n)
{
	if (f->agent != NULL)
		agent_consumed(f->agent, f->chan, n);
}

void
core_fs_cancel(struct core_fs *f)
{
	if (f == NULL)
		return;
	if (f->waiting) {
		f->cancelled = 1;	/* freed when core answers */
		return;
	}
	if (f->agent != NULL) {
		agent_forget(f->agent, f->chan);
		core_unhold(f->core, f->name);
	}
	core_fs_free(f);
}
