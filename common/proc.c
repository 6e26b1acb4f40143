/*
 * proc: spawning and watching processes with pidfds.
 */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loop.h"
#include "util.h"
#include "xmalloc.h"

struct proc {
	struct loop	*loop;
	pid_t		 pid;
	int		 pidfd;
	int		 child;
	proc_exit_fn	 fn;
	void		*arg;
};

static int
proc_pidfd_open(pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -errno : fd;
}

static void
proc_free(struct proc *p)
{
	loop_del_fd(p->loop, p->pidfd);
	close(p->pidfd);
	free(p);
}

static void
proc_on_exit(struct loop *l, int fd, int events, void *arg)
{
	struct proc *p = arg;
	siginfo_t si;
	int status = -1;

	if (p->child) {
		memset(&si, 0, sizeof si);
		if (waitid(P_PIDFD, (id_t)p->pidfd, &si, WEXITED | WNOHANG) < 0)
			status = -1;
		else if (si.si_pid == 0)
			return;	/* spurious: not exited yet */
		else if (si.si_code == CLD_EXITED)
			status = W_EXITCODE(si.si_status, 0);
		else
			status = W_EXITCODE(0, si.si_status) | (si.si_code == CLD_DUMPED ? WCOREFLAG : 0);
	}
	p->fn(p, status, p->arg);
	proc_free(p);
}

/*
 * The child's side of proc_spawn, between vfork and exec: it shares the
 * daemon's memory, so it makes system calls only, on data the parent
 * prepared (@envp), and ends in exec or _exit.
 */
static void __attribute__((noreturn))
proc_child(const struct proc_spec *spec, char **envp, int errfd)
{
	struct sigaction sa;
	sigset_t none;
	int fd, err;

	/* A group of its own either way, so proc_kill reaches what it starts
	 * too (a recipe's mke2fs, a sleep): see proc_kill. */
	if (spec->new_session)
		setsid();
	else
		setpgid(0, 0);
	/* Dispositions the parent set must not leak into the child: ignored
	 * ones survive exec, and a handler must never run here. */
	for (int sig = 1; sig < NSIG; sig++) {
		if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL)
			signal(sig, SIG_DFL);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && fd != 0) {
		dup2(fd, 0);
		close(fd);
	}
	if (spec->output != NULL)
		fd = open(spec->output, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	else
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		goto fail;
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
	/* dup2 onto itself (a daemon started with 0, 1 or 2 closed) keeps
	 * the flag, and the child would lose that descriptor at exec. */
	for (int i = 0; i < 3; i++)
		fcntl(i, F_SETFD, 0);
	/* What the daemon inherited from whoever started it is not QEMU's. */
	fd_cloexec_from(3);
	for (int i = 0; i < spec->nkeep_fds; i++) {
		int fl = fcntl(spec->keep_fds[i], F_GETFD);

		if (fl < 0 || fcntl(spec->keep_fds[i], F_SETFD, fl & ~FD_CLOEXEC) < 0)
			goto fail;
	}
	execvpe(spec->argv[0], spec->argv, envp);
fail:
	err = errno;
	(void)!write(errfd, &err, sizeof err);
	_exit(127);
}

/* Whether "K=V" entry @kv sets a name that @env_add sets too. */
static int
proc_env_overridden(const char *kv, char *const *env_add)
{
	size_t n = strcspn(kv, "=");

	for (size_t i = 0; env_add[i] != NULL; i++) {
		if (strncmp(env_add[i], kv, n) == 0 && env_add[i][n] == '=')
			return 1;
	}
	return 0;
}

/* The child's environment: ours, with @env_add's entries set (the
 * strings are borrowed; free only the array). */
static char **
proc_envp(char *const *env_add)
{
	size_t n = 0, k = 0, nadd = 0;
	char **envp;

	while (environ[n] != NULL)
		n++;
	while (env_add != NULL && env_add[nadd] != NULL)
		nadd++;
	envp = xreallocarray(NULL, n + nadd + 1, sizeof *envp);
	for (size_t i = 0; i < n; i++) {
		if (nadd == 0 || !proc_env_overridden(environ[i], env_add))
			envp[k++] = environ[i];
	}
	for (size_t i = 0; i < nadd; i++)
		envp[k++] = env_add[i];
	envp[k] = NULL;
	return envp;
}

