/*
 * probe: POST /v1/sprites/NAME/probe?n=N measures the agent channel from
 * inside the daemon: N pings, then N execs of `true`, one after another, and
 * answers their medians in microseconds. What `make bench` reports as the
 * agent's round trip, without HTTP or the CLI in the way.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api_internal.h"
#include "common/loop.h"
#include "common/xmalloc.h"
#include "core/core.h"
#include "vmm/agent.h"

#define PROBE_MAX	1000

struct probe {
	struct api		*api;
	struct MHD_Connection	*conn;
	struct agent		*agent;
	int			 n;
	int			 done;		/* samples taken in this phase */
	int			 phase;		/* 0 pings, 1 execs, 2 finished */
	uint64_t		*ping_us;
	uint64_t		*exec_us;
	uint64_t		 t0;
	int			 err;
	char			*cause;
};

static void probe_next(struct probe *p);

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double
median(uint64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_u64);
	return n % 2 ? (double)v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

static void
probe_fail(struct probe *p, int err, const char *cause)
{
	p->agent = NULL;
	p->err = err;
	p->cause = xstrdup(cause);
	p->phase = 2;
	api_resume(p->api, p->conn);
}

static void
probe_ping(struct agent *a, int err, uint64_t usec, void *arg)
{
	struct probe *p = arg;

	if (err < 0) {
		probe_fail(p, err, "the sprite's agent went away");
		return;
	}
	p->ping_us[p->done++] = usec;
	probe_next(p);
}

static void
probe_started(void *arg, int err, const char *message)
{
	if (err < 0)
		probe_fail(arg, err, message);
}

static void
probe_output(void *arg, int stream, const uint8_t *data, size_t len)
{
}

static void
probe_exited(void *arg, int code, int sig)
{
	struct probe *p = arg;

	p->exec_us[p->done++] = loop_now_us() - p->t0;
	probe_next(p);
}

static void
probe_lost(void *arg, const char *why)
{
	probe_fail(arg, -EIO, why);
}

static const struct agent_session_callbacks probe_cb = {
	.started = probe_started,
	.output = probe_output,
	.exited = probe_exited,
	.lost = probe_lost,
};

static void
probe_next(struct probe *p)
{
	static char *argv[] = { "true", NULL };
	struct agent_exec e = { .argv = argv };
	uint32_t chan;
	int r;

	if (p->phase == 0 && p->done == p->n) {
		p->phase = 1;
		p->done = 0;
	}
	if (p->phase == 1 && p->done == p->n) {
		p->phase = 2;
		api_resume(p->api, p->conn);
		return;
	}
	if (p->phase == 0) {
		r = agent_ping(p->agent, probe_ping, p);
	} else {
		p->t0 = loop_now_us();
		r = agent_exec(p->agent, &e, &probe_cb, p, &chan);
	}
	if (r < 0)
		probe_fail(p, r, "the sprite's agent is not connected");
}

void
probe_free(struct probe *p)
{
	if (p == NULL)
		return;
	free(p->ping_us);
	free(p->exec_us);
	free(p->cause);
	free(p);
}

enum MHD_Result
probe_handle(struct api *a, struct MHD_Connection *conn, const char *name,
    struct probe **slot)
{
	struct probe *p = *slot;
	const char *nstr;
	char *cause = NULL;
	enum MHD_Result ret;
	cJSON *j;
	int r, n;

	if (p == NULL) {
		nstr = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "n");
		n = nstr ? atoi(nstr) : 10;
		if (n < 1 || n > PROBE_MAX)
			return api_error(conn, MHD_HTTP_BAD_REQUEST, "bad_request",
			    "n must be from 1 to 1000");
		p = xcalloc(1, sizeof *p);
		p->api = a;
		p->conn = conn;
		p->n = n;
		p->ping_us = xcalloc((size_t)n, sizeof *p->ping_us);
		p->exec_us = xcalloc((size_t)n, sizeof *p->exec_us);
		*slot = p;
		r = core_agent(a->core, name, &p->agent, &cause);
		if (r < 0) {
			const char *code;
			unsigned status = api_status_for(r, &code);

			ret = api_error(conn, status, code, cause);
			free(cause);
			p->phase = 2;
			return ret;
		}
		MHD_suspend_connection(conn);
		probe_next(p);
		return MHD_YES;
	}
	if (p->phase != 2)
		return MHD_YES;
	if (p->err < 0)
		return api_error(conn, MHD_HTTP_CONFLICT, "conflict", p->cause);
	j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "n", p->n);
	cJSON_AddNumberToObject(j, "ping_us", median(p->ping_us, p->n));
	cJSON_AddNumberToObject(j, "exec_us", median(p->exec_us, p->n));
	return api_json(conn, MHD_HTTP_OK, j);
}
