/*
 * test_agent: the host side of the agent channel (vmm/agent.c) against a
 * fake guest on the other end of a socketpair, in one loop: the test plays
 * the guest, reading the host's frames and writing its own, and turns the
 * loop until what it waits for has happened.
 *
 * What it guards is per-session flow control: a host that grants output
 * credit it has not delivered lets a guest flood the daemon; one that never
 * grants it hangs the command; stdin beyond the credit makes the guest kill
 * the session; a room callback that never comes hangs the client.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/agent_proto.h"
#include "common/buf.h"
#include "common/loop.h"
#include "common/xmalloc.h"
#include "vmm/agent.h"

#define MAX_TURNS	2000
#define MAX_CHANS	8
#define MAX_EVENTS	64

/* What the owner of a session saw, in order. */
enum ev_kind { EV_STARTED, EV_OUTPUT, EV_EXITED, EV_LOST, EV_ROOM };

struct ev {
	enum ev_kind	 kind;
	int		 stream;
	size_t		 len;
	uint8_t		 first;	/* the output's first byte */
};

struct fake;

struct owner {
	struct fake	*f;
	uint32_t	 chan;
	struct ev	 ev[MAX_EVENTS];
	int		 nev;
	size_t		 out_bytes;
	int		 exited, lost, room_calls;
	int		 code, sig;
	int		 forget_in_output;	/* agent_forget from the output callback */
	/* A well-behaved stdin writer: what it still has to send. */
	const uint8_t	*to_send;
	size_t		 to_send_len;
	int		 eagain;
};

struct fake {
	struct loop	*l;
	struct agent	*a;
	int		 peer;		/* the guest's end */
	struct buf	 rx;		/* bytes from the host not yet framed */
	int		 hellos;
	uint32_t	 hello_version;
	int		 pings;		/* PING frames seen */
	int		 pongs;		/* ping callbacks run */
	uint32_t	 exec_chan;	/* the last EXEC's */
	uint32_t	 connect_chan;	/* the last CONNECT's, and where to */
	char		*connect_host;
	uint16_t	 connect_port;
	/* Per channel, what the host sent. */
	uint64_t	 granted[MAX_CHANS];	/* WINDOW bytes */
	int		 windows[MAX_CHANS];	/* WINDOW frames */
	struct buf	 in[MAX_CHANS];		/* STDIN bytes */
	size_t		 biggest_stdin;		/* largest STDIN frame */
	int		 eof[MAX_CHANS];
	size_t		 in_at_eof[MAX_CHANS];	/* stdin bytes before EOF */
	int		 killed[MAX_CHANS];	/* SIGKILL seen */
	int		 released[MAX_CHANS];	/* unlimited WINDOW seen */
	/* The fake guest's view of output credit. */
	uint64_t	 sent[MAX_CHANS];	/* STDOUT/STDERR bytes */
	int		 closed_calls;
	/* Here rather than on a test's stack: sessions still open at teardown
	 * are told lost. */
	struct owner	 owners[MAX_CHANS];
	int		 nowners;
};

static struct fake *
ev_fake(struct owner *o)
{
	return o->f;
}

/* Records an event; past MAX_EVENTS only the counters go on. */
static void
ev_add(struct owner *o, enum ev_kind kind, int stream, const uint8_t *p, size_t len)
{
	if (o->nev == MAX_EVENTS)
		return;
	o->ev[o->nev].kind = kind;
	o->ev[o->nev].stream = stream;
	o->ev[o->nev].len = len;
	o->ev[o->nev].first = p != NULL && len > 0 ? p[0] : 0;
	o->nev++;
}

static void
on_started(void *arg, int err, const char *message)
{
	ev_add(arg, EV_STARTED, err, NULL, 0);
}

static void
on_output(void *arg, int stream, const uint8_t *data, size_t len)
{
	struct owner *o = arg;

	o->out_bytes += len;
	ev_add(o, EV_OUTPUT, stream, data, len);
	if (o->forget_in_output)
		agent_forget(ev_fake(o)->a, o->chan);
}

static void
on_exited(void *arg, int code, int sig)
{
	struct owner *o = arg;

	o->exited++;
	o->code = code;
	o->sig = sig;
	ev_add(o, EV_EXITED, 0, NULL, 0);
}

static void
on_lost(void *arg, const char *why)
{
	struct owner *o = arg;

	o->lost++;
	ev_add(o, EV_LOST, 0, NULL, 0);
}

