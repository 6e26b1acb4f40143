/*
 * qemu: runs a sprite's VM as a QEMU process. It owns the process (watched
 * with a pidfd), its QMP connection, its agent channel and its console, which
 * it copies into a bounded serial log.
 *
 * QEMU is started paused (-S) in its own session, on listening sockets that
 * sprig binds and passes down as fds, so the daemon can connect at once and
 * a later daemon can reconnect by path after a crash. Once QMP, the agent
 * channel and the console are connected the VM is let go (cont); it is ready
 * when the guest's agent says HELLO.
 */
#include "qemu.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "agent.h"
#include "qmp.h"
#include "common/loop.h"
#include "common/proc.h"
#include "common/trace.h"
#include "common/util.h"
#include "common/xmalloc.h"

/* How long a boot whose agent channel closed waits for QEMU's exit. */
#define QEMU_CHANNEL_GRACE_MS	500
/* How long a clean shutdown may take before QMP quit, then SIGKILL. */
#define QEMU_STOP_GRACE_MS	10000
#define QEMU_QUIT_GRACE_MS	5000
#define QEMU_ADOPT_TIMEOUT_MS	10000
/* TCG translation cache, MiB: QEMU's default (1 GiB) would dwarf the guest. */
#define QEMU_TCG_TB_SIZE	64

enum qemu_phase {
	QEMU_BOOTING,	/* started or adopted, not yet ready */
	QEMU_READY,
	QEMU_FAILING,	/* failed before ready: killed, waiting for the exit */
	QEMU_GONE,	/* the process exited */
};

struct vm {
	struct loop		*loop;
	char			*name;
	char			*run_dir;
	const struct vm_callbacks *cb;
	void			*arg;
	enum qemu_phase		 phase;
	int			 adopted;
	struct proc		*proc;
	pid_t			 pid;
	uint64_t		 pid_start;
	struct qmp		*qmp;
	struct agent		*agent;
	int			 console_fd;
	int			 serial_fd;
	off_t			 serial_size;
	uint64_t		 timer;
	int			 stopping;	/* 0, 1 shutdown sent, 2 quit sent, 3 killed */
	char			*fail_cause;
	char			*lost_cause;	/* a channel broke during boot (qemu_fail_lost) */
	char			*top_node;	/* the block node of the writable top layer */
	char			*incoming;	/* the state being resumed from, while booting */
	int			 load_later;	/* the RAM file is not whole yet: see load */
	int			 qmp_up;	/* QMP is ready for the incoming migration */
	int			 released;
	int			 saved;		/* paused with its state saved */
	struct qemu_save	*save;		/* a save under way */
	struct qemu_stream	*stream;	/* a merge (block-stream job) under way */
	struct qemu_disk	*disks;		/* checkpoint disks attached (or being) */
};

/* A save under way: stop, snapshot the disk, migrate the device state. */
struct qemu_save {
	struct vm	*vm;
	int		 fd;		/* the state file, ours */
	char		*node;		/* the new top's node, with a disk file */
	char		*disk_file;
	vm_done_fn	 fn;
	void		*arg;
};

/* A snapshot in flight. */
struct qemu_snapshot {
	struct vm	*vm;
	char		*node;
	vm_done_fn	 fn;
	void		*arg;
};

/* A block-stream job in flight; QEMU knows it by QEMU_STREAM_JOB. */
struct qemu_stream {
	vm_done_fn	 fn;
	void		*arg;
};
#define QEMU_STREAM_JOB	"merge"

/* A checkpoint disk: a scsi-hd device QEMU knows by @id over a
 * read-only block node (qemu_disk_attach). */
struct qemu_disk {
	char			*id;
	char			*node;
	int			 gone;	/* unplugged; the node closes at DEVICE_DELETED */
	struct qemu_disk	*next;
};

/* A disk attach in flight: blockdev-add, then device_add. */
struct qemu_disk_op {
	struct vm	*vm;
	char		*id;
	char		*node;
	int		 added;		/* blockdev-add succeeded */
	char		*cause;		/* the first failure */
	vm_done_fn	 fn;
	void		*arg;
};

#define QEMU_SCSI_BUS	"scsi0"

static const struct agent_callbacks qemu_agent_cb;
static void qemu_stream_end(struct vm *vm, int err, const char *cause);
static void qemu_added_devices_argv(char ***v, size_t *n);
static void qemu_disks_free(struct vm *vm);
static void qemu_disks_drop(struct vm *vm, qmp_reply_fn fn);
static void qemu_disk_deleted(struct vm *vm, const cJSON *data);
static const struct qmp_callbacks qemu_qmp_cb;

static char *qemu_preload;

void
qemu_set_preload(const char *path)
{
	free(qemu_preload);
	qemu_preload = path != NULL && access(path, R_OK) == 0 ? xstrdup(path) : NULL;
}

/* "LD_PRELOAD=...": ours first, then any the daemon was given. */
static char *
qemu_preload_env(void)
{
	const char *had = getenv("LD_PRELOAD");

	if (qemu_preload == NULL)
		return NULL;
	if (had != NULL && *had != '\0')
		return xasprintf("LD_PRELOAD=%s %s", qemu_preload, had);
	return xasprintf("LD_PRELOAD=%s", qemu_preload);
}

/*
 * "GLIBC_TUNABLES=...": glibc's malloc asks for transparent huge pages for
 * QEMU's heap, then any tunables the daemon was given (a later setting of
 * the same name wins). Where page faults are dear, as in the VM this was
 * measured in (12 us each), QEMU's start-up faults in its heap 4 KiB at a
 * time; with huge pages a resume from spawn to the guest's HELLO took
 * 113 ms instead of 145. It costs nothing where THP is off.
 */
static char *
qemu_tunables_env(void)
{
	const char *had = getenv("GLIBC_TUNABLES");

	if (had != NULL && *had != '\0')
		return xasprintf("GLIBC_TUNABLES=glibc.malloc.hugetlb=1:%s", had);
	return xstrdup("GLIBC_TUNABLES=glibc.malloc.hugetlb=1");
}

const char *
qemu_binary(void)
{
	const char *env = getenv("SPRIG_QEMU");

	return env != NULL && *env != '\0' ? env : "qemu-system-x86_64";
}

static const char *
qemu_accel(void)
{
	static const char *accel;
	int fd;

	if (accel != NULL)
		return accel;
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	accel = fd >= 0 ? "kvm" : "tcg";
	if (fd >= 0)
		close(fd);
	return accel;
}

/* The x86 boot protocol: setup sectors at 0x1f1, "HdrS" at 0x202. */
#define BZIMAGE_SETUP_SECTS	0x1f1
#define BZIMAGE_MAGIC_OFF	0x202
#define BZIMAGE_TAIL		4096	/* kept past the setup code, for the loader */

