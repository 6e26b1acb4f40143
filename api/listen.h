/*
 * listen: the API's TCP listening socket, `sprig serve --listen ADDR:PORT`.
 * Loopback unless the caller allows more.
 */
#ifndef SPRIG_LISTEN_H
#define SPRIG_LISTEN_H

/* Splits "127.0.0.1:7777", "[::1]:7777" or "localhost:7777" into a host
 * (newly allocated; "" when none was given, as in ":7777") and a port.
 * Returns 0 or -EINVAL. */
int listen_parse(const char *spec, char **ret_host, char **ret_port);

/* Binds and listens on @spec. An address beyond loopback is refused with
 * -EPERM unless @any; *@ret_loopback says which it was. Returns 0 with a
 * non-blocking CLOEXEC fd, or a negative errno with *@cause. */
int listen_tcp(const char *spec, int any, int *ret_fd, int *ret_loopback, char **cause);

#endif
