/*
 * files: file requests from the host (AGENT_FS). Paths are resolved here,
 * by the guest's kernel, as any program in the guest would resolve them:
 * relative ones from the request's working directory, through `..` and
 * symlinks. So no path can name anything outside the guest.
 *
 * Delete, rename, copy, chmod and chown are done as their frame arrives,
 * except on a whole tree (a recursive delete, chmod or chown of a
 * directory, a copy of one): that runs in a child process of its own, so
 * the agent and every session's output go on meanwhile, and its result
 * comes back through a pipe (files_tree). Read, write and list stay open across loop turns, one record each on
 * a list: a read sends the file as its output credit allows; a list
 * gathers its records first (at most the request's limit of entries) and
 * sends them the same way; a write takes the host's STDIN frames into a
 * temporary file beside the target and renames it over the target at
 * STDIN_EOF, so a write that fails or is cancelled leaves the old file as
 * it was.
 */
#include "files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "common/agent_proto.h"
#include "common/buf.h"
#include "common/xmalloc.h"
#include "sprig-init.h"

/* Deepest a recursive list or copy goes (each level holds a directory open). */
#define FILES_MAX_DEPTH		64
#define FILES_NFTW_FDS		16

struct file_req {
	uint32_t	 chan;
	uint32_t	 op;
	int		 fd;		/* read: the file; write: the temporary one */
	char		*path;		/* the path as resolved (write: the target) */
	char		*tmp;		/* write: the temporary file */
	mode_t		 mode;		/* write: the mode the file gets */
	uid_t		 uid;		/* write: the owner it keeps */
	gid_t		 gid;
	struct buf	 out;		/* list: records not yet sent */
	uint64_t	 limit;
	uint64_t	 count;		/* bytes read or written, entries */
	uint32_t	 credit;	/* output credit left */
	uint32_t	 unreturned;	/* stdin taken, credit not yet given back */
	pid_t		 pid;		/* a tree operation's child, until it is done */
	struct file_req	*next;
};

static struct file_req *reqs;

/* The walkers' state (nftw has no argument for it; the agent has one thread). */
static struct {
	uint64_t	 count;
	int		 err;		/* the first failure, a positive errno */
	char		*where;		/* and its path */
	uint32_t	 op;
	mode_t		 mode;
	uid_t		 uid;
	gid_t		 gid;
} walk;

static void
files_done_send(uint32_t chan, int err, const char *message, uint64_t value)
{
	struct buf b;

	buf_init(&b);
	buf_add_u32(&b, (uint32_t)err);
	buf_add_str(&b, message);
	buf_add_u64(&b, value);
	agent_send(AGENT_FS_DONE, chan, buf_head(&b), buf_used(&b));
	buf_done(&b);
}

/* Ends a request with @err (a positive errno) and what failed on @path. */
static void
files_fail(uint32_t chan, int err, const char *verb, const char *path)
{
	char *msg = xasprintf("%s '%s': %s", verb, path, strerror(err));

	files_done_send(chan, err, msg, 0);
	free(msg);
}

/* @path from @cwd (a relative or empty @cwd counts from "/"). */
static char *
files_resolve(const char *cwd, const char *path)
{
	if (path[0] == '/')
		return xstrdup(path);
	if (cwd == NULL || cwd[0] != '/')
		cwd = "/";
	return xasprintf("%s%s%s", cwd, cwd[strlen(cwd) - 1] == '/' ? "" : "/", path);
}

static char *
files_dirname(const char *path)
{
	char *copy = xstrdup(path), *d = xstrdup(dirname(copy));

	free(copy);
	return d;
}

static char *
files_basename(const char *path)
{
	char *copy = xstrdup(path), *b = xstrdup(basename(copy));

	free(copy);
	return b;
}

static struct file_req *
files_find(uint32_t chan)
{
	struct file_req *f;

	for (f = reqs; f != NULL; f = f->next) {
		if (f->chan == chan)
			return f;
	}
	return NULL;
}

/* Forgets @f; an unfinished write's temporary file goes. */
static void
files_free(struct file_req *f)
{
	struct file_req **pp;

	for (pp = &reqs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	}
	if (f->pid > 0)
		kill(f->pid, SIGKILL);	/* the host is gone; init reaps it */
	if (f->fd >= 0)
		close(f->fd);
	if (f->tmp != NULL)
		unlink(f->tmp);
	free(f->tmp);
	free(f->path);
	buf_done(&f->out);
	free(f);
}

