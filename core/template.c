/*
 * template: named starting points for new sprites ("set up my environment
 * once and use it as a template"). A template holds a frozen layer, taken
 * from a sprite's checkpoint; sprites created from it share that layer
 * copy-on-write, like forks. Also here: deleting a checkpoint, which a
 * template can forbid.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ckptdisks.h"
#include "core_internal.h"
#include "names.h"
#include "common/util.h"
#include "common/xmalloc.h"

struct template_save {
	struct core	*core;
	char		*tname;
	char		*src;
	core_done_fn	 fn;
	void		*arg;
};

static int
template_record(struct core *c, const char *tname, const char *src,
    const struct checkpoint_row *cp, char **cause)
{
	struct template_row t = { 0 };
	int r;

	t.name = (char *)tname;
	t.layer_id = cp->layer_id;
	t.mem_dir = NULL;	/* memory templates: later; a checkpoint owns its state */
	t.origin = xasprintf("%s@v%d", src, cp->version);
	r = store_template_add(c->store, &t);
	if (r == -EEXIST)
		*cause = xasprintf("template \"%s\" already exists", tname);
	else if (r < 0)
		*cause = xasprintf("cannot record template \"%s\": %s", tname,
		    store_errmsg(c->store));
	else
		core_event(c, src, "template", "saved v%d as template %s", cp->version, tname);
	free(t.origin);
	return r;
}

static void
template_saved_later(struct template_save *ts, int err, char *cause)
{
	core_defer(ts->core, ts->fn, ts->arg, err, cause);
	free(ts->tname);
	free(ts->src);
	free(ts);
}

/* core_checkpoint's answer when the template is of the sprite as it is. */
static void
template_checkpointed(void *arg, int err, const char *cause, int version)
{
	struct template_save *ts = arg;
	struct sprite_row row = { 0 };
	struct checkpoint_row cp = { 0 };
	char *why = NULL;
	int r = err;

	if (r == 0)
		r = store_sprite_get(ts->core->store, ts->src, &row);
	if (r == 0)
		r = store_checkpoint_get(ts->core->store, row.id, version, &cp);
	if (r == 0)
		r = template_record(ts->core, ts->tname, ts->src, &cp, &why);
	else if (err < 0)
		why = xstrdup(cause);
	else
		why = xasprintf("sprite \"%s\" changed during the save", ts->src);
	checkpoint_row_done(&cp);
	sprite_row_done(&row);
	template_saved_later(ts, r, why);
}

int
core_template_save(struct core *c, const char *tname, const char *name,
    const char *version, core_done_fn fn, void *arg, char **cause)
{
	struct template_row existing = { 0 };
	struct sprite_row row = { 0 };
	struct checkpoint_row cp = { 0 };
	struct template_save *ts;
	int r;

	r = name_check(tname, cause);
	if (r < 0)
		return r;
	if (store_template_get(c->store, tname, &existing) == 0) {
		template_row_done(&existing);
		*cause = xasprintf("template \"%s\" already exists", tname);
		return -EEXIST;
	}
	r = core_get(c, name, &row, cause);
	if (r < 0)
		return r;
	ts = xcalloc(1, sizeof *ts);
	ts->core = c;
	ts->tname = xstrdup(tname);
	ts->src = xstrdup(name);
	ts->fn = fn;
	ts->arg = arg;
	if (version == NULL) {
		char *comment = xasprintf("template %s", tname);

		r = core_checkpoint(c, name, comment, template_checkpointed, ts, cause);
		free(comment);
		goto out;
	}
	r = timeline_find(c, &row, version, &cp, cause);
	if (r == 0)
		r = template_record(c, tname, name, &cp, cause);
	if (r == 0) {
		template_saved_later(ts, 0, NULL);
		ts = NULL;
	}
out:
	if (r < 0 && ts != NULL) {
		free(ts->tname);
		free(ts->src);
		free(ts);
	}
	checkpoint_row_done(&cp);
	sprite_row_done(&row);
	return r;
}

int
core_template_rm(struct core *c, const char *tname, char **cause)
{
	struct template_row t = { 0 };
	int r;

	r = store_template_get(c->store, tname, &t);
	if (r == -ENOENT) {
		*cause = xasprintf("template \"%s\" not found", tname);
		return r;
	}
	if (r == 0)
		r = store_template_delete(c->store, tname);
	if (r < 0) {
		*cause = xasprintf("cannot delete template \"%s\": %s", tname,
		    store_errmsg(c->store));
		template_row_done(&t);
		return r;
	}
	core_layer_release(c, t.layer_id);
	core_event(c, NULL, "template", "deleted template %s", tname);
	template_row_done(&t);
	return 0;
}

int
core_templates(struct core *c, struct template_row **ret, size_t *ret_n, char **cause)
{
	int r = store_template_list(c->store, ret, ret_n);

	if (r < 0)
		*cause = xasprintf("cannot list templates: %s", store_errmsg(c->store));
	return r;
}

int
core_create_from_template(struct core *c, const char *name, const char *tname,
    core_done_fn fn, void *arg, char **cause)
{
	struct template_row t = { 0 };
	int r;

	r = sprite_name_free(c, name, cause);
	if (r < 0)
		return r;
	r = store_template_get(c->store, tname, &t);
	if (r == -ENOENT) {
		*cause = xasprintf("template \"%s\" not found", tname);
		return r;
	}
	if (r < 0) {
		*cause = xasprintf("cannot read template \"%s\": %s", tname, store_errmsg(c->store));
		return r;
	}
	r = sprite_create_over(c, name, t.layer_id, t.name, NULL, 0, 0, fn, arg, cause);
	template_row_done(&t);
	return r;
}

int
core_checkpoint_rm(struct core *c, const char *name, const char *version, char **cause)
{
	struct sprite_row row = { 0 };
	struct checkpoint_row cp = { 0 };
	struct template_row *ts = NULL;
	struct sprite *s = NULL;
	size_t n = 0;
	int r;

	r = sprite_for_op(c, name, &row, &s, cause);
	if (r < 0)
		return r;
	if (version != NULL && strcmp(version, "undo") == 0) {
		r = -EINVAL;
		*cause = xstrdup("name the checkpoint to delete by its id, like v3");
		goto out;
	}
	r = timeline_find(c, &row, version, &cp, cause);
	if (r < 0)
		goto out;
	r = store_template_list_by_layer(c->store, cp.layer_id, &ts, &n);
	if (r == 0 && n > 0) {
		r = -EBUSY;
		*cause = xasprintf("checkpoint v%d of \"%s\" is used by template \"%s\"%s; "
		    "delete it first (sprig template rm %s)", cp.version, name, ts[0].name,
		    n > 1 ? " and others" : "", ts[0].name);
		goto out;
	}
	if (s != NULL)
		ckptdisks_forget(s, cp.id);	/* its layer may go now */
	r = store_checkpoint_delete(c->store, cp.id);
	if (r < 0) {
		*cause = xasprintf("cannot delete checkpoint v%d: %s", cp.version,
		    store_errmsg(c->store));
		goto out;
	}
	core_layer_release(c, cp.layer_id);
	if (cp.mem_dir != NULL)
		rm_rf(cp.mem_dir);
	core_event(c, name, "checkpoint", "deleted v%d", cp.version);
	if (s != NULL)
		ckptdisks_schedule(s);	/* an older one takes its place */
out:
	template_rows_free(ts, n);
	checkpoint_row_done(&cp);
	sprite_row_done(&row);
	return r;
}
