/*
 * util: small helpers for files, descriptors and time that every layer uses.
 * All return 0 (or a result) or a negative errno; none prints.
 */
#ifndef SPRIG_UTIL_H
#define SPRIG_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Connects a stream socket to @path. Returns a CLOEXEC fd (non-blocking if
 * @nonblock; a connect in progress is then fine) or a negative errno. */
int unix_connect(const char *path, int nonblock);
/* Binds and listens on @path with mode @mode, replacing a stale socket.
 * Returns a non-blocking CLOEXEC fd or a negative errno. */
int unix_listen(const char *path, mode_t mode);
int fd_set_nonblock(int fd, int on);
int fd_set_cloexec(int fd, int on);
/* Marks every descriptor from @lowfd up close-on-exec: for a child about to
 * exec, so nothing this process inherited from its own parent leaks on. */
void fd_cloexec_from(int lowfd);

/* Creates @path and missing parents with @mode. */
int mkdir_p(const char *path, mode_t mode);
/* Removes @path and everything below it; a missing path is not an error. */
int rm_rf(const char *path);
int fsync_dir(const char *dir);
/* The directory @path is in ("." without a slash, "/" at the root), newly
 * allocated: the one to sync after making @path. */
char *path_dir(const char *path);
/* Writes @data to @path durably: temp file, fsync, rename, fsync dir. */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Writes all @len bytes of @buf at offset @off of @fd (retrying short
 * writes and EINTR). No allocation. Returns 0 or a negative errno. */
int pwrite_all(int fd, const void *buf, size_t len, off_t off);
/* The same without the fsyncs: readers never see half a file, but a power
 * loss may take it back. For files whose meaning ends with the machine's
 * uptime anyway (a pid file). */
int write_file_replace(const char *path, const void *data, size_t len, mode_t mode);
/* Reads a whole file (at most @max bytes) as a NUL-terminated string. */
int read_file(const char *path, size_t max, char **ret, size_t *ret_len);
/* Returns the last @max bytes of a file, NUL-terminated, or NULL. */
char *read_file_tail(const char *path, size_t max);

/*
 * One step of a sparse copy of @src into @dst (which must be as long as
 * @src already; holes are not written): copies at most @max bytes of the
 * data at or after *@off, with copy_file_range (in the kernel; extents
 * shared where the filesystem can: btrfs, XFS), and moves *@off on.
 * Returns 0 while there is more, 1 when the copy is whole, or a negative
 * errno.
 */
int copy_sparse_step(int src, int dst, off_t *off, off_t size, size_t max);
/*
 * Copies file @src to @dst, a new file (-EEXIST if it exists) of the same
 * size with the same holes, by copy_sparse_step. Not synced. No allocation:
 * safe in a forked child (proc_spawn_fn). Returns 0 or a negative errno;
 * on failure @dst is removed.
 */
int copy_sparse_file(const char *src, const char *dst);

/* Wall clock in unix milliseconds. */
int64_t now_unix_ms(void);
/* Formats unix ms as RFC 3339 UTC ("2026-01-02T03:04:05Z") into @out (>= 32 bytes). */
void format_rfc3339(int64_t ms, char *out, size_t n);

/* A process's start time in clock ticks since boot (/proc/PID/stat field
 * 22), which tells a live process from a reused pid. */
int proc_start_time(pid_t pid, uint64_t *ret);
/* Whether process @pid has file @path open: 1, 0, or a negative errno
 * (-ENOENT: no such process, or no such file). */
int proc_has_open(pid_t pid, const char *path);
/* The CPU time (user + system) and resident memory of process @pid. */
int proc_usage(pid_t pid, uint64_t *ret_cpu_ms, uint64_t *ret_rss_kb);

/* Lowercase hex SHA-256 of the named files' contents in order (65 bytes out). */
int sha256_files(const char *const *paths, size_t n, char out[65]);
/* SHA-256 of @len bytes at @data, in hex. Returns 0 or -EIO. */
int sha256_hex(const void *data, size_t len, char out[65]);

/* Fills @out with n-1 random lowercase hex digits and a NUL. */
void random_hex(char *out, size_t n);

/* Parses a duration: "90" or "90s", "5m", "2h", "1d" (whole numbers) into
 * seconds. Returns 0, or -EINVAL for anything else or more than a year. */
int duration_parse(const char *s, int64_t *ret);
/* Writes a span of @seconds the short way: "45s", "5m", "1m30s", "2h",
 * "2h15m", "3d". */
void duration_format(int64_t seconds, char *out, size_t n);

/* Parses a memory size in MiB: "512", "512M", "2G", "1T" (whole numbers).
 * Returns 0, or -EINVAL. */
int size_parse_mib(const char *s, int64_t *ret);

#endif
