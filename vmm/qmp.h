/*
 * qmp: a non-blocking client for QEMU's machine protocol (JSON lines over a
 * unix socket), driven by the process's loop. It waits for the greeting,
 * negotiates capabilities, then sends commands each with a numeric id; replies
 * are matched to a FIFO of pending commands; events go to one handler. When
 * the socket closes every pending command completes with -ECONNRESET and the
 * end-of-file callback runs once. Modelled on libvirt's qemu_monitor.c.
 */
#ifndef SPRIG_QMP_H
#define SPRIG_QMP_H

#include <cjson/cJSON.h>

struct loop;
struct qmp;

/*
 * A command's completion. @err is 0 with @ret the "return" member, or a
 * negative errno: -EIO with @desc QEMU's error description ("class: desc"),
 * -ECONNRESET if the connection closed first. @ret and @desc belong to the
 * client and live only during the call.
 */
typedef void (*qmp_reply_fn)(struct qmp *q, int err, const cJSON *ret,
    const char *desc, void *arg);
/* An asynchronous event ("SHUTDOWN", "STOP", ...); @data may be NULL. */
typedef void (*qmp_event_fn)(struct qmp *q, const char *event,
    const cJSON *data, void *arg);
/* Called once when the connection is ready (err 0: greeting and
 * qmp_capabilities done) or failed before that (negative errno). */
typedef void (*qmp_ready_fn)(struct qmp *q, int err, void *arg);
/* Called once when the socket closes after being ready, or on a protocol error. */
typedef void (*qmp_eof_fn)(struct qmp *q, void *arg);

struct qmp_callbacks {
	qmp_ready_fn	ready;
	qmp_event_fn	event;	/* may be NULL */
	qmp_eof_fn	eof;
};

/*
 * Takes ownership of the connected socket @fd (non-blocking is set here) and
 * starts the handshake. Returns a client; nothing is written before the
 * greeting arrives.
 */
struct qmp *qmp_new(struct loop *l, int fd, const struct qmp_callbacks *cb, void *arg);
/* Closes the socket; pending commands are completed with -ECANCELED first. */
void qmp_free(struct qmp *q);

/*
 * Queues a command. @args may be NULL and is consumed. @fd >= 0 is passed
 * along with the command with SCM_RIGHTS (for getfd/add-fd) and stays the
 * caller's. Returns 0, or -ENOTCONN if the connection is closed.
 */
int qmp_command(struct qmp *q, const char *name, cJSON *args, int fd,
    qmp_reply_fn fn, void *arg);

#endif
