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
 * After each HELLO the host sends IDENTITY: the guest's hostname and
 * machine-id (new for a fork) and fresh randomness, so that two sprites
 * resumed from one saved memory never share a hostname or a random stream.
 * The guest may also ask something of the host: REQUEST carries the
 * arguments of a `sprite-env` command run inside the guest (list or make
 * checkpoints, keep the sprite awake); the host answers each with one REPLY
 * of the same id, holding what the command prints and its exit status.
 * A file request (FS: read, write, list, delete, rename, copy, chmod,
 * chown) is a session without a process: the host picks its channel as for
 * an EXEC, a write's bytes follow as STDIN frames ended by STDIN_EOF, a
 * read's bytes or a list's entries come back as STDOUT frames, all under
 * the same credit as a session's; SIGNAL cancels it (a write half done
 * leaves the old file as it was), and it ends with one FS_DONE. Paths are
 * the guest's, resolved by the guest: the host never opens them.
 * A forwarded connection (CONNECT) is a session whose far end is a TCP
 * connection the guest opens to host:port (its loopback, mostly: a sprite
 * has no network card). The guest answers EXEC_OK (pid 0) once connected
 * or EXEC_ERR (ECONNREFUSED...). Then STDIN is bytes for the connection
 * and STDOUT bytes from it, under the same credit as a session's;
 * STDIN_EOF half-closes it (shutdown(SHUT_WR) once the bytes before it
 * are written), so a client may send a request and then its end. EXIT
 * (code 0, or the errno that broke it; signal 0) comes once the far end
 * has closed its side and every byte it sent went out before: the guest
 * then closes the socket, so what the host still sends is dropped. SIGNAL
 * (any) drops the connection at once (a reset), answered with EXIT.
 * An unknown type is ignored, so either side may be newer (a host checks
 * the guest's HELLO version before it sends FS or CONNECT); a malformed frame
 * (bad length or payload) closes the connection.
 *
 * Flow control is per session and by credit, in payload bytes, so that one
 * session's slow reader or writer never holds up the channel:
 *
 *  - Output: the guest may send AGENT_WINDOW_SIZE bytes of STDOUT/STDERR
 *    payload on a session before the host grants more with WINDOW. While
 *    that credit is used up the guest leaves the session's pipes (or pty)
 *    unread; since EXIT waits for end of file on them, it comes only after
 *    all output was sent.
 *  - Stdin: the host may send AGENT_WINDOW_SIZE bytes of STDIN payload on a
 *    session before the guest grants more with STDIN_WINDOW, which it does
 *    once it has written those bytes to the process (or thrown them away
 *    because nobody will read them). So the guest never holds a frame nor
 *    stops reading the port. Bytes beyond the credit are a host bug: the
 *    guest logs it and kills that session.
 *
 * Both sides give credit back in batches of at least AGENT_WINDOW_BATCH.
 * That cannot deadlock while the batch is smaller than the window: a sender
 * with no credit left has AGENT_WINDOW_SIZE bytes unreturned, so once the
 * receiver is rid of them it owes at least one batch.
 */
#ifndef SPRIG_AGENT_PROTO_H
#define SPRIG_AGENT_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define AGENT_HDR_SIZE		12
#define AGENT_MAX_PAYLOAD	(1u << 20)
#define AGENT_VERSION		6	/* 2: WINDOW and STDIN_WINDOW; 3: REQUEST, IDENTITY;
					 * 4: FS, FS_DONE; 5: checkpoint disks;
					 * 6: CONNECT */
/* The first version whose guests serve FS. */
#define AGENT_VERSION_FS	4
/*
 * The first version whose guests mount checkpoint disks: read-only SCSI
 * disks whose serial is AGENT_CKPT_SERIAL then a checkpoint id ("v3"),
 * at /.sprite/checkpoints/<id>, for as long as the disk is there. No frame
 * carries this (the guest watches its disks come and go); the host only
 * attaches such disks to guests that say this version or later.
 */
#define AGENT_VERSION_CKPT	5
/* The first version whose guests serve CONNECT (an older one ignores it). */
#define AGENT_VERSION_PROXY	6
#define AGENT_CKPT_SERIAL	"sprig-"
#define AGENT_PORT_NAME		"org.sprig.agent"
/* Largest STDIN chunk the host sends in one frame, and the most the guest
 * reads from a pty at once. A guest moves a pipe's output in frames of up
 * to 256 KiB (any host takes frames up to AGENT_MAX_PAYLOAD). */
#define AGENT_CHUNK		65536
/* Each session's initial credit, for its output and for its stdin. */
#define AGENT_WINDOW_SIZE	(256u * 1024)
/* Credit is given back once this much has accumulated. */
#define AGENT_WINDOW_BATCH	(64u * 1024)

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
	AGENT_WINDOW = 20,	/* host: u32 bytes more of output credit */
	AGENT_STDIN_WINDOW = 21, /* guest: u32 bytes more of stdin credit */
	AGENT_SHUTDOWN = 30,	/* host: empty; the guest syncs and powers off */
	AGENT_SYNC = 31,	/* host: u64 cookie; the guest flushes its page cache */
	AGENT_SYNC_DONE = 32,	/* guest: u64 cookie, once sync() returned */
	AGENT_REQUEST = 40,	/* guest: u32 id, u32 argc, argc strs: a
				 * `sprite-env` command line for the host to run */
	AGENT_REPLY = 41,	/* host: u32 id, i32 exit status, str output */
	AGENT_IDENTITY = 42,	/* host: str hostname, str machine-id (32 hex),
				 * str seed (random bytes for the guest's pool) */
	AGENT_FS = 50,		/* host: struct agent_fs, encoded below */
	AGENT_FS_DONE = 51,	/* guest: i32 errno (0: done), str message (the
				 * error's, or else the resolved absolute path),
				 * u64 value (bytes read or written, entries) */
	AGENT_CONNECT = 60,	/* host: str host (an address, or "localhost"),
				 * u32 port: a forwarded connection on chan */
};

