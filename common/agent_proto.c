/*
 * agent_proto: encoding and decoding of agent frames, shared by host and guest.
 */
#include "agent_proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

/* Limits on an EXEC payload's contents, well inside AGENT_MAX_PAYLOAD. */
#define AGENT_MAX_ARGS	4096
#define AGENT_MAX_STR	(256u * 1024)

int
agent_hdr_decode(const uint8_t *p, size_t n, struct agent_hdr *ret)
{
	struct rd r;
	struct agent_hdr h;

	if (n < AGENT_HDR_SIZE)
		return -EAGAIN;
	rd_init(&r, p, AGENT_HDR_SIZE);
	h.len = rd_u32(&r);
	h.type = rd_u16(&r);
	h.flags = rd_u16(&r);
	h.chan = rd_u32(&r);
	if (h.len > AGENT_MAX_PAYLOAD)
		return -EPROTO;
	*ret = h;
	return 0;
}

/*
 * The returned offset counts from the read position, not from out->data:
 * adding the payload may compact the buffer (buf_reserve moves the unread
 * bytes to the front), which would leave an absolute offset pointing at the
 * wrong bytes when part of @out was already written out.
 */
size_t
agent_frame_begin(struct buf *out, uint16_t type, uint32_t chan)
{
	size_t off = buf_used(out);

	buf_add_u32(out, 0);
	buf_add_u16(out, type);
	buf_add_u16(out, 0);
	buf_add_u32(out, chan);
	return off;
}

void
agent_frame_end(struct buf *out, size_t hdr_off)
{
	uint32_t len = (uint32_t)(buf_used(out) - hdr_off - AGENT_HDR_SIZE);
	uint8_t *p = buf_head(out) + hdr_off;

	p[0] = len & 0xff;
	p[1] = (len >> 8) & 0xff;
	p[2] = (len >> 16) & 0xff;
	p[3] = len >> 24;
}

void
agent_frame_add(struct buf *out, uint16_t type, uint32_t chan,
    const void *payload, size_t len)
{
	size_t off = agent_frame_begin(out, type, chan);

	buf_add(out, payload, len);
	agent_frame_end(out, off);
}

void
agent_window_add(struct buf *out, uint16_t type, uint32_t chan, uint32_t bytes)
{
	size_t off = agent_frame_begin(out, type, chan);

	buf_add_u32(out, bytes);
	agent_frame_end(out, off);
}

int
agent_window_decode(const uint8_t *p, size_t n, uint32_t *ret_bytes)
{
	struct rd r;
	uint32_t bytes;

	rd_init(&r, p, n);
	bytes = rd_u32(&r);
	if (r.err)
		return -EPROTO;
	*ret_bytes = bytes;
	return 0;
}

static void
agent_strv_add(struct buf *out, char **v)
{
	uint32_t n = 0;

	while (v != NULL && v[n] != NULL)
		n++;
	buf_add_u32(out, n);
	for (uint32_t i = 0; i < n; i++)
		buf_add_str(out, v[i]);
}

void
agent_exec_add(struct buf *out, uint32_t chan, const struct agent_exec *e)
{
	size_t off = agent_frame_begin(out, AGENT_EXEC, chan);

	buf_add_u32(out, e->flags);
	buf_add_u16(out, e->rows);
	buf_add_u16(out, e->cols);
	agent_strv_add(out, e->argv);
	agent_strv_add(out, e->env);
	buf_add_str(out, e->cwd ? e->cwd : "");
	agent_frame_end(out, off);
}

static char **
agent_strv_decode(struct rd *r)
{
	uint32_t n = rd_u32(r);
	char **v;

	if (r->err || n > AGENT_MAX_ARGS || n > rd_left(r) / 4) {
		r->err = 1;
		return NULL;
	}
	v = xcalloc((size_t)n + 1, sizeof *v);
	for (uint32_t i = 0; i < n && !r->err; i++)
		v[i] = rd_str(r, AGENT_MAX_STR);
	return v;
}

static void
agent_strv_free(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

int
agent_exec_decode(const uint8_t *p, size_t n, struct agent_exec *ret)
{
	struct agent_exec e = { 0 };
	struct rd r;

	rd_init(&r, p, n);
	e.flags = rd_u32(&r);
	e.rows = rd_u16(&r);
	e.cols = rd_u16(&r);
	e.argv = agent_strv_decode(&r);
	e.env = agent_strv_decode(&r);
	e.cwd = rd_str(&r, AGENT_MAX_STR);
	if (r.err || rd_left(&r) != 0 || e.argv == NULL || e.argv[0] == NULL ||
	    e.argv[0][0] == '\0') {
		agent_exec_done(&e);
		return -EPROTO;
	}
	for (size_t i = 0; e.env[i] != NULL; i++) {
		if (strchr(e.env[i], '=') == NULL || e.env[i][0] == '=') {
			agent_exec_done(&e);
			return -EPROTO;
		}
	}
	*ret = e;
	return 0;
}

void
agent_exec_done(struct agent_exec *e)
{
	agent_strv_free(e->argv);
	agent_strv_free(e->env);
	free(e->cwd);
	memset(e, 0, sizeof *e);
}

const char *
agent_type_name(uint16_t type)
{
	switch (type) {
	case AGENT_HELLO: return "hello";
	case AGENT_PING: return "ping";
	case AGENT_PONG: return "pong";
	case AGENT_EXEC: return "exec";
	case AGENT_EXEC_OK: return "exec-ok";
	case AGENT_EXEC_ERR: return "exec-err";
	case AGENT_STDIN: return "stdin";
	case AGENT_STDIN_EOF: return "stdin-eof";
	case AGENT_STDOUT: return "stdout";
	case AGENT_STDERR: return "stderr";
	case AGENT_EXIT: return "exit";
	case AGENT_SIGNAL: return "signal";
	case AGENT_RESIZE: return "resize";
	case AGENT_WINDOW: return "window";
	case AGENT_STDIN_WINDOW: return "stdin-window";
	case AGENT_SHUTDOWN: return "shutdown";
	case AGENT_SYNC: return "sync";
	case AGENT_SYNC_DONE: return "sync-done";
	case AGENT_REQUEST: return "request";
	case AGENT_REPLY: return "reply";
	case AGENT_IDENTITY: return "identity";
	}
	return "unknown";
}
