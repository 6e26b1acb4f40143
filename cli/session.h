/*
 * session: how the CLI shows a sprite's detachable exec sessions (`sprig
 * sessions`) and reads the NDJSON answer of `sprig sessions kill`.
 */
#ifndef SPRIG_CLI_SESSION_H
#define SPRIG_CLI_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/*
 * The API's {"sessions": [...]} as a table "ID  STATE  TTY  CREATED  COMMAND",
 * STATE one of running, attached, "exited N" or "ended" (with its reason);
 * ages relative to @now (unix seconds). Newly allocated; "" with no sessions.
 */
char *session_table(const cJSON *list, int64_t now);

/* The "tty" of session @id in @list: 1, 0, or -ENOENT when it is not there. */
int session_tty(const cJSON *list, const char *id);

/*
 * Reads a kill's NDJSON answer: returns 0 with the exit code in *ret_code
 * (-1 when the process went without one), or -EBADMSG with *cause when it
 * does not say how the process ended.
 */
int session_kill_result(const char *body, size_t len, int *ret_code, char **cause);

#endif
