/*
 * http: curl_multi_socket_action on the loop. curl tells us which sockets to
 * watch (socket callback) and when to wake it (timer callback); the loop
 * tells curl what happened. Finished transfers are collected after each
 * action and called back outside any curl callback, so a callback may start
 * new requests or cancel others.
 */
#include "http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cli/client.h"
#include "common/buf.h"
#include "common/loop.h"
#include "common/xmalloc.h"

#define HTTP_CONNECT_TIMEOUT_S	10

struct http_req {
	struct http		*h;
	uint64_t		 id;
	CURL			*e;
	struct curl_slist	*hdrs;
	char			*body;
	struct buf		 resp;
	http_line_fn		 line;
	http_done_fn		 done;
	void			*arg;
	char			 errbuf[CURL_ERROR_SIZE];
	struct http_req		*next;
};

struct http {
	struct loop		*loop;
	char			*sock;
	CURLM			*m;
	uint64_t		 timer;
	uint64_t		 next_id;
	struct http_req		*reqs;
	int			 in_action;	/* inside curl: do not remove handles */
};

static void http_check_done(struct http *h);

static void
http_action(struct http *h, curl_socket_t s, int flags)
{
	int running = 0;

	h->in_action = 1;
	curl_multi_socket_action(h->m, s, flags, &running);
	h->in_action = 0;
	http_check_done(h);
}

static void
http_fd_cb(struct loop *l, int fd, int events, void *arg)
{
	int flags = 0;

	if (events & LOOP_READ)
		flags |= CURL_CSELECT_IN;
	if (events & LOOP_WRITE)
		flags |= CURL_CSELECT_OUT;
	if (events & LOOP_HUP)
		flags |= CURL_CSELECT_ERR;
	http_action(arg, fd, flags);
}

static void
http_timer_cb(struct loop *l, uint64_t id, void *arg)
{
	struct http *h = arg;

	h->timer = 0;
	http_action(h, CURL_SOCKET_TIMEOUT, 0);
}

static int
http_socket_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct http *h = userp;
	int mask = 0;

	if (what == CURL_POLL_REMOVE) {
		loop_del_fd(h->loop, s);
		curl_multi_assign(h->m, s, NULL);
		return 0;
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		mask |= LOOP_READ;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		mask |= LOOP_WRITE;
	if (socketp != NULL) {
		loop_set_fd(h->loop, s, mask);
		return 0;
	}
	if (loop_add_fd(h->loop, s, mask, http_fd_cb, h) < 0)
		return -1;
	curl_multi_assign(h->m, s, h);	/* any non-NULL: watched */
	return 0;
}

static int
http_timer_set_cb(CURLM *m, long timeout_ms, void *userp)
{
	struct http *h = userp;

	loop_del_timer(h->loop, h->timer);
	h->timer = 0;
	if (timeout_ms >= 0)
		h->timer = loop_add_timer(h->loop, (uint64_t)timeout_ms, http_timer_cb, h);
	return 0;
}

int
http_new(struct loop *l, const char *sock, struct http **ret)
{
	struct http *h = xcalloc(1, sizeof *h);

	h->m = curl_multi_init();
	if (h->m == NULL) {
		free(h);
		return -ENOMEM;
	}
	h->loop = l;
	h->sock = xstrdup(sock);
	h->next_id = 1;
	curl_multi_setopt(h->m, CURLMOPT_SOCKETFUNCTION, http_socket_cb);
	curl_multi_setopt(h->m, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->m, CURLMOPT_TIMERFUNCTION, http_timer_set_cb);
	curl_multi_setopt(h->m, CURLMOPT_TIMERDATA, h);
	*ret = h;
	return 0;
}

static void
http_req_free(struct http_req *rq)
{
	curl_multi_remove_handle(rq->h->m, rq->e);
	curl_easy_cleanup(rq->e);
	curl_slist_free_all(rq->hdrs);
	free(rq->body);
	buf_done(&rq->resp);
	free(rq);
}

void
http_free(struct http *h)
{
	struct http_req *rq, *next;

	if (h == NULL)
		return;
	for (rq = h->reqs; rq != NULL; rq = next) {
		next = rq->next;
		http_req_free(rq);
	}
	loop_del_timer(h->loop, h->timer);
	curl_multi_cleanup(h->m);
	free(h->sock);
	free(h);
}

