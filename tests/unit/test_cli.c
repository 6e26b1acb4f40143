/*
 * test_cli: the CLI's logic without a daemon: URL building and escaping,
 * ages, the API's error shape, the WebSocket handshake, exec's text frames,
 * checkpoint and restore answers (NDJSON), the timeline's tree, checkpoint
 * ids and NAME@VERSION, the templates table; then
 * requests and a whole exec against fakes forked in this process (a canned
 * HTTP answer, a WebSocket exec server built on common/ws).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/client.h"
#include "cli/events.h"
#include "cli/exec.h"
#include "cli/format.h"
#include "cli/response.h"
#include "cli/template.h"
#include "cli/timeline.h"
#include "cli/upgrade.h"
#include "common/buf.h"
#include "common/loop.h"
#include "common/util.h"
#include "common/ws.h"
#include "common/xmalloc.h"

static void
test_escape(void **state)
{
	char *e = client_escape("a b/c=d&e%f?g#h+i~j-k_l.m\xc3\xa9");

	assert_string_equal(e, "a%20b%2Fc%3Dd%26e%25f%3Fg%23h%2Bi~j-k_l.m%C3%A9");
	free(e);
	e = client_escape("");
	assert_string_equal(e, "");
	free(e);
}

static void
test_exec_path(void **state)
{
	char *argv[] = { "sh", "-c", "echo \"$HOME\" && ls -l /", "" };
	char *env[] = { "A=1 2", "PATH=/bin:/usr/bin" };
	struct exec_opts o = { .name = "dev", .argv = argv, .argc = 4 };
	char *p;

	p = exec_path(&o);
	assert_string_equal(p, "/v1/sprites/dev/exec?cmd=sh&cmd=-c&"
	    "cmd=echo%20%22%24HOME%22%20%26%26%20ls%20-l%20%2F&cmd=&stdin=true");
	free(p);

	o.name = "../x y";
	o.argc = 1;
	o.tty = 1;
	o.rows = 40;
	o.cols = 120;
	o.env = env;
	o.nenv = 2;
	o.dir = "/home/me/my dir";
	p = exec_path(&o);
	assert_string_equal(p, "/v1/sprites/..%2Fx%20y/exec?cmd=sh&stdin=true&tty=true&rows=40&"
	    "cols=120&env=A%3D1%202&env=PATH%3D%2Fbin%3A%2Fusr%2Fbin&dir=%2Fhome%2Fme%2Fmy%20dir");
	free(p);
}

static void
test_age(void **state)
{
	static const struct { int64_t s; const char *want; } cases[] = {
		{ -5, "0s ago" }, { 0, "0s ago" }, { 5, "5s ago" }, { 59, "59s ago" },
		{ 60, "1m ago" }, { 3599, "59m ago" }, { 3600, "1h ago" }, { 86399, "23h ago" },
		{ 86400, "1d ago" }, { 40 * 86400, "40d ago" },
	};
	char out[32];
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		format_age(cases[i].s, out, sizeof out);
		assert_string_equal(out, cases[i].want);
	}
}

static void
test_parse_time(void **state)
{
	int64_t t;

	assert_int_equal(format_parse_time("1970-01-01T00:00:00Z", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(format_parse_time("2026-11-23T06:00:00Z", &t), 0);
	assert_int_equal(t, 1795413600);
	assert_int_equal(format_parse_time("2026-11-23T06:00:00.123456Z", &t), 0);
	assert_int_equal(t, 1795413600);
	assert_int_equal(format_parse_time("2026-11-23T08:00:00+02:00", &t), 0);
	assert_int_equal(t, 1795413600);
	assert_int_equal(format_parse_time("2026-11-23T05:30:00-00:30", &t), 0);
	assert_int_equal(t, 1795413600);
	assert_int_equal(format_parse_time("2026-11-23", &t), -EINVAL);
	assert_int_equal(format_parse_time("2026-11-23T06:00:00", &t), -EINVAL);
	assert_int_equal(format_parse_time("2026-11-23T06:00:00Zjunk", &t), -EINVAL);
	assert_int_equal(format_parse_time("2026-13-23T06:00:00Z", &t), -EINVAL);
	assert_int_equal(format_parse_time("", &t), -EINVAL);
	assert_int_equal(format_parse_time(NULL, &t), -EINVAL);
}

static void
test_age_since(void **state)
{
	char out[32];

	format_age_since("2026-11-23T06:00:00Z", 1795413600 + 185, out, sizeof out);
	assert_string_equal(out, "3m ago");
	format_age_since(NULL, 0, out, sizeof out);
	assert_string_equal(out, "-");
	format_age_since("yesterday", 0, out, sizeof out);
	assert_string_equal(out, "-");
}

static void
test_error_message(void **state)
{
	static const char api[] = "{\"error\":\"not_found\",\"message\":\"no sprite \\\"x\\\"\"}";
	char *m;

	m = client_error_message(404, api, strlen(api));
	assert_string_equal(m, "no sprite \"x\"");
	free(m);
	m = client_error_message(409, "{\"error\":\"conflict\"}", 20);
	assert_string_equal(m, "conflict");
	free(m);
	m = client_error_message(502, "Bad Gateway\r\n", 13);
	assert_string_equal(m, "HTTP 502: Bad Gateway");
	free(m);
	m = client_error_message(500, "line one\nline two\n", 18);
	assert_string_equal(m, "HTTP 500: line one line two");
	free(m);
	m = client_error_message(503, "", 0);
	assert_string_equal(m, "HTTP 503");
	free(m);
	m = client_error_message(400, "[1,2]", 5);
	assert_string_equal(m, "HTTP 400: [1,2]");
	free(m);
	/* Only @len bytes count: the body need not be NUL-terminated. */
	m = client_error_message(500, "{\"message\":\"cut\"}trailing", 17);
	assert_string_equal(m, "cut");
	free(m);
}

