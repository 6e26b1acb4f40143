/*
 * policy: a sprite's policies as the Sprites API shapes them, checked the
 * way the hosted API would and kept in the store (one row per kind):
 *
 *	GET|POST /v1/sprites/NAME/policy/network	{"rules": [{"domain", "action"} |
 *							 {"include": "defaults"}]}
 *	GET|POST|DELETE .../policy/privileges		{"profile"?, "devices"?,
 *							 "noNewPrivileges"?}
 *	GET|POST|DELETE .../policy/resources		{"memory"?: {"limit_mb",
 *							 "autoscale"?}}
 *
 * POST replaces the policy and answers 204, DELETE drops it (204), GET
 * shows it, or the empty policy when none was set. sprig does not enforce
 * them yet: a later issue does (api/README.md says so).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api_internal.h"
#include "common/xmalloc.h"
#include "core/core.h"

#define POLICY_MAX_RULES	1000
#define POLICY_MAX_DOMAIN	253
#define POLICY_MAX_DEVICES	64

/* A domain to match: a host name, or "*." and one (a wildcard). */
static int
policy_domain_ok(const char *d)
{
	size_t n = strlen(d), label = 0;

	if (strncmp(d, "*.", 2) == 0) {
		d += 2;
		n -= 2;
	}
	if (n == 0 || n > POLICY_MAX_DOMAIN || *d == '.' || d[n - 1] == '.' || *d == '-')
		return 0;
	for (; *d != '\0'; d++) {
		if (*d == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if ((*d >= 'a' && *d <= 'z') || (*d >= 'A' && *d <= 'Z') ||
		    (*d >= '0' && *d <= '9') || *d == '-' || *d == '_') {
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	return 1;
}

static int
policy_rule(const cJSON *rule, int i, char **cause)
{
	static const char *const keys[] = { "domain", "action", "include", NULL };
	static const char *const actions[] = { "allow", "deny", NULL };
	const cJSON *domain = cJSON_GetObjectItemCaseSensitive(rule, "domain");
	const cJSON *action = cJSON_GetObjectItemCaseSensitive(rule, "action");
	const cJSON *include = cJSON_GetObjectItemCaseSensitive(rule, "include");
	char what[32];

	snprintf(what, sizeof what, "rule %d", i);
	if (!cJSON_IsObject(rule)) {
		*cause = xasprintf("rule %d must be an object like {\"domain\": \"example.com\", "
		    "\"action\": \"allow\"}", i);
		return -EINVAL;
	}
	if (sdk_known_keys(rule, what, keys, cause) < 0)
		return -EINVAL;
	if ((domain == NULL) == (include == NULL)) {
		*cause = xasprintf("rule %d needs either domain or include (not both)", i);
		return -EINVAL;
	}
	if (include != NULL) {
		if (action != NULL) {
			*cause = xasprintf("rule %d: an include rule takes no action", i);
			return -EINVAL;
		}
		if (!cJSON_IsString(include) || strcmp(include->valuestring, "defaults") != 0) {
			*cause = xasprintf("rule %d: include must be \"defaults\" (the only preset)",
			    i);
			return -EINVAL;
		}
		return 0;
	}
	if (!cJSON_IsString(domain) || !policy_domain_ok(domain->valuestring)) {
		*cause = xasprintf("rule %d: domain must be a host name like example.com or "
		    "*.example.com", i);
		return -EINVAL;
	}
	if (action == NULL) {
		*cause = xasprintf("rule %d: a domain rule needs an action, \"allow\" or \"deny\"",
		    i);
		return -EINVAL;
	}
	if (sdk_enum_field(rule, "action", actions, "\"allow\" or \"deny\"", cause) < 0) {
		char *inner = *cause;

		*cause = xasprintf("rule %d: %s", i, inner);
		free(inner);
		return -EINVAL;
	}
	return 0;
}

static int
policy_network(const cJSON *j, char **cause)
{
	static const char *const keys[] = { "rules", NULL };
	const cJSON *rules = cJSON_GetObjectItemCaseSensitive(j, "rules"), *rule;
	int i = 0, r;

	r = sdk_known_keys(j, "a network policy", keys, cause);
	if (r < 0)
		return r;
	if (!cJSON_IsArray(rules)) {
		*cause = xstrdup("a network policy is {\"rules\": [...]}, rules an array");
		return -EINVAL;
	}
	if (cJSON_GetArraySize(rules) > POLICY_MAX_RULES) {
		*cause = xasprintf("a network policy has at most %d rules", POLICY_MAX_RULES);
		return -EINVAL;
	}
	cJSON_ArrayForEach(rule, rules) {
		r = policy_rule(rule, i++, cause);
		if (r < 0)
			return r;
	}
	return 0;
}

static int
policy_privileges(const cJSON *j, char **cause)
{
	static const char *const keys[] = { "profile", "devices", "noNewPrivileges",
	    "no_new_privileges", NULL };
	static const char *const profiles[] = { "", "minimal", "standard", "privileged", NULL };
	const cJSON *devices = cJSON_GetObjectItemCaseSensitive(j, "devices"), *d;
	const cJSON *nnp = cJSON_GetObjectItemCaseSensitive(j, "noNewPrivileges");
	int r;

	if (nnp == NULL)
		nnp = cJSON_GetObjectItemCaseSensitive(j, "no_new_privileges");
	r = sdk_known_keys(j, "a privileges policy", keys, cause);
	if (r == 0)
		r = sdk_enum_field(j, "profile", profiles,
		    "\"\", \"minimal\", \"standard\" or \"privileged\"", cause);
	if (r < 0)
		return r;
	if (nnp != NULL && !cJSON_IsBool(nnp)) {
		*cause = xstrdup("noNewPrivileges must be true or false");
		return -EINVAL;
	}
	if (devices == NULL)
		return 0;
	if (!cJSON_IsArray(devices) || cJSON_GetArraySize(devices) > POLICY_MAX_DEVICES) {
		*cause = xasprintf("devices must be an array of at most %d device paths",
		    POLICY_MAX_DEVICES);
		return -EINVAL;
	}
	cJSON_ArrayForEach(d, devices) {
		if (!cJSON_IsString(d) || strncmp(d->valuestring, "/dev/", 5) != 0 ||
		    strstr(d->valuestring, "..") != NULL || strlen(d->valuestring) > 255) {
			*cause = xstrdup("each device must be a path under /dev/, like /dev/fuse");
			return -EINVAL;
		}
	}
	return 0;
}

static int
policy_resources(const cJSON *j, char **cause)
{
	static const char *const keys[] = { "memory", NULL };
	static const char *const mkeys[] = { "limit_mb", "autoscale", NULL };
	const cJSON *mem = cJSON_GetObjectItemCaseSensitive(j, "memory"), *lim, *as;
	int r;

	r = sdk_known_keys(j, "a resources policy", keys, cause);
	if (r < 0 || mem == NULL)
		return r;
	if (!cJSON_IsObject(mem) || sdk_known_keys(mem, "memory", mkeys, cause) < 0) {
		if (*cause == NULL)
			*cause = xstrdup("memory must be an object like {\"limit_mb\": 1024}");
		return -EINVAL;
	}
	lim = cJSON_GetObjectItemCaseSensitive(mem, "limit_mb");
	as = cJSON_GetObjectItemCaseSensitive(mem, "autoscale");
	if (!cJSON_IsNumber(lim) || lim->valuedouble < 64 || lim->valuedouble > 1048576 ||
	    lim->valuedouble != (double)(int64_t)lim->valuedouble) {
		*cause = xstrdup("memory.limit_mb must be whole MiB from 64 to 1048576");
		return -EINVAL;
	}
	if (as != NULL && !cJSON_IsBool(as)) {
		*cause = xstrdup("memory.autoscale must be true or false");
		return -EINVAL;
	}
	return 0;
}

/* Checks a POST body: 0 with the JSON text to keep in *@ret. */
static int
policy_parse(const char *kind, const char *body, size_t len, char **ret, char **cause)
{
	cJSON *j = cJSON_ParseWithLength(body, len);
	int r;

	if (!cJSON_IsObject(j)) {
		*cause = xasprintf("the body must be a JSON object: the %s policy", kind);
		r = -EINVAL;
	} else if (strcmp(kind, "network") == 0) {
		r = policy_network(j, cause);
	} else if (strcmp(kind, "privileges") == 0) {
		r = policy_privileges(j, cause);
	} else {
		r = policy_resources(j, cause);
	}
	if (r == 0)
		*ret = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	return r;
}

/* What the store holds, as JSON; it was checked going in, so a row that
 * does not parse (edited by hand) shows as no policy. */
static cJSON *
policy_stored(const char *text)
{
	cJSON *j = cJSON_Parse(text);

	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		j = cJSON_CreateObject();
	}
	return j;
}

enum MHD_Result
policy_handle(struct api *a, struct MHD_Connection *conn, const char *name, const char *kind,
    const char *method, const char *body, size_t len)
{
	struct store *st = core_store(a->core);
	struct sprite_row row = { 0 };
	char *text = NULL, *cause = NULL;
	enum MHD_Result ret;
	int r;

	r = core_get(a->core, name, &row, &cause);
	if (r == 0 && strcmp(method, "POST") == 0)
		r = policy_parse(kind, body, len, &text, &cause);
	if (r < 0)
		goto out;
	if (strcmp(method, "GET") == 0) {
		r = store_policy_get(st, row.id, kind, &text);
		if (r == -ENOENT) {
			text = xstrdup(strcmp(kind, "network") == 0 ? "{\"rules\":[]}" : "{}");
			r = 0;
		}
	} else {
		r = store_policy_set(st, row.id, kind, text);
	}
	if (r < 0)
		cause = xasprintf("cannot %s the %s policy of \"%s\": %s",
		    strcmp(method, "GET") == 0 ? "read" : "save", kind, name, store_errmsg(st));
out:
	if (r < 0)
		ret = api_error_errno(conn, r, cause);
	else if (strcmp(method, "GET") == 0)
		ret = api_json(conn, MHD_HTTP_OK, policy_stored(text));
	else
		ret = api_no_content(conn);
	sprite_row_done(&row);
	free(text);
	free(cause);
	return ret;
}