/* Sends what fits of what the owner still has; the rest waits for room. */
static void
owner_pump_stdin(struct owner *o)
{
	struct agent *a = ev_fake(o)->a;
	size_t room = agent_stdin_room(a, o->chan);
	size_t n = o->to_send_len < room ? o->to_send_len : room;

	if (n > 0) {
		assert_int_equal(agent_stdin(a, o->chan, o->to_send, n), 0);
		o->to_send += n;
		o->to_send_len -= n;
	}
	if (o->to_send_len > 0)
		o->eagain += agent_stdin(a, o->chan, o->to_send, o->to_send_len) == -EAGAIN;
}

static void
on_room(void *arg)
{
	struct owner *o = arg;

	o->room_calls++;
	ev_add(o, EV_ROOM, 0, NULL, 0);
	if (o->to_send != NULL)
		owner_pump_stdin(o);
}

static const struct agent_session_callbacks auto_cb = {
	.started = on_started, .output = on_output, .exited = on_exited, .lost = on_lost,
};

static const struct agent_session_callbacks manual_cb = {
	.started = on_started, .output = on_output, .exited = on_exited, .lost = on_lost,
	.manual_window = 1,
};

static const struct agent_session_callbacks room_cb = {
	.started = on_started, .output = on_output, .exited = on_exited, .lost = on_lost,
	.stdin_room = on_room,
};

static void
on_hello(struct agent *a, const char *hostname, void *arg)
{
	assert_string_equal(hostname, "fake");
}

static void
on_closed(struct agent *a, const char *why, void *arg)
{
	struct fake *f = arg;

	f->closed_calls++;
}

static const struct agent_callbacks agent_cb = {
	.hello = on_hello,
	.closed = on_closed,
};

/* Takes every whole frame the host has sent so far into the tallies. */
static void
fake_take_frames(struct fake *f)
{
	struct agent_hdr h;
	const uint8_t *p;
	uint32_t bytes;
	struct rd r;

	for (;;) {
		ssize_t n = read(f->peer, buf_reserve(&f->rx, 65536), 65536);

		if (n <= 0)
			break;
		buf_commit(&f->rx, (size_t)n);
	}
	while (agent_hdr_decode(buf_head(&f->rx), buf_used(&f->rx), &h) == 0 &&
	    buf_used(&f->rx) >= AGENT_HDR_SIZE + h.len) {
		p = buf_head(&f->rx) + AGENT_HDR_SIZE;
		assert_true(h.chan < MAX_CHANS);
		switch (h.type) {
		case AGENT_HELLO:
			rd_init(&r, p, h.len);
			f->hello_version = rd_u32(&r);
			f->hellos++;
			break;
		case AGENT_PING:
			f->pings++;
			break;
		case AGENT_EXEC:
			f->exec_chan = h.chan;
			break;
		case AGENT_CONNECT:
			free(f->connect_host);
			f->connect_host = NULL;
			assert_int_equal(agent_connect_decode(p, h.len, &f->connect_host,
			    &f->connect_port), 0);
			f->connect_chan = h.chan;
			break;
		case AGENT_WINDOW:
			assert_int_equal(agent_window_decode(p, h.len, &bytes), 0);
			if (bytes == UINT32_MAX) {
				/* agent_forget: let the rest drain, to be dropped. */
				assert_int_equal(f->killed[h.chan], 1);
				f->released[h.chan]++;
				break;
			}
			f->granted[h.chan] += bytes;
			f->windows[h.chan]++;
			/* Never credit for output the host has not been sent. */
			assert_true(f->granted[h.chan] <= f->sent[h.chan]);
			break;
		case AGENT_STDIN:
			assert_true(h.len > 0 && h.len <= AGENT_CHUNK);
			assert_int_equal(f->eof[h.chan], 0);
			buf_add(&f->in[h.chan], p, h.len);
			if (h.len > f->biggest_stdin)
				f->biggest_stdin = h.len;
			break;
		case AGENT_STDIN_EOF:
			f->eof[h.chan]++;
			f->in_at_eof[h.chan] = buf_used(&f->in[h.chan]);
			break;
		case AGENT_SIGNAL:
			rd_init(&r, p, h.len);
			if (rd_u32(&r) == SIGKILL)
				f->killed[h.chan]++;
			break;
		default:
			break;
		}
		buf_consume(&f->rx, AGENT_HDR_SIZE + h.len);
	}
}

