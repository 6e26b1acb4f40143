/*
 * proxy: forwarded connections into a sprite (see core.h, core_proxy). Owns
 * each one from the call until its end or its cancel: the wait for the
 * sprite to be idle, its wake if it sleeps, the guest's connection on an
 * agent channel, and the hold that keeps the sprite awake while it is open
 * (a forwarded connection is use, quiet or not).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "core.h"
#include "common/xmalloc.h"
#include "vmm/agent.h"

struct core_proxy {
	struct core				*core;
	char					*name;
	char					*host;
	uint16_t				 port;
	const struct core_proxy_callbacks	*cb;
	void					*arg;
	struct agent				*agent;	/* once asked of the guest */
	uint32_t				 chan;
	int					 waiting;	/* core owes a callback */
	int					 cancelled;	/* and the caller left meanwhile */
	int					 woke;
	int					 connected;
};

static void core_proxy_go(struct core_proxy *p);

static void
core_proxy_free(struct core_proxy *p)
{
	free(p->name);
	free(p->host);
	free(p);
}

/* Lets go of the sprite: it may sleep again once idle. */
static void
core_proxy_release(struct core_proxy *p)
{
	if (p->agent != NULL) {
		core_unhold(p->core, p->name);
		p->agent = NULL;
	}
	core_touch(p->core, p->name);
}

/* It never connected: the caller hears once, then @p is gone. @cause is consumed. */
static void
core_proxy_fail(struct core_proxy *p, int err, char *cause)
{
	core_proxy_release(p);
	p->cb->connected(p->arg, err, cause);
	free(cause);
	core_proxy_free(p);
}

/* It was open and is over: likewise. */
static void
core_proxy_end(struct core_proxy *p, int err, const char *cause)
{
	core_proxy_release(p);
	p->cb->closed(p->arg, err, cause);
	core_proxy_free(p);
}

static void
core_proxy_started(void *arg, int err, const char *message)
{
	struct core_proxy *p = arg;

	if (err < 0) {
		core_proxy_fail(p, err, xasprintf("sprite \"%s\": %s", p->name,
		    message ? message : strerror(-err)));
		return;
	}
	p->connected = 1;
	p->cb->connected(p->arg, 0, NULL);
}

static void
core_proxy_output(void *arg, int stream, const uint8_t *data, size_t len)
{
	struct core_proxy *p = arg;

	p->cb->data(p->arg, data, len);
}

static void
core_proxy_exited(void *arg, int code, int sig)
{
	struct core_proxy *p = arg;
	char *cause = NULL;

	/* The guest's errno is not trusted to be one. */
	if (code > 0 && code < 4096 && sig == 0)
		cause = xasprintf("the connection in sprite \"%s\" failed: %s", p->name,
		    strerror(code));
	if (!p->connected) {	/* dropped while it connected */
		core_proxy_fail(p, -ECONNABORTED, cause ? cause :
		    xstrdup("the connection was dropped"));
		return;
	}
	core_proxy_end(p, cause ? -code : 0, cause);
	free(cause);
}

static void
core_proxy_lost(void *arg, const char *why)
{
	struct core_proxy *p = arg;
	char *cause = xasprintf("sprite \"%s\" stopped while the connection was open (%s)",
	    p->name, why);

	if (!p->connected) {
		core_proxy_fail(p, -ECONNRESET, cause);
		return;
	}
	core_proxy_end(p, -ECONNRESET, cause);
	free(cause);
}

static void
core_proxy_room(void *arg)
{
	struct core_proxy *p = arg;

	if (p->cb->room != NULL)
		p->cb->room(p->arg);
}

static const struct agent_session_callbacks core_proxy_session_cb = {
	.started = core_proxy_started,
	.output = core_proxy_output,
	.exited = core_proxy_exited,
	.lost = core_proxy_lost,
	.stdin_room = core_proxy_room,
	.manual_window = 1,
};

/* Core answered a wait (for idle, or for a wake): go on, or drop a
 * connection whose caller left. */
static void
core_proxy_resume(void *arg, int err, const char *cause)
{
	struct core_proxy *p = arg;

	p->waiting = 0;
	if (p->cancelled) {
		core_proxy_free(p);
		return;
	}
	if (err < 0) {
		core_proxy_fail(p, err, xstrdup(cause ? cause : strerror(-err)));
		return;
	}
	core_proxy_go(p);
}

/* The sprite is idle: wake it if it sleeps (core_proxy_resume comes back
 * here once it is awake), then ask its agent to connect. */
static void
core_proxy_go(struct core_proxy *p)
{
	char *cause = NULL;
	struct agent *a;
	int r;

	r = core_agent_wake(p->core, p->name, &p->woke, core_proxy_resume, p, &a, &cause);
	if (r == 1) {
		p->waiting = 1;
		return;
	}
	if (r == 0) {
		r = agent_connect(a, p->host, p->port, &core_proxy_session_cb, p, &p->chan);
		if (r == -ENOTSUP)
			cause = xasprintf("sprite \"%s\": this sprite's agent is too old to "
			    "forward connections (it speaks version %u, %u is needed): make a "
			    "new sprite to use them", p->name, agent_version(a),
			    AGENT_VERSION_PROXY);
		else if (r < 0)
			cause = xstrdup("the sprite's agent is not connected");
	}
	if (r < 0) {
		core_proxy_fail(p, r, cause);
		return;
	}
	p->agent = a;
	core_hold(p->core, p->name);
}

int
core_proxy(struct core *c, const char *name, const char *host, uint16_t port,
    const struct core_proxy_callbacks *cb, void *arg, struct core_proxy **ret, char **cause)
{
	struct sprite_row row = { 0 };
	struct core_proxy *p;
	int r;

	r = core_get(c, name, &row, cause);
	sprite_row_done(&row);
	if (r < 0)
		return r;
	p = xcalloc(1, sizeof *p);
	p->core = c;
	p->name = xstrdup(name);
	p->host = xstrdup(host);
	p->port = port;
	p->cb = cb;
	p->arg = arg;
	r = core_wait_idle(c, name, core_proxy_resume, p, cause);
	if (r < 0) {
		core_proxy_free(p);
		return r;
	}
	p->waiting = 1;
	core_touch(c, name);
	*ret = p;
	return 0;
}

ssize_t
core_proxy_send(struct core_proxy *p, const void *data, size_t len)
{
	size_t room;
	int r;

	if (p->agent == NULL || !p->connected)
		return -ENOTCONN;
	room = agent_stdin_room(p->agent, p->chan);
	if (room == 0) {
		/* Refused whole, which asks for room callback. */
		r = agent_stdin(p->agent, p->chan, data, len);
		return r == -EAGAIN ? 0 : r < 0 ? r : (ssize_t)len;
	}
	if (len > room)
		len = room;
	r = agent_stdin(p->agent, p->chan, data, len);
	return r < 0 ? r : (ssize_t)len;
}

void
core_proxy_shutdown(struct core_proxy *p)
{
	if (p->agent != NULL && p->connected)
		agent_stdin_eof(p->agent, p->chan);
}

void
core_proxy_consumed(struct core_proxy *p, size_t n)
{
	if (p->agent != NULL)
		agent_consumed(p->agent, p->chan, n);
}

void
core_proxy_cancel(struct core_proxy *p)
{
	if (p == NULL)
		return;
	if (p->waiting) {
		p->cancelled = 1;	/* freed when core answers */
		return;
	}
	if (p->agent != NULL)
		agent_forget(p->agent, p->chan);
	core_proxy_release(p);
	core_proxy_free(p);
}
