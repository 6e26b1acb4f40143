/*
 * format: how the CLI shows times to a person ("5s ago") and reads the
 * API's RFC 3339 timestamps.
 */
#ifndef SPRIG_CLI_FORMAT_H
#define SPRIG_CLI_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* Parses "2026-11-23T06:00:00Z" (fractions and +hh:mm offsets allowed) into
 * unix seconds. Returns 0 or -EINVAL. */
int format_parse_time(const char *s, int64_t *ret);

/* Writes how long @seconds is, as "5s ago", "3m ago", "2h ago", "4d ago";
 * a negative span (clock skew) reads "0s ago". */
void format_age(int64_t seconds, char *out, size_t n);

/* format_age of the time between @rfc3339 and @now (unix seconds); "-" when
 * the time is missing or unreadable. */
void format_age_since(const char *rfc3339, int64_t now, char *out, size_t n);

#endif
