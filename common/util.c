/*
 * util: files, descriptors, time.
 */
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <nettle/sha2.h>
#include <sys/random.h>

#include "xmalloc.h"

static int
unix_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sa->sun_path)
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

int
unix_connect(const char *path, int nonblock)
{
	struct sockaddr_un sa;
	int fd, r;

	r = unix_addr(path, &sa);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int
unix_listen(const char *path, mode_t mode)
{
	struct sockaddr_un sa;
	int fd, r;

	r = unix_addr(path, &sa);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || chmod(path, mode) < 0 ||
	    listen(fd, 128) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int
fd_set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, fl) < 0 ? -errno : 0;
}

int
fd_set_cloexec(int fd, int on)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl < 0)
		return -errno;
	fl = on ? fl | FD_CLOEXEC : fl & ~FD_CLOEXEC;
	return fcntl(fd, F_SETFD, fl) < 0 ? -errno : 0;
}

void
fd_cloexec_from(int lowfd)
{
	struct rlimit rl;
	int max = 65536;

#ifdef SYS_close_range
	/* CLOSE_RANGE_CLOEXEC (Linux 5.11) in one call; else one by one. */
	if (syscall(SYS_close_range, (unsigned)lowfd, ~0u, 4u /* CLOSE_RANGE_CLOEXEC */) == 0)
		return;
#endif
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)max)
		max = (int)rl.rlim_cur;
	for (int fd = lowfd; fd < max; fd++) {
		int fl = fcntl(fd, F_GETFD);

		if (fl >= 0 && !(fl & FD_CLOEXEC))
			fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
	}
}

int
mkdir_p(const char *path, mode_t mode)
{
	char *p = xstrdup(path), *s;
	int r = 0;

	for (s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;

		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST) {
			r = -errno;
			break;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	return r;
}

int
rm_rf(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	int r = 0;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
	d = opendir(path);
	if (d == NULL)
		return -errno;
	while ((e = readdir(d)) != NULL) {
		char *sub;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		sub = xasprintf("%s/%s", path, e->d_name);
		if (r == 0)
			r = rm_rf(sub);
		free(sub);
	}
	closedir(d);
	if (r == 0 && rmdir(path) < 0 && errno != ENOENT)
		r = -errno;
	return r;
}

char *
path_dir(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return xstrdup(".");
	return xstrndup(path, slash == path ? 1 : (size_t)(slash - path));
}

int
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

int
pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = pwrite(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

static int
write_file_whole(const char *path, const void *data, size_t len, mode_t mode, int durable)
{
	char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid()), *dir = NULL;
	int fd, r = 0;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = pwrite_all(fd, data, len, 0);
	if (r == 0 && durable && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		goto out;
	}
	if (durable) {
		dir = path_dir(path);
		r = fsync_dir(dir);
	}
out:
	free(tmp);
	free(dir);
	return r;
}

int
write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	return write_file_whole(path, data, len, mode, 1);
}

int
write_file_replace(const char *path, const void *data, size_t len, mode_t mode)
{
	return write_file_whole(path, data, len, mode, 0);
}

/* Copies @len bytes at @off, by copy_file_range or else by hand. */
static ssize_t
copy_range(int src, int dst, off_t off, size_t len)
{
	static char buf[1 << 20];
	off_t in = off, out = off;
	ssize_t n = copy_file_range(src, &in, dst, &out, len, 0);

	if (n >= 0)
		return n > 0 ? n : -EIO;	/* 0: the source shrank */
	if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
		return -errno;
	if (len > sizeof buf)
		len = sizeof buf;
	n = pread(src, buf, len, off);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	if (pwrite(dst, buf, (size_t)n, off) != n)
		return -errno;
	return n;
}

