/*
 * sprite_env: the host's end of `sprite-env`, the command a program inside
 * a sprite runs to act on the sprite itself (guest/sprite-env.c sends its
 * arguments as they are). The commands and their help live here, so a
 * newer daemon teaches an older guest new ones:
 *
 *	sprite-env checkpoints [list]
 *	sprite-env checkpoints create [-m COMMENT]
 *	sprite-env checkpoints restore ID	(the sprite restarts on it)
 *	sprite-env keepalive DURATION|off	(stay awake, unused, that long)
 *
 * Each request gets one answer: an exit status and the text to print. The
 * answer goes back over the sprite's agent channel, looked up again when
 * it is due (a checkpoint takes a while; the VM may be gone by then).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_internal.h"
#include "common/buf.h"
#include "common/loop.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "vmm/agent.h"
#include "vmm/vmm.h"

/* How long a restore asked from inside waits, so the answer reaches the
 * program before the VM goes down under it. */
#define SPRITE_ENV_RESTORE_DELAY_MS	300

static const char usage[] =
    "usage: sprite-env COMMAND\n"
    "\n"
    "Acts on this sprite through sprig, the host that runs it.\n"
    "\n"
    "  checkpoints [list]             this sprite's checkpoints (* marks where it is)\n"
    "  checkpoints create [-m TEXT]   checkpoint the disk now, live; prints its id\n"
    "  checkpoints restore ID         put the disk back to ID (v3, or undo); the\n"
    "                                 sprite restarts on it\n"
    "  keepalive DURATION|off         stay awake that long (30s, 10m, 2h) even if\n"
    "                                 nothing connects: for long unattended runs\n";

/* A request waiting on core. */
struct env_req {
	struct core	*core;
	char		*name;
	uint32_t	 id;
	char		*version;	/* restore's */
	char		*comment;	/* checkpoint's */
	uint64_t	 timer;
};

static void
env_answer(struct core *c, const char *name, uint32_t id, int status, const char *text)
{
	struct sprite *s = sprite_find(c, name);
	struct agent *a;

	if (s == NULL || s->vm == NULL)
		return;	/* the guest is gone: nobody to tell */
	a = c->vmm->agent(s->vm);
	if (a != NULL)
		agent_reply(a, id, status, text);
}

static void
env_req_free(struct env_req *q)
{
	free(q->name);
	free(q->version);
	free(q->comment);
	free(q);
}

static void
env_list(struct core *c, struct sprite *s, uint32_t id)
{
	struct checkpoint_row *rows = NULL;
	struct sprite_row row;
	size_t n = 0;
	char *cause = NULL, when[32];
	struct buf b;

	if (store_sprite_get_id(c->store, s->id, &row) < 0) {
		env_answer(c, s->name, id, 1, "sprite-env: cannot read this sprite\n");
		return;
	}
	if (core_checkpoints(c, s->name, &rows, &n, &cause) < 0) {
		char *msg = xasprintf("sprite-env: %s\n", cause);

		env_answer(c, s->name, id, 1, msg);
		free(msg);
		free(cause);
		sprite_row_done(&row);
		return;
	}
	buf_init(&b);
	if (n == 0)
		buf_add_printf(&b, "no checkpoints yet: sprite-env checkpoints create\n");
	for (size_t i = 0; i < n; i++) {
		format_rfc3339(rows[i].created_at, when, sizeof when);
		buf_add_printf(&b, "%c v%-4d %s  %s%s\n",
		    rows[i].id == row.head_checkpoint_id ? '*' : ' ', rows[i].version, when,
		    rows[i].comment ? rows[i].comment : "",
		    rows[i].mem_dir ? " (memory)" : "");
	}
	env_answer(c, s->name, id, 0, buf_cstr(&b));
	buf_done(&b);
	checkpoint_rows_free(rows, n);
	sprite_row_done(&row);
}

static void
env_checkpointed(void *arg, int err, const char *cause, int version)
{
	struct env_req *q = arg;
	char *text;

	if (err < 0)
		text = xasprintf("sprite-env: the checkpoint failed: %s\n", cause);
	else
		text = xasprintf("v%d\n", version);
	env_answer(q->core, q->name, q->id, err < 0 ? 1 : 0, text);
	free(text);
	env_req_free(q);
}

static void
env_create_fail(struct env_req *q, char *cause)
{
	char *text = xasprintf("sprite-env: %s\n", cause);

	env_answer(q->core, q->name, q->id, 1, text);
	free(text);
	free(cause);
	env_req_free(q);
}

static void
env_create_idle(void *arg, int err, const char *why)
{
	struct env_req *q = arg;
	char *cause = NULL;

	if (err < 0) {
		env_create_fail(q, xstrdup(why ? why : strerror(-err)));
		return;
	}
	if (core_checkpoint(q->core, q->name, q->comment, env_checkpointed, q, &cause) < 0)
		env_create_fail(q, cause);
}

