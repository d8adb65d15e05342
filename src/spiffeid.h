/*
 * spiffeid.h - SPIFFE IDs and trust domains (SPIFFE-ID.md).
 *
 * Parsing is strict and follows the standard to the letter: scheme
 * exactly "spiffe" (lowercase; "SPIFFE://" and "Spiffe://" are rejected,
 * like go-spiffe), trust domain of [a-z0-9._-] (1..255 bytes), no user
 * info, port, query, fragment or percent-encoding, path segments of
 * [a-zA-Z0-9._-] with no empty, "." or ".." segment and no trailing
 * slash, at most SPIFFE_ID_MAX bytes in all.  A parsed ID is canonical,
 * so IDs compare byte for byte.
 *
 * The structs hold their text inline (no allocation, nothing to free).
 * Input text may point into the output struct (re-parsing an ID's own
 * text, or building from its own path with another trust domain).
 */
#ifndef SPIFFE_SPIFFEID_H
#define SPIFFE_SPIFFEID_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "limits.h"

typedef struct spiffe_td {
	size_t len;                     /* 0 = the zero trust domain */
	char name[SPIFFE_TD_MAX + 1];   /* "example.org", NUL-terminated */
} spiffe_td;

typedef struct spiffe_id {
	size_t len;                     /* 0 = the zero ID */
	size_t td_len;                  /* trust domain at str + 9 */
	char str[SPIFFE_ID_MAX + 1];    /* "spiffe://td/path", terminated */
} spiffe_id;

/*
 * Parses s[0..len) as a SPIFFE ID into id.  On failure returns
 * SPIFFE_ERR_SPIFFEID (or SPIFFE_ERR_LIMIT when too long), leaves id
 * zeroed, and eb says which rule failed and where.  The message starts
 * with go-spiffe's wording for the rule, then gives the detail and the
 * input (escaped, at most 64 bytes shown), e.g. "trust domain characters
 * are limited to lowercase letters, numbers, dots, dashes, and
 * underscores: found ':' (port not allowed) at offset 11 in
 * "spiffe://td:443/x"".
 */
SPIFFE_CHECK int spiffe_id_parse(spiffe_id *id, const char *s, size_t len,
				 spiffe_errbuf *eb);

/* Parses a NUL-terminated string (trusted, local input only). */
SPIFFE_CHECK int spiffe_id_parse_cstr(spiffe_id *id, const char *s,
				      spiffe_errbuf *eb);

/*
 * Builds "spiffe://<td><path>"; path is "" or starts with "/" and must
 * follow the path rules (offsets in messages are into path).  A zero td
 * gives "trust domain is empty".
 */
SPIFFE_CHECK int spiffe_id_from_path(spiffe_id *id, const spiffe_td *td,
				     const char *path, size_t len,
				     spiffe_errbuf *eb);

/*
 * Parses a trust domain name.  Accepts a bare name ("example.org") or a
 * SPIFFE ID whose trust domain is taken ("spiffe://example.org" or
 * "spiffe://example.org/path"), as Workload API bundle-map keys may be
 * either (go-spiffe TrustDomainFromString).
 */
SPIFFE_CHECK int spiffe_td_parse(spiffe_td *td, const char *s, size_t len,
				 spiffe_errbuf *eb);

/*
 * The ID's trust domain, path ("" for a root ID) and their lengths.  The
 * path points into id; a zero ID gives the zero trust domain and "".
 */
void spiffe_id_td(const spiffe_id *id, spiffe_td *td);
const char *spiffe_id_path(const spiffe_id *id, size_t *len);

/* 1 if equal (byte for byte), else 0. */
int spiffe_id_equal(const spiffe_id *a, const spiffe_id *b);
int spiffe_td_equal(const spiffe_td *a, const spiffe_td *b);

/*
 * 1 if id is in trust domain td, else 0.  A zero ID is a member of no
 * trust domain, not even the zero one (go-spiffe's MatchMemberOf accepts
 * the zero ID for the zero trust domain; we do not).
 */
int spiffe_id_member_of(const spiffe_id *id, const spiffe_td *td);

/*
 * Writes "spiffe://<td>" into id (the trust domain's own ID); the zero
 * trust domain gives the zero ID.
 */
void spiffe_td_id(const spiffe_td *td, spiffe_id *id);

#endif
