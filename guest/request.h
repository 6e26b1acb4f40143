/*
 * request: `sprite-env`'s way to the host (see request.c): a unix socket in
 * the guest whose requests go to the host as AGENT_REQUEST frames.
 */
#ifndef SPRIG_GUEST_REQUEST_H
#define SPRIG_GUEST_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#define REQUEST_SOCK	"/run/sprite-env.sock"

struct loop;

/* Listens on REQUEST_SOCK (failures go to the console; sprite-env then
 * says it cannot connect). */
void request_start(struct loop *l);
/* An AGENT_REPLY frame's payload arrived. */
void request_reply(const uint8_t *p, size_t n);
/* The host went away: requests it had are answered with an error. */
void request_host_gone(void);

#endif