static void
test_parse_head(void **state)
{
	static const char ok[] = "HTTP/1.1 101 Switching Protocols\r\n"
	    "upgrade: WebSocket\r\n"
	    "CONNECTION: keep-alive, Upgrade\r\n"
	    "Sec-WebSocket-Accept:  s3pPLMBiTxaQ9kYGzzhZRbK+xOo= \r\n"
	    "\r\n\x82\x01x";
	static const char err[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 12\r\n"
	    "Content-Type: application/json\r\n\r\n{\"error\":1}\n";
	struct upgrade_head h;

	assert_int_equal(upgrade_parse_head(ok, sizeof ok - 1, &h), 0);
	assert_int_equal(h.status, 101);
	assert_true(h.upgrade_websocket);
	assert_true(h.connection_upgrade);
	assert_string_equal(h.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	assert_int_equal(h.head_len, sizeof ok - 1 - 3);
	assert_int_equal(h.content_length, -1);

	assert_int_equal(upgrade_parse_head(ok, 40, &h), -EAGAIN);
	/* Before the first read: an empty buffer has no data pointer. */
	assert_int_equal(upgrade_parse_head(NULL, 0, &h), -EAGAIN);
	assert_int_equal(upgrade_parse_head("\r\n\r", 3, &h), -EAGAIN);
	assert_int_equal(upgrade_parse_head(err, sizeof err - 1, &h), 0);
	assert_int_equal(h.status, 404);
	assert_int_equal(h.content_length, 12);
	assert_false(h.upgrade_websocket);
	assert_false(h.chunked);

	assert_int_equal(upgrade_parse_head("SSH-2.0-x\r\n\r\n", 13, &h), -EBADMSG);
	assert_int_equal(upgrade_parse_head("HTTP/1.1 abc OK\r\n\r\n", 19, &h), -EBADMSG);
	assert_int_equal(upgrade_parse_head("HTTP/1.1 200 OK\r\nno colon\r\n\r\n", 29, &h),
	    -EBADMSG);
	assert_int_equal(upgrade_parse_head("HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: gzip, chunked\r\n\r\n", 53, &h), 0);
	assert_true(h.chunked);
}

static void
test_dechunk(void **state)
{
	static const char body[] = "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n";
	struct buf b;

	buf_init(&b);
	assert_int_equal(upgrade_dechunk(body, sizeof body - 1, &b), 0);
	assert_string_equal(buf_cstr(&b), "hello world");
	buf_reset(&b);
	assert_int_equal(upgrade_dechunk(body, 12, &b), -EAGAIN);
	buf_reset(&b);
	assert_int_equal(upgrade_dechunk("zz\r\n", 4, &b), -EBADMSG);
	buf_reset(&b);
	assert_int_equal(upgrade_dechunk("3\r\nabcX\r\n", 9, &b), -EBADMSG);
	buf_done(&b);
}

/* A body past RESPONSE_BODY_MAX is refused as it arrives, not kept. */
static void
test_body_cap(void **state)
{
	static char chunk[1 << 20];
	char head[128];
	struct response r;
	long n = 0;
	size_t fed = 0;

	memset(chunk, 'x', sizeof chunk);
	snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %u\r\n\r\n",
	    RESPONSE_BODY_MAX + 1);
	response_init(&r, 0);
	assert_true(response_feed(&r, head, strlen(head)) > 0);
	while (fed <= RESPONSE_BODY_MAX && (n = response_feed(&r, chunk, sizeof chunk)) > 0)
		fed += (size_t)n;
	assert_int_equal(n, -EFBIG);
	assert_true(buf_used(&r.body) <= RESPONSE_BODY_MAX);
	assert_false(r.complete);
	response_done(&r);

	/* Up to the cap is fine. */
	snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
	    sizeof chunk);
	response_init(&r, 0);
	assert_true(response_feed(&r, head, strlen(head)) > 0);
	assert_int_equal(response_feed(&r, chunk, sizeof chunk), (long)sizeof chunk);
	assert_true(r.complete);
	response_done(&r);
}

