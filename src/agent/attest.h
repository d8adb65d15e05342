/*
 * attest.h - Unix workload attestation from a connected Unix socket.
 *
 * The peer's credentials come from the kernel (SO_PEERCRED, fixed when
 * the peer connected) and give the uid and gid selectors; the rest is
 * read from /proc/PID through one directory descriptor:
 *
 *   unix:uid:N                    effective uid at connect (SO_PEERCRED)
 *   unix:user:NAME                getpwuid_r of that uid
 *   unix:gid:N                    effective gid at connect (SO_PEERCRED)
 *   unix:group:NAME               getgrgid_r of that gid
 *   unix:supplementary_gid:N      each gid of "Groups:" in status
 *   unix:supplementary_group:NAME getgrgid_r of each
 *   unix:path:/abs/exe            readlink of /proc/PID/exe
 *   unix:sha256:HEX               SHA-256 of the file /proc/PID/exe opens
 *
 * The executable is hashed through the descriptor /proc/PID/exe opens,
 * never by path, so swapping the file at the path does not change what
 * is hashed.  Selectors that cannot be produced (a name with no passwd
 * or group entry, an unreadable or deleted executable, one larger than
 * SPIFFE_AGENT_EXE_HASH_MAX or on a FUSE file system, whose server could
 * stall the reads) are left out and the reason is recorded in
 * the workload's note; leaving a selector out can only make fewer
 * entries match.
 *
 * PID reuse: attestation fails unless the same process is alive from
 * the first read to the last.  With SO_PEERPIDFD (Linux 6.5+) the peer
 * is pinned by a pidfd that must not have exited when collection ends;
 * on every kernel, the start time (field 22 of /proc/PID/stat) is read
 * before and after, and must not change, and all reads go through one
 * /proc/PID directory descriptor, which never follows a reused PID.
 * Without SO_PEERPIDFD a peer that exits and whose PID is reused before
 * the first read is not detected (a window of one system call).
 *
 * Not covered, as with SPIRE's unix attestor: a process can execve()
 * another program after connecting, keeping the connection (directly or
 * through a forked child); path and sha256 then describe the program it
 * runs at attestation time.  A process with the same uid can also ptrace
 * a workload, so path and sha256 separate programs only in combination
 * with uid/gid selectors.
 */
#ifndef SPIFFE_AGENT_ATTEST_H
#define SPIFFE_AGENT_ATTEST_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "err.h"
#include "limits.h"
#include "selector.h"

/* The fields of /proc/PID/status attestation uses. */
typedef struct spiffe_agent_proc_status {
	uint32_t uid[4];        /* real, effective, saved, filesystem */
	uint32_t gid[4];
	uint32_t groups[SPIFFE_AGENT_MAX_GROUPS];
	size_t ngroups;
} spiffe_agent_proc_status;

/* The fields of /proc/PID/stat attestation uses. */
typedef struct spiffe_agent_proc_stat {
	int64_t pid;            /* field 1 */
	char state;             /* field 3: 'R', 'S', ..., 'Z' (zombie) */
	uint64_t start_time;    /* field 22: clock ticks after boot */
} spiffe_agent_proc_stat;

/*
 * Parses the text of /proc/PID/stat, p[0..len), into st.  The command
 * name (field 2) may hold any bytes, spaces, newlines and parentheses
 * included; it ends at the last ')'.  SPIFFE_ERR_MALFORMED or
 * SPIFFE_ERR_LIMIT with the reason in eb.
 */
SPIFFE_CHECK int spiffe_agent_parse_stat(const char *p, size_t len,
					 spiffe_agent_proc_stat *st,
					 spiffe_errbuf *eb);

/*
 * Parses the text of /proc/PID/status, p[0..len), into st: the "Uid:",
 * "Gid:" (four ids each) and "Groups:" lines, each of which must appear
 * exactly once.  More than SPIFFE_AGENT_MAX_GROUPS groups give
 * SPIFFE_ERR_LIMIT.
 */
SPIFFE_CHECK int spiffe_agent_parse_status(const char *p, size_t len,
					   spiffe_agent_proc_status *st,
					   spiffe_errbuf *eb);

/* Room for the note on selectors left out (truncated to fit). */
#define SPIFFE_AGENT_NOTE_MAX 512