/* Writes a whole frame toward the host, turning the loop while it is full. */
static void
fake_send(struct fake *f, uint16_t type, uint32_t chan, const void *p, size_t len)
{
	struct buf b;
	size_t off = 0;
	int turns = 0;

	buf_init(&b);
	agent_frame_add(&b, type, chan, p, len);
	while (off < buf_used(&b)) {
		ssize_t n = write(f->peer, buf_head(&b) + off, buf_used(&b) - off);

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		assert_true(n < 0 && errno == EAGAIN);
		assert_true(++turns < MAX_TURNS);
		loop_run_once(f->l, 10);
		fake_take_frames(f);
	}
	buf_done(&b);
}

static void
fake_send_u32s(struct fake *f, uint16_t type, uint32_t chan, uint32_t a, uint32_t b, int n)
{
	struct buf p;

	buf_init(&p);
	buf_add_u32(&p, a);
	if (n > 1)
		buf_add_u32(&p, b);
	fake_send(f, type, chan, buf_head(&p), buf_used(&p));
	buf_done(&p);
}

/* Turns the loop until *@flag reaches @want. */
static void
fake_wait(struct fake *f, const int *flag, int want)
{
	for (int i = 0; *flag < want; i++) {
		assert_true(i < MAX_TURNS);
		loop_run_once(f->l, 10);
		fake_take_frames(f);
	}
}

static void
on_pong(struct agent *a, int err, uint64_t usec, void *arg)
{
	struct fake *f = arg;

	assert_int_equal(err, 0);
	f->pongs++;
}

/*
 * A barrier: the host has handled every frame the fake sent before, and the
 * fake has seen every frame the host queued before. The host answers a PONG
 * only in order with what it read, and its PING goes behind what it queued.
 */
static void
fake_settle(struct fake *f)
{
	int pings = f->pings, pongs = f->pongs;
	uint8_t cookie[8] = { 0 };

	assert_int_equal(agent_ping(f->a, on_pong, f), 0);
	fake_wait(f, &f->pings, pings + 1);
	/* The host's cookies count from 1, one per ping, all of them ours. */
	for (int i = 0; i < 8; i++)
		cookie[i] = (uint8_t)((uint64_t)f->pings >> (8 * i));
	fake_send(f, AGENT_PONG, 0, cookie, sizeof cookie);
	fake_wait(f, &f->pongs, pongs + 1);
}

/* A host and a fake guest that says @version in its HELLO. */
static int
setup_version(void **state, uint32_t version)
{
	struct fake *f = xcalloc(1, sizeof *f);
	uint8_t hello[64];
	struct buf b;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(loop_new(&f->l), 0);
	buf_init(&f->rx);
	for (int i = 0; i < MAX_CHANS; i++)
		buf_init(&f->in[i]);
	f->peer = sv[1];
	f->a = agent_new(f->l, sv[0], &agent_cb, f);
	fake_wait(f, &f->hellos, 1);
	assert_int_equal(f->hello_version, AGENT_VERSION);
	buf_init(&b);
	buf_add_u32(&b, version);
	buf_add_str(&b, "fake");
	assert_true(buf_used(&b) <= sizeof hello);
	fake_send(f, AGENT_HELLO, 0, buf_head(&b), buf_used(&b));
	buf_done(&b);
	for (int i = 0; i < MAX_TURNS && !agent_ready(f->a); i++)
		loop_run_once(f->l, 10);
	assert_true(agent_ready(f->a));
	*state = f;
	return 0;
}

static int
setup(void **state)
{
	return setup_version(state, AGENT_VERSION);
}

/* A guest from before CONNECT. */
static int
setup_old(void **state)
{
	return setup_version(state, AGENT_VERSION_PROXY - 1);
}

static int
teardown(void **state)
{
	struct fake *f = *state;

	agent_free(f->a);
	close(f->peer);
	buf_done(&f->rx);
	for (int i = 0; i < MAX_CHANS; i++)
		buf_done(&f->in[i]);
	loop_free(f->l);
	free(f->connect_host);
	free(f);
	return 0;
}

/* Starts `cat` with @cb and answers EXEC_OK as the guest. */
static struct owner *
start(struct fake *f, const struct agent_session_callbacks *cb)
{
	char *argv[] = { "cat", NULL };
	struct agent_exec e = { .argv = argv };
	struct owner *o;

	assert_true(f->nowners < MAX_CHANS);
	o = &f->owners[f->nowners++];
	o->f = f;
	assert_int_equal(agent_exec(f->a, &e, cb, o, &o->chan), 0);
	assert_true(o->chan > 0 && o->chan < MAX_CHANS);
	fake_settle(f);
	assert_int_equal(f->exec_chan, o->chan);
	fake_send_u32s(f, AGENT_EXEC_OK, o->chan, 1234, 0, 1);
	fake_settle(f);
	assert_int_equal(o->nev, 1);
	assert_int_equal(o->ev[0].kind, EV_STARTED);
	assert_int_equal(o->ev[0].stream, 0);
	return o;
}

