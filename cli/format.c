/*
 * format: times for people.
 */
#include "format.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int
format_parse_time(const char *s, int64_t *ret)
{
	struct tm tm = { 0 };
	int y, mo, d, h, mi, sec, oh, om, n = 0;
	int64_t t, off = 0;
	const char *p;

	if (s == NULL || sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec,
	    &n) != 6 || n != 19)
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	p = s + n;
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++)
			;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d%n", &oh, &om, &n) == 2 &&
	    n == 5) {
		off = (oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p != '\0')
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = (int64_t)timegm(&tm);
	*ret = t - off;
	return 0;
}

void
format_age(int64_t seconds, char *out, size_t n)
{
	if (seconds < 0)
		seconds = 0;
	if (seconds < 60)
		snprintf(out, n, "%llds ago", (long long)seconds);
	else if (seconds < 3600)
		snprintf(out, n, "%lldm ago", (long long)(seconds / 60));
	else if (seconds < 86400)
		snprintf(out, n, "%lldh ago", (long long)(seconds / 3600));
	else
		snprintf(out, n, "%lldd ago", (long long)(seconds / 86400));
}

void
format_age_since(const char *rfc3339, int64_t now, char *out, size_t n)
{
	int64_t t;

	if (format_parse_time(rfc3339, &t) < 0) {
		snprintf(out, n, "-");
		return;
	}
	format_age(now - t, out, n);
}
