/*
 * tls.h - SPIFFE TLS over mbedTLS: server, client and mutual-TLS
 * configurations, authorizers, SVID rotation, and a connection wrapper
 * for non-blocking sockets (go-spiffe's spiffetls/tlsconfig).
 *
 * Peer verification runs inside the handshake.  mbedTLS is given no
 * trust anchors of its own (a CA callback that returns none) and a
 * per-connection verify callback; at the leaf, the callback runs
 * spiffe_x509svid_verify() against the bundle of the leaf's own trust
 * domain (no host name check, like go-spiffe), then the authorizer.  It
 * overrides mbedTLS's verdict either way, so a rejected peer fails the
 * handshake with a fatal alert (unknown_ca, certificate_expired, or
 * access_denied for the authorizer) before any application data moves.
 * mbedTLS's own key-usage checks of the peer leaf (digitalSignature, and
 * serverAuth/clientAuth when the leaf has extended key usage) still
 * apply on top, as X509-SVID.md asks of SVIDs.
 *
 * No session is ever resumed: the build has no session tickets, no
 * session cache, no TLS 1.3 PSK modes and no renegotiation, and clients
 * never offer a saved session.  So every connection runs a full
 * handshake, SPIFFE verification and authorization against the bundles
 * and authorizer of that moment: a peer whose CA has left the bundle is
 * refused on its next connection.  As a second guard, a verifying
 * handshake that completes without the callback having accepted a leaf
 * is failed.
 *
 * Under TLS 1.3 a client's handshake ends before the server has judged
 * the client's certificate: a client refused by an mTLS server learns it
 * from its first read (the server's alert), never by receiving data.
 *
 * Rotation: each handshake asks the SVID provider for the current SVID;
 * a new SVID gets a new mbedTLS configuration (built once, shared by the
 * connections that use it, freed with the last of them), so rotation
 * needs no restart and never disturbs open connections.
 */
#ifndef SPIFFE_TLS_H
#define SPIFFE_TLS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "bundle.h"
#include "err.h"
#include "spiffeid.h"
#include "x509svid.h"

/*
 * An X.509-SVID shared between threads and handshakes: immutable once
 * made, reference-counted; the last unref frees it.
 */
typedef struct spiffe_tls_svid spiffe_tls_svid;

/*
 * Wraps svid (moved in: svid is left empty) in a new shared SVID with one
 * reference.  SPIFFE_ERR_ARG if svid has no chain, SPIFFE_ERR_NOMEM.
 */
SPIFFE_CHECK int spiffe_tls_svid_new(spiffe_tls_svid **out,
				     spiffe_x509svid *svid,
				     spiffe_errbuf *eb);

/* Reads cert_path (PEM chain, leaf first) and key_path (PEM key). */
SPIFFE_CHECK int spiffe_tls_svid_load(spiffe_tls_svid **out,
				      const char *cert_path,
				      const char *key_path,
				      spiffe_errbuf *eb);

/* Adds a reference; returns s. */
spiffe_tls_svid *spiffe_tls_svid_ref(spiffe_tls_svid *s);
/* Drops a reference (NULL is ignored). */
void spiffe_tls_svid_unref(spiffe_tls_svid *s);
/* The SVID's SPIFFE ID and chain (views valid while s is referenced). */
const spiffe_id *spiffe_tls_svid_id(const spiffe_tls_svid *s);
const mbedtls_x509_crt *spiffe_tls_svid_chain(const spiffe_tls_svid *s);

/*
 * Where a configuration gets its own SVID: get returns a new reference to
 * the current SVID (the caller unrefs it), or NULL when there is none
 * yet.  Called from any thread, once per handshake.
 */
typedef struct spiffe_svid_provider {
	spiffe_tls_svid *(*get)(void *arg);
	void *arg;
} spiffe_svid_provider;

/*
 * Where a configuration gets trust bundles: get returns a new reference
 * to the current set (the caller unrefs it), or NULL.  Called from any
 * thread, once per verified handshake.
 */