/* The guest's credit on @chan as the fake counts it. */
static uint64_t
fake_window(struct fake *f, uint32_t chan)
{
	return AGENT_WINDOW_SIZE + f->granted[chan] - f->sent[chan];
}

/*
 * Plays a guest streaming @total bytes of output on @chan, as guest/session.c
 * does: never past its credit, waiting for WINDOW when it has none. Returns
 * the bytes sent (less than @total if the credit ran out for good).
 */
static uint64_t
fake_stream(struct fake *f, uint32_t chan, uint64_t total)
{
	static uint8_t chunk[AGENT_CHUNK];
	uint64_t done = 0;
	int idle = 0;

	while (done < total && idle < 50) {
		uint64_t n = fake_window(f, chan);

		if (n == 0) {
			idle++;
			loop_run_once(f->l, 1);
			fake_take_frames(f);
			continue;
		}
		idle = 0;
		if (n > sizeof chunk)
			n = sizeof chunk;
		if (n > total - done)
			n = total - done;
		memset(chunk, (int)(done & 0xff), (size_t)n);
		f->sent[chan] += n;
		fake_send(f, (done / n) % 2 ? AGENT_STDERR : AGENT_STDOUT, chan, chunk, (size_t)n);
		done += n;
		loop_run_once(f->l, 0);
		fake_take_frames(f);
	}
	return done;
}

/* Auto grant: a stream far past the window flows, and credit follows delivery. */
static void
test_output_auto_grant(void **state)
{
	struct fake *f = *state;
	uint64_t total = 16 * (uint64_t)AGENT_WINDOW_SIZE + 12345;
	struct owner *o;

	o = start(f, &auto_cb);
	assert_int_equal(fake_stream(f, o->chan, total), total);
	fake_settle(f);
	assert_int_equal(o->out_bytes, total);
	/* Everything delivered is granted back, short of one batch. */
	assert_true(f->granted[o->chan] <= total);
	assert_true(total - f->granted[o->chan] < AGENT_WINDOW_BATCH);
	/* In batches, not a frame per output frame. */
	assert_true(f->windows[o->chan] <= (int)(total / AGENT_WINDOW_BATCH));
}

/* Small output does not draw a WINDOW each time. */
static void
test_output_auto_grant_batches(void **state)
{
	struct fake *f = *state;
	struct owner *o;

	o = start(f, &auto_cb);
	for (int i = 0; i < 100; i++) {
		f->sent[o->chan] += 1;
		fake_send(f, AGENT_STDOUT, o->chan, "x", 1);
	}
	fake_settle(f);
	assert_int_equal(o->out_bytes, 100);
	assert_int_equal(f->windows[o->chan], 0);
}

/* Manual: nothing is granted until the owner consumes, then in batches. */
static void
test_output_manual(void **state)
{
	struct fake *f = *state;
	struct owner *o;

	o = start(f, &manual_cb);
	/* The guest runs out of credit and stays out. */
	assert_int_equal(fake_stream(f, o->chan, 2 * (uint64_t)AGENT_WINDOW_SIZE),
	    AGENT_WINDOW_SIZE);
	fake_settle(f);
	assert_int_equal(o->out_bytes, AGENT_WINDOW_SIZE);
	assert_int_equal(f->windows[o->chan], 0);

	/* Below a batch: held back. */
	assert_int_equal(agent_consumed(f->a, o->chan, 1000), 0);
	fake_settle(f);
	assert_int_equal(f->granted[o->chan], 0);
	/* A batch: everything consumed so far. */
	assert_int_equal(agent_consumed(f->a, o->chan, AGENT_WINDOW_BATCH), 0);
	fake_settle(f);
	assert_int_equal(f->granted[o->chan], AGENT_WINDOW_BATCH + 1000);
	assert_int_equal(f->windows[o->chan], 1);
	/* More than was delivered counts as all of it, never more. */
	assert_int_equal(agent_consumed(f->a, o->chan, SIZE_MAX), 0);
	fake_settle(f);
	assert_int_equal(f->granted[o->chan], AGENT_WINDOW_SIZE);
	assert_int_equal(agent_consumed(f->a, o->chan, AGENT_WINDOW_SIZE), 0);
	fake_settle(f);
	assert_int_equal(f->granted[o->chan], AGENT_WINDOW_SIZE);

	/* The guest goes on with the new credit, and stops at it again. */
	assert_int_equal(fake_stream(f, o->chan, 2 * (uint64_t)AGENT_WINDOW_SIZE),
	    AGENT_WINDOW_SIZE);
	fake_settle(f);
	assert_int_equal(o->out_bytes, 2 * AGENT_WINDOW_SIZE);
	assert_int_equal(agent_consumed(f->a, o->chan + 100, 1), -ENOENT);
}

