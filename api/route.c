/*
 * route: maps a request's method and URL to an API route (see route.h).
 */
#include "route.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"

/* The SDK's routes under /v1/sprites/NAME that sprig lacks: @sub is matched
 * whole, or as a prefix when it ends in '/'. */
static const struct {
	const char	*method;	/* NULL: any */
	const char	*sub;
	const char	*what;
} route_missing[] = {
	{ NULL, "/fs/watch", "watching files (fs/watch)" },
	{ NULL, "/services", "services" },
	{ NULL, "/services/", "services" },
	{ NULL, "/control", "control connections (controlMode)" },
	{ NULL, "/ports/watch", "watching ports" },
	{ NULL, "/upgrade", "upgrading a sprite" },
	{ NULL, "/restart", "restarting a sprite (stop and start it)" },
	{ NULL, "/check", "health checks" },
};

static const char *
route_unsupported(const char *method, const char *sub)
{
	for (size_t i = 0; i < sizeof route_missing / sizeof route_missing[0]; i++) {
		const char *m = route_missing[i].method, *p = route_missing[i].sub;
		size_t n = strlen(p);

		if (m != NULL && strcmp(m, method) != 0)
			continue;
		if (n > 0 && p[n - 1] == '/' ? strncmp(sub, p, n) == 0 && sub[n] != '\0' :
		    strcmp(sub, p) == 0)
			return route_missing[i].what;
	}
	return NULL;
}

