/*
 * buf: growable byte buffers and a bounds-checked reader.
 */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

void
buf_init(struct buf *b)
{
	memset(b, 0, sizeof *b);
}

void
buf_done(struct buf *b)
{
	free(b->data);
	memset(b, 0, sizeof *b);
}

uint8_t *
buf_reserve(struct buf *b, size_t n)
{
	if (b->off > 0 && b->off == b->len)
		b->off = b->len = 0;
	if (b->cap - b->len < n && b->off > 0 && b->off >= b->cap / 2) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap - b->len < n)
			cap *= 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	return b->data + b->len;
}

void
buf_commit(struct buf *b, size_t n)
{
	b->len += n;
}

void
buf_add(struct buf *b, const void *data, size_t n)
{
	if (n == 0)
		return;
	memcpy(buf_reserve(b, n), data, n);
	b->len += n;
}

void
buf_add_u8(struct buf *b, uint8_t v)
{
	buf_add(b, &v, 1);
}

void
buf_add_u16(struct buf *b, uint16_t v)
{
	uint8_t p[2] = { v & 0xff, v >> 8 };

	buf_add(b, p, 2);
}

void
buf_add_u32(struct buf *b, uint32_t v)
{
	uint8_t p[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24 };

	buf_add(b, p, 4);
}

void
buf_add_u64(struct buf *b, uint64_t v)
{
	buf_add_u32(b, (uint32_t)v);
	buf_add_u32(b, (uint32_t)(v >> 32));
}

void
buf_add_str(struct buf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	buf_add_u32(b, (uint32_t)n);
	buf_add(b, s, n);
}

/*
 * Formats straight into the buffer's free space and retries once with the
 * exact size. Not vsnprintf(NULL, 0, ...) first: besides formatting twice,
 * GCC 12 with -fsanitize=undefined takes that NULL for a null format string
 * (-Wformat-truncation) and the sanitizer build fails under -Werror.
 */
void
buf_add_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	char *p;
	int n;

	p = (char *)buf_reserve(b, 64);
	room = b->cap - b->len;
	va_start(ap, fmt);
	n = vsnprintf(p, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= room) {
		p = (char *)buf_reserve(b, (size_t)n + 1);
		va_start(ap, fmt);
		vsnprintf(p, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n > buf_used(b))
		n = buf_used(b);
	b->off += n;
	if (b->off == b->len)
		b->off = b->len = 0;
}

void
buf_reset(struct buf *b)
{
	b->off = b->len = 0;
}

const char *
buf_cstr(struct buf *b)
{
	*buf_reserve(b, 1) = '\0';
	return (const char *)buf_head(b);
}

void
rd_init(struct rd *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->err = 0;
}

static const uint8_t *
rd_take(struct rd *r, size_t n)
{
	const uint8_t *p;

	if (r->err || r->len - r->off < n) {
		r->err = 1;
		return NULL;
	}
	p = r->p + r->off;
	r->off += n;
	return p;
}

uint8_t
rd_u8(struct rd *r)
{
	const uint8_t *p = rd_take(r, 1);

	return p ? p[0] : 0;
}

uint16_t
rd_u16(struct rd *r)
{
	const uint8_t *p = rd_take(r, 2);

	return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

uint32_t
rd_u32(struct rd *r)
{
	const uint8_t *p = rd_take(r, 4);

	return p ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24 : 0;
}

uint64_t
rd_u64(struct rd *r)
{
	uint64_t lo = rd_u32(r);

	return lo | (uint64_t)rd_u32(r) << 32;
}

char *
rd_str(struct rd *r, size_t max)
{
	uint32_t n = rd_u32(r);
	const uint8_t *p;

	if (r->err || n > max) {
		r->err = 1;
		return NULL;
	}
	p = rd_take(r, n);
	if (p == NULL)
		return NULL;
	if (memchr(p, '\0', n) != NULL) {
		r->err = 1;
		return NULL;
	}
	return xstrndup((const char *)p, n);
}
