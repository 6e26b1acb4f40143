/*
 * tty: raw mode and its undoing.
 *
 * The saved settings are the one global here: a fatal signal handler and an
 * atexit hook must find them, and they describe the process's one terminal.
 * Termination requests (SIGTERM, SIGHUP, ...) are not handled here: exec
 * reads them from a signalfd in its loop and returns normally.
 */
#include "tty.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

static struct termios	tty_saved;
static volatile sig_atomic_t tty_saved_fd = -1;

static void
tty_fatal(int sig)
{
	/* tcsetattr is async-signal-safe; SA_RESETHAND made the next one fatal. */
	if (tty_saved_fd >= 0)
		tcsetattr(tty_saved_fd, TCSANOW, &tty_saved);
	raise(sig);
}

int
tty_raw(int fd)
{
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL };
	static int hooked;
	struct sigaction sa;
	struct termios raw;
	size_t i;

	if (tcgetattr(fd, &tty_saved) < 0)
		return -errno;
	raw = tty_saved;
	cfmakeraw(&raw);
	if (!hooked) {
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = tty_fatal;
		sa.sa_flags = SA_RESETHAND;
		sigemptyset(&sa.sa_mask);
		for (i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
			sigaction(fatal[i], &sa, NULL);
		atexit(tty_restore);
		hooked = 1;
	}
	tty_saved_fd = fd;
	if (tcsetattr(fd, TCSADRAIN, &raw) < 0) {
		tty_saved_fd = -1;
		return -errno;
	}
	return 0;
}

void
tty_restore(void)
{
	int fd = tty_saved_fd;

	if (fd < 0)
		return;
	tty_saved_fd = -1;
	while (tcsetattr(fd, TCSADRAIN, &tty_saved) < 0 && errno == EINTR)
		;
}

int
tty_size(int fd, int *rows, int *cols)
{
	struct winsize ws;

	if (ioctl(fd, TIOCGWINSZ, &ws) < 0)
		return -errno;
	if (ws.ws_row == 0 || ws.ws_col == 0)
		return -ENOTTY;
	*rows = ws.ws_row;
	*cols = ws.ws_col;
	return 0;
}