/*
 * vfork: the child borrows this process's memory until it execs, where
 * fork would copy its page tables and leave every page copy-on-write. On
 * the VM this was measured in (page faults ~15 us) fork took 2.7 ms for a
 * 10 MiB process, and the parent then paid a fault for each page it wrote;
 * vfork took 0.4 ms. All signals stay blocked across it, so no handler
 * runs in the child. Its own function, so no caller's locals live across
 * the vfork.
 */
static pid_t __attribute__((noinline))
proc_vfork(const struct proc_spec *spec, char **envp, int errfd)
{
	sigset_t all, old;
	pid_t pid;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = vfork();
	if (pid == 0)
		proc_child(spec, envp, errfd);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return pid;
}

/* Watches child @pid from the loop; on failure it is killed and reaped. */
static int
proc_track(struct loop *l, pid_t pid, proc_exit_fn fn, void *arg, struct proc **ret)
{
	struct proc *p;
	int r;

	r = proc_pidfd_open(pid);
	if (r < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return r;
	}
	p = xcalloc(1, sizeof *p);
	p->loop = l;
	p->pid = pid;
	p->pidfd = r;
	p->child = 1;
	p->fn = fn;
	p->arg = arg;
	r = loop_add_fd(l, p->pidfd, LOOP_READ, proc_on_exit, p);
	if (r < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(p->pidfd);
		free(p);
		return r;
	}
	*ret = p;
	return 0;
}

int
proc_spawn(struct loop *l, const struct proc_spec *spec, proc_exit_fn fn,
    void *arg, struct proc **ret)
{
	int pipefd[2], err = 0, r;
	char **envp;
	ssize_t n;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	envp = proc_envp(spec->env_add);
	pid = proc_vfork(spec, envp, pipefd[1]);
	r = pid < 0 ? -errno : 0;
	free(envp);
	if (r < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return r;
	}
	close(pipefd[1]);
	/* Also here, so the group exists before anyone signals it. */
	if (!spec->new_session)
		setpgid(pid, pid);
	/* The child has exec'd or failed by now: EOF means it exec'd. */
	do {
		n = read(pipefd[0], &err, sizeof err);
	} while (n < 0 && errno == EINTR);
	close(pipefd[0]);
	if (n == sizeof err) {
		waitpid(pid, NULL, 0);
		return -err;
	}
	return proc_track(l, pid, fn, arg, ret);
}

int
proc_spawn_fn(struct loop *l, proc_child_fn child, const void *child_arg, proc_exit_fn fn,
    void *arg, struct proc **ret)
{
	pid_t pid;
	int r;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		setpgid(0, 0);
		r = child(child_arg);
		_exit(r < 0 ? -r & 0xff : 0);
	}
	setpgid(pid, pid);
	return proc_track(l, pid, fn, arg, ret);
}

int
proc_watch(struct loop *l, pid_t pid, proc_exit_fn fn, void *arg, struct proc **ret)
{
	struct proc *p;
	int fd, r;

	fd = proc_pidfd_open(pid);
	if (fd < 0)
		return fd;
	p = xcalloc(1, sizeof *p);
	p->loop = l;
	p->pid = pid;
	p->pidfd = fd;
	p->fn = fn;
	p->arg = arg;
	r = loop_add_fd(l, fd, LOOP_READ, proc_on_exit, p);
	if (r < 0) {
		close(fd);
		free(p);
		return r;
	}
	*ret = p;
	return 0;
}

pid_t
proc_pid(const struct proc *p)
{
	return p->pid;
}

/*
 * A child leads its own process group, and its pid (so the group's id)
 * cannot be reused until we reap it, which frees @p: signalling the group
 * is safe and also reaches the child's children, which would otherwise
 * outlive a killed image recipe. A process we only watch gets the signal
 * through its pidfd alone.
 */
int
proc_kill(struct proc *p, int sig)
{
	if (p->child && kill(-p->pid, sig) == 0)
		return 0;
	if (syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0) < 0)
		return -errno;
	return 0;
}

void
proc_forget(struct proc *p)
{
	if (p != NULL)
		proc_free(p);
}

const char *
proc_status_str(int status)
{
	static char s[64];

	if (status == -1)
		snprintf(s, sizeof s, "exited");
	else if (WIFEXITED(status))
		snprintf(s, sizeof s, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(s, sizeof s, "was killed by signal %d (%s)", WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	else
		snprintf(s, sizeof s, "stopped (status %#x)", status);
	return s;
}
