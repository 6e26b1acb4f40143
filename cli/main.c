/*
 * main: the sprig command. Parses arguments (getopt_long per command), runs
 * one command against the daemon's API, and decides what a person sees:
 * results on stdout, "sprig: <message>" on stderr with status 1 for errors,
 * one line and status 2 for bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "api/serve.h"
#include "cli/client.h"
#include "cli/exec.h"
#include "cli/format.h"
#include "cli/template.h"
#include "cli/timeline.h"
#include "common/buf.h"
#include "common/xmalloc.h"

#ifndef SPRIG_VERSION
#define SPRIG_VERSION "0.1.0-dev"
#endif

#define TIMEOUT_READ_S		60
#define TIMEOUT_CHANGE_S	(20 * 60)	/* the first create builds an image */

struct cli {
	struct client	 client;
	int		 have_client;
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
		if (client_init(&cli->client, &cause) < 0) {
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

static int
cmd_list(struct cli *cli, const struct cmd *cmd, int argc, char **argv)
{
	static const struct option longs[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *heads[4] = { "NAME", "STATE", "IMAGE", "CREATED" };
	int json = 0, ch, n, i, k, w[4];
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
	cells = xcalloc((size_t)(n + 1) * 4, sizeof *cells);
	for (k = 0; k < 4; k++)
		cells[k] = xstrdup(heads[k]);
	i = 1;
	cJSON_ArrayForEach(s, all) {
		char age[32];

		format_age_since(jstr(s, "created_at", NULL), (int64_t)time(NULL), age, sizeof age);
		cells[i * 4 + 0] = xstrdup(jstr(s, "name", "-"));
		cells[i * 4 + 1] = xstrdup(jstr(s, "status", "-"));
		cells[i * 4 + 2] = xstrdup(jstr(s, "image", "-"));
		cells[i * 4 + 3] = xstrdup(age);
		i++;
	}
	for (k = 0; k < 4; k++) {
		w[k] = 0;
		for (i = 0; i <= n; i++) {
			int l = (int)strlen(cells[i * 4 + k]);

			if (l > w[k])
				w[k] = l;
		}
	}
	for (i = 0; i <= n; i++) {
		printf("%-*s  %-*s  %-*s  %s\n", w[0], cells[i * 4], w[1], cells[i * 4 + 1],
		    w[2], cells[i * 4 + 2], cells[i * 4 + 3]);
	}
	for (i = 0; i < (n + 1) * 4; i++)
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

static int
cmd_exec(struct cli *cli, const struct cmd *cmd, int argc, char **argv)
{
	static const struct option longs[] = {
		{ "tty", no_argument, NULL, 't' },
		{ "env", required_argument, NULL, 'e' },
		{ "dir", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct exec_opts o = { 0 };
	char **env = NULL, *cause = NULL;
	int ch, status;

	while ((ch = next_opt(cmd, argc, argv, ":te:w:h", longs)) != -1) {
		switch (ch) {
		case 't':
			o.tty = 1;
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
cmd_serve(struct cli *cli, const struct cmd *cmd, int argc, char **argv)
{
	char *cause = NULL;
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
	return serve_main(argc, argv);
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
	{ "info", cmd_info, "info NAME [--json]",
	  "Shows one sprite.", NULL,
	  "  -j, --json   print the API's sprite object\n" },
	{ "exec", cmd_exec, "exec [-t] [-e K=V]... [-w DIR] NAME -- CMD [ARG...]",
	  "Runs a command in a sprite and exits with its status.",
	  "stdin is forwarded; stdout and stderr are kept apart. Status 255 means the\n"
	  "connection to the daemon was lost.",
	  "  -t, --tty         give the command a terminal (raw mode here, resizes follow)\n"
	  "  -e, --env K=V     set an environment variable (repeatable)\n"
	  "  -w, --dir DIR     working directory\n" },
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
	{ "serve", cmd_serve, "serve [--stop]",
	  "Runs the daemon in the foreground.",
	  "Other commands start it when needed (unless SPRIG_NO_AUTOSTART is set),\n"
	  "logging to $SPRIG_HOME/daemon.log.",
	  "  --stop   stop the running daemon and wait until it is gone\n" },
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

	printf("usage: sprig COMMAND [ARGS]\n\nsprig runs sprites: persistent Linux VMs with names, "
	    "on this machine.\n\n");
	for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		printf("  sprig %s\n      %s\n", cmds[i].usage, cmds[i].summary);
	printf("\nState lives in $SPRIG_HOME (default ~/.local/share/sprig). "
	    "'sprig COMMAND --help' says more.\n");
}

int
main(int argc, char **argv)
{
	struct cli cli = { 0 };
	const struct cmd *cmd;
	int status;

	if (argc < 2) {
		help_all();
		return 0;
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
	if (cmd->fn == cmd_serve)
		return cmd_serve(&cli, cmd, argc - 1, argv + 1);
	/* A reader that goes away is an EPIPE to handle, not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	status = cmd->fn(&cli, cmd, argc - 1, argv + 1);
	if (cli.have_client)
		client_done(&cli.client);
	curl_global_cleanup();
	return status;
}
