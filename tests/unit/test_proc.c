/*
 * test_proc: children spawned and killed from the loop. What a user would
 * lose otherwise: a killed image build that leaves its tools running, and a
 * daemon whose QEMUs hold the pipes of whatever shell started the daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/loop.h"
#include "common/proc.h"
#include "common/util.h"
#include "common/xmalloc.h"

struct run {
	struct loop	*loop;
	int		 exited;
	int		 status;
};

static void
on_exit_cb(struct proc *p, int status, void *arg)
{
	struct run *r = arg;

	r->exited = 1;
	r->status = status;
}

static void
run_until_exit(struct run *r)
{
	uint64_t deadline = loop_now_ms() + 10000;

	while (!r->exited && loop_now_ms() < deadline)
		loop_run_once(r->loop, 100);
	assert_true(r->exited);
}

/* Whether @pid is gone (or a zombie nobody has reaped yet). */
static int
pid_dead(pid_t pid)
{
	char path[64], *stat = NULL, *p;
	int dead;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (read_file(path, 4096, &stat, NULL) < 0)
		return 1;
	p = strrchr(stat, ')');
	dead = p == NULL || p[2] == 'Z' || p[2] == 'X';
	free(stat);
	return dead;
}

static void
test_kill_reaches_grandchildren(void **state)
{
	char dir[] = "/tmp/sprig-test-proc.XXXXXX", *file, *script, *text = NULL;
	struct run r = { 0 };
	struct proc *p = NULL;
	uint64_t deadline;
	pid_t grandchild = 0;

	assert_non_null(mkdtemp(dir));
	file = xasprintf("%s/pid", dir);
	script = xasprintf("sleep 60 & echo $! > %s.tmp && mv %s.tmp %s; wait", file, file, file);
	char *argv[] = { "sh", "-c", script, NULL };
	struct proc_spec spec = { .argv = argv };

	assert_int_equal(loop_new(&r.loop), 0);
	assert_int_equal(proc_spawn(r.loop, &spec, on_exit_cb, &r, &p), 0);
	deadline = loop_now_ms() + 10000;
	while (read_file(file, 64, &text, NULL) < 0 && loop_now_ms() < deadline)
		poll(NULL, 0, 10);
	assert_non_null(text);
	grandchild = (pid_t)atoi(text);
	assert_true(grandchild > 0);
	assert_false(pid_dead(grandchild));

	assert_int_equal(proc_kill(p, SIGKILL), 0);
	run_until_exit(&r);
	assert_true(WIFSIGNALED(r.status));
	deadline = loop_now_ms() + 5000;
	while (!pid_dead(grandchild) && loop_now_ms() < deadline)
		poll(NULL, 0, 10);
	if (!pid_dead(grandchild))
		kill(grandchild, SIGKILL);	/* do not leave it behind either way */
	assert_true(pid_dead(grandchild));

	loop_free(r.loop);
	unlink(file);
	rmdir(dir);
	free(text);
	free(file);
	free(script);
}

/*
 * A descriptor this process inherited without FD_CLOEXEC (as the daemon does
 * from the shell that started it) must not reach the child: the child would
 * keep the write end of a pipe open and its reader would never see EOF.
 */
static void
test_no_inherited_fds(void **state)
{
	char *argv[] = { "sleep", "30", NULL };
	struct proc_spec spec = { .argv = argv };
	struct run r = { 0 };
	struct proc *p = NULL;
	struct pollfd pfd;
	int fds[2];
	ssize_t n;
	char c;

	assert_int_equal(pipe(fds), 0);	/* no O_CLOEXEC, on purpose */
	assert_int_equal(loop_new(&r.loop), 0);
	assert_int_equal(proc_spawn(r.loop, &spec, on_exit_cb, &r, &p), 0);
	close(fds[1]);
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	n = poll(&pfd, 1, 2000);
	if (n == 1)
		n = read(fds[0], &c, 1);
	else
		n = -1;

	assert_int_equal(proc_kill(p, SIGKILL), 0);
	run_until_exit(&r);
	close(fds[0]);
	assert_int_equal(n, 0);	/* EOF: nobody else holds the write end */
	loop_free(r.loop);
}

/* keep_fds still reach the child, CLOEXEC or not. */
static void
test_keep_fds(void **state)
{
	struct run r = { 0 };
	struct proc *p = NULL;
	char *script, buf[16] = "";
	int fds[2];
	ssize_t n;

	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	script = xasprintf("echo kept >&%d", fds[1]);
	char *argv[] = { "sh", "-c", script, NULL };
	struct proc_spec spec = { .argv = argv, .keep_fds = &fds[1], .nkeep_fds = 1 };

	assert_int_equal(loop_new(&r.loop), 0);
	assert_int_equal(proc_spawn(r.loop, &spec, on_exit_cb, &r, &p), 0);
	close(fds[1]);
	run_until_exit(&r);
	assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	n = read(fds[0], buf, sizeof buf - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "kept\n");
	close(fds[0]);
	loop_free(r.loop);
	free(script);
}