char *
qemu_resume_kernel(const char *kernel)
{
	/* The setup code is at most 128 sectors (its count is one byte). */
	char buf[129 * 512 + BZIMAGE_TAIL], *head = xasprintf("%s.head", kernel);
	size_t setup;
	ssize_t len;
	struct stat st;
	int fd;

	if (stat(head, &st) == 0)
		return head;
	fd = open(kernel, O_RDONLY | O_CLOEXEC);
	len = fd < 0 ? -1 : pread(fd, buf, sizeof buf, 0);
	if (fd >= 0)
		close(fd);
	if (len < BZIMAGE_MAGIC_OFF + 4 || memcmp(buf + BZIMAGE_MAGIC_OFF, "HdrS", 4) != 0)
		goto fail;
	/* The setup sectors, 0 meaning 4, then the boot sector itself. */
	setup = (unsigned char)buf[BZIMAGE_SETUP_SECTS];
	setup = ((setup != 0 ? setup : 4) + 1) * 512 + BZIMAGE_TAIL;
	if (setup > (size_t)len || write_file_atomic(head, buf, setup, 0644) < 0)
		goto fail;
	return head;
fail:
	free(head);
	return NULL;
}

static void
argv_add(char ***v, size_t *n, char *s)
{
	*v = xreallocarray(*v, *n + 2, sizeof **v);
	(*v)[(*n)++] = s;
	(*v)[*n] = NULL;
}

char **
qemu_build_argv(const struct vm_config *cfg, const char *binary,
    const char *accel, int qmp_fd, int agent_fd, int console_fd)
{
	char **v = NULL, *node;
	size_t n = 0;
	int kvm = strcmp(accel, "kvm") == 0;

	argv_add(&v, &n, xstrdup(binary));
	argv_add(&v, &n, xstrdup("-name"));
	argv_add(&v, &n, xasprintf("sprig-%s,process=sprig-%s", cfg->name, cfg->name));
	argv_add(&v, &n, xstrdup("-nodefaults"));
	argv_add(&v, &n, xstrdup("-no-user-config"));
	argv_add(&v, &n, xstrdup("-display"));
	argv_add(&v, &n, xstrdup("none"));
	argv_add(&v, &n, xstrdup("-no-reboot"));
	argv_add(&v, &n, xstrdup("-S"));
	argv_add(&v, &n, xstrdup("-sandbox"));
	argv_add(&v, &n, xstrdup("on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"));
	argv_add(&v, &n, xstrdup("-object"));
	argv_add(&v, &n, xasprintf("memory-backend-file,id=ram0,size=%dM,mem-path=%s,share=on",
	    cfg->mem_mb, cfg->ram_file));
	argv_add(&v, &n, xstrdup("-machine"));
	argv_add(&v, &n, xstrdup("q35,vmport=off,smbus=off,sata=off,memory-backend=ram0"));
	argv_add(&v, &n, xstrdup("-accel"));
	argv_add(&v, &n, kvm ? xstrdup("kvm") : xasprintf("tcg,tb-size=%d", QEMU_TCG_TB_SIZE));
	argv_add(&v, &n, xstrdup("-cpu"));
	argv_add(&v, &n, xstrdup(kvm ? "host" : "max,-erms"));
	argv_add(&v, &n, xstrdup("-m"));
	argv_add(&v, &n, xasprintf("%d", cfg->mem_mb));
	argv_add(&v, &n, xstrdup("-smp"));
	argv_add(&v, &n, xasprintf("%d", cfg->cpus));
	argv_add(&v, &n, xstrdup("-kernel"));
	argv_add(&v, &n, xstrdup(cfg->kernel));
	argv_add(&v, &n, xstrdup("-initrd"));
	argv_add(&v, &n, xstrdup(cfg->initrd));
	argv_add(&v, &n, xstrdup("-append"));
	argv_add(&v, &n, xasprintf("console=ttyS0 root=/dev/vda rw panic=-1 quiet "
	    "sprig.hostname=%s", cfg->name));
	node = qemu_node_name(cfg->disk);
	argv_add(&v, &n, xstrdup("-blockdev"));
	argv_add(&v, &n, xasprintf("{\"driver\":\"qcow2\",\"node-name\":\"%s\","
	    "\"file\":{\"driver\":\"file\",\"filename\":\"%s\"}}", node, cfg->disk));
	argv_add(&v, &n, xstrdup("-device"));
	argv_add(&v, &n, xasprintf("virtio-blk-pci,drive=%s", node));
	free(node);
	argv_add(&v, &n, xstrdup("-chardev"));
	argv_add(&v, &n, xasprintf("socket,id=qmp,fd=%d,server=on,wait=off", qmp_fd));
	argv_add(&v, &n, xstrdup("-mon"));
	argv_add(&v, &n, xstrdup("chardev=qmp,mode=control"));
	argv_add(&v, &n, xstrdup("-device"));
	argv_add(&v, &n, xstrdup("virtio-serial-pci,id=vser0"));
	argv_add(&v, &n, xstrdup("-chardev"));
	argv_add(&v, &n, xasprintf("socket,id=agent,fd=%d,server=on,wait=off", agent_fd));
	argv_add(&v, &n, xstrdup("-device"));
	argv_add(&v, &n, xstrdup("virtserialport,bus=vser0.0,chardev=agent,name=" AGENT_PORT_NAME));
	argv_add(&v, &n, xstrdup("-chardev"));
	argv_add(&v, &n, xasprintf("socket,id=console,fd=%d,server=on,wait=off", console_fd));
	argv_add(&v, &n, xstrdup("-serial"));
	argv_add(&v, &n, xstrdup("chardev:console"));
	qemu_added_devices_argv(&v, &n);
	if (cfg->incoming != NULL) {
		argv_add(&v, &n, xstrdup("-incoming"));
		argv_add(&v, &n, xstrdup("defer"));
	}
	return v;
}

/*
 * Devices added since the first release, last and in the order they came,
 * so the devices before each keep the PCI slots they had without it: a
 * state saved by a QEMU without it still loads, and the guest goes on
 * without seeing it until it next boots.
 *
 * - The SCSI controller checkpoint disks are plugged into
 *   (qemu_disk_attach). SCSI hot-plug needs no ACPI or PCIe port, and an
 *   unplugged disk is gone from the machine when device_del returns.
 * - A balloon that is never inflated, for free page reporting alone: the
 *   guest hands back memory it has freed, and QEMU punches it out of the
 *   RAM file. The file then holds what the guest uses rather than all it
 *   ever touched, and every memory checkpoint, restore, fork and sleep
 *   copies or flushes that much less.
 */
static void
qemu_added_devices_argv(char ***v, size_t *n)
{
	argv_add(v, n, xstrdup("-device"));
	argv_add(v, n, xstrdup("virtio-scsi-pci,id=" QEMU_SCSI_BUS));
	argv_add(v, n, xstrdup("-device"));
	argv_add(v, n, xstrdup("virtio-balloon-pci,id=balloon0,free-page-reporting=on"));
}

