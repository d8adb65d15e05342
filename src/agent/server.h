/*
 * server.h - the Workload API server: gRPC over HTTP/2 (h2c, prior
 * knowledge) on a Unix socket, run on one event loop thread.
 *
 * Who is calling.  Each connection is attested once, when it is
 * accepted (attest.h: SO_PEERCRED and /proc, the peer pinned by its
 * pidfd where the kernel has SO_PEERPIDFD), and its entries are matched
 * against the registry.  Every RPC then checks that the peer is still
 * the process that connected (its pidfd has not exited; without a pidfd,
 * its /proc start time is unchanged); if not, the RPC fails with
 * Unauthenticated "could not verify existence of the original caller:
 * ...", as SPIRE's peer tracker answers, so a connection passed to, or
 * inherited by, another process after its owner exits gets nothing.  A
 * connection whose attestation failed answers every RPC with
 * Unavailable "workload attestation failed".  Open streams keep the
 * selectors seen at attestation (as SPIRE's do) and are matched again
 * whenever the registry changes.
 *
 * What it answers, as SPIRE's agent does (spec-checklist.md section 8):
 *  - every /SpiffeWorkloadAPI/ method needs exactly one header
 *    "workload.spiffe.io: true", else InvalidArgument "security header
 *    missing from request"; other methods (FetchWITSVID and
 *    FetchWITBundles included) get Unimplemented "unknown method M for
 *    service S" or "unknown service S", as grpc-go says it;
 *  - a caller with no matching entry gets PermissionDenied "no identity
 *    issued" as a trailers-only response; a stream whose last entry is
 *    deleted ends with the same status (its SVIDs are withdrawn);
 *  - FetchX509SVID: one X509SVID per matching entry, in registry order
 *    (SPIFFE ID, then entry ID), skipping an entry whose non-empty hint
 *    an earlier one has; each with the trust domain's bundle; no
 *    federated bundles.  Pushed again when the set or an SVID changes;
 *  - FetchX509Bundles / FetchJWTBundles: the trust domain's bundle
 *    keyed "spiffe://<td>" (the JWKS without "use", as SPIRE serves
 *    it), sent once: it never changes while the agent runs;
 *  - FetchJWTSVID: "audience must be specified", "invalid requested
 *    SPIFFE ID: <why>" (InvalidArgument); a spiffe_id the caller has
 *    no entry for is PermissionDenied "no identity issued";
 *  - ValidateJWTSVID: "audience must be specified", "svid must be
 *    specified", and a token that fails validation (against this trust
 *    domain's keys only) InvalidArgument with the reason; on success
 *    the SPIFFE ID and the claims as a google.protobuf.Struct;
 *  - gRPC framing errors as grpc-go reports them (ResourceExhausted for
 *    a request over SPIFFE_AGENT_MAX_REQUEST bytes, Internal for a
 *    malformed protobuf, a compressed message or a second request
 *    message); a malformed HTTP/2 connection gets GOAWAY and is closed.
 *    Whatever one peer sends affects its own connection only.
 *    grpc-timeout is not enforced: a client ends a call at its deadline
 *    by resetting the stream, which frees it here.
 *
 * X.509-SVIDs are issued once per entry and shared by every connection
 * that matches it, re-issued once half their lifetime has passed while
 * a stream shows them (and pushed), and dropped when nothing shows them
 * any more.  The first response on a stream is sent at once (signing
 * runs on the loop thread, about 1 ms an SVID).  A JWT-SVID is kept
 * for reuse, by SPIFFE ID, TTL and the exact audience list, while more
 * than half its life is left (as SPIRE's agent caches them), in at most
 * SPIFFE_AGENT_JWT_CACHE slots (least recently used out first).
 *
 * Memory is bounded: at most max_conns connections; per connection at
 * most SPIFFE_AGENT_MAX_STREAMS streams, each holding at most one
 * request of SPIFFE_AGENT_MAX_REQUEST bytes or one response not yet
 * taken by HTTP/2, plus the h2 session's own bounded buffers.  A
 * connection that has not sent the HTTP/2 preface within
 * SPIFFE_AGENT_PREFACE_MS is closed.
 */
#ifndef SPIFFE_AGENT_SERVER_H
#define SPIFFE_AGENT_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/attest.h"
#include "agent/ca.h"
#include "agent/log.h"
#include "agent/registry.h"
#include "err.h"
#include "evloop.h"

/* Settings; a zero member takes the default. */
typedef struct spiffe_agent_server_config {
	int64_t x509_ttl;       /* X.509-SVID TTL of entries without one, s
				   (default the CA's) */
	int64_t jwt_ttl;        /* the same for JWT-SVIDs */
	int refresh_ms;         /* registry re-read period (1000) */
	size_t max_conns;       /* SPIFFE_AGENT_MAX_CONNS */
	const spiffe_agent_log *log;    /* NULL: no log */
} spiffe_agent_server_config;

