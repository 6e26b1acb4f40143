/*
 * loop: the one event loop of a process (the daemon, the guest agent, the
 * CLI's exec), shaped like redis's ae: file descriptors with an interest mask
 * and a callback, one-shot timers, and a hook run before each sleep.
 * Callbacks may add and remove fds and timers, including their own.
 */
#ifndef SPRIG_LOOP_H
#define SPRIG_LOOP_H

#include <stdint.h>

#define LOOP_READ	0x1
#define LOOP_WRITE	0x2
#define LOOP_HUP	0x4	/* reported only: the peer hung up or an error */

struct loop;

typedef void (*loop_fd_fn)(struct loop *l, int fd, int events, void *arg);
typedef void (*loop_timer_fn)(struct loop *l, uint64_t id, void *arg);
typedef void (*loop_hook_fn)(struct loop *l, void *arg);

/* Returns 0 or a negative errno. */
int loop_new(struct loop **ret);
void loop_free(struct loop *l);

/* Watches @fd for @mask; one callback per fd. Returns 0 or a negative errno. */
int loop_add_fd(struct loop *l, int fd, int mask, loop_fd_fn fn, void *arg);
int loop_set_fd(struct loop *l, int fd, int mask);
/* Stops watching @fd (it is not closed). Safe for unknown fds. */
void loop_del_fd(struct loop *l, int fd);

/* Calls @fn once after @ms milliseconds; returns a non-zero id. */
uint64_t loop_add_timer(struct loop *l, uint64_t ms, loop_timer_fn fn, void *arg);
/* Cancels a timer; 0 and ids already fired are ignored. */
void loop_del_timer(struct loop *l, uint64_t id);

/* Runs @fn before every sleep (one hook). */
void loop_set_before_sleep(struct loop *l, loop_hook_fn fn, void *arg);

/* Runs one turn: waits at most @timeout_ms (-1: until an event). */
int loop_run_once(struct loop *l, int timeout_ms);
/* Runs until loop_stop. Returns 0 or a negative errno. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

/* Monotonic milliseconds. */
uint64_t loop_now_ms(void);
/* Monotonic microseconds. */
uint64_t loop_now_us(void);

#endif
