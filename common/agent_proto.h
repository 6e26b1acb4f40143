/*
 * agent_proto: the framed, multiplexed protocol between the host (vmm/agent.c)
 * and the guest agent (guest/agent.c) over a virtio-serial port.
 *
 * Every frame is a 12-byte header then a payload, all integers little endian:
 *
 *	u32 len		payload bytes, at most AGENT_MAX_PAYLOAD
 *	u16 type	enum agent_type
 *	u16 flags	0 (reserved)
 *	u32 chan	the exec session a frame belongs to; 0 for the connection
 *
 * Strings inside payloads are a u32 length and bytes, no NUL.
 *
 * A connection starts with HELLO from both sides (the guest sends its own
 * when the port opens and answers every HELLO from the host); a HELLO from
 * the host also means "a new host": sessions of the previous one are killed.
 * The host picks session ids (chan, non-zero) and opens a session with EXEC;
 * the guest answers EXEC_OK or EXEC_ERR, then streams STDOUT/STDERR data, and
 * ends with one EXIT after the process has exited and its output is drained.
 * An unknown type is ignored, so either side may be newer; a malformed frame
 * (bad length or payload) closes the connection.
 */
#ifndef SPRIG_AGENT_PROTO_H
#define SPRIG_AGENT_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define AGENT_HDR_SIZE		12
#define AGENT_MAX_PAYLOAD	(1u << 20)
#define AGENT_VERSION		1
#define AGENT_PORT_NAME		"org.sprig.agent"
/* Largest STDOUT/STDERR/STDIN chunk a side sends in one frame. */
#define AGENT_CHUNK		65536

enum agent_type {
	AGENT_HELLO = 1,	/* host: u32 version, u64 host unix ms (the guest
				 * sets its clock to it); guest: u32 version,
				 * str hostname */
	AGENT_PING = 2,		/* host: u64 cookie */
	AGENT_PONG = 3,		/* guest: u64 cookie */
	AGENT_EXEC = 10,	/* host: struct agent_exec, encoded below */
	AGENT_EXEC_OK = 11,	/* guest: u32 pid */
	AGENT_EXEC_ERR = 12,	/* guest: i32 errno, str message */
	AGENT_STDIN = 13,	/* host: bytes */
	AGENT_STDIN_EOF = 14,	/* host: empty */
	AGENT_STDOUT = 15,	/* guest: bytes (the tty's output in tty mode) */
	AGENT_STDERR = 16,	/* guest: bytes */
	AGENT_EXIT = 17,	/* guest: i32 exit code, i32 signal (0 if none) */
	AGENT_SIGNAL = 18,	/* host: i32 signal number, sent to the process group */
	AGENT_RESIZE = 19,	/* host: u16 rows, u16 cols */
	AGENT_SHUTDOWN = 30,	/* host: empty; the guest syncs and powers off */
	AGENT_SYNC = 31,	/* host: u64 cookie; the guest flushes its page cache */
	AGENT_SYNC_DONE = 32,	/* guest: u64 cookie, once sync() returned */
};

#define AGENT_EXEC_TTY		0x1	/* run on a pseudo-terminal */

struct agent_exec {
	uint32_t	 flags;
	uint16_t	 rows, cols;	/* tty size; 0 means 24x80 */
	char		**argv;		/* NULL-terminated, argv[0] looked up in PATH */
	char		**env;		/* NULL-terminated "K=V" added to the default env */
	char		*cwd;		/* NULL or "": "/" */
};

struct agent_hdr {
	uint32_t	len;
	uint16_t	type;
	uint16_t	flags;
	uint32_t	chan;
};

/*
 * Decodes a header from the front of @p. Returns 0, -EAGAIN when fewer than
 * AGENT_HDR_SIZE bytes are there, or -EPROTO for a length over the maximum.
 */
int agent_hdr_decode(const uint8_t *p, size_t n, struct agent_hdr *ret);
/* Appends a whole frame to @out. */
void agent_frame_add(struct buf *out, uint16_t type, uint32_t chan,
    const void *payload, size_t len);
/*
 * Appends a frame whose payload is built by the caller: returns the offset
 * of the header (from the buffer's read position, so it stays valid while
 * the payload is added); after adding the payload call agent_frame_end.
 * Nothing may be consumed from @out in between.
 */
size_t agent_frame_begin(struct buf *out, uint16_t type, uint32_t chan);
void agent_frame_end(struct buf *out, size_t hdr_off);

/* Appends an EXEC frame for @e on @chan. */
void agent_exec_add(struct buf *out, uint32_t chan, const struct agent_exec *e);
/* Decodes an EXEC payload into @ret (freed with agent_exec_done). Returns 0 or -EPROTO. */
int agent_exec_decode(const uint8_t *p, size_t n, struct agent_exec *ret);
void agent_exec_done(struct agent_exec *e);

const char *agent_type_name(uint16_t type);

#endif
