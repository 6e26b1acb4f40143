/*
 * image: building and finding images. Owns the builds in progress and their
 * waiters.
 */
#include "image.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "names.h"
#include "common/loop.h"
#include "common/proc.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "db/store.h"

struct image_waiter {
	image_ready_fn		 fn;
	void			*arg;
	struct image_waiter	*next;
};

struct image_build {
	struct images		*im;
	char			*name;
	char			*hash;
	char			*tmp_dir;
	char			*final_dir;
	char			*log;
	struct proc		*proc;
	struct image_waiter	*waiters;
	struct image_build	*next;
};

/* A result delivered on the next loop turn, so callers never re-enter. */
struct image_later {
	struct images		*im;
	image_ready_fn		 fn;
	void			*arg;
	int			 err;
	char			*cause;
	int64_t			 id;
	uint64_t		 timer;
	struct image_later	*next;
};

struct images {
	struct loop		*loop;
	struct store		*store;
	char			*home;
	char			*libexec;
	struct image_build	*builds;
	struct image_later	*later;
};

struct images *
images_new(struct loop *l, struct store *st, const char *home, const char *libexec)
{
	struct images *im = xcalloc(1, sizeof *im);

	im->loop = l;
	im->store = st;
	im->home = xstrdup(home);
	im->libexec = xstrdup(libexec);
	return im;
}

static void
image_later_fire(struct loop *l, uint64_t id, void *arg)
{
	struct image_later *lt = arg, **pp;

	for (pp = &lt->im->later; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == lt) {
			*pp = lt->next;
			break;
		}
	}
	lt->fn(lt->arg, lt->err, lt->cause, lt->id);
	free(lt->cause);
	free(lt);
}

static void
image_reply_later(struct images *im, image_ready_fn fn, void *arg, int err,
    char *cause, int64_t id)
{
	struct image_later *lt = xcalloc(1, sizeof *lt);

	lt->im = im;
	lt->fn = fn;
	lt->arg = arg;
	lt->err = err;
	lt->cause = cause;
	lt->id = id;
	lt->next = im->later;
	im->later = lt;
	lt->timer = loop_add_timer(im->loop, 0, image_later_fire, lt);
}

static void
image_build_free(struct image_build *b)
{
	struct image_build **pp;

	for (pp = &b->im->builds; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == b) {
			*pp = b->next;
			break;
		}
	}
	free(b->name);
	free(b->hash);
	free(b->tmp_dir);
	free(b->final_dir);
	free(b->log);
	free(b);
}

static void
image_build_finish(struct image_build *b, int err, const char *cause, int64_t id)
{
	struct image_waiter *w;

	while ((w = b->waiters) != NULL) {
		b->waiters = w->next;
		w->fn(w->arg, err, cause, id);
		free(w);
	}
	image_build_free(b);
}

void
images_free(struct images *im)
{
	struct image_later *lt;

	if (im == NULL)
		return;
	while (im->builds != NULL) {
		struct image_build *b = im->builds;

		if (b->proc != NULL) {
			proc_kill(b->proc, SIGKILL);
			proc_forget(b->proc);
		}
		rm_rf(b->tmp_dir);
		image_build_finish(b, -ECANCELED, "the daemon is stopping", 0);
	}
	while ((lt = im->later) != NULL) {
		im->later = lt->next;
		loop_del_timer(im->loop, lt->timer);
		free(lt->cause);
		free(lt);
	}
	free(im->home);
	free(im->libexec);
	free(im);
}

static int
image_dir_complete(const char *dir)
{
	static const char *const files[] = { "vmlinuz", "initrd.img", "rootfs.img" };
	struct stat st;

	for (size_t i = 0; i < 3; i++) {
		char *p = xasprintf("%s/%s", dir, files[i]);
		int ok = stat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;

		free(p);
		if (!ok)
			return 0;
	}
	return 1;
}

