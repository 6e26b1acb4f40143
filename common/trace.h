/*
 * trace: a timeline of what the daemon does, for finding where the time of
 * an operation goes (a wake, a restore, a first exec). Off unless the
 * daemon is started with SPRIG_TRACE=1; then each trace() writes one line,
 * the wall-clock time to the microsecond and the text, to the daemon's
 * stderr (daemon.log when the CLI started it). Like tmux's log_debug, but
 * made for reading intervals off. Costs one compare when off.
 */
#ifndef SPRIG_TRACE_H
#define SPRIG_TRACE_H

/* Sends trace lines to @fd (not owned), or nowhere with -1. */
void trace_set_fd(int fd);

void trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
