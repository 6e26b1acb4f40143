/*
 * auth: bearer tokens for the TCP listener, and the routes that manage
 * them (unix socket only):
 *
 *	GET    /v1/tokens		[{"name", "created_at"}]
 *	POST   /v1/tokens		{"name"?} -> 201 {"name", "token", "created_at"}
 *	DELETE /v1/tokens/NAME		204
 *
 * Tokens are rows in the daemon's database, read through core's store
 * (one indexed SELECT per TCP request).
 */
#include "auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_internal.h"
#include "common/util.h"
#include "common/xmalloc.h"

struct auth {
	struct store	*store;
};

struct auth *
auth_new(struct store *s)
{
	struct auth *au = xcalloc(1, sizeof *au);

	au->store = s;
	return au;
}

void
auth_free(struct auth *au)
{
	free(au);
}

void
auth_hash(const char *token, char out[65])
{
	if (sha256_hex(token, strlen(token), out) < 0)
		abort();	/* OpenSSL without SHA-256: nothing works anyway */
}

int
auth_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > AUTH_NAME_MAX)
		return 0;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") == n;
}

int
auth_check(struct auth *au, const char *header, char **cause)
{
	char hash[65], *name = NULL;
	const char *token;
	int r;

	if (header == NULL || strncasecmp(header, "Bearer ", 7) != 0) {
		*cause = xstrdup("this listener needs an \"Authorization: Bearer <token>\" "
		    "header; make a token with 'sprig token create'");
		return -EACCES;
	}
	token = header + 7;
	token += strspn(token, " ");
	if (strlen(token) != AUTH_TOKEN_LEN ||
	    strncmp(token, AUTH_TOKEN_PREFIX, sizeof AUTH_TOKEN_PREFIX - 1) != 0) {
		*cause = xstrdup("the bearer token is not a sprig token (they look like "
		    AUTH_TOKEN_PREFIX "<64 hex digits>)");
		return -EACCES;
	}
	auth_hash(token, hash);
	r = store_token_find(au->store, hash, &name);
	free(name);
	if (r == -ENOENT) {
		*cause = xstrdup("the bearer token is not valid here: it was revoked, or made "
		    "for another sprig (see 'sprig token list')");
		return -EACCES;
	}
	if (r < 0) {
		*cause = xasprintf("cannot check the token: %s", store_errmsg(au->store));
		return -EACCES;
	}
	return 0;
}

int
auth_token_create(struct auth *au, const char *name, char **ret_token, char **ret_name,
    int64_t *ret_created, char **cause)
{
	char secret[65], hash[65], suffix[7], *token, *made = NULL;
	int64_t created = 0;
	int r;

	if (name != NULL && !auth_name_valid(name)) {
		*cause = xasprintf("a token name is 1 to %d of a-z A-Z 0-9 . _ -", AUTH_NAME_MAX);
		return -EINVAL;
	}
	if (name == NULL) {
		random_hex(suffix, sizeof suffix);
		name = made = xasprintf("token-%s", suffix);
	}
	random_hex(secret, sizeof secret);
	token = xasprintf("%s%s", AUTH_TOKEN_PREFIX, secret);
	auth_hash(token, hash);
	r = store_token_add(au->store, name, hash, &created);
	if (r < 0) {
		*cause = r == -EEXIST ? xasprintf("a token named \"%s\" already exists", name) :
		    xasprintf("cannot store the token: %s", store_errmsg(au->store));
		free(token);
		free(made);
		return r;
	}
	*ret_token = token;
	*ret_name = made != NULL ? made : xstrdup(name);
	*ret_created = created;
	return 0;
}

int
auth_token_list(struct auth *au, struct token_row **ret, size_t *ret_n, char **cause)
{
	int r = store_token_list(au->store, ret, ret_n);

	if (r < 0)
		*cause = xasprintf("cannot list tokens: %s", store_errmsg(au->store));
	return r;
}

int
auth_token_revoke(struct auth *au, const char *name, char **cause)
{
	int r = store_token_delete(au->store, name);

	if (r == -ENOENT)
		*cause = xasprintf("no token named \"%s\"", name);
	else if (r < 0)
		*cause = xasprintf("cannot revoke the token: %s", store_errmsg(au->store));
	return r;
}

/* The routes. */

static cJSON *
auth_token_json(const char *name, int64_t created)
{
	cJSON *j = cJSON_CreateObject();
	char when[32];

	cJSON_AddStringToObject(j, "name", name);
	format_rfc3339(created, when, sizeof when);
	cJSON_AddStringToObject(j, "created_at", when);
	return j;
}

static enum MHD_Result
auth_fail(struct MHD_Connection *conn, int r, char *cause)
{
	enum MHD_Result ret = api_error_errno(conn, r, cause);

	free(cause);
	return ret;
}

enum MHD_Result
auth_api_list(struct api *a, struct MHD_Connection *conn)
{
	struct token_row *rows = NULL;
	char *cause = NULL;
	size_t n = 0;
	cJSON *arr;
	int r;

	r = auth_token_list(a->auth, &rows, &n, &cause);
	if (r < 0)
		return auth_fail(conn, r, cause);
	arr = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, auth_token_json(rows[i].name, rows[i].created_at));
	token_rows_free(rows, n);
	return api_json(conn, MHD_HTTP_OK, arr);
}

enum MHD_Result
auth_api_create(struct api *a, struct MHD_Connection *conn, const char *body, size_t len)
{
	char *cause = NULL, *token = NULL, *name = NULL;
	const cJSON *n = NULL;
	int64_t created = 0;
	cJSON *j = NULL;
	int r;

	if (len > 0) {
		j = cJSON_ParseWithLength(body, len);
		n = cJSON_GetObjectItemCaseSensitive(j, "name");
		if (!cJSON_IsObject(j) || (n != NULL && !cJSON_IsString(n) && !cJSON_IsNull(n))) {
			cJSON_Delete(j);
			return api_error(conn, MHD_HTTP_BAD_REQUEST, "invalid_request",
			    "the request body must be empty or a JSON object like {\"name\": \"ci\"}");
		}
	}
	r = auth_token_create(a->auth, cJSON_IsString(n) ? n->valuestring : NULL, &token, &name,
	    &created, &cause);
	cJSON_Delete(j);
	if (r < 0)
		return auth_fail(conn, r, cause);
	j = auth_token_json(name, created);
	cJSON_AddStringToObject(j, "token", token);
	free(token);
	free(name);
	return api_json(conn, MHD_HTTP_CREATED, j);
}

enum MHD_Result
auth_api_revoke(struct api *a, struct MHD_Connection *conn, const char *name)
{
	char *cause = NULL;
	int r;

	r = auth_token_revoke(a->auth, name, &cause);
	if (r < 0)
		return auth_fail(conn, r, cause);
	return api_no_content(conn);
}