/* Records a complete build in the database (or finds its row). */
static int
image_record(struct images *im, const char *name, const char *hash,
    const char *dir, int64_t *ret_id)
{
	struct image_row row = { 0 };
	int r;

	r = store_image_get_current(im->store, name, &row);
	if (r == 0 && strcmp(row.recipe_hash, hash) == 0) {
		*ret_id = row.id;
		image_row_done(&row);
		return 0;
	}
	if (r == 0)
		image_row_done(&row);
	memset(&row, 0, sizeof row);
	row.name = (char *)name;
	row.recipe_hash = (char *)hash;
	row.dir = (char *)dir;
	r = store_image_add(im->store, &row);
	if (r == 0)
		*ret_id = row.id;
	return r;
}

static void
image_build_exit(struct proc *p, int status, void *arg)
{
	struct image_build *b = arg;
	struct images *im = b->im;
	char *cause = NULL, *tail, *parent;
	int64_t id = 0;
	int r;

	b->proc = NULL;
	if (status != 0 || !image_dir_complete(b->tmp_dir)) {
		tail = read_file_tail(b->log, 1500);
		cause = xasprintf("image \"%s\" failed to build (recipe %s)%s%s", b->name,
		    status != 0 ? proc_status_str(status) : "left files missing",
		    tail ? "; its last output:\n" : "", tail ? tail : "");
		free(tail);
		rm_rf(b->tmp_dir);
		image_build_finish(b, -EIO, cause, 0);
		free(cause);
		return;
	}
	rm_rf(b->final_dir);
	parent = xasprintf("%s/images/%s", im->home, b->name);
	r = rename(b->tmp_dir, b->final_dir) < 0 ? -errno : fsync_dir(parent);
	if (r < 0) {
		cause = xasprintf("cannot move the built image into place: %s", strerror(-r));
		rm_rf(b->tmp_dir);
		goto out;
	}
	r = image_record(im, b->name, b->hash, b->final_dir, &id);
	if (r < 0)
		cause = xasprintf("cannot record image \"%s\": %s", b->name,
		    store_errmsg(im->store));
out:
	free(parent);
	image_build_finish(b, r, cause, id);
	free(cause);
}

static char *
image_recipe(const struct images *im, const char *name)
{
	return xasprintf("%s/images/%s.sh", im->libexec, name);
}

static int
image_start_build(struct images *im, struct image_build *b, char **cause)
{
	char *init = xasprintf("%s/sprig-init", im->libexec);
	char *recipe = image_recipe(im, b->name);
	char *env_init = xasprintf("SPRIG_INIT=%s", init);
	char *argv[] = { "bash", recipe, b->tmp_dir, NULL };
	char *env[] = { env_init, NULL };
	struct proc_spec spec = { .argv = argv, .env_add = env, .output = b->log };
	int r;

	rm_rf(b->tmp_dir);
	r = mkdir_p(b->tmp_dir, 0755);
	if (r == 0) {
		unlink(b->log);
		r = proc_spawn(im->loop, &spec, image_build_exit, b, &b->proc);
	}
	if (r < 0)
		*cause = xasprintf("cannot start building image \"%s\": %s", b->name,
		    strerror(-r));
	free(init);
	free(recipe);
	free(env_init);
	return r;
}

/*
 * The build directory of image @name's current recipe (its hash covers
 * the recipe and the guest's sprig-init). Returns 0 with both newly
 * allocated, or a negative errno and a cause.
 */
static int
image_current(struct images *im, const char *name, char **ret_dir, char **ret_hash,
    char **cause)
{
	char *recipe, *init, hash[65];
	const char *files[2];
	int r;

	r = name_check(name, cause);
	if (r < 0)
		return r;
	recipe = image_recipe(im, name);
	init = xasprintf("%s/sprig-init", im->libexec);
	if (access(recipe, R_OK) < 0) {
		*cause = xasprintf("there is no image \"%s\" (no recipe %s)", name, recipe);
		r = -ENOENT;
		goto out;
	}
	files[0] = recipe;
	files[1] = init;
	r = sha256_files(files, 2, hash);
	if (r < 0) {
		*cause = xasprintf("cannot read the recipe of image \"%s\" or %s: %s", name,
		    init, strerror(-r));
		goto out;
	}
	hash[16] = '\0';	/* 64 bits name a build well enough */
	*ret_dir = xasprintf("%s/images/%s/%s", im->home, name, hash);
	*ret_hash = xstrdup(hash);
out:
	free(recipe);
	free(init);
	return r;
}