typedef struct spiffe_bundle_provider {
	spiffe_bundle_set *(*get)(void *arg);
	void *arg;
} spiffe_bundle_provider;

/*
 * A provider of both, holding what it was last given (static files,
 * tests, or a program that rotates by hand).  Thread-safe.
 */
typedef struct spiffe_tls_memsource {
	pthread_mutex_t mu;
	spiffe_tls_svid *svid;
	spiffe_bundle_set *bundles;
} spiffe_tls_memsource;

/* Starts an empty source. */
void spiffe_tls_memsource_init(spiffe_tls_memsource *m);
/* Drops what it holds; safe on a zeroed struct and twice. */
void spiffe_tls_memsource_free(spiffe_tls_memsource *m);
/* Replaces the SVID (takes a new reference to svid; NULL clears). */
void spiffe_tls_memsource_set_svid(spiffe_tls_memsource *m,
				   spiffe_tls_svid *svid);
/* Replaces the bundle set (takes a new reference; NULL clears). */
void spiffe_tls_memsource_set_bundles(spiffe_tls_memsource *m,
				      spiffe_bundle_set *bundles);
/* Providers reading m, which must outlive every user. */
spiffe_svid_provider spiffe_tls_memsource_svids(spiffe_tls_memsource *m);
spiffe_bundle_provider spiffe_tls_memsource_bundles(spiffe_tls_memsource *m);

/*
 * Decides whether a verified peer may talk to us (go-spiffe's
 * tlsconfig.Authorizer).  Built by one of the spiffe_authorize_* calls;
 * a plain value, copied into the configuration.
 */
typedef struct spiffe_authorizer spiffe_authorizer;

/*
 * A caller's authorizer: return 0 to accept id (verified, with its
 * chain, leaf first), or an error with a message in eb.
 */
typedef int (*spiffe_authorize_fn)(void *arg, const spiffe_id *id,
				   const mbedtls_x509_crt *chain,
				   spiffe_errbuf *eb);

struct spiffe_authorizer {
	int kind;                   /* private */
	spiffe_id id;               /* kind ID */
	spiffe_td td;               /* kind MEMBER_OF */
	const spiffe_id *ids;       /* kind ONE_OF: the caller's array */
	size_t nids;
	spiffe_authorize_fn fn;     /* kind FUNC */
	void *arg;
};

/* Any SPIFFE ID that verified against its own trust domain's bundle. */
void spiffe_authorize_any(spiffe_authorizer *a);
/* Exactly id.  Refusal: `unexpected ID "<peer>"`. */
void spiffe_authorize_id(spiffe_authorizer *a, const spiffe_id *id);
/*
 * One of ids[0..n); the array must outlive every configuration using a.
 * n == 0 refuses everyone.  Refusal: `unexpected ID "<peer>"`.
 */
void spiffe_authorize_one_of(spiffe_authorizer *a, const spiffe_id *ids,
			     size_t n);
/* Any ID in trust domain td.  Refusal: `unexpected trust domain "<td>"`
 * naming the peer's trust domain. */
void spiffe_authorize_member_of(spiffe_authorizer *a, const spiffe_td *td);
/* The caller's function. */
void spiffe_authorize_func(spiffe_authorizer *a, spiffe_authorize_fn fn,
			   void *arg);

/*
 * Runs authorizer a on a verified peer: 0, or SPIFFE_ERR_UNAUTHORIZED
 * (or the caller function's error) with go-spiffe's message in eb.
 */
SPIFFE_CHECK int spiffe_authorize(const spiffe_authorizer *a,
				  const spiffe_id *id,
				  const mbedtls_x509_crt *chain,
				  spiffe_errbuf *eb);

/* Configuration roles. */
enum spiffe_tls_mode {
	SPIFFE_TLS_SERVER = 1,  /* presents an SVID; no client certificate */
	SPIFFE_TLS_CLIENT,      /* verifies the server; presents nothing */
	SPIFFE_TLS_MTLS_SERVER, /* presents an SVID; requires a client SVID */
	SPIFFE_TLS_MTLS_CLIENT, /* verifies the server; presents an SVID */
};

