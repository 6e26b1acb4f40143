/*
 * failpoint: dying on request, for crash-safety tests. Each point is also
 * a trace point (trace.h).
 */
#include "failpoint.h"
#include "trace.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

void
failpoint(const char *name)
{
	static const char *want;
	static int looked;

	if (!looked) {
		want = getenv("SPRIG_FAILPOINT");
		looked = 1;
	}
	trace("%s", name);
	if (want != NULL && strcmp(want, name) == 0)
		raise(SIGKILL);
}
