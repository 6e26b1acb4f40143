/*
 * qcow2: new empty qcow2 layers over a backing file, written by sprig
 * itself. Every fork, restore and cold create makes one, and running
 * qemu-img create for it cost ~45 ms of process start (most of a fork's
 * disk part) to write four small blocks.
 */
#ifndef SPRIG_QCOW2_H
#define SPRIG_QCOW2_H

#include <stdint.h>

/* A layer ready to be written: its bytes are made beforehand, so that the
 * write can run in a forked child. */
struct qcow2_new;

/*
 * Prepares @file, an empty qcow2 (version 3, 64 KiB clusters) over
 * @backing in format @backing_fmt ("qcow2" or "raw"), as large as the
 * backing file. Reads the backing file's size; writes nothing. Returns 0
 * with *ret (free with qcow2_new_free), or a negative errno: -ENOENT (no
 * backing file), -EINVAL (not that format), -ENAMETOOLONG.
 */
int qcow2_new_prepare(const char *file, const char *backing, const char *backing_fmt,
    struct qcow2_new **ret);
/*
 * Writes the prepared layer, synced, through a temporary file renamed into
 * place, then syncs the directory: @file appears whole or not at all, is
 * durable on return, and never replaces an existing file (-EEXIST). On an
 * error nothing is left behind. Only async-signal-safe
 * calls, no allocation: safe in a child forked from a daemon. Returns 0 or
 * a negative errno.
 */
int qcow2_new_write(const struct qcow2_new *q);
void qcow2_new_free(struct qcow2_new *q);
/* Both in one: makes @file over @backing here and now. */
int qcow2_create(const char *file, const char *backing, const char *backing_fmt);

#endif