/* A manual owner that consumes as it goes sees the stream end to end. */
static void
test_output_manual_streaming(void **state)
{
	struct fake *f = *state;
	uint64_t total = 8 * (uint64_t)AGENT_WINDOW_SIZE + 7, done = 0;
	size_t consumed = 0;
	struct owner *o;

	o = start(f, &manual_cb);
	for (int i = 0; done < total; i++) {
		assert_true(i < MAX_TURNS);
		done += fake_stream(f, o->chan, total - done);
		fake_settle(f);
		/* Rid of output a little at a time, as a socket drains. */
		while (consumed < o->out_bytes) {
			size_t n = o->out_bytes - consumed > 10000 ? 10000 : o->out_bytes - consumed;

			assert_int_equal(agent_consumed(f->a, o->chan, n), 0);
			consumed += n;
		}
		fake_settle(f);
	}
	assert_int_equal(o->out_bytes, total);
}

/* Output, then EXIT in one write: every byte reaches the owner before exited. */
static void
test_exit_after_output(void **state)
{
	struct fake *f = *state;
	struct owner *o;

	o = start(f, &manual_cb);
	f->sent[o->chan] += 3;
	fake_send(f, AGENT_STDOUT, o->chan, "a", 1);
	fake_send(f, AGENT_STDERR, o->chan, "b", 1);
	fake_send(f, AGENT_STDOUT, o->chan, "c", 1);
	fake_send_u32s(f, AGENT_EXIT, o->chan, 3, 0, 2);
	fake_wait(f, &o->exited, 1);
	assert_int_equal(o->nev, 5);
	assert_int_equal(o->ev[1].kind, EV_OUTPUT);
	assert_int_equal(o->ev[1].stream, 1);
	assert_int_equal(o->ev[1].first, 'a');
	assert_int_equal(o->ev[2].stream, 2);
	assert_int_equal(o->ev[2].first, 'b');
	assert_int_equal(o->ev[3].first, 'c');
	assert_int_equal(o->ev[4].kind, EV_EXITED);
	assert_int_equal(o->code, 3);
	/* Unconsumed output does not hold the session: it is gone. */
	assert_int_equal(agent_consumed(f->a, o->chan, 3), -ENOENT);
	assert_int_equal(agent_stdin(f->a, o->chan, "x", 1), -ENOENT);
	assert_int_equal(agent_stdin_room(f->a, o->chan), 0);
	fake_settle(f);
	assert_int_equal(f->windows[o->chan], 0);
	assert_int_equal(o->lost, 0);
}

static void
test_exit_signal(void **state)
{
	struct fake *f = *state;
	struct owner *o;

	o = start(f, &auto_cb);
	fake_send_u32s(f, AGENT_EXIT, o->chan, 0, SIGKILL, 2);
	fake_wait(f, &o->exited, 1);
	assert_int_equal(o->code, 128 + SIGKILL);
	assert_int_equal(o->sig, SIGKILL);
}

/*
 * The owner forgets the session while handling its output: the process is
 * killed, and the guest is let drain what it left (else its session, which
 * ends only at end of file on its pipes, would stay for good), which the
 * host drops.
 */
static void
test_forget_in_output(void **state)
{
	struct fake *f = *state;
	static uint8_t big[AGENT_CHUNK];
	struct owner *o;

	o = start(f, &auto_cb);
	o->forget_in_output = 1;
	f->sent[o->chan] += sizeof big;
	fake_send(f, AGENT_STDOUT, o->chan, big, sizeof big);
	fake_send(f, AGENT_STDOUT, o->chan, big, 10);	/* dropped: forgotten */
	fake_settle(f);
	assert_int_equal(o->out_bytes, sizeof big);
	assert_int_equal(f->killed[o->chan], 1);
	assert_int_equal(f->released[o->chan], 1);
	assert_int_equal(f->windows[o->chan], 0);
	assert_int_equal(o->exited + o->lost, 0);
	/* Its EXIT, when it comes, finds no session. */
	fake_send_u32s(f, AGENT_EXIT, o->chan, 0, SIGKILL, 2);
	fake_settle(f);
	assert_int_equal(o->exited + o->lost, 0);
}

