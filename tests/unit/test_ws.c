/*
 * test_ws: WebSocket framing over a socketpair in one loop, client against
 * server, and against a raw peer that writes and reads frames byte by byte.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/loop.h"
#include "common/ws.h"
#include "common/xmalloc.h"

struct side {
	struct ws	*ws;
	int		 messages;
	int		 binary;	/* of the last message */
	uint8_t		*data;		/* the last message */
	size_t		 len;
	int		 closed;
	int		 code;
	int		 drained;
	int		 free_in_message;
	int		 free_in_closed;
};

struct pair {
	struct loop	*loop;
	int		 fds[2];
	struct side	 client;
	struct side	 server;
};

static void
on_message(struct ws *ws, int binary, const uint8_t *data, size_t len, void *arg)
{
	struct side *s = arg;

	assert_ptr_equal(ws, s->ws);
	s->messages++;
	s->binary = binary;
	free(s->data);
	s->data = xmalloc(len + 1);
	memcpy(s->data, data, len);
	s->len = len;
	if (s->free_in_message) {
		ws_free(ws);
		s->ws = NULL;
	}
}

static void
on_closed(struct ws *ws, int code, void *arg)
{
	struct side *s = arg;

	assert_ptr_equal(ws, s->ws);
	s->closed++;
	s->code = code;
	if (s->free_in_closed) {
		ws_free(ws);
		s->ws = NULL;
	}
}

static void
on_drained(struct ws *ws, void *arg)
{
	struct side *s = arg;

	s->drained++;
}

static const struct ws_callbacks callbacks = {
	.message = on_message,
	.closed = on_closed,
	.drained = on_drained,
};

/* Runs the loop until *@flag >= @want or two seconds pass. */
static void
run_until(struct loop *l, const int *flag, int want)
{
	uint64_t end = loop_now_ms() + 2000;

	while (*flag < want && loop_now_ms() < end)
		assert_int_equal(loop_run_once(l, 50), 0);
}

/* Runs the loop for @ms milliseconds. */
static void
run_for(struct loop *l, int ms)
{
	uint64_t end = loop_now_ms() + (uint64_t)ms;

	while (loop_now_ms() < end)
		assert_int_equal(loop_run_once(l, 10), 0);
}

static int
setup_pair(void **state)
{
	struct pair *p = xcalloc(1, sizeof *p);

	assert_int_equal(loop_new(&p->loop), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->fds), 0);
	p->client.ws = ws_new(p->loop, p->fds[0], 1, 1, NULL, 0, &callbacks, &p->client);
	p->server.ws = ws_new(p->loop, p->fds[1], 0, 1, NULL, 0, &callbacks, &p->server);
	assert_non_null(p->client.ws);
	assert_non_null(p->server.ws);
	*state = p;
	return 0;
}

/* A server ws on fds[1]; the test speaks raw frames on fds[0]. */
static int
setup_raw(void **state)
{
	struct pair *p = xcalloc(1, sizeof *p);

	assert_int_equal(loop_new(&p->loop), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->fds), 0);
	p->server.ws = ws_new(p->loop, p->fds[1], 0, 1, NULL, 0, &callbacks, &p->server);
	assert_non_null(p->server.ws);
	*state = p;
	return 0;
}

static int
teardown(void **state)
{
	struct pair *p = *state;

	ws_free(p->client.ws);
	ws_free(p->server.ws);
	if (p->client.ws == NULL && p->fds[0] >= 0)
		close(p->fds[0]);
	free(p->client.data);
	free(p->server.data);
	loop_free(p->loop);
	free(p);
	return 0;
}

