/*
 * memcopy: the copy of a memory checkpoint's guest RAM into the RAM file of
 * the sprite resuming it, run beside the rest of a restore or fork.
 */
#ifndef SPRIG_MEMCOPY_H
#define SPRIG_MEMCOPY_H

struct sprite;

/* Starts copying the RAM of memory state @mem_dir into @s's RAM file.
 * A VM of @s started meanwhile is told to load its state (vmm load) when
 * the copy ends. Returns 0 or a negative errno (nothing started). */
int memcopy_start(struct sprite *s, const char *mem_dir);
/* 1 while the copy runs: a VM started now must wait for it (load_later). */
int memcopy_running(const struct sprite *s);
/*
 * The device state a VM of @s resumes with memory state @mem_dir's RAM:
 * 0 with *@ret_state (caller frees), or -EIO with *@cause (caller frees)
 * if the copy of that RAM ended in failure.
 */
int memcopy_state(const struct sprite *s, const char *mem_dir, char **ret_state,
    char **cause);
/* The operation is over (or the daemon is stopping): forgets the copy; a
 * half-written file is removed. */
void memcopy_cancel(struct sprite *s);

#endif