int
copy_sparse_step(int src, int dst, off_t *off, off_t size, size_t max)
{
	off_t data, hole;
	size_t copied = 0;
	ssize_t n;

	while (copied < max && *off < size) {
		data = lseek(src, *off, SEEK_DATA);
		if (data < 0)
			return errno == ENXIO ? 1 : -errno;	/* ENXIO: holes to the end */
		hole = lseek(src, data, SEEK_HOLE);
		if (hole < 0)
			return -errno;
		if ((size_t)(hole - data) > max - copied)
			hole = data + (off_t)(max - copied);
		for (*off = data; *off < hole; *off += n) {
			n = copy_range(src, dst, *off, (size_t)(hole - *off));
			if (n < 0)
				return (int)n;
			copied += (size_t)n;
		}
	}
	if (*off >= size)
		return 1;
	data = lseek(src, *off, SEEK_DATA);
	if (data < 0)
		return errno == ENXIO ? 1 : -errno;
	return 0;
}

int
copy_sparse_file(const char *src, const char *dst)
{
	struct stat st;
	off_t off = 0;
	int in, out, r;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		r = -errno;
		close(in);
		return r;
	}
	r = fstat(in, &st) < 0 || ftruncate(out, st.st_size) < 0 ? -errno : 0;
	while (r == 0)
		r = copy_sparse_step(in, out, &off, st.st_size, SIZE_MAX);
	close(in);
	if (close(out) < 0 && r >= 0)
		r = -errno;
	if (r < 0) {
		unlink(dst);
		return r;
	}
	return 0;
}

int
read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;
	size_t len = 0, cap = 4096;
	char *data;

	if (fd < 0)
		return -errno;
	data = xmalloc(cap);
	for (;;) {
		ssize_t n;

		if (cap - len < 2) {
			cap *= 2;
			data = xrealloc(data, cap);
		}
		n = read(fd, data + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			r = -EFBIG;
			break;
		}
	}
	close(fd);
	if (r < 0) {
		free(data);
		return r;
	}
	data[len] = '\0';
	*ret = data;
	if (ret_len != NULL)
		*ret_len = len;
	return 0;
}

char *
read_file_tail(const char *path, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *data;
	ssize_t n;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return NULL;
	}
	if ((size_t)st.st_size > max)
		lseek(fd, st.st_size - (off_t)max, SEEK_SET);
	data = xmalloc(max + 1);
	n = read(fd, data, max);
	close(fd);
	if (n < 0) {
		free(data);
		return NULL;
	}
	data[n] = '\0';
	return data;
}

