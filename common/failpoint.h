/*
 * failpoint: named points in multi-step operations where a test can make
 * the process die as if killed with SIGKILL (SPRIG_FAILPOINT=name). Crash
 * safety is tested by dying at each of them and checking what start-up
 * makes of it. Costs one string compare when the variable is set, nothing
 * otherwise.
 */
#ifndef SPRIG_FAILPOINT_H
#define SPRIG_FAILPOINT_H

void failpoint(const char *name);

#endif
