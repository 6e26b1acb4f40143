/*
 * response: http-parser's callbacks gather a response. A header's name and
 * value may come in pieces (a read can end anywhere), so both are gathered
 * until the next name or the end of the head. Parsing pauses at the end of
 * the message (or of the head), so bytes past it are left to the caller.
 */
#include "response.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Whether the comma-separated header value @v (of length @n) lists @token. */
static int
response_has_token(const char *v, size_t n, const char *token)
{
	size_t tl = strlen(token), i = 0;

	while (i < n) {
		size_t s, e;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && strncasecmp(v + s, token, tl) == 0)
			return 1;
	}
	return 0;
}

/* The header gathered in field and value is complete. */
static void
response_header(struct response *r)
{
	const char *name = buf_cstr(&r->field), *val = buf_cstr(&r->value);
	size_t len = buf_used(&r->value);

	/* The parser keeps a value's trailing blanks: they are not part of it. */
	while (len > 0 && (val[len - 1] == ' ' || val[len - 1] == '\t'))
		len--;

	if (strcasecmp(name, "Upgrade") == 0)
		r->upgrade_websocket = response_has_token(val, len, "websocket");
	else if (strcasecmp(name, "Sec-WebSocket-Accept") == 0 && len < sizeof r->accept)
		snprintf(r->accept, sizeof r->accept, "%.*s", (int)len, val);
	buf_reset(&r->field);
	buf_reset(&r->value);
	r->in_value = 0;
}

static int
response_on_field(http_parser *p, const char *at, size_t len)
{
	struct response *r = p->data;

	if (r->in_value)
		response_header(r);
	buf_add(&r->field, at, len);
	return 0;
}

static int
response_on_value(http_parser *p, const char *at, size_t len)
{
	struct response *r = p->data;

	r->in_value = 1;
	buf_add(&r->value, at, len);
	return 0;
}

static int
response_on_headers_complete(http_parser *p)
{
	struct response *r = p->data;

	if (r->in_value)
		response_header(r);
	r->status = (int)p->status_code;
	r->connection_upgrade = (p->flags & F_CONNECTION_UPGRADE) != 0;
	r->chunked = (p->flags & F_CHUNKED) != 0;
	r->content_length = (p->flags & F_CONTENTLENGTH) ? (long)p->content_length : -1;
	r->head_done = 1;
	return r->head_only ? 1 : 0;	/* 1: no body to parse here */
}

static int
response_on_body(http_parser *p, const char *at, size_t len)
{
	struct response *r = p->data;

	if (buf_used(&r->body) + len > RESPONSE_BODY_MAX) {
		r->too_large = 1;
		return 1;
	}
	buf_add(&r->body, at, len);
	return 0;
}

static int
response_on_message_complete(http_parser *p)
{
	struct response *r = p->data;

	if (!r->head_only)
		r->complete = 1;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings response_settings = {
	.on_header_field = response_on_field,
	.on_header_value = response_on_value,
	.on_headers_complete = response_on_headers_complete,
	.on_body = response_on_body,
	.on_message_complete = response_on_message_complete,
};

void
response_init(struct response *r, int head_only)
{
	memset(r, 0, sizeof *r);
	http_parser_init(&r->parser, HTTP_RESPONSE);
	r->parser.data = r;
	r->head_only = head_only;
	r->content_length = -1;
	buf_init(&r->body);
	buf_init(&r->field);
	buf_init(&r->value);
}

void
response_done(struct response *r)
{
	buf_done(&r->body);
	buf_done(&r->field);
	buf_done(&r->value);
}

long
response_feed(struct response *r, const char *data, size_t len)
{
	size_t n;

	if (r->complete || (r->head_only && r->head_done))
		return 0;
	n = http_parser_execute(&r->parser, &response_settings, data, len);
	if (r->too_large)
		return -EFBIG;
	if (HTTP_PARSER_ERRNO(&r->parser) != HPE_OK &&
	    HTTP_PARSER_ERRNO(&r->parser) != HPE_PAUSED)
		return -EBADMSG;
	if (r->head_only)
		r->head_len += n;	/* the head is all it takes */
	return (long)n;
}
