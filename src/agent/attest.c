/*
 * attest.c - Unix workload attestation: SO_PEERCRED, /proc, names.
 */
#include "attest.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <mbedtls/sha256.h>

#include "clock.h"

/* Older C libraries lack it; the generic value (asm-generic/socket.h). */
#if !defined(SO_PEERPIDFD) && (defined(__x86_64__) || defined(__i386__) || \
	defined(__aarch64__) || defined(__arm__) || defined(__riscv))
#define SO_PEERPIDFD 77
#endif

/* statfs f_type of FUSE (linux/magic.h). */
#define FUSE_MAGIC 0x65735546

/* A digest is cached only for a file whose ctime is this old (s). */
#define CACHE_MIN_AGE 2
/* getpwuid_r/getgrgid_r buffers grow up to this (bytes). */
#define NSS_BUF_MAX (64u * 1024)
/* A user or group name longer than this gets no name selector. */
#define NAME_MAX_LEN 256
/* Executables are hashed in reads of this size. */
#define HASH_CHUNK (64u * 1024)

/* ---- parsers ----------------------------------------------------------- */

/* Unsigned decimal at *c (at least one digit, at most max); advances. */
static int dec(const char **c, const char *end, uint64_t max, uint64_t *v)
{
	const char *s = *c;
	uint64_t x = 0;

	if (s == end || *s < '0' || *s > '9')
		return -1;
	while (s < end && *s >= '0' && *s <= '9') {
		unsigned d = (unsigned)(*s - '0');

		if (x > (max - d) / 10)
			return -1;
		x = x * 10 + d;
		s++;
	}
	*c = s;
	*v = x;
	return 0;
}

int spiffe_agent_parse_stat(const char *p, size_t len,
			    spiffe_agent_proc_stat *st, spiffe_errbuf *eb)
{
	const char *end, *c, *rp;
	uint64_t v;

	memset(st, 0, sizeof(*st));
	if (len > SPIFFE_PROC_STAT_MAX)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT, "/proc stat of %zu "
				   "bytes exceeds the limit of %d", len,
				   SPIFFE_PROC_STAT_MAX);
	if (len == 0)            /* (NULL, 0): NULL + 0 is undefined */
		p = "";
	end = p + len;
	c = p;
	if (dec(&c, end, INT32_MAX, &v) != 0 || v == 0)
		return spiffe_fail(eb, SPIFFE_ERR_MALFORMED,
				   "/proc stat: no process ID at the start");
	st->pid = (int64_t)v;
	if (end - c < 2 || c[0] != ' ' || c[1] != '(')
		return spiffe_fail(eb, SPIFFE_ERR_MALFORMED, "/proc stat: no "
				   "\" (\" after the process ID");
	c += 2;
	/* The name may hold ')' too; nothing after it can. */
	rp = memrchr(c, ')', (size_t)(end - c));
	if (rp == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_MALFORMED,
				   "/proc stat: command name has no ')'");
	c = rp + 1;
	if (end - c < 2 || c[0] != ' ' ||
	    !((c[1] >= 'A' && c[1] <= 'Z') || (c[1] >= 'a' && c[1] <= 'z')))
		return spiffe_fail(eb, SPIFFE_ERR_MALFORMED,
				   "/proc stat: no state letter after the "
				   "command name");
	st->state = c[1];
	c += 2;
	/* Fields 4 to 21 are decimal integers, some signed. */
	for (int f = 4; f <= 21; f++) {
		if (c == end || *c != ' ')
			return spiffe_fail(eb, SPIFFE_ERR_MALFORMED,
					   "/proc stat: field %d is missing",
					   f);
		c++;
		if (c < end && *c == '-')
			c++;
		if (dec(&c, end, UINT64_MAX, &v) != 0)
			return spiffe_fail(eb, SPIFFE_ERR_MALFORMED,
					   "/proc stat: field %d is not an "
					   "integer", f);
	}
	if (c == end || *c != ' ')
		return spiffe_fail(eb, SPIFFE_ERR_MALFORMED,
				   "/proc stat: field 22 (start time) is "
				   "missing");
	c++;
	if (dec(&c, end, UINT64_MAX, &v) != 0 ||
	    (c != end && *c != ' ' && *c != '\n'))
		return spiffe_fail(eb, SPIFFE_ERR_MALFORMED,
				   "/proc stat: field 22 (start time) is not "
				   "an unsigned integer");
	st->start_time = v;
	return 0;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Reads up to max whitespace-separated uint32 values from [c, end) into
 * out; sets *n.  1 if there were more than max, -1 if malformed.
 */