typedef struct spiffe_agent_server spiffe_agent_server;

/*
 * Creates a server on loop that accepts on listen_fd (non-blocking; -1
 * for none, in tests), answering with ca, registry reg and attestor att
 * (all the caller's, open, outliving the server).  It takes a snapshot
 * of the registry now and refreshes it every cfg->refresh_ms.
 */
SPIFFE_CHECK int spiffe_agent_server_new(spiffe_agent_server **out,
					 spiffe_evloop *loop, int listen_fd,
					 spiffe_agent_ca *ca,
					 spiffe_agent_registry *reg,
					 spiffe_agent_attestor *att,
					 const spiffe_agent_server_config *cfg,
					 spiffe_errbuf *eb);

/*
 * Sends GOAWAY on every connection, closes them and frees the server;
 * the listening socket stays the caller's.  NULL is fine.
 */
void spiffe_agent_server_free(spiffe_agent_server *s);

/*
 * Does the periodic work now: re-reads the registry, re-issues SVIDs due
 * for rotation and pushes what changed to open streams (tests).
 */
void spiffe_agent_server_tick(spiffe_agent_server *s);

/* Counters, for logs and tests. */
typedef struct spiffe_agent_server_stats {
	uint64_t conns;                 /* open connections */
	uint64_t accepted;              /* since start */
	uint64_t x509_issued;
	uint64_t jwt_issued;
	uint64_t jwt_reused;            /* JWT-SVIDs served from the cache */
	uint64_t x509_cached;           /* SVIDs held */
	uint64_t timer_errors;          /* timers that could not be set */
} spiffe_agent_server_stats;

/* Fills st with the server's counters. */
void spiffe_agent_server_stats_get(const spiffe_agent_server *s,
				   spiffe_agent_server_stats *st);

/* The Workload API socket: its descriptor and what was bound. */
typedef struct spiffe_agent_listener {
	int open;               /* fd is ours to close */
	int fd;                 /* listening, non-blocking; -1: none */
	dev_t dev;              /* the socket file spiffe_agent_listen */
	ino_t ino;              /* made, so only it is removed */
	char path[108];         /* sizeof(sockaddr_un.sun_path) */
} spiffe_agent_listener;

/* Starts an empty listener (fd -1). */
void spiffe_agent_listener_init(spiffe_agent_listener *l);

/*
 * Prepares the Workload API socket at path into l.  A missing parent
 * folder is created with mode 0755 (an existing one is left as it is);
 * the socket gets mode 0777 so any workload can connect (who it is
 * comes from attestation, not from file permissions).  If path is taken
 * by a socket that accepts a connection (a live agent), fails with
 * SPIFFE_ERR_ARG; a dead socket is removed; a file that is not a socket
 * is never touched.  The check and the bind run under an flock on the
 * parent folder, so two agents starting together cannot both take it.
 */
SPIFFE_CHECK int spiffe_agent_listen(spiffe_agent_listener *l,
				     const char *path, spiffe_errbuf *eb);

/*
 * Closes the socket and removes its file if it is still the one
 * spiffe_agent_listen made (same device and inode); safe on a zeroed
 * or empty listener and twice.
 */
void spiffe_agent_listener_close(spiffe_agent_listener *l);

/*
 * A connection fed from memory (tests and fuzzing): behaves like an
 * accepted one whose peer was attested as w (copied), except that the
 * per-RPC check of the peer process is skipped (there is none).
 */
typedef struct spiffe_agent_conn spiffe_agent_conn;

/* Opens a memory connection on s; SPIFFE_ERR_NOMEM. */
SPIFFE_CHECK int spiffe_agent_conn_new_mem(spiffe_agent_server *s,
					   const spiffe_agent_workload *w,
					   spiffe_agent_conn **out);

/*
 * Feeds p[0..len) from the peer.  0, or SPIFFE_ERR_CLOSED once the
 * connection is done (a real one would now be closed).
 */
SPIFFE_CHECK int spiffe_agent_conn_feed(spiffe_agent_conn *c,
					const uint8_t *p, size_t len);

/*
 * Takes every byte the connection would send now: *p (a view valid
 * until the next call on c) and *len.
 */
void spiffe_agent_conn_output(spiffe_agent_conn *c, const uint8_t **p,
			      size_t *len);

/* Frees a memory connection (before its server); NULL is fine. */
void spiffe_agent_conn_free(spiffe_agent_conn *c);

#endif