/* The handshake against canned answers written before the request. */
static int
perform(const char *answer, size_t len, int timeout_ms, struct buf *prefix, char **cause,
    char *request, size_t request_size)
{
	int sv[2], r;
	ssize_t n;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	fd_set_nonblock(sv[0], 1);
	if (answer != NULL)
		assert_int_equal(write(sv[1], answer, len), (ssize_t)len);
	if (answer != NULL && len > 0 && answer[len - 1] == '$')
		shutdown(sv[1], SHUT_WR);	/* '$': then hang up */
	r = upgrade_perform(sv[0], "/v1/sprites/dev/exec?cmd=ls&stdin=true",
	    "dGhlIHNhbXBsZSBub25jZQ==", timeout_ms, prefix, cause);
	n = read(sv[1], request, request_size - 1);
	request[n > 0 ? n : 0] = '\0';
	close(sv[0]);
	close(sv[1]);
	return r;
}

static void
test_upgrade_perform(void **state)
{
	static const char ok[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
	    "\x82\x02\x01x";
	static const char bad_key[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n";
	static const char not_found[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 51\r\n\r\n"
	    "{\"error\":\"not_found\",\"message\":\"no sprite \\\"dev\\\"\"}";
	static const char chunked[] = "HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "19\r\n{\"error\":\"bad_request\",\"m\r\n"
	    "1a\r\nessage\":\"cmd is required\"}\r\n0\r\n\r\n";
	static const char hangup[] = "HTTP/1.1 101 Switch$";
	char request[4096], *cause = NULL;
	struct buf prefix;

	buf_init(&prefix);
	assert_int_equal(perform(ok, sizeof ok - 1, 1000, &prefix, &cause, request,
	    sizeof request), 0);
	assert_null(cause);
	assert_int_equal(buf_used(&prefix), 4);
	assert_memory_equal(buf_head(&prefix), "\x82\x02\x01x", 4);
	assert_non_null(strstr(request, "GET /v1/sprites/dev/exec?cmd=ls&stdin=true HTTP/1.1\r\n"));
	assert_non_null(strstr(request, "\r\nUpgrade: websocket\r\n"));
	assert_non_null(strstr(request, "\r\nConnection: Upgrade\r\n"));
	assert_non_null(strstr(request, "\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"));
	assert_non_null(strstr(request, "\r\nSec-WebSocket-Version: 13\r\n"));
	assert_string_equal(request + strlen(request) - 4, "\r\n\r\n");

	buf_reset(&prefix);
	assert_int_equal(perform(bad_key, sizeof bad_key - 1, 1000, &prefix, &cause, request,
	    sizeof request), -EPROTO);
	assert_string_equal(cause, "the daemon's WebSocket handshake is invalid");
	free(cause);
	cause = NULL;

	assert_int_equal(perform(not_found, sizeof not_found - 1, 1000, &prefix, &cause, request,
	    sizeof request), -EPROTO);
	assert_string_equal(cause, "no sprite \"dev\"");
	free(cause);
	cause = NULL;

	assert_int_equal(perform(chunked, sizeof chunked - 1, 1000, &prefix, &cause, request,
	    sizeof request), -EPROTO);
	assert_string_equal(cause, "cmd is required");
	free(cause);
	cause = NULL;

	assert_int_equal(perform(hangup, sizeof hangup - 1, 1000, &prefix, &cause, request,
	    sizeof request), -ECONNRESET);
	assert_non_null(strstr(cause, "closed the connection"));
	free(cause);
	cause = NULL;

	assert_int_equal(perform(NULL, 0, 100, &prefix, &cause, request, sizeof request),
	    -ETIMEDOUT);
	assert_non_null(cause);
	free(cause);
	assert_int_equal(buf_used(&prefix), 0);
	buf_done(&prefix);
}

static void
test_exec_text(void **state)
{
	static const char exit_json[] = "{\"type\":\"exit\",\"exit_code\":3}";
	static const char err_json[] = "{\"type\":\"error\",\"error\":\"not_found\","
	    "\"message\":\"exec \\\"nosuch\\\": No such file or directory\"}";
	struct exec_text t;

	exec_parse_text(exit_json, sizeof exit_json - 1, &t);
	assert_int_equal(t.exit_code, 3);
	assert_null(t.error);
	exec_parse_text(err_json, sizeof err_json - 1, &t);
	assert_int_equal(t.exit_code, -1);
	assert_string_equal(t.error, "exec \"nosuch\": No such file or directory");
	free(t.error);
	exec_parse_text("{\"type\":\"port\",\"port\":80}", 25, &t);
	assert_int_equal(t.exit_code, -1);
	assert_null(t.error);
	exec_parse_text("not json", 8, &t);
	assert_int_equal(t.exit_code, -1);
	assert_null(t.error);
}

static void
test_timeline_result(void **state)
{
	static const char ok[] = "{\"type\":\"info\",\"data\":\"creating checkpoint\"}\n"
	    "\n"
	    "not json\n"
	    "{\"type\":\"complete\",\"data\":\"checkpoint v3 created\",\"id\":\"v3\"}\n";
	static const char no_newline[] = "{\"type\":\"complete\",\"data\":\"restored to v1\"}";
	static const char failed[] = "{\"type\":\"info\",\"data\":\"restoring to v1\"}\n"
	    "{\"type\":\"error\",\"error\":\"qemu-img failed\"}\n";
	static const char cut[] = "{\"type\":\"info\",\"data\":\"restoring to v1\"}\n{\"type\":\"comp";
	char *data = NULL, *id = NULL, *cause = NULL;

	assert_int_equal(timeline_result(ok, sizeof ok - 1, &data, &id, &cause), 0);
	assert_string_equal(data, "checkpoint v3 created");
	assert_string_equal(id, "v3");
	free(data);
	free(id);

	data = id = NULL;
	assert_int_equal(timeline_result(no_newline, sizeof no_newline - 1, &data, &id, &cause), 0);
	assert_string_equal(data, "restored to v1");
	assert_null(id);
	free(data);

	assert_int_equal(timeline_result(failed, sizeof failed - 1, &data, &id, &cause), -EIO);
	assert_string_equal(cause, "qemu-img failed");
	free(cause);

	cause = NULL;
	assert_int_equal(timeline_result(cut, sizeof cut - 1, &data, &id, &cause), -EBADMSG);
	assert_non_null(strstr(cause, "ended before the operation did (last: restoring to v1)"));
	free(cause);

	cause = NULL;
	assert_int_equal(timeline_result("", 0, &data, &id, &cause), -EBADMSG);
	assert_non_null(cause);
	free(cause);
}

/* A checkpoint as the API lists it, made 60 s before the render's "now". */
static cJSON *
cp(cJSON *arr, const char *id, const char *source, const char *comment, int is_auto,
    int current)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddStringToObject(j, "id", id);
	cJSON_AddStringToObject(j, "create_time", "2026-11-23T06:00:00Z");
	if (comment != NULL)
		cJSON_AddStringToObject(j, "comment", comment);
	else
		cJSON_AddNullToObject(j, "comment");
	cJSON_AddBoolToObject(j, "is_auto", is_auto);
	if (source != NULL)
		cJSON_AddStringToObject(j, "source_id", source);
	else
		cJSON_AddNullToObject(j, "source_id");
	cJSON_AddBoolToObject(j, "current", current);
	cJSON_AddBoolToObject(j, "memory", 0);
	cJSON_AddItemToArray(arr, j);
	return j;
}

static void
test_timeline_memory(void **state)
{
	const int64_t now = 1795413600 + 60;
	cJSON *arr = cJSON_CreateArray();
	char *text;

	cp(arr, "v0", NULL, "disk only", 0, 0);
	cJSON_ReplaceItemInObject(cp(arr, "v1", "v0", "counting", 0, 1), "memory",
	    cJSON_CreateTrue());
	cJSON_ReplaceItemInObject(cp(arr, "v2", "v1", NULL, 1, 0), "memory",
	    cJSON_CreateTrue());
	text = timeline_render(arr, now);
	assert_string_equal(text,
	    "ID    CREATED  COMMENT\n"
	    "v0    1m ago   disk only\n"
	    "v1 *  1m ago   (memory) counting\n"
	    "v2    1m ago   (auto) (memory)\n");
	free(text);
	cJSON_Delete(arr);
}

static void
test_version_and_ref(void **state)
{
	static const char *yes[] = { "v0", "v3", "v123" };
	static const char *no[] = { "", "v", "3", "V3", "v3a", "va", "rm", "undo", "v-1" };
	char *name = NULL, *version = NULL;

	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		assert_true(timeline_is_version(yes[i]));
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		assert_false(timeline_is_version(no[i]));
	assert_false(timeline_is_version(NULL));

	assert_int_equal(timeline_split_ref("dev", &name, &version), 0);
	assert_string_equal(name, "dev");
	assert_null(version);
	free(name);
	assert_int_equal(timeline_split_ref("dev@v3", &name, &version), 0);
	assert_string_equal(name, "dev");
	assert_string_equal(version, "v3");
	free(name);
	free(version);
	name = version = NULL;
	assert_int_equal(timeline_split_ref("@v3", &name, &version), -EINVAL);
	assert_int_equal(timeline_split_ref("dev@", &name, &version), -EINVAL);
	assert_int_equal(timeline_split_ref("", &name, &version), -EINVAL);
	assert_null(name);
	assert_null(version);
}

static cJSON *
tpl(cJSON *arr, const char *name, const char *origin, const char *created)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddStringToObject(j, "name", name);
	if (origin != NULL)
		cJSON_AddStringToObject(j, "origin", origin);
	else
		cJSON_AddNullToObject(j, "origin");
	cJSON_AddStringToObject(j, "created_at", created);
	cJSON_AddItemToArray(arr, j);
	return j;
}

static void
test_events_render(void **state)
{
	cJSON *ev;
	char *text;

	setenv("TZ", "UTC", 1);
	tzset();
	ev = cJSON_Parse("{\"id\":7,\"time\":\"2026-11-23T08:32:23Z\",\"sprite\":\"dev\","
	    "\"kind\":\"checkpoint\",\"message\":\"v0: first\"}");
	text = events_render(ev);
	assert_string_equal(text, "2026-11-23 08:32:23  dev          checkpoint  v0: first\n");
	free(text);
	cJSON_Delete(ev);

	/* A daemon-wide event has no sprite; a bad time shows as "-". */
	ev = cJSON_Parse("{\"id\":8,\"time\":\"soon\",\"sprite\":null,"
	    "\"kind\":\"config\",\"message\":\"limits\"}");
	text = events_render(ev);
	assert_string_equal(text, "-  -            config      limits\n");
	free(text);
	cJSON_Delete(ev);

	/* Transient notices are for programs, not people. */
	ev = cJSON_Parse("{\"id\":0,\"time\":\"2026-11-23T08:32:23Z\",\"sprite\":\"dev\","
	    "\"kind\":\"op\",\"message\":\"waking up\"}");
	assert_null(events_render(ev));
	cJSON_Delete(ev);
}

static void
test_template_render(void **state)
{
	const int64_t now = 1795413600 + 7200;
	cJSON *arr = cJSON_CreateArray();
	char *text;

	tpl(arr, "node-base", "dev@v3", "2026-11-23T06:00:00Z");
	tpl(arr, "py", NULL, "2026-11-23T07:59:30Z");
	tpl(arr, "x", "a-much-longer-sprite-name@v12", "garbage");
	text = template_render(arr, now);
	assert_string_equal(text,
	    "NAME       ORIGIN                         CREATED\n"
	    "node-base  dev@v3                         2h ago\n"
	    "py         -                              30s ago\n"
	    "x          a-much-longer-sprite-name@v12  -\n");
	free(text);
	cJSON_Delete(arr);

	arr = cJSON_CreateArray();
	text = template_render(arr, now);
	assert_string_equal(text, "NAME  ORIGIN  CREATED\n");
	free(text);
	cJSON_Delete(arr);
}

static void
test_timeline_render(void **state)
{
	const int64_t now = 1795413600 + 60;
	cJSON *arr = cJSON_CreateArray();
	char *text;

	/* v1 was restored and went on as v3; v2 is the abandoned branch, and
	 * v4 grew on it (say, after an undo), with v5 a branch of its own. */
	cp(arr, "v0", NULL, "fresh install", 0, 0);
	cp(arr, "v1", "v0", "deps installed", 0, 0);
	cp(arr, "v2", "v1", "tried yarn", 0, 0);
	cp(arr, "v3", "v1", NULL, 1, 1);
	cp(arr, "v4", "v2", "more yarn", 0, 0);
	cp(arr, "v5", "v2", "yarn 2", 0, 0);
	cp(arr, "v6", "v4", NULL, 0, 0);
	text = timeline_render(arr, now);
	assert_string_equal(text,
	    "ID          CREATED  COMMENT\n"
	    "v0          1m ago   fresh install\n"
	    "v1          1m ago   deps installed\n"
	    "  +- v2     1m ago   tried yarn\n"
	    "     +- v4  1m ago   more yarn\n"
	    "        v6  1m ago\n"
	    "     v5     1m ago   yarn 2\n"
	    "v3 *        1m ago   (auto)\n");
	free(text);
	cJSON_Delete(arr);

	/* A parent outside the list (a fork's source) makes a root; so does a
	 * loop of parents, which must not hang or lose a line. */
	arr = cJSON_CreateArray();
	cp(arr, "v0", "v9", "from base", 0, 1);
	cp(arr, "v1", "v2", NULL, 0, 0);
	cp(arr, "v2", "v1", NULL, 0, 0);
	text = timeline_render(arr, now);
	assert_string_equal(text,
	    "ID    CREATED  COMMENT\n"
	    "v0 *  1m ago   from base\n"
	    "v1    1m ago\n"
	    "v2    1m ago\n");
	free(text);
	cJSON_Delete(arr);

	arr = cJSON_CreateArray();
	text = timeline_render(arr, now);
	assert_string_equal(text, "ID  CREATED  COMMENT\n");
	free(text);
	cJSON_Delete(arr);
}

/* A temporary SPRIG_HOME with a listening api.sock. */
struct fake {
	char	 home[64];
	int	 lfd;
};

static int
setup_fake(void **state)
{
	struct fake *f = xcalloc(1, sizeof *f);
	char *sock;

	snprintf(f->home, sizeof f->home, "/tmp/sprig-test-cli-XXXXXX");
	assert_non_null(mkdtemp(f->home));
	setenv("SPRIG_HOME", f->home, 1);
	setenv("SPRIG_NO_AUTOSTART", "1", 1);
	sock = xasprintf("%s/api.sock", f->home);
	f->lfd = unix_listen(sock, 0600);
	assert_true(f->lfd >= 0);
	fd_set_nonblock(f->lfd, 0);
	free(sock);
	*state = f;
	return 0;
}

static int
teardown_fake(void **state)
{
	struct fake *f = *state;

	close(f->lfd);
	rm_rf(f->home);
	unsetenv("SPRIG_HOME");
	unsetenv("SPRIG_NO_AUTOSTART");
	free(f);
	return 0;
}

/* Reads an HTTP request head (and a Content-Length body) from @fd. */
static char *
read_request(int fd)
{
	struct buf b;
	char *out, *cl, *end;
	size_t want = 0;
	ssize_t n;

	buf_init(&b);
	for (;;) {
		const char *s = buf_cstr(&b);

		end = strstr(s, "\r\n\r\n");
		if (end != NULL) {
			cl = strcasestr(s, "Content-Length:");
			want = (size_t)(end - s) + 4 + (cl != NULL ? strtoul(cl + 15, NULL, 10) : 0);
			if (buf_used(&b) >= want)
				break;
		}
		n = read(fd, buf_reserve(&b, 4096), 4096);
		if (n <= 0)
			break;
		buf_commit(&b, (size_t)n);
	}
	out = xstrdup(buf_cstr(&b));
	buf_done(&b);
	return out;
}

/* Forks a server that answers one request with @answer and writes the
 * request it got to @req_pipe. */
static pid_t
serve_once(struct fake *f, const char *answer, int req_pipe)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int c = accept(f->lfd, NULL, NULL);
		char *req = read_request(c);

		if (write(req_pipe, req, strlen(req)) < 0)
			_exit(1);
		if (write(c, answer, strlen(answer)) < 0)
			_exit(1);
		free(req);
		close(c);
		_exit(0);
	}
	return pid;
}