/* Most ALPN protocols a configuration offers. */
#define SPIFFE_TLS_MAX_ALPN 4

/*
 * A SPIFFE TLS configuration: role, providers, authorizer, ALPN.  Set up
 * once, then shared by any number of connections on any threads; it must
 * outlive them.  Fields are private.
 */
typedef struct spiffe_tls_config {
	int mode;
	spiffe_svid_provider svids;
	spiffe_bundle_provider bundles;
	spiffe_authorizer authz;
	const char *alpn[SPIFFE_TLS_MAX_ALPN + 1];
	pthread_mutex_t mu;
	struct spiffe_tls_gen *gen;     /* current mbedTLS config, or NULL */
	int ready;
} spiffe_tls_config;

/*
 * Sets up cfg for mode.  Presenting modes need svids, verifying modes
 * need bundles (the other may be NULL); authz NULL means any ID (only
 * for verifying modes; it is copied).  TLS 1.2 and 1.3, no resumption.
 */
SPIFFE_CHECK int spiffe_tls_config_init(spiffe_tls_config *cfg, int mode,
					const spiffe_svid_provider *svids,
					const spiffe_bundle_provider *bundles,
					const spiffe_authorizer *authz,
					spiffe_errbuf *eb);

/*
 * Sets the ALPN protocols, most preferred first (static strings, at most
 * SPIFFE_TLS_MAX_ALPN), before the first connection.  A server picks the
 * first of its own that the client offers; a client without a match
 * still connects.
 */
SPIFFE_CHECK int spiffe_tls_config_set_alpn(spiffe_tls_config *cfg,
					    const char *const *protos,
					    size_t n);

/* Frees cfg; connections must be gone.  Safe zeroed and twice. */
void spiffe_tls_config_free(spiffe_tls_config *cfg);

/* What a connection waits for after SPIFFE_ERR_AGAIN. */
enum spiffe_tls_want {
	SPIFFE_TLS_WANT_READ = 1,
	SPIFFE_TLS_WANT_WRITE = 2,
};

/*
 * One TLS connection over a socket the caller owns (made non-blocking
 * for the event loop, or used with the _wait helpers).  Fields are
 * private; the struct is about 1 KiB, and mbedTLS allocates its record
 * buffers (see DESIGN notes in tls.c) at setup.
 */
typedef struct spiffe_tls_conn {
	mbedtls_ssl_context ssl;
	const spiffe_tls_config *cfg;
	struct spiffe_tls_gen *gen;
	spiffe_id *peer;            /* after a verified handshake */
	spiffe_errbuf *eb;          /* during a handshake call only */
	int fd;
	int verr;                   /* verify callback's error, 0 if none */
	int want;
	int state;
} spiffe_tls_conn;

/* Starts an unused connection. */
void spiffe_tls_conn_init(spiffe_tls_conn *c);

/*
 * Frees the TLS state (the socket stays the caller's to close).  Safe on
 * an initialized or zeroed struct and twice.
 */
void spiffe_tls_conn_free(spiffe_tls_conn *c);

/*
 * Binds c to cfg and socket fd, taking the current SVID.  A client may
 * give server_name for SNI (NULL for none); it is never checked against
 * the certificate.  SPIFFE_ERR_NOT_FOUND if a presenting role has no SVID
 * yet, SPIFFE_ERR_NOMEM, SPIFFE_ERR_TLS.
 */
SPIFFE_CHECK int spiffe_tls_conn_setup(spiffe_tls_conn *c,
				       spiffe_tls_config *cfg, int fd,
				       const char *server_name,
				       spiffe_errbuf *eb);