char *
qemu_node_name(const char *file)
{
	const char *base = strrchr(file, '/');
	size_t n;

	base = base ? base + 1 : file;
	n = strcspn(base, ".");
	/* QEMU's node names: a letter, then at most 30 more of [A-Za-z0-9_.-]. */
	if (n > 30)
		n = 30;
	return xasprintf("n%.*s", (int)n, base);
}

void
qemu_argv_free(char **argv)
{
	for (size_t i = 0; argv != NULL && argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}

static char *
qemu_path(const struct vm *vm, const char *file)
{
	return xasprintf("%s/%s", vm->run_dir, file);
}

/* The last lines a person needs to see why a boot failed. */
static char *
qemu_tail(const struct vm *vm, const char *file, size_t max)
{
	char *path = qemu_path(vm, file), *tail = read_file_tail(path, max), *nl;

	free(path);
	if (tail == NULL || *tail == '\0') {
		free(tail);
		return NULL;
	}
	/* Start at a line boundary, drop control characters. */
	nl = strchr(tail, '\n');
	if (nl != NULL && strlen(tail) >= max - 1)
		memmove(tail, nl + 1, strlen(nl + 1) + 1);
	for (char *p = tail; *p; p++) {
		if ((unsigned char)*p < 0x20 && *p != '\n')
			*p = ' ';
	}
	return tail;
}

static void
qemu_close_channels(struct vm *vm)
{
	qmp_free(vm->qmp);
	vm->qmp = NULL;
	agent_free(vm->agent);
	vm->agent = NULL;
	if (vm->console_fd >= 0) {
		loop_del_fd(vm->loop, vm->console_fd);
		close(vm->console_fd);
		vm->console_fd = -1;
	}
	loop_del_timer(vm->loop, vm->timer);
	vm->timer = 0;
}

static void qemu_fail_lost(struct vm *vm, char *cause);

/* Boot failed: kill QEMU and report once its exit has been seen. */
static void
qemu_fail(struct vm *vm, char *cause)
{
	if (vm->phase != QEMU_BOOTING) {
		free(cause);
		return;
	}
	vm->phase = QEMU_FAILING;
	vm->fail_cause = cause;
	qemu_close_channels(vm);
	if (vm->proc != NULL)
		proc_kill(vm->proc, SIGKILL);
}

static void
qemu_on_exit(struct proc *p, int status, void *arg)
{
	struct vm *vm = arg;
	enum qemu_phase phase = vm->phase;
	char *why, *tail;

	trace("qemu %d: exited", (int)vm->pid);
	vm->proc = NULL;
	vm->phase = QEMU_GONE;
	qemu_close_channels(vm);
	if (vm->stream != NULL)
		qemu_stream_end(vm, -ECONNRESET, "the VM exited during the merge");
	if (phase == QEMU_FAILING) {
		/* The owner releases @vm in the callback: keep the cause apart. */
		why = vm->fail_cause;
		vm->fail_cause = NULL;
		vm->cb->ready(vm, -EIO, why, vm->arg);
		free(why);
		return;
	}
	if (phase == QEMU_BOOTING) {
		tail = qemu_tail(vm, QEMU_LOG, 2048);
		if (tail == NULL)
			tail = qemu_tail(vm, QEMU_SERIAL_LOG, 2048);
		why = xasprintf("QEMU %s while the sprite was booting%s%s",
		    proc_status_str(status), tail ? ":\n" : "", tail ? tail : "");
		free(tail);
		/* Killed from outside (not a crash of its own): say so, so that a
		 * wake keeps the saved state for another try. */
		vm->cb->ready(vm, status != -1 && WIFSIGNALED(status) &&
		    WTERMSIG(status) == SIGKILL ? -ECONNABORTED : -EIO, why, vm->arg);
		free(why);
		return;
	}
	if (vm->stopping)
		why = xstrdup("stopped");
	else
		why = xasprintf("QEMU %s", proc_status_str(status));
	vm->cb->exited(vm, why, vm->arg);
	free(why);
}

static void
qemu_boot_timeout(struct loop *l, uint64_t id, void *arg)
{
	struct vm *vm = arg;
	char *tail = qemu_tail(vm, QEMU_SERIAL_LOG, 2048);

	vm->timer = 0;
	qemu_fail(vm, xasprintf("the sprite did not boot in time%s%s",
	    tail ? "; the console's last output:\n" : " (the console printed nothing)",
	    tail ? tail : ""));
	free(tail);
}

/* Appends console output to serial.log, rotating it at the bound. */
static void
qemu_console_read(struct loop *l, int fd, int events, void *arg)
{
	struct vm *vm = arg;
	char data[16384];
	ssize_t n;

	n = read(fd, data, sizeof data);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		loop_del_fd(l, fd);
		close(fd);
		vm->console_fd = -1;
		return;
	}
	if (vm->serial_fd >= 0 && vm->serial_size + n > QEMU_SERIAL_LOG_MAX) {
		char *path = qemu_path(vm, QEMU_SERIAL_LOG), *old = xasprintf("%s.old", path);

		close(vm->serial_fd);
		rename(path, old);
		vm->serial_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
		vm->serial_size = 0;
		free(path);
		free(old);
	}
	if (vm->serial_fd >= 0 && write(vm->serial_fd, data, (size_t)n) == n)
		vm->serial_size += n;
}

static int
qemu_open_serial_log(struct vm *vm)
{
	char *path = qemu_path(vm, QEMU_SERIAL_LOG);
	struct stat st;

	vm->serial_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	free(path);
	if (vm->serial_fd < 0)
		return -errno;
	vm->serial_size = fstat(vm->serial_fd, &st) == 0 ? st.st_size : 0;
	return 0;
}

static int
qemu_connect_channels(struct vm *vm)
{
	char *path;
	int fd;

	path = qemu_path(vm, QEMU_AGENT_SOCK);
	fd = unix_connect(path, 1);
	free(path);
	if (fd < 0)
		return fd;
	vm->agent = agent_new(vm->loop, fd, &qemu_agent_cb, vm);

	path = qemu_path(vm, QEMU_CONSOLE_SOCK);
	fd = unix_connect(path, 1);
	free(path);
	if (fd >= 0 && loop_add_fd(vm->loop, fd, LOOP_READ, qemu_console_read, vm) == 0)
		vm->console_fd = fd;
	else if (fd >= 0)
		close(fd);

	path = qemu_path(vm, QEMU_QMP_SOCK);
	fd = unix_connect(path, 1);
	free(path);
	if (fd < 0)
		return fd;
	vm->qmp = qmp_new(vm->loop, fd, &qemu_qmp_cb, vm);
	return 0;
}

static void
qemu_cont_done(struct qmp *q, int err, const cJSON *ret, const char *desc, void *arg)
{
	struct vm *vm = arg;

	if (err < 0 && vm->phase == QEMU_BOOTING)
		qemu_fail(vm, xasprintf("QEMU refused to start the VM: %s",
		    desc ? desc : strerror(-err)));
}