/* A session forgotten with its output window used up. */
static void
test_forget_manual(void **state)
{
	struct fake *f = *state;
	struct owner *o;

	o = start(f, &manual_cb);
	assert_int_equal(fake_stream(f, o->chan, 2 * (uint64_t)AGENT_WINDOW_SIZE),
	    AGENT_WINDOW_SIZE);
	agent_forget(f->a, o->chan);
	fake_settle(f);
	assert_int_equal(f->killed[o->chan], 1);
	assert_int_equal(f->released[o->chan], 1);
	assert_int_equal(agent_consumed(f->a, o->chan, 1), -ENOENT);
	agent_forget(f->a, o->chan);	/* twice: nothing more */
	fake_settle(f);
	assert_int_equal(f->killed[o->chan], 1);
	assert_int_equal(f->released[o->chan], 1);
}

static uint8_t *
pattern(size_t n)
{
	uint8_t *p = xmalloc(n);

	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + i / 251);
	return p;
}

/* With a room callback: never past the credit, -EAGAIN sends nothing. */
static void
test_stdin_room(void **state)
{
	struct fake *f = *state;
	uint8_t *data = pattern(AGENT_WINDOW_SIZE + 1);
	struct owner *o;

	o = start(f, &room_cb);
	assert_int_equal(agent_stdin_room(f->a, o->chan), AGENT_WINDOW_SIZE);
	assert_int_equal(agent_stdin(f->a, o->chan, data, AGENT_WINDOW_SIZE + 1), -EAGAIN);
	fake_settle(f);
	assert_int_equal(buf_used(&f->in[o->chan]), 0);

	assert_int_equal(agent_stdin(f->a, o->chan, data, 100), 0);
	assert_int_equal(agent_stdin_room(f->a, o->chan), AGENT_WINDOW_SIZE - 100);
	assert_int_equal(agent_stdin(f->a, o->chan, data + 100, AGENT_WINDOW_SIZE - 100), 0);
	assert_int_equal(agent_stdin_room(f->a, o->chan), 0);
	assert_int_equal(agent_stdin(f->a, o->chan, data, 1), -EAGAIN);
	fake_settle(f);
	assert_int_equal(buf_used(&f->in[o->chan]), AGENT_WINDOW_SIZE);
	assert_memory_equal(buf_head(&f->in[o->chan]), data, AGENT_WINDOW_SIZE);
	assert_true(f->biggest_stdin <= AGENT_CHUNK);
	assert_int_equal(o->room_calls, 0);

	/* The guest wrote some: room, and the owner is told once. */
	fake_send_u32s(f, AGENT_STDIN_WINDOW, o->chan, 1000, 0, 1);
	fake_wait(f, &o->room_calls, 1);
	assert_int_equal(agent_stdin_room(f->a, o->chan), 1000);
	fake_send_u32s(f, AGENT_STDIN_WINDOW, o->chan, 1000, 0, 1);
	fake_settle(f);
	assert_int_equal(agent_stdin_room(f->a, o->chan), 2000);
	assert_int_equal(o->room_calls, 1);

	/* After a refusal with room left, the next grant tells again. */
	assert_int_equal(agent_stdin(f->a, o->chan, data, 2001), -EAGAIN);
	fake_send_u32s(f, AGENT_STDIN_WINDOW, o->chan, 1, 0, 1);
	fake_wait(f, &o->room_calls, 2);
	assert_int_equal(agent_stdin_room(f->a, o->chan), 2001);

	/* A guest granting more than it was sent cannot open the window wider. */
	fake_send_u32s(f, AGENT_STDIN_WINDOW, o->chan, UINT32_MAX, 0, 1);
	fake_settle(f);
	assert_int_equal(agent_stdin_room(f->a, o->chan), AGENT_WINDOW_SIZE);
	fake_settle(f);
	assert_int_equal(buf_used(&f->in[o->chan]), AGENT_WINDOW_SIZE);
	assert_int_equal(agent_stdin_room(f->a, o->chan + 100), 0);
	assert_int_equal(agent_stdin(f->a, o->chan + 100, data, 1), -ENOENT);
	free(data);
}

/*
 * An owner sending a message larger than the window, driven by stdin_room,
 * against a guest that gives credit back as its "child" reads: all of it
 * arrives, in order, and the host never has more than the window in flight.
 */