static void
test_request(void **state)
{
	struct fake *f = *state;
	struct client c;
	char *cause = NULL, req[4096];
	cJSON *body, *j = NULL;
	int p[2], st;
	ssize_t n;
	pid_t pid;

	assert_int_equal(client_init(&c, &cause), 0);
	assert_int_equal(pipe(p), 0);

	pid = serve_once(f, "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
	    "Content-Length: 33\r\n\r\n{\"name\":\"dev\",\"status\":\"running\"}", p[1]);
	body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "name", "dev");
	assert_int_equal(client_request(&c, "POST", "/v1/sprites", body, 10, &j, &cause), 0);
	cJSON_Delete(body);
	assert_string_equal(cJSON_GetObjectItem(j, "status")->valuestring, "running");
	cJSON_Delete(j);
	j = NULL;
	waitpid(pid, &st, 0);
	n = read(p[0], req, sizeof req - 1);
	req[n > 0 ? n : 0] = '\0';
	assert_non_null(strstr(req, "POST /v1/sprites HTTP/1.1\r\n"));
	assert_non_null(strstr(req, "Content-Type: application/json\r\n"));
	assert_non_null(strstr(req, "\r\n\r\n{\"name\":\"dev\"}"));

	pid = serve_once(f, "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
	    "Content-Length: 49\r\n\r\n{\"error\":\"not_found\",\"message\":\"no sprite \\\"x\\\"\"}",
	    p[1]);
	assert_int_equal(client_request(&c, "DELETE", "/v1/sprites/x", NULL, 10, &j, &cause),
	    -EPROTO);
	assert_string_equal(cause, "no sprite \"x\"");
	assert_null(j);
	free(cause);
	cause = NULL;
	waitpid(pid, &st, 0);
	n = read(p[0], req, sizeof req - 1);
	req[n > 0 ? n : 0] = '\0';
	assert_non_null(strstr(req, "DELETE /v1/sprites/x HTTP/1.1\r\n"));

	pid = serve_once(f, "HTTP/1.1 204 No Content\r\n\r\n", p[1]);
	j = (cJSON *)1;
	assert_int_equal(client_request(&c, "POST", "/v1/sprites/x/stop", NULL, 10, &j, &cause),
	    0);
	assert_null(j);
	waitpid(pid, &st, 0);
	n = read(p[0], req, sizeof req - 1);
	req[n > 0 ? n : 0] = '\0';
	assert_non_null(strstr(req, "Content-Length: 0\r\n"));

	pid = serve_once(f, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", p[1]);
	assert_int_equal(client_request(&c, "GET", "/v1/sprites", NULL, 10, &j, &cause),
	    -EBADMSG);
	assert_non_null(strstr(cause, "not JSON"));
	free(cause);
	cause = NULL;
	waitpid(pid, &st, 0);
	n = read(p[0], req, sizeof req - 1);

	close(p[0]);
	close(p[1]);
	client_done(&c);
}

