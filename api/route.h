/*
 * route: which API route a request's method and URL name, and the names in
 * the URL (a sprite, a checkpoint or session id). Pure string work, kept
 * apart from the HTTP server so that it can be fuzzed on its own
 * (tests/fuzz/fuzz_route.c).
 */
#ifndef SPRIG_API_ROUTE_H
#define SPRIG_API_ROUTE_H

enum route {
	ROUTE_NONE,
	ROUTE_LIST,
	ROUTE_CREATE,
	ROUTE_GET,
	ROUTE_DELETE,
	ROUTE_START,
	ROUTE_STOP,
	ROUTE_EXEC,
	ROUTE_EXEC_HTTP,	/* POST .../exec */
	ROUTE_SESSION_KILL,	/* POST .../exec/ID/kill */
	ROUTE_PROBE,
	ROUTE_DAEMON,
	ROUTE_CHECKPOINT,	/* POST .../checkpoint */
	ROUTE_CHECKPOINTS,	/* GET .../checkpoints */
	ROUTE_CHECKPOINT_GET,	/* GET .../checkpoints/ID */
	ROUTE_RESTORE,		/* POST .../checkpoints/ID/restore */
	ROUTE_FORK,		/* POST .../fork */
	ROUTE_CHECKPOINT_RM,	/* DELETE .../checkpoints/ID */
	ROUTE_SLEEP,		/* POST .../sleep */
	ROUTE_WAKE,		/* POST .../wake */
	ROUTE_TEMPLATES,	/* GET /v1/templates */
	ROUTE_TEMPLATE_SAVE,	/* POST /v1/templates */
	ROUTE_TEMPLATE_RM,	/* DELETE /v1/templates/NAME */
	ROUTE_IMAGE,		/* GET /v1/images/NAME */
	ROUTE_IMAGE_BUILD,	/* POST /v1/images/NAME/build */
	ROUTE_TOKENS,		/* GET /v1/tokens */
	ROUTE_TOKEN_CREATE,	/* POST /v1/tokens */
	ROUTE_TOKEN_RM,		/* DELETE /v1/tokens/NAME */
	ROUTE_UNSUPPORTED,	/* an SDK route sprig lacks: 501 */
	ROUTE_EVENTS,		/* GET /v1/events */
	ROUTE_CONFIG,		/* POST /v1/sprites/NAME/config */
	ROUTE_SETTINGS,		/* GET, POST /v1/settings */
	ROUTE_UPDATE,		/* PUT /v1/sprites/NAME (api/sdk.c) */
	ROUTE_POLICY,		/* GET, POST, DELETE .../policy/KIND (api/policy.c) */
	ROUTE_FS,		/* .../fs/OP (api/fs.c); *ckpt is the OP */
	ROUTE_PROXY,		/* GET .../proxy, a WebSocket (api/proxy.c) */
};

/*
 * Matches @method and @url (the path, no query). Returns the route, or
 * ROUTE_NONE for a URL sprig does not serve. *@name and *@ckpt get the
 * names in the URL (newly allocated, or left NULL); *@bad_method is set
 * when the route exists but not with @method; for ROUTE_UNSUPPORTED, *@what
 * says what the SDK asked for that sprig lacks.
 */
enum route route_match(const char *url, const char *method, char **name, char **ckpt,
    int *bad_method, const char **what);

#endif
