/*
 * qcow2: new empty layers, laid out as qemu-img create lays them out (see
 * QEMU's docs/interop/qcow2.txt), without the optional table of feature
 * names:
 *
 *   cluster 0   the header, the backing format extension, the backing name
 *   cluster 1   the refcount table: one entry, cluster 2
 *   cluster 2   the refcount block: clusters 0 to 3 (and further L1
 *               clusters) used once
 *   cluster 3   the L1 table, all zero: no cluster is allocated yet
 *
 * The file ends where the L1 table does; the rest of each cluster is a
 * hole, which reads as zeros. It is written as "FILE.tmp" and renamed, so
 * that a crash never leaves a partial layer under the name the database
 * knows (start-up collects a stray .tmp with the other unknown files).
 */
#include "qcow2.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "common/xmalloc.h"

#define QCOW2_MAGIC		0x514649fbu	/* "QFI\xfb" */
#define QCOW2_VERSION		3
#define QCOW2_CLUSTER_BITS	16
#define QCOW2_CLUSTER		(1u << QCOW2_CLUSTER_BITS)
#define QCOW2_REFCOUNT_ORDER	4	/* 16-bit refcounts */
#define QCOW2_HEADER_LEN	112	/* with the compression type byte, as QEMU 5.1+ */
#define QCOW2_EXT_BACKING_FMT	0xe2792acau
#define QCOW2_BACKING_MAX	1023	/* QEMU's limit on the backing name */
#define QCOW2_L1_CLUSTERS_MAX	64	/* 256 TiB of guest disk */
#define QCOW2_REFTABLE_OFF	(1 * (uint64_t)QCOW2_CLUSTER)
#define QCOW2_REFBLOCK_OFF	(2 * (uint64_t)QCOW2_CLUSTER)
#define QCOW2_L1_OFF		(3 * (uint64_t)QCOW2_CLUSTER)

struct qcow2_new {
	char		*file;
	char		*tmp;		/* written first, renamed to @file */
	char		*dir;		/* @file's directory, synced after the rename */
	uint8_t		*header;	/* the start of cluster 0 */
	size_t		 header_len;
	uint8_t		 reftable[8];
	uint8_t		*refblock;	/* its used start */
	size_t		 refblock_len;
	size_t		 l1_len;	/* bytes of zero entries */
};

static void
put_be16(uint8_t *p, uint16_t v)
{
	v = htobe16(v);
	memcpy(p, &v, sizeof v);
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, sizeof v);
}

static void
put_be64(uint8_t *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, sizeof v);
}

/* The guest-visible size of @backing: a qcow2's from its header, a raw
 * file's rounded up to whole sectors, as QEMU sees it. */
