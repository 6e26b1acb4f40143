/*
 * ckptdisks: the checkpoints an awake sprite shows its guest under
 * /.sprite/checkpoints/ (issue 3): the CKPTDISKS_SHOWN newest of its
 * current timeline, each its frozen layer plugged in read-only as a disk.
 */
#ifndef SPRIG_CKPTDISKS_H
#define SPRIG_CKPTDISKS_H

#include <stdint.h>

struct sprite;

/* How many checkpoints a guest sees: the head and its ancestors. */
#define CKPTDISKS_SHOWN	5
/* How long after the last operation the view follows. */
#define CKPTDISKS_DELAY_MS	1000

/* Brings @s's VM's checkpoint disks in line with its timeline: unplugs
 * those no longer among the newest, plugs in the missing ones. Does
 * nothing unless the VM is ready, the sprite idle and the guest new enough. */
void ckptdisks_sync(struct sprite *s);
/* The same, CKPTDISKS_DELAY_MS from now (from the last call). */
void ckptdisks_schedule(struct sprite *s);
/* Unplugs checkpoint @checkpoint_id's disk, if shown, before it is deleted. */
void ckptdisks_forget(struct sprite *s, int64_t checkpoint_id);
/* Frees what @s remembers (with the sprite). */
void ckptdisks_free(struct sprite *s);

#endif