static cJSON *
qemu_capabilities(void)
{
	cJSON *args = cJSON_CreateObject(), *caps, *cap;

	/* x-ignore-shared: guest RAM is in its own file, so saved states carry
	 * only the devices. events: MIGRATION events, which end a save or a
	 * resume (QEMU sends none without it). */
	static const char *const names[] = { "x-ignore-shared", "events" };

	caps = cJSON_AddArrayToObject(args, "capabilities");
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		cap = cJSON_CreateObject();
		cJSON_AddStringToObject(cap, "capability", names[i]);
		cJSON_AddTrueToObject(cap, "state");
		cJSON_AddItemToArray(caps, cap);
	}
	return args;
}

static void
qemu_incoming_started(struct qmp *q, int err, const cJSON *ret, const char *desc, void *arg)
{
	struct vm *vm = arg;

	if (err < 0 && vm->phase == QEMU_BOOTING)
		qemu_fail(vm, xasprintf("QEMU cannot load the saved state: %s",
		    desc ? desc : strerror(-err)));
}

/* Resumes from a saved state: the RAM is in its file, the devices come
 * through a migration from the state file; MIGRATION completed -> cont. */
static void
qemu_incoming(struct vm *vm)
{
	cJSON *args;
	int fd;

	trace("qemu %d: loading the saved state", (int)vm->pid);
	fd = open(vm->incoming, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		qemu_fail(vm, xasprintf("cannot open the saved state %s: %s", vm->incoming,
		    strerror(errno)));
		return;
	}
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "fdname", "state");
	qmp_command(vm->qmp, "getfd", args, fd, qemu_incoming_started, vm);
	close(fd);
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "uri", "fd:state");
	qmp_command(vm->qmp, "migrate-incoming", args, -1, qemu_incoming_started, vm);
}

static void qemu_save_migrated(struct vm *vm, const char *status);
static void qemu_stream_event(struct vm *vm, const char *event, const cJSON *data);

/* Migration progress, on both ends. */
static void
qemu_qmp_event(struct qmp *q, const char *event, const cJSON *data, void *arg)
{
	struct vm *vm = arg;
	const cJSON *st;

	if (strncmp(event, "BLOCK_JOB_", 10) == 0) {
		qemu_stream_event(vm, event, data);
		return;
	}
	if (strcmp(event, "DEVICE_DELETED") == 0) {
		qemu_disk_deleted(vm, data);
		return;
	}
	if (strcmp(event, "MIGRATION") != 0)
		return;
	st = cJSON_GetObjectItemCaseSensitive(data, "status");
	if (!cJSON_IsString(st))
		return;
	if (vm->save != NULL) {
		qemu_save_migrated(vm, st->valuestring);
		return;
	}
	if (vm->phase != QEMU_BOOTING || vm->incoming == NULL)
		return;
	trace("qemu %d: state load %s", (int)vm->pid, st->valuestring);
	if (strcmp(st->valuestring, "completed") == 0)
		qmp_command(q, "cont", NULL, -1, qemu_cont_done, vm);
	else if (strcmp(st->valuestring, "failed") == 0)
		qemu_fail(vm, xasprintf("the saved state %s could not be loaded", vm->incoming));
}

static void
qemu_qmp_ready(struct qmp *q, int err, void *arg)
{
	struct vm *vm = arg;

	if (err < 0) {
		qemu_fail_lost(vm, xasprintf("cannot talk to QEMU's monitor: %s", strerror(-err)));
		return;
	}
	trace("qemu %d: monitor ready", (int)vm->pid);
	qmp_command(q, "migrate-set-capabilities", qemu_capabilities(), -1,
	    qemu_cont_done, vm);
	if (vm->phase != QEMU_BOOTING)
		return;
	if (vm->incoming != NULL && !vm->adopted) {
		vm->qmp_up = 1;
		if (!vm->load_later)
			qemu_incoming(vm);
		return;
	}
	/* Started paused (or a daemon died during an earlier boot): let it run. */
	qmp_command(q, "cont", NULL, -1, qemu_cont_done, vm);
}

static void
qemu_qmp_eof(struct qmp *q, void *arg)
{
	struct vm *vm = arg;

	/* QEMU is exiting; the pidfd tells the rest. */
	vm->qmp = NULL;
	qmp_free(q);
}

static const struct qmp_callbacks qemu_qmp_cb = {
	.ready = qemu_qmp_ready,
	.event = qemu_qmp_event,
	.eof = qemu_qmp_eof,
};

static void
qemu_agent_hello(struct agent *a, const char *hostname, void *arg)
{
	struct vm *vm = arg;

	if (vm->phase != QEMU_BOOTING)
		return;
	trace("qemu %d: agent up", (int)vm->pid);
	vm->phase = QEMU_READY;
	loop_del_timer(vm->loop, vm->timer);
	vm->timer = 0;
	vm->cb->ready(vm, 0, NULL, vm->arg);
}

static void
qemu_channel_lost(struct loop *l, uint64_t id, void *arg)
{
	struct vm *vm = arg;
	char *cause = vm->lost_cause;

	vm->timer = 0;
	vm->lost_cause = NULL;
	qemu_fail(vm, cause);
}

/*
 * A channel to QEMU broke during a boot: QEMU is most likely exiting, and
 * its exit says more (and whether it was killed from outside). Fail on the
 * channel alone only if the exit does not come soon.
 */
static void
qemu_fail_lost(struct vm *vm, char *cause)
{
	if (vm->phase != QEMU_BOOTING || vm->lost_cause != NULL) {
		free(cause);
		return;
	}
	vm->lost_cause = cause;
	loop_del_timer(vm->loop, vm->timer);
	vm->timer = loop_add_timer(vm->loop, QEMU_CHANNEL_GRACE_MS, qemu_channel_lost, vm);
}

static void
qemu_agent_closed(struct agent *a, const char *why, void *arg)
{
	struct vm *vm = arg;

	/* The channel ends when QEMU does; a live QEMU with a dead channel
	 * cannot be driven, so it is treated as failed. During a boot, QEMU's
	 * exit (which says why, and whether it was killed) comes a moment
	 * later: wait for it before failing on the channel alone. */
	vm->agent = NULL;
	agent_free(a);
	qemu_fail_lost(vm, xstrdup("the guest agent's channel closed during boot"));
}

static void
qemu_agent_request(struct agent *a, uint32_t id, int argc, char **argv, void *arg)
{
	struct vm *vm = arg;

	if (vm->cb->request != NULL)
		vm->cb->request(vm, id, argc, argv, vm->arg);
	else
		agent_reply(a, id, 1, "sprite-env: not supported here\n");
}

static const struct agent_callbacks qemu_agent_cb = {
	.hello = qemu_agent_hello,
	.closed = qemu_agent_closed,
	.request = qemu_agent_request,
};

