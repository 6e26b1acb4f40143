/*
 * dashboard: `sprig` with no arguments. The app: the sprite list, the
 * selected sprite's timeline, console panes, the status line and event log,
 * keys, mouse and ':' commands, on one event loop; the daemon's event
 * stream says what to refresh. It owns the screen while it runs.
 */
#ifndef SPRIG_TUI_DASHBOARD_H
#define SPRIG_TUI_DASHBOARD_H

struct client;

/* Runs the dashboard until the user quits. Returns the process's exit
 * status, or -ENOTTY (nothing done) when stdin or stdout is not a terminal. */
int dashboard_main(struct client *c);

#endif