/* An attested workload: who it is and its selectors. */
typedef struct spiffe_agent_workload {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	uint64_t start_time;            /* clock ticks after boot */
	spiffe_selectors sel;           /* sorted, unique */
	char note[SPIFFE_AGENT_NOTE_MAX]; /* selectors left out, and why */
} spiffe_agent_workload;

/* Starts an empty workload. */
void spiffe_agent_workload_init(spiffe_agent_workload *w);
/* Frees the selectors; safe on a zeroed struct and twice in a row. */
void spiffe_agent_workload_free(spiffe_agent_workload *w);

/* Executable digests an attestor remembers. */
#define SPIFFE_AGENT_HASH_CACHE 32

/*
 * Executable digests by file identity (device, inode, size, mtime and
 * ctime); a file changed since it was hashed misses.  Entries are only
 * made for files whose ctime is a few seconds old, so a write within one
 * timestamp tick of hashing cannot leave a stale digest.
 */
struct spiffe_agent_hash_ent {
	int used;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	uint8_t sha256[32];
};

/*
 * Attestor state shared by every attestation: the digest cache, under a
 * mutex, so one attestor may serve many threads.
 */
typedef struct spiffe_agent_attestor {
	int inited;
	pthread_mutex_t mu;
	struct spiffe_agent_hash_ent cache[SPIFFE_AGENT_HASH_CACHE];
	unsigned next;
	uint64_t hits, misses;          /* for tests and statistics */
} spiffe_agent_attestor;

/* Starts an attestor with an empty cache. */
void spiffe_agent_attestor_init(spiffe_agent_attestor *a);
/* Frees it; safe on a zeroed struct and twice in a row. */
void spiffe_agent_attestor_free(spiffe_agent_attestor *a);

/*
 * Attests the peer of the connected Unix stream socket fd into w (which
 * must be initialized; its previous contents are replaced).  a may be
 * NULL (no digest cache).  Fails with SPIFFE_ERR_IO when the peer is not
 * visible (another PID namespace) or has gone, SPIFFE_ERR_CLOSED when it
 * exited or its start time changed during attestation, or a parser
 * error; eb says which.  On failure w holds no selectors.
 */
SPIFFE_CHECK int spiffe_agent_attest_fd(spiffe_agent_attestor *a, int fd,
					spiffe_agent_workload *w,
					spiffe_errbuf *eb);

/*
 * Like spiffe_agent_attest_fd, and on success keeps the peer pinned:
 * *pidfd (may be NULL) gets its pidfd from SO_PEERPIDFD, which the
 * caller closes, or -1 where the kernel has none (before Linux 6.5).
 */
SPIFFE_CHECK int spiffe_agent_attest_fd_pinned(spiffe_agent_attestor *a,
					       int fd,
					       spiffe_agent_workload *w,
					       int *pidfd,
					       spiffe_errbuf *eb);

/*
 * Checks that the process attested into w is still the same one: with
 * pidfd (>= 0, from spiffe_agent_attest_fd_pinned) that it has not
 * exited; without, that /proc/PID is alive, not a zombie, and has the
 * start time attestation saw (a PID reused within the same clock tick
 * is not detected).  0, or SPIFFE_ERR_CLOSED ("process N has exited",
 * "... was replaced"), SPIFFE_ERR_IO.
 */
SPIFFE_CHECK int spiffe_agent_attest_check(const spiffe_agent_workload *w,
					   int pidfd, spiffe_errbuf *eb);

/*
 * Attests process pid the same way, taking uid and gid from the
 * effective ids in /proc/PID/status (for tests and tools; a server uses
 * spiffe_agent_attest_fd).
 */
SPIFFE_CHECK int spiffe_agent_attest_pid(spiffe_agent_attestor *a,
					 pid_t pid, spiffe_agent_workload *w,
					 spiffe_errbuf *eb);

/*
 * Checks that selector p[0..len) is one this attestor can produce, so an
 * entry with it can ever match: unix:uid:N, unix:gid:N and
 * unix:supplementary_gid:N with N a decimal uint32 (no sign or leading
 * zero); unix:user:NAME, unix:group:NAME, unix:supplementary_group:NAME;
 * unix:path:/ABSOLUTE; unix:sha256:<64 lowercase hex digits>.  0 or
 * SPIFFE_ERR_ARG with eb saying what is wrong.
 */
SPIFFE_CHECK int spiffe_agent_selector_attestable(const char *p, size_t len,
						  spiffe_errbuf *eb);

#endif
