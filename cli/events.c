/*
 * events: renders the daemon's events for `sprig events` (see events.h).
 */
#include "events.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/format.h"
#include "common/xmalloc.h"

static const char *
events_str(const cJSON *ev, const char *key, const char *dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev, key);

	return cJSON_IsString(v) ? v->valuestring : dflt;
}

char *
events_render(const cJSON *ev)
{
	const char *kind = events_str(ev, "kind", "?");
	char when[32] = "-";
	struct tm tm;
	int64_t t;
	time_t tt;

	if (strcmp(kind, "op") == 0)
		return NULL;
	if (format_parse_time(events_str(ev, "time", NULL), &t) == 0) {
		tt = (time_t)t;
		if (localtime_r(&tt, &tm) != NULL)
			strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
	}
	return xasprintf("%s  %-12s %-11s %s\n", when, events_str(ev, "sprite", "-"), kind,
	    events_str(ev, "message", ""));
}