static struct file_req *
files_open(uint32_t chan, uint32_t op, char *path, uint64_t limit)
{
	struct file_req *f = xcalloc(1, sizeof *f);

	f->chan = chan;
	f->op = op;
	f->fd = -1;
	f->path = path;
	f->limit = limit;
	f->credit = AGENT_WINDOW_SIZE;
	buf_init(&f->out);
	f->next = reqs;
	reqs = f;
	return f;
}

static void
files_read(uint32_t chan, char *path, uint64_t limit)
{
	struct file_req *f;
	struct stat st;
	char *msg;
	int fd;

	/* Non-blocking: opening a FIFO must not hang the agent. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		files_fail(chan, errno, "read", path);
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		files_fail(chan, EISDIR, "read", path);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		msg = xasprintf("read '%s': not a regular file", path);
		files_done_send(chan, EINVAL, msg, 0);
		free(msg);
		goto fail;
	}
	if ((uint64_t)st.st_size > limit) {
		msg = xasprintf("read '%s': the file is %lld bytes, over the limit of %llu "
		    "bytes a request may read", path, (long long)st.st_size,
		    (unsigned long long)limit);
		files_done_send(chan, EFBIG, msg, 0);
		free(msg);
		goto fail;
	}
	f = files_open(chan, AGENT_FS_READ, path, limit);
	f->fd = fd;
	return;
fail:
	if (fd >= 0)
		close(fd);
	free(path);
}

static uint8_t
files_type(mode_t m)
{
	if (S_ISREG(m))
		return AGENT_FS_FILE;
	if (S_ISDIR(m))
		return AGENT_FS_DIR;
	if (S_ISLNK(m))
		return AGENT_FS_SYMLINK;
	return AGENT_FS_OTHER;
}

static void
files_entry(struct file_req *f, const char *name, const struct stat *st)
{
	struct agent_fs_entry e = {
		.type = files_type(st->st_mode),
		.mode = st->st_mode & 07777,
		.size = (uint64_t)st->st_size,
		.mtime = st->st_mtime,
		.name = (char *)name,
	};

	agent_fs_entry_add(&f->out, &e);
	f->count++;
}

/* Adds @dir's entries (named from @prefix) to @f; returns 0 or a positive
 * errno, with the path that failed in *@where. */
static int
files_list_dir(struct file_req *f, const char *dir, const char *prefix,
    const char *pattern, int recursive, int depth, char **where)
{
	struct dirent *de;
	struct stat st;
	char *name, *sub;
	DIR *d;
	int err = 0;

	if (depth > FILES_MAX_DEPTH) {
		*where = xstrdup(dir);
		return ELOOP;
	}
	d = opendir(dir);
	if (d == NULL) {
		*where = xstrdup(dir);
		return errno;
	}
	while (err == 0 && (errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		/* It may be gone by now: a list is a moment's view. */
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		name = xasprintf("%s%s", prefix, de->d_name);
		if (*pattern == '\0' || fnmatch(pattern, de->d_name, FNM_PERIOD) == 0) {
			if (f->count >= f->limit) {
				*where = xstrdup(dir);
				err = E2BIG;
			} else {
				files_entry(f, name, &st);
			}
		}
		if (err == 0 && recursive && S_ISDIR(st.st_mode)) {
			sub = xasprintf("%s/%s", dir, de->d_name);
			free(name);
			name = xasprintf("%s%s/", prefix, de->d_name);
			err = files_list_dir(f, sub, name, pattern, recursive, depth + 1, where);
			free(sub);
		}
		free(name);
	}
	if (err == 0 && errno != 0) {
		err = errno;
		*where = xstrdup(dir);
	}
	closedir(d);
	return err;
}

static void
files_list(uint32_t chan, char *path, const struct agent_fs *req)
{
	struct file_req *f;
	struct stat st;
	char *where = NULL, *msg, *name;
	int err;

	/* A directory (or a link to one) lists its entries; anything else itself. */
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		f = files_open(chan, AGENT_FS_LIST, path, req->limit);
		err = files_list_dir(f, path, "", req->path2, req->flags & AGENT_FS_RECURSIVE,
		    0, &where);
		if (err == E2BIG) {
			msg = xasprintf("list '%s': more than %llu entries; list a smaller "
			    "directory or give a pattern", path, (unsigned long long)req->limit);
			files_done_send(chan, err, msg, 0);
			free(msg);
		} else if (err != 0) {
			files_fail(chan, err, "list", where);
		}
		free(where);
		if (err != 0)
			files_free(f);
		return;
	}
	if (lstat(path, &st) < 0) {
		files_fail(chan, errno, "list", path);
		free(path);
		return;
	}
	name = files_basename(path);
	f = files_open(chan, AGENT_FS_LIST, files_dirname(path), req->limit);
	files_entry(f, name, &st);
	free(name);
	free(path);
}

/* mkdir -p: every missing directory up to and with @dir. */
static int
files_mkdirs(const char *dir, int all)
{
	char *parent;
	int r;

	if (mkdir(dir, 0755) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT || !all)
		return -errno;
	parent = files_dirname(dir);
	r = strcmp(parent, dir) == 0 ? -ENOENT : files_mkdirs(parent, all);
	free(parent);
	if (r == 0 && mkdir(dir, 0755) < 0 && errno != EEXIST)
		r = -errno;
	return r;
}

static void
files_write(uint32_t chan, char *path, const struct agent_fs *req)
{
	struct file_req *f;
	struct stat st;
	char *dir, *real;
	int r, exists;

	/* Through a symlink, as open(2) would: its target is what changes. */
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode) &&
	    (real = realpath(path, NULL)) != NULL) {
		free(path);
		path = real;
	}
	dir = files_dirname(path);
	/* Without mkdirParents the last directory is still made, since the
	 * SDK's mkdir is a write of DIR/.keep. */
	r = files_mkdirs(dir, req->flags & AGENT_FS_MKDIRS);
	if (r < 0) {
		files_fail(chan, -r, "make the directory", dir);
		goto fail;
	}
	exists = stat(path, &st) == 0;
	if (exists && S_ISDIR(st.st_mode)) {
		files_fail(chan, EISDIR, "write", path);
		goto fail;
	}
	if (exists && !S_ISREG(st.st_mode)) {
		files_fail(chan, EINVAL, "write (not a regular file)", path);
		goto fail;
	}
	f = files_open(chan, AGENT_FS_WRITE, path, req->limit);
	f->mode = req->flags & AGENT_FS_MODE ? req->mode : exists ? st.st_mode & 07777 : 0644;
	f->uid = exists ? st.st_uid : (uid_t)-1;
	f->gid = exists ? st.st_gid : (gid_t)-1;
	for (int i = 0; i < 100 && f->fd < 0; i++) {
		free(f->tmp);
		f->tmp = xasprintf("%s/.sprig-write-%u-%d", dir, chan, i);
		f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (f->fd < 0 && errno != EEXIST)
			break;
	}
	if (f->fd < 0) {
		files_fail(chan, errno, "write", path);
		free(f->tmp);
		f->tmp = NULL;
		files_free(f);
	}
	free(dir);
	return;