enum route
route_match(const char *url, const char *method, char **name, char **ckpt, int *bad_method,
    const char **what)
{
	const char *p, *slash, *end;
	size_t n;

	*bad_method = 0;
	if (strcmp(url, "/v1/settings") == 0) {
		*bad_method = strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0;
		return ROUTE_SETTINGS;
	}
	if (strcmp(url, "/v1/events") == 0) {
		*bad_method = strcmp(method, "GET") != 0;
		return ROUTE_EVENTS;
	}
	if (strcmp(url, "/v1/daemon") == 0) {
		*bad_method = strcmp(method, "GET") != 0;
		return ROUTE_DAEMON;
	}
	if (strcmp(url, "/v1/sprites") == 0 || strcmp(url, "/v1/sprites/") == 0) {
		if (strcmp(method, "GET") == 0)
			return ROUTE_LIST;
		if (strcmp(method, "POST") == 0)
			return ROUTE_CREATE;
		*bad_method = 1;
		return ROUTE_LIST;
	}
	if (strncmp(url, "/v1/images/", 11) == 0 && url[11] != '\0') {
		p = url + 11;
		slash = strchr(p, '/');
		if (slash != NULL && strcmp(slash, "/build") != 0)
			return ROUTE_NONE;
		*name = xstrndup(p, slash ? (size_t)(slash - p) : strlen(p));
		*bad_method = strcmp(method, slash ? "POST" : "GET") != 0;
		return slash ? ROUTE_IMAGE_BUILD : ROUTE_IMAGE;
	}
	if (strcmp(url, "/v1/templates") == 0 || strcmp(url, "/v1/templates/") == 0) {
		if (strcmp(method, "GET") == 0)
			return ROUTE_TEMPLATES;
		if (strcmp(method, "POST") == 0)
			return ROUTE_TEMPLATE_SAVE;
		*bad_method = 1;
		return ROUTE_TEMPLATES;
	}
	if (strncmp(url, "/v1/templates/", 14) == 0) {
		p = url + 14;	/* not empty: "/v1/templates/" is the list */
		if (strchr(p, '/') != NULL)
			return ROUTE_NONE;
		*name = xstrdup(p);
		*bad_method = strcmp(method, "DELETE") != 0;
		return ROUTE_TEMPLATE_RM;
	}
	if (strcmp(url, "/v1/tokens") == 0) {
		if (strcmp(method, "GET") == 0)
			return ROUTE_TOKENS;
		*bad_method = strcmp(method, "POST") != 0;
		return ROUTE_TOKEN_CREATE;
	}
	if (strncmp(url, "/v1/tokens/", 11) == 0) {
		p = url + 11;
		if (*p == '\0' || strchr(p, '/') != NULL)
			return ROUTE_NONE;
		*name = xstrdup(p);
		*bad_method = strcmp(method, "DELETE") != 0;
		return ROUTE_TOKEN_RM;
	}
	if (strncmp(url, "/v1/sprites/", 12) != 0)
		return ROUTE_NONE;
	p = url + 12;
	slash = strchr(p, '/');
	n = slash ? (size_t)(slash - p) : strlen(p);
	if (n == 0)
		return ROUTE_NONE;
	*name = xstrndup(p, n);
	*what = route_unsupported(method, slash ? slash : "");
	if (*what != NULL)
		return ROUTE_UNSUPPORTED;
	if (slash == NULL) {
		if (strcmp(method, "GET") == 0)
			return ROUTE_GET;
		if (strcmp(method, "DELETE") == 0)
			return ROUTE_DELETE;
		if (strcmp(method, "PUT") == 0)
			return ROUTE_UPDATE;
		*bad_method = 1;
		return ROUTE_GET;
	}
	if (strcmp(slash, "/policy/network") == 0 || strcmp(slash, "/policy/privileges") == 0 ||
	    strcmp(slash, "/policy/resources") == 0) {
		*ckpt = xstrdup(slash + 8);
		*bad_method = strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0 &&
		    strcmp(method, "DELETE") != 0;
		return ROUTE_POLICY;
	}
	if (strncmp(slash, "/fs/", 4) == 0 && slash[4] != '\0' && strchr(slash + 4, '/') == NULL) {
		*ckpt = xstrdup(slash + 4);
		return ROUTE_FS;	/* api/fs.c checks the OP and the method */
	}
	if (strcmp(slash, "/start") == 0 || strcmp(slash, "/stop") == 0) {
		*bad_method = strcmp(method, "POST") != 0;
		return slash[3] == 'a' ? ROUTE_START : ROUTE_STOP;
	}
	if (strcmp(slash, "/sleep") == 0 || strcmp(slash, "/wake") == 0) {
		*bad_method = strcmp(method, "POST") != 0;
		return slash[1] == 's' ? ROUTE_SLEEP : ROUTE_WAKE;
	}
	if (strcmp(slash, "/config") == 0) {
		*bad_method = strcmp(method, "POST") != 0;
		return ROUTE_CONFIG;
	}
	if (strcmp(slash, "/proxy") == 0) {
		*bad_method = strcmp(method, "GET") != 0;
		return ROUTE_PROXY;
	}
	if (strcmp(slash, "/probe") == 0) {
		*bad_method = strcmp(method, "POST") != 0;
		return ROUTE_PROBE;
	}
	if (strcmp(slash, "/exec") == 0) {
		if (strcmp(method, "POST") == 0)
			return ROUTE_EXEC_HTTP;
		*bad_method = strcmp(method, "GET") != 0;
		return ROUTE_EXEC;
	}
	if (strncmp(slash, "/exec/", 6) == 0 && slash[6] != '\0' && slash[6] != '/') {
		p = slash + 6;
		end = strchr(p, '/');
		if (end == NULL) {
			*ckpt = xstrdup(p);
			*bad_method = strcmp(method, "GET") != 0;
			return ROUTE_EXEC;
		}
		if (strcmp(end, "/kill") == 0) {
			*ckpt = xstrndup(p, (size_t)(end - p));
			*bad_method = strcmp(method, "POST") != 0;
			return ROUTE_SESSION_KILL;
		}
	}
	if (strcmp(slash, "/checkpoint") == 0 || strcmp(slash, "/fork") == 0) {
		*bad_method = strcmp(method, "POST") != 0;
		return slash[1] == 'c' ? ROUTE_CHECKPOINT : ROUTE_FORK;
	}
	if (strcmp(slash, "/checkpoints") == 0) {
		*bad_method = strcmp(method, "GET") != 0;
		return ROUTE_CHECKPOINTS;
	}
	if (strncmp(slash, "/checkpoints/", 13) == 0 && slash[13] != '\0' && slash[13] != '/') {
		p = slash + 13;
		end = strchr(p, '/');
		if (end == NULL) {
			*ckpt = xstrdup(p);
			if (strcmp(method, "DELETE") == 0)
				return ROUTE_CHECKPOINT_RM;
			*bad_method = strcmp(method, "GET") != 0;
			return ROUTE_CHECKPOINT_GET;
		}
		if (strcmp(end, "/restore") == 0) {
			*ckpt = xstrndup(p, (size_t)(end - p));
			*bad_method = strcmp(method, "POST") != 0;
			return ROUTE_RESTORE;
		}
	}
	free(*name);
	*name = NULL;
	return ROUTE_NONE;
}
