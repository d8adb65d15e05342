/*
 * registry.h - registration entries: which workloads get which SPIFFE
 * IDs, stored in <data folder>/entries.json.
 *
 * An entry maps a set of selectors to a SPIFFE ID.  It matches a
 * workload when ALL of its selectors are among the workload's (an entry
 * has at least one selector, so no entry matches everything).
 *
 * The file is one JSON object, written by this module one entry a line:
 *
 *   {"version":1,"entries":[
 *   {"id":"<uuid>","spiffe_id":"spiffe://td/web","parent_id":"",
 *    "selectors":["unix:uid:1000"],"x509_svid_ttl":0,"jwt_svid_ttl":0,
 *    "hint":"","created":1700000000}
 *   ]}
 *
 * Loading is strict: version must be 1; "id", "spiffe_id" and
 * "selectors" are required, the other members optional (defaults "", 0);
 * an unknown member anywhere is an error (a misspelt "selector" must not
 * pass as an entry without selectors); ids are 1..SPIFFE_AGENT_ENTRY_ID_MAX
 * bytes of [A-Za-z0-9._-] and unique; SPIFFE IDs must parse, be in the
 * registry's trust domain, and (spiffe_id) have a path; parent_id is ""
 * or such an ID (it is recorded, not used for matching); 1 to
 * SPIFFE_AGENT_ENTRY_SELECTORS well-formed, distinct selectors; TTLs 0
 * (the CA's default) to SPIFFE_AGENT_TTL_MAX; a hint of at most
 * SPIFFE_AGENT_HINT_MAX bytes without control characters; at most
 * SPIFFE_AGENT_MAX_ENTRIES entries and no two with the same spiffe_id,
 * parent_id and selector set.  A missing file is an empty registry.
 *
 * Changes: create and delete take an exclusive flock on
 * <data folder>/entries.lock, read the file afresh, and replace it
 * atomically (store.h), so concurrent `entry create` runs from several
 * processes all land.  A running agent calls spiffe_agent_registry_refresh
 * (one fstatat when nothing changed) to pick up changes made by others.
 * A file that fails to load leaves the registry EMPTY until it loads
 * again: a broken edit must not keep serving entries someone meant to
 * remove.
 *
 * A registry may be shared by threads: every call takes its mutex, and
 * results are copies.
 */
#ifndef SPIFFE_AGENT_REGISTRY_H
#define SPIFFE_AGENT_REGISTRY_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "err.h"
#include "limits.h"
#include "selector.h"
#include "spiffeid.h"

/* The entries file and its lock file, in the data folder. */
#define SPIFFE_AGENT_ENTRIES_FILE "entries.json"
#define SPIFFE_AGENT_ENTRIES_LOCK "entries.lock"

/* One registration entry; the strings are NUL-terminated, from malloc. */
typedef struct spiffe_agent_entry {
	char id[SPIFFE_AGENT_ENTRY_ID_MAX + 1];
	char *spiffe_id;
	char *parent_id;        /* "" when none */
	spiffe_selectors sel;
	int64_t x509_svid_ttl;  /* seconds; 0: the CA's default */
	int64_t jwt_svid_ttl;
	char *hint;             /* "" when none */
	int64_t created;        /* Unix seconds */
} spiffe_agent_entry;

/* Starts an empty entry (strings NULL, no selectors). */
void spiffe_agent_entry_init(spiffe_agent_entry *e);
/* Frees it; safe on a zeroed struct and twice in a row. */
void spiffe_agent_entry_free(spiffe_agent_entry *e);

/* A list of entries (a registry's contents, or match results). */
typedef struct spiffe_agent_entries {
	spiffe_agent_entry *v;
	size_t n;
	size_t cap;
} spiffe_agent_entries;

/* Starts an empty list. */
void spiffe_agent_entries_init(spiffe_agent_entries *l);
/* Frees every entry; safe on a zeroed struct and twice in a row. */
void spiffe_agent_entries_free(spiffe_agent_entries *l);

/*
 * Parses an entries file, text[0..len), for trust domain td into out
 * (replaced), checking every rule above, and sorts it by spiffe_id, then
 * id.  SPIFFE_ERR_JSON, _MALFORMED, _SPIFFEID or _LIMIT, with the entry
 * number and member in eb.  On error out is empty.
 */