fail:
	free(dir);
	free(path);
}

/* nftw callbacks of delete, chmod and chown: count, and keep the first error. */
static int
files_walk_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	int r = 0;

	switch (walk.op) {
	case AGENT_FS_DELETE:
		r = flag == FTW_DP ? rmdir(path) : unlink(path);
		break;
	case AGENT_FS_CHMOD:
		/* Linux cannot chmod a link itself; its target may be anywhere. */
		if (flag != FTW_SL && flag != FTW_SLN)
			r = chmod(path, walk.mode);
		break;
	case AGENT_FS_CHOWN:
		r = lchown(path, walk.uid, walk.gid);
		break;
	}
	if (r < 0 && walk.err == 0) {
		walk.err = errno;
		walk.where = xstrdup(path);
	}
	if (r == 0)
		walk.count++;
	return 0;
}

static int
files_walk(const char *path, int depth_first)
{
	walk.count = 0;
	walk.err = 0;
	walk.where = NULL;
	if (nftw(path, files_walk_one, FILES_NFTW_FDS, FTW_PHYS | (depth_first ? FTW_DEPTH : 0))
	    < 0 && walk.err == 0) {
		walk.err = errno;
		walk.where = xstrdup(path);
	}
	return walk.err;
}

/* Delete, chmod, chown: the path, or with AGENT_FS_RECURSIVE the tree. */
static int
files_change(char *path, const struct agent_fs *req, char **where)
{
	struct stat st;
	char *real;
	int r;

	walk.op = req->op;
	walk.mode = req->mode;
	walk.uid = req->uid;
	walk.gid = req->gid;
	walk.count = 0;
	if (lstat(path, &st) < 0)
		return errno;
	if (req->op == AGENT_FS_DELETE) {
		real = realpath(path, NULL);
		r = real != NULL && strcmp(real, "/") == 0;
		free(real);
		if (r)
			return EPERM;
		if (S_ISDIR(st.st_mode) && !(req->flags & AGENT_FS_RECURSIVE))
			return EISDIR;
	}
	if (req->flags & AGENT_FS_RECURSIVE) {
		r = files_walk(path, req->op == AGENT_FS_DELETE);
		if (r != 0) {
			*where = walk.where;
			walk.where = NULL;
		}
		return r;
	}
	switch (req->op) {
	case AGENT_FS_DELETE:
		r = unlink(path);
		break;
	case AGENT_FS_CHMOD:
		r = chmod(path, req->mode);
		break;
	default:
		r = chown(path, req->uid, req->gid);
		break;
	}
	if (r < 0)
		return errno;
	walk.count = 1;
	return 0;
}

