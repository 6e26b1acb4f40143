/*
 * merge: keeps the chain of qcow2 layers QEMU opens for a sprite shallow
 * (DESIGN.md, "Disk: a tree of layers"), so a sprite with 500 checkpoints
 * reads as fast as one with 5, and checks a chain before it is booted.
 *
 * How. A frozen layer is never written and may be shared by checkpoints,
 * forks and templates, so layers are never merged into one another
 * (block-commit and qemu-img commit write into the layer below). What may be
 * written is a sprite's writable top, which nothing else uses. A merge copies
 * into the top what the layers between it and a chosen base hold and the top
 * lacks, then makes the base the top's backing file: live with QEMU's
 * block-stream (the guest runs on and reads the same bytes throughout), or,
 * while no VM has the top open, with qemu-img rebase in its safe mode (which
 * reads only what is allocated above the base). Every checkpoint keeps its
 * layer and that layer's own chain, untouched, so it restores as before; the
 * layers only the top held are released.
 *
 * When. A top's depth (the qcow2 layers QEMU opens, the top included) grows
 * only at a checkpoint (the new top goes over the old one) or when a new top
 * goes over a checkpoint (restore, fork, template). Past MERGE_MAX_DEPTH it
 * is merged: after a checkpoint has been answered (the sprite stays busy
 * until the merge ends, so the next operation waits for it), and before a
 * restored or forked top is booted. Every frozen layer was a top once, so
 * its chain is bounded as well: nothing QEMU opens is deeper than
 * MERGE_MAX_DEPTH + 1.
 *
 * Which base. At least deep enough to leave MERGE_KEEP_DEPTH; then on down
 * while the next layer holds no more data than what is being merged already
 * (its allocated bytes beyond the smallest layer's, which are metadata), as
 * size-tiered compaction does: a big merged layer is absorbed again only
 * once as much has gathered above it, so a byte is copied a logarithmic
 * number of times rather than at every merge. The price is
 * disk space: a merged top repeats what the layers under it hold, since
 * those stay for their checkpoints.
 *
 * Crash safety. A top's qcow2 header is the truth. QEMU or qemu-img rewrites
 * it as a merge's last step, and only then does the database follow
 * (merge_sync: the top's parent becomes the layer its header names, and the
 * layers nothing holds any more are released). A merge cut off at any point
 * leaves the header naming the old parent (as before: the clusters copied
 * hold the bytes the guest saw anyway) or the new one (start-up runs
 * merge_sync: as after).
 */
#include "merge.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core_internal.h"
#include "common/failpoint.h"
#include "common/proc.h"
#include "common/xmalloc.h"
#include "vmm/vmm.h"

#define QCOW2_MAGIC	0x514649fbU

/* Where a merge takes a top: onto which layer, and how deep it was. */
struct merge_plan {
	int64_t	 base_id;	/* the top's parent afterwards; 0: the image */
	char	*base_file;
	const char *base_fmt;	/* "qcow2", or "raw" for the image */
	int	 depth;		/* the top's depth now, and after the merge */
	int	 depth_after;
};

