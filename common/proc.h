/*
 * proc: child processes and foreign processes watched from the event loop
 * through pidfds, so an exit is an event like any other and nothing waits.
 * Used for QEMU, qemu-img and image recipes.
 */
#ifndef SPRIG_PROC_H
#define SPRIG_PROC_H

#include <sys/types.h>

struct loop;
struct proc;

/* @status is a wait status (WIFEXITED...) for children, -1 when the process
 * was not ours (adopted) and its status is unknown. The proc is freed after
 * the callback returns. */
typedef void (*proc_exit_fn)(struct proc *p, int status, void *arg);

struct proc_spec {
	char *const	*argv;		/* argv[0] is looked up in PATH */
	char *const	*env_add;	/* NULL or "K=V" entries added to the environment */
	const char	*output;	/* NULL: /dev/null; else stdout and stderr appended here */
	const int	*keep_fds;	/* fds the child inherits (CLOEXEC cleared there) */
	int		 nkeep_fds;
	int		 new_session;	/* setsid(): survives the parent, gets no tty signals
					 * (else a process group of its own) */
};

/*
 * Starts a child. Returns 0 with *ret (owned by the loop until it exits or
 * proc_forget), or a negative errno: -ENOENT when argv[0] is not found,
 * other errors of vfork/exec. @fn runs once when the child exits.
 */
int proc_spawn(struct loop *l, const struct proc_spec *spec, proc_exit_fn fn,
    void *arg, struct proc **ret);
/*
 * Runs @child(@child_arg) in a forked copy of this process instead of a
 * program; its result, 0 or a negative errno, becomes the exit status
 * (errno as the exit code). For work that must not hold up the loop yet
 * needs no program of its own, as redis saves in a child. @child must make
 * only async-signal-safe calls. Otherwise as proc_spawn.
 */
typedef int (*proc_child_fn)(const void *child_arg);
int proc_spawn_fn(struct loop *l, proc_child_fn child, const void *child_arg, proc_exit_fn fn,
    void *arg, struct proc **ret);
/* Watches a process that is not our child (verified alive). */
int proc_watch(struct loop *l, pid_t pid, proc_exit_fn fn, void *arg, struct proc **ret);
pid_t proc_pid(const struct proc *p);
/* Signals a child's whole process group (each child leads one), or a
 * watched process alone. */
int proc_kill(struct proc *p, int sig);
/* Stops watching; the process keeps running (children are not reaped). */
void proc_forget(struct proc *p);

/* "exited with status 3", "killed by signal 9" (static buffer). */
const char *proc_status_str(int status);

#endif