/*
 * Advances the handshake.  0 when it is complete (the peer, if verified,
 * is authorized); SPIFFE_ERR_AGAIN when the socket must become readable
 * or writable (spiffe_tls_want says which); otherwise the handshake has
 * failed, an alert was sent where TLS allows, and eb says why, naming
 * the peer's SPIFFE ID and what was expected:
 *   SPIFFE_ERR_UNAUTHORIZED  the authorizer refused the peer;
 *   SPIFFE_ERR_X509, SPIFFE_ERR_NOT_FOUND, SPIFFE_ERR_EXPIRED  the peer
 *                            SVID failed verification;
 *   SPIFFE_ERR_CLOSED        the peer closed the connection;
 *   SPIFFE_ERR_TLS, SPIFFE_ERR_IO  anything else.
 */
SPIFFE_CHECK int spiffe_tls_handshake(spiffe_tls_conn *c, spiffe_errbuf *eb);

/* SPIFFE_TLS_WANT_READ or _WRITE after SPIFFE_ERR_AGAIN. */
int spiffe_tls_want(const spiffe_tls_conn *c);

/*
 * Reads up to cap plaintext bytes into buf (*n > 0 on success).
 * SPIFFE_ERR_AGAIN (see spiffe_tls_want), SPIFFE_ERR_CLOSED on
 * close_notify or end of stream, else SPIFFE_ERR_TLS / SPIFFE_ERR_IO.
 */
SPIFFE_CHECK int spiffe_tls_read(spiffe_tls_conn *c, void *buf, size_t cap,
				 size_t *n, spiffe_errbuf *eb);

/* 1 if decrypted or received bytes wait inside mbedTLS, else 0. */
int spiffe_tls_pending(const spiffe_tls_conn *c);

/*
 * Writes from buf[0..len), len > 0; *n bytes were taken (one record at
 * most).  After SPIFFE_ERR_AGAIN, call again with the same buf and len.
 */
SPIFFE_CHECK int spiffe_tls_write(spiffe_tls_conn *c, const void *buf,
				  size_t len, size_t *n, spiffe_errbuf *eb);

/*
 * Returns the pages of c's idle record buffers to the kernel (madvise),
 * if nothing is buffered in them; done after each handshake, and worth
 * doing when a connection goes idle after large records.
 */
void spiffe_tls_trim(spiffe_tls_conn *c);

/* Sends close_notify if it can without blocking (best effort). */
void spiffe_tls_close_notify(spiffe_tls_conn *c);

/* The negotiated ALPN protocol, or NULL. */
const char *spiffe_tls_alpn(const spiffe_tls_conn *c);

/* The verified peer's SPIFFE ID, or NULL (server without mTLS). */
const spiffe_id *spiffe_tls_peer_id(const spiffe_tls_conn *c);

/* The serial number of the peer's leaf as hex ("3ED"), for logs and
 * tests; "" without a peer certificate.  Writes at most cap bytes. */
void spiffe_tls_peer_serial(const spiffe_tls_conn *c, char *out,
			    size_t cap);

/*
 * Blocking helpers for clients: each polls c's socket until deadline
 * (spiffe_monotonic_ms() value), then fails with SPIFFE_ERR_TIMEOUT.
 */
SPIFFE_CHECK int spiffe_tls_handshake_wait(spiffe_tls_conn *c,
					   int64_t deadline,
					   spiffe_errbuf *eb);
/* Reads at least one byte (or SPIFFE_ERR_CLOSED). */
SPIFFE_CHECK int spiffe_tls_read_wait(spiffe_tls_conn *c, void *buf,
				      size_t cap, size_t *n,
				      int64_t deadline, spiffe_errbuf *eb);
/* Writes all len bytes. */
SPIFFE_CHECK int spiffe_tls_write_wait(spiffe_tls_conn *c, const void *buf,
				       size_t len, int64_t deadline,
				       spiffe_errbuf *eb);

/* Waits until fd is ready for want (SPIFFE_TLS_WANT_*) or deadline. */
SPIFFE_CHECK int spiffe_poll_wait(int fd, int want, int64_t deadline,
				  spiffe_errbuf *eb);

#endif