static int ids(const char *c, const char *end, uint32_t *out, size_t max,
	       size_t *n)
{
	*n = 0;
	for (;;) {
		uint64_t v;

		while (c < end && is_blank(*c))
			c++;
		if (c == end)
			return 0;
		if (*n == max)
			return 1;
		if (dec(&c, end, UINT32_MAX, &v) != 0 ||
		    (c != end && !is_blank(*c)))
			return -1;
		out[(*n)++] = (uint32_t)v;
	}
}

int spiffe_agent_parse_status(const char *p, size_t len,
			      spiffe_agent_proc_status *st,
			      spiffe_errbuf *eb)
{
	static const char *const keys[] = { "Uid", "Gid", "Groups" };
	const char *end, *line;
	int seen[3] = { 0, 0, 0 };

	memset(st, 0, sizeof(*st));
	if (len > SPIFFE_PROC_STATUS_MAX)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT, "/proc status of %zu "
				   "bytes exceeds the limit of %u", len,
				   (unsigned)SPIFFE_PROC_STATUS_MAX);
	if (len == 0)            /* (NULL, 0): NULL + 0 is undefined */
		p = "";
	end = p + len;
	line = p;
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *le = nl ? nl : end;
		const char *colon = memchr(line, ':', (size_t)(le - line));
		size_t n;
		int k, r;

		for (k = 0; colon != NULL && k < 3; k++) {
			size_t kl = strlen(keys[k]);

			if ((size_t)(colon - line) == kl &&
			    memcmp(line, keys[k], kl) == 0)
				break;
		}
		if (colon != NULL && k < 3) {
			if (seen[k]++)
				return spiffe_fail(eb, SPIFFE_ERR_MALFORMED,
						   "/proc status: \"%s:\" "
						   "appears twice", keys[k]);
			if (k == 2) {
				r = ids(colon + 1, le, st->groups,
					SPIFFE_AGENT_MAX_GROUPS, &n);
				st->ngroups = n;
			} else {
				r = ids(colon + 1, le,
					k == 0 ? st->uid : st->gid, 4, &n);
				if (r != 0 || n != 4)
					r = -1;
			}
			if (r > 0)
				return spiffe_fail(eb, SPIFFE_ERR_LIMIT,
						   "/proc status: more than "
						   "%d supplementary groups",
						   SPIFFE_AGENT_MAX_GROUPS);
			if (r < 0)
				return spiffe_fail(eb, SPIFFE_ERR_MALFORMED,
						   "/proc status: malformed "
						   "\"%s:\" line", keys[k]);
		}
		line = nl ? nl + 1 : end;
	}
	for (int k = 0; k < 3; k++) {
		if (!seen[k])
			return spiffe_fail(eb, SPIFFE_ERR_MALFORMED,
					   "/proc status: no \"%s:\" line",
					   keys[k]);
	}
	return 0;
}

/* ---- workloads and the attestor --------------------------------------- */

void spiffe_agent_workload_init(spiffe_agent_workload *w)
{
	memset(w, 0, sizeof(*w));
	spiffe_selectors_init(&w->sel);
}

void spiffe_agent_workload_free(spiffe_agent_workload *w)
{
	if (w == NULL)
		return;
	spiffe_selectors_free(&w->sel);
	spiffe_agent_workload_init(w);
}

void spiffe_agent_attestor_init(spiffe_agent_attestor *a)
{
	memset(a, 0, sizeof(*a));
	pthread_mutex_init(&a->mu, NULL);
	a->inited = 1;
}

