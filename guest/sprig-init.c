/*
 * sprig-init: PID 1 of a sprite. It mounts the kernel's filesystems, names
 * the machine from the kernel command line, brings up lo, reaps every child
 * (sessions and orphans alike) and runs the agent (agent.c) and its exec
 * sessions (session.c) on one event loop. It owns the console, the signal
 * dispositions, the SIGCHLD signalfd and the loop.
 *
 * It must never exit: the kernel panics when PID 1 dies. Failures are
 * written to the console (ttyS0, which the host keeps as the serial log)
 * and the rest carries on.
 */
#include "sprig-init.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/loop.h"
#include "agent.h"
#include "ckptmount.h"
#include "request.h"
#include "session.h"
#include "sprite-env.h"

#define INIT_HOSTNAME_ARG	"sprig.hostname="
#define INIT_HOSTNAME_DEFAULT	"sprite"

/* PID 1 ignores these; its children get them back at their defaults. */
static const int init_ignored[] = { SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGTTIN, SIGTTOU, SIGTSTP };

struct init_mount {
	const char	*source;
	const char	*target;
	const char	*type;
	unsigned long	 flags;
	const char	*data;
};

static const struct init_mount init_mounts[] = {
	{ "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL },
	{ "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL },
	{ "devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755" },
	{ "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "gid=5,mode=0620,ptmxmode=0666" },
	{ "tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777" },
	{ "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777" },
	{ "tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755" },
};

void
init_log(const char *fmt, ...)
{
	char line[1024];
	size_t n;
	va_list ap;

	strcpy(line, "sprig-init: ");
	n = strlen(line);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
	va_end(ap);
	n = strlen(line);
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* Nowhere else to say it. */
	}
}

/* Whether @path is already a mount point (the initramfs moved it here). */
static int
init_is_mounted(const char *path)
{
	char parent[PATH_MAX];
	struct stat st, pst;

	snprintf(parent, sizeof parent, "%s/..", path);
	if (stat(path, &st) < 0 || stat(parent, &pst) < 0)
		return 0;
	return st.st_dev != pst.st_dev;
}

static void
init_mount_all(void)
{
	for (size_t i = 0; i < sizeof init_mounts / sizeof init_mounts[0]; i++) {
		const struct init_mount *m = &init_mounts[i];

		if (mkdir(m->target, 0755) < 0 && errno != EEXIST) {
			init_log("mkdir %s: %s", m->target, strerror(errno));
			continue;
		}
		if (init_is_mounted(m->target))
			continue;
		if (mount(m->source, m->target, m->type, m->flags, m->data) < 0)
			init_log("mount %s on %s: %s", m->type, m->target, strerror(errno));
	}
}

/* Points fds 0, 1 and 2 at the console, so they are never free for
 * anything else (session pipes must not land on them). */
static void
init_console(void)
{
	int fd;

	fd = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return;
	for (int i = 0; i < 3; i++) {
		if (fd != i)
			dup2(fd, i);
	}
	if (fd > 2)
		close(fd);
}

/* Takes the hostname from sprig.hostname=NAME on the kernel command line. */
static void
init_hostname(void)
{
	char cmdline[4096], name[HOST_NAME_MAX + 1];
	const char *p;
	ssize_t n;
	size_t len;
	int fd;

	snprintf(name, sizeof name, "%s", INIT_HOSTNAME_DEFAULT);
	fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		init_log("open /proc/cmdline: %s", strerror(errno));
		goto out;
	}
	n = read(fd, cmdline, sizeof cmdline - 1);
	close(fd);
	if (n < 0)
		goto out;
	cmdline[n] = '\0';
	for (p = cmdline; (p = strstr(p, INIT_HOSTNAME_ARG)) != NULL; p++) {
		if (p != cmdline && p[-1] != ' ')
			continue;
		p += strlen(INIT_HOSTNAME_ARG);
		len = strcspn(p, " \n");
		if (len == 0 || len > HOST_NAME_MAX) {
			init_log("ignoring a bad %s", INIT_HOSTNAME_ARG);
			break;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		break;
	}
out:
	if (sethostname(name, strlen(name)) < 0)
		init_log("sethostname %s: %s", name, strerror(errno));
}

/* Brings up lo; the kernel gives it 127.0.0.1 and ::1 by itself. */
static void
init_loopback(void)
{
	struct ifreq ifr;
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		init_log("socket: %s", strerror(errno));
		return;
	}
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		init_log("lo: SIOCGIFFLAGS: %s", strerror(errno));
		goto out;
	}
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		init_log("lo: SIOCSIFFLAGS: %s", strerror(errno));
out:
	close(fd);
}

/* Returns a signalfd for SIGCHLD, or -1. */
static int
init_signals(void)
{
	sigset_t set;
	int fd;

	for (size_t i = 0; i < sizeof init_ignored / sizeof init_ignored[0]; i++)
		signal(init_ignored[i], SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		init_log("signalfd: %s", strerror(errno));
	return fd;
}

void
init_child_reset(void)
{
	sigset_t none;

	for (size_t i = 0; i < sizeof init_ignored / sizeof init_ignored[0]; i++)
		signal(init_ignored[i], SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static void
init_reap(void)
{
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		session_reaped(pid, status);
}

static void
init_sigchld(struct loop *l, int fd, int events, void *arg)
{
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof si) == (ssize_t)sizeof si)
		continue;
	init_reap();
}

/* Without a loop there is no agent: stay up as a plain reaper. */
static void __attribute__((noreturn))
init_reap_forever(void)
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (;;) {
		sigwait(&set, &sig);
		init_reap();
	}
}

void
init_poweroff(void)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };

	init_log("powering off");
	kill(-1, SIGKILL);
	/* Give the killed a moment to close their files, so / can go read-only. */
	for (int i = 0; i < 100; i++) {
		if (waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD)
			break;
		nanosleep(&tick, NULL);
	}
	sync();
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0)
		init_log("remount / read-only: %s", strerror(errno));
	sync();
	reboot(RB_POWER_OFF);
	init_log("power off: %s", strerror(errno));
	for (;;)
		pause();
}

int
main(int argc, char **argv)
{
	const char *self = argc > 0 ? strrchr(argv[0], '/') : NULL;
	struct loop *l;
	int sfd, r;

	self = self != NULL ? self + 1 : argc > 0 ? argv[0] : "";
	if (strcmp(self, "sprite-env") == 0)
		return sprite_env_main(argc, argv);
	if (getpid() == 1) {
		umask(022);
		if (chdir("/") < 0) {
			/* Nothing to do about it. */
		}
		init_mount_all();
		init_console();
		init_hostname();
		init_loopback();
	}
	sfd = init_signals();
	r = loop_new(&l);
	if (r < 0) {
		init_log("event loop: %s", strerror(-r));
		init_reap_forever();
	}
	if (sfd >= 0 && (r = loop_add_fd(l, sfd, LOOP_READ, init_sigchld, NULL)) < 0)
		init_log("watch SIGCHLD: %s", strerror(-r));
	session_init(l);
	agent_start(l);
	request_start(l);
	if (getpid() == 1)
		ckptmount_start(l);
	loop_set_before_sleep(l, agent_before_sleep, NULL);
	for (;;) {
		struct timespec pause_ts = { 1, 0 };

		r = loop_run(l);
		init_log("event loop: %s", strerror(-r));
		nanosleep(&pause_ts, NULL);
	}
}
