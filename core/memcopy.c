/*
 * memcopy: copies the guest RAM of a memory checkpoint into the RAM file of
 * the sprite that resumes it (a restore, or a fork), while the rest of the
 * operation goes on.
 *
 * The copy (~100 MB, sparse) takes about as long as making the new disk top
 * and starting QEMU together, and nothing reads the RAM before the saved
 * device state is loaded. So the copy starts first; the disk is made and
 * QEMU started beside it with load_later (vmm.h); the state is loaded when
 * both are done.
 *
 * The file gets its full size before anything is copied: QEMU refuses a RAM
 * file shorter than the guest's memory, and cp would grow it as it went.
 * The copy runs on the loop in slices (MEMCOPY_SLICE per turn), only where
 * the source has data (copy_sparse_step).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core_internal.h"
#include "memcopy.h"
#include "common/loop.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "vmm/vmm.h"

/* What one loop turn copies at most: a few ms here. */
#define MEMCOPY_SLICE	(4 << 20)

struct memcopy {
	struct core	*core;
	struct sprite	*s;
	int		 src;
	int		 dst;
	off_t		 off;		/* copied up to here */
	off_t		 size;		/* the source's */
	uint64_t	 timer;		/* the next slice, while it runs */
	int		 err;		/* once done: 0 or a negative errno */
	char		*file;		/* the RAM file being written */
};

static void
memcopy_free(struct memcopy *m)
{
	if (m->timer != 0)
		loop_del_timer(m->core->loop, m->timer);
	if (m->src >= 0)
		close(m->src);
	if (m->dst >= 0)
		close(m->dst);
	free(m->file);
	free(m);
}

static char *
memcopy_cause(const struct memcopy *m)
{
	return xasprintf("cannot copy the checkpoint's memory: %s", strerror(-m->err));
}

static void
memcopy_step(struct loop *l, uint64_t id, void *arg)
{
	struct memcopy *m = arg;
	struct sprite *s = m->s;
	struct core *c = m->core;
	char *cause;
	int r;

	m->timer = 0;
	r = copy_sparse_step(m->src, m->dst, &m->off, m->size, MEMCOPY_SLICE);
	if (r == 0) {
		m->timer = loop_add_timer(l, 0, memcopy_step, m);
		return;
	}
	m->err = r < 0 ? r : 0;
	close(m->src);
	close(m->dst);
	m->src = m->dst = -1;
	/* A VM of the operation is waiting for the file: it was started
	 * while the copy ran (memcopy_running), with load_later. */
	if (s->vm == NULL)
		return;
	if (m->err == 0) {
		c->vmm->load(s->vm, 0, NULL);
		return;
	}
	cause = memcopy_cause(m);
	c->vmm->load(s->vm, -EIO, cause);
	free(cause);
}

int
memcopy_start(struct sprite *s, const char *mem_dir)
{
	struct core *c = s->core;
	struct memcopy *m = xcalloc(1, sizeof *m);
	char *from = xasprintf("%s/ram", mem_dir);
	struct stat st;
	int r = 0;

	memcopy_cancel(s);
	m->core = c;
	m->s = s;
	m->dst = -1;
	m->file = sprite_ram_file(c, s->id);
	sprite_discard_ram(c, s->id);	/* a stale one: nobody's */
	m->src = open(from, O_RDONLY | O_CLOEXEC);
	if (m->src < 0 || fstat(m->src, &st) < 0)
		r = -errno;
	if (r == 0) {
		m->size = st.st_size;
		m->dst = open(m->file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (m->dst < 0 || ftruncate(m->dst, m->size) < 0)
			r = -errno;
	}
	free(from);
	if (r < 0) {
		if (m->dst >= 0)
			unlink(m->file);
		memcopy_free(m);
		return r;
	}
	m->timer = loop_add_timer(c->loop, 0, memcopy_step, m);
	s->memcopy = m;
	return 0;
}

int
memcopy_running(const struct sprite *s)
{
	return s->memcopy != NULL && s->memcopy->timer != 0;
}

int
memcopy_state(const struct sprite *s, const char *mem_dir, char **ret_state, char **cause)
{
	const struct memcopy *m = s->memcopy;

	if (m != NULL && m->timer == 0 && m->err != 0) {
		*cause = memcopy_cause(m);
		return -EIO;
	}
	*ret_state = xasprintf("%s/state", mem_dir);
	return 0;
}

void
memcopy_cancel(struct sprite *s)
{
	struct memcopy *m = s->memcopy;

	if (m == NULL)
		return;
	s->memcopy = NULL;
	if (m->timer != 0)
		unlink(m->file);	/* half written: nobody's */
	memcopy_free(m);
}