void spiffe_agent_attestor_free(spiffe_agent_attestor *a)
{
	if (a == NULL)
		return;
	if (a->inited)
		pthread_mutex_destroy(&a->mu);
	memset(a, 0, sizeof(*a));
}

/* Appends "; "-separated text to the workload's note (truncating). */
static void note(spiffe_agent_workload *w, const char *fmt, ...)
	SPIFFE_PRINTF(2, 3);

static void note(spiffe_agent_workload *w, const char *fmt, ...)
{
	size_t used = strnlen(w->note, sizeof(w->note));
	va_list ap;

	if (used + 3 >= sizeof(w->note))
		return;
	if (used > 0) {
		memcpy(w->note + used, "; ", 3);
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(w->note + used, sizeof(w->note) - used, fmt, ap);
	va_end(ap);
}

/*
 * Adds prefix + v[0..vlen) as a selector.  A value that is not a valid
 * selector is left out with a note; a duplicate is ignored (the kernel
 * may list a supplementary group twice).
 */
static int add_sel(spiffe_agent_workload *w, const char *prefix,
		   const char *v, size_t vlen, spiffe_errbuf *eb)
{
	char buf[SPIFFE_SELECTOR_MAX + 1];
	size_t pl = strlen(prefix);
	spiffe_errbuf why;
	int rc;

	if (vlen > sizeof(buf) - 1 - pl) {
		note(w, "no %.*s selector: value of %zu bytes is too long",
		     (int)(pl - 1), prefix, vlen);
		return 0;
	}
	memcpy(buf, prefix, pl);
	memcpy(buf + pl, v, vlen);
	if (spiffe_selector_check(buf, pl + vlen, &why) != 0) {
		note(w, "no %.*s selector: %s", (int)(pl - 1), prefix,
		     why.msg);
		return 0;
	}
	if (spiffe_selectors_contains(&w->sel, buf, pl + vlen))
		return 0;
	rc = spiffe_selectors_add(&w->sel, buf, pl + vlen, eb);
	return rc;
}

static int add_num(spiffe_agent_workload *w, const char *prefix,
		   uint32_t id, spiffe_errbuf *eb)
{
	char num[16];
	int n = snprintf(num, sizeof(num), "%u", (unsigned)id);

	return add_sel(w, prefix, num, (size_t)n, eb);
}

/*
 * The name of a user (is_group 0) or group: 1 and out set, or 0 with a
 * note when there is none or it does not fit.
 */
static int lookup_name(spiffe_agent_workload *w, int is_group, uint32_t id,
		       char *out, size_t cap)
{
	char small[1024];
	char *buf = small;
	size_t sz = sizeof(small);
	const char *name = NULL;
	int e, found = 0;

	for (;;) {
		struct passwd pw, *pres = NULL;
		struct group gr, *gres = NULL;

		if (is_group) {
			e = getgrgid_r((gid_t)id, &gr, buf, sz, &gres);
			name = gres ? gres->gr_name : NULL;
		} else {
			e = getpwuid_r((uid_t)id, &pw, buf, sz, &pres);
			name = pres ? pres->pw_name : NULL;
		}
		if (e == ERANGE && sz < NSS_BUF_MAX) {
			char *nb;

			sz *= 2;
			nb = malloc(sz);
			if (buf != small)
				free(buf);
			buf = nb;
			if (buf == NULL)
				break;
			continue;
		}
		if (e != 0) {
			note(w, "no name for %s %u: %s", is_group ? "gid" :
			     "uid", (unsigned)id, strerror(e));
		} else if (name == NULL) {
			note(w, "no name for %s %u", is_group ? "gid" : "uid",
			     (unsigned)id);
		} else if (strnlen(name, cap) >= cap) {
			note(w, "name of %s %u is too long",
			     is_group ? "gid" : "uid", (unsigned)id);
		} else {
			memcpy(out, name, strlen(name) + 1);
			found = 1;
		}
		break;
	}
	if (buf == NULL)
		note(w, "no name for %s %u: out of memory",
		     is_group ? "gid" : "uid", (unsigned)id);
	else if (buf != small)
		free(buf);
	return found;
}

static int add_name(spiffe_agent_workload *w, const char *prefix,
		    int is_group, uint32_t id, spiffe_errbuf *eb)
{
	char name[NAME_MAX_LEN + 1];

	if (!lookup_name(w, is_group, id, name, sizeof(name)))
		return 0;
	return add_sel(w, prefix, name, strlen(name), eb);
}

/* ---- /proc ------------------------------------------------------------- */

static int gone(spiffe_errbuf *eb, pid_t pid)
{
	return spiffe_fail(eb, SPIFFE_ERR_CLOSED, "attestation: process %d "
			   "has exited", (int)pid);
}

/*
 * Reads file name under dirfd into buf (max + 1 bytes) and sets *len;
 * more than max bytes is SPIFFE_ERR_LIMIT.
 */
static int read_proc(int dirfd, const char *name, pid_t pid, char *buf,
		     size_t max, size_t *len, spiffe_errbuf *eb)
{
	size_t n = 0;
	int fd, e;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		e = errno;
		goto fail;
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, max + 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			e = errno;
			close(fd);
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			close(fd);
			return spiffe_fail(eb, SPIFFE_ERR_LIMIT, "attestation:"
					   " /proc/%d/%s exceeds %zu bytes",
					   (int)pid, name, max);
		}
	}
	close(fd);
	*len = n;
	return 0;
