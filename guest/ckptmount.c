/*
 * ckptmount: mounts the sprite's checkpoint disks at /.sprite/checkpoints/vN
 * (issue 3). The host plugs a checkpoint's frozen layer in as a read-only
 * SCSI disk whose serial is AGENT_CKPT_SERIAL "vN" (core/ckptdisks.c); this
 * module mounts each such disk read-only as it appears and unmounts it as it
 * goes, so no message of the protocol is needed and the view is always the
 * disks there are, after a wake or a restore as after a boot.
 *
 * It watches the kernel's uevents (a netlink socket in the loop) and after
 * each batch compares the disks in /sys/block with what it mounted. A disk
 * being removed says so in its SCSI state before its uevent is sent, and
 * its name cannot be reused while it is mounted (the mount holds it), so a
 * mount is never taken for another disk's. ext4 is mounted with noload: the
 * layer was frozen live, its journal may want a replay, and the disk is
 * read-only.
 */
#include "ckptmount.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/agent_proto.h"
#include "common/loop.h"
#include "sprig-init.h"

/* From <linux/netlink.h>, which musl's headers lack. */
#define CKPTMOUNT_NETLINK_UEVENT	15
struct ckptmount_sockaddr_nl {
	sa_family_t	nl_family;
	unsigned short	nl_pad;
	uint32_t	nl_pid;
	uint32_t	nl_groups;
};

/* At most this many disks are mounted (the host shows five). */
#define CKPTMOUNT_MAX	16
#define CKPTMOUNT_NAME	16
#define CKPTMOUNT_DEV	32

struct ckptmount {
	char	name[CKPTMOUNT_NAME];	/* "v3" */
	char	dev[CKPTMOUNT_DEV];	/* "sdb" */
	int	mounted;		/* 0: it would not mount; not tried again */
};

static struct {
	int			 fd;	/* the uevent socket */
	int			 ready;	/* CKPTMOUNT_DIR is there */
	struct ckptmount	 m[CKPTMOUNT_MAX];
	size_t			 n;
} cm = { .fd = -1 };

/* Reads a small sysfs file into @buf (NUL-terminated); its length or -1. */
static ssize_t
ckptmount_read(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* The checkpoint id disk @dev stands for, from its unit serial number
 * (VPD page 0x80: a 4-byte header, then the serial); 0 if it is none. */
static int
ckptmount_disk_name(const char *dev, char *name, size_t size)
{
	char path[512], buf[256], *serial;
	const size_t pfx = sizeof AGENT_CKPT_SERIAL - 1;
	ssize_t n;
	size_t len;

	snprintf(path, sizeof path, "/sys/block/%s/device/state", dev);
	if (ckptmount_read(path, buf, sizeof buf) < 0 || strncmp(buf, "running", 7) != 0)
		return 0;	/* absent, or being removed */
	snprintf(path, sizeof path, "/sys/block/%s/device/vpd_pg80", dev);
	n = ckptmount_read(path, buf, sizeof buf);
	if (n < 4)
		return 0;
	len = ((size_t)(unsigned char)buf[2] << 8) | (unsigned char)buf[3];
	if (len > (size_t)n - 4)
		len = (size_t)n - 4;
	serial = buf + 4;
	while (len > 0 && (serial[len - 1] == ' ' || serial[len - 1] == '\0'))
		len--;
	serial[len] = '\0';
	if (len <= pfx || strncmp(serial, AGENT_CKPT_SERIAL, pfx) != 0)
		return 0;
	serial += pfx;
	/* Only "vN": it names a directory. */
	if (serial[0] != 'v' || serial[1] == '\0' || strspn(serial + 1, "0123456789") !=
	    strlen(serial + 1) || strlen(serial) >= size)
		return 0;
	strcpy(name, serial);
	return 1;
}

static void
ckptmount_drop(size_t i)
{
	char path[64];

	if (cm.m[i].mounted) {
		snprintf(path, sizeof path, CKPTMOUNT_DIR "/%s", cm.m[i].name);
		if (umount2(path, MNT_DETACH) < 0)
			init_log("unmount %s: %s", path, strerror(errno));
		rmdir(path);
	}
	cm.m[i] = cm.m[--cm.n];
}

static void
ckptmount_add(const char *dev, const char *name)
{
	struct ckptmount *m;
	char path[64], node[64];
	int fd;

	if (cm.n == CKPTMOUNT_MAX)
		return;
	m = &cm.m[cm.n++];
	snprintf(m->dev, sizeof m->dev, "%.*s", CKPTMOUNT_DEV - 1, dev);
	snprintf(m->name, sizeof m->name, "%.*s", CKPTMOUNT_NAME - 1, name);
	snprintf(path, sizeof path, CKPTMOUNT_DIR "/%s", m->name);
	snprintf(node, sizeof node, "/dev/%s", m->dev);
	/* Seen in sysfs before it can be opened: its block uevent comes when
	 * it can, and the scan then tries again. (A mount would say "Can't
	 * open blockdev" on the console.) */
	fd = open(node, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		cm.n--;
		return;
	}
	close(fd);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		init_log("mkdir %s: %s", path, strerror(errno));
		return;
	}
	if (mount(node, path, "ext4", MS_RDONLY | MS_NOSUID | MS_NODEV, "noload") < 0) {
		int err = errno;

		rmdir(path);
		init_log("mount checkpoint %s (%s) on %s: %s", name, node, path, strerror(err));
		return;
	}
	m->mounted = 1;
}

