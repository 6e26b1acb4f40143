/*
 * buf: a growable byte buffer with a read offset, used for socket input and
 * output queues and for building wire messages.
 */
#ifndef SPRIG_BUF_H
#define SPRIG_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t	*data;
	size_t	 off;	/* first unread byte */
	size_t	 len;	/* end of valid data */
	size_t	 cap;
};

void buf_init(struct buf *b);
void buf_done(struct buf *b);
/* Bytes available to read. */
static inline size_t buf_used(const struct buf *b) { return b->len - b->off; }
static inline uint8_t *buf_head(const struct buf *b) { return b->data + b->off; }
/* Makes room for @n more bytes and returns where to write them; call buf_commit. */
uint8_t *buf_reserve(struct buf *b, size_t n);
void buf_commit(struct buf *b, size_t n);
void buf_add(struct buf *b, const void *data, size_t n);
void buf_add_u8(struct buf *b, uint8_t v);
void buf_add_u16(struct buf *b, uint16_t v);	/* little endian */
void buf_add_u32(struct buf *b, uint32_t v);
void buf_add_u64(struct buf *b, uint64_t v);
/* Adds a u32 length then the bytes. */
void buf_add_str(struct buf *b, const char *s);
void buf_add_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drops @n bytes from the front. */
void buf_consume(struct buf *b, size_t n);
void buf_reset(struct buf *b);
/* Returns the contents as a NUL-terminated string, owned by @b. */
const char *buf_cstr(struct buf *b);

/*
 * A bounds-checked reader over received bytes. Reads past the end set @err
 * and return zeros, so a decoder checks once at the end.
 */
struct rd {
	const uint8_t	*p;
	size_t		 len;
	size_t		 off;
	int		 err;
};

void rd_init(struct rd *r, const void *p, size_t len);
uint8_t rd_u8(struct rd *r);
uint16_t rd_u16(struct rd *r);
uint32_t rd_u32(struct rd *r);
uint64_t rd_u64(struct rd *r);
/* Returns a newly allocated NUL-terminated copy of a u32-length string, or NULL. */
char *rd_str(struct rd *r, size_t max);
static inline size_t rd_left(const struct rd *r) { return r->len - r->off; }

#endif
