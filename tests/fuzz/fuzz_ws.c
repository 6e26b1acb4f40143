/*
 * fuzz_ws: libFuzzer target for the WebSocket framing a client sends the
 * daemon (common/ws.c over wslay). The input is what the peer wrote after
 * the handshake; the server side reads it from a socketpair and must end up
 * closed or waiting, never crashed, hung or leaking.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/loop.h"
#include "common/ws.h"

struct state {
	int	closed;
	size_t	bytes;
};

static void
on_message(struct ws *ws, int binary, const uint8_t *data, size_t len, void *arg)
{
	struct state *st = arg;

	st->bytes += len;
	/* Answer as the exec route does: the peer's input goes back out. */
	ws_send(ws, binary, data, len < 64 ? len : 64);
}

static void
on_closed(struct ws *ws, int code, void *arg)
{
	((struct state *)arg)->closed = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ws_callbacks cb = { .message = on_message, .closed = on_closed };
	struct state st = { 0 };
	struct loop *l;
	struct ws *ws;
	int sv[2];

	if (loop_new(&l) < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	/* Half the input arrives with the handshake, the rest over the socket. */
	ws = ws_new(l, sv[0], 0, 1, data, size / 2, &cb, &st);
	if (ws != NULL) {
		if (size - size / 2 > 0 && write(sv[1], data + size / 2, size - size / 2) < 0)
			goto out;
		shutdown(sv[1], SHUT_WR);
		for (int i = 0; i < 64 && !st.closed; i++) {
			if (loop_run_once(l, 0) < 0)
				break;
		}
	}
out:
	ws_free(ws);
	close(sv[1]);
	loop_free(l);
	return 0;
}
