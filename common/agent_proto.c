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

void
agent_fs_add(struct buf *out, uint32_t chan, const struct agent_fs *f)
{
	size_t off = agent_frame_begin(out, AGENT_FS, chan);

	buf_add_u32(out, f->op);
	buf_add_u32(out, f->flags);
	buf_add_u32(out, f->mode);
	buf_add_u32(out, f->uid);
	buf_add_u32(out, f->gid);
	buf_add_u64(out, f->limit);
	buf_add_str(out, f->path ? f->path : "");
	buf_add_str(out, f->path2 ? f->path2 : "");
	buf_add_str(out, f->cwd ? f->cwd : "");
	agent_frame_end(out, off);
}

int
agent_fs_decode(const uint8_t *p, size_t n, struct agent_fs *ret)
{
	struct agent_fs f = { 0 };
	struct rd r;

	rd_init(&r, p, n);
	f.op = rd_u32(&r);
	f.flags = rd_u32(&r);
	f.mode = rd_u32(&r);
	f.uid = rd_u32(&r);
	f.gid = rd_u32(&r);
	f.limit = rd_u64(&r);
	f.path = rd_str(&r, AGENT_FS_PATH_MAX);
	f.path2 = rd_str(&r, AGENT_FS_PATH_MAX);
	f.cwd = rd_str(&r, AGENT_FS_PATH_MAX);
	if (r.err || rd_left(&r) != 0 || f.op < AGENT_FS_READ || f.op > AGENT_FS_OP_MAX ||
	    f.path[0] == '\0' || f.mode > 07777) {
		agent_fs_done(&f);
		return -EPROTO;
	}
	*ret = f;
	return 0;
}

void
agent_fs_done(struct agent_fs *f)
{
	free(f->path);
	free(f->path2);
	free(f->cwd);
	memset(f, 0, sizeof *f);
}

void
agent_fs_entry_add(struct buf *out, const struct agent_fs_entry *e)
{
	buf_add_u8(out, e->type);
	buf_add_u32(out, e->mode);
	buf_add_u64(out, e->size);
	buf_add_u64(out, (uint64_t)e->mtime);
	buf_add_str(out, e->name);
}

int
agent_fs_entry_decode(struct rd *r, struct agent_fs_entry *ret)
{
	struct agent_fs_entry e;

	e.type = rd_u8(r);
	e.mode = rd_u32(r);
	e.size = rd_u64(r);
	e.mtime = (int64_t)rd_u64(r);
	e.name = rd_str(r, AGENT_FS_PATH_MAX);
	if (r->err || e.type < AGENT_FS_FILE || e.type > AGENT_FS_OTHER || e.mode > 07777 ||
	    e.name[0] == '\0') {
		free(e.name);
		r->err = 1;
		return -EPROTO;
	}
	*ret = e;
	return 0;
}

void
agent_connect_add(struct buf *out, uint32_t chan, const char *host, uint16_t port)
{
	size_t off = agent_frame_begin(out, AGENT_CONNECT, chan);

	buf_add_str(out, host);
	buf_add_u32(out, port);
	agent_frame_end(out, off);
}

int
agent_connect_decode(const uint8_t *p, size_t n, char **ret_host, uint16_t *ret_port)
{
	struct rd r;
	char *host;
	uint32_t port;

	rd_init(&r, p, n);
	host = rd_str(&r, AGENT_CONNECT_HOST_MAX);
	port = rd_u32(&r);
	/* A newer host may add fields at the end. */
	if (r.err || host[0] == '\0' || port == 0 || port > 65535) {
		free(host);
		return -EPROTO;
	}
	*ret_host = host;
	*ret_port = (uint16_t)port;
	return 0;
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
	case AGENT_FS: return "fs";
	case AGENT_FS_DONE: return "fs-done";
	case AGENT_CONNECT: return "connect";
	}
	return "unknown";
}