static void
test_stdin_room_streaming(void **state)
{
	struct fake *f = *state;
	size_t total = 5 * AGENT_WINDOW_SIZE + 333, returned = 0;
	uint8_t *data = pattern(total);
	struct owner *o;

	o = start(f, &room_cb);
	o->to_send = data;
	o->to_send_len = total;
	owner_pump_stdin(o);
	for (int i = 0; buf_used(&f->in[o->chan]) < total; i++) {
		size_t unreturned;

		assert_true(i < MAX_TURNS);
		fake_settle(f);
		unreturned = buf_used(&f->in[o->chan]) - returned;
		assert_true(unreturned <= AGENT_WINDOW_SIZE);
		/* The child reads in odd-sized pieces; credit goes back in batches. */
		if (unreturned >= AGENT_WINDOW_BATCH || o->to_send_len == 0) {
			fake_send_u32s(f, AGENT_STDIN_WINDOW, o->chan, (uint32_t)unreturned, 0, 1);
			returned += unreturned;
		}
	}
	fake_settle(f);
	assert_int_equal(buf_used(&f->in[o->chan]), total);
	assert_memory_equal(buf_head(&f->in[o->chan]), data, total);
	assert_true(o->room_calls > 0);
	assert_true(o->eagain > 0);
	free(data);
}

/*
 * An owner without a room callback (api/exec.c before it is wired): it
 * loses nothing, the guest still gets no more than the window, and its EOF
 * comes after the bytes that waited.
 */
static void
test_stdin_legacy_backlog(void **state)
{
	struct fake *f = *state;
	size_t total = AGENT_WINDOW_SIZE + 100000;
	uint8_t *data = pattern(total);
	struct owner *o;

	o = start(f, &auto_cb);
	assert_int_equal(agent_stdin(f->a, o->chan, data, total), 0);
	assert_int_equal(agent_stdin_room(f->a, o->chan), 0);
	assert_int_equal(agent_stdin_eof(f->a, o->chan), 0);
	fake_settle(f);
	assert_int_equal(buf_used(&f->in[o->chan]), AGENT_WINDOW_SIZE);
	assert_int_equal(f->eof[o->chan], 0);

	fake_send_u32s(f, AGENT_STDIN_WINDOW, o->chan, AGENT_WINDOW_BATCH, 0, 1);
	fake_settle(f);
	assert_int_equal(buf_used(&f->in[o->chan]), AGENT_WINDOW_SIZE + AGENT_WINDOW_BATCH);
	assert_int_equal(f->eof[o->chan], 0);

	fake_send_u32s(f, AGENT_STDIN_WINDOW, o->chan, AGENT_WINDOW_SIZE, 0, 1);
	fake_settle(f);
	assert_int_equal(buf_used(&f->in[o->chan]), total);
	assert_memory_equal(buf_head(&f->in[o->chan]), data, total);
	assert_int_equal(f->eof[o->chan], 1);
	assert_int_equal(f->in_at_eof[o->chan], total);
	assert_int_equal(o->room_calls, 0);
	free(data);
}

/* ... and past AGENT_STDIN_BACKLOG_MAX the process is killed, not fed holes. */
static void
test_stdin_legacy_overflow(void **state)
{
	struct fake *f = *state;
	/* Never read (refused whole), so calloc's pages are never touched. */
	uint8_t *zeros = xcalloc(1, AGENT_STDIN_BACKLOG_MAX);
	struct owner *o;

	o = start(f, &auto_cb);
	assert_int_equal(agent_stdin(f->a, o->chan, zeros, AGENT_WINDOW_SIZE), 0);
	assert_int_equal(agent_stdin(f->a, o->chan, "abc", 3), 0);
	fake_settle(f);
	assert_int_equal(f->killed[o->chan], 0);
	assert_int_equal(agent_stdin(f->a, o->chan, zeros, AGENT_STDIN_BACKLOG_MAX - 2), -ENOBUFS);
	assert_int_equal(agent_stdin(f->a, o->chan, "d", 1), -ENOBUFS);
	assert_int_equal(agent_stdin_room(f->a, o->chan), 0);
	fake_settle(f);
	assert_int_equal(f->killed[o->chan], 1);
	/* What waited is dropped: credit brings nothing more. */
	fake_send_u32s(f, AGENT_STDIN_WINDOW, o->chan, AGENT_WINDOW_SIZE, 0, 1);
	fake_settle(f);
	assert_int_equal(buf_used(&f->in[o->chan]), AGENT_WINDOW_SIZE);
	assert_int_equal(agent_stdin_room(f->a, o->chan), 0);
	free(zeros);
}

