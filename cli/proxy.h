/*
 * proxy: `sprig proxy NAME [LOCAL:]REMOTE`, the CLI's port forwarding (as
 * `sprite proxy`): listens on 127.0.0.1:LOCAL and carries each connection
 * accepted there over its own API proxy WebSocket to REMOTE on the
 * sprite's loopback, until interrupted.
 */
#ifndef SPRIG_CLI_PROXY_H
#define SPRIG_CLI_PROXY_H

#include <stdint.h>

struct client;

/*
 * Parses "PORT" (the same port on both ends) or "LOCAL:REMOTE" (LOCAL may
 * be 0: any free port). Returns 0, or -EINVAL with *cause.
 */
int proxy_parse_ports(const char *spec, uint16_t *ret_local, uint16_t *ret_remote,
    char **cause);

/* Runs the forwarder for sprite @name until SIGINT or SIGTERM. Returns the
 * exit status: 0, or 1 with *cause. */
int proxy_run(struct client *c, const char *name, uint16_t local, uint16_t remote,
    char **cause);

#endif
