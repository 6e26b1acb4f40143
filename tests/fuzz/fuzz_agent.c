/*
 * fuzz_agent: libFuzzer target for the host's side of the agent protocol
 * (vmm/agent.c). What a guest sends is not to be trusted (code of any kind
 * runs in it), so any bytes on the channel must leave the daemon standing:
 * the input is written as the guest, with one exec session open to receive
 * output, exits and windows, and once the guest says HELLO a file request
 * (agent_fs) to receive data and its FS_DONE.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/loop.h"
#include "vmm/agent.h"

struct state {
	int	closed;
};

static void fs_output(void *arg, int stream, const uint8_t *data, size_t len) { }
static void fs_lost(void *arg, const char *why) { }
static void fs_done(void *arg, int err, const char *message, uint64_t value) { }

static void
on_hello(struct agent *a, const char *hostname, void *arg)
{
	static const struct agent_session_callbacks fcb = {
		.output = fs_output, .lost = fs_lost, .fs_done = fs_done, .manual_window = 1,
	};
	struct agent_fs f = { .op = AGENT_FS_READ, .path = "/etc/hostname", .limit = 1 << 20 };
	uint32_t chan;

	agent_fs(a, &f, &fcb, NULL, &chan);
}

static void
on_closed(struct agent *a, const char *why, void *arg)
{
	((struct state *)arg)->closed = 1;
}

static void
on_request(struct agent *a, uint32_t id, int argc, char **argv, void *arg)
{
	agent_reply(a, id, argc > 0 ? 0 : 2, "answer\n");
}

static void started(void *arg, int err, const char *message) { }
static void output(void *arg, int stream, const uint8_t *data, size_t len) { }
static void exited(void *arg, int code, int sig) { }
static void lost(void *arg, const char *why) { }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct agent_callbacks cb = {
		.hello = on_hello, .closed = on_closed, .request = on_request,
	};
	static const struct agent_session_callbacks scb = {
		.started = started, .output = output, .exited = exited, .lost = lost,
	};
	static char *argv[] = { "true", NULL };
	struct agent_exec e = { .argv = argv };
	struct state st = { 0 };
	struct loop *l;
	struct agent *a;
	uint32_t chan;
	int sv[2];

	if (loop_new(&l) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
		return 0;
	a = agent_new(l, sv[0], &cb, &st);
	agent_exec(a, &e, &scb, NULL, &chan);
	/* In pieces, with the agent reading between them: an input larger
	 * than the socket's buffer would block a plain write for good. What
	 * the agent sends back is read and dropped, or it would block too.
	 * An agent that stops reading (it may, to push back) ends the input. */
	for (size_t off = 0, stalled = 0; off < size && !st.closed && stalled < 64;) {
		char sink[65536];
		ssize_t n = write(sv[1], data + off, size - off);

		if (n < 0 && errno != EAGAIN)
			goto out;
		stalled = n > 0 ? 0 : stalled + 1;
		if (n > 0)
			off += (size_t)n;
		while (read(sv[1], sink, sizeof sink) > 0)
			;
		if (loop_run_once(l, 0) < 0)
			goto out;
	}
	shutdown(sv[1], SHUT_WR);
	for (int i = 0; i < 64 && !st.closed; i++) {
		if (loop_run_once(l, 0) < 0)
			break;
	}
out:
	agent_free(a);
	close(sv[1]);
	loop_free(l);
	return 0;
}
