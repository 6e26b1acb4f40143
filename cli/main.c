/*
 * main: the sprig command. Parses arguments (getopt_long per command), runs
 * one command against the daemon's API, and decides what a person sees:
 * results on stdout, "sprig: <message>" on stderr with status 1 for errors,
 * one line and status 2 for bad usage. The daemon (`sprig serve`) and the
 * dashboard (bare `sprig`) are programs of their own, sprig-daemon and
 * sprig-dashboard beside this one, which it execs: this one links only what
 * the commands need, so that it starts in a few milliseconds.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli/client.h"
#include "cli/events.h"
#include "cli/exec.h"
#include "cli/proxy.h"
#include "cli/format.h"
#include "cli/session.h"
#include "cli/template.h"
#include "cli/timeline.h"
#include "cli/token.h"
#include "common/buf.h"
#include "common/util.h"
#include "common/xmalloc.h"

#ifndef SPRIG_VERSION
#define SPRIG_VERSION "0.1.0-dev"
#endif

#define TIMEOUT_READ_S		60
#define TIMEOUT_CHANGE_S	(20 * 60)	/* the first create builds an image */

struct cli {
	struct client	 client;
	int		 have_client;
	const char	*host;		/* --host or SPRIG_HOST: a remote daemon */
};

struct cmd {
	const char	*name;
	int		 (*fn)(struct cli *, const struct cmd *, int, char **);
	const char	*usage;		/* after "sprig " */
	const char	*summary;	/* one line */
	const char	*details;	/* more for --help, or NULL */
	const char	*options;	/* option help, or NULL */
};

static const struct cmd *cmd_find(const char *);

static void
usage_error(const struct cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sprig %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (usage: sprig %s)\n", cmd->usage);
	exit(2);
}

static void
cmd_help_text(const struct cmd *cmd)
{
	printf("usage: sprig %s\n\n%s\n", cmd->usage, cmd->summary);
	if (cmd->details != NULL)
		printf("%s\n", cmd->details);
	if (cmd->options != NULL)
		printf("\n%s", cmd->options);
}

/* getopt_long for a command: returns the next option, or -1 at the end;
 * --help prints the command's help and exits, errors exit with status 2. */
static int
next_opt(const struct cmd *cmd, int argc, char **argv, const char *shorts,
    const struct option *longs)
{
	int ch;

	opterr = 0;
	ch = getopt_long(argc, argv, shorts, longs, NULL);
	if (ch == 'h') {
		cmd_help_text(cmd);
		exit(0);
	}
	if (ch == '?') {
		if (optopt != 0)
			usage_error(cmd, "unknown option '-%c'", optopt);
		usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
	}
	if (ch == ':')
		usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
	return ch;
}

static struct client *
cli_client(struct cli *cli)
{
	char *cause = NULL;

	if (!cli->have_client) {
		if (client_open(&cli->client, cli->host, &cause) < 0) {
			fprintf(stderr, "sprig: %s\n", cause);
			exit(1);
		}
		cli->have_client = 1;
	}
	return &cli->client;
}

/* Runs a request; on failure prints the cause and exits 1. */
static cJSON *
request(struct cli *cli, const char *method, const char *path, const cJSON *body, long timeout_s)
{
	char *cause = NULL;
	cJSON *j = NULL;

	if (client_request(cli_client(cli), method, path, body, timeout_s, &j, &cause) < 0) {
		fprintf(stderr, "sprig: %s\n", cause);
		exit(1);
	}
	return j;
}

/* Runs a checkpoint or restore (an NDJSON answer); returns the "complete"
 * line's id (or data), newly allocated. On failure prints the cause and
 * exits 1. */
static char *
request_stream(struct cli *cli, const char *path, const cJSON *body)
{
	char *cause = NULL, *data = NULL, *id = NULL;
	struct buf resp;
	int r;

	buf_init(&resp);
	r = client_request_text(cli_client(cli), "POST", path, body, TIMEOUT_CHANGE_S, &resp,
	    &cause);
	if (r == 0)
		r = timeline_result((const char *)buf_head(&resp), buf_used(&resp), &data, &id,
		    &cause);
	buf_done(&resp);
	if (r < 0) {
		fprintf(stderr, "sprig: %s\n", cause);
		exit(1);
	}
	if (id == NULL)
		return data != NULL ? data : xstrdup("");
	free(data);
	return id;
}

static char *
sprite_path(const char *name, const char *action)
{
	char *e = client_escape(name), *p;

	p = xasprintf("/v1/sprites/%s%s%s", e, action != NULL ? "/" : "", action != NULL ? action : "");
	free(e);
	return p;
}

static const char *
jstr(const cJSON *o, const char *key, const char *dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : dflt;
}

static void
print_json(const cJSON *j)
{
	char *s = cJSON_Print(j);

	printf("%s\n", s);
	free(s);
}

/* Commands that take only NAME (and --help). */
static const char *
one_name(const struct cmd *cmd, int argc, char **argv)
{
	static const struct option longs[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};

	while (next_opt(cmd, argc, argv, ":h", longs) != -1)
		;
	if (optind == argc)
		usage_error(cmd, "missing NAME");
	if (argc - optind > 1)
		usage_error(cmd, "unexpected '%s'", argv[optind + 1]);
	return argv[optind];
}

/*
 * Before a create from an image: if the image is not built yet, starts its
 * build and shows the recipe's progress lines on stderr until it ends. The
 * create then uses the image, or reports why the build failed.
 */
static void
image_progress(struct cli *cli, const char *image)
{
	char *e = client_escape(image), *path = xasprintf("/v1/images/%s", e);
	char *build = xasprintf("%s/build", path), *cause = NULL, *last = NULL;
	const char *state, *progress;
	cJSON *j = NULL;

	if (client_request(cli_client(cli), "GET", path, NULL, 60, &j, &cause) < 0 ||
	    strcmp(jstr(j, "state", ""), "ready") == 0)
		goto out;	/* an unknown image: the create says so */
	cJSON_Delete(j);
	j = NULL;
	if (client_request(cli_client(cli), "POST", build, NULL, 60, &j, &cause) < 0)
		goto out;
	fprintf(stderr, "building image %s (its first use: this downloads Debian's cloud "
	    "kernel package and takes about a minute)\n", image);
	for (;;) {
		state = jstr(j, "state", "");
		progress = jstr(j, "progress", NULL);
		if (progress != NULL && (last == NULL || strcmp(last, progress) != 0)) {
			fprintf(stderr, "  %s\n", progress);
			free(last);
			last = xstrdup(progress);
		}
		if (strcmp(state, "building") != 0)
			break;
		cJSON_Delete(j);
		j = NULL;
		nanosleep(&(struct timespec){ .tv_nsec = 300 * 1000000 }, NULL);
		if (client_request(cli_client(cli), "GET", path, NULL, 60, &j, &cause) < 0)
			break;
	}
out:
	cJSON_Delete(j);
	free(cause);
	free(last);
	free(e);
	free(path);
	free(build);
}