fail:
	if (e == ENOENT || e == ESRCH)
		return gone(eb, pid);
	return spiffe_fail(eb, SPIFFE_ERR_IO, "attestation: cannot read "
			   "/proc/%d/%s: %s", (int)pid, name, strerror(e));
}

/* Reads and checks /proc/PID/stat: the right process, not a zombie. */
static int read_stat(int dirfd, pid_t pid, spiffe_agent_proc_stat *st,
		     spiffe_errbuf *eb)
{
	char buf[SPIFFE_PROC_STAT_MAX + 1];
	size_t len;
	int rc;

	rc = read_proc(dirfd, "stat", pid, buf, SPIFFE_PROC_STAT_MAX, &len,
		       eb);
	if (rc != 0)
		return rc;
	rc = spiffe_agent_parse_stat(buf, len, st, eb);
	if (rc != 0)
		return rc;
	if (st->pid != pid)
		return spiffe_fail(eb, SPIFFE_ERR_MALFORMED, "attestation: "
				   "/proc/%d/stat names process %lld",
				   (int)pid, (long long)st->pid);
	if (st->state == 'Z' || st->state == 'X')
		return gone(eb, pid);
	return 0;
}

static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static int cache_get(spiffe_agent_attestor *a, const struct stat *st,
		     uint8_t out[32])
{
	int hit = 0;

	if (a == NULL)
		return 0;
	pthread_mutex_lock(&a->mu);
	for (size_t i = 0; i < SPIFFE_AGENT_HASH_CACHE; i++) {
		const struct spiffe_agent_hash_ent *e = &a->cache[i];

		if (e->used && e->dev == st->st_dev && e->ino == st->st_ino &&
		    e->size == st->st_size &&
		    e->mtime.tv_sec == st->st_mtim.tv_sec &&
		    e->mtime.tv_nsec == st->st_mtim.tv_nsec &&
		    e->ctime.tv_sec == st->st_ctim.tv_sec &&
		    e->ctime.tv_nsec == st->st_ctim.tv_nsec) {
			memcpy(out, e->sha256, 32);
			hit = 1;
			break;
		}
	}
	if (hit)
		a->hits++;
	else
		a->misses++;
	pthread_mutex_unlock(&a->mu);
	return hit;
}

static void cache_put(spiffe_agent_attestor *a, const struct stat *st,
		      const uint8_t sha[32])
{
	struct spiffe_agent_hash_ent *e;

	if (a == NULL)
		return;
	pthread_mutex_lock(&a->mu);
	e = &a->cache[a->next];
	a->next = (a->next + 1) % SPIFFE_AGENT_HASH_CACHE;
	e->used = 1;
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->size = st->st_size;
	e->mtime = st->st_mtim;
	e->ctime = st->st_ctim;
	memcpy(e->sha256, sha, 32);
	pthread_mutex_unlock(&a->mu);
}

