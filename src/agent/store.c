/*
 * store.c - the private data folder: checked reads, atomic writes.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "rng.h"

int spiffe_agent_dir_open(const char *path, int *dirfd, spiffe_errbuf *eb)
{
	struct stat st;
	int fd;

	*dirfd = -1;
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return spiffe_fail(eb, SPIFFE_ERR_IO, "cannot create data "
				   "folder %s: %s", path, strerror(errno));
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return spiffe_fail(eb, SPIFFE_ERR_IO, "cannot open data "
				   "folder %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		close(fd);
		return spiffe_fail(eb, SPIFFE_ERR_IO, "cannot stat data "
				   "folder %s: %s", path, strerror(errno));
	}
	if (st.st_uid != geteuid()) {
		close(fd);
		return spiffe_fail(eb, SPIFFE_ERR_IO, "data folder %s belongs "
				   "to uid %u, not to this user (uid %u)",
				   path, (unsigned)st.st_uid,
				   (unsigned)geteuid());
	}
	if ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) != 0) {
		close(fd);
		return spiffe_fail(eb, SPIFFE_ERR_IO, "cannot set mode 0700 "
				   "on data folder %s: %s", path,
				   strerror(errno));
	}
	*dirfd = fd;
	return 0;
}

int spiffe_agent_file_read(int dirfd, const char *name, size_t max,
			   int secret, char **out, size_t *len,
			   struct stat *stp, int *fdp, spiffe_errbuf *eb)
{
	struct stat st;
	char *buf;
	size_t n = 0;
	int fd;

	*out = NULL;
	*len = 0;
	if (fdp != NULL)
		*fdp = -1;
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return spiffe_fail(eb, SPIFFE_ERR_NOT_FOUND, "%s does "
					   "not exist", name);
		return spiffe_fail(eb, SPIFFE_ERR_IO, "cannot open %s: %s",
				   name, strerror(errno));
	}
	if (fstat(fd, &st) != 0) {
		close(fd);
		return spiffe_fail(eb, SPIFFE_ERR_IO, "cannot stat %s: %s",
				   name, strerror(errno));
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & (secret ? 077 : 022)) != 0) {
		close(fd);
		return spiffe_fail(eb, SPIFFE_ERR_IO, "%s must be a regular "
				   "file of uid %u with mode 0600 (it has uid "
				   "%u, mode 0%o)", name, (unsigned)geteuid(),
				   (unsigned)st.st_uid,
				   (unsigned)(st.st_mode & 07777));
	}
	if (st.st_size < 0 || (uint64_t)st.st_size > max) {
		close(fd);
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT, "%s of %lld bytes "
				   "exceeds the limit of %zu", name,
				   (long long)st.st_size, max);
	}
	buf = malloc(max + 1);
	if (buf == NULL) {
		close(fd);
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, max + 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;

			close(fd);
			free(buf);
			return spiffe_fail(eb, SPIFFE_ERR_IO, "cannot read "
					   "%s: %s", name, strerror(e));
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			close(fd);
			free(buf);
			return spiffe_fail(eb, SPIFFE_ERR_LIMIT, "%s exceeds "
					   "the limit of %zu bytes", name,
					   max);
		}
	}
	if (fdp != NULL)
		*fdp = fd;
	else
		close(fd);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	if (stp != NULL)
		*stp = st;
	return 0;
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w == 0)
			errno = EIO;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int spiffe_agent_file_write(int dirfd, const char *name, const void *p,
			    size_t len, spiffe_errbuf *eb)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[8];
	char tmp[300];
	const char *step;
	int fd, e;

	if (strlen(name) > 200 || strchr(name, '/') != NULL)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "bad file name");
	if (spiffe_rng(NULL, r, sizeof(r)) != 0)
		return spiffe_fail(eb, SPIFFE_ERR_CRYPTO, "random generator "
				   "failed");
	/* ".name.tmp-<16 hex>": unique, hidden, in the same folder. */
	size_t n = (size_t)snprintf(tmp, sizeof(tmp), ".%s.tmp-", name);
	for (size_t i = 0; i < sizeof(r); i++) {
		tmp[n++] = hex[r[i] >> 4];
		tmp[n++] = hex[r[i] & 15];
	}
	tmp[n] = '\0';
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
		    O_NOFOLLOW, 0600);
	if (fd < 0)
		return spiffe_fail(eb, SPIFFE_ERR_IO, "cannot create %s: %s",
				   tmp, strerror(errno));
	step = "write";
	if (write_all(fd, p, len) != 0)
		goto fail;
	step = "fchmod";
	if (fchmod(fd, 0600) != 0)      /* whatever the umask was */
		goto fail;
	step = "fsync";
	if (fsync(fd) != 0)
		goto fail;
	step = "close";
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	step = "rename";
	if (renameat(dirfd, tmp, dirfd, name) != 0)
		goto fail;
	if (fsync(dirfd) != 0)
		return spiffe_fail(eb, SPIFFE_ERR_IO, "%s written, but fsync "
				   "of its folder failed: %s", name,
				   strerror(errno));
	return 0;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	unlinkat(dirfd, tmp, 0);
	return spiffe_fail(eb, SPIFFE_ERR_IO, "cannot write %s (%s): %s",
			   name, step, strerror(e));
}

int spiffe_agent_lock(int dirfd, const char *name, int *fd,
		      spiffe_errbuf *eb)
{
	*fd = openat(dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		     0600);
	if (*fd < 0)
		return spiffe_fail(eb, SPIFFE_ERR_IO, "cannot open %s: %s",
				   name, strerror(errno));
	while (flock(*fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			int e = errno;

			close(*fd);
			*fd = -1;
			return spiffe_fail(eb, SPIFFE_ERR_IO, "cannot lock "
					   "%s: %s", name, strerror(e));
		}
	}
	return 0;
}