/* Longest host name a CONNECT carries (DNS's limit). */
#define AGENT_CONNECT_HOST_MAX	253

enum agent_fs_op {
	AGENT_FS_READ = 1,	/* STDOUT: the file's bytes */
	AGENT_FS_WRITE,		/* STDIN: the new contents, written to a temporary
				 * file renamed over the path at STDIN_EOF */
	AGENT_FS_LIST,		/* STDOUT: entry records (agent_fs_entry); a
				 * directory lists its entries, else the path itself */
	AGENT_FS_DELETE,
	AGENT_FS_RENAME,	/* path -> path2 */
	AGENT_FS_COPY,		/* path -> path2 */
	AGENT_FS_CHMOD,
	AGENT_FS_CHOWN,
	AGENT_FS_OP_MAX = AGENT_FS_CHOWN,
};

#define AGENT_FS_RECURSIVE	0x1	/* list, delete, copy, chmod, chown */
#define AGENT_FS_MKDIRS		0x2	/* write: make every missing parent */
#define AGENT_FS_MODE		0x4	/* write: give the file @mode */
#define AGENT_FS_PRESERVE	0x8	/* copy: owner and times too */

/* Longest path or pattern an FS request carries. */
#define AGENT_FS_PATH_MAX	4096

struct agent_fs {
	uint32_t	 op;		/* enum agent_fs_op */
	uint32_t	 flags;
	uint32_t	 mode;		/* write (with AGENT_FS_MODE), chmod: 07777 bits */
	uint32_t	 uid, gid;	/* chown: UINT32_MAX leaves it as it is */
	uint64_t	 limit;		/* read, write: most bytes; list: most entries */
	char		*path;		/* relative ones start at @cwd */
	char		*path2;		/* rename, copy: the destination; list: a
					 * glob the names must match, or "" */
	char		*cwd;		/* "": "/" */
};

/* A list's entry: u8 type, u32 mode (07777 bits), u64 size, i64 mtime
 * (unix seconds), str name (relative to the listed directory). */
enum agent_fs_type {
	AGENT_FS_FILE = 1,
	AGENT_FS_DIR = 2,
	AGENT_FS_SYMLINK = 3,
	AGENT_FS_OTHER = 4,
};

struct agent_fs_entry {
	uint8_t		 type;
	uint32_t	 mode;
	uint64_t	 size;
	int64_t		 mtime;
	char		*name;
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

/* Appends a WINDOW or STDIN_WINDOW frame granting @bytes on @chan. */
void agent_window_add(struct buf *out, uint16_t type, uint32_t chan, uint32_t bytes);
/* Decodes a WINDOW or STDIN_WINDOW payload (it may grow at the end in a newer
 * peer). Returns 0, or -EPROTO when it is too short. */
int agent_window_decode(const uint8_t *p, size_t n, uint32_t *ret_bytes);

/* Appends an EXEC frame for @e on @chan. */
void agent_exec_add(struct buf *out, uint32_t chan, const struct agent_exec *e);
/* Decodes an EXEC payload into @ret (freed with agent_exec_done). Returns 0 or -EPROTO. */
int agent_exec_decode(const uint8_t *p, size_t n, struct agent_exec *ret);
void agent_exec_done(struct agent_exec *e);

/* Appends an FS frame for @f on @chan. */
void agent_fs_add(struct buf *out, uint32_t chan, const struct agent_fs *f);
/* Decodes an FS payload into @ret (freed with agent_fs_done). Returns 0 or
 * -EPROTO (an unknown op, an empty path, a mode beyond 07777). */
int agent_fs_decode(const uint8_t *p, size_t n, struct agent_fs *ret);
void agent_fs_done(struct agent_fs *f);

/* Appends one list entry record to @out. */
void agent_fs_entry_add(struct buf *out, const struct agent_fs_entry *e);
/* Decodes the next record from @r into @ret (ret->name newly allocated).
 * Returns 0, or -EPROTO with nothing allocated. */
int agent_fs_entry_decode(struct rd *r, struct agent_fs_entry *ret);

/* Appends a CONNECT frame to @host:@port on @chan. */
void agent_connect_add(struct buf *out, uint32_t chan, const char *host, uint16_t port);
/* Decodes a CONNECT payload: *@ret_host newly allocated. Returns 0 or
 * -EPROTO (an empty or too long host, a port of 0 or over 65535). */
int agent_connect_decode(const uint8_t *p, size_t n, char **ret_host, uint16_t *ret_port);

const char *agent_type_name(uint16_t type);

#endif
