/*
 * exec: `sprig exec`, a command in a sprite over the API's WebSocket exec
 * (the Sprites protocol): stdin forwarded, stdout and stderr kept apart, the
 * command's exit status returned; with a tty, the local terminal in raw mode
 * and its size kept in step. The same machinery starts a detachable session
 * (--detach: its id is printed and the client leaves) and attaches to one
 * (`sprig attach`: C-\\ detaches a tty).
 */
#ifndef SPRIG_CLI_EXEC_H
#define SPRIG_CLI_EXEC_H

#include <stddef.h>

struct client;

struct exec_opts {
	const char	*name;		/* the sprite */
	char *const	*argv;		/* the command, argc entries */
	int		 argc;
	char *const	*env;		/* "K=V", nenv entries */
	int		 nenv;
	const char	*dir;		/* working directory, or NULL */
	int		 tty;
	int		 rows;		/* with tty */
	int		 cols;
	int		 detach;	/* start a session, print its id, leave */
	const char	*session;	/* attach to this session instead */
};

/* The key that detaches an attached tty (C-\). */
#define EXEC_DETACH_KEY	0x1c

/* Stream ids of non-tty binary frames (first byte). */
enum {
	EXEC_STDIN = 0,
	EXEC_STDOUT = 1,
	EXEC_STDERR = 2,
	EXEC_EXIT = 3,
	EXEC_STDIN_EOF = 4,
};

/* The request path with its query ("/v1/sprites/NAME/exec?cmd=..."). Newly
 * allocated. */
char *exec_path(const struct exec_opts *o);

/* What a text frame from the server says. */
struct exec_text {
	int	 exit_code;	/* {"type":"exit"}: its code; else -1 */
	char	*error;		/* {"type":"error"}: its message (newly allocated) */
	char	*session_id;	/* {"type":"session_info"}: the session (allocated) */
	int	 detached;	/* {"type":"detached"}: another client took over */
};

/* Parses a text frame; unknown types and bad JSON leave *ret empty. */
void exec_parse_text(const char *data, size_t len, struct exec_text *ret);

/*
 * Runs @o's command (o->rows/cols are filled in from the terminal for a
 * tty). Returns the exit status for the process: the command's, 1 when it
 * could not start (*cause says why), 255 when the connection was lost, or
 * 128+N after signal N here. *cause, when set, is a message for the user.
 */
int exec_run(struct client *c, struct exec_opts *o, char **cause);

#endif
