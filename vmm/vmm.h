/*
 * vmm: the backend interface that runs a sprite's virtual machine. A backend
 * is a table of functions (QEMU in vmm/qemu.c); core/ sees only this header
 * and the agent channel a ready VM offers.
 *
 * A VM reports through two callbacks: ready (once: it booted and its agent
 * answered, or it failed and its process is gone), then exited (once, only
 * after a successful ready: the process is gone). After either failure or
 * exit the owner calls release.
 */
#ifndef SPRIG_VMM_H
#define SPRIG_VMM_H

#include <stdint.h>
#include <sys/types.h>

struct loop;
struct agent;
struct vm;

struct vm_config {
	const char	*name;		/* the sprite's name: hostname, process name */
	const char	*run_dir;	/* sockets, logs and pid file live here */
	const char	*kernel;
	const char	*initrd;
	const char	*disk;		/* the writable top qcow2 layer */
	int		 mem_mb;
	int		 cpus;
	int		 boot_timeout_ms;
	/* Guest RAM lives in this file, mapped shared, so a saved state
	 * needs only the device state beside it (DESIGN.md, Memory states). */
	const char	*ram_file;
	/* NULL: boot the kernel. Else resume from this device state file,
	 * with the RAM it goes with already in @ram_file. */
	const char	*incoming;
	/* With @incoming: the RAM file is still being written (a copy from a
	 * memory checkpoint). QEMU starts meanwhile, which takes as long as
	 * the copy, but loads the state only once load() says the file is
	 * whole. */
	int		 load_later;
};

struct vm_callbacks {
	/* err 0: booted. err < 0: failed, @cause says why for a person
	 * (with the console's last lines when they help); -ECONNABORTED
	 * when the process was killed from outside (SIGKILL) meanwhile. */
	void (*ready)(struct vm *vm, int err, const char *cause, void *arg);
	/* The VM's process is gone; @why for a person. */
	void (*exited)(struct vm *vm, const char *why, void *arg);
	/* Optional: a `sprite-env` command line from inside the guest
	 * (@argv valid during the call); answered with agent_reply on the
	 * VM's agent. */
	void (*request)(struct vm *vm, uint32_t id, int argc, char **argv, void *arg);
};

/* The end of an asynchronous VM operation; @cause for a person. */
typedef void (*vm_done_fn)(struct vm *vm, int err, const char *cause, void *arg);

struct vmm_ops {
	const char *name;
	/* Which accelerator this host gives ("kvm", "tcg"). */
	const char *(*accel)(void);
	/* Boots a new VM. Returns 0 (then ready will be called) or a negative
	 * errno with *cause set (caller frees) when nothing was started. */
	int (*start)(struct loop *l, const struct vm_config *cfg,
	    const struct vm_callbacks *cb, void *arg, struct vm **ret, char **cause);
	/* Takes over a VM left running by an earlier daemon. -ESRCH when the
	 * process is gone or the pid was reused. */
	int (*adopt)(struct loop *l, const struct vm_config *cfg, pid_t pid,
	    uint64_t pid_start, const struct vm_callbacks *cb, void *arg,
	    struct vm **ret, char **cause);
	/* Clean shutdown (guest syncs and powers off), escalating to a hard
	 * quit and then SIGKILL; exited follows. A VM paused by save quits
	 * at once, leaving the saved state valid (how a sprite sleeps). */
	void (*stop)(struct vm *vm);
	/* SIGKILL now; exited follows. */
	void (*kill)(struct vm *vm);
	/* Frees the handle. A VM still running keeps running (the daemon is
	 * going away and a later one adopts it). */
	void (*release)(struct vm *vm);
	pid_t (*pid)(const struct vm *vm);
	uint64_t (*pid_start)(const struct vm *vm);
	/* Freezes the running VM's writable top layer, live: a new qcow2
	 * file @new_file (which must not exist) is made over it and becomes
	 * the top. Not called back after release. */
	int (*snapshot)(struct vm *vm, const char *new_file, vm_done_fn fn, void *arg);
	/* Stops the vCPUs and writes the device state to @state_file (the RAM
	 * is in the RAM file); with @disk_file, also freezes the disk top as
	 * snapshot does, at the same stopped instant. The VM stays paused
	 * until resume (or stop). */
	int (*save)(struct vm *vm, const char *state_file, const char *disk_file,
	    vm_done_fn fn, void *arg);
	int (*resume)(struct vm *vm, vm_done_fn fn, void *arg);
	/* For a start with load_later: the RAM file is whole (@err 0), load
	 * the saved state; or it never will be (@err < 0): the start fails
	 * and ready hears @cause. Nothing once the start failed anyway. */
	void (*load)(struct vm *vm, int err, const char *cause);
	/* Merges, live, the layers between the writable top and @base_file
	 * (a file of its backing chain, or the image) into the top: QEMU's
	 * block-stream reads them and copies what the top lacks, then the
	 * top's backing file becomes @base_file. The layers merged are only
	 * read. Called back once when the job ends (with an error if the VM
	 * exits first); not after release. -EBUSY while one runs. */
	int (*stream)(struct vm *vm, const char *base_file, vm_done_fn fn, void *arg);
	/* The agent channel of a ready VM, else NULL. */
	struct agent *(*agent)(const struct vm *vm);
	/*
	 * Checkpoint disks: frozen layers shown to the guest, read-only.
	 * disk_attach opens @file (a qcow2 layer, with its backing chain)
	 * read-only and plugs it in as a disk named @id whose serial the
	 * guest reads as @serial; @fn hears once it is there or could not be
	 * (never after release). The VM's own disk is untouched. disk_detach
	 * unplugs and closes it; the file is not opened again by this VM.
	 * Returns 0 or a negative errno (-ENOTCONN: not ready; -EEXIST,
	 * -ENOENT: @id is, or is not, attached). disk_attached says whether
	 * @id is attached or being attached. A save (sleep, memory
	 * checkpoint) detaches every such disk first: saved states never hold
	 * one, so a wake or a restore starts with none. Optional (NULL).
	 */
	int (*disk_attach)(struct vm *vm, const char *id, const char *file,
	    const char *serial, vm_done_fn fn, void *arg);
	int (*disk_detach)(struct vm *vm, const char *id);
	int (*disk_attached)(const struct vm *vm, const char *id);
};

extern const struct vmm_ops qemu_vmm_ops;

#endif
