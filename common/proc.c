/*
 * proc: spawning and watching processes with pidfds.
 */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
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

static void
proc_child(const struct proc_spec *spec, int errfd)
{
	int fd, err;

	/* A group of its own either way, so proc_kill reaches what it starts
	 * too (a recipe's mke2fs, a sleep): see proc_kill. */
	if (spec->new_session)
		setsid();
	else
		setpgid(0, 0);
	/* Signals the daemon ignores or blocks must not leak into the child. */
	signal(SIGPIPE, SIG_DFL);
	sigset_t none;
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
	for (size_t i = 0; spec->env_add != NULL && spec->env_add[i] != NULL; i++)
		putenv(spec->env_add[i]);
	execvp(spec->argv[0], spec->argv);
fail:
	err = errno;
	(void)!write(errfd, &err, sizeof err);
	_exit(127);
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
	ssize_t n;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return r;
	}
	if (pid == 0) {
		close(pipefd[0]);
		proc_child(spec, pipefd[1]);
	}
	close(pipefd[1]);
	/* Also here, so the group exists before anyone signals it. */
	if (!spec->new_session)
		setpgid(pid, pid);
	/* EOF means exec succeeded; this costs one fork+exec, a few ms. */
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
