/*
 * loop: an epoll event loop with timers. File descriptors are kept in a
 * table indexed by fd; timers in a small unsorted array, scanned for the
 * nearest deadline (a process here has tens of timers, not thousands).
 */
#include "loop.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "xmalloc.h"

struct loop_fd {
	int		 mask;	/* 0: slot unused */
	loop_fd_fn	 fn;
	void		*arg;
	uint64_t	 gen;	/* bumped on every add, to spot stale events */
};

struct loop_timer {
	uint64_t	 id;
	uint64_t	 when;
	loop_timer_fn	 fn;
	void		*arg;
};

struct loop {
	int			 epfd;
	struct loop_fd		*fds;
	int			 nfds;
	struct loop_timer	*timers;
	size_t			 ntimers;
	size_t			 timers_cap;
	uint64_t		 next_timer_id;
	uint64_t		 next_gen;
	loop_hook_fn		 before_sleep;
	void			*before_sleep_arg;
	int			 stop;
};

uint64_t
loop_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t
loop_now_ms(void)
{
	return loop_now_us() / 1000;
}

int
loop_new(struct loop **ret)
{
	struct loop *l;
	int fd;

	fd = epoll_create1(EPOLL_CLOEXEC);
	if (fd < 0)
		return -errno;
	l = xcalloc(1, sizeof *l);
	l->epfd = fd;
	*ret = l;
	return 0;
}

void
loop_free(struct loop *l)
{
	if (l == NULL)
		return;
	close(l->epfd);
	free(l->fds);
	free(l->timers);
	free(l);
}

static uint32_t
loop_epoll_mask(int mask)
{
	uint32_t ev = 0;

	if (mask & LOOP_READ)
		ev |= EPOLLIN | EPOLLRDHUP;
	if (mask & LOOP_WRITE)
		ev |= EPOLLOUT;
	return ev;
}

int
loop_add_fd(struct loop *l, int fd, int mask, loop_fd_fn fn, void *arg)
{
	struct epoll_event ev = { 0 };

	if (fd < 0)
		return -EBADF;
	if (fd >= l->nfds) {
		int n = l->nfds ? l->nfds : 64;

		while (n <= fd)
			n *= 2;
		l->fds = xreallocarray(l->fds, (size_t)n, sizeof *l->fds);
		memset(l->fds + l->nfds, 0, (size_t)(n - l->nfds) * sizeof *l->fds);
		l->nfds = n;
	}
	if (l->fds[fd].fn != NULL)
		return -EEXIST;
	ev.events = loop_epoll_mask(mask);
	ev.data.u64 = (uint64_t)(unsigned)fd | (++l->next_gen << 32);
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	l->fds[fd].mask = mask;
	l->fds[fd].fn = fn;
	l->fds[fd].arg = arg;
	l->fds[fd].gen = l->next_gen;
	return 0;
}

int
loop_set_fd(struct loop *l, int fd, int mask)
{
	struct epoll_event ev = { 0 };

	if (fd < 0 || fd >= l->nfds || l->fds[fd].fn == NULL)
		return -ENOENT;
	if (l->fds[fd].mask == mask)
		return 0;
	ev.events = loop_epoll_mask(mask);
	ev.data.u64 = (uint64_t)(unsigned)fd | (l->fds[fd].gen << 32);
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	l->fds[fd].mask = mask;
	return 0;
}

void
loop_del_fd(struct loop *l, int fd)
{
	if (fd < 0 || fd >= l->nfds || l->fds[fd].fn == NULL)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	memset(&l->fds[fd], 0, sizeof l->fds[fd]);
}

uint64_t
loop_add_timer(struct loop *l, uint64_t ms, loop_timer_fn fn, void *arg)
{
	struct loop_timer *t;

	if (l->ntimers == l->timers_cap) {
		l->timers_cap = l->timers_cap ? l->timers_cap * 2 : 16;
		l->timers = xreallocarray(l->timers, l->timers_cap, sizeof *l->timers);
	}
	t = &l->timers[l->ntimers++];
	t->id = ++l->next_timer_id;
	t->when = loop_now_ms() + ms;
	t->fn = fn;
	t->arg = arg;
	return t->id;
}

void
loop_del_timer(struct loop *l, uint64_t id)
{
	size_t i;

	if (id == 0)
		return;
	for (i = 0; i < l->ntimers; i++) {
		if (l->timers[i].id == id) {
			l->timers[i] = l->timers[--l->ntimers];
			return;
		}
	}
}

void
loop_set_before_sleep(struct loop *l, loop_hook_fn fn, void *arg)
{
	l->before_sleep = fn;
	l->before_sleep_arg = arg;
}

static int
loop_next_timeout(struct loop *l, int timeout_ms)
{
	uint64_t now = loop_now_ms(), soonest = UINT64_MAX;
	size_t i;

	for (i = 0; i < l->ntimers; i++) {
		if (l->timers[i].when < soonest)
			soonest = l->timers[i].when;
	}
	if (soonest == UINT64_MAX)
		return timeout_ms;
	if (soonest <= now)
		return 0;
	if (timeout_ms < 0 || soonest - now < (uint64_t)timeout_ms) {
		/* A deadline weeks away must not wrap to a negative (endless) wait. */
		if (soonest - now > INT_MAX)
			return INT_MAX;
		return (int)(soonest - now);
	}
	return timeout_ms;
}

static void
loop_fire_timers(struct loop *l)
{
	uint64_t now = loop_now_ms(), last = l->next_timer_id;
	size_t i = 0;

	/* Timers added by a callback wait for the next turn (id > last). */
	while (i < l->ntimers) {
		struct loop_timer t = l->timers[i];

		if (t.when > now || t.id > last) {
			i++;
			continue;
		}
		l->timers[i] = l->timers[--l->ntimers];
		t.fn(l, t.id, t.arg);
		i = 0;
	}
}

int
loop_run_once(struct loop *l, int timeout_ms)
{
	struct epoll_event evs[64];
	int n, i;

	if (l->before_sleep != NULL)
		l->before_sleep(l, l->before_sleep_arg);
	n = epoll_wait(l->epfd, evs, 64, loop_next_timeout(l, timeout_ms));
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		return -errno;
	}
	for (i = 0; i < n; i++) {
		int fd = (int)(evs[i].data.u64 & 0xffffffff);
		uint64_t gen = evs[i].data.u64 >> 32;
		struct loop_fd *f;
		int events = 0;

		if (fd >= l->nfds)
			continue;
		f = &l->fds[fd];
		/* Removed, or removed and re-added, by an earlier callback. */
		if (f->fn == NULL || f->gen != gen)
			continue;
		if (evs[i].events & (EPOLLIN | EPOLLRDHUP))
			events |= LOOP_READ;
		if (evs[i].events & EPOLLOUT)
			events |= LOOP_WRITE;
		if (evs[i].events & (EPOLLHUP | EPOLLERR))
			events |= LOOP_HUP | (f->mask & LOOP_READ);
		f->fn(l, fd, events, f->arg);
	}
	loop_fire_timers(l);
	return 0;
}

int
loop_run(struct loop *l)
{
	int r;

	l->stop = 0;
	while (!l->stop) {
		r = loop_run_once(l, -1);
		if (r < 0)
			return r;
	}
	return 0;
}

void
loop_stop(struct loop *l)
{
	l->stop = 1;
}