/*
 * SHA-256 of the open executable fd (whose fstat is st): 1 and out set,
 * 0 with a note when it cannot be hashed, or a negative error.
 */
static int hash_exe(spiffe_agent_attestor *a, spiffe_agent_workload *w,
		    int fd, const struct stat *st, uint8_t out[32],
		    spiffe_errbuf *eb)
{
	mbedtls_sha256_context ctx;
	struct statfs fs;
	struct stat after;
	int64_t started = spiffe_now();
	uint64_t total = 0;
	unsigned char *buf;
	int ok = 0;

	if (!S_ISREG(st->st_mode)) {
		note(w, "no sha256 selector: executable is not a regular "
		     "file");
		return 0;
	}
	if (st->st_size < 0 ||
	    (uint64_t)st->st_size > SPIFFE_AGENT_EXE_HASH_MAX) {
		note(w, "no sha256 selector: executable of %lld bytes exceeds "
		     "the limit of %u", (long long)st->st_size,
		     (unsigned)SPIFFE_AGENT_EXE_HASH_MAX);
		return 0;
	}
	if (cache_get(a, st, out))
		return 1;
	/* Its server (maybe the workload) could stall every read. */
	if (fstatfs(fd, &fs) == 0 && fs.f_type == FUSE_MAGIC) {
		note(w, "no sha256 selector: executable is on a FUSE file "
		     "system");
		return 0;
	}
	buf = malloc(HASH_CHUNK);
	if (buf == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	mbedtls_sha256_init(&ctx);
	if (mbedtls_sha256_starts(&ctx, 0) != 0)
		goto crypto;
	for (;;) {
		ssize_t r = read(fd, buf, HASH_CHUNK);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			note(w, "no sha256 selector: reading the executable: "
			     "%s", strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		total += (uint64_t)r;
		if (total > (uint64_t)st->st_size)
			break;          /* it grew: caught below */
		if (mbedtls_sha256_update(&ctx, buf, (size_t)r) != 0)
			goto crypto;
	}
	if (fstat(fd, &after) != 0 || !same_file(st, &after) ||
	    total != (uint64_t)st->st_size) {
		note(w, "no sha256 selector: executable changed while it was "
		     "hashed");
		goto out;
	}
	if (mbedtls_sha256_finish(&ctx, out) != 0)
		goto crypto;
	if (st->st_ctim.tv_sec + CACHE_MIN_AGE <= started)
		cache_put(a, st, out);
	ok = 1;
out:
	mbedtls_sha256_free(&ctx);
	free(buf);
	return ok;
crypto:
	mbedtls_sha256_free(&ctx);
	free(buf);
	return spiffe_fail(eb, SPIFFE_ERR_CRYPTO, "attestation: SHA-256 "
			   "failed");
}

/* readlink of /proc/PID/exe: its length, 0 with a note, or an error. */
static ssize_t read_exe_link(spiffe_agent_workload *w, int dirfd, pid_t pid,
			     char *buf, size_t cap, spiffe_errbuf *eb)
{
	ssize_t n = readlinkat(dirfd, "exe", buf, cap);

	if (n < 0) {
		if (errno == ESRCH)
			return gone(eb, pid);
		/* ENOENT: kernel thread or exited; EACCES: not ours. */
		note(w, "no path or sha256 selector: cannot read "
		     "/proc/%d/exe: %s", (int)pid, strerror(errno));
		return 0;
	}
	if ((size_t)n >= cap) {
		note(w, "no path or sha256 selector: executable path is too "
		     "long");
		return 0;
	}
	return n;
}

/* Collects the path and sha256 selectors (or notes why not). */
static int exe_selectors(spiffe_agent_attestor *a, spiffe_agent_workload *w,
			 int dirfd, pid_t pid, spiffe_errbuf *eb)
{
	char path[SPIFFE_SELECTOR_MAX + 1], again[SPIFFE_SELECTOR_MAX + 1];
	ssize_t n, m;
	struct stat st;
	uint8_t sha[32];
	int fd, rc, have_sha = 0;

	n = read_exe_link(w, dirfd, pid, path, sizeof(path), eb);
	if (n <= 0)
		return (int)n;
	fd = openat(dirfd, "exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ESRCH)
			return gone(eb, pid);
		note(w, "no sha256 selector: cannot open /proc/%d/exe: %s",
		     (int)pid, strerror(errno));
	} else if (fstat(fd, &st) != 0) {
		note(w, "no sha256 selector: fstat: %s", strerror(errno));
		close(fd);
		fd = -1;
	} else {
		rc = hash_exe(a, w, fd, &st, sha, eb);
		if (rc < 0) {
			close(fd);
			return rc;
		}
		have_sha = rc;
	}
	/* An execve() between the reads would pair one path with another
	 * program's digest. */
	m = read_exe_link(w, dirfd, pid, again, sizeof(again), eb);
	if (m < 0) {
		if (fd >= 0)
			close(fd);
		return (int)m;
	}
	if (m != n || memcmp(path, again, (size_t)n) != 0) {
		if (fd >= 0)
			close(fd);
		return spiffe_fail(eb, SPIFFE_ERR_CLOSED, "attestation: "
				   "process %d changed its executable during "
				   "attestation", (int)pid);
	}
	if (fd >= 0 && st.st_nlink == 0) {
		/* readlink then ends in " (deleted)": not a usable path. */
		note(w, "no path selector: the executable was deleted or "
		     "replaced after the process started");
	} else if (path[0] != '/') {
		note(w, "no path selector: executable path is not absolute");
	} else {
		rc = add_sel(w, "unix:path:", path, (size_t)n, eb);
		if (rc != 0)
			goto out;
	}
	rc = 0;
	if (have_sha) {
		static const char hex[] = "0123456789abcdef";
		char h[64];

		for (int i = 0; i < 32; i++) {
			h[2 * i] = hex[sha[i] >> 4];
			h[2 * i + 1] = hex[sha[i] & 15];
		}
		rc = add_sel(w, "unix:sha256:", h, sizeof(h), eb);
	}
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* 1 if the process behind pidfd has exited (pidfd < 0: unknown, 0). */
static int pidfd_exited(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	if (pidfd < 0)
		return 0;
	return poll(&p, 1, 0) != 0;
}

/*
 * Attests pid; uid and gid are the connect-time ids (have_ids) or taken
 * from status.  pidfd (or -1) pins the process.
 */
static int collect(spiffe_agent_attestor *a, pid_t pid, int have_ids,
		   uid_t uid, gid_t gid, int pidfd, spiffe_agent_workload *w,
		   spiffe_errbuf *eb)
{
	spiffe_agent_proc_stat st1, st2;
	spiffe_agent_proc_status *status = NULL;
	char dir[32], *text = NULL;
	size_t len;
	int dirfd, rc;

	spiffe_agent_workload_free(w);
	if (pid <= 0)
		return spiffe_fail(eb, SPIFFE_ERR_IO, "attestation: the peer "
				   "process is not visible in this PID "
				   "namespace");
	snprintf(dir, sizeof(dir), "/proc/%d", (int)pid);
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		if (errno == ENOENT || errno == ESRCH)
			return gone(eb, pid);
		return spiffe_fail(eb, SPIFFE_ERR_IO, "attestation: cannot "
				   "open %s: %s", dir, strerror(errno));
	}
	rc = read_stat(dirfd, pid, &st1, eb);
	if (rc != 0)
		goto out;
	text = malloc(SPIFFE_PROC_STATUS_MAX + 1);
	status = malloc(sizeof(*status));
	if (text == NULL || status == NULL) {
		rc = spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = read_proc(dirfd, "status", pid, text, SPIFFE_PROC_STATUS_MAX,
		       &len, eb);
	if (rc == 0)
		rc = spiffe_agent_parse_status(text, len, status, eb);
	if (rc != 0)
		goto out;
	if (!have_ids) {
		uid = (uid_t)status->uid[1];
		gid = (gid_t)status->gid[1];
	}
	rc = exe_selectors(a, w, dirfd, pid, eb);
	if (rc != 0)
		goto out;
	/* The same process, still alive, from the first read to here. */
	rc = read_stat(dirfd, pid, &st2, eb);
	if (rc != 0)
		goto out;
	if (st2.start_time != st1.start_time || pidfd_exited(pidfd)) {
		rc = spiffe_fail(eb, SPIFFE_ERR_CLOSED, "attestation: process "
				 "%d exited or was replaced during "
				 "attestation", (int)pid);
		goto out;
	}
	w->pid = pid;
	w->uid = uid;
	w->gid = gid;
	w->start_time = st1.start_time;
	if ((rc = add_num(w, "unix:uid:", (uint32_t)uid, eb)) != 0 ||
	    (rc = add_name(w, "unix:user:", 0, (uint32_t)uid, eb)) != 0 ||
	    (rc = add_num(w, "unix:gid:", (uint32_t)gid, eb)) != 0 ||
	    (rc = add_name(w, "unix:group:", 1, (uint32_t)gid, eb)) != 0)
		goto out;
	for (size_t i = 0; i < status->ngroups; i++) {
		uint32_t g = status->groups[i];

		rc = add_num(w, "unix:supplementary_gid:", g, eb);
		if (rc == 0)
			rc = add_name(w, "unix:supplementary_group:", 1, g,
				      eb);
		if (rc != 0)
			goto out;
	}
out:
	if (rc != 0) {
		char keep[SPIFFE_AGENT_NOTE_MAX];

		memcpy(keep, w->note, sizeof(keep));
		spiffe_agent_workload_free(w);
		memcpy(w->note, keep, sizeof(keep));
	}
	free(text);
	free(status);
	close(dirfd);
	return rc;
}

int spiffe_agent_attest_fd_pinned(spiffe_agent_attestor *a, int fd,
				   spiffe_agent_workload *w, int *pidfdp,
				   spiffe_errbuf *eb)
{
	struct ucred cred;
	socklen_t sl = sizeof(int);
	int pidfd = -1, domain = 0, rc;

	if (pidfdp != NULL)
		*pidfdp = -1;
	/* Only a Unix socket's peer credentials mean anything. */
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &sl) == 0 &&
	    domain != AF_UNIX) {
		spiffe_agent_workload_free(w);
		return spiffe_fail(eb, SPIFFE_ERR_IO, "attestation: not a "
				   "Unix socket (domain %d)", domain);
	}
	sl = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &sl) != 0 ||
	    sl != sizeof(cred)) {
		spiffe_agent_workload_free(w);
		return spiffe_fail(eb, SPIFFE_ERR_IO, "attestation: "
				   "SO_PEERCRED: %s", strerror(errno));
	}
