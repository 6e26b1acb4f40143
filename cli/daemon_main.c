/*
 * daemon_main: sprig-daemon, the daemon's program (api/serve.c). `sprig
 * serve` and the CLI's start on demand exec it as `sprig serve [ARGS]`, so
 * that the daemon's libraries (libmicrohttpd, SQLite, ...) are loaded only
 * by the daemon.
 */
#include <string.h>

#include "api/serve.h"

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "serve") == 0)
		return serve_main(argc - 1, argv + 1);
	return serve_main(argc, argv);
}
