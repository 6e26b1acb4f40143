/*
 * home: where sprig keeps its state, $SPRIG_HOME, by default
 * $XDG_DATA_HOME/sprig (~/.local/share/sprig). Shared by the daemon and the CLI.
 */
#ifndef SPRIG_HOME_H
#define SPRIG_HOME_H

/* Returns the home directory (newly allocated), created with mode 0700 if
 * missing. Returns 0 or a negative errno (-ENOENT when no HOME is set). */
int home_dir(char **ret);
/* Returns "<home>/<rel>", newly allocated. */
char *home_path(const char *home, const char *rel);

#endif
