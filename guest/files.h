/*
 * files: the guest's side of file requests (AGENT_FS in
 * common/agent_proto.h): read, write, list, delete, rename, copy, chmod and
 * chown, on paths this guest resolves.
 */
#ifndef SPRIG_GUEST_FILES_H
#define SPRIG_GUEST_FILES_H

#include <stddef.h>
#include <stdint.h>

/* An FS frame's payload on @chan: the request is done at once, or (read,
 * write, list) opened and carried on by the calls below. */
void files_request(uint32_t chan, const uint8_t *p, size_t n);
/* A STDIN, STDIN_EOF, WINDOW or SIGNAL (which cancels: a write leaves no
 * trace) frame: returns 1 if it was an open file request's, 0 if not (it
 * is a session's, or nobody's). */
int files_frame(uint16_t type, uint32_t chan, const uint8_t *p, size_t n);
/* A new host: every open request is dropped. */
void files_kill_all(void);
/* Before the loop sleeps: reads and lists send what their credit allows,
 * unless @out_full (the queue toward the host is long enough). */
void files_pump(int out_full);

#endif