/* Encodes one frame; a client's (@mask) with a fixed key. */
static size_t
frame(uint8_t *out, int fin, int opcode, int mask, const void *payload, size_t len)
{
	static const uint8_t key[4] = { 0x37, 0xfa, 0x21, 0x3d };
	const uint8_t *pl = payload;
	size_t n = 0, i;

	out[n++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
	if (len < 126) {
		out[n++] = (uint8_t)((mask ? 0x80 : 0) | len);
	} else {
		out[n++] = (uint8_t)((mask ? 0x80 : 0) | 126);
		out[n++] = (uint8_t)(len >> 8);
		out[n++] = (uint8_t)len;
	}
	if (mask) {
		memcpy(out + n, key, 4);
		n += 4;
	}
	for (i = 0; i < len; i++)
		out[n + i] = mask ? pl[i] ^ key[i % 4] : pl[i];
	return n + len;
}

/* Reads one whole frame from the raw end (blocking); unmasks it. */
static void
read_frame(int fd, int *opcode, int *masked, uint8_t *payload, size_t *len)
{
	uint8_t h[14], key[4] = { 0 };
	size_t n, i;

	assert_int_equal(recv(fd, h, 2, MSG_WAITALL), 2);
	*opcode = h[0] & 0x0f;
	*masked = !!(h[1] & 0x80);
	n = h[1] & 0x7f;
	assert_true(n < 126);
	if (*masked)
		assert_int_equal(recv(fd, key, 4, MSG_WAITALL), 4);
	if (n > 0)
		assert_int_equal(recv(fd, payload, n, MSG_WAITALL), (ssize_t)n);
	for (i = 0; i < n; i++)
		payload[i] ^= key[i % 4];
	*len = n;
}

static void
test_accept_key(void **state)
{
	char out[29];

	ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out);
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void
test_client_key(void **state)
{
	char a[25], b[25];

	ws_client_key(a);
	ws_client_key(b);
	assert_int_equal(strlen(a), 24);
	assert_string_equal(a + 22, "==");	/* 16 bytes in base64 */
	assert_string_not_equal(a, b);
}

static void
test_text_and_binary(void **state)
{
	struct pair *p = *state;
	static const uint8_t bin[] = { 0, 1, 2, 0xff, 0 };

	assert_int_equal(ws_send(p->client.ws, 0, "hello", 5), 0);
	run_until(p->loop, &p->server.messages, 1);
	assert_int_equal(p->server.messages, 1);
	assert_int_equal(p->server.binary, 0);
	assert_int_equal(p->server.len, 5);
	assert_memory_equal(p->server.data, "hello", 5);

	assert_int_equal(ws_send(p->server.ws, 1, bin, sizeof bin), 0);
	run_until(p->loop, &p->client.messages, 1);
	assert_int_equal(p->client.binary, 1);
	assert_int_equal(p->client.len, sizeof bin);
	assert_memory_equal(p->client.data, bin, sizeof bin);

	/* Empty messages are messages too; order is kept. */
	assert_int_equal(ws_send(p->client.ws, 1, "", 0), 0);
	assert_int_equal(ws_send(p->client.ws, 0, "second", 6), 0);
	run_until(p->loop, &p->server.messages, 3);
	assert_int_equal(p->server.messages, 3);
	assert_int_equal(p->server.len, 6);
	assert_memory_equal(p->server.data, "second", 6);
	assert_int_equal(p->client.closed + p->server.closed, 0);
}

static void
test_big_message(void **state)
{
	struct pair *p = *state;
	size_t len = 5u << 20, i;
	uint8_t *big = xmalloc(len);

	for (i = 0; i < len; i++)
		big[i] = (uint8_t)(i * 7 + (i >> 16));
	assert_int_equal(ws_send(p->client.ws, 1, big, len), 0);
	assert_true(ws_pending(p->client.ws) >= len);
	run_until(p->loop, &p->server.messages, 1);
	assert_int_equal(p->server.len, len);
	assert_memory_equal(p->server.data, big, len);
	assert_int_equal(ws_pending(p->client.ws), 0);
	assert_int_equal(p->client.drained, 1);

	big[0] ^= 0xff;
	assert_int_equal(ws_send(p->server.ws, 1, big, len), 0);
	run_until(p->loop, &p->client.messages, 1);
	assert_int_equal(p->client.len, len);
	assert_memory_equal(p->client.data, big, len);
	assert_int_equal(p->server.drained, 1);
	free(big);
}

/* ws_send2 makes one message of its two parts, whether its scratch buffer
 * is kept (a small message) or given back (a big one). */
static void
test_send2(void **state)
{
	struct pair *p = *state;
	size_t len = 3u << 20, i;
	uint8_t *big = xmalloc(len), head = 2;

	for (i = 0; i < len; i++)
		big[i] = (uint8_t)(i * 13 + (i >> 12));
	assert_int_equal(ws_send2(p->server.ws, 1, &head, 1, "out", 3), 0);
	run_until(p->loop, &p->client.messages, 1);
	assert_int_equal(p->client.len, 4);
	assert_memory_equal(p->client.data, "\002out", 4);

	assert_int_equal(ws_send2(p->server.ws, 1, &head, 1, big, len), 0);
	run_until(p->loop, &p->client.messages, 2);
	assert_int_equal(p->client.len, len + 1);
	assert_int_equal(p->client.data[0], 2);
	assert_memory_equal(p->client.data + 1, big, len);
	assert_int_equal(ws_send2(p->server.ws, 0, "ab", 2, "cd", 2), 0);
	run_until(p->loop, &p->client.messages, 3);
	assert_int_equal(p->client.binary, 0);
	assert_int_equal(p->client.len, 4);
	assert_memory_equal(p->client.data, "abcd", 4);
	free(big);
}

/* Fragments with a ping between them, bytes split across the handshake's
 * leftover (the prefix) and several writes. */
static void
test_fragmented_input(void **state)
{
	struct pair *p = xcalloc(1, sizeof *p);
	uint8_t wire[256], pl[64];
	size_t n = 0, len, i;
	int opcode, masked;

	assert_int_equal(loop_new(&p->loop), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->fds), 0);
	*state = p;

	n += frame(wire + n, 0, 0x1, 1, "Hel", 3);
	n += frame(wire + n, 1, 0x9, 1, "p!", 2);
	n += frame(wire + n, 0, 0x0, 1, "lo, ", 4);
	n += frame(wire + n, 1, 0x0, 1, "world", 5);
	p->server.ws = ws_new(p->loop, p->fds[1], 0, 1, wire, 5, &callbacks, &p->server);
	assert_non_null(p->server.ws);
	for (i = 5; i < n; i++) {
		assert_int_equal(write(p->fds[0], wire + i, 1), 1);
		run_for(p->loop, 1);
	}
	run_until(p->loop, &p->server.messages, 1);
	assert_int_equal(p->server.messages, 1);
	assert_int_equal(p->server.binary, 0);
	assert_int_equal(p->server.len, 12);
	assert_memory_equal(p->server.data, "Hello, world", 12);

	/* The ping was answered with its payload, unmasked from a server. */
	read_frame(p->fds[0], &opcode, &masked, pl, &len);
	assert_int_equal(opcode, 0xa);
	assert_int_equal(masked, 0);
	assert_int_equal(len, 2);
	assert_memory_equal(pl, "p!", 2);
}

