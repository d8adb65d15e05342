/*
 * limits.h - every bound on untrusted input, in one place.
 *
 * Parsers reject input past these with SPIFFE_ERR_LIMIT and a message
 * naming the limit.  Modules add their constants here, never locally.
 */
#ifndef SPIFFE_LIMITS_H
#define SPIFFE_LIMITS_H

/* SPIFFE IDs (SPIFFE-ID.md section 2.3). */
#define SPIFFE_ID_MAX 2048          /* whole ID, bytes */
#define SPIFFE_TD_MAX 255           /* trust domain name, bytes */

/* JSON reader. */
#define SPIFFE_JSON_MAX_DEPTH 32
#define SPIFFE_JSON_MAX_INPUT (1u << 20)   /* 1 MiB document */
#define SPIFFE_JSON_MAX_TOKENS 65536

/* JWT-SVIDs. */
/* Whole compact token; with "Authorization: Bearer " it still fits in
 * SPIFFE_HTTP_MAX_HEADER_BLOCK. */
#define SPIFFE_JWT_MAX (8u * 1024)
#define SPIFFE_JWT_MAX_AUDIENCES 32
#define SPIFFE_JWT_DEFAULT_LEEWAY 60       /* seconds, like go-spiffe */
#define SPIFFE_JWT_CACHE_MAX 1048576       /* verified-token cache entries */
#define SPIFFE_JWT_CACHE_MAX_ENTRY 16384   /* bytes one entry may hold */
#define SPIFFE_JWT_AUTH_CACHE 1024         /* verified tokens a server keeps */

/* Bundles. */
#define SPIFFE_JWKS_MAX_KEYS 256
#define SPIFFE_BUNDLE_MAX_CERTS 256
#define SPIFFE_BUNDLE_SET_MAX 1024         /* trust domains in a set */

/* Public keys in bundles (JWKs and certificates' keys). */
#define SPIFFE_RSA_MIN_BITS 2048           /* smaller moduli are rejected */
#define SPIFFE_RSA_MAX_BITS 8192           /* mbedTLS's MPI limit */
#define SPIFFE_RSA_MAX_EXPONENT 0x7fffffffu /* e, as Go's crypto/rsa */

/* X.509. */
#define SPIFFE_X509_MAX_CHAIN 16
#define SPIFFE_X509_MAX_DER (64u * 1024)   /* one certificate */
#define SPIFFE_X509_MAX_KEY (16u * 1024)   /* one private key, DER */
#define SPIFFE_X509_MAX_PEM (2u * 1024 * 1024) /* PEM chain or key text */
#define SPIFFE_X509_MAX_PATH (SPIFFE_X509_MAX_CHAIN + 1) /* + anchor */
#define SPIFFE_X509_RSA_MIN_BITS 2048      /* SVID and CA RSA keys */
#define SPIFFE_SVID_HINT_MAX 1024          /* Workload API hint, bytes */

/* HTTP/2 and HPACK. */
#define SPIFFE_H2_MAX_FRAME 16384          /* our SETTINGS_MAX_FRAME_SIZE */
#define SPIFFE_H2_MAX_HEADER_LIST 16384    /* decoded header list bytes */
#define SPIFFE_H2_MAX_HEADER_BLOCK 65536   /* HEADERS+CONTINUATION bytes */
#define SPIFFE_H2_MAX_STREAMS 100          /* concurrent streams */
#define SPIFFE_HPACK_TABLE_SIZE 4096       /* dynamic table, bytes */
/* One decoded name or value; room for "Bearer " and a SPIFFE_JWT_MAX
 * token in an authorization field. */
#define SPIFFE_HPACK_MAX_STRING 12288
#define SPIFFE_HPACK_MAX_INSERT (128u * 1024) /* table bytes a block adds */
#define SPIFFE_H2_MAX_HEADERS 128          /* fields in one header list */
#define SPIFFE_H2_MAX_CONTINUATION 64      /* CONTINUATIONs in one block */
#define SPIFFE_H2_MAX_GOAWAY_DEBUG 256     /* GOAWAY debug bytes kept */
#define SPIFFE_H2_STREAM_WINDOW (8u << 20) /* our stream receive window */
#define SPIFFE_H2_CONN_WINDOW (16u << 20)  /* our connection window */
#define SPIFFE_H2_MAX_SEND_FRAME 16384     /* largest frame we send */
#define SPIFFE_H2_STREAM_SENDBUF (64u * 1024) /* DATA queued per stream */
#define SPIFFE_H2_MAX_OUTPUT (256u * 1024) /* output not yet drained */
#define SPIFFE_H2_OUTPUT_LOW (32u * 1024)  /* frame DATA below this */
#define SPIFFE_HTTPD_H2_STREAMS 32         /* streams one client may open */
#define SPIFFE_HTTPD_H2_RESETS 100         /* its streams reset per second */