static int
cmd_create(struct cli *cli, const struct cmd *cmd, int argc, char **argv)
{
	static const struct option longs[] = {
		{ "image", required_argument, NULL, 'i' },
		{ "template", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *image = NULL, *template = NULL;
	cJSON *body, *j;
	int ch;

	while ((ch = next_opt(cmd, argc, argv, ":i:t:h", longs)) != -1) {
		if (ch == 'i')
			image = optarg;
		else if (ch == 't')
			template = optarg;
	}
	if (optind == argc)
		usage_error(cmd, "missing NAME");
	if (argc - optind > 1)
		usage_error(cmd, "unexpected '%s'", argv[optind + 1]);
	if (image != NULL && template != NULL)
		usage_error(cmd, "give --image or --template, not both");
	if (template == NULL)
		image_progress(cli, image != NULL ? image : "minimal");
	body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "name", argv[optind]);
	if (image != NULL)
		cJSON_AddStringToObject(body, "image", image);
	if (template != NULL)
		cJSON_AddStringToObject(body, "template", template);
	j = request(cli, "POST", "/v1/sprites", body, TIMEOUT_CHANGE_S);
	printf("%s\n", jstr(j, "name", argv[optind]));
	cJSON_Delete(j);
	cJSON_Delete(body);
	return 0;
}

/* All sprites, following continuation tokens. Returns a new array. */
static cJSON *
list_all(struct cli *cli)
{
	cJSON *all = cJSON_CreateArray(), *j, *sprites, *item, *next;
	char *path = xstrdup("/v1/sprites"), *e;
	const char *token;
	int pages;

	for (pages = 0; pages < 1000; pages++) {
		j = request(cli, "GET", path, NULL, TIMEOUT_READ_S);
		free(path);
		path = NULL;
		sprites = cJSON_GetObjectItemCaseSensitive(j, "sprites");
		if (!cJSON_IsArray(sprites)) {
			fprintf(stderr, "sprig: the daemon's sprite list has no \"sprites\" array\n");
			exit(1);
		}
		for (item = sprites->child; item != NULL; item = next) {
			next = item->next;
			cJSON_AddItemToArray(all, cJSON_DetachItemViaPointer(sprites, item));
		}
		token = jstr(j, "next_continuation_token", NULL);
		if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "has_more")) ||
		    token == NULL || *token == '\0') {
			cJSON_Delete(j);
			break;
		}
		e = client_escape(token);
		path = xasprintf("/v1/sprites?continuation_token=%s", e);
		free(e);
		cJSON_Delete(j);
	}
	free(path);
	return all;
}

/*
 * The list's SLEEP-IN column: how long until an awake sprite sleeps if
 * nothing uses it; "held" while a session keeps it awake, "off" when it
 * never sleeps, "-" when it is not awake.
 */
static void
list_sleep_in(const cJSON *s, char *out, size_t n)
{
	const cJSON *in = cJSON_GetObjectItemCaseSensitive(s, "sleep_in_s");
	const cJSON *idle = cJSON_GetObjectItemCaseSensitive(s, "idle_s");
	const cJSON *sessions = cJSON_GetObjectItemCaseSensitive(s, "sessions");

	if (cJSON_IsNumber(in))
		duration_format((int64_t)in->valuedouble, out, n);
	else if (strcmp(jstr(s, "status", ""), "running") != 0)
		snprintf(out, n, "-");
	else if (cJSON_IsNumber(idle) && idle->valuedouble == 0)
		snprintf(out, n, "off");
	else if (cJSON_IsNumber(sessions) && sessions->valuedouble > 0)
		snprintf(out, n, "held");
	else
		snprintf(out, n, "-");
}