static void
test_ping_answered(void **state)
{
	struct pair *p = *state;
	uint8_t wire[64], pl[64];
	size_t n, len;
	int opcode, masked;

	n = frame(wire, 1, 0x9, 1, "are you there", 13);
	assert_int_equal(write(p->fds[0], wire, n), (ssize_t)n);
	run_for(p->loop, 20);
	read_frame(p->fds[0], &opcode, &masked, pl, &len);
	assert_int_equal(opcode, 0xa);
	assert_int_equal(len, 13);
	assert_memory_equal(pl, "are you there", 13);
	assert_int_equal(p->server.messages, 0);
	assert_int_equal(p->server.closed, 0);
}

static void
test_masking(void **state)
{
	struct pair *p = *state;
	uint8_t wire[64], pl[64];
	size_t n, len;
	int opcode, masked;

	/* Our server's frames go out unmasked. */
	assert_int_equal(ws_send(p->server.ws, 0, "abc", 3), 0);
	run_for(p->loop, 20);
	read_frame(p->fds[0], &opcode, &masked, pl, &len);
	assert_int_equal(opcode, 0x1);
	assert_int_equal(masked, 0);
	assert_memory_equal(pl, "abc", 3);

	/* A client must mask: an unmasked frame is a protocol error (1002). */
	n = frame(wire, 1, 0x1, 0, "abc", 3);
	assert_int_equal(write(p->fds[0], wire, n), (ssize_t)n);
	run_until(p->loop, &p->server.closed, 1);
	assert_int_equal(p->server.closed, 1);
	assert_int_equal(p->server.code, 1002);
	assert_int_equal(p->server.messages, 0);
	read_frame(p->fds[0], &opcode, &masked, pl, &len);
	assert_int_equal(opcode, 0x8);
	assert_int_equal(len, 2);
	assert_int_equal((pl[0] << 8) | pl[1], 1002);
}