static void
env_create(struct core *c, struct sprite *s, uint32_t id, int argc, char **argv)
{
	const char *comment = NULL;
	struct env_req *q;
	char *cause = NULL, *text;
	int i;

	for (i = 0; i < argc; i++) {
		if ((strcmp(argv[i], "-m") == 0 || strcmp(argv[i], "--comment") == 0) &&
		    i + 1 < argc) {
			comment = argv[++i];
		} else {
			text = xasprintf("sprite-env: unexpected \"%s\"\n\n%s", argv[i], usage);
			env_answer(c, s->name, id, 2, text);
			free(text);
			return;
		}
	}
	q = xcalloc(1, sizeof *q);
	q->core = c;
	q->name = xstrdup(s->name);
	q->id = id;
	q->comment = comment != NULL ? xstrdup(comment) : NULL;
	/* Like an API request: wait for an operation under way (a merge after
	 * the last checkpoint, say) rather than fail. */
	if (core_wait_idle(c, s->name, env_create_idle, q, &cause) < 0)
		env_create_fail(q, cause);
}

static void
env_restored(void *arg, int err, const char *cause)
{
	/* The guest that asked has restarted (or the restore failed, and
	 * the event log says so): nothing left to answer. */
}

static void
env_restore_idle(void *arg, int err, const char *why)
{
	struct env_req *q = arg;
	char *cause = NULL;

	if (err < 0)
		core_event(q->core, q->name, "error", "restore asked from inside failed: %s",
		    why ? why : strerror(-err));
	else if (core_restore(q->core, q->name, q->version, env_restored, NULL, &cause) < 0)
		core_event(q->core, q->name, "error", "restore asked from inside failed: %s",
		    cause);
	free(cause);
	env_req_free(q);
}

static void
env_restore_now(struct loop *l, uint64_t timer, void *arg)
{
	struct env_req *q = arg;
	char *cause = NULL;

	q->timer = 0;
	if (core_wait_idle(q->core, q->name, env_restore_idle, q, &cause) < 0) {
		core_event(q->core, q->name, "error", "restore asked from inside failed: %s",
		    cause);
		free(cause);
		env_req_free(q);
	}
}

static void
env_restore(struct core *c, struct sprite *s, uint32_t id, const char *version)
{
	struct checkpoint_row *rows = NULL;
	size_t n = 0;
	char *cause = NULL, *text;
	struct env_req *q;
	int v, found = strcmp(version, "undo") == 0;

	/* Check it now: once the answer is out there is nobody to tell. */
	v = core_parse_version(version);
	if (!found && v >= 0 && core_checkpoints(c, s->name, &rows, &n, &cause) == 0) {
		for (size_t i = 0; i < n; i++)
			found |= rows[i].version == v;
		checkpoint_rows_free(rows, n);
	}
	free(cause);
	if (!found) {
		text = xasprintf("sprite-env: no checkpoint \"%s\" (see sprite-env checkpoints)\n",
		    version);
		env_answer(c, s->name, id, 1, text);
		free(text);
		return;
	}
	text = xasprintf("restoring %s: this sprite restarts now\n", version);
	env_answer(c, s->name, id, 0, text);
	free(text);
	q = xcalloc(1, sizeof *q);
	q->core = c;
	q->name = xstrdup(s->name);
	q->version = xstrdup(version);
	q->timer = loop_add_timer(c->loop, SPRITE_ENV_RESTORE_DELAY_MS, env_restore_now, q);
}

static void
env_keepalive(struct core *c, struct sprite *s, uint32_t id, const char *arg)
{
	char d[32], *text;
	int64_t secs;

	if (strcmp(arg, "off") == 0) {
		idle_keepalive(s, 0);
		env_answer(c, s->name, id, 0, "keepalive off: the sprite sleeps when idle\n");
		core_event(c, s->name, "keepalive", "keepalive off (from inside)");
		return;
	}
	if (duration_parse(arg, &secs) < 0 || secs == 0) {
		text = xasprintf("sprite-env: keepalive wants a duration (30s, 10m, 2h) or off, "
		    "not \"%s\"\n", arg);
		env_answer(c, s->name, id, 2, text);
		free(text);
		return;
	}
	idle_keepalive(s, (uint64_t)secs * 1000);
	duration_format(secs, d, sizeof d);
	text = xasprintf("kept awake for %s\n", d);
	env_answer(c, s->name, id, 0, text);
	free(text);
	core_event(c, s->name, "keepalive", "kept awake for %s (from inside)", d);
}

void
sprite_env_request(struct vm *vm, uint32_t id, int argc, char **argv, void *arg)
{
	struct sprite *s = arg;
	struct core *c = s->core;
	const char *cmd = argc > 0 ? argv[0] : "help";
	const char *sub = argc > 1 ? argv[1] : "list";
	char *text;

	/* Asking is using: the sprite does not fall asleep under it. */
	core_touch(c, s->name);
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		env_answer(c, s->name, id, argc == 0 ? 2 : 0, usage);
	} else if (strcmp(cmd, "checkpoints") == 0 && strcmp(sub, "list") == 0 && argc <= 2) {
		env_list(c, s, id);
	} else if (strcmp(cmd, "checkpoints") == 0 && strcmp(sub, "create") == 0) {
		env_create(c, s, id, argc - 2, argv + 2);
	} else if (strcmp(cmd, "checkpoints") == 0 && strcmp(sub, "restore") == 0 && argc == 3) {
		env_restore(c, s, id, argv[2]);
	} else if (strcmp(cmd, "keepalive") == 0 && argc == 2) {
		env_keepalive(c, s, id, argv[1]);
	} else {
		text = xasprintf("sprite-env: unknown command \"%s%s%s\"\n\n%s", cmd,
		    argc > 1 ? " " : "", argc > 1 ? argv[1] : "", usage);
		env_answer(c, s->name, id, 2, text);
		free(text);
	}
}
