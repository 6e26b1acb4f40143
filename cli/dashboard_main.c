/*
 * dashboard_main: sprig-dashboard, the dashboard's program (tui/). Bare
 * `sprig` on a terminal execs it, with --host passed on as SPRIG_HOST; it
 * links libcurl (tui/http.c drives its multi interface on the loop),
 * ncurses and libvterm, which the commands do without.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <curl/curl.h>

#include "cli/client.h"
#include "tui/dashboard.h"

int
main(int argc, char **argv)
{
	struct client c;
	char *cause = NULL;
	int status;

	if (argc > 1) {
		fprintf(stderr, "usage: sprig (the dashboard; SPRIG_HOST for another machine's)\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (client_open(&c, getenv("SPRIG_HOST"), &cause) < 0) {
		fprintf(stderr, "sprig: %s\n", cause);
		free(cause);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	status = dashboard_main(&c);
	client_done(&c);
	curl_global_cleanup();
	if (status == -ENOTTY) {
		fprintf(stderr, "sprig: the dashboard needs a terminal ('sprig help' lists the "
		    "commands)\n");
		return 1;
	}
	return status;
}
