/*
 * sprig-init: what the guest's PID 1 offers the agent and the sessions.
 */
#ifndef SPRIG_GUEST_INIT_H
#define SPRIG_GUEST_INIT_H

/* Writes "sprig-init: ..." and a newline to the console (the host's serial log). */
void init_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* In a forked child: restores the signal mask and dispositions PID 1 changed. */
void init_child_reset(void);

/* Kills every process, syncs the disks and powers the machine off. */
void init_poweroff(void) __attribute__((noreturn));

#endif
