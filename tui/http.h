/*
 * http: the dashboard's asynchronous requests to the daemon, libcurl's multi
 * interface driven by the process's one loop (its sockets are loop fds, its
 * timeouts loop timers), so a slow answer (a wake, a fork) never freezes the
 * screen. It owns the multi handle and every request still under way; a
 * request's callbacks are the only way its result comes out.
 */
#ifndef SPRIG_TUI_HTTP_H
#define SPRIG_TUI_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct loop;
struct http;

/* One line of a streamed (NDJSON) answer, without its newline. Only for a
 * 2xx answer; the line is valid during the call. */
typedef void (*http_line_fn)(const char *line, size_t len, void *arg);

/*
 * The end of a request: @err is 0 when an answer came (@status its HTTP
 * status, @body what was not handed out as lines), or a negative errno when
 * none did (-ECONNREFUSED, -ENOENT: nobody listens; -ETIMEDOUT; -ECANCELED
 * never reaches here: cancelled requests are silent). @cause says it for a
 * person (an API error's message for a non-2xx status). All valid during
 * the call only.
 */
typedef void (*http_done_fn)(int err, long status, const char *body, size_t len,
    const char *cause, void *arg);

/* Returns 0 or a negative errno. @sock is copied. */
int http_new(struct loop *l, const char *sock, struct http **ret);
/* Cancels what is under way, silently. NULL is ignored. */
void http_free(struct http *h);

/*
 * Starts @method @path with the JSON text @body (copied; may be NULL). With
 * @line, a 2xx answer's body is handed out line by line as it comes. A
 * @timeout_s of 0 waits for ever (a followed stream). Returns the request's
 * id (never 0), for http_cancel.
 */
uint64_t http_request(struct http *h, const char *method, const char *path, const char *body,
    long timeout_s, http_line_fn line, http_done_fn done, void *arg);
/* Drops a request without calling it back; unknown ids are ignored. */
void http_cancel(struct http *h, uint64_t id);
/* How many requests are under way. */
size_t http_pending(const struct http *h);

#endif
