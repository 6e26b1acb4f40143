/*
 * sprite-env: the client end of guest/request.c. It sends its arguments
 * as they are; the host parses them and writes the text this prints, so the
 * commands and their help live in one place (core/sprite_env.c).
 */
#include "sprite-env.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/buf.h"
#include "request.h"

static int
write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
sprite_env_main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct buf msg, in;
	struct rd r;
	uint32_t len, status;
	char *text;
	ssize_t n;
	int fd;

	buf_init(&msg);
	buf_init(&in);
	buf_add_u32(&msg, 0);	/* the length, set below */
	buf_add_u32(&msg, (uint32_t)(argc - 1));
	for (int i = 1; i < argc; i++)
		buf_add_str(&msg, argv[i]);
	len = (uint32_t)(buf_used(&msg) - 4);
	for (int i = 0; i < 4; i++)
		buf_head(&msg)[i] = (uint8_t)(len >> (8 * i));

	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", REQUEST_SOCK);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		fprintf(stderr, "sprite-env: cannot reach sprig-init at %s: %s\n", REQUEST_SOCK,
		    strerror(errno));
		return 1;
	}
	if (write_all(fd, buf_head(&msg), buf_used(&msg)) < 0) {
		fprintf(stderr, "sprite-env: cannot send the request: %s\n", strerror(errno));
		return 1;
	}
	for (;;) {
		uint8_t *p = buf_reserve(&in, 65536);

		n = read(fd, p, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		buf_commit(&in, (size_t)n);
	}
	close(fd);
	rd_init(&r, buf_head(&in), buf_used(&in));
	len = rd_u32(&r);
	status = rd_u32(&r);
	text = rd_str(&r, 1u << 24);
	if (r.err || text == NULL || len != buf_used(&in) - 4) {
		fprintf(stderr, "sprite-env: no answer from sprig-init\n");
		return 1;
	}
	fputs(text, status == 0 ? stdout : stderr);
	free(text);
	buf_done(&msg);
	buf_done(&in);
	return (int)status;
}
