/*
 * store.h - the agent's private data folder and atomic file writes.
 *
 * The folder holds the CA and JWT keys and the registration entries.  It
 * is mode 0700 and owned by the agent's user; files in it are mode 0600.
 * A file is replaced atomically: a temporary file in the same folder is
 * written, fsync'ed and renamed over the old one, then the folder is
 * fsync'ed, so a crash leaves either the old or the new content.  Files
 * are opened relative to a folder descriptor and never through a
 * symbolic link.
 */
#ifndef SPIFFE_AGENT_STORE_H
#define SPIFFE_AGENT_STORE_H

#include <stddef.h>
#include <sys/stat.h>

#include "err.h"

/*
 * Opens the folder path, creating it with mode 0700 if it is missing,
 * and sets *dirfd (close-on-exec; the caller closes it).  An existing
 * folder must belong to the effective user; group and other permissions
 * on it are removed.  SPIFFE_ERR_IO with the reason in eb.
 */
SPIFFE_CHECK int spiffe_agent_dir_open(const char *path, int *dirfd,
				       spiffe_errbuf *eb);

/*
 * Reads file name in folder dirfd into a buffer from malloc (the caller
 * frees *out), with a NUL after the *len bytes.  The file must be a
 * regular file of the effective user, with no group or other write
 * permission, and with no group or other permission at all when secret.
 * st (may be NULL) receives its fstat; with fdp (may be NULL) the file
 * stays open and *fdp is its descriptor (the caller closes it).
 * SPIFFE_ERR_NOT_FOUND if it does not exist, SPIFFE_ERR_LIMIT if larger
 * than max, else SPIFFE_ERR_IO.
 */
SPIFFE_CHECK int spiffe_agent_file_read(int dirfd, const char *name,
					size_t max, int secret, char **out,
					size_t *len, struct stat *st,
					int *fdp, spiffe_errbuf *eb);

/*
 * Replaces file name in folder dirfd with p[0..len), mode 0600, through
 * a temporary file, fsync, rename and fsync of the folder.  On error the
 * old file is untouched and the temporary file removed.
 */
SPIFFE_CHECK int spiffe_agent_file_write(int dirfd, const char *name,
					 const void *p, size_t len,
					 spiffe_errbuf *eb);

/*
 * Takes an exclusive flock on lock file name in folder dirfd (created
 * mode 0600, never removed) and sets *fd; closing *fd releases it.
 * Waits for another holder.  SPIFFE_ERR_IO with the reason in eb.
 */
SPIFFE_CHECK int spiffe_agent_lock(int dirfd, const char *name, int *fd,
				   spiffe_errbuf *eb);

#endif
