/*
 * tunnel: `sprig --host ssh://user@box[:port][/path/api.sock]`. One SSH
 * session (libssh) to the box, its host key checked against
 * ~/.ssh/known_hosts, authenticated with the ssh-agent's or ~/.ssh's keys;
 * and a private unix socket here whose every connection is forwarded to
 * the remote daemon's API socket (direct-streamlocal@openssh.com). The
 * CLI's requests, exec's WebSocket and the dashboard connect to that socket
 * as to a local daemon's.
 *
 * It runs in sprig-tunnel (cli/tunnel_main.c), a process of its own, so
 * that only --host loads libssh. It owns the session and the local socket
 * (in a 0700 directory).
 */
#ifndef SPRIG_CLI_TUNNEL_H
#define SPRIG_CLI_TUNNEL_H

struct tunnel;

/*
 * Connects to @url (ssh://[user@]host[:port][/path], the ssh:// optional),
 * checks that a daemon answers at the remote socket (the path given, else
 * the one the remote names) and starts forwarding. Returns 0 and *ret, or a
 * negative errno and *cause (newly allocated) saying what to do about it.
 */
int tunnel_open(const char *url, struct tunnel **ret, char **cause);
/* Forwards connections until @stop_fd is readable (or hangs up). Returns
 * 0, or a negative errno when it could not wait. */
int tunnel_run(struct tunnel *t, int stop_fd);
/* Closes the session, removes the local socket. NULL is fine. */
void tunnel_free(struct tunnel *t);

/* The local socket to connect to; owned by @t. */
const char *tunnel_sock(const struct tunnel *t);
/* "user@box:/path/api.sock", for messages; owned by @t. */
const char *tunnel_name(const struct tunnel *t);

#endif
