/*
 * auth: the API's bearer tokens. Every request on the TCP listener must
 * carry "Authorization: Bearer <token>"; the unix socket is its user's own
 * (mode 0600) and needs none. Tokens are made and revoked over the unix
 * socket only; the database keeps each token's SHA-256, never the token.
 */
#ifndef SPRIG_AUTH_H
#define SPRIG_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "db/store.h"

struct auth;

/* A token is "sprig_" and 64 hex digits (256 random bits). */
#define AUTH_TOKEN_PREFIX	"sprig_"
#define AUTH_TOKEN_LEN		(sizeof AUTH_TOKEN_PREFIX - 1 + 64)
#define AUTH_NAME_MAX		63

/* Checks and manages tokens in @s (core's store, borrowed: it must
 * outlive the auth). */
struct auth *auth_new(struct store *s);
void auth_free(struct auth *au);

/* 0 if @header (an Authorization header's value, may be NULL) is "Bearer"
 * and a live token; otherwise -EACCES with *@cause saying which. */
int auth_check(struct auth *au, const char *header, char **cause);

/* Makes a token named @name (NULL: a generated name). On success the
 * token (shown once: only its hash is kept), its name and creation time
 * go out; the caller frees the strings. -EINVAL for a bad name, -EEXIST
 * for a taken one, with *@cause. */
int auth_token_create(struct auth *au, const char *name, char **ret_token, char **ret_name,
    int64_t *ret_created, char **cause);
/* Sorted by name; freed with token_rows_free. */
int auth_token_list(struct auth *au, struct token_row **ret, size_t *ret_n, char **cause);
/* -ENOENT with *@cause when there is no token @name. */
int auth_token_revoke(struct auth *au, const char *name, char **cause);

/* The lowercase hex SHA-256 of @token. */
void auth_hash(const char *token, char out[65]);
/* 1 if @name may name a token: 1 to AUTH_NAME_MAX of a-z A-Z 0-9 . _ - */
int auth_name_valid(const char *name);

#endif