static int
cmd_list(struct cli *cli, const struct cmd *cmd, int argc, char **argv)
{
	static const struct option longs[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	enum { COLS = 5 };
	static const char *heads[COLS] = { "NAME", "STATE", "SLEEP-IN", "IMAGE", "CREATED" };
	int json = 0, ch, n, i, k, w[COLS];
	const cJSON *s;
	char **cells;
	cJSON *all;

	while ((ch = next_opt(cmd, argc, argv, ":jh", longs)) != -1) {
		if (ch == 'j')
			json = 1;
	}
	if (optind != argc)
		usage_error(cmd, "unexpected '%s'", argv[optind]);
	all = list_all(cli);
	if (json) {
		print_json(all);
		cJSON_Delete(all);
		return 0;
	}
	n = cJSON_GetArraySize(all);
	cells = xcalloc((size_t)(n + 1) * COLS, sizeof *cells);
	for (k = 0; k < COLS; k++)
		cells[k] = xstrdup(heads[k]);
	i = 1;
	cJSON_ArrayForEach(s, all) {
		char age[32], sleep_in[32];

		format_age_since(jstr(s, "created_at", NULL), (int64_t)time(NULL), age, sizeof age);
		list_sleep_in(s, sleep_in, sizeof sleep_in);
		cells[i * COLS + 0] = xstrdup(jstr(s, "name", "-"));
		cells[i * COLS + 1] = xstrdup(jstr(s, "status", "-"));
		cells[i * COLS + 2] = xstrdup(sleep_in);
		cells[i * COLS + 3] = xstrdup(jstr(s, "image", "-"));
		cells[i * COLS + 4] = xstrdup(age);
		i++;
	}
	for (k = 0; k < COLS; k++) {
		w[k] = 0;
		for (i = 0; i <= n; i++) {
			int l = (int)strlen(cells[i * COLS + k]);

			if (l > w[k])
				w[k] = l;
		}
	}
	for (i = 0; i <= n; i++) {
		for (k = 0; k < COLS - 1; k++)
			printf("%-*s  ", w[k], cells[i * COLS + k]);
		printf("%s\n", cells[i * COLS + k]);
	}
	for (i = 0; i < (n + 1) * COLS; i++)
		free(cells[i]);
	free(cells);
	cJSON_Delete(all);
	return 0;
}

static void
print_time_field(const char *label, const char *t)
{
	char age[32];

	if (t == NULL)
		return;
	format_age_since(t, (int64_t)time(NULL), age, sizeof age);
	printf("%-9s%s (%s)\n", label, t, age);
}

static int
cmd_info(struct cli *cli, const struct cmd *cmd, int argc, char **argv)
{
	static const struct option longs[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const cJSON *config, *v, *labels;
	int json = 0, ch;
	char *path;
	cJSON *j;

	while ((ch = next_opt(cmd, argc, argv, ":jh", longs)) != -1) {
		if (ch == 'j')
			json = 1;
	}
	if (optind == argc)
		usage_error(cmd, "missing NAME");
	if (argc - optind > 1)
		usage_error(cmd, "unexpected '%s'", argv[optind + 1]);
	path = sprite_path(argv[optind], NULL);
	j = request(cli, "GET", path, NULL, TIMEOUT_READ_S);
	free(path);
	if (json) {
		print_json(j);
		cJSON_Delete(j);
		return 0;
	}
	printf("%-9s%s\n", "name", jstr(j, "name", "-"));
	printf("%-9s%s\n", "id", jstr(j, "id", "-"));
	printf("%-9s%s\n", "state", jstr(j, "status", "-"));
	printf("%-9s%s\n", "image", jstr(j, "image", "-"));
	config = cJSON_GetObjectItemCaseSensitive(j, "config");
	v = cJSON_GetObjectItemCaseSensitive(config, "ram_mb");
	if (cJSON_IsNumber(v))
		printf("%-9s%d MiB\n", "memory", v->valueint);
	v = cJSON_GetObjectItemCaseSensitive(config, "cpus");
	if (cJSON_IsNumber(v))
		printf("%-9s%d\n", "cpus", v->valueint);
	print_time_field("created", jstr(j, "created_at", NULL));
	print_time_field("updated", jstr(j, "updated_at", NULL));
	labels = cJSON_GetObjectItemCaseSensitive(j, "labels");
	if (cJSON_GetArraySize(labels) > 0) {
		int first = 1;

		printf("%-9s", "labels");
		cJSON_ArrayForEach(v, labels) {
			if (cJSON_IsString(v)) {
				printf("%s%s", first ? "" : ", ", v->valuestring);
				first = 0;
			}
		}
		printf("\n");
	}
	if (jstr(j, "last_error", NULL) != NULL)
		printf("%-9s%s\n", "error", jstr(j, "last_error", NULL));
	cJSON_Delete(j);
	return 0;
}

/* Shows a sprite's settings as `sprig config` prints them. */
static void
config_print(const cJSON *j)
{
	const cJSON *idle = cJSON_GetObjectItemCaseSensitive(j, "idle_s");
	const cJSON *own = cJSON_GetObjectItemCaseSensitive(j, "idle_s_own");
	char d[32];

	if (!cJSON_IsNumber(idle))
		return;
	if (idle->valuedouble == 0)
		snprintf(d, sizeof d, "off");
	else
		duration_format((int64_t)idle->valuedouble, d, sizeof d);
	printf("idle=%s%s\n", d, cJSON_IsNumber(own) ? "" : " (the daemon's default)");
}

static int
cmd_config(struct cli *cli, const struct cmd *cmd, int argc, char **argv)
{
	static const struct option longs[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	cJSON *body = NULL, *j;
	const char *name;
	char *path;
	int64_t secs;
	int ch;

	while ((ch = next_opt(cmd, argc, argv, ":h", longs)) != -1)
		;
	if (optind == argc)
		usage_error(cmd, "missing NAME");
	name = argv[optind++];
	for (; optind < argc; optind++) {
		const char *kv = argv[optind];

		if (strncmp(kv, "idle=", 5) != 0)
			usage_error(cmd, "unknown setting '%s' (try idle=5m, idle=off, "
			    "idle=default)", kv);
		if (body == NULL)
			body = cJSON_CreateObject();
		cJSON_DeleteItemFromObjectCaseSensitive(body, "idle_s");
		if (strcmp(kv + 5, "off") == 0)
			cJSON_AddNumberToObject(body, "idle_s", 0);
		else if (strcmp(kv + 5, "default") == 0)
			cJSON_AddNullToObject(body, "idle_s");
		else if (duration_parse(kv + 5, &secs) == 0)
			cJSON_AddNumberToObject(body, "idle_s", (double)secs);
		else
			usage_error(cmd, "idle must be a duration (30s, 5m, 2h), off or "
			    "default, not '%s'", kv + 5);
	}
	if (body != NULL) {
		path = sprite_path(name, "config");
		j = request(cli, "POST", path, body, TIMEOUT_READ_S);
		cJSON_Delete(body);
	} else {
		path = sprite_path(name, NULL);
		j = request(cli, "GET", path, NULL, TIMEOUT_READ_S);
	}
	config_print(j);
	cJSON_Delete(j);
	free(path);
	return 0;
}

/* A whole number from 0 to a million, and nothing after it. */
static int
parse_count(const char *s, int64_t *ret)
{
	char *end;
	long long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > 1000000)
		return -EINVAL;
	*ret = v;
	return 0;
}

static void
settings_print(const cJSON *j)
{
	const cJSON *awake = cJSON_GetObjectItemCaseSensitive(j, "max_awake");
	const cJSON *mem = cJSON_GetObjectItemCaseSensitive(j, "max_memory_mb");

	if (cJSON_IsNumber(awake) && awake->valuedouble > 0)
		printf("max-awake=%.0f\n", awake->valuedouble);
	else
		printf("max-awake=off\n");
	if (cJSON_IsNumber(mem) && mem->valuedouble > 0)
		printf("max-memory=%.0fM\n", mem->valuedouble);
	else
		printf("max-memory=off\n");
}

static int
cmd_settings(struct cli *cli, const struct cmd *cmd, int argc, char **argv)
{
	static const struct option longs[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	cJSON *body = NULL, *j;
	int64_t v;
	int ch;

	while ((ch = next_opt(cmd, argc, argv, ":h", longs)) != -1)
		;
	for (; optind < argc; optind++) {
		const char *kv = argv[optind], *val = strchr(kv, '=');
		const char *key;

		if (val == NULL)
			usage_error(cmd, "settings are KEY=VALUE, not '%s'", kv);
		val++;
		if (strncmp(kv, "max-awake=", 10) == 0) {
			key = "max_awake";
			if (strcmp(val, "off") == 0)
				v = 0;
			else if (parse_count(val, &v) < 0)
				usage_error(cmd, "max-awake is a number of sprites or off, not '%s'",
				    val);
		} else if (strncmp(kv, "max-memory=", 11) == 0) {
			key = "max_memory_mb";
			if (strcmp(val, "off") == 0)
				v = 0;
			else if (size_parse_mib(val, &v) < 0)
				usage_error(cmd, "max-memory is a size (512M, 4G) or off, not '%s'",
				    val);
		} else {
			usage_error(cmd, "unknown setting '%s' (max-awake, max-memory)", kv);
		}
		if (body == NULL)
			body = cJSON_CreateObject();
		cJSON_DeleteItemFromObjectCaseSensitive(body, key);
		cJSON_AddNumberToObject(body, key, (double)v);
	}
	j = request(cli, body ? "POST" : "GET", "/v1/settings", body, TIMEOUT_READ_S);
	cJSON_Delete(body);
	settings_print(j);
	cJSON_Delete(j);
	return 0;
}

/* Prints one event line of the follow stream. */
static void
events_line(const char *line, size_t len, void *arg)
{
	int json = *(int *)arg;
	cJSON *ev = cJSON_ParseWithLength(line, len);
	char *text;

	if (json) {
		printf("%.*s\n", (int)len, line);
	} else if (ev != NULL && (text = events_render(ev)) != NULL) {
		fputs(text, stdout);
		free(text);
	}
	fflush(stdout);
	cJSON_Delete(ev);
}

static int
cmd_events(struct cli *cli, const struct cmd *cmd, int argc, char **argv)
{
	static const struct option longs[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int follow = 0, json = 0, ch, r;
	char *path, *cause = NULL, *e = NULL, *text;
	const cJSON *ev;
	cJSON *all;

	while ((ch = next_opt(cmd, argc, argv, ":fjh", longs)) != -1) {
		if (ch == 'f')
			follow = 1;
		else if (ch == 'j')
			json = 1;
	}
	if (argc - optind > 1)
		usage_error(cmd, "unexpected '%s'", argv[optind + 1]);
	if (optind < argc)
		e = client_escape(argv[optind]);
	path = xasprintf("/v1/events%s%s%s", e ? "?sprite=" : "", e ? e : "",
	    follow ? (e ? "&follow=1" : "?follow=1") : "");
	free(e);
	if (!follow) {
		all = request(cli, "GET", path, NULL, TIMEOUT_READ_S);
		if (json)
			print_json(all);
		cJSON_ArrayForEach(ev, all) {
			if (!json && (text = events_render(ev)) != NULL) {
				fputs(text, stdout);
				free(text);
			}
		}
		cJSON_Delete(all);
		free(path);
		return 0;
	}
	r = client_stream(cli_client(cli), path, events_line, &json, &cause);
	free(path);
	if (r < 0) {
		fprintf(stderr, "sprig: %s\n", cause);
		free(cause);
		return 1;
	}
	fprintf(stderr, "sprig: the daemon ended the stream (it stopped)\n");
	return 1;
}

static int
cmd_exec(struct cli *cli, const struct cmd *cmd, int argc, char **argv)
{
	static const struct option longs[] = {
		{ "tty", no_argument, NULL, 't' },
		{ "detach", no_argument, NULL, 'd' },
		{ "env", required_argument, NULL, 'e' },
		{ "dir", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct exec_opts o = { 0 };
	char **env = NULL, *cause = NULL;
	int ch, status;

	while ((ch = next_opt(cmd, argc, argv, ":tde:w:h", longs)) != -1) {
		switch (ch) {
		case 't':
			o.tty = 1;
			break;
		case 'd':
			o.detach = 1;
			break;
		case 'e':
			if (strchr(optarg, '=') == NULL || *optarg == '=')
				usage_error(cmd, "'%s' is not K=V", optarg);
			env = xreallocarray(env, (size_t)o.nenv + 1, sizeof *env);
			env[o.nenv++] = optarg;
			break;
		case 'w':
			o.dir = optarg;
			break;
		}
	}
	if (optind == argc)
		usage_error(cmd, "missing NAME");
	if (argc - optind < 2)
		usage_error(cmd, "missing the command to run");
	o.name = argv[optind];
	o.argv = argv + optind + 1;
	o.argc = argc - optind - 1;
	o.env = env;
	status = exec_run(cli_client(cli), &o, &cause);
	fflush(stdout);
	if (cause != NULL)
		fprintf(stderr, "sprig: %s\n", cause);
	free(cause);
	free(env);
	return status;
}

static int
cmd_proxy(struct cli *cli, const struct cmd *cmd, int argc, char **argv)
{
	static const struct option longs[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint16_t local, remote;
	char *cause = NULL;
	int status;

	while (next_opt(cmd, argc, argv, ":h", longs) != -1)
		;
	if (argc - optind < 2)
		usage_error(cmd, "%s", optind == argc ? "missing NAME" : "missing the PORT");
	if (argc - optind > 2)
		usage_error(cmd, "unexpected '%s'", argv[optind + 2]);
	if (proxy_parse_ports(argv[optind + 1], &local, &remote, &cause) < 0)
		usage_error(cmd, "%s", cause);
	status = proxy_run(cli_client(cli), argv[optind], local, remote, &cause);
	if (cause != NULL)
		fprintf(stderr, "sprig: %s\n", cause);
	free(cause);
	return status;
}

/* GET .../exec: the sprite's sessions (exits 1 with the cause on failure). */
static cJSON *
sessions_get(struct cli *cli, const char *name)
{
	char *path = sprite_path(name, "exec");
	cJSON *j = request(cli, "GET", path, NULL, TIMEOUT_READ_S);

	free(path);
	return j;
}

/* sprig sessions kill NAME ID [-s SIG] */
static int
sessions_kill(struct cli *cli, const char *name, const char *id, const char *sig)
{
	char *e = client_escape(id), *es = sig ? client_escape(sig) : NULL;
	char *action = xasprintf("exec/%s/kill%s%s", e, es ? "?signal=" : "", es ? es : "");
	char *path = sprite_path(name, action), *cause = NULL;
	struct buf resp;
	int r, code = -1;

	buf_init(&resp);
	r = client_request_text(cli_client(cli), "POST", path, NULL, TIMEOUT_CHANGE_S, &resp,
	    &cause);
	if (r == 0)
		r = session_kill_result((const char *)buf_head(&resp), buf_used(&resp), &code,
		    &cause);
	buf_done(&resp);
	free(path);
	free(action);
	free(es);
	free(e);
	if (r < 0) {
		fprintf(stderr, "sprig: %s\n", cause);
		free(cause);
		return 1;
	}
	if (code >= 0)
		printf("session %s ended: exit %d\n", id, code);
	else
		printf("session %s ended\n", id);
	return 0;
}

static int
cmd_sessions(struct cli *cli, const struct cmd *cmd, int argc, char **argv)
{
	static const struct option longs[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "signal", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sig = NULL;
	int json = 0, ch;
	char *text;
	cJSON *j;

	while ((ch = next_opt(cmd, argc, argv, ":js:h", longs)) != -1) {
		if (ch == 'j')
			json = 1;
		else if (ch == 's')
			sig = optarg;
	}
	if (argc - optind == 3 && strcmp(argv[optind], "kill") == 0)
		return sessions_kill(cli, argv[optind + 1], argv[optind + 2], sig);
	if (argc - optind != 1)
		usage_error(cmd, "expected NAME, or kill NAME ID");
	j = sessions_get(cli, argv[optind]);
	if (json) {
		print_json(cJSON_GetObjectItemCaseSensitive(j, "sessions"));
	} else {
		text = session_table(j, (int64_t)time(NULL));
		fputs(*text ? text : "no sessions\n", stdout);
		free(text);
	}
	cJSON_Delete(j);
	return 0;
}

static int
cmd_attach(struct cli *cli, const struct cmd *cmd, int argc, char **argv)
{
	static const struct option longs[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct exec_opts o = { 0 };
	char *cause = NULL;
	int status, tty;
	cJSON *j;

	while (next_opt(cmd, argc, argv, ":h", longs) != -1)
		;
	if (argc - optind != 2)
		usage_error(cmd, "expected NAME ID");
	o.name = argv[optind];
	o.session = argv[optind + 1];
	/* Raw mode or not is the session's: ask before connecting. */
	j = sessions_get(cli, o.name);
	tty = session_tty(j, o.session);
	cJSON_Delete(j);
	if (tty < 0) {
		fprintf(stderr, "sprig: sprite \"%s\" has no session \"%s\" ('sprig sessions "
		    "%s' lists them)\n", o.name, o.session, o.name);
		return 1;
	}
	o.tty = tty;
	status = exec_run(cli_client(cli), &o, &cause);
	fflush(stdout);
	if (cause != NULL)
		fprintf(stderr, "sprig: %s\n", cause);
	free(cause);
	return status;
}

static int
cmd_lifecycle(struct cli *cli, const struct cmd *cmd, int argc, char **argv)
{
	const char *name = one_name(cmd, argc, argv);
	int destroy = strcmp(cmd->name, "destroy") == 0;
	char *path = sprite_path(name, destroy ? NULL : cmd->name);
	cJSON *j;

	j = request(cli, destroy ? "DELETE" : "POST", path, NULL, TIMEOUT_CHANGE_S);
	printf("%s\n", name);
	cJSON_Delete(j);
	free(path);
	return 0;
}

/* sprig checkpoint rm NAME VERSION */
static int
checkpoint_rm(struct cli *cli, const char *name, const char *version)
{
	char *e = client_escape(version), *action = xasprintf("checkpoints/%s", e);
	char *path = sprite_path(name, action);
	cJSON *j;

	j = request(cli, "DELETE", path, NULL, TIMEOUT_CHANGE_S);
	printf("deleted %s %s\n", name, version);
	cJSON_Delete(j);
	free(path);
	free(action);
	free(e);
	return 0;
}

static int
cmd_checkpoint(struct cli *cli, const struct cmd *cmd, int argc, char **argv)
{
	static const struct option longs[] = {
		{ "comment", required_argument, NULL, 'm' },
		{ "memory", no_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *comment = NULL;
	cJSON *body = NULL;
	char *path, *id;
	int ch, memory = 0;

	/* "rm" is a valid sprite name too: it is the subcommand only when
	 * exactly NAME and a checkpoint id follow. */
	if (argc == 4 && strcmp(argv[1], "rm") == 0 && timeline_is_version(argv[3]))
		return checkpoint_rm(cli, argv[2], argv[3]);
	while ((ch = next_opt(cmd, argc, argv, ":m:Mh", longs)) != -1) {
		if (ch == 'm')
			comment = optarg;
		else if (ch == 'M')
			memory = 1;
	}
	if (optind == argc)
		usage_error(cmd, "missing NAME");
	if (argc - optind > 1 && strcmp(argv[optind], "rm") == 0)
		usage_error(cmd, "to delete a checkpoint: sprig checkpoint rm NAME VERSION "
		    "(VERSION like v3)");
	if (argc - optind > 1)
		usage_error(cmd, "unexpected '%s'", argv[optind + 1]);
	if (comment != NULL || memory) {
		body = cJSON_CreateObject();
		if (comment != NULL)
			cJSON_AddStringToObject(body, "comment", comment);
		if (memory)
			cJSON_AddTrueToObject(body, "memory");
	}
	path = sprite_path(argv[optind], "checkpoint");
	id = request_stream(cli, path, body);
	printf("%s\n", id);
	free(id);
	free(path);
	cJSON_Delete(body);
	return 0;
}

static int
cmd_checkpoints(struct cli *cli, const struct cmd *cmd, int argc, char **argv)
{
	static const struct option longs[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int json = 0, ch;
	char *path, *text;
	cJSON *j;

	while ((ch = next_opt(cmd, argc, argv, ":jh", longs)) != -1) {
		if (ch == 'j')
			json = 1;
	}
	if (optind == argc)
		usage_error(cmd, "missing NAME");
	if (argc - optind > 1)
		usage_error(cmd, "unexpected '%s'", argv[optind + 1]);
	path = sprite_path(argv[optind], "checkpoints");
	j = request(cli, "GET", path, NULL, TIMEOUT_READ_S);
	free(path);
	if (!cJSON_IsArray(j)) {
		fprintf(stderr, "sprig: the daemon's checkpoint list is not an array\n");
		exit(1);
	}
	if (json) {
		print_json(j);
	} else if (cJSON_GetArraySize(j) == 0) {
		printf("%s has no checkpoints yet ('sprig checkpoint %s' makes one)\n",
		    argv[optind], argv[optind]);
	} else {
		text = timeline_render(j, (int64_t)time(NULL));
		fputs(text, stdout);
		free(text);
	}
	cJSON_Delete(j);
	return 0;
}

static int
cmd_restore(struct cli *cli, const struct cmd *cmd, int argc, char **argv)
{
	static const struct option longs[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *e, *action, *path, *id;

	while (next_opt(cmd, argc, argv, ":h", longs) != -1)
		;
	if (optind == argc)
		usage_error(cmd, "missing NAME");
	if (argc - optind < 2)
		usage_error(cmd, "missing VERSION (a checkpoint id like v3, or undo)");
	if (argc - optind > 2)
		usage_error(cmd, "unexpected '%s'", argv[optind + 2]);
	e = client_escape(argv[optind + 1]);
	action = xasprintf("checkpoints/%s/restore", e);
	path = sprite_path(argv[optind], action);
	id = request_stream(cli, path, NULL);
	printf("restored %s to %s\n", argv[optind], id);
	free(id);
	free(path);
	free(action);
	free(e);
	return 0;
}

static int
cmd_fork(struct cli *cli, const struct cmd *cmd, int argc, char **argv)
{
	static const struct option longs[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *src = NULL, *version = NULL, *path;
	const char *origin;
	cJSON *body, *j;
	int i;

	while (next_opt(cmd, argc, argv, ":h", longs) != -1)
		;
	if (optind == argc)
		usage_error(cmd, "missing NAME");
	if (argc - optind < 2)
		usage_error(cmd, "missing NEW, the name of the new sprite");
	if (timeline_split_ref(argv[optind], &src, &version) < 0)
		usage_error(cmd, "'%s' is not NAME or NAME@VERSION", argv[optind]);
	path = sprite_path(src, "fork");
	for (i = optind + 1; i < argc; i++) {
		body = cJSON_CreateObject();
		cJSON_AddStringToObject(body, "name", argv[i]);
		if (version != NULL)
			cJSON_AddStringToObject(body, "checkpoint", version);
		j = request(cli, "POST", path, body, TIMEOUT_CHANGE_S);
		cJSON_Delete(body);
		/* Without a version the daemon checkpointed the source for the
		 * first fork ("origin": "src@v4"): the others start there too. */
		origin = jstr(j, "origin", NULL);
		if (version == NULL && origin != NULL && strrchr(origin, '@') != NULL)
			version = xstrdup(strrchr(origin, '@') + 1);
		printf("%s\n", jstr(j, "name", argv[i]));
		fflush(stdout);
		cJSON_Delete(j);
	}
	free(path);
	free(version);
	free(src);
	return 0;
}

static int
cmd_template(struct cli *cli, const struct cmd *cmd, int argc, char **argv)
{
	static const struct option longs[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *src = NULL, *version = NULL, *path, *e;
	const char *sub;
	cJSON *body, *j;

	while (next_opt(cmd, argc, argv, ":h", longs) != -1)
		;
	if (optind == argc)
		usage_error(cmd, "missing save or rm");
	sub = argv[optind++];
	if (strcmp(sub, "rm") == 0) {
		if (optind == argc)
			usage_error(cmd, "missing TNAME, the template to delete");
		if (argc - optind > 1)
			usage_error(cmd, "unexpected '%s'", argv[optind + 1]);
		e = client_escape(argv[optind]);
		path = xasprintf("/v1/templates/%s", e);
		free(e);
		j = request(cli, "DELETE", path, NULL, TIMEOUT_CHANGE_S);
		printf("%s\n", argv[optind]);
		cJSON_Delete(j);
		free(path);
		return 0;
	}
	if (strcmp(sub, "save") != 0)
		usage_error(cmd, "no subcommand '%s' (save or rm; 'sprig templates' lists them)",
		    sub);
	if (argc - optind < 2)
		usage_error(cmd, optind == argc ? "missing TNAME, the template's name" :
		    "missing NAME[@VERSION], the sprite (and checkpoint) to save");
	if (argc - optind > 2)
		usage_error(cmd, "unexpected '%s'", argv[optind + 2]);
	if (timeline_split_ref(argv[optind + 1], &src, &version) < 0)
		usage_error(cmd, "'%s' is not NAME or NAME@VERSION", argv[optind + 1]);
	body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "name", argv[optind]);
	cJSON_AddStringToObject(body, "sprite", src);
	if (version != NULL)
		cJSON_AddStringToObject(body, "checkpoint", version);
	j = request(cli, "POST", "/v1/templates", body, TIMEOUT_CHANGE_S);
	printf("%s\n", jstr(j, "name", argv[optind]));
	cJSON_Delete(j);
	cJSON_Delete(body);
	free(src);
	free(version);
	return 0;
}

static int
cmd_templates(struct cli *cli, const struct cmd *cmd, int argc, char **argv)
{
	static const struct option longs[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int json = 0, ch;
	char *text;
	cJSON *j;

	while ((ch = next_opt(cmd, argc, argv, ":jh", longs)) != -1) {
		if (ch == 'j')
			json = 1;
	}
	if (optind != argc)
		usage_error(cmd, "unexpected '%s'", argv[optind]);
	j = request(cli, "GET", "/v1/templates", NULL, TIMEOUT_READ_S);
	if (!cJSON_IsArray(j)) {
		fprintf(stderr, "sprig: the daemon's template list is not an array\n");
		exit(1);
	}
	if (json) {
		print_json(j);
	} else if (cJSON_GetArraySize(j) == 0) {
		printf("no templates yet ('sprig template save TNAME NAME@VERSION' makes one)\n");
	} else {
		text = template_render(j, (int64_t)time(NULL));
		fputs(text, stdout);
		free(text);
	}
	cJSON_Delete(j);
	return 0;
}

static int
cmd_token(struct cli *cli, const struct cmd *cmd, int argc, char **argv)
{
	static const struct option longs[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int json = 0, ch, left;
	const char *sub;
	char *path, *e, *text;
	cJSON *body, *j;

	while ((ch = next_opt(cmd, argc, argv, ":jh", longs)) != -1) {
		if (ch == 'j')
			json = 1;
	}
	if (optind == argc)
		usage_error(cmd, "missing create, list or revoke");
	sub = argv[optind++];
	left = argc - optind;
	if (strcmp(sub, "create") == 0 && left <= 1) {
		body = cJSON_CreateObject();
		if (left == 1)
			cJSON_AddStringToObject(body, "name", argv[optind]);
		j = request(cli, "POST", "/v1/tokens", body, TIMEOUT_READ_S);
		printf("%s\n", jstr(j, "token", ""));
		if (isatty(1))
			fprintf(stderr, "sprig: token \"%s\" is shown only now; send it as "
			    "\"Authorization: Bearer <token>\"\n", jstr(j, "name", "?"));
		cJSON_Delete(body);
	} else if (strcmp(sub, "list") == 0 && left == 0) {
		j = request(cli, "GET", "/v1/tokens", NULL, TIMEOUT_READ_S);
		if (json) {
			print_json(j);
		} else if (cJSON_GetArraySize(j) == 0) {
			printf("no tokens yet ('sprig token create' makes one)\n");
		} else {
			text = token_render(j, (int64_t)time(NULL));
			fputs(text, stdout);
			free(text);
		}
	} else if (strcmp(sub, "revoke") == 0 && left == 1) {
		e = client_escape(argv[optind]);
		path = xasprintf("/v1/tokens/%s", e);
		j = request(cli, "DELETE", path, NULL, TIMEOUT_READ_S);
		printf("%s\n", argv[optind]);
		free(e);
		free(path);
	} else if (strcmp(sub, "create") == 0 || strcmp(sub, "list") == 0 ||
	    strcmp(sub, "revoke") == 0) {
		usage_error(cmd, left == 0 ? "missing NAME" : "unexpected '%s'",
		    argv[argc - 1]);
	} else {
		usage_error(cmd, "no subcommand '%s' (create, list or revoke)", sub);
	}
	cJSON_Delete(j);
	return 0;
}

/* Becomes sprig's program @name with @argv. Returns only when it cannot,
 * with the exit status. */
static int
exec_program(const char *name, char **argv)
{
	char *prog = client_program(name);

	execv(prog, argv);
	fprintf(stderr, "sprig: cannot run %s: %s\n", prog, strerror(errno));
	free(prog);
	return 1;
}

static int
cmd_serve(struct cli *cli, const struct cmd *cmd, int argc, char **argv)
{
	char *cause = NULL, **nargv;
	int i, r;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			cmd_help_text(cmd);
			return 0;
		}
		if (strcmp(argv[i], "--stop") != 0)
			continue;
		if (argc != 2)
			usage_error(cmd, "--stop takes nothing else");
		r = client_stop_daemon(cli_client(cli), &cause);
		/* main returns straight from here, past its client_done. */
		client_done(&cli->client);
		cli->have_client = 0;
		if (r < 0) {
			fprintf(stderr, "sprig: %s\n", cause);
			free(cause);
			return 1;
		}
		if (r == 0)
			fprintf(stderr, "sprig: the daemon is not running\n");
		return 0;
	}
	/* The daemon's command line still reads `sprig serve ...` (what
	 * --stop looks for). */
	nargv = xcalloc((size_t)argc + 2, sizeof *nargv);
	nargv[0] = "sprig";
	memcpy(nargv + 1, argv, (size_t)argc * sizeof *argv);
	r = exec_program("sprig-daemon", nargv);
	free(nargv);
	return r;
}

static int
cmd_version(struct cli *cli, const struct cmd *cmd, int argc, char **argv)
{
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		cmd_help_text(cmd);
		return 0;
	}
	if (argc > 1)
		usage_error(cmd, "unexpected '%s'", argv[1]);
	printf("sprig %s\n", SPRIG_VERSION);
	return 0;
}

static void help_all(void);

static int
cmd_help(struct cli *cli, const struct cmd *cmd, int argc, char **argv)
{
	const struct cmd *c;

	if (argc < 2) {
		help_all();
		return 0;
	}
	c = cmd_find(argv[1]);
	if (c == NULL || argc > 2)
		usage_error(cmd, "no command '%s'", argv[1]);
	cmd_help_text(c);
	return 0;
}

static const struct cmd cmds[] = {
	{ "create", cmd_create, "create NAME [--image IMG | --template T]",
	  "Creates a sprite, waits until it runs and prints its name.",
	  "The first sprite of an image also waits for the image to be built. A sprite\n"
	  "made from a template starts with the template's disk, shared copy-on-write.",
	  "  -i, --image IMG      the image to start from (default: the daemon's, minimal)\n"
	  "  -t, --template T     the template to start from (see 'sprig templates')\n" },
	{ "list", cmd_list, "list [--json]",
	  "Lists the sprites: name, state, image and age.", NULL,
	  "  -j, --json   print the API's sprites array\n" },
	{ "config", cmd_config, "config NAME [idle=DURATION|off|default]",
	  "Shows or changes a sprite's settings.",
	  "idle: how long the sprite may go unused before it sleeps (30s, 5m, 2h), off to\n"
	  "keep it awake, default for the daemon's (SPRIG_IDLE, 30 s unless set).",
	  NULL },
	{ "events", cmd_events, "events [NAME] [-f] [--json]",
	  "Shows the daemon's event log: what each sprite did and why it failed.",
	  "With -f, waits for new events and prints them as they happen.",
	  "  -f, --follow  keep printing events as they happen\n"
	  "  -j, --json    the API's event objects\n" },
	{ "settings", cmd_settings, "settings [max-awake=N|off] [max-memory=SIZE|off]",
	  "Shows or changes the daemon's limits.",
	  "Past a limit, starting or waking a sprite puts the least recently used idle\n"
	  "sprite to sleep instead of refusing. Sprites in use (an open session, an\n"
	  "operation, a keepalive, idle=off) are never put to sleep for it.",
	  NULL },
	{ "info", cmd_info, "info NAME [--json]",
	  "Shows one sprite.", NULL,
	  "  -j, --json   print the API's sprite object\n" },
	{ "exec", cmd_exec, "exec [-t] [-d] [-e K=V]... [-w DIR] NAME -- CMD [ARG...]",
	  "Runs a command in a sprite and exits with its status.",
	  "stdin is forwarded; stdout and stderr are kept apart. Status 255 means the\n"
	  "connection to the daemon was lost. With -d the command starts as a session\n"
	  "that outlives this client: its id is printed and 'sprig attach' rejoins it.",
	  "  -t, --tty         give the command a terminal (raw mode here, resizes follow)\n"
	  "  -d, --detach      start a detachable session, print its id and return\n"
	  "  -e, --env K=V     set an environment variable (repeatable)\n"
	  "  -w, --dir DIR     working directory\n" },
	{ "proxy", cmd_proxy, "proxy NAME PORT | proxy NAME LOCAL:REMOTE",
	  "Forwards a local port to a port inside a sprite until Ctrl-C.",
	  "Listens on 127.0.0.1:LOCAL (PORT alone: the same port on both ends; LOCAL 0:\n"
	  "any free port) and prints the address. Each connection made there reaches\n"
	  "localhost:REMOTE inside the sprite, waking it if it sleeps; while one is\n"
	  "open the sprite stays awake. A refused connection is said on stderr and\n"
	  "the local one closed.",
	  NULL },
	{ "sessions", cmd_sessions, "sessions NAME [--json] | sessions kill NAME ID [-s SIG]",
	  "Lists a sprite's detachable sessions, or ends one.",
	  "A session runs on with no client attached (its recent output is kept for the\n"
	  "next attach) and keeps its sprite awake. An exited one stays listed with its\n"
	  "exit code for 10 minutes, or until attached or killed. kill sends SIGTERM\n"
	  "(or SIG), then SIGKILL after 10 s, and prints the exit code.",
	  "  -j, --json        print the API's sessions array\n"
	  "  -s, --signal SIG  the signal kill sends first (TERM, INT, KILL, ...)\n" },
	{ "attach", cmd_attach, "attach NAME ID",
	  "Attaches to a detachable session: its recent output, then live.",
	  "A tty session puts this terminal in raw mode; C-\\ detaches and leaves it\n"
	  "running. Exits with the command's status if it ends while attached.",
	  NULL },
	{ "start", cmd_lifecycle, "start NAME", "Starts a stopped sprite.", NULL, NULL },
	{ "stop", cmd_lifecycle, "stop NAME", "Stops a sprite; its disk is kept.", NULL, NULL },
	{ "sleep", cmd_lifecycle, "sleep NAME",
	  "Puts a running sprite to sleep: its memory is saved and its VM exits.",
	  "A sleeping sprite costs no process memory; 'sprig wake' or an exec resumes it\n"
	  "where it was, processes and all.", NULL },
	{ "wake", cmd_lifecycle, "wake NAME",
	  "Wakes a sleeping sprite where it was (a stopped one is started).",
	  "If the saved memory cannot be loaded, the sprite boots from its disk instead.",
	  NULL },
	{ "destroy", cmd_lifecycle, "destroy NAME", "Destroys a sprite and its disk.", NULL, NULL },
	{ "checkpoint", cmd_checkpoint,
	  "checkpoint NAME [-m COMMENT] [--memory] | checkpoint rm NAME VERSION",
	  "Checkpoints a sprite's disk as it is now and prints the checkpoint's id (v3).",
	  "A running sprite goes on running; the checkpoint costs milliseconds and copies\n"
	  "no data. With --memory the guest's memory is saved too (the sprite must be\n"
	  "running): restoring it resumes the processes where they were.\n"
	  "'checkpoint rm NAME VERSION' deletes checkpoint VERSION (like v3) of NAME;\n"
	  "it is refused while a template uses it. (A sprite called \"rm\" is still\n"
	  "checkpointed by 'sprig checkpoint rm'.)",
	  "  -m, --comment COMMENT   a note to find it by\n"
	  "  -M, --memory            save the guest's memory and processes too\n" },
	{ "checkpoints", cmd_checkpoints, "checkpoints NAME [--json]",
	  "Shows a sprite's timeline: its checkpoints as a tree.",
	  "A checkpoint's newest child goes on below it; older ones hang under it as\n"
	  "branches (\"+- v2\"). \"*\" marks the checkpoint the sprite's disk grew from;\n"
	  "(auto) marks those sprig made before a restore.",
	  "  -j, --json   print the API's checkpoints array\n" },
	{ "restore", cmd_restore, "restore NAME VERSION|undo",
	  "Puts a sprite's disk back to a checkpoint (a running sprite reboots on it).",
	  "The state being left is checkpointed first; 'restore NAME undo' goes back to it.",
	  NULL },
	{ "fork", cmd_fork, "fork NAME[@VERSION] NEW [NEW...]",
	  "Makes new sprites whose disks start at a checkpoint of NAME, and boots them.",
	  "Without @VERSION, NAME is checkpointed as it is now and every NEW starts there.\n"
	  "Each NEW is printed once it runs; the first failure stops the rest.",
	  NULL },
	{ "template", cmd_template, "template save TNAME NAME[@VERSION] | template rm TNAME",
	  "Saves a checkpoint as a template for new sprites, or deletes a template.",
	  "Without @VERSION, NAME is checkpointed as it is now and that is saved.\n"
	  "'sprig create NEW --template TNAME' makes a sprite from it. Deleting a template\n"
	  "leaves the sprites made from it as they are.",
	  NULL },
	{ "templates", cmd_templates, "templates [--json]",
	  "Lists the templates: name, where each came from (sprite@checkpoint) and age.", NULL,
	  "  -j, --json   print the API's templates array\n" },
	{ "token", cmd_token, "token create [NAME] | token list [--json] | token revoke NAME",
	  "Makes, lists or revokes the bearer tokens of the API's TCP listener.",
	  "'create' prints the new token: only its hash is kept, so it is shown once.\n"
	  "Clients send it as \"Authorization: Bearer <token>\" to the address given to\n"
	  "'sprig serve --listen'. The unix socket needs no token.",
	  "  -j, --json   (list) print the API's tokens array\n" },
	{ "serve", cmd_serve, "serve [--stop] [--listen ADDR:PORT [--listen-any]]",
	  "Runs the daemon in the foreground.",
	  "Other commands start it when needed (unless SPRIG_NO_AUTOSTART is set),\n"
	  "logging to $SPRIG_HOME/daemon.log. --listen (or SPRIG_LISTEN=ADDR:PORT in the\n"
	  "daemon's environment) serves the API on TCP too, for the Sprites SDKs and curl:\n"
	  "every request there needs a token from 'sprig token create'.",
	  "  --stop               stop the running daemon and wait until it is gone\n"
	  "  --listen ADDR:PORT   serve the API on TCP too (like 127.0.0.1:7777)\n"
	  "  --listen-any         allow an ADDR beyond loopback (it warns)\n" },
	{ "version", cmd_version, "version", "Prints sprig's version.", NULL, NULL },
	{ "help", cmd_help, "help [COMMAND]", "Shows the commands, or one command's help.", NULL,
	  NULL },
};

static const struct cmd *
cmd_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	}
	return NULL;
}

static void
help_all(void)
{
	size_t i;

	printf("usage: sprig [--host ssh://[USER@]BOX[:PORT][/PATH]] COMMAND [ARGS]\n\n"
	    "sprig runs sprites: persistent Linux VMs with names, on this machine.\n\n");
	for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		printf("  sprig %s\n      %s\n", cmds[i].usage, cmds[i].summary);
	printf("\nState lives in $SPRIG_HOME (default ~/.local/share/sprig). "
	    "'sprig COMMAND --help' says more.\n");
	printf("\n--host (or SPRIG_HOST) runs the command, or the dashboard, against the daemon on\n"
	    "another machine through SSH: host keys from ~/.ssh/known_hosts, keys from the\n"
	    "ssh-agent or ~/.ssh. PATH is the remote daemon's socket (default: the remote\n"
	    "user's ~/.local/share/sprig/api.sock).\n");
}

int
main(int argc, char **argv)
{
	struct cli cli = { 0 };
	const struct cmd *cmd;
	int status, host_given = 0;

	cli.host = getenv("SPRIG_HOST");
	while (argc > 1 && strncmp(argv[1], "--host", 6) == 0) {
		if (strncmp(argv[1], "--host=", 7) == 0) {
			cli.host = argv[1] + 7;
			argv++;
			argc--;
		} else if (strcmp(argv[1], "--host") == 0 && argc > 2) {
			cli.host = argv[2];
			argv += 2;
			argc -= 2;
		} else {
			fprintf(stderr, "sprig: --host needs ssh://[USER@]BOX[:PORT][/PATH] "
			    "(see 'sprig help')\n");
			return 2;
		}
		host_given = 1;
	}
	if (cli.host != NULL && *cli.host == '\0')
		cli.host = NULL;	/* SPRIG_HOST= or --host '': this machine */
	if (argc < 2 && (!isatty(0) || !isatty(1))) {
		help_all();	/* the dashboard needs a terminal */
		return 0;
	}
	if (argc < 2) {
		/* The dashboard finds the host where a person can set it too. */
		if (cli.host != NULL)
			setenv("SPRIG_HOST", cli.host, 1);
		else
			unsetenv("SPRIG_HOST");
		return exec_program("sprig-dashboard", (char *[]){ "sprig", NULL });
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return cmd_help(&cli, cmd_find("help"), 1, argv + 1);
	if (strcmp(argv[1], "--version") == 0)
		return cmd_version(&cli, cmd_find("version"), 1, argv + 1);
	cmd = cmd_find(argv[1]);
	if (cmd == NULL) {
		fprintf(stderr, "sprig: unknown command '%s' (see 'sprig help')\n", argv[1]);
		return 2;
	}
	if (cmd->fn == cmd_serve) {
		/* The daemon runs here; SPRIG_HOST is for the commands that
		 * talk to one. */
		if (host_given && cli.host != NULL) {
			fprintf(stderr, "sprig serve: --host is for the other commands; run "
			    "'sprig serve' on that machine\n");
			return 2;
		}
		cli.host = NULL;
		return cmd_serve(&cli, cmd, argc - 1, argv + 1);
	}
	/* A reader that goes away is an EPIPE to handle, not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	status = cmd->fn(&cli, cmd, argc - 1, argv + 1);
	if (cli.have_client)
		client_done(&cli.client);
	return status;
}
