/*
 * listen: the TCP socket the API serves beside its unix socket. The host
 * is resolved once, at start-up, before the loop runs.
 */
#include "listen.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/xmalloc.h"

int
listen_parse(const char *spec, char **ret_host, char **ret_port)
{
	const char *colon = strrchr(spec, ':'), *host = spec, *end;
	size_t hlen;

	if (colon == NULL || colon[1] == '\0' || strspn(colon + 1, "0123456789") !=
	    strlen(colon + 1) || strlen(colon + 1) > 5 || atoi(colon + 1) > 65535)
		return -EINVAL;
	end = colon;
	if (*host == '[') {
		if (end == host || end[-1] != ']')
			return -EINVAL;
		host++;
		end--;
	} else if (memchr(host, ':', (size_t)(colon - host)) != NULL) {
		return -EINVAL;	/* an IPv6 address needs its brackets */
	}
	hlen = (size_t)(end - host);
	*ret_host = xstrndup(host, hlen);
	*ret_port = xstrdup(colon + 1);
	return 0;
}

static int
listen_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return 0;
}

int
listen_tcp(const char *spec, int any, int *ret_fd, int *ret_loopback, char **cause)
{
	struct addrinfo hints = { 0 }, *ai = NULL;
	char *host = NULL, *port = NULL;
	int fd = -1, on = 1, loopback, r;

	if (listen_parse(spec, &host, &port) < 0) {
		*cause = xasprintf("cannot listen on \"%s\": give ADDRESS:PORT, like "
		    "127.0.0.1:7777", spec);
		return -EINVAL;
	}
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
	r = getaddrinfo(*host ? host : NULL, port, &hints, &ai);
	if (r != 0) {
		*cause = xasprintf("cannot listen on \"%s\": %s", spec, gai_strerror(r));
		r = -EINVAL;
		goto out;
	}
	loopback = listen_is_loopback(ai->ai_addr);
	if (!loopback && !any) {
		*cause = xasprintf("%s is beyond loopback: anyone who reaches it with a token "
		    "runs code in your sprites; add --listen-any if that is what you want", spec);
		r = -EPERM;
		goto out;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		r = -errno;
		*cause = xasprintf("cannot listen on %s: %s", spec, strerror(-r));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	*ret_fd = fd;
	*ret_loopback = loopback;
	r = 0;
out:
	if (ai != NULL)
		freeaddrinfo(ai);
	free(host);
	free(port);
	return r;
}
