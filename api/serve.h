/*
 * serve: the daemon, `sprig serve`. It owns the event loop, the API socket,
 * the database and the sprites' QEMU processes.
 */
#ifndef SPRIG_SERVE_H
#define SPRIG_SERVE_H

/* Runs the daemon in the foreground until stopped; returns an exit status.
 * @argv are the arguments after "serve". If the environment has
 * SPRIG_READY_FD=<n>, one byte is written to fd n once the API socket
 * listens (how the CLI knows a daemon it started is ready), then n is closed. */
int serve_main(int argc, char **argv);

#endif