static void
test_request_no_daemon(void **state)
{
	struct fake *f = *state;
	struct client c;
	char *cause = NULL, *sock;
	cJSON *j = NULL;

	close(f->lfd);		/* a stale socket: connection refused */
	f->lfd = -1;
	assert_int_equal(client_init(&c, &cause), 0);
	assert_int_equal(client_request(&c, "GET", "/v1/sprites", NULL, 10, &j, &cause),
	    -ECONNREFUSED);
	assert_non_null(strstr(cause, "not running"));
	free(cause);
	cause = NULL;
	sock = xasprintf("%s/api.sock", f->home);
	unlink(sock);		/* no socket at all */
	free(sock);
	assert_int_equal(client_request(&c, "GET", "/v1/sprites", NULL, 10, &j, &cause),
	    -ECONNREFUSED);
	assert_non_null(strstr(cause, "not running"));
	free(cause);
	client_done(&c);
}

/* --stop signals only a process that looks like a daemon. */
static void
test_stop_daemon(void **state)
{
	struct fake *f = *state;
	char *pidfile = xasprintf("%s/daemon.pid", f->home), num[32], *cause = NULL;
	struct client c;
	pid_t pid;
	int st;

	assert_int_equal(client_init(&c, &cause), 0);
	assert_int_equal(client_stop_daemon(&c, &cause), 0);	/* no pid file */

	/* Our own pid: not a daemon, must survive. */
	snprintf(num, sizeof num, "%d\n", (int)getpid());
	assert_int_equal(write_file_atomic(pidfile, num, strlen(num), 0644), 0);
	assert_int_equal(client_stop_daemon(&c, &cause), 0);

	pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		execl("/bin/sh", "sh", "-c", "sleep 30; :", "serve", (char *)NULL);
		_exit(127);
	}
	usleep(100 * 1000);
	snprintf(num, sizeof num, "%d\n", (int)pid);
	assert_int_equal(write_file_atomic(pidfile, num, strlen(num), 0644), 0);
	assert_int_equal(client_stop_daemon(&c, &cause), 1);
	assert_int_equal(waitpid(pid, &st, WNOHANG), pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGTERM);
	kill(-pid, SIGKILL);	/* its sleep */
	assert_int_equal(client_stop_daemon(&c, &cause), 0);	/* gone now */
	client_done(&c);
	free(pidfile);
}