int64_t
now_unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
format_rfc3339(int64_t ms, char *out, size_t n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/*
 * Reads fields of /proc/PID/stat, numbered as proc(5) does (1 is the pid),
 * from @first on: @n of them into @ret. The command name (field 2) may hold
 * spaces and parentheses, so counting starts after its last ')'.
 */
static int
proc_stat_fields(pid_t pid, int first, uint64_t *ret, int n)
{
	char path[64], *data, *p, *end;
	int r, field;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	r = read_file(path, 4096, &data, NULL);
	if (r < 0)
		return r;
	p = strrchr(data, ')');
	r = -EINVAL;
	if (p == NULL)
		goto out;
	p++;	/* at the space before field 3 */
	for (field = 3; field < first && p != NULL; field++)
		p = strchr(p + 1, ' ');
	for (int i = 0; i < n; i++) {
		if (p == NULL)
			goto out;
		errno = 0;
		ret[i] = strtoull(p + 1, &end, 10);
		if (errno != 0 || end == p + 1)
			goto out;
		p = strchr(p + 1, ' ');
	}
	r = 0;
out:
	free(data);
	return r;
}

int
proc_start_time(pid_t pid, uint64_t *ret)
{
	return proc_stat_fields(pid, 22, ret, 1);
}

int
proc_has_open(pid_t pid, const char *path)
{
	char dir[64], fd_path[64 + 256];
	struct stat want, st;
	struct dirent *de;
	int found = 0;
	DIR *d;

	if (stat(path, &want) < 0)
		return -errno;
	snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (d == NULL)
		return -errno;
	while (!found && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(fd_path, sizeof fd_path, "%s/%s", dir, de->d_name);
		/* stat follows the link to the open file itself. */
		found = stat(fd_path, &st) == 0 && st.st_dev == want.st_dev &&
		    st.st_ino == want.st_ino;
	}
	closedir(d);
	return found;
}

int
proc_usage(pid_t pid, uint64_t *ret_cpu_ms, uint64_t *ret_rss_kb)
{
	uint64_t v[11];	/* fields 14 (utime) to 24 (rss) */
	long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	int r;

	r = proc_stat_fields(pid, 14, v, 11);
	if (r < 0)
		return r;
	*ret_cpu_ms = (v[0] + v[1]) * 1000 / (uint64_t)(tick > 0 ? tick : 100);
	*ret_rss_kb = v[10] * (uint64_t)(page > 0 ? page : 4096) / 1024;
	return 0;
}

int
sha256_files(const char *const *paths, size_t n, char out[65])
{
	struct sha256_ctx ctx;
	uint8_t md[SHA256_DIGEST_SIZE];
	int r = 0;

	sha256_init(&ctx);
	for (size_t i = 0; i < n && r == 0; i++) {
		char *data;
		size_t len;

		r = read_file(paths[i], (size_t)1 << 30, &data, &len);
		if (r < 0)
			break;
		sha256_update(&ctx, len, (const uint8_t *)data);
		free(data);
	}
	if (r == 0) {
		sha256_digest(&ctx, sizeof md, md);
		for (unsigned i = 0; i < sizeof md; i++)
			snprintf(out + 2 * i, 3, "%02x", md[i]);
	}
	return r;
}

int
sha256_hex(const void *data, size_t len, char out[65])
{
	struct sha256_ctx ctx;
	uint8_t md[SHA256_DIGEST_SIZE];

	sha256_init(&ctx);
	sha256_update(&ctx, len, data);
	sha256_digest(&ctx, sizeof md, md);
	for (unsigned i = 0; i < sizeof md; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

void
random_hex(char *out, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char raw[64];
	size_t want = (n - 1 + 1) / 2, got = 0;

	if (want > sizeof raw)
		want = sizeof raw;
	while (got < want) {
		ssize_t r = getrandom(raw + got, want - got, 0);

		if (r > 0)
			got += (size_t)r;
	}
	for (size_t i = 0; i + 1 < n && i / 2 < want; i++)
		out[i] = digits[(raw[i / 2] >> (i % 2 ? 0 : 4)) & 0xf];
	out[n - 1] = '\0';
}

int
duration_parse(const char *s, int64_t *ret)
{
	static const struct {
		char	 unit;
		int64_t	 seconds;
	} units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 } };
	int64_t mult = 0, v;
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0)
		return -EINVAL;
	if (*end == '\0')
		mult = 1;
	for (size_t i = 0; i < sizeof units / sizeof units[0] && mult == 0; i++) {
		if (end[0] == units[i].unit && end[1] == '\0')
			mult = units[i].seconds;
	}
	if (mult == 0 || v > 366 * 86400 / mult)
		return -EINVAL;
	*ret = v * mult;
	return 0;
}

void
duration_format(int64_t seconds, char *out, size_t n)
{
	if (seconds < 0)
		seconds = 0;
	if (seconds < 60)
		snprintf(out, n, "%llds", (long long)seconds);
	else if (seconds < 3600 && seconds % 60 != 0)
		snprintf(out, n, "%lldm%llds", (long long)(seconds / 60), (long long)(seconds % 60));
	else if (seconds < 3600)
		snprintf(out, n, "%lldm", (long long)(seconds / 60));
	else if (seconds < 86400 && seconds % 3600 / 60 != 0)
		snprintf(out, n, "%lldh%lldm", (long long)(seconds / 3600),
		    (long long)(seconds % 3600 / 60));
	else if (seconds < 86400)
		snprintf(out, n, "%lldh", (long long)(seconds / 3600));
	else
		snprintf(out, n, "%lldd", (long long)(seconds / 86400));
}

int
size_parse_mib(const char *s, int64_t *ret)
{
	int64_t v;
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || v > (int64_t)1 << 30)
		return -EINVAL;
	if (strcmp(end, "G") == 0 || strcmp(end, "GiB") == 0)
		v *= 1024;
	else if (strcmp(end, "T") == 0 || strcmp(end, "TiB") == 0)
		v *= 1024 * 1024;
	else if (*end != '\0' && strcmp(end, "M") != 0 && strcmp(end, "MiB") != 0)
		return -EINVAL;
	if (v > (int64_t)1 << 30)
		return -EINVAL;
	*ret = v;
	return 0;
}