int
images_state(struct images *im, const char *name, const char **ret_state,
    char **ret_progress, char **cause)
{
	struct image_build *b;
	char *dir = NULL, *hash = NULL, *log, *tail, *nl;
	int r;

	r = image_current(im, name, &dir, &hash, cause);
	if (r < 0)
		return r;
	*ret_progress = NULL;
	if (image_dir_complete(dir)) {
		*ret_state = "ready";
		goto out;
	}
	*ret_state = "absent";
	for (b = im->builds; b != NULL; b = b->next) {
		if (strcmp(b->name, name) == 0 && strcmp(b->hash, hash) == 0)
			*ret_state = "building";
	}
	/* The log's last line: the recipe's latest word, or why it failed. */
	log = xasprintf("%s/images/%s/build.log", im->home, name);
	tail = read_file_tail(log, 512);
	free(log);
	if (tail != NULL) {
		while ((nl = strrchr(tail, '\n')) != NULL && nl[1] == '\0')
			*nl = '\0';
		nl = strrchr(tail, '\n');
		if (*tail != '\0')
			*ret_progress = xstrdup(nl ? nl + 1 : tail);
		free(tail);
	}
out:
	free(dir);
	free(hash);
	return 0;
}

static void
image_build_started(void *arg, int err, const char *cause, int64_t image_id)
{
}

void
images_build(struct images *im, const char *name)
{
	images_ensure(im, name, image_build_started, NULL);
}

void
images_ensure(struct images *im, const char *name, image_ready_fn fn, void *arg)
{
	struct image_build *b;
	struct image_waiter *w;
	char *dir = NULL, *hash = NULL, *cause = NULL;
	int64_t id;
	int r;

	r = image_current(im, name, &dir, &hash, &cause);
	if (r < 0)
		goto fail;
	if (image_dir_complete(dir)) {
		r = image_record(im, name, hash, dir, &id);
		if (r < 0) {
			cause = xasprintf("cannot record image \"%s\": %s", name,
			    store_errmsg(im->store));
			goto fail;
		}
		image_reply_later(im, fn, arg, 0, NULL, id);
		goto out;
	}
	for (b = im->builds; b != NULL; b = b->next) {
		if (strcmp(b->name, name) == 0 && strcmp(b->hash, hash) == 0)
			break;
	}
	if (b == NULL) {
		b = xcalloc(1, sizeof *b);
		b->im = im;
		b->name = xstrdup(name);
		b->hash = xstrdup(hash);
		b->final_dir = dir;
		dir = NULL;
		b->tmp_dir = xasprintf("%s/images/%s/.build-%s", im->home, name, hash);
		b->log = xasprintf("%s/images/%s/build.log", im->home, name);
		b->next = im->builds;
		im->builds = b;
		r = image_start_build(im, b, &cause);
		if (r < 0) {
			image_build_free(b);
			goto fail;
		}
	}
	w = xcalloc(1, sizeof *w);
	w->fn = fn;
	w->arg = arg;
	w->next = b->waiters;
	b->waiters = w;
	goto out;
fail:
	image_reply_later(im, fn, arg, r, cause, 0);
	cause = NULL;
out:
	free(cause);
	free(dir);
	free(hash);
}

int
images_files(struct images *im, int64_t image_id, struct image_files *ret)
{
	struct image_row row = { 0 };
	int r;

	r = store_image_get(im->store, image_id, &row);
	if (r < 0)
		return r;
	ret->kernel = xasprintf("%s/vmlinuz", row.dir);
	ret->initrd = xasprintf("%s/initrd.img", row.dir);
	ret->rootfs = xasprintf("%s/rootfs.img", row.dir);
	image_row_done(&row);
	return 0;
}

void
image_files_done(struct image_files *f)
{
	free(f->kernel);
	free(f->initrd);
	free(f->rootfs);
	memset(f, 0, sizeof *f);
}