/* gRPC. */
#define SPIFFE_GRPC_MAX_MESSAGE (4u * 1024 * 1024) /* default receive */

/* Workload API client. */
#define SPIFFE_WLAPI_MAX_SVIDS 128         /* SVIDs in one response */
#define SPIFFE_WLAPI_MAX_CLAIMS (1u << 20) /* claims rendered as JSON */
#define SPIFFE_WLAPI_STREAM_WINDOW 65535   /* our h2 stream window */
#define SPIFFE_WLAPI_CONN_WINDOW (1u << 20) /* our h2 connection window */
#define SPIFFE_WLAPI_MAX_CALLS 64          /* calls open on one client */
#define SPIFFE_WLAPI_BACKOFF_MAX_MS 30000  /* watch retry: 1 s .. 30 s */
#define SPIFFE_WLAPI_JWT_CACHE 64          /* JWT source cache entries */

/* Command line (src/cli.h). */
#define SPIFFE_CLI_LIST_MAX SPIFFE_JWT_MAX_AUDIENCES /* values of a list */
#define SPIFFE_CLI_MAX_FILE SPIFFE_X509_MAX_PEM   /* an input file */

/* HTTP/1.1. */
#define SPIFFE_HTTP_MAX_REQUEST_LINE 8192  /* excluding CRLF */
#define SPIFFE_HTTP_MAX_HEADER_BLOCK 16384 /* field lines + final CRLF */
#define SPIFFE_HTTP_MAX_HEADERS 64
#define SPIFFE_HTTP_MAX_BODY (1u << 20)
#define SPIFFE_HTTP_MAX_STATUS_LINE 1024   /* excluding CRLF */
#define SPIFFE_HTTP_MAX_INTERIM 4          /* 1xx before a final response */
#define SPIFFE_HTTP_MAX_CHUNK_LINE 1024    /* chunk size + extensions */
#define SPIFFE_HTTP_MAX_TRAILER 4096       /* trailer section, CRLFs too */
/*
 * Every head the parsers accept fits in this many bytes: a request's
 * optional leading CRLF, request line, CRLF and header block; for a
 * response, its 1xx heads and final head together.
 */
#define SPIFFE_HTTP_MAX_HEAD \
	(2 + SPIFFE_HTTP_MAX_REQUEST_LINE + 2 + SPIFFE_HTTP_MAX_HEADER_BLOCK)

/* spiffe-agent: selectors, registration entries, attestation. */
#define SPIFFE_SELECTOR_MAX 4224           /* "type:value", bytes */
#define SPIFFE_SELECTOR_TYPE_MAX 32        /* the "type" part, bytes */
#define SPIFFE_SELECTORS_MAX 1024          /* in one selector set */
#define SPIFFE_AGENT_MAX_ENTRIES 1024      /* registration entries */
#define SPIFFE_AGENT_ENTRY_SELECTORS 32    /* selectors in one entry */
#define SPIFFE_AGENT_ENTRY_ID_MAX 64       /* entry id, bytes */
#define SPIFFE_AGENT_HINT_MAX 1024         /* hint, bytes (Workload API 8) */
#define SPIFFE_AGENT_TTL_MAX (366 * 86400) /* SVID TTL in an entry, s */
#define SPIFFE_AGENT_REGISTRY_MAX SPIFFE_JSON_MAX_INPUT /* entries file */
#define SPIFFE_AGENT_MAX_GROUPS 256        /* supplementary groups */
#define SPIFFE_PROC_STAT_MAX 4096          /* /proc/PID/stat, bytes */
#define SPIFFE_PROC_STATUS_MAX (64u * 1024) /* /proc/PID/status, bytes */
#define SPIFFE_AGENT_EXE_HASH_MAX (256u << 20) /* hashed executable */
#define SPIFFE_AGENT_PEM_MAX (16u * 1024)  /* one CA/key file, bytes */
#define SPIFFE_AGENT_MAX_CONNS 1024        /* Workload API connections */
#define SPIFFE_AGENT_MAX_STREAMS 32        /* open streams a connection */
#define SPIFFE_AGENT_MAX_REQUEST (16u * 1024) /* one request message */
#define SPIFFE_AGENT_PREFACE_MS 10000      /* to send the HTTP/2 preface */
#define SPIFFE_AGENT_CONFIG_MAX (64u * 1024) /* spiffe-agent -config file */
#define SPIFFE_AGENT_JWT_CACHE 256         /* JWT-SVIDs kept for reuse */

#endif