/*
 * A whole `sprig exec` against a fake exec server made of common/ws: the
 * first stdout frame rides in the same write as the 101 (the prefix path);
 * stdin is echoed back upper-cased; stdin's end brings stderr and exit 7.
 */
struct exec_fake {
	struct loop	*loop;
	struct ws	*ws;
};

static void
fake_message(struct ws *ws, int binary, const uint8_t *data, size_t len, void *arg)
{
	uint8_t out[256];
	size_t i;

	if (!binary || len == 0)
		return;
	if (data[0] == EXEC_STDIN && len < sizeof out) {
		out[0] = EXEC_STDOUT;
		for (i = 1; i < len; i++)
			out[i] = (uint8_t)(data[i] >= 'a' && data[i] <= 'z' ? data[i] - 32 : data[i]);
		ws_send(ws, 1, out, len);
	} else if (data[0] == EXEC_STDIN_EOF) {
		ws_send(ws, 1, "\x02" "bye\n", 5);
		ws_send(ws, 1, "\x03\x07", 2);
		ws_close(ws, 1000, NULL);
	}
}

static void
fake_closed(struct ws *ws, int code, void *arg)
{
	loop_stop(arg);
}

static void __attribute__((noreturn))
fake_exec_server(int lfd)
{
	static const struct ws_callbacks cb = { .message = fake_message, .closed = fake_closed };
	char *req, *key, *answer, accept_key[29];
	struct loop *l;
	struct ws *ws;
	int c;

	c = accept(lfd, NULL, NULL);
	req = read_request(c);
	if (strstr(req, "GET /v1/sprites/dev/exec?cmd=tr&cmd=a-z&cmd=A-Z&stdin=true ") == NULL)
		_exit(3);
	key = strstr(req, "Sec-WebSocket-Key: ");
	if (key == NULL)
		_exit(4);
	key += 19;
	*strchr(key, '\r') = '\0';
	ws_accept_key(key, accept_key);
	answer = xasprintf("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n"
	    "\x82\x07\x01hello\n", accept_key);
	if (write(c, answer, strlen(answer)) < 0)
		_exit(5);
	free(answer);
	free(req);
	loop_new(&l);
	ws = ws_new(l, c, 0, 1, NULL, 0, &cb, l);
	loop_run(l);
	ws_free(ws);
	loop_free(l);
	_exit(0);
}

