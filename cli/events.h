/*
 * events: how the CLI shows the daemon's event log (`sprig events`), one
 * line an event: when, which sprite, what kind, what happened.
 */
#ifndef SPRIG_CLI_EVENTS_H
#define SPRIG_CLI_EVENTS_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* One event (an object of GET /v1/events) as a line "TIME  SPRITE  KIND
 * MESSAGE\n" with the time in local time; NULL for what a person need not
 * see (the transient "op" notices). Newly allocated. */
char *events_render(const cJSON *ev);

#endif
