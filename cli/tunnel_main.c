/*
 * tunnel_main: sprig-tunnel, the helper that `sprig --host ssh://...` (and
 * the dashboard's --host) starts, so that libssh is loaded only by it. Its
 * stdin is a socket to the process that started it: it answers there
 * "0\n<local socket>\n<user@box:/path>\n" once the tunnel is up, or
 * "-errno\n<why>\n" and exits; then it forwards until that socket reads end
 * of file (its parent exited or is done), removes the local socket and exits.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/tunnel.h"

int
main(int argc, char **argv)
{
	struct tunnel *t = NULL;
	char *cause = NULL;
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: sprig-tunnel ssh://[USER@]BOX[:PORT][/PATH] (sprig --host "
		    "runs it, with a socket on its stdin)\n");
		return 2;
	}
	/* ^C on the terminal goes to sprig; it ends us by closing the socket,
	 * and the tunnel's files are removed then. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	r = tunnel_open(argv[1], &t, &cause);
	if (r < 0) {
		dprintf(0, "%d\n%s\n", r, cause);
		free(cause);
		return 1;
	}
	dprintf(0, "0\n%s\n%s\n", tunnel_sock(t), tunnel_name(t));
	r = tunnel_run(t, 0);
	tunnel_free(t);
	return r < 0 ? 1 : 0;
}
