/*
 * serve: `sprig serve`, the daemon. One per SPRIG_HOME, guarded by a lock
 * file; it runs one event loop that carries the API, the VMs' QMP and agent
 * channels and the signals that stop it. Its own messages go to stderr
 * (daemon.log when the CLI started it).
 */
#include "serve.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "auth.h"
#include "listen.h"
#include "common/home.h"
#include "common/loop.h"
#include "common/trace.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "core/core.h"
#include "vmm/qemu.h"
#include "vmm/vmm.h"

static void serve_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
serve_log(const char *fmt, ...)
{
	char when[32];
	va_list ap;

	format_rfc3339(now_unix_ms(), when, sizeof when);
	fprintf(stderr, "%s sprig[%d]: ", when, (int)getpid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
serve_on_signal(struct loop *l, int fd, int events, void *arg)
{
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof si) == sizeof si)
		serve_log("signal %d: stopping", (int)si.ssi_signo);
	loop_stop(l);
}

/* Where image recipes and the guest's programs live: beside the binary. */
static char *
serve_libexec(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	const char *env = getenv("SPRIG_LIBEXEC");

	if (env != NULL && *env != '\0')
		return xstrdup(env);
	if (n <= 0)
		return xstrdup(".");
	exe[n] = '\0';
	return xstrdup(dirname(exe));
}

static int
serve_lock(const char *home, int *ret_fd)
{
	char *path = home_path(home, "daemon.lock");
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	free(path);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int r = -errno;

		close(fd);
		return r == -EWOULDBLOCK ? -EBUSY : r;
	}
	*ret_fd = fd;
	return 0;
}

static void
serve_usage(FILE *f)
{
	fprintf(f, "usage: sprig serve [--listen ADDR:PORT [--listen-any]]\n"
	    "Runs the sprig daemon in the foreground (the CLI starts it on demand).\n"
	    "--listen (or SPRIG_LISTEN) serves the API on TCP too, every request with\n"
	    "\"Authorization: Bearer <token>\" ('sprig token create'); an address beyond\n"
	    "loopback also needs --listen-any.\n"
	    "Stop it with: sprig serve --stop\n");
}