static int
qcow2_backing_size(const char *backing, const char *fmt, uint64_t *ret)
{
	uint8_t h[32];
	uint32_t magic;
	uint64_t size = 0;
	struct stat st;
	ssize_t n;
	int fd, r;

	fd = open(backing, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (strcmp(fmt, "raw") == 0) {
		r = fstat(fd, &st) < 0 ? -errno : 0;
		size = r == 0 ? ((uint64_t)st.st_size + 511) / 512 * 512 : 0;
	} else {
		n = pread(fd, h, sizeof h, 0);
		memcpy(&magic, h, sizeof magic);
		memcpy(&size, h + 24, sizeof size);
		size = be64toh(size);
		r = n < 0 ? -errno : n != (ssize_t)sizeof h || be32toh(magic) != QCOW2_MAGIC ?
		    -EINVAL : 0;
	}
	close(fd);
	if (r == 0 && size == 0)
		r = -EINVAL;
	if (r == 0)
		*ret = size;
	return r;
}

int
qcow2_new_prepare(const char *file, const char *backing, const char *backing_fmt,
    struct qcow2_new **ret)
{
	size_t name_len = strlen(backing), fmt_len = strlen(backing_fmt);
	size_t fmt_pad = (fmt_len + 7) / 8 * 8, name_off, l1_clusters;
	uint64_t size = 0, l1_size;
	struct qcow2_new *q;
	uint8_t *h;
	int r;

	if (strcmp(backing_fmt, "qcow2") != 0 && strcmp(backing_fmt, "raw") != 0)
		return -EINVAL;
	if (name_len == 0)
		return -EINVAL;
	if (name_len > QCOW2_BACKING_MAX)
		return -ENAMETOOLONG;
	r = qcow2_backing_size(backing, backing_fmt, &size);
	if (r < 0)
		return r;
	/* One L1 entry maps one L2 table: a cluster of 8-byte entries. */
	l1_size = (size + ((uint64_t)QCOW2_CLUSTER << (QCOW2_CLUSTER_BITS - 3)) - 1) >>
	    (2 * QCOW2_CLUSTER_BITS - 3);
	l1_clusters = (l1_size * 8 + QCOW2_CLUSTER - 1) / QCOW2_CLUSTER;
	if (l1_clusters > QCOW2_L1_CLUSTERS_MAX)
		return -EFBIG;

	q = xcalloc(1, sizeof *q);
	q->file = xstrdup(file);
	q->tmp = xasprintf("%s.tmp", file);
	q->dir = path_dir(file);
	/* The header, one extension, the end of extensions, the name. */
	name_off = QCOW2_HEADER_LEN + 8 + fmt_pad + 8;
	q->header_len = name_off + name_len;
	q->header = h = xcalloc(1, q->header_len);
	put_be32(h + 0, QCOW2_MAGIC);
	put_be32(h + 4, QCOW2_VERSION);
	put_be64(h + 8, name_off);
	put_be32(h + 16, (uint32_t)name_len);
	put_be32(h + 20, QCOW2_CLUSTER_BITS);
	put_be64(h + 24, size);
	put_be32(h + 36, (uint32_t)l1_size);
	put_be64(h + 40, QCOW2_L1_OFF);
	put_be64(h + 48, QCOW2_REFTABLE_OFF);
	put_be32(h + 56, 1);	/* refcount table clusters */
	put_be32(h + 96, QCOW2_REFCOUNT_ORDER);
	put_be32(h + 100, QCOW2_HEADER_LEN);
	put_be32(h + QCOW2_HEADER_LEN, QCOW2_EXT_BACKING_FMT);
	put_be32(h + QCOW2_HEADER_LEN + 4, (uint32_t)fmt_len);
	memcpy(h + QCOW2_HEADER_LEN + 8, backing_fmt, fmt_len);
	memcpy(h + name_off, backing, name_len);

	put_be64(q->reftable, QCOW2_REFBLOCK_OFF);
	/* Used once: the header, the refcount table and block, the L1. */
	q->refblock_len = (3 + l1_clusters) * 2;
	q->refblock = xcalloc(1, q->refblock_len);
	for (size_t i = 0; i < 3 + l1_clusters; i++)
		put_be16(q->refblock + 2 * i, 1);
	q->l1_len = l1_size * 8;
	*ret = q;
	return 0;
}

int
qcow2_new_write(const struct qcow2_new *q)
{
	int fd, r;

	fd = open(q->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	r = pwrite_all(fd, q->header, q->header_len, 0);
	if (r == 0)
		r = pwrite_all(fd, q->reftable, sizeof q->reftable, QCOW2_REFTABLE_OFF);
	if (r == 0)
		r = pwrite_all(fd, q->refblock, q->refblock_len, QCOW2_REFBLOCK_OFF);
	/* The L1 table is zeros: the file only has to reach its end. */
	if (r == 0 && q->l1_len > 0 && ftruncate(fd, (off_t)(QCOW2_L1_OFF + q->l1_len)) < 0)
		r = -errno;
	if (r == 0 && fdatasync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat2(AT_FDCWD, q->tmp, AT_FDCWD, q->file, RENAME_NOREPLACE) < 0)
		r = -errno;
	if (r < 0) {
		unlink(q->tmp);
		return r;
	}
	/* The new name is durable before anyone records it. */
	r = fsync_dir(q->dir);
	if (r < 0)
		unlink(q->file);
	return r;
}

void
qcow2_new_free(struct qcow2_new *q)
{
	if (q == NULL)
		return;
	free(q->file);
	free(q->tmp);
	free(q->dir);
	free(q->header);
	free(q->refblock);
	free(q);
}

int
qcow2_create(const char *file, const char *backing, const char *backing_fmt)
{
	struct qcow2_new *q;
	int r;

	r = qcow2_new_prepare(file, backing, backing_fmt, &q);
	if (r < 0)
		return r;
	r = qcow2_new_write(q);
	qcow2_new_free(q);
	return r;
}
