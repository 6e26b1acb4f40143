/*
 * ckptdisks: shows an awake sprite's newest checkpoints to its guest, read-
 * only, under /.sprite/checkpoints/vN (issue 3), so an agent inside can
 * diff against one or copy a file back.
 *
 * Each shown checkpoint's frozen layer is plugged into the VM as a disk
 * through the vmm (opened read-only, with its backing chain: a frozen layer
 * is never opened for writing), with the serial AGENT_CKPT_SERIAL "vN"; the
 * guest agent mounts each such disk as it appears and unmounts it as it
 * goes. Which are shown follows the timeline: the head checkpoint and its
 * ancestors, CKPTDISKS_SHOWN of them. A sync is scheduled whenever an
 * operation on the sprite ends (sprite_op_end: a checkpoint, a restore, a
 * boot, a wake) and after a checkpoint is deleted, and plugs in or out
 * what changed, once the sprite has been left alone for CKPTDISKS_DELAY_MS:
 * operations in a row (a script checkpointing in a loop, a wake and its
 * first execs) are not slowed by the plugging and the guest's mounting
 * (measured: a loop of exec + checkpoint ran 40% slower when each
 * checkpoint was shown at once), and only the last state is shown.
 *
 * What this owns: per sprite, the checkpoints it asked to show, for the VM
 * process they were asked of (its pid and start time; a new VM has none).
 * A save (sleep, memory checkpoint) unplugs them all in the vmm, so saved
 * states hold none, and the next sync finds them gone and plugs them in
 * again. A layer that cannot be opened (its file missing) is skipped and
 * said once in the event log; the sprite is not touched.
 */
#include "ckptdisks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core_internal.h"
#include "common/agent_proto.h"
#include "common/loop.h"
#include "common/xmalloc.h"
#include "vmm/agent.h"
#include "vmm/vmm.h"

struct ckptdisk {
	int64_t			 checkpoint_id;
	int			 version;
	int			 failed;	/* could not be shown: not tried again */
	struct ckptdisk		*next;
};

struct ckptdisks {
	pid_t			 pid;		/* the VM process they belong to */
	uint64_t		 pid_start;
	struct ckptdisk		*disks;
	uint64_t		 timer;		/* a sync to come (ckptdisks_schedule) */
};

/* An attach in flight, found again by names and ids, never by pointer. */
struct ckptdisk_attach {
	struct core	*core;
	char		*sprite;
	int64_t		 checkpoint_id;
	int		 version;
};

/* The vmm's name of checkpoint @id's disk. */
static void
ckptdisk_devid(int64_t checkpoint_id, char *buf, size_t size)
{
	snprintf(buf, size, "ckpt%lld", (long long)checkpoint_id);
}

static void
ckptdisks_clear(struct ckptdisks *k)
{
	struct ckptdisk *d;

	while ((d = k->disks) != NULL) {
		k->disks = d->next;
		free(d);
	}
}

void
ckptdisks_free(struct sprite *s)
{
	if (s->ckd == NULL)
		return;
	loop_del_timer(s->core->loop, s->ckd->timer);
	ckptdisks_clear(s->ckd);
	free(s->ckd);
	s->ckd = NULL;
}

static struct ckptdisk **
ckptdisks_find(struct ckptdisks *k, int64_t checkpoint_id)
{
	struct ckptdisk **dp;

	for (dp = &k->disks; *dp != NULL; dp = &(*dp)->next) {
		if ((*dp)->checkpoint_id == checkpoint_id)
			return dp;
	}
	return NULL;
}

static void
ckptdisks_remove(struct ckptdisk **dp)
{
	struct ckptdisk *d = *dp;

	*dp = d->next;
	free(d);
}

static void
ckptdisk_attached(struct vm *vm, int err, const char *cause, void *arg)
{
	struct ckptdisk_attach *at = arg;
	struct sprite *s = sprite_find(at->core, at->sprite);
	struct ckptdisk **dp;

	if (err < 0 && s != NULL && s->vm == vm && s->ckd != NULL &&
	    (dp = ckptdisks_find(s->ckd, at->checkpoint_id)) != NULL) {
		(*dp)->failed = 1;
		core_event(at->core, at->sprite, "error", "checkpoint v%d is not shown in "
		    "/.sprite/checkpoints: %s", at->version, cause ? cause : strerror(-err));
	}
	free(at->sprite);
	free(at);
}