int
serve_main(int argc, char **argv)
{
	struct core_config cfg = { 0 };
	struct loop *loop = NULL;
	struct core *core = NULL;
	struct api *api = NULL;
	struct auth *auth = NULL;
	char *home = NULL, *libexec = NULL, *sock = NULL, *pidfile = NULL, *cause = NULL;
	char *preload;
	char pid[32];
	const char *env, *tcp = getenv("SPRIG_LISTEN");
	sigset_t mask;
	int lockfd = -1, sigfd = -1, listenfd, tcpfd, loopback, r, status = 1, any = 0;

	if (tcp != NULL && *tcp == '\0')
		tcp = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			serve_usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--listen") == 0) {
			if (i + 1 == argc) {
				fprintf(stderr, "sprig serve: --listen needs ADDR:PORT, like "
				    "127.0.0.1:7777\n");
				return 2;
			}
			tcp = argv[++i];
			continue;
		}
		if (strncmp(argv[i], "--listen=", 9) == 0) {
			tcp = argv[i] + 9;
			continue;
		}
		if (strcmp(argv[i], "--listen-any") == 0) {
			any = 1;
			continue;
		}
		fprintf(stderr, "sprig serve: unknown argument \"%s\"\n", argv[i]);
		serve_usage(stderr);
		return 2;
	}
	r = home_dir(&home);
	if (r < 0) {
		fprintf(stderr, "sprig: cannot find or create SPRIG_HOME: %s\n", strerror(-r));
		return 1;
	}
	r = serve_lock(home, &lockfd);
	if (r == -EBUSY) {
		fprintf(stderr, "sprig: a daemon is already running for %s\n", home);
		goto out;
	}
	if (r < 0) {
		fprintf(stderr, "sprig: cannot lock %s/daemon.lock: %s\n", home, strerror(-r));
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	r = loop_new(&loop);
	if (r < 0 || sigfd < 0) {
		fprintf(stderr, "sprig: cannot set up the event loop\n");
		goto out;
	}
	loop_add_fd(loop, sigfd, LOOP_READ, serve_on_signal, NULL);

	libexec = serve_libexec();
	cfg.home = home;
	cfg.libexec = libexec;
	cfg.vmm = &qemu_vmm_ops;
	/* SPRIG_QEMU_PRELOAD="" starts QEMU without it (to compare). */
	env = getenv("SPRIG_QEMU_PRELOAD");
	preload = env != NULL ? xstrdup(env) : xasprintf("%s/libsprig-qemu-preload.so", libexec);
	qemu_set_preload(preload);
	free(preload);
	/* SPRIG_TRACE=1: a timeline of each operation's steps (trace.h). */
	env = getenv("SPRIG_TRACE");
	if (env != NULL && strcmp(env, "1") == 0)
		trace_set_fd(STDERR_FILENO);
	env = getenv("SPRIG_BOOT_TIMEOUT");
	cfg.boot_timeout_ms = env ? atoi(env) * 1000 : 0;
	/* Idle sprites sleep after SPRIG_IDLE seconds ("off": never); 30 s
	 * by default, as Sprites do. */
	env = getenv("SPRIG_IDLE");
	cfg.idle_s = env == NULL ? 30 : strcmp(env, "off") == 0 ? 0 : atoi(env);
	r = core_new(loop, &cfg, &core, &cause);
	if (r < 0) {
		fprintf(stderr, "sprig: %s\n", cause);
		goto out;
	}
	sock = home_path(home, "api.sock");
	listenfd = unix_listen(sock, 0600);
	if (listenfd < 0) {
		fprintf(stderr, "sprig: cannot listen on %s: %s\n", sock, strerror(-listenfd));
		goto out;
	}
	auth = auth_new(core_store(core));
	r = api_new(loop, core, auth, listenfd, &api, &cause);
	if (r < 0) {
		fprintf(stderr, "sprig: %s\n", cause);
		goto out;
	}
	if (tcp != NULL) {
		r = listen_tcp(tcp, any, &tcpfd, &loopback, &cause);
		if (r == 0)
			r = api_listen_tcp(api, tcpfd, &cause);
		if (r < 0) {
			fprintf(stderr, "sprig: %s\n", cause);
			goto out;
		}
		serve_log("serving http://%s too (bearer tokens: 'sprig token create')", tcp);
		if (!loopback)
			serve_log("warning: %s is beyond loopback: anyone who reaches it with a "
			    "token runs code in your sprites", tcp);
	}
	pidfile = home_path(home, "daemon.pid");
	snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	write_file_atomic(pidfile, pid, strlen(pid), 0600);
	serve_log("serving %s (accelerator %s)", sock, core_accel(core));

	env = getenv("SPRIG_READY_FD");
	if (env != NULL) {
		int fd = atoi(env);

		if (fd > 2) {
			(void)!write(fd, "1", 1);
			close(fd);
		}
		unsetenv("SPRIG_READY_FD");
	}
	r = loop_run(loop);
	status = r < 0 ? 1 : 0;
	if (r < 0)
		serve_log("event loop failed: %s", strerror(-r));
out:
	/* Core first: it answers every request waiting on it, which resumes
	 * their connections, as MHD needs before it stops. The event streams
	 * let go of core before that. */
	api_unwatch(api);
	core_free(core);
	api_free(api);
	if (pidfile != NULL)
		unlink(pidfile);
	if (sock != NULL && api != NULL)
		unlink(sock);
	if (sigfd >= 0)
		close(sigfd);
	loop_free(loop);
	if (lockfd >= 0)
		close(lockfd);
	if (status == 0)
		serve_log("stopped");
	free(home);
	qemu_set_preload(NULL);
	free(libexec);
	free(sock);
	free(pidfile);
	free(cause);
	return status;
}
