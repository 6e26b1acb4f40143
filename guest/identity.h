/*
 * identity: what makes this guest itself, as the host says it after each
 * boot or resume (AGENT_IDENTITY): its hostname, its machine-id, and fresh
 * randomness for the kernel's pool. A guest resumed from a saved memory
 * shares all three with its source until then.
 */
#ifndef SPRIG_GUEST_IDENTITY_H
#define SPRIG_GUEST_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

/* Handles an AGENT_IDENTITY payload; problems go to the console. */
void identity_apply(const uint8_t *p, size_t n);

#endif
