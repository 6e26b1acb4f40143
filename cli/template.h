/*
 * template: how the CLI shows templates, the named starting points new
 * sprites are created from.
 */
#ifndef SPRIG_CLI_TEMPLATE_H
#define SPRIG_CLI_TEMPLATE_H

#include <stdint.h>

#include <cjson/cJSON.h>

/* The API's templates array as a table under "NAME  ORIGIN  CREATED", ages
 * relative to @now (unix seconds). Newly allocated; lines end in "\n". */
char *template_render(const cJSON *templates, int64_t now);

#endif
