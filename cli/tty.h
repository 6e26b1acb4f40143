/*
 * tty: the local terminal during `sprig exec -t`: raw mode, put back on every
 * way out (normal return, exit, fatal signals), and the window size.
 */
#ifndef SPRIG_CLI_TTY_H
#define SPRIG_CLI_TTY_H

/* Puts terminal @fd in raw mode, saving its settings. Returns 0 or a
 * negative errno. */
int tty_raw(int fd);
/* Puts back the settings tty_raw saved; does nothing when none are. */
void tty_restore(void);
/* The window size of terminal @fd. Returns 0 or a negative errno. */
int tty_size(int fd, int *rows, int *cols);

#endif