/*
 * The child gets the environment with env_add's entries set, and none of
 * the daemon's ignored or blocked signals, while the daemon's own
 * environment is left as it was: the child shares its memory until exec.
 */
static void
test_env_and_signals(void **state)
{
	char dir[] = "/tmp/sprig-test-proc.XXXXXX", *out, *text = NULL, *blk, *ign;
	char *argv[] = { "sh", "-c", "echo \"$SPRIG_T_KEEP $SPRIG_T_OVER $SPRIG_T_ADD\"; "
	    "grep -E '^Sig(Ign|Blk)' /proc/self/status", NULL };
	char *add[] = { "SPRIG_T_OVER=new", "SPRIG_T_ADD=added", NULL };
	struct proc_spec spec = { .argv = argv, .env_add = add };
	struct run r = { 0 };
	struct proc *p = NULL;
	sigset_t block, old;

	assert_non_null(mkdtemp(dir));
	out = xasprintf("%s/out", dir);
	spec.output = out;
	setenv("SPRIG_T_KEEP", "kept", 1);
	setenv("SPRIG_T_OVER", "old", 1);
	signal(SIGPIPE, SIG_IGN);	/* as the daemon does */
	signal(SIGUSR2, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);	/* as the daemon's signalfd does */
	sigprocmask(SIG_BLOCK, &block, &old);

	assert_int_equal(loop_new(&r.loop), 0);
	assert_int_equal(proc_spawn(r.loop, &spec, on_exit_cb, &r, &p), 0);
	run_until_exit(&r);
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGUSR2, SIG_DFL);
	assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	assert_int_equal(read_file(out, 4096, &text, NULL), 0);
	assert_int_equal(strncmp(text, "kept new added\n", 15), 0);
	blk = strstr(text, "SigBlk:");
	ign = strstr(text, "SigIgn:");
	assert_non_null(blk);
	assert_non_null(ign);
	/* Only what this test set: a test runner may start us with glibc's
	 * own signals (32, 33) ignored, which no sigaction can reset. */
	assert_int_equal(strtoull(blk + 7, NULL, 16) & (1ull << (SIGTERM - 1)), 0);
	assert_int_equal(strtoull(ign + 7, NULL, 16) & (1ull << (SIGPIPE - 1)), 0);
	assert_int_equal(strtoull(ign + 7, NULL, 16) & (1ull << (SIGUSR2 - 1)), 0);
	assert_string_equal(getenv("SPRIG_T_OVER"), "old");
	assert_null(getenv("SPRIG_T_ADD"));

	unsetenv("SPRIG_T_KEEP");
	unsetenv("SPRIG_T_OVER");
	loop_free(r.loop);
	unlink(out);
	rmdir(dir);
	free(text);
	free(out);
}

static void
test_missing_program(void **state)
{
	char *argv[] = { "/nonexistent/sprig-no-such-program", NULL };
	struct proc_spec spec = { .argv = argv };
	struct loop *l;
	struct proc *p = NULL;

	assert_int_equal(loop_new(&l), 0);
	assert_int_equal(proc_spawn(l, &spec, on_exit_cb, NULL, &p), -ENOENT);
	assert_null(p);
	loop_free(l);
}

/* A function run in a child: its work is done there, its errno comes back
 * as the exit code, and the parent's loop goes on meanwhile. */
static int
child_write(const void *arg)
{
	int fd = open(arg, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static void
test_spawn_fn(void **state)
{
	char dir[] = "/tmp/sprig-test-proc.XXXXXX", *file;
	struct run r = { 0 };
	struct proc *p = NULL;
	struct stat st;

	assert_non_null(mkdtemp(dir));
	file = xasprintf("%s/made", dir);
	assert_int_equal(loop_new(&r.loop), 0);
	assert_int_equal(proc_spawn_fn(r.loop, child_write, file, on_exit_cb, &r, &p), 0);
	run_until_exit(&r);
	assert_true(WIFEXITED(r.status));
	assert_int_equal(WEXITSTATUS(r.status), 0);
	assert_int_equal(stat(file, &st), 0);

	r.exited = 0;	/* again: the file exists now */
	assert_int_equal(proc_spawn_fn(r.loop, child_write, file, on_exit_cb, &r, &p), 0);
	run_until_exit(&r);
	assert_true(WIFEXITED(r.status));
	assert_int_equal(WEXITSTATUS(r.status), EEXIST);

	loop_free(r.loop);
	unlink(file);
	rmdir(dir);
	free(file);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill_reaches_grandchildren),
		cmocka_unit_test(test_no_inherited_fds),
		cmocka_unit_test(test_keep_fds),
		cmocka_unit_test(test_env_and_signals),
		cmocka_unit_test(test_missing_program),
		cmocka_unit_test(test_spawn_fn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