#ifdef SO_PEERPIDFD
	sl = sizeof(pidfd);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &sl) != 0) {
		/* Before Linux 6.5 (ENOPROTOOPT), or the peer has gone. */
		if (errno == ESRCH) {
			spiffe_agent_workload_free(w);
			return gone(eb, cred.pid);
		}
		pidfd = -1;
	}
#endif
	rc = collect(a, cred.pid, 1, cred.uid, cred.gid, pidfd, w, eb);
	if (rc == 0 && pidfdp != NULL) {
		*pidfdp = pidfd;
		pidfd = -1;
	}
	if (pidfd >= 0)
		close(pidfd);
	return rc;
}

int spiffe_agent_attest_fd(spiffe_agent_attestor *a, int fd,
			   spiffe_agent_workload *w, spiffe_errbuf *eb)
{
	return spiffe_agent_attest_fd_pinned(a, fd, w, NULL, eb);
}

int spiffe_agent_attest_check(const spiffe_agent_workload *w, int pidfd,
			      spiffe_errbuf *eb)
{
	spiffe_agent_proc_stat st;
	char dir[32];
	int dirfd, rc;

	if (w->pid <= 0)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "attestation: no "
				   "process attested");
	if (pidfd >= 0)
		return pidfd_exited(pidfd) ? gone(eb, w->pid) : 0;
	snprintf(dir, sizeof(dir), "/proc/%d", (int)w->pid);
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		if (errno == ENOENT || errno == ESRCH)
			return gone(eb, w->pid);
		return spiffe_fail(eb, SPIFFE_ERR_IO, "attestation: cannot "
				   "open %s: %s", dir, strerror(errno));
	}
	rc = read_stat(dirfd, w->pid, &st, eb);
	close(dirfd);
	if (rc == 0 && st.start_time != w->start_time)
		rc = spiffe_fail(eb, SPIFFE_ERR_CLOSED, "attestation: process "
				 "%d was replaced (start time %llu, attested "
				 "%llu)", (int)w->pid,
				 (unsigned long long)st.start_time,
				 (unsigned long long)w->start_time);
	return rc;
}