static long
http_status(struct http_req *rq)
{
	long status = 0;

	curl_easy_getinfo(rq->e, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

static size_t
http_write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct http_req *rq = arg;
	const char *p, *nl;
	long status;

	buf_add(&rq->resp, data, size * n);
	if (rq->line == NULL)
		return size * n;
	status = http_status(rq);
	if (status < 200 || status > 299)
		return size * n;
	for (;;) {
		p = (const char *)buf_head(&rq->resp);
		nl = memchr(p, '\n', buf_used(&rq->resp));
		if (nl == NULL)
			break;
		if (nl > p)
			rq->line(p, (size_t)(nl - p), rq->arg);
		buf_consume(&rq->resp, (size_t)(nl - p) + 1);
	}
	return size * n;
}

uint64_t
http_request(struct http *h, const char *method, const char *path, const char *body,
    long timeout_s, http_line_fn line, http_done_fn done, void *arg)
{
	struct http_req *rq = xcalloc(1, sizeof *rq);
	char *url;

	rq->h = h;
	rq->id = h->next_id++;
	rq->line = line;
	rq->done = done;
	rq->arg = arg;
	buf_init(&rq->resp);
	rq->e = curl_easy_init();
	if (rq->e == NULL)
		abort();	/* out of memory, as xmalloc would */
	url = xasprintf("http://sprig%s", path);
	rq->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	rq->hdrs = curl_slist_append(rq->hdrs, "Expect:");
	curl_easy_setopt(rq->e, CURLOPT_UNIX_SOCKET_PATH, h->sock);
	curl_easy_setopt(rq->e, CURLOPT_URL, url);
	curl_easy_setopt(rq->e, CURLOPT_HTTPHEADER, rq->hdrs);
	curl_easy_setopt(rq->e, CURLOPT_USERAGENT, "sprig-dashboard");
	curl_easy_setopt(rq->e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(rq->e, CURLOPT_ERRORBUFFER, rq->errbuf);
	curl_easy_setopt(rq->e, CURLOPT_CONNECTTIMEOUT, (long)HTTP_CONNECT_TIMEOUT_S);
	curl_easy_setopt(rq->e, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(rq->e, CURLOPT_WRITEFUNCTION, http_write_cb);
	curl_easy_setopt(rq->e, CURLOPT_WRITEDATA, rq);
	curl_easy_setopt(rq->e, CURLOPT_PRIVATE, rq);
	if (strcmp(method, "POST") == 0) {
		rq->body = xstrdup(body != NULL ? body : "");
		curl_easy_setopt(rq->e, CURLOPT_POST, 1L);
		curl_easy_setopt(rq->e, CURLOPT_POSTFIELDS, rq->body);
		curl_easy_setopt(rq->e, CURLOPT_POSTFIELDSIZE, (long)strlen(rq->body));
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(rq->e, CURLOPT_CUSTOMREQUEST, method);
	}
	free(url);
	rq->next = h->reqs;
	h->reqs = rq;
	curl_multi_add_handle(h->m, rq->e);
	return rq->id;
}

void
http_cancel(struct http *h, uint64_t id)
{
	struct http_req **pp, *rq;

	for (pp = &h->reqs; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->id == id) {
			rq = *pp;
			*pp = rq->next;
			http_req_free(rq);
			return;
		}
	}
}

size_t
http_pending(const struct http *h)
{
	size_t n = 0;

	for (const struct http_req *rq = h->reqs; rq != NULL; rq = rq->next)
		n++;
	return n;
}

static int
http_errno(struct http_req *rq, CURLcode cc)
{
	long oserr = 0;

	switch (cc) {
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(rq->e, CURLINFO_OS_ERRNO, &oserr);
		return oserr > 0 ? -(int)oserr : -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
		return -ECONNRESET;
	default:
		return -EIO;
	}
}

static void
http_finish(struct http *h, struct http_req *rq, CURLcode cc)
{
	struct http_req **pp;
	long status = 0;
	char *cause = NULL;
	int err = 0;

	for (pp = &h->reqs; *pp != NULL && *pp != rq; pp = &(*pp)->next)
		;
	if (*pp == NULL)
		return;
	*pp = rq->next;
	if (cc == CURLE_OK) {
		status = http_status(rq);
		if (status < 200 || status > 299)
			cause = client_error_message(status, (const char *)buf_head(&rq->resp),
			    buf_used(&rq->resp));
	} else {
		err = http_errno(rq, cc);
		cause = xstrdup(rq->errbuf[0] != '\0' ? rq->errbuf : curl_easy_strerror(cc));
	}
	if (rq->done != NULL)
		rq->done(err, status, (const char *)buf_head(&rq->resp), buf_used(&rq->resp),
		    cause, rq->arg);
	free(cause);
	http_req_free(rq);
}

static void
http_check_done(struct http *h)
{
	struct http_req *rq;
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(h->m, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		rq = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&rq);
		if (rq != NULL)
			http_finish(h, rq, msg->data.result);
	}
}