static int files_copy_tree(const char *src, const char *dst, int preserve, int depth,
    char **where);

static int
files_copy_attrs(int fd, const char *dst, const struct stat *st, int preserve)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };

	if (fd >= 0 ? fchmod(fd, st->st_mode & 07777) : chmod(dst, st->st_mode & 07777))
		return errno;
	if (!preserve)
		return 0;
	if (fd >= 0 ? fchown(fd, st->st_uid, st->st_gid) : chown(dst, st->st_uid, st->st_gid))
		return errno;
	if (fd >= 0 ? futimens(fd, ts) : utimensat(AT_FDCWD, dst, ts, 0))
		return errno;
	return 0;
}

static int
files_copy_file(const char *src, const char *dst, const struct stat *st, int preserve,
    char **where)
{
	static char chunk[AGENT_CHUNK];
	ssize_t n, w;
	int in, out = -1, err = 0;

	in = open(src, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	if (in < 0) {
		*where = xstrdup(src);
		return errno;
	}
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0600);
	if (out < 0) {
		err = errno;
		*where = xstrdup(dst);
		goto out;
	}
	while (err == 0 && (n = read(in, chunk, sizeof chunk)) != 0) {
		if (n < 0) {
			if (errno != EINTR) {
				err = errno;
				*where = xstrdup(src);
			}
			continue;
		}
		for (ssize_t off = 0; err == 0 && off < n; off += w) {
			w = write(out, chunk + off, (size_t)(n - off));
			if (w < 0) {
				w = 0;
				if (errno != EINTR) {
					err = errno;
					*where = xstrdup(dst);
				}
			}
		}
	}
	if (err == 0 && (err = files_copy_attrs(out, dst, st, preserve)) != 0)
		*where = xstrdup(dst);
out:
	close(in);
	if (out >= 0)
		close(out);
	return err;
}