int spiffe_agent_attest_pid(spiffe_agent_attestor *a, pid_t pid,
			    spiffe_agent_workload *w, spiffe_errbuf *eb)
{
	int pidfd = -1, rc;

#ifdef SYS_pidfd_open
	if (pid > 0) {
		pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (pidfd < 0 && errno == ESRCH) {
			spiffe_agent_workload_free(w);
			return gone(eb, pid);
		}
	}
#endif
	rc = collect(a, pid, 0, 0, 0, pidfd, w, eb);
	if (pidfd >= 0)
		close(pidfd);
	return rc;
}

/* 1 if v[0..n) is a decimal uint32 as attestation writes it. */
static int is_uint32(const char *v, size_t n)
{
	uint64_t x = 0;

	if (n == 0 || n > 10 || (v[0] == '0' && n > 1))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return 0;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	return x <= UINT32_MAX;
}

int spiffe_agent_selector_attestable(const char *p, size_t len,
				     spiffe_errbuf *eb)
{
	static const struct {
		const char *kind;
		enum { NUM, NAME, PATH, HEX } form;
	} kinds[] = {
		{ "uid", NUM }, { "gid", NUM }, { "supplementary_gid", NUM },
		{ "user", NAME }, { "group", NAME },
		{ "supplementary_group", NAME }, { "path", PATH },
		{ "sha256", HEX },
	};
	const char *k, *v, *colon;
	size_t kl, vl;

	if (len < 5 || memcmp(p, "unix:", 5) != 0)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "this agent attests "
				   "only unix selectors (unix:uid:1000, "
				   "unix:path:/usr/bin/app, ...)");
	k = p + 5;
	colon = memchr(k, ':', len - 5);
	if (colon == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "a unix selector is "
				   "unix:KIND:VALUE");
	kl = (size_t)(colon - k);
	v = colon + 1;
	vl = len - 5 - kl - 1;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strlen(kinds[i].kind) != kl ||
		    memcmp(kinds[i].kind, k, kl) != 0)
			continue;
		switch (kinds[i].form) {
		case NUM:
			if (!is_uint32(v, vl))
				return spiffe_fail(eb, SPIFFE_ERR_ARG,
						   "unix:%s takes a decimal "
						   "id (0 to 4294967295, no "
						   "leading zeros)",
						   kinds[i].kind);
			return 0;
		case NAME:
			if (vl == 0)
				return spiffe_fail(eb, SPIFFE_ERR_ARG,
						   "unix:%s takes a name",
						   kinds[i].kind);
			return 0;
		case PATH:
			if (vl == 0 || v[0] != '/')
				return spiffe_fail(eb, SPIFFE_ERR_ARG,
						   "unix:path takes an "
						   "absolute path");
			return 0;
		case HEX:
			for (size_t j = 0; j < vl; j++)
				if (!((v[j] >= '0' && v[j] <= '9') ||
				      (v[j] >= 'a' && v[j] <= 'f')))
					vl = 0;
			if (vl != 64)
				return spiffe_fail(eb, SPIFFE_ERR_ARG,
						   "unix:sha256 takes 64 "
						   "lowercase hex digits");
			return 0;
		}
	}
	return spiffe_fail(eb, SPIFFE_ERR_ARG, "unknown unix selector kind "
			   "\"%.*s\" (known: uid, user, gid, group, "
			   "supplementary_gid, supplementary_group, path, "
			   "sha256)", (int)(kl > 64 ? 64 : kl), k);
}