static void
test_client_masks(void **state)
{
	struct pair *p = xcalloc(1, sizeof *p);
	uint8_t pl[64];
	size_t len;
	int opcode, masked;

	assert_int_equal(loop_new(&p->loop), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->fds), 0);
	*state = p;
	/* The client on fds[1], the raw peer on fds[0]; teardown frees it. */
	p->server.ws = ws_new(p->loop, p->fds[1], 1, 1, NULL, 0, &callbacks, &p->server);
	assert_int_equal(ws_send(p->server.ws, 1, "xyz", 3), 0);
	run_for(p->loop, 20);
	read_frame(p->fds[0], &opcode, &masked, pl, &len);
	assert_int_equal(opcode, 0x2);
	assert_int_equal(masked, 1);
	assert_int_equal(len, 3);
	assert_memory_equal(pl, "xyz", 3);
}

static void
test_close_handshake(void **state)
{
	struct pair *p = *state;

	assert_int_equal(ws_send(p->client.ws, 0, "last words", 10), 0);
	ws_close(p->client.ws, 1000, "bye");
	assert_int_equal(ws_send(p->client.ws, 0, "too late", 8), -EPIPE);
	run_until(p->loop, &p->client.closed, 1);
	run_for(p->loop, 50);
	assert_int_equal(p->server.messages, 1);
	assert_memory_equal(p->server.data, "last words", 10);
	assert_int_equal(p->server.closed, 1);
	assert_int_equal(p->server.code, 1000);
	assert_int_equal(p->client.closed, 1);
	assert_int_equal(p->client.code, 1000);
	assert_int_equal(ws_send(p->server.ws, 0, "x", 1), -EPIPE);
	ws_close(p->server.ws, 1000, NULL);
	run_for(p->loop, 20);
	assert_int_equal(p->server.closed, 1);
	assert_int_equal(p->client.closed, 1);
}

/* Data queued before ws_close is delivered before the close frame, even
 * though wslay sends control frames first. */
static void
test_close_after_data(void **state)
{
	struct pair *p = *state;
	size_t len = 1u << 20;
	uint8_t *big = xcalloc(1, len);

	big[len - 1] = 42;
	assert_int_equal(ws_send(p->server.ws, 1, big, len), 0);
	ws_close(p->server.ws, 4000, "done");
	run_until(p->loop, &p->server.closed, 1);
	assert_int_equal(p->client.messages, 1);
	assert_int_equal(p->client.len, len);
	assert_int_equal(p->client.data[len - 1], 42);
	assert_int_equal(p->client.closed, 1);
	assert_int_equal(p->client.code, 4000);
	assert_int_equal(p->server.code, 4000);
	free(big);
}

static void
test_peer_vanishes(void **state)
{
	struct pair *p = *state;

	ws_free(p->client.ws);	/* closes fds[0] */
	p->client.ws = NULL;
	p->fds[0] = -1;
	run_until(p->loop, &p->server.closed, 1);
	assert_int_equal(p->server.closed, 1);
	assert_int_equal(p->server.code, 1006);
	run_for(p->loop, 20);
	assert_int_equal(p->server.closed, 1);
}

static void
test_raw_peer_vanishes_mid_frame(void **state)
{
	struct pair *p = *state;
	uint8_t wire[64];
	size_t n;

	n = frame(wire, 1, 0x2, 1, "0123456789", 10);
	assert_int_equal(write(p->fds[0], wire, n - 4), (ssize_t)(n - 4));
	run_for(p->loop, 20);
	close(p->fds[0]);
	p->fds[0] = -1;
	run_until(p->loop, &p->server.closed, 1);
	assert_int_equal(p->server.closed, 1);
	assert_int_equal(p->server.code, 1006);
	assert_int_equal(p->server.messages, 0);
}

