/*
 * qcow2_new BACKING FORMAT N DIR: the disk part of a fork, as the daemon
 * does it (vmm/qcow2.c, core_layer_make): N times, a new empty layer over
 * BACKING made in a forked child, waited for, and its directory synced.
 * Prints the median ms. For make bench.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "common/xmalloc.h"
#include "vmm/qcow2.h"

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	struct qcow2_new *q;
	struct timespec t0, t1;
	double *ms;
	int n, status;
	pid_t pid;

	if (argc != 5 || (n = atoi(argv[3])) <= 0) {
		fprintf(stderr, "usage: qcow2_new BACKING FORMAT N DIR\n");
		return 2;
	}
	ms = xcalloc((size_t)n, sizeof *ms);
	for (int i = 0; i < n; i++) {
		char *file = xasprintf("%s/bench-%d.qcow2", argv[4], i);

		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (qcow2_new_prepare(file, argv[1], argv[2], &q) < 0)
			return 1;
		pid = fork();
		if (pid == 0)
			_exit(qcow2_new_write(q) < 0);
		if (pid < 0 || waitpid(pid, &status, 0) < 0 || status != 0)
			return 1;
		fsync_dir(argv[4]);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms[i] = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
		qcow2_new_free(q);
		unlink(file);
		free(file);
	}
	qsort(ms, (size_t)n, sizeof *ms, cmp_double);
	printf("%.1f\n", n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2);
	free(ms);
	return 0;
}