static struct vm *
qemu_vm_new(struct loop *l, const struct vm_config *cfg,
    const struct vm_callbacks *cb, void *arg)
{
	struct vm *vm = xcalloc(1, sizeof *vm);

	vm->loop = l;
	vm->name = xstrdup(cfg->name);
	vm->run_dir = xstrdup(cfg->run_dir);
	vm->cb = cb;
	vm->arg = arg;
	vm->console_fd = -1;
	vm->serial_fd = -1;
	vm->phase = QEMU_BOOTING;
	vm->top_node = qemu_node_name(cfg->disk);
	vm->incoming = cfg->incoming ? xstrdup(cfg->incoming) : NULL;
	vm->load_later = cfg->incoming != NULL && cfg->load_later;
	return vm;
}

static void
qemu_release(struct vm *vm)
{
	if (vm == NULL)
		return;
	vm->released = 1;
	qemu_close_channels(vm);
	qemu_disks_free(vm);
	free(vm->stream);
	vm->stream = NULL;
	proc_forget(vm->proc);
	free(vm->top_node);
	free(vm->incoming);
	if (vm->serial_fd >= 0)
		close(vm->serial_fd);
	free(vm->fail_cause);
	free(vm->lost_cause);
	free(vm->name);
	free(vm->run_dir);
	free(vm);
}

static int
qemu_listen(const struct vm *vm, const char *file)
{
	char *path = qemu_path(vm, file);
	int fd = unix_listen(path, 0600);

	free(path);
	return fd;
}

static int
qemu_start(struct loop *l, const struct vm_config *cfg,
    const struct vm_callbacks *cb, void *arg, struct vm **ret, char **cause)
{
	struct vm *vm;
	int fds[3] = { -1, -1, -1 }, r;
	char **argv = NULL, *log = NULL, *pidfile, *pidstr, *resume_kernel = NULL;
	char *env[3] = { NULL, NULL, NULL };
	struct proc_spec spec = { 0 };
	struct vm_config resume_cfg;

	r = mkdir_p(cfg->run_dir, 0700);
	if (r < 0) {
		*cause = xasprintf("cannot create %s: %s", cfg->run_dir, strerror(-r));
		return r;
	}
	vm = qemu_vm_new(l, cfg, cb, arg);
	fds[0] = qemu_listen(vm, QEMU_QMP_SOCK);
	fds[1] = qemu_listen(vm, QEMU_AGENT_SOCK);
	fds[2] = qemu_listen(vm, QEMU_CONSOLE_SOCK);
	for (int i = 0; i < 3; i++) {
		if (fds[i] < 0) {
			r = fds[i];
			*cause = xasprintf("cannot make the VM's sockets in %s: %s",
			    cfg->run_dir, strerror(-r));
			goto fail;
		}
	}
	r = qemu_open_serial_log(vm);
	if (r < 0) {
		*cause = xasprintf("cannot open the serial log: %s", strerror(-r));
		goto fail;
	}
	if (cfg->incoming != NULL)
		resume_kernel = qemu_resume_kernel(cfg->kernel);
	if (resume_kernel != NULL) {
		resume_cfg = *cfg;
		resume_cfg.kernel = resume_kernel;
		cfg = &resume_cfg;
	}
	argv = qemu_build_argv(cfg, qemu_binary(), qemu_accel(), fds[0], fds[1], fds[2]);
	log = qemu_path(vm, QEMU_LOG);
	unlink(log);
	env[0] = qemu_tunables_env();
	env[1] = qemu_preload_env();
	spec.argv = argv;
	spec.env_add = env;
	spec.output = log;
	spec.keep_fds = fds;
	spec.nkeep_fds = 3;
	spec.new_session = 1;
	r = proc_spawn(l, &spec, qemu_on_exit, vm, &vm->proc);
	if (r < 0) {
		if (r == -ENOENT)
			*cause = xasprintf("QEMU is not installed: %s was not found "
			    "(apt-get install qemu-system-x86, or set SPRIG_QEMU)", qemu_binary());
		else
			*cause = xasprintf("cannot start %s: %s", qemu_binary(), strerror(-r));
		goto fail;
	}
	vm->pid = proc_pid(vm->proc);
	trace("qemu %d: started, to %s", (int)vm->pid, cfg->incoming ? "resume" : "boot");
	if (proc_start_time(vm->pid, &vm->pid_start) < 0)
		vm->pid_start = 0;
	pidfile = qemu_path(vm, QEMU_PID_FILE);
	pidstr = xasprintf("%d\n", (int)vm->pid);
	write_file_replace(pidfile, pidstr, strlen(pidstr), 0600);
	free(pidfile);
	free(pidstr);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	qemu_argv_free(argv);
	free(env[0]);
	free(env[1]);
	free(resume_kernel);
	free(log);

	vm->timer = loop_add_timer(l, (uint64_t)cfg->boot_timeout_ms, qemu_boot_timeout, vm);
	r = qemu_connect_channels(vm);
	if (r < 0)
		qemu_fail(vm, xasprintf("cannot connect to the VM's sockets: %s", strerror(-r)));
	*ret = vm;
	return 0;
fail:
	for (int i = 0; i < 3; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
	}
	qemu_argv_free(argv);
	free(env[0]);
	free(env[1]);
	free(resume_kernel);
	free(log);
	qemu_release(vm);
	return r;
}

static void
qemu_adopt_timeout(struct loop *l, uint64_t id, void *arg)
{
	struct vm *vm = arg;

	vm->timer = 0;
	qemu_fail(vm, xstrdup("the running VM's agent did not answer"));
}

static int
qemu_adopt(struct loop *l, const struct vm_config *cfg, pid_t pid,
    uint64_t pid_start, const struct vm_callbacks *cb, void *arg,
    struct vm **ret, char **cause)
{
	struct vm *vm;
	uint64_t start;
	int r;

	if (pid <= 0 || proc_start_time(pid, &start) < 0 || start != pid_start) {
		*cause = xstrdup("its QEMU process is gone");
		return -ESRCH;
	}
	vm = qemu_vm_new(l, cfg, cb, arg);
	vm->adopted = 1;
	vm->pid = pid;
	vm->pid_start = pid_start;
	r = proc_watch(l, pid, qemu_on_exit, vm, &vm->proc);
	if (r < 0) {
		*cause = xasprintf("cannot watch QEMU process %d: %s", (int)pid, strerror(-r));
		qemu_release(vm);
		return r == -ESRCH ? r : -ESRCH;
	}
	qemu_open_serial_log(vm);
	vm->timer = loop_add_timer(l, QEMU_ADOPT_TIMEOUT_MS, qemu_adopt_timeout, vm);
	r = qemu_connect_channels(vm);
	if (r < 0)
		qemu_fail(vm, xasprintf("cannot reconnect to the VM's sockets: %s", strerror(-r)));
	*ret = vm;
	return 0;
}

static void qemu_stop_escalate(struct loop *l, uint64_t id, void *arg);

static void
qemu_quit_done(struct qmp *q, int err, const cJSON *ret, const char *desc, void *arg)
{
}