static uint64_t
be_get(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/*
 * The backing file a qcow2 file's header names (newly allocated; NULL when
 * it has none). -ENOENT when the file is missing, -EINVAL when it is not a
 * qcow2 file, another negative errno when it cannot be read.
 */
static int
qcow2_backing(const char *path, char **ret)
{
	unsigned char h[20];
	uint64_t off, len;
	char *name = NULL;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (pread(fd, h, sizeof h, 0) != (ssize_t)sizeof h ||
	    be_get(h, 4) != QCOW2_MAGIC || be_get(h + 4, 4) < 2) {
		r = -EINVAL;
		goto out;
	}
	off = be_get(h + 8, 8);
	len = be_get(h + 16, 4);
	if (off != 0) {
		if (len == 0 || len > 1023) {
			r = -EINVAL;
			goto out;
		}
		name = xmalloc(len + 1);
		if (pread(fd, name, len, (off_t)off) != (ssize_t)len) {
			free(name);
			name = NULL;
			r = -EINVAL;
			goto out;
		}
		name[len] = '\0';
	}
	*ret = name;
out:
	close(fd);
	return r;
}

/* The same file: the same name, or the same file once links are resolved. */
static int
same_file(const char *a, const char *b)
{
	char ra[PATH_MAX], rb[PATH_MAX];

	if (a == NULL || b == NULL)
		return 0;
	if (strcmp(a, b) == 0)
		return 1;
	return realpath(a, ra) != NULL && realpath(b, rb) != NULL && strcmp(ra, rb) == 0;
}

/* What a layer file holds on disk, in bytes (0 if it cannot be told). */
static int64_t
layer_bytes(const char *file)
{
	struct stat st;

	return stat(file, &st) == 0 ? (int64_t)st.st_blocks * 512 : 0;
}

/* The root filesystem under a chain (newly allocated), or NULL. */
static char *
chain_rootfs(struct core *c, int64_t image_id)
{
	struct image_files files = { 0 };
	char *rootfs = NULL;

	if (images_files(c->images, image_id, &files) == 0) {
		rootfs = files.rootfs;
		files.rootfs = NULL;
	}
	image_files_done(&files);
	return rootfs;
}

/*
 * Whether a top over layer @parent_id is too deep: 1 with @ret filled (free
 * it with merge_plan_done) when it must be merged, 0 when not, or a
 * negative errno when the chain cannot be read.
 */
static int
merge_plan(struct core *c, int64_t parent_id, struct merge_plan *ret)
{
	struct layer_row *chain = NULL;
	size_t n = 0, j;
	int64_t acc = 0, least = 0, *bytes;
	int r;

	if (parent_id == 0)
		return 0;	/* right on the image */
	r = store_layer_chain(c->store, parent_id, &chain, &n);
	if (r < 0)
		return r;
	if ((int)n + 1 <= MERGE_MAX_DEPTH) {
		r = 0;
		goto out;
	}
	/* What each layer holds beyond an empty layer's metadata, which the
	 * smallest of the chain stands for. */
	bytes = xcalloc(n, sizeof *bytes);
	for (size_t i = 0; i < n; i++) {
		bytes[i] = layer_bytes(chain[i].file);
		if (i == 0 || bytes[i] < least)
			least = bytes[i];
	}
	/* chain[0 .. j-1] go into the top; chain[j] becomes its parent. */
	j = n + 1 - MERGE_KEEP_DEPTH;
	for (size_t i = 0; i < j; i++)
		acc += bytes[i] - least;
	while (j < n && bytes[j] - least <= acc)
		acc += bytes[j++] - least;
	free(bytes);
	memset(ret, 0, sizeof *ret);
	ret->depth = (int)n + 1;
	ret->depth_after = (int)(n - j) + 1;
	if (j < n) {
		ret->base_id = chain[j].id;
		ret->base_file = chain[j].file;
		chain[j].file = NULL;
		ret->base_fmt = "qcow2";
	} else {
		ret->base_file = chain_rootfs(c, chain[n - 1].image_id);
		ret->base_fmt = "raw";
		if (ret->base_file == NULL) {
			r = -ENOENT;
			goto out;
		}
	}
	r = 1;
out:
	layer_rows_free(chain, n);
	return r;
}

static void
merge_plan_done(struct merge_plan *p)
{
	if (p == NULL)
		return;
	free(p->base_file);
	memset(p, 0, sizeof *p);
}

/* Merges into @top_file, which no VM has open, with qemu-img; @fn hears
 * when it exits (status 0: the top's backing is the plan's base). */
static int
merge_offline(struct core *c, const char *top_file, const struct merge_plan *p,
    void (*fn)(struct proc *, int, void *), void *arg, struct proc **ret)
{
	char *argv[] = { "qemu-img", "rebase", "-q", "-f", "qcow2", "-b", p->base_file,
	    "-F", (char *)p->base_fmt, (char *)top_file, NULL };
	struct proc_spec spec = { .argv = argv };

	return proc_spawn(c->loop, &spec, fn, arg, ret);
}

int
merge_new_top(struct core *c, const char *file, int64_t parent_id,
    void (*fn)(struct proc *, int, void *), void *arg, struct proc **ret,
    int64_t *ret_base)
{
	struct merge_plan p = { 0 };
	int r;

	r = merge_plan(c, parent_id, &p);
	if (r == 1 && merge_offline(c, file, &p, fn, arg, ret) == 0)
		*ret_base = p.base_id;
	else
		r = 0;
	merge_plan_done(&p);
	return r;
}

int
merge_sync(struct core *c, int64_t top_id)
{
	struct layer_row *chain = NULL;
	char *backing = NULL, *rootfs = NULL;
	int64_t parent = -1;
	size_t n = 0;
	int r;

	r = store_layer_chain(c->store, top_id, &chain, &n);
	if (r < 0)
		return r;
	if (chain[0].frozen) {
		r = 0;	/* frozen layers never change */
		goto out;
	}
	r = qcow2_backing(chain[0].file, &backing);
	if (r < 0)
		goto out;
	if (n > 1 && same_file(backing, chain[1].file)) {
		r = 0;
		goto out;
	}
	for (size_t i = 2; i < n && parent < 0; i++) {
		if (same_file(backing, chain[i].file))
			parent = chain[i].id;
	}
	if (parent < 0 && n > 1) {
		rootfs = chain_rootfs(c, chain[0].image_id);
		if (same_file(backing, rootfs))
			parent = 0;
	}
	if (parent < 0) {
		r = 0;	/* as recorded, or a header sprig did not write: leave it */
		goto out;
	}
	r = store_layer_set_parent(c->store, top_id, parent);
	if (r < 0)
		goto out;
	failpoint("merge:committed");
	core_layer_release(c, chain[1].id);
	r = 1;
out:
	free(rootfs);
	free(backing);
	layer_rows_free(chain, n);
	return r;
}

/* Ends a merge of sprite @s's top, and the operation it was part of. */
static void
merge_end(struct sprite *s, int err, const char *cause)
{
	struct core *c = s->core;

	if (err == 0 && merge_sync(c, s->layer_id) < 0) {
		err = -EIO;
		cause = "its top layer's header cannot be read back";
	}
	if (err < 0)
		core_event(c, s->name, "error", "merging its disk layers failed: %s", cause);
	sprite_op_end(s, 0, NULL);
}

static void
merge_streamed(struct vm *vm, int err, const char *cause, void *arg)
{
	failpoint("merge:streamed");
	merge_end(arg, err, cause);
}

static void
merge_rebased(struct proc *p, int status, void *arg)
{
	struct sprite *s = arg;
	char *cause = NULL;

	s->img_proc = NULL;
	failpoint("merge:streamed");
	if (status != 0)
		cause = xasprintf("qemu-img %s", proc_status_str(status));
	merge_end(s, status != 0 ? -EIO : 0, cause);
	free(cause);
}

int
merge_sprite(struct sprite *s)
{
	struct core *c = s->core;
	struct layer_row top = { 0 };
	struct merge_plan p = { 0 };
	int r;

	merge_sync(c, s->layer_id);	/* a merge that ended unseen */
	r = store_layer_get(c->store, s->layer_id, &top);
	if (r == 0)
		r = merge_plan(c, top.parent_id, &p);
	if (r <= 0)
		goto out;
	if (s->vm != NULL && s->vm_ready)
		r = c->vmm->stream(s->vm, p.base_file, merge_streamed, s);
	else if (s->vm == NULL)
		r = merge_offline(c, top.file, &p, merge_rebased, s, &s->img_proc);
	else
		r = -EBUSY;
	if (r == 0) {
		core_event(c, s->name, "merge", "merging its disk layers: %d deep, %d after",
		    p.depth, p.depth_after);
		failpoint("merge:started");
		r = 1;
	}
out:
	if (r < 0)
		core_event(c, s->name, "error", "cannot merge its disk layers: %s",
		    strerror(-r));
	merge_plan_done(&p);
	layer_row_done(&top);
	return r > 0;
}

/* Why layer @i of @chain is unusable (newly allocated), or NULL. */
static char *
chain_fault(const struct layer_row *chain, size_t n, size_t i, const char *rootfs)
{
	char *backing = NULL, *why = NULL;
	int r, ok = 0;

	r = qcow2_backing(chain[i].file, &backing);
	if (r == -ENOENT)
		return xasprintf("its disk layer %s is missing", chain[i].file);
	if (r == -EINVAL)
		return xasprintf("its disk layer %s is corrupt (not a qcow2 file)", chain[i].file);
	if (r < 0)
		return xasprintf("its disk layer %s cannot be read: %s", chain[i].file,
		    strerror(-r));
	/* The recorded parent, or an ancestor a merge the database has not
	 * caught up with put there. */
	for (size_t k = i + 1; k < n && !ok; k++)
		ok = same_file(backing, chain[k].file);
	if (!ok)
		ok = same_file(backing, rootfs);
	if (!ok)
		why = xasprintf("its disk layer %s is corrupt: it is over %s, not over %s",
		    chain[i].file, backing ? backing : "nothing",
		    i + 1 < n ? chain[i + 1].file : rootfs);
	free(backing);
	return why;
}

int
merge_check_disk(struct core *c, const struct sprite_row *row, char **cause)
{
	struct layer_row *chain = NULL;
	char *rootfs = NULL, *why = NULL;
	size_t n = 0;

	if (row->top_layer_id == 0)
		return 0;
	merge_sync(c, row->top_layer_id);
	if (store_layer_chain(c->store, row->top_layer_id, &chain, &n) < 0)
		return 0;	/* the boot says what is wrong with the database */
	rootfs = chain_rootfs(c, row->image_id);
	if (rootfs == NULL || access(rootfs, R_OK) < 0)
		why = xasprintf("its image's root filesystem %s is missing",
		    rootfs ? rootfs : "");
	for (size_t i = 0; i < n && why == NULL; i++)
		why = chain_fault(chain, n, i, rootfs);
	free(rootfs);
	layer_rows_free(chain, n);
	if (why == NULL)
		return 0;
	if (strcmp(row->state, SPRITE_BROKEN) != 0 || row->last_error == NULL ||
	    strcmp(row->last_error, why) != 0) {
		store_sprite_set_state(c->store, row->id, SPRITE_BROKEN, why);
		core_event(c, row->name, "error", "broken: %s", why);
	}
	*cause = xasprintf("sprite \"%s\" is broken: %s", row->name, why);
	free(why);
	return -EIO;
}

void
merge_recover(struct core *c)
{
	struct sprite_row *rows = NULL;
	size_t n = 0;
	char *cause = NULL;

	if (store_sprite_list(c->store, &rows, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (rows[i].top_layer_id == 0 || strcmp(rows[i].state, SPRITE_CREATING) == 0)
			continue;
		if (merge_sync(c, rows[i].top_layer_id) == 1)
			core_event(c, rows[i].name, "merge",
			    "a merge of its disk layers cut off by a crash was finished");
		/* A running QEMU holds its files open: it is checked at its
		 * next boot. */
		if (rows[i].pid == 0 && merge_check_disk(c, &rows[i], &cause) < 0) {
			free(cause);
			cause = NULL;
		}
	}
	sprite_rows_free(rows, n);
}