static void
test_free_in_message(void **state)
{
	struct pair *p = *state;

	p->server.free_in_message = 1;
	assert_int_equal(ws_send(p->client.ws, 0, "one", 3), 0);
	assert_int_equal(ws_send(p->client.ws, 0, "two", 3), 0);
	run_until(p->loop, &p->client.closed, 1);
	assert_null(p->server.ws);
	assert_int_equal(p->server.messages, 1);
	assert_memory_equal(p->server.data, "one", 3);
	assert_int_equal(p->server.closed, 0);
	assert_int_equal(p->client.closed, 1);
	assert_int_equal(p->client.code, 1006);
}

/* Too big: the receiver closes with 1009; it frees itself when closed, so
 * the sender, stuck mid-frame, learns of it by the socket. */
static void
test_too_big(void **state)
{
	struct pair *p = *state;
	size_t len = WS_MAX_MESSAGE + 1;
	uint8_t *big = xcalloc(1, len);

	p->server.free_in_closed = 1;
	assert_int_equal(ws_send(p->client.ws, 1, big, len), 0);
	free(big);
	run_until(p->loop, &p->client.closed, 1);
	assert_null(p->server.ws);
	assert_int_equal(p->server.messages, 0);
	assert_int_equal(p->server.closed, 1);
	assert_int_equal(p->server.code, 1009);
	assert_int_equal(p->client.closed, 1);
	assert_int_equal(p->client.code, 1009);
}

static void
test_max_size_accepted(void **state)
{
	struct pair *p = *state;
	size_t len = WS_MAX_MESSAGE;
	uint8_t *big = xcalloc(1, len);

	assert_int_equal(ws_send(p->client.ws, 1, big, len), 0);
	free(big);
	run_until(p->loop, &p->server.messages, 1);
	assert_int_equal(p->server.len, len);
	assert_int_equal(p->server.closed, 0);
}

static void
test_pause_input(void **state)
{
	struct pair *p = *state;

	ws_pause_input(p->server.ws, 1);
	assert_int_equal(ws_send(p->client.ws, 0, "wait", 4), 0);
	run_for(p->loop, 50);
	assert_int_equal(p->server.messages, 0);
	ws_pause_input(p->server.ws, 0);
	run_until(p->loop, &p->server.messages, 1);
	assert_int_equal(p->server.messages, 1);

	/* A paused ws whose peer leaves finds out once resumed. */
	ws_pause_input(p->server.ws, 1);
	assert_int_equal(ws_send(p->client.ws, 0, "bye", 3), 0);
	run_for(p->loop, 20);
	ws_free(p->client.ws);
	p->client.ws = NULL;
	p->fds[0] = -1;
	run_for(p->loop, 50);
	assert_int_equal(p->server.messages, 1);
	assert_int_equal(p->server.closed, 0);
	ws_pause_input(p->server.ws, 0);
	run_until(p->loop, &p->server.closed, 1);
	assert_int_equal(p->server.messages, 2);
	assert_memory_equal(p->server.data, "bye", 3);
	assert_int_equal(p->server.closed, 1);
	assert_int_equal(p->server.code, 1006);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_key),
		cmocka_unit_test(test_client_key),
		cmocka_unit_test_setup_teardown(test_text_and_binary, setup_pair, teardown),
		cmocka_unit_test_setup_teardown(test_big_message, setup_pair, teardown),
		cmocka_unit_test_setup_teardown(test_send2, setup_pair, teardown),
		cmocka_unit_test_teardown(test_fragmented_input, teardown),
		cmocka_unit_test_setup_teardown(test_ping_answered, setup_raw, teardown),
		cmocka_unit_test_setup_teardown(test_masking, setup_raw, teardown),
		cmocka_unit_test_teardown(test_client_masks, teardown),
		cmocka_unit_test_setup_teardown(test_close_handshake, setup_pair, teardown),
		cmocka_unit_test_setup_teardown(test_close_after_data, setup_pair, teardown),
		cmocka_unit_test_setup_teardown(test_peer_vanishes, setup_pair, teardown),
		cmocka_unit_test_setup_teardown(test_raw_peer_vanishes_mid_frame, setup_raw,
		    teardown),
		cmocka_unit_test_setup_teardown(test_free_in_message, setup_pair, teardown),
		cmocka_unit_test_setup_teardown(test_too_big, setup_pair, teardown),
		cmocka_unit_test_setup_teardown(test_max_size_accepted, setup_pair, teardown),
		cmocka_unit_test_setup_teardown(test_pause_input, setup_pair, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