static void
qemu_stop_escalate(struct loop *l, uint64_t id, void *arg)
{
	struct vm *vm = arg;

	vm->timer = 0;
	if (vm->phase == QEMU_GONE || vm->proc == NULL)
		return;
	if (vm->stopping < 2 && vm->qmp != NULL &&
	    qmp_command(vm->qmp, "quit", NULL, -1, qemu_quit_done, vm) == 0) {
		vm->stopping = 2;
		vm->timer = loop_add_timer(l, QEMU_QUIT_GRACE_MS, qemu_stop_escalate, vm);
		return;
	}
	vm->stopping = 3;
	proc_kill(vm->proc, SIGKILL);
}

static void
qemu_stop(struct vm *vm)
{
	if (vm->phase == QEMU_GONE || vm->stopping)
		return;
	vm->stopping = 1;
	loop_del_timer(vm->loop, vm->timer);
	/* A VM whose state was just saved must not run on: it quits as it is
	 * (its disks were flushed and released by the migration). */
	if (!vm->saved && vm->agent != NULL && agent_ready(vm->agent) &&
	    agent_shutdown(vm->agent) == 0) {
		vm->timer = loop_add_timer(vm->loop, QEMU_STOP_GRACE_MS, qemu_stop_escalate, vm);
		return;
	}
	qemu_stop_escalate(vm->loop, 0, vm);
}

static void
qemu_kill(struct vm *vm)
{
	if (vm->phase == QEMU_GONE || vm->proc == NULL)
		return;
	vm->stopping = 3;
	trace("qemu %d: killing", (int)vm->pid);
	proc_kill(vm->proc, SIGKILL);
}

static void
qemu_snapshot_done(struct qmp *q, int err, const cJSON *ret, const char *desc, void *arg)
{
	struct qemu_snapshot *sn = arg;
	struct vm *vm = sn->vm;
	char *cause = NULL;

	if (!vm->released) {
		if (err == 0) {
			free(vm->top_node);
			vm->top_node = sn->node;
			sn->node = NULL;
		} else {
			cause = xasprintf("QEMU could not snapshot the disk: %s",
			    desc ? desc : strerror(-err));
		}
		sn->fn(vm, err, cause, sn->arg);
	}
	free(cause);
	free(sn->node);
	free(sn);
}

static int
qemu_snapshot(struct vm *vm, const char *new_file, vm_done_fn fn, void *arg)
{
	struct qemu_snapshot *sn;
	cJSON *args;
	int r;

	if (vm->phase != QEMU_READY || vm->qmp == NULL)
		return -ENOTCONN;
	sn = xcalloc(1, sizeof *sn);
	sn->vm = vm;
	sn->node = qemu_node_name(new_file);
	sn->fn = fn;
	sn->arg = arg;
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "node-name", vm->top_node);
	cJSON_AddStringToObject(args, "snapshot-file", new_file);
	cJSON_AddStringToObject(args, "snapshot-node-name", sn->node);
	cJSON_AddStringToObject(args, "format", "qcow2");
	cJSON_AddStringToObject(args, "mode", "absolute-paths");
	r = qmp_command(vm->qmp, "blockdev-snapshot-sync", args, -1, qemu_snapshot_done, sn);
	if (r < 0) {
		free(sn->node);
		free(sn);
	}
	return r;
}

static void
qemu_save_end(struct vm *vm, int err, const char *cause)
{
	struct qemu_save *sv = vm->save;

	vm->save = NULL;
	if (sv->fd >= 0) {
		if (err == 0 && fsync(sv->fd) < 0) {
			err = -errno;
			cause = "cannot write the saved state to disk";
		}
		close(sv->fd);
	}
	if (!vm->released)
		sv->fn(vm, err, cause, sv->arg);
	free(sv->node);
	free(sv->disk_file);
	free(sv);
}

static void
qemu_save_migrated(struct vm *vm, const char *status)
{
	char *cause;

	if (strcmp(status, "completed") == 0) {
		vm->saved = 1;
		qemu_save_end(vm, 0, NULL);
	} else if (strcmp(status, "failed") == 0 || strcmp(status, "cancelled") == 0) {
		cause = xasprintf("QEMU could not save the VM's state (migration %s)", status);
		qemu_save_end(vm, -EIO, cause);
		free(cause);
	}
}

static void
qemu_save_step(struct qmp *q, int err, const cJSON *ret, const char *desc, void *arg)
{
	struct vm *vm = arg;
	struct qemu_save *sv = vm->save;
	char *cause;

	if (sv == NULL || err == 0)
		return;
	cause = xasprintf("QEMU could not save the VM: %s", desc ? desc : strerror(-err));
	qemu_save_end(vm, err, cause);
	free(cause);
}

static void
qemu_save_snapshotted(struct qmp *q, int err, const cJSON *ret, const char *desc, void *arg)
{
	struct vm *vm = arg;
	struct qemu_save *sv = vm->save;

	if (sv != NULL && err == 0) {
		free(vm->top_node);
		vm->top_node = sv->node;
		sv->node = NULL;
	}
	qemu_save_step(q, err, ret, desc, arg);
}

static int
qemu_save(struct vm *vm, const char *state_file, const char *disk_file, vm_done_fn fn,
    void *arg)
{
	struct qemu_save *sv;
	cJSON *args;

	if (vm->phase != QEMU_READY || vm->qmp == NULL)
		return -ENOTCONN;
	if (vm->save != NULL)
		return -EBUSY;
	sv = xcalloc(1, sizeof *sv);
	sv->vm = vm;
	sv->fn = fn;
	sv->arg = arg;
	sv->fd = open(state_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (sv->fd < 0) {
		int r = -errno;

		free(sv);
		return r;
	}
	vm->save = sv;
	/* One pipeline: QMP runs the commands in order, and any failure ends
	 * the save; the MIGRATION event ends it when the state is written.
	 * Checkpoint disks go first: a saved state never holds one. */
	qemu_disks_drop(vm, qemu_save_step);
	qmp_command(vm->qmp, "stop", NULL, -1, qemu_save_step, vm);
	if (disk_file != NULL) {
		sv->disk_file = xstrdup(disk_file);
		sv->node = qemu_node_name(disk_file);
		args = cJSON_CreateObject();
		cJSON_AddStringToObject(args, "node-name", vm->top_node);
		cJSON_AddStringToObject(args, "snapshot-file", disk_file);
		cJSON_AddStringToObject(args, "snapshot-node-name", sv->node);
		cJSON_AddStringToObject(args, "format", "qcow2");
		qmp_command(vm->qmp, "blockdev-snapshot-sync", args, -1, qemu_save_snapshotted, vm);
	}
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "fdname", "state");
	qmp_command(vm->qmp, "getfd", args, sv->fd, qemu_save_step, vm);
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "uri", "fd:state");
	qmp_command(vm->qmp, "migrate", args, -1, qemu_save_step, vm);
	return 0;
}

struct qemu_resume {
	struct vm	*vm;
	vm_done_fn	 fn;
	void		*arg;
};