/* Makes the mounts match the checkpoint disks there are now. */
static void
ckptmount_scan(void)
{
	struct {
		char	dev[CKPTMOUNT_DEV];
		char	name[CKPTMOUNT_NAME];
	} found[CKPTMOUNT_MAX];
	size_t nf = 0, i, j;
	struct dirent *e;
	DIR *d;

	if (!cm.ready)
		return;
	d = opendir("/sys/block");
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL && nf < CKPTMOUNT_MAX) {
		if (strncmp(e->d_name, "sd", 2) != 0 || strlen(e->d_name) >= CKPTMOUNT_DEV)
			continue;
		if (ckptmount_disk_name(e->d_name, found[nf].name, sizeof found[nf].name)) {
			strcpy(found[nf].dev, e->d_name);
			nf++;
		}
	}
	closedir(d);
	for (i = 0; i < cm.n;) {
		for (j = 0; j < nf; j++) {
			if (strcmp(found[j].dev, cm.m[i].dev) == 0 &&
			    strcmp(found[j].name, cm.m[i].name) == 0)
				break;
		}
		if (j < nf)
			i++;
		else
			ckptmount_drop(i);
	}
	for (j = 0; j < nf; j++) {
		for (i = 0; i < cm.n; i++) {
			/* Mounted already, or its id is still another disk's. */
			if (strcmp(found[j].dev, cm.m[i].dev) == 0 ||
			    strcmp(found[j].name, cm.m[i].name) == 0)
				break;
		}
		if (i == cm.n)
			ckptmount_add(found[j].dev, found[j].name);
	}
}

/* A block device's remove uevent: its mount goes at once. */
static void
ckptmount_removed(const char *msg, size_t len)
{
	const char *p, *end = msg + len, *dev = NULL;
	int block = 0;

	if (strncmp(msg, "remove@", 7) != 0)
		return;
	for (p = msg; p < end; p += strlen(p) + 1) {
		if (strcmp(p, "SUBSYSTEM=block") == 0)
			block = 1;
		else if (strncmp(p, "DEVNAME=", 8) == 0)
			dev = p + 8;
	}
	if (!block || dev == NULL)
		return;
	for (size_t i = 0; i < cm.n; i++) {
		if (strcmp(cm.m[i].dev, dev) == 0) {
			ckptmount_drop(i);
			return;
		}
	}
}

static void
ckptmount_uevent(struct loop *l, int fd, int events, void *arg)
{
	char msg[8192];
	ssize_t n;

	/* A whole batch, then one scan. An overflow (ENOBUFS) lost some:
	 * the scan finds what they said. */
	while ((n = recv(fd, msg, sizeof msg - 1, MSG_DONTWAIT)) != 0) {
		if (n < 0) {
			if (errno == EINTR || errno == ENOBUFS)
				continue;
			break;
		}
		msg[n] = '\0';
		ckptmount_removed(msg, (size_t)n);
	}
	ckptmount_scan();
}

void
ckptmount_start(struct loop *l)
{
	struct ckptmount_sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 1 };
	struct stat st, parent;
	int r;

	if (mkdir("/.sprite", 0755) < 0 && errno != EEXIST)
		init_log("mkdir /.sprite: %s", strerror(errno));
	if (mkdir(CKPTMOUNT_DIR, 0755) < 0 && errno != EEXIST)
		init_log("mkdir " CKPTMOUNT_DIR ": %s", strerror(errno));
	if (stat(CKPTMOUNT_DIR, &st) < 0 || stat("/.sprite", &parent) < 0)
		init_log("no " CKPTMOUNT_DIR ": %s", strerror(errno));
	else if (st.st_dev == parent.st_dev && mount("tmpfs", CKPTMOUNT_DIR, "tmpfs",
	    MS_NOSUID | MS_NODEV, "mode=0755,size=64k") < 0)
		init_log("mount tmpfs on " CKPTMOUNT_DIR ": %s", strerror(errno));
	else
		cm.ready = 1;
	cm.fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    CKPTMOUNT_NETLINK_UEVENT);
	if (cm.fd < 0 || bind(cm.fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		init_log("uevent socket: %s (checkpoint disks are not mounted)", strerror(errno));
		if (cm.fd >= 0)
			close(cm.fd);
		cm.fd = -1;
		return;
	}
	r = loop_add_fd(l, cm.fd, LOOP_READ, ckptmount_uevent, NULL);
	if (r < 0)
		init_log("watch uevents: %s", strerror(-r));
	ckptmount_scan();
}
