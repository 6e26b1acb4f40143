/*
 * qemu_preload: a tiny library sprig preloads into each QEMU it starts
 * (LD_PRELOAD, see qemu_set_preload). It turns glibc's malloc_trim into a
 * no-op, for QEMU only.
 *
 * Why: QEMU 7.2's RCU thread calls malloc_trim(4 MiB) each time its queue
 * of callbacks drains. Under TCG that is hundreds of times a second while
 * the guest runs code it has not run before (a wake, a boot, the first exec
 * after either): each call walks every malloc arena and gives the free
 * pages inside back to the kernel with madvise(MADV_DONTNEED), and the
 * translator faults them back in, zeroed, moments later. On the 2-core
 * test machine that was ~230 madvise calls during a woken sprite's first
 * exec, and the exec took ~20 ms less without them. QEMU has no run-time
 * switch for it (only a build option, --disable-malloc-trim).
 *
 * The cost is memory a QEMU freed staying in its heap for reuse instead of
 * going back to the host; `make bench` shows an idle sprite's RSS.
 */
#include <stddef.h>

int malloc_trim(size_t pad);

int
malloc_trim(size_t pad)
{
	(void)pad;
	return 0;
}
