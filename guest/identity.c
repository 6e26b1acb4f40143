/*
 * identity: applies AGENT_IDENTITY (see identity.h). The seed is credited
 * to the kernel's pool with RNDADDENTROPY, which also reseeds the CRNG, so
 * that the next read of /dev/urandom differs from what the same saved
 * memory gave any other time it was resumed.
 */
#include "identity.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/agent_proto.h"
#include "common/buf.h"
#include "sprig-init.h"

/* <linux/random.h>, which musl's headers lack: _IOW('R', 0x03, int[2]). */
#define IDENTITY_RNDADDENTROPY	0x40085203
#define IDENTITY_SEED_MAX	512
#define IDENTITY_MACHINE_ID	"/etc/machine-id"

struct rand_pool {
	int		entropy_count;	/* bits */
	int		buf_size;	/* bytes */
	uint8_t		buf[IDENTITY_SEED_MAX];
};

static void
identity_hostname(const char *name)
{
	char now[HOST_NAME_MAX + 1] = "";

	if (*name == '\0' || strlen(name) > HOST_NAME_MAX)
		return;
	if (gethostname(now, sizeof now) == 0 && strcmp(now, name) == 0)
		return;
	if (sethostname(name, strlen(name)) < 0)
		init_log("sethostname %s: %s", name, strerror(errno));
}

static int
identity_hex32(const char *s)
{
	if (strlen(s) != 32)
		return 0;
	for (; *s != '\0'; s++) {
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	}
	return 1;
}

/*
 * Writes /etc/machine-id unless it already says @id. The 33 bytes go over
 * the old ones in place: under TCG a new file and a rename took a fork's
 * first command ~70 ms on ext4 paths not yet translated, the overwrite
 * ~25 ms. Not fsynced, and not atomic: the host sends the identity again
 * after every boot and resume, so a crash that loses or tears the write is
 * mended at the next start.
 */
static void
identity_machine_id(const char *id)
{
	char now[64] = "", line[40];
	ssize_t n;
	int fd;

	if (!identity_hex32(id))
		return;
	fd = open(IDENTITY_MACHINE_ID, O_RDWR | O_CREAT | O_CLOEXEC, 0444);
	if (fd < 0) {
		init_log("open %s: %s", IDENTITY_MACHINE_ID, strerror(errno));
		return;
	}
	n = read(fd, now, sizeof now - 1);
	if (n < 32 || strncmp(now, id, 32) != 0) {
		snprintf(line, sizeof line, "%s\n", id);
		if (pwrite(fd, line, 33, 0) != 33 || (n != 33 && ftruncate(fd, 33) < 0))
			init_log("write %s: %s", IDENTITY_MACHINE_ID, strerror(errno));
	}
	close(fd);
}

static void
identity_seed(const uint8_t *seed, size_t n)
{
	struct rand_pool pool;
	int fd;

	if (n == 0 || n > IDENTITY_SEED_MAX)
		return;
	pool.entropy_count = (int)n * 8;
	pool.buf_size = (int)n;
	memcpy(pool.buf, seed, n);
	fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, IDENTITY_RNDADDENTROPY, &pool) < 0)
		init_log("reseed the random pool: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	memset(&pool, 0, sizeof pool);
}

void
identity_apply(const uint8_t *p, size_t n)
{
	char *hostname, *machine_id;
	uint32_t seed_len;
	const uint8_t *seed;
	struct rd r;

	rd_init(&r, p, n);
	hostname = rd_str(&r, HOST_NAME_MAX);
	machine_id = rd_str(&r, 64);
	seed_len = rd_u32(&r);
	seed = r.err || seed_len > rd_left(&r) ? NULL : p + r.off;
	if (hostname == NULL || machine_id == NULL || seed == NULL) {
		init_log("malformed identity frame (%zu bytes)", n);
		goto out;
	}
	identity_hostname(hostname);
	identity_machine_id(machine_id);
	identity_seed(seed, seed_len);
out:
	free(hostname);
	free(machine_id);
}
