/*
 * home: resolving $SPRIG_HOME.
 */
#include "home.h"

#include <errno.h>
#include <stdlib.h>

#include "util.h"
#include "xmalloc.h"

int
home_dir(char **ret)
{
	const char *env = getenv("SPRIG_HOME"), *xdg = getenv("XDG_DATA_HOME"),
	    *home = getenv("HOME");
	char *dir;
	int r;

	if (env != NULL && *env != '\0')
		dir = xstrdup(env);
	else if (xdg != NULL && *xdg == '/')
		dir = xasprintf("%s/sprig", xdg);
	else if (home != NULL && *home != '\0')
		dir = xasprintf("%s/.local/share/sprig", home);
	else
		return -ENOENT;
	r = mkdir_p(dir, 0700);
	if (r < 0) {
		free(dir);
		return r;
	}
	*ret = dir;
	return 0;
}

char *
home_path(const char *home, const char *rel)
{
	return xasprintf("%s/%s", home, rel);
}