static int
files_copy_dir(const char *src, const char *dst, const struct stat *st, int preserve,
    int depth, char **where)
{
	struct dirent *de;
	struct stat dst_st;
	char *s, *d;
	DIR *dir;
	int err = 0;

	if (depth > FILES_MAX_DEPTH) {
		*where = xstrdup(src);
		return ELOOP;
	}
	if (mkdir(dst, 0700) < 0 && (errno != EEXIST || stat(dst, &dst_st) < 0 ||
	    !S_ISDIR(dst_st.st_mode))) {
		*where = xstrdup(dst);
		return errno == EEXIST ? ENOTDIR : errno;
	}
	dir = opendir(src);
	if (dir == NULL) {
		*where = xstrdup(src);
		return errno;
	}
	while (err == 0 && (de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		s = xasprintf("%s/%s", src, de->d_name);
		d = xasprintf("%s/%s", dst, de->d_name);
		err = files_copy_tree(s, d, preserve, depth + 1, where);
		free(s);
		free(d);
	}
	closedir(dir);
	if (err == 0 && (err = files_copy_attrs(-1, dst, st, preserve)) != 0)
		*where = xstrdup(dst);
	return err;
}

static int
files_copy_tree(const char *src, const char *dst, int preserve, int depth, char **where)
{
	char target[PATH_MAX];
	struct stat st;
	ssize_t n;
	int err;

	if (lstat(src, &st) < 0) {
		*where = xstrdup(src);
		return errno;
	}
	if (S_ISDIR(st.st_mode)) {
		err = files_copy_dir(src, dst, &st, preserve, depth, where);
	} else if (S_ISLNK(st.st_mode)) {
		/* A link is copied as a link, pointing where it pointed. */
		n = readlink(src, target, sizeof target - 1);
		if (n < 0) {
			*where = xstrdup(src);
			return errno;
		}
		target[n] = '\0';
		if (symlink(target, dst) < 0 && (errno != EEXIST || unlink(dst) < 0 ||
		    symlink(target, dst) < 0)) {
			*where = xstrdup(dst);
			return errno;
		}
		err = 0;
	} else if (S_ISREG(st.st_mode)) {
		err = files_copy_file(src, dst, &st, preserve, where);
	} else {
		return 0;	/* devices, FIFOs and sockets are left out */
	}
	if (err == 0)
		walk.count++;
	return err;
}

static int
files_copy(const char *src, const char *dst, const struct agent_fs *req, char **where)
{
	char *real_src, *parent, *real_parent, *base, *real_dst;
	struct stat st;
	size_t n;
	int err = 0;

	walk.count = 0;
	if (stat(src, &st) < 0) {
		*where = xstrdup(src);
		return errno;
	}
	if (S_ISDIR(st.st_mode)) {
		if (!(req->flags & AGENT_FS_RECURSIVE)) {
			*where = xstrdup(src);
			return EISDIR;
		}
		/* Into itself would never end. */
		real_src = realpath(src, NULL);
		parent = files_dirname(dst);
		real_parent = realpath(parent, NULL);
		base = files_basename(dst);
		real_dst = real_parent ? xasprintf("%s/%s", strcmp(real_parent, "/") == 0 ? "" :
		    real_parent, base) : NULL;
		n = real_src ? strlen(real_src) : 0;
		if (real_src != NULL && real_dst != NULL && strncmp(real_dst, real_src, n) == 0 &&
		    (real_dst[n] == '/' || real_dst[n] == '\0')) {
			*where = xstrdup(dst);
			err = EINVAL;
		}
		free(real_src);
		free(parent);
		free(real_parent);
		free(base);
		free(real_dst);
		if (err != 0)
			return err;
	}
	return files_copy_tree(src, dst, req->flags & AGENT_FS_PRESERVE, 0, where);
}

static const char *const files_verbs[] = {
	[AGENT_FS_DELETE] = "delete", [AGENT_FS_RENAME] = "rename",
	[AGENT_FS_COPY] = "copy", [AGENT_FS_CHMOD] = "chmod", [AGENT_FS_CHOWN] = "chown",
};

/* What a tree operation's child writes to its pipe before it exits: the
 * errno (0: done), the count, and where it failed or the path it made. */
struct files_result {
	int32_t		 err;
	uint64_t	 count;
	char		 text[PATH_MAX];
};

/* Whether @req works on a whole tree: then it runs in a child. */
static int
files_is_tree(const char *path, const struct agent_fs *req)
{
	struct stat st;

	if (req->op == AGENT_FS_RENAME || lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return 0;
	return req->op == AGENT_FS_COPY || (req->flags & AGENT_FS_RECURSIVE);
}

/* The operation itself; *@text is where it failed, or the path it made. */
static int
files_operate(char *path, const struct agent_fs *req, char **text)
{
	char *dst = NULL, *where = NULL;
	int err;

	switch (req->op) {
	case AGENT_FS_RENAME:
	case AGENT_FS_COPY:
		dst = files_resolve(req->cwd, req->path2);
		walk.count = 1;
		if (req->path2[0] == '\0')
			err = EINVAL;
		else if (req->op == AGENT_FS_COPY)
			err = files_copy(path, dst, req, &where);
		else
			err = rename(path, dst) < 0 ? errno : 0;
		break;
	default:
		err = files_change(path, req, &where);
		break;
	}
	if (err != 0) {
		*text = where ? where : xstrdup(path);
		free(dst);
	} else {
		*text = dst ? dst : xstrdup(path);
		free(where);
	}
	return err;
}

/* Answers an operation done: @err and @text as files_operate left them. */
static void
files_answer(uint32_t chan, uint32_t op, int err, const char *text, uint64_t count)
{
	if (err != 0)
		files_fail(chan, err, files_verbs[op], text);
	else
		files_done_send(chan, 0, text, count);
}

/* Runs a tree operation in a child; files_tree_done answers it. */
static void
files_tree(uint32_t chan, char *path, const struct agent_fs *req)
{
	struct files_result res = { 0 };
	struct file_req *f;
	char *text = NULL;
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
		files_fail(chan, errno, files_verbs[req->op], path);
		free(path);
		return;
	}
	pid = fork();
	if (pid < 0) {
		files_fail(chan, errno, files_verbs[req->op], path);
		close(fds[0]);
		close(fds[1]);
		free(path);
		return;
	}
	if (pid == 0) {
		close(fds[0]);
		res.err = files_operate(path, req, &text);
		res.count = walk.count;
		snprintf(res.text, sizeof res.text, "%s", text);
		(void)!write(fds[1], &res, sizeof res);
		_exit(0);
	}
	close(fds[1]);
	f = files_open(chan, req->op, path, 0);
	f->fd = fds[0];
	f->pid = pid;
}

/* A tree operation's child is done once its pipe is at its end (its
 * SIGCHLD woke the loop): answer with what it wrote, or that it died.
 * Returns 0 while it still runs. */
static int
files_tree_done(struct file_req *f)
{
	struct files_result res;
	uint8_t data[sizeof res];
	ssize_t n;

	while ((n = read(f->fd, data, sizeof data)) > 0)
		buf_add(&f->out, data, (size_t)n);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	f->pid = 0;	/* it wrote and exited, or died: init reaps it */
	if (n < 0 || buf_used(&f->out) != sizeof res) {
		files_fail(f->chan, EIO, files_verbs[f->op], f->path);
		return 1;
	}
	memcpy(&res, buf_head(&f->out), sizeof res);
	res.text[sizeof res.text - 1] = '\0';
	files_answer(f->chan, f->op, res.err, res.text, res.count);
	return 1;
}

/* The quick operations, done now; a whole tree, in a child. */
static void
files_now(uint32_t chan, char *path, const struct agent_fs *req)
{
	char *text = NULL;
	int err;

	if (files_is_tree(path, req)) {
		files_tree(chan, path, req);
		return;
	}
	err = files_operate(path, req, &text);
	files_answer(chan, req->op, err, text, walk.count);
	free(text);
	free(path);
}

void
files_request(uint32_t chan, const uint8_t *p, size_t n)
{
	struct agent_fs req;
	char *path;

	if (chan == 0 || files_find(chan) != NULL) {
		init_log("file request on channel %u, which is %s", chan,
		    chan == 0 ? "the connection's" : "in use");
		return;
	}
	if (agent_fs_decode(p, n, &req) < 0) {
		init_log("malformed file request on channel %u (%zu bytes)", chan, n);
		files_done_send(chan, EPROTO, "malformed file request", 0);
		return;
	}
	path = files_resolve(req.cwd, req.path);
	switch (req.op) {
	case AGENT_FS_READ:
		files_read(chan, path, req.limit);
		break;
	case AGENT_FS_WRITE:
		files_write(chan, path, &req);
		break;
	case AGENT_FS_LIST:
		files_list(chan, path, &req);
		break;
	default:
		files_now(chan, path, &req);
		break;
	}
	agent_fs_done(&req);
}

/* A write's end: the temporary file takes the target's place. */
static void
files_write_end(struct file_req *f)
{
	int err = 0;

	if (fchmod(f->fd, f->mode) < 0 ||
	    ((f->uid != (uid_t)-1 || f->gid != (gid_t)-1) && fchown(f->fd, f->uid, f->gid) < 0))
		err = errno;
	if (close(f->fd) < 0 && err == 0)
		err = errno;
	f->fd = -1;
	if (err == 0 && rename(f->tmp, f->path) < 0)
		err = errno;
	if (err != 0) {
		files_fail(f->chan, err, "write", f->path);
	} else {
		free(f->tmp);
		f->tmp = NULL;
		files_done_send(f->chan, 0, f->path, f->count);
	}
	files_free(f);
}

static void
files_stdin(struct file_req *f, const uint8_t *p, size_t n)
{
	uint32_t chan = f->chan;
	char *msg;
	ssize_t w;

	if (f->op != AGENT_FS_WRITE)
		return;
	if (n > f->limit - f->count) {
		msg = xasprintf("write '%s': over the limit of %llu bytes a request may write",
		    f->path, (unsigned long long)f->limit);
		files_done_send(chan, EFBIG, msg, 0);
		free(msg);
		files_free(f);
		return;
	}
	for (size_t off = 0; off < n; off += (size_t)w) {
		w = write(f->fd, p + off, n - off);
		if (w < 0 && errno == EINTR) {
			w = 0;
		} else if (w < 0) {
			files_fail(chan, errno, "write", f->path);
			files_free(f);
			return;
		}
	}
	f->count += n;
	/* Written: the host may send as much again. */
	f->unreturned += (uint32_t)n;
	if (f->unreturned >= AGENT_WINDOW_BATCH) {
		agent_send_stdin_window(chan, f->unreturned);
		f->unreturned = 0;
	}
}

int
files_frame(uint16_t type, uint32_t chan, const uint8_t *p, size_t n)
{
	struct file_req *f = chan != 0 ? files_find(chan) : NULL;
	uint32_t bytes;

	if (f == NULL)
		return 0;
	switch (type) {
	case AGENT_STDIN:
		files_stdin(f, p, n);
		return 1;
	case AGENT_STDIN_EOF:
		if (f->op == AGENT_FS_WRITE)
			files_write_end(f);
		return 1;
	case AGENT_WINDOW:
		if (agent_window_decode(p, n, &bytes) == 0)
			f->credit = bytes > AGENT_WINDOW_SIZE - f->credit ? AGENT_WINDOW_SIZE :
			    f->credit + bytes;
		return 1;
	case AGENT_SIGNAL:
		files_free(f);
		return 1;
	}
	return 0;
}

void
files_kill_all(void)
{
	while (reqs != NULL)
		files_free(reqs);
}

/* Sends what @f's credit allows; returns 0 while it has more to send. */
static int
files_send(struct file_req *f)
{
	static uint8_t chunk[AGENT_CHUNK];
	size_t n;
	ssize_t r;

	while (f->credit > 0) {
		n = f->credit < sizeof chunk ? f->credit : sizeof chunk;
		if (f->op == AGENT_FS_LIST) {
			if (buf_used(&f->out) == 0) {
				files_done_send(f->chan, 0, f->path, f->count);
				return 1;
			}
			n = n < buf_used(&f->out) ? n : buf_used(&f->out);
			agent_send(AGENT_STDOUT, f->chan, buf_head(&f->out), n);
			buf_consume(&f->out, n);
		} else {
			r = read(f->fd, chunk, n);
			if (r < 0 && (errno == EINTR || errno == EAGAIN))
				return 0;
			if (r < 0) {
				files_fail(f->chan, errno, "read", f->path);
				return 1;
			}
			if (r == 0) {
				files_done_send(f->chan, 0, f->path, f->count);
				return 1;
			}
			/* It may have grown since it was measured. */
			if (f->count + (uint64_t)r > f->limit) {
				files_done_send(f->chan, EFBIG, "the file grew over the limit "
				    "while it was read", 0);
				return 1;
			}
			f->count += (uint64_t)r;
			agent_send(AGENT_STDOUT, f->chan, chunk, (size_t)r);
			n = (size_t)r;
		}
		f->credit -= (uint32_t)n;
	}
	return 0;
}

void
files_pump(int out_full)
{
	struct file_req *f, *next;

	for (f = reqs; f != NULL && !out_full; f = next) {
		next = f->next;
		if (f->pid > 0) {
			if (files_tree_done(f))
				files_free(f);
		} else if (f->op != AGENT_FS_WRITE && files_send(f)) {
			files_free(f);
		}
	}
}