/* The channel's end reaches every session, and stdin is refused after. */
static void
test_lost(void **state)
{
	struct fake *f = *state;
	struct owner *o1, *o2;

	o1 = start(f, &room_cb);
	o2 = start(f, &manual_cb);
	close(f->peer);
	f->peer = -1;
	fake_wait(f, &o2->lost, 1);
	assert_int_equal(o1->lost, 1);
	assert_int_equal(f->closed_calls, 1);
	assert_int_equal(agent_stdin(f->a, o1->chan, "x", 1), -ENOTCONN);
	assert_int_equal(agent_stdin_room(f->a, o1->chan), 0);
	assert_int_equal(agent_consumed(f->a, o2->chan, 1), -ENOTCONN);
	f->peer = open("/dev/null", O_RDONLY | O_CLOEXEC);	/* for teardown */
}

/* A frame type the host does not know is skipped, and the channel goes on. */
static void
test_unknown_frame(void **state)
{
	struct fake *f = *state;
	struct owner *o;

	o = start(f, &auto_cb);
	fake_send(f, 999, o->chan, "whatever", 8);
	fake_send(f, 999, 0, NULL, 0);
	f->sent[o->chan] += 2;
	fake_send(f, AGENT_STDOUT, o->chan, "ok", 2);
	fake_settle(f);
	assert_int_equal(o->out_bytes, 2);
	assert_int_equal(f->closed_calls, 0);
}

/* CONNECT goes out with its target; the guest's EXEC_OK is the connection
 * made, its bytes are output and its EXIT the end, as for a command. */
static void
test_connect(void **state)
{
	struct fake *f = *state;
	struct owner *o = &f->owners[f->nowners++];

	o->f = f;
	assert_int_equal(agent_connect(f->a, "localhost", 8080, &manual_cb, o, &o->chan), 0);
	fake_settle(f);
	assert_int_equal(f->connect_chan, o->chan);
	assert_string_equal(f->connect_host, "localhost");
	assert_int_equal(f->connect_port, 8080);
	fake_send_u32s(f, AGENT_EXEC_OK, o->chan, 0, 0, 1);
	f->sent[o->chan] += 3;
	fake_send(f, AGENT_STDOUT, o->chan, "hi\n", 3);
	fake_send_u32s(f, AGENT_EXIT, o->chan, 0, 0, 2);
	fake_settle(f);
	assert_int_equal(o->nev, 3);
	assert_int_equal(o->ev[0].kind, EV_STARTED);
	assert_int_equal(o->ev[0].stream, 0);
	assert_int_equal(o->ev[1].kind, EV_OUTPUT);
	assert_int_equal(o->ev[1].len, 3);
	assert_int_equal(o->exited, 1);
	assert_int_equal(o->code, 0);
}

/* A refused connection is a failed start, with the guest's errno. */
static void
test_connect_refused(void **state)
{
	struct fake *f = *state;
	struct owner *o = &f->owners[f->nowners++];
	struct buf b;

	o->f = f;
	assert_int_equal(agent_connect(f->a, "127.0.0.1", 9, &manual_cb, o, &o->chan), 0);
	fake_settle(f);
	buf_init(&b);
	buf_add_u32(&b, ECONNREFUSED);
	buf_add_str(&b, "connect to 127.0.0.1 port 9: Connection refused");
	fake_send(f, AGENT_EXEC_ERR, o->chan, buf_head(&b), buf_used(&b));
	buf_done(&b);
	fake_settle(f);
	assert_int_equal(o->nev, 1);
	assert_int_equal(o->ev[0].kind, EV_STARTED);
	assert_int_equal(o->ev[0].stream, -ECONNREFUSED);
	/* The session is gone: nothing more goes to it. */
	assert_int_equal(agent_stdin(f->a, o->chan, "x", 1), -ENOENT);
}

/* An older guest would ignore CONNECT and never answer: refused here. */
static void
test_connect_old_guest(void **state)
{
	struct fake *f = *state;
	uint32_t chan = 0;

	assert_int_equal(agent_connect(f->a, "localhost", 80, &manual_cb, NULL, &chan),
	    -ENOTSUP);
	fake_settle(f);
	assert_int_equal(f->connect_chan, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_output_auto_grant, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_auto_grant_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_manual, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_manual_streaming, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_after_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_signal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget_in_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget_manual, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stdin_room, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stdin_room_streaming, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stdin_legacy_backlog, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stdin_legacy_overflow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_old_guest, setup_old, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