static char *
read_all(int fd)
{
	struct buf b;
	char *out;
	ssize_t n;

	buf_init(&b);
	while ((n = read(fd, buf_reserve(&b, 4096), 4096)) > 0)
		buf_commit(&b, (size_t)n);
	out = xstrdup(buf_cstr(&b));
	buf_done(&b);
	return out;
}

static void
test_exec_run(void **state)
{
	struct fake *f = *state;
	int in[2], out[2], err[2], st;
	pid_t server, cli;
	char *o, *e;

	alarm(20);	/* a lost frame would leave the reads below waiting */
	server = fork();
	if (server == 0)
		fake_exec_server(f->lfd);
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	assert_int_equal(pipe(err), 0);
	cli = fork();
	if (cli == 0) {
		char *argv[] = { "tr", "a-z", "A-Z" };
		struct exec_opts opts = { .name = "dev", .argv = argv, .argc = 3 };
		struct client c;
		char *cause = NULL;
		int status;

		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(in[1]);
		close(out[0]);
		close(err[0]);
		if (client_init(&c, &cause) < 0)
			_exit(100);
		status = exec_run(&c, &opts, &cause);
		if (cause != NULL)
			dprintf(2, "sprig: %s\n", cause);
		free(cause);
		client_done(&c);
		_exit(status);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	assert_int_equal(write(in[1], "abc\n", 4), 4);
	close(in[1]);
	o = read_all(out[0]);
	e = read_all(err[0]);
	assert_int_equal(waitpid(cli, &st, 0), cli);
	assert_true(WIFEXITED(st));
	assert_string_equal(o, "hello\nABC\n");
	assert_string_equal(e, "bye\n");
	assert_int_equal(WEXITSTATUS(st), 7);
	assert_int_equal(waitpid(server, &st, 0), server);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	close(out[0]);
	close(err[0]);
	free(o);
	free(e);
	alarm(0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_exec_path),
		cmocka_unit_test(test_age),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_age_since),
		cmocka_unit_test(test_error_message),
		cmocka_unit_test(test_parse_head),
		cmocka_unit_test(test_dechunk),
		cmocka_unit_test(test_body_cap),
		cmocka_unit_test(test_upgrade_perform),
		cmocka_unit_test(test_exec_text),
		cmocka_unit_test(test_timeline_result),
		cmocka_unit_test(test_timeline_render),
		cmocka_unit_test(test_timeline_memory),
		cmocka_unit_test(test_version_and_ref),
		cmocka_unit_test(test_template_render),
		cmocka_unit_test(test_events_render),
		cmocka_unit_test_setup_teardown(test_request, setup_fake, teardown_fake),
		cmocka_unit_test_setup_teardown(test_request_no_daemon, setup_fake, teardown_fake),
		cmocka_unit_test_setup_teardown(test_stop_daemon, setup_fake, teardown_fake),
		cmocka_unit_test_setup_teardown(test_exec_run, setup_fake, teardown_fake),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