static void
qemu_load(struct vm *vm, int err, const char *cause)
{
	if (vm->phase != QEMU_BOOTING || !vm->load_later)
		return;
	vm->load_later = 0;
	if (err < 0)
		qemu_fail(vm, xstrdup(cause));
	else if (vm->qmp_up)
		qemu_incoming(vm);
}

static void
qemu_resumed(struct qmp *q, int err, const cJSON *ret, const char *desc, void *arg)
{
	struct qemu_resume *rs = arg;
	char *cause = NULL;

	if (!rs->vm->released) {
		if (err < 0)
			cause = xasprintf("QEMU could not resume the VM: %s",
			    desc ? desc : strerror(-err));
		rs->fn(rs->vm, err, cause, rs->arg);
	}
	free(cause);
	free(rs);
}

static int
qemu_resume(struct vm *vm, vm_done_fn fn, void *arg)
{
	struct qemu_resume *rs;
	int r;

	if (vm->qmp == NULL)
		return -ENOTCONN;
	rs = xcalloc(1, sizeof *rs);
	rs->vm = vm;
	rs->fn = fn;
	rs->arg = arg;
	vm->saved = 0;
	r = qmp_command(vm->qmp, "cont", NULL, -1, qemu_resumed, rs);
	if (r < 0)
		free(rs);
	return r;
}

static void
qemu_stream_end(struct vm *vm, int err, const char *cause)
{
	struct qemu_stream *st = vm->stream;

	vm->stream = NULL;
	if (st != NULL && !vm->released)
		st->fn(vm, err, cause, st->arg);
	free(st);
}

static void
qemu_stream_event(struct vm *vm, const char *event, const cJSON *data)
{
	const cJSON *dev = cJSON_GetObjectItemCaseSensitive(data, "device");
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(data, "error");
	char *cause;

	if (vm->stream == NULL || !cJSON_IsString(dev) ||
	    strcmp(dev->valuestring, QEMU_STREAM_JOB) != 0)
		return;
	if (strcmp(event, "BLOCK_JOB_CANCELLED") == 0) {
		qemu_stream_end(vm, -ECANCELED, "QEMU cancelled the merge");
	} else if (strcmp(event, "BLOCK_JOB_COMPLETED") == 0 && cJSON_IsString(error)) {
		cause = xasprintf("QEMU could not merge the disk layers: %s", error->valuestring);
		qemu_stream_end(vm, -EIO, cause);
		free(cause);
	} else if (strcmp(event, "BLOCK_JOB_COMPLETED") == 0) {
		qemu_stream_end(vm, 0, NULL);
	}
}

static void
qemu_stream_started(struct qmp *q, int err, const cJSON *ret, const char *desc, void *arg)
{
	struct vm *vm = arg;
	char *cause;

	if (err == 0 || vm->stream == NULL)
		return;
	cause = xasprintf("QEMU could not start merging the disk layers: %s",
	    desc ? desc : strerror(-err));
	qemu_stream_end(vm, err, cause);
	free(cause);
}

static int
qemu_stream(struct vm *vm, const char *base_file, vm_done_fn fn, void *arg)
{
	cJSON *args;
	int r;

	if (vm->phase != QEMU_READY || vm->qmp == NULL)
		return -ENOTCONN;
	if (vm->stream != NULL)
		return -EBUSY;
	vm->stream = xcalloc(1, sizeof *vm->stream);
	vm->stream->fn = fn;
	vm->stream->arg = arg;
	/* backing-file: the top's header names the base exactly as sprig's
	 * database does, so start-up can tell whether a merge finished. */
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "job-id", QEMU_STREAM_JOB);
	cJSON_AddStringToObject(args, "device", vm->top_node);
	cJSON_AddStringToObject(args, "base", base_file);
	cJSON_AddStringToObject(args, "backing-file", base_file);
	r = qmp_command(vm->qmp, "block-stream", args, -1, qemu_stream_started, vm);
	if (r < 0) {
		free(vm->stream);
		vm->stream = NULL;
	}
	return r;
}

/* Disk @id as attached (or being attached); not one being unplugged. */
static struct qemu_disk **
qemu_disk_find(struct vm *vm, const char *id)
{
	struct qemu_disk **dp;

	for (dp = &vm->disks; *dp != NULL; dp = &(*dp)->next) {
		if (!(*dp)->gone && strcmp((*dp)->id, id) == 0)
			return dp;
	}
	return NULL;
}

static void
qemu_disk_remove(struct qemu_disk **dp)
{
	struct qemu_disk *d = *dp;

	*dp = d->next;
	free(d->id);
	free(d->node);
	free(d);
}

static void
qemu_disks_free(struct vm *vm)
{
	while (vm->disks != NULL)
		qemu_disk_remove(&vm->disks);
}

static void
qemu_disk_ignore(struct qmp *q, int err, const cJSON *ret, const char *desc, void *arg)
{
}

static void
qemu_disk_node_del(struct vm *vm, const char *node)
{
	cJSON *args = cJSON_CreateObject();

	cJSON_AddStringToObject(args, "node-name", node);
	qmp_command(vm->qmp, "blockdev-del", args, -1, qemu_disk_ignore, NULL);
}

/*
 * Unplugs disk *@dp; @fn hears the device_del. The device is gone from the
 * machine (and from any state saved next) when device_del returns, but
 * QEMU lets go of its block node a moment later: the node is closed at
 * DEVICE_DELETED (qemu_disk_deleted).
 */
static void
qemu_disk_unplug(struct vm *vm, struct qemu_disk *d, qmp_reply_fn fn, void *arg)
{
	cJSON *args = cJSON_CreateObject();

	cJSON_AddStringToObject(args, "id", d->id);
	qmp_command(vm->qmp, "device_del", args, -1, fn, arg);
	d->gone = 1;
}

/* DEVICE_DELETED: the oldest unplug of that id is over; close its node. */
static void
qemu_disk_deleted(struct vm *vm, const cJSON *data)
{
	const cJSON *dev = cJSON_GetObjectItemCaseSensitive(data, "device");
	struct qemu_disk **dp, **oldest = NULL;

	if (!cJSON_IsString(dev))
		return;
	for (dp = &vm->disks; *dp != NULL; dp = &(*dp)->next) {
		if ((*dp)->gone && strcmp((*dp)->id, dev->valuestring) == 0)
			oldest = dp;	/* newest first in the list */
	}
	if (oldest == NULL)
		return;
	if (vm->qmp != NULL)
		qemu_disk_node_del(vm, (*oldest)->node);
	qemu_disk_remove(oldest);
}

/* A stale disk's block node, by the answer to qom-get of its "drive":
 * remembered as being unplugged, so DEVICE_DELETED closes it. */
