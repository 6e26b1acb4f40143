/*
 * merge: keeps the chain of qcow2 layers QEMU opens for a sprite shallow,
 * and checks a chain before it is booted. See merge.c for why it works the
 * way it does.
 */
#ifndef SPRIG_MERGE_H
#define SPRIG_MERGE_H

#include <stdint.h>

struct core;
struct proc;
struct sprite;

/* How many qcow2 layers a sprite's disk may stack, its top included,
 * before it is merged; and how deep a merge leaves it at most. */
#define MERGE_MAX_DEPTH		8
#define MERGE_KEEP_DEPTH	4

/*
 * New top @file over layer @parent_id, which no VM has open yet: starts
 * merging it with qemu-img if that chain is too deep. Returns 1 when a merge
 * runs: @fn hears when it exits (status 0: the top's backing is now layer
 * *@ret_base, 0 for the image). Returns 0 when the top is to be used as it
 * is (a merge that could not start leaves it deep, but whole).
 */
int merge_new_top(struct core *c, const char *file, int64_t parent_id,
    void (*fn)(struct proc *, int, void *), void *arg, struct proc **ret,
    int64_t *ret_base);

/*
 * Merges sprite @s's top if it is too deep: live when its VM runs, else
 * with qemu-img. Returns 1 when a merge is under way: its end ends @s's
 * operation (a failed merge is logged, not an error for anyone). Returns 0
 * when there was nothing to do (or it could not start, logged): the
 * caller ends the operation.
 */
int merge_sprite(struct sprite *s);

/*
 * Makes the database follow writable top @top_id's qcow2 header: if it
 * names an ancestor other than the recorded parent (a merge finished), that
 * ancestor becomes the parent and the layers only the top held are
 * released. Returns 1 if it changed, 0 if not, or a negative errno.
 */
int merge_sync(struct core *c, int64_t top_id);

/* Start-up: finishes merges cut off by a crash (merge_sync of every top)
 * and marks sprites whose disk is damaged as broken. */
void merge_recover(struct core *c);

#endif
