/*
 * trace: timestamped lines for finding where time goes (trace.h).
 */
#include "trace.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int trace_fd = -1;

void
trace_set_fd(int fd)
{
	trace_fd = fd;
}

void
trace(const char *fmt, ...)
{
	char line[512];
	struct timeval tv;
	struct tm tm;
	va_list ap;
	int n, m, room;

	if (trace_fd < 0)
		return;
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	n = snprintf(line, sizeof line, "trace %02d:%02d:%02d.%06ld ", tm.tm_hour, tm.tm_min,
	    tm.tm_sec, (long)tv.tv_usec);
	/* What does not fit is cut, leaving room for the newline. */
	room = (int)sizeof line - n - 1;
	va_start(ap, fmt);
	m = vsnprintf(line + n, (size_t)room, fmt, ap);
	va_end(ap);
	n += m < 0 ? 0 : m < room ? m : room - 1;
	line[n++] = '\n';
	if (write(trace_fd, line, (size_t)n) < 0) {
		/* Nowhere else to say it. */
	}
}