SPIFFE_CHECK int spiffe_agent_registry_parse(const char *text, size_t len,
					     const spiffe_td *td,
					     spiffe_agent_entries *out,
					     spiffe_errbuf *eb);

/*
 * Writes entries l in the file format into a buffer from malloc (the
 * caller frees *out); SPIFFE_ERR_LIMIT past SPIFFE_AGENT_REGISTRY_MAX.
 */
SPIFFE_CHECK int spiffe_agent_registry_marshal(const spiffe_agent_entries *l,
					       char **out, size_t *len,
					       spiffe_errbuf *eb);

/* The registry of one trust domain, backed by its data folder. */
typedef struct spiffe_agent_registry {
	int inited;
	pthread_mutex_t mu;
	int dirfd;                      /* our dup of the folder, or -1 */
	spiffe_td td;
	spiffe_agent_entries entries;   /* sorted: spiffe_id, then id */
	int held_fd;                    /* the loaded file, or -1 */
	struct stat st;                 /* its fstat */
	int load_rc;                    /* last load's result */
	spiffe_errbuf load_err;         /* and its message */
	uint64_t generation;            /* counts changes seen */
} spiffe_agent_registry;

/* Starts a closed registry. */
void spiffe_agent_registry_init(spiffe_agent_registry *r);
/* Frees it; safe on a zeroed struct and twice in a row. */
void spiffe_agent_registry_free(spiffe_agent_registry *r);

/*
 * Opens the registry of trust domain td in data folder dirfd (duplicated;
 * the caller keeps its own) and loads it.  A file that does not load is
 * an error here (the registry stays open and empty, and refresh retries).
 */
SPIFFE_CHECK int spiffe_agent_registry_open(spiffe_agent_registry *r,
					    int dirfd, const spiffe_td *td,
					    spiffe_errbuf *eb);

/*
 * Reloads the file if it changed since the last load (another inode,
 * size, mtime or ctime; the loaded file is held open so its inode number
 * cannot be reused).  *changed (may be NULL) is 1 when the entries
 * changed.  While the file does not load, returns its error every call
 * and the registry is empty.
 */
SPIFFE_CHECK int spiffe_agent_registry_refresh(spiffe_agent_registry *r,
					       int *changed,
					       spiffe_errbuf *eb);

/*
 * Copies into out (replaced) the entries whose selectors are all in
 * workload, in the registry's order (spiffe_id, then id).  No matching
 * entry is success with out->n == 0.  Uses the entries as last loaded.
 */
SPIFFE_CHECK int spiffe_agent_registry_match(spiffe_agent_registry *r,
					     const spiffe_selectors *workload,
					     spiffe_agent_entries *out,
					     spiffe_errbuf *eb);

/* Copies every entry into out (replaced), in the registry's order. */
SPIFFE_CHECK int spiffe_agent_registry_list(spiffe_agent_registry *r,
					    spiffe_agent_entries *out,
					    spiffe_errbuf *eb);

/*
 * Copies the entry with id[0..len) into out; SPIFFE_ERR_NOT_FOUND if
 * there is none.
 */
SPIFFE_CHECK int spiffe_agent_registry_get(spiffe_agent_registry *r,
					   const char *id, size_t len,
					   spiffe_agent_entry *out,
					   spiffe_errbuf *eb);

/*
 * Adds entry e under the file lock.  An empty e->id gets a random UUID
 * (version 4); e->created is set to spiffe_now().  Rejected: an invalid
 * entry (the load rules), an id in use (SPIFFE_ERR_ARG), an entry with
 * the same spiffe_id, parent_id and selectors as another (SPIFFE_ERR_ARG,
 * naming it, as SPIRE does), SPIFFE_AGENT_MAX_ENTRIES reached
 * (SPIFFE_ERR_LIMIT), or a file that does not load.  On success the
 * registry is refreshed and, if out is not NULL, the stored entry is
 * copied into it.
 */
SPIFFE_CHECK int spiffe_agent_registry_create(spiffe_agent_registry *r,
					      const spiffe_agent_entry *e,
					      spiffe_agent_entry *out,
					      spiffe_errbuf *eb);

/* Removes the entry with id[0..len) under the file lock;
 * SPIFFE_ERR_NOT_FOUND if there is none. */
SPIFFE_CHECK int spiffe_agent_registry_delete(spiffe_agent_registry *r,
					      const char *id, size_t len,
					      spiffe_errbuf *eb);

#endif
