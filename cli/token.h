/*
 * token: how the CLI shows the API's bearer tokens (sprig token list).
 */
#ifndef SPRIG_CLI_TOKEN_H
#define SPRIG_CLI_TOKEN_H

#include <stdint.h>

#include <cjson/cJSON.h>

/* The API's tokens array as a table under "NAME  CREATED", ages relative
 * to @now (unix seconds). Newly allocated; lines end in "\n". */
char *token_render(const cJSON *tokens, int64_t now);

#endif
