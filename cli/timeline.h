/*
 * timeline: how the CLI reads and shows a sprite's timeline: the NDJSON
 * answers of checkpoint and restore, and the checkpoint tree as text.
 */
#ifndef SPRIG_CLI_TIMELINE_H
#define SPRIG_CLI_TIMELINE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/*
 * Reads the NDJSON answer of a checkpoint or restore ({"type": "info" |
 * "complete" | "error", ...} a line). Returns 0 with the "complete" line's
 * data and id in *ret_data and *ret_id (newly allocated; NULL when absent);
 * -EIO with *cause the "error" line's message; -EBADMSG with *cause when
 * the answer ended without saying how it went.
 */
int timeline_result(const char *body, size_t len, char **ret_data, char **ret_id,
    char **cause);

/*
 * The checkpoints (the API's array, oldest first) as a tree under a header
 * "ID  CREATED  COMMENT": a checkpoint's newest child continues its line,
 * older children hang under it as branches ("  +- v2"); the current one is
 * marked "*", automatic ones "(auto)", those holding the guest's memory
 * "(memory)". Ages are relative to @now (unix
 * seconds). Newly allocated; every line ends in a newline.
 */
char *timeline_render(const cJSON *checkpoints, int64_t now);

/* 1 when @s is a checkpoint id as people write it: "v" and digits. */
int timeline_is_version(const char *s);

/*
 * Splits "NAME" or "NAME@VERSION" into *ret_name and *ret_version (newly
 * allocated; *ret_version NULL without "@"). Returns -EINVAL, setting
 * nothing, when either side of the "@" is empty.
 */
int timeline_split_ref(const char *ref, char **ret_name, char **ret_version);

#endif