static void
qemu_disk_stale_node(struct qmp *q, int err, const cJSON *ret, const char *desc, void *arg)
{
	struct qemu_disk_op *op = arg;
	struct qemu_disk *d;

	if (err == 0 && !op->vm->released && cJSON_IsString(ret)) {
		d = xcalloc(1, sizeof *d);
		d->id = op->id;
		d->node = xstrdup(ret->valuestring);
		d->gone = 1;
		d->next = op->vm->disks;
		op->vm->disks = d;
		op->id = NULL;
	}
	free(op->id);
	free(op);
}

/* A VM adopted from an earlier daemon may still have disk @id: unplug it
 * before it is plugged in again, and close its node once it is gone. */
static void
qemu_disk_unplug_stale(struct vm *vm, const char *id)
{
	struct qemu_disk_op *op = xcalloc(1, sizeof *op);
	cJSON *args = cJSON_CreateObject();
	char *path = xasprintf("/machine/peripheral/%s", id);

	op->vm = vm;
	op->id = xstrdup(id);
	cJSON_AddStringToObject(args, "path", path);
	cJSON_AddStringToObject(args, "property", "drive");
	qmp_command(vm->qmp, "qom-get", args, -1, qemu_disk_stale_node, op);
	free(path);
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "id", id);
	qmp_command(vm->qmp, "device_del", args, -1, qemu_disk_ignore, NULL);
}

/* Queues the unplug of every checkpoint disk (before a save). */
static void
qemu_disks_drop(struct vm *vm, qmp_reply_fn fn)
{
	for (struct qemu_disk *d = vm->disks; d != NULL; d = d->next) {
		if (!d->gone)
			qemu_disk_unplug(vm, d, fn, vm);
	}
}

static void
qemu_disk_op_free(struct qemu_disk_op *op)
{
	free(op->id);
	free(op->node);
	free(op->cause);
	free(op);
}

static void
qemu_disk_node_added(struct qmp *q, int err, const cJSON *ret, const char *desc, void *arg)
{
	struct qemu_disk_op *op = arg;

	if (err == 0)
		op->added = 1;
	else
		op->cause = xasprintf("QEMU cannot open the layer: %s",
		    desc ? desc : strerror(-err));
}

static void
qemu_disk_plugged(struct qmp *q, int err, const cJSON *ret, const char *desc, void *arg)
{
	struct qemu_disk_op *op = arg;
	struct vm *vm = op->vm;
	struct qemu_disk **dp;

	if (err < 0 && op->cause == NULL)
		op->cause = xasprintf("QEMU cannot plug in the disk: %s",
		    desc ? desc : strerror(-err));
	if (vm->released) {
		qemu_disk_op_free(op);
		return;
	}
	if (op->cause != NULL) {
		/* No device came: the node (if any) is free at once. */
		dp = qemu_disk_find(vm, op->id);
		if (dp != NULL && strcmp((*dp)->node, op->node) == 0)
			qemu_disk_remove(dp);
		if (op->added && vm->qmp != NULL)
			qemu_disk_node_del(vm, op->node);
	}
	op->fn(vm, op->cause != NULL ? (err < 0 ? err : -EIO) : 0, op->cause, op->arg);
	qemu_disk_op_free(op);
}

static int
qemu_disk_attach(struct vm *vm, const char *id, const char *file, const char *serial,
    vm_done_fn fn, void *arg)
{
	static unsigned seq;
	struct qemu_disk_op *op;
	struct qemu_disk *d;
	cJSON *args, *child;

	if (vm->phase != QEMU_READY || vm->qmp == NULL)
		return -ENOTCONN;
	if (qemu_disk_find(vm, id) != NULL)
		return -EEXIST;
	if (vm->adopted)
		qemu_disk_unplug_stale(vm, id);
	op = xcalloc(1, sizeof *op);
	op->vm = vm;
	op->id = xstrdup(id);
	/* Its own node name each time: an unplugged one may not be closed
	 * yet (one an earlier daemon named, either). */
	if (seq == 0)
		seq = (unsigned)(now_unix_ms() % 100000) * 10000;
	op->node = xasprintf("%s.%u", id, ++seq);
	op->fn = fn;
	op->arg = arg;
	/* Read-only all the way down: the layer's backing chain opens
	 * read-only too, and a frozen layer is never opened for writing. */
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "driver", "qcow2");
	cJSON_AddStringToObject(args, "node-name", op->node);
	cJSON_AddTrueToObject(args, "read-only");
	child = cJSON_AddObjectToObject(args, "file");
	cJSON_AddStringToObject(child, "driver", "file");
	cJSON_AddStringToObject(child, "filename", file);
	cJSON_AddTrueToObject(child, "read-only");
	qmp_command(vm->qmp, "blockdev-add", args, -1, qemu_disk_node_added, op);
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "driver", "scsi-hd");
	cJSON_AddStringToObject(args, "id", id);
	cJSON_AddStringToObject(args, "bus", QEMU_SCSI_BUS ".0");
	cJSON_AddStringToObject(args, "drive", op->node);
	cJSON_AddStringToObject(args, "serial", serial);
	if (qmp_command(vm->qmp, "device_add", args, -1, qemu_disk_plugged, op) < 0) {
		qemu_disk_op_free(op);
		return -ENOTCONN;
	}
	d = xcalloc(1, sizeof *d);
	d->id = xstrdup(id);
	d->node = xstrdup(op->node);
	d->next = vm->disks;
	vm->disks = d;
	return 0;
}

static int
qemu_disk_detach(struct vm *vm, const char *id)
{
	struct qemu_disk **dp = qemu_disk_find(vm, id);

	if (dp == NULL)
		return -ENOENT;
	if (vm->phase != QEMU_READY || vm->qmp == NULL) {
		qemu_disk_remove(dp);
		return -ENOTCONN;
	}
	qemu_disk_unplug(vm, *dp, qemu_disk_ignore, NULL);
	return 0;
}

static int
qemu_disk_attached(const struct vm *vm, const char *id)
{
	return qemu_disk_find((struct vm *)vm, id) != NULL;
}

static pid_t
qemu_pid(const struct vm *vm)
{
	return vm->pid;
}

static uint64_t
qemu_pid_start(const struct vm *vm)
{
	return vm->pid_start;
}

static struct agent *
qemu_agent(const struct vm *vm)
{
	return vm->phase == QEMU_READY && vm->agent != NULL && agent_ready(vm->agent) ?
	    vm->agent : NULL;
}

const struct vmm_ops qemu_vmm_ops = {
	.name = "qemu",
	.accel = qemu_accel,
	.start = qemu_start,
	.adopt = qemu_adopt,
	.stop = qemu_stop,
	.kill = qemu_kill,
	.release = qemu_release,
	.pid = qemu_pid,
	.pid_start = qemu_pid_start,
	.snapshot = qemu_snapshot,
	.save = qemu_save,
	.resume = qemu_resume,
	.load = qemu_load,
	.stream = qemu_stream,
	.agent = qemu_agent,
	.disk_attach = qemu_disk_attach,
	.disk_detach = qemu_disk_detach,
	.disk_attached = qemu_disk_attached,
};