/* Plugs in checkpoint @cp's layer; a failure is remembered and logged. */
static void
ckptdisks_attach(struct sprite *s, const struct checkpoint_row *cp)
{
	struct core *c = s->core;
	struct ckptdisk *d = xcalloc(1, sizeof *d);
	struct ckptdisk_attach *at;
	struct layer_row layer = { 0 };
	char id[32], serial[32];
	int r;

	d->checkpoint_id = cp->id;
	d->version = cp->version;
	d->next = s->ckd->disks;
	s->ckd->disks = d;
	r = store_layer_get(c->store, cp->layer_id, &layer);
	if (r < 0 || access(layer.file, R_OK) < 0) {
		d->failed = 1;
		core_event(c, s->name, "error", "checkpoint v%d is not shown in "
		    "/.sprite/checkpoints: its layer %s is missing", cp->version,
		    r == 0 ? layer.file : "(no row)");
		layer_row_done(&layer);
		return;
	}
	ckptdisk_devid(cp->id, id, sizeof id);
	snprintf(serial, sizeof serial, AGENT_CKPT_SERIAL "v%d", cp->version);
	at = xcalloc(1, sizeof *at);
	at->core = c;
	at->sprite = xstrdup(s->name);
	at->checkpoint_id = cp->id;
	at->version = cp->version;
	r = c->vmm->disk_attach(s->vm, id, layer.file, serial, ckptdisk_attached, at);
	if (r < 0) {
		d->failed = 1;
		core_event(c, s->name, "error", "checkpoint v%d is not shown in "
		    "/.sprite/checkpoints: %s", cp->version, strerror(-r));
		free(at->sprite);
		free(at);
	}
	layer_row_done(&layer);
}

/* Whether the VM of @s can show checkpoint disks now; sets up s->ckd for it. */
static int
ckptdisks_usable(struct sprite *s)
{
	struct core *c = s->core;
	struct agent *a;
	pid_t pid;
	uint64_t start;

	if (s->vm == NULL || !s->vm_ready || c->vmm->disk_attach == NULL)
		return 0;
	a = c->vmm->agent(s->vm);
	if (a == NULL || agent_version(a) < AGENT_VERSION_CKPT)
		return 0;
	pid = c->vmm->pid(s->vm);
	start = c->vmm->pid_start(s->vm);
	if (s->ckd == NULL)
		s->ckd = xcalloc(1, sizeof *s->ckd);
	if (s->ckd->pid != pid || s->ckd->pid_start != start) {
		/* Another VM: it has none of them. */
		ckptdisks_clear(s->ckd);
		s->ckd->pid = pid;
		s->ckd->pid_start = start;
	}
	return 1;
}

void
ckptdisks_sync(struct sprite *s)
{
	struct core *c = s->core;
	struct sprite_row row = { 0 };
	struct checkpoint_row shown[CKPTDISKS_SHOWN];
	struct ckptdisk **dp;
	char id[32];
	int64_t next;
	size_t n = 0, i;

	if (s->op != OP_NONE || !ckptdisks_usable(s))
		return;
	if (store_sprite_get_id(c->store, s->id, &row) < 0)
		return;
	memset(shown, 0, sizeof shown);
	for (next = row.head_checkpoint_id; next != 0 && n < CKPTDISKS_SHOWN; n++) {
		if (store_checkpoint_get_id(c->store, next, &shown[n]) < 0)
			break;
		if (shown[n].sprite_id != s->id) {
			/* Its ids name another sprite's checkpoints. */
			checkpoint_row_done(&shown[n]);
			break;
		}
		next = shown[n].parent_id;
	}
	sprite_row_done(&row);
	dp = &s->ckd->disks;
	while (*dp != NULL) {
		struct ckptdisk *d = *dp;

		ckptdisk_devid(d->checkpoint_id, id, sizeof id);
		for (i = 0; i < n && shown[i].id != d->checkpoint_id; i++)
			;
		if (i < n && (d->failed || c->vmm->disk_attached(s->vm, id))) {
			dp = &d->next;
			continue;
		}
		/* No longer shown, or unplugged by a save: gone either way. */
		if (!d->failed)
			c->vmm->disk_detach(s->vm, id);
		ckptdisks_remove(dp);
	}
	/* Oldest first, so the guest sees them appear in order. */
	for (i = n; i-- > 0;) {
		if (ckptdisks_find(s->ckd, shown[i].id) == NULL)
			ckptdisks_attach(s, &shown[i]);
	}
	for (i = 0; i < n; i++)
		checkpoint_row_done(&shown[i]);
}

static void
ckptdisks_fire(struct loop *l, uint64_t id, void *arg)
{
	struct sprite *s = arg;	/* the timer goes with the sprite */

	s->ckd->timer = 0;
	ckptdisks_sync(s);
}

void
ckptdisks_schedule(struct sprite *s)
{
	if (s->vm == NULL)
		return;
	if (s->ckd == NULL)
		s->ckd = xcalloc(1, sizeof *s->ckd);
	loop_del_timer(s->core->loop, s->ckd->timer);
	s->ckd->timer = loop_add_timer(s->core->loop, CKPTDISKS_DELAY_MS, ckptdisks_fire, s);
}

void
ckptdisks_forget(struct sprite *s, int64_t checkpoint_id)
{
	struct ckptdisk **dp;
	char id[32];

	if (s->ckd == NULL || (dp = ckptdisks_find(s->ckd, checkpoint_id)) == NULL)
		return;
	ckptdisk_devid(checkpoint_id, id, sizeof id);
	if (s->vm != NULL && !(*dp)->failed)
		s->core->vmm->disk_detach(s->vm, id);
	ckptdisks_remove(dp);
}
