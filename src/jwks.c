/*
 * jwks.c - the JWK forms of a bundle: a plain JWKS (the Workload API's
 * JWT bundles) and the SPIFFE bundle format (federation), both ways.
 *
 * Keys we take: EC P-256/P-384/P-521 (x and y of exactly the field
 * length, the point on the curve) and RSA (n and e minimal big-endian,
 * SPIFFE_RSA_MIN_BITS <= |n| <= SPIFFE_RSA_MAX_BITS, 3 <= e <=
 * SPIFFE_RSA_MAX_EXPONENT, e odd).  A JWK of any other kty ("oct",
 * "OKP", ...) or of another curve is skipped, never fatal.  A JWK of a
 * kty we take that is malformed fails the whole document, as does one
 * that carries private key members: a trust bundle must not hold secrets.
 *
 * Choices where the specs leave room (each says why):
 *   - a duplicate kid fails the document (go-spiffe keeps the last one;
 *     two keys under one name make the verifying key depend on order);
 *   - a JWK's "alg", "key_ops" and (in a plain JWKS) "x5c" are not used;
 *   - in the SPIFFE format an x509-svid entry with no or an empty "x5c"
 *     is ignored (X509-SVID section 6.2; go-spiffe fails), only the
 *     first certificate counts, it must be a CA certificate and its key
 *     must be the JWK's key;
 *   - "spiffe_sequence" or "spiffe_refresh_hint" null means absent, as
 *     in go-spiffe.
 */
#include "bundle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>
#include <mbedtls/rsa.h>

#include "b64.h"
#include "json.h"

#define JWK_SKIP 1              /* a key type we do not take */
#define QUOTE_MAX (64 * 6 + 3)  /* a kid quoted for a message */
#define EC_MAX_FIELD 66         /* P-521 coordinates, bytes */
#define RSA_MAX_BYTES (SPIFFE_RSA_MAX_BITS / 8)
/* Characters of the longest base64url member we read (an RSA n). */
#define B64_MEMBER_MAX (SPIFFE_B64URL_ENCODED_LEN(RSA_MAX_BYTES))

/* ---- public keys -------------------------------------------------------- */

static const struct curve {
	const char *crv;
	mbedtls_ecp_group_id id;
	size_t field;           /* coordinate bytes */
} curves[] = {
	{ "P-256", MBEDTLS_ECP_DP_SECP256R1, 32 },
	{ "P-384", MBEDTLS_ECP_DP_SECP384R1, 48 },
	{ "P-521", MBEDTLS_ECP_DP_SECP521R1, 66 },
};

static const struct curve *curve_by_id(mbedtls_ecp_group_id id)
{
	for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
		if (curves[i].id == id)
			return &curves[i];
	}
	return NULL;
}

/* Bit length of a minimal big-endian number. */
static size_t be_bits(const uint8_t *p, size_t len)
{
	size_t bits = len * 8;

	if (len == 0)
		return 0;
	for (uint8_t top = p[0]; (top & 0x80) == 0; top <<= 1)
		bits--;
	return bits;
}

/*
 * 0 if pk is a key we take as an authority (supported curve, RSA size
 * and exponent), else SPIFFE_ERR_UNSUPPORTED with what is wrong in
 * why[0..cap).
 */
static int check_pk(const mbedtls_pk_context *pk, char *why, size_t cap)
{
	mbedtls_pk_type_t t = mbedtls_pk_get_type(pk);

	if (t == MBEDTLS_PK_ECKEY || t == MBEDTLS_PK_ECKEY_DH ||
	    t == MBEDTLS_PK_ECDSA) {
		mbedtls_ecp_group_id id =
			mbedtls_ecp_keypair_get_group_id(mbedtls_pk_ec(*pk));

		if (curve_by_id(id) == NULL) {
			snprintf(why, cap, "unsupported elliptic curve");
			return SPIFFE_ERR_UNSUPPORTED;
		}
		return 0;
	}
	if (t == MBEDTLS_PK_RSA) {
		const mbedtls_rsa_context *rsa = mbedtls_pk_rsa(*pk);
		size_t bits = mbedtls_pk_get_bitlen(pk);
		mbedtls_mpi e;
		int ok;

		if (bits < SPIFFE_RSA_MIN_BITS || bits > SPIFFE_RSA_MAX_BITS) {
			snprintf(why, cap, "RSA modulus of %zu bits (need "
				 "%d..%d)", bits, SPIFFE_RSA_MIN_BITS,
				 SPIFFE_RSA_MAX_BITS);
			return SPIFFE_ERR_UNSUPPORTED;
		}
		mbedtls_mpi_init(&e);
		ok = mbedtls_rsa_export(rsa, NULL, NULL, NULL, NULL,
					&e) == 0 &&
		     mbedtls_mpi_bitlen(&e) <= 31 &&
		     mbedtls_mpi_cmp_int(&e, 3) >= 0 &&
		     mbedtls_mpi_get_bit(&e, 0) == 1;
		mbedtls_mpi_free(&e);
		if (!ok) {
			snprintf(why, cap, "RSA exponent out of range");
			return SPIFFE_ERR_UNSUPPORTED;
		}
		return 0;
	}
	snprintf(why, cap, "unsupported key type");
	return SPIFFE_ERR_UNSUPPORTED;
}

/* Copies the public part of src into the empty dst. */
static int copy_public(mbedtls_pk_context *dst, const mbedtls_pk_context *src)
{
	/* Big enough for an RSA-8192 SubjectPublicKeyInfo. */
	unsigned char der[RSA_MAX_BYTES + 64];
	int n = mbedtls_pk_write_pubkey_der(src, der, sizeof(der));

	if (n <= 0)
		return SPIFFE_ERR_CRYPTO;
	if (mbedtls_pk_parse_public_key(dst, der + sizeof(der) - n,
					(size_t)n) != 0)
		return SPIFFE_ERR_CRYPTO;
	return 0;
}

/* 1 if a and b are the same public key. */
static int same_public(const mbedtls_pk_context *a,
		       const mbedtls_pk_context *b)
{
	unsigned char da[RSA_MAX_BYTES + 64], db[RSA_MAX_BYTES + 64];
	int na = mbedtls_pk_write_pubkey_der(a, da, sizeof(da));
	int nb = mbedtls_pk_write_pubkey_der(b, db, sizeof(db));

	return na > 0 && na == nb &&
	       memcmp(da + sizeof(da) - na, db + sizeof(db) - nb,
		      (size_t)na) == 0;
}

/* ---- reading JWKs ------------------------------------------------------ */

/* What the document is, for messages and the few rules that differ. */
struct doc {
	const char *pfx;        /* "jwtbundle" or "spiffebundle" */
	const spiffe_json *j;
};

/*
 * Decodes the base64url string member name of object o into out[0..cap).
 * SPIFFE_ERR_NOT_FOUND if absent; other errors name the member.
 */
static int get_b64(const struct doc *d, int o, size_t idx, const char *name,
		   uint8_t *out, size_t cap, size_t *len, spiffe_errbuf *eb)
{
	char text[B64_MEMBER_MAX + 1];
	size_t tlen;
	int v = spiffe_json_get(d->j, o, name);

	if (v < 0)
		return SPIFFE_ERR_NOT_FOUND;
	if (d->j->tok[v].type != SPIFFE_JSON_STRING)
		return spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
				   "%s: key %zu: \"%s\" is not a string",
				   d->pfx, idx, name);
	if (spiffe_json_str(d->j, v, text, sizeof(text), &tlen) != 0 ||
	    tlen > SPIFFE_B64URL_ENCODED_LEN(cap))
		return spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
				   "%s: key %zu: \"%s\" is too long",
				   d->pfx, idx, name);
	if (spiffe_b64url_decode(out, cap, len, text, tlen) != 0)
		return spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
				   "%s: key %zu: \"%s\" is not unpadded "
				   "base64url", d->pfx, idx, name);
	return 0;
}

static int no_private(const struct doc *d, int o, size_t idx,
		      const char *const *names, spiffe_errbuf *eb)
{
	for (; *names != NULL; names++) {
		if (spiffe_json_get(d->j, o, *names) >= 0)
			return spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
					   "%s: key %zu: has private key "
					   "member \"%s\"", d->pfx, idx,
					   *names);
	}
	return 0;
}

static int read_ec(const struct doc *d, int o, size_t idx,
		   mbedtls_pk_context *pk, spiffe_errbuf *eb)
{
	static const char *const priv[] = { "d", NULL };
	const struct curve *c = NULL;
	uint8_t x[EC_MAX_FIELD + 1], y[EC_MAX_FIELD + 1];
	uint8_t pt[1 + 2 * EC_MAX_FIELD];
	size_t xl, yl;
	mbedtls_ecp_group grp;
	mbedtls_ecp_point q;
	int v = spiffe_json_get(d->j, o, "crv");
	int rc;

	if (v < 0 || d->j->tok[v].type != SPIFFE_JSON_STRING)
		return spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
				   "%s: key %zu: EC key without a string "
				   "\"crv\"", d->pfx, idx);
	for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
		if (spiffe_json_str_eq(d->j, v, curves[i].crv,
				       strlen(curves[i].crv)))
			c = &curves[i];
	}
	if (c == NULL)
		return JWK_SKIP;
	if ((rc = no_private(d, o, idx, priv, eb)) != 0)
		return rc;
	rc = get_b64(d, o, idx, "x", x, sizeof(x), &xl, eb);
	if (rc == 0)
		rc = get_b64(d, o, idx, "y", y, sizeof(y), &yl, eb);
	if (rc == SPIFFE_ERR_NOT_FOUND)
		return spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
				   "%s: key %zu: EC key without x or y",
				   d->pfx, idx);
	if (rc != 0)
		return rc;
	if (xl != c->field)
		return spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
				   "%s: key %zu: invalid EC public key, wrong "
				   "length for x (%zu bytes, %s needs %zu)",
				   d->pfx, idx, xl, c->crv, c->field);
	if (yl != c->field)
		return spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
				   "%s: key %zu: invalid EC public key, wrong "
				   "length for y (%zu bytes, %s needs %zu)",
				   d->pfx, idx, yl, c->crv, c->field);
	pt[0] = 0x04;
	memcpy(pt + 1, x, c->field);
	memcpy(pt + 1 + c->field, y, c->field);
	mbedtls_ecp_group_init(&grp);
	mbedtls_ecp_point_init(&q);
	rc = SPIFFE_ERR_CRYPTO;
	if (mbedtls_ecp_group_load(&grp, c->id) != 0)
		goto out;
	if (mbedtls_ecp_point_read_binary(&grp, &q, pt,
					  1 + 2 * c->field) != 0 ||
	    mbedtls_ecp_check_pubkey(&grp, &q) != 0) {
		rc = spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
				 "%s: key %zu: invalid EC key, X/Y are not "
				 "on declared curve %s", d->pfx, idx, c->crv);
		goto out;
	}
	if (mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(
				     MBEDTLS_PK_ECKEY)) != 0 ||
	    mbedtls_ecp_set_public_key(c->id, mbedtls_pk_ec(*pk), &q) != 0)
		goto out;
	rc = 0;
out:
	mbedtls_ecp_point_free(&q);
	mbedtls_ecp_group_free(&grp);
	if (rc == SPIFFE_ERR_CRYPTO)
		spiffe_fail(eb, rc, "%s: key %zu: mbedTLS could not load the "
			    "EC key", d->pfx, idx);
	return rc;
}

static int read_rsa(const struct doc *d, int o, size_t idx,
		    mbedtls_pk_context *pk, spiffe_errbuf *eb)
{
	static const char *const priv[] = {
		"d", "p", "q", "dp", "dq", "qi", "oth", NULL
	};
	uint8_t n[RSA_MAX_BYTES + 1], e[8];
	size_t nl, el, bits;
	uint32_t ev = 0;
	mbedtls_rsa_context *rsa;
	int rc;

	if ((rc = no_private(d, o, idx, priv, eb)) != 0)
		return rc;
	rc = get_b64(d, o, idx, "n", n, sizeof(n), &nl, eb);
	if (rc == 0)
		rc = get_b64(d, o, idx, "e", e, sizeof(e), &el, eb);
	if (rc == SPIFFE_ERR_NOT_FOUND)
		return spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
				   "%s: key %zu: invalid RSA key, missing "
				   "n/e values", d->pfx, idx);
	if (rc != 0)
		return rc;
	/* RFC 7518 section 6.3.1: minimal octets, so no leading zero. */
	if (nl == 0 || n[0] == 0 || el == 0 || e[0] == 0)
		return spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
				   "%s: key %zu: invalid RSA key, n or e is "
				   "empty or has a leading zero octet",
				   d->pfx, idx);
	bits = be_bits(n, nl);
	if (bits < SPIFFE_RSA_MIN_BITS || bits > SPIFFE_RSA_MAX_BITS)
		return spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
				   "%s: key %zu: RSA modulus of %zu bits "
				   "(need %d..%d)", d->pfx, idx, bits,
				   SPIFFE_RSA_MIN_BITS, SPIFFE_RSA_MAX_BITS);
	if (el <= 4) {
		for (size_t i = 0; i < el; i++)
			ev = ev << 8 | e[i];
	}
	if (el > 4 || ev > SPIFFE_RSA_MAX_EXPONENT || ev < 3 ||
	    (ev & 1) == 0)
		return spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
				   "%s: key %zu: invalid RSA exponent (must "
				   "be odd, 3..%u)", d->pfx, idx,
				   (unsigned)SPIFFE_RSA_MAX_EXPONENT);
	if ((n[nl - 1] & 1) == 0)
		return spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
				   "%s: key %zu: invalid RSA key, even "
				   "modulus", d->pfx, idx);
	if (mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(
				     MBEDTLS_PK_RSA)) != 0)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	rsa = mbedtls_pk_rsa(*pk);
	if (mbedtls_rsa_import_raw(rsa, n, nl, NULL, 0, NULL, 0, NULL, 0,
				   e, el) != 0 ||
	    mbedtls_rsa_complete(rsa) != 0 ||
	    mbedtls_rsa_check_pubkey(rsa) != 0)
		return spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
				   "%s: key %zu: mbedTLS rejects the RSA key",
				   d->pfx, idx);
	return 0;
}

/*
 * Reads the public key of JWK o (element idx of "keys") into the empty
 * pk: 0, JWK_SKIP for a kty or curve we do not take, or an error.
 */
static int read_key(const struct doc *d, int o, size_t idx,
		    mbedtls_pk_context *pk, spiffe_errbuf *eb)
{
	int v = spiffe_json_get(d->j, o, "kty");

	if (v < 0)
		return spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
				   "%s: key %zu: missing json web key type "
				   "(kty)", d->pfx, idx);
	if (d->j->tok[v].type != SPIFFE_JSON_STRING)
		return spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
				   "%s: key %zu: \"kty\" is not a string",
				   d->pfx, idx);
	if (spiffe_json_str_eq(d->j, v, "EC", 2))
		return read_ec(d, o, idx, pk, eb);
	if (spiffe_json_str_eq(d->j, v, "RSA", 3))
		return read_rsa(d, o, idx, pk, eb);
	return JWK_SKIP;
}

/* Writes kid_len bytes of kid as a quoted, escaped string (for messages). */
static const char *quote(char *buf, size_t cap, const char *s, size_t len)
{
	size_t n;

	if (len > 64) {
		len = 64;
		/* Cut at a character boundary, so the rest stays UTF-8. */
		while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
			len--;
	}
	if (spiffe_json_quote(buf, cap, &n, s, len) != 0)
		return "\"?\"";
	return buf;
}

/*
 * A growing array of authorities, bounded by SPIFFE_JWKS_MAX_KEYS, for a
 * document being read; its kids must be unique.
 */
struct auths {
	spiffe_jwt_authority *a;
	size_t n, cap;
};

static void auths_free(struct auths *s)
{
	for (size_t i = 0; i < s->n; i++)
		mbedtls_pk_free(&s->a[i].pk);
	free(s->a);
	s->a = NULL;
	s->n = s->cap = 0;
}

static int auths_find(const spiffe_jwt_authority *a, size_t n,
		      const char *kid, size_t len)
{
	for (size_t i = 0; i < n; i++) {
		if (a[i].kid_len == len && memcmp(a[i].kid, kid, len) == 0)
			return (int)i;
	}
	return -1;
}

/* A new zeroed slot at the end of s (pk initialised), or NULL. */
static spiffe_jwt_authority *auths_push(struct auths *s)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4;
		spiffe_jwt_authority *na;

		if (cap > SPIFFE_JWKS_MAX_KEYS)
			cap = SPIFFE_JWKS_MAX_KEYS;
		if (s->n >= cap)
			return NULL;
		na = realloc(s->a, cap * sizeof(*na));
		if (na == NULL)
			return NULL;
		s->a = na;
		s->cap = cap;
	}
	memset(&s->a[s->n], 0, sizeof(s->a[s->n]));
	mbedtls_pk_init(&s->a[s->n].pk);
	return &s->a[s->n];
}

/*
 * Reads the "kid" of JWK o into a and checks it is present, non-empty
 * and new among the n authorities before it.
 */
static int read_kid(const struct doc *d, int o, size_t idx,
		    spiffe_jwt_authority *a, const spiffe_jwt_authority *prev,
		    size_t n, spiffe_errbuf *eb)
{
	char q[QUOTE_MAX];
	int v = spiffe_json_get(d->j, o, "kid");

	if (v >= 0 && d->j->tok[v].type != SPIFFE_JSON_STRING)
		return spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
				   "%s: key %zu: \"kid\" is not a string",
				   d->pfx, idx);
	if (v >= 0 && spiffe_json_str(d->j, v, a->kid, sizeof(a->kid),
				      &a->kid_len) != 0)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT,
				   "%s: key %zu: kid longer than %d bytes",
				   d->pfx, idx, SPIFFE_KID_MAX);
	if (v < 0 || a->kid_len == 0)
		return spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
				   "%s: error adding authority %zu of JWKS: "
				   "keyID cannot be empty", d->pfx, idx);
	int dup = auths_find(prev, n, a->kid, a->kid_len);
	if (dup >= 0)
		return spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
				   "%s: error adding authority %zu of JWKS: "
				   "duplicate key ID %s",
				   d->pfx, idx, quote(q, sizeof(q), a->kid,
						      a->kid_len));
	return 0;
}

/*
 * Parses the document into *j and finds its "keys" array: *keys is its
 * token, or -1 when "keys" is absent or null.
 */
static int open_doc(spiffe_json *j, const char *pfx, const char *json,
		    size_t len, int *keys, spiffe_errbuf *eb)
{
	int rc = spiffe_json_parse(j, json, len, eb);

	if (rc != 0)
		return spiffe_wrap(eb, rc, "%s: unable to parse JWKS", pfx);
	if (j->tok[0].type != SPIFFE_JSON_OBJECT)
		return spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
				   "%s: unable to parse JWKS: not a JSON "
				   "object", pfx);
	*keys = spiffe_json_get(j, 0, "keys");
	if (*keys >= 0 && j->tok[*keys].type == SPIFFE_JSON_NULL)
		*keys = -1;
	if (*keys >= 0 && j->tok[*keys].type != SPIFFE_JSON_ARRAY)
		return spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
				   "%s: unable to parse JWKS: \"keys\" is not "
				   "an array", pfx);
	if (*keys >= 0 && j->tok[*keys].count > SPIFFE_JWKS_MAX_KEYS)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT,
				   "%s: JWKS has %u keys, more than the limit "
				   "of %d", pfx, (unsigned)j->tok[*keys].count,
				   SPIFFE_JWKS_MAX_KEYS);
	return 0;
}

/* Moves the authorities in s into b, freeing b's old ones. */
static void commit_jwt(spiffe_bundle *b, struct auths *s)
{
	for (size_t i = 0; i < b->njwt; i++)
		mbedtls_pk_free(&b->jwt[i].pk);
	free(b->jwt);
	b->jwt = s->n ? s->a : NULL;
	b->njwt = s->n;
	if (s->n == 0)
		free(s->a);
	s->a = NULL;
	s->n = s->cap = 0;
}

int spiffe_bundle_set_jwks(spiffe_bundle *b, const char *json, size_t len,
			   spiffe_errbuf *eb)
{
	struct doc d = { "jwtbundle", NULL };
	struct auths s = { NULL, 0, 0 };
	spiffe_json j;
	int keys = -1, rc;

	spiffe_json_init(&j);
	d.j = &j;
	rc = open_doc(&j, d.pfx, json, len, &keys, eb);
	for (size_t i = 0; rc == 0 && keys >= 0 && i < j.tok[keys].count;
	     i++) {
		int o = spiffe_json_at(&j, keys, i);
		spiffe_jwt_authority *a;

		if (j.tok[o].type != SPIFFE_JSON_OBJECT) {
			rc = spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
					 "jwtbundle: key %zu is not a JSON "
					 "object", i);
			break;
		}
		if ((a = auths_push(&s)) == NULL) {
			rc = spiffe_fail(eb, SPIFFE_ERR_NOMEM,
					 "out of memory");
			break;
		}
		rc = read_key(&d, o, i, &a->pk, eb);
		if (rc == 0)
			rc = read_kid(&d, o, i, a, s.a, s.n, eb);
		if (rc == 0)
			s.n++;
		else
			mbedtls_pk_free(&a->pk);
		if (rc == JWK_SKIP)
			rc = 0;
	}
	if (rc == 0)
		commit_jwt(b, &s);
	auths_free(&s);
	spiffe_json_free(&j);
	return rc;
}

/* A growing byte buffer, for concatenated DER and for output. */
struct buf {
	char *p;
	size_t len, cap, max;
	int err;
};

static void put(struct buf *o, const void *s, size_t n)
{
	if (o->err)
		return;
	if (n > o->max - o->len) {
		o->err = SPIFFE_ERR_LIMIT;
		return;
	}
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 1024;
		char *np;

		while (cap < o->len + n + 1)
			cap *= 2;
		if ((np = realloc(o->p, cap)) == NULL) {
			o->err = SPIFFE_ERR_NOMEM;
			return;
		}
		o->p = np;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

/*
 * Reads the x509-svid entry o (element idx): the first x5c certificate
 * (a CA certificate whose key is the JWK's key) is appended to der.
 * An entry with no or an empty x5c adds nothing.
 */
static int read_x509_entry(const struct doc *d, int o, size_t idx,
			   const mbedtls_pk_context *pk, struct buf *der,
			   spiffe_errbuf *eb)
{
	int x = spiffe_json_get(d->j, o, "x5c"), c;
	const spiffe_json_tok *t;
	uint8_t *raw;
	char *text;
	size_t rawlen, tlen;
	mbedtls_x509_crt crt;
	int rc;

	if (x < 0)
		return 0;
	if (d->j->tok[x].type != SPIFFE_JSON_ARRAY)
		return spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
				   "spiffebundle: x509-svid entry %zu: x5c is "
				   "not an array", idx);
	if (d->j->tok[x].count == 0)
		return 0;
	for (size_t i = 0; i < d->j->tok[x].count; i++) {
		c = spiffe_json_at(d->j, x, i);
		if (d->j->tok[c].type != SPIFFE_JSON_STRING)
			return spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
					   "spiffebundle: x509-svid entry "
					   "%zu: x5c[%zu] is not a string",
					   idx, i);
	}
	c = spiffe_json_at(d->j, x, 0);
	t = &d->j->tok[c];
	/* The JSON form first: some encoders write '/' as "\/". */
	tlen = (size_t)(t->end - t->start);
	rawlen = SPIFFE_B64_DECODED_MAX(tlen);
	if (rawlen > SPIFFE_X509_MAX_DER + 2)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT,
				   "spiffebundle: x509-svid entry %zu: "
				   "certificate larger than %u bytes", idx,
				   (unsigned)SPIFFE_X509_MAX_DER);
	text = malloc(tlen + 1);
	raw = malloc(rawlen + 1);
	if (text == NULL || raw == NULL) {
		free(text);
		free(raw);
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	}
	rc = spiffe_json_str(d->j, c, text, tlen + 1, &tlen);
	if (rc == 0)
		rc = spiffe_b64std_decode(raw, rawlen, &rawlen, text, tlen);
	free(text);
	if (rc != 0) {
		free(raw);
		return spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
				   "spiffebundle: x509-svid entry %zu: x5c[0] "
				   "is not padded standard base64", idx);
	}
	mbedtls_x509_crt_init(&crt);
	rc = mbedtls_x509_crt_parse_der(&crt, raw, rawlen);
	if (rc != 0)
		rc = spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
				 "spiffebundle: x509-svid entry %zu: cannot "
				 "parse certificate (mbedTLS -0x%04x)", idx,
				 (unsigned)-rc);
	else if (mbedtls_x509_crt_get_ca_istrue(&crt) != 1)
		rc = spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
				 "spiffebundle: x509-svid entry %zu: "
				 "certificate is not a CA", idx);
	else if (!same_public(pk, &crt.pk))
		rc = spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
				 "spiffebundle: x509-svid entry %zu: public "
				 "keys in key and x5c fields do not match",
				 idx);
	mbedtls_x509_crt_free(&crt);
	if (rc == 0) {
		put(der, raw, rawlen);
		if (der->err)
			rc = spiffe_fail(eb, der->err, "spiffebundle: "
					 "certificates exceed %zu bytes",
					 der->max);
	}
	free(raw);
	return rc;
}

/* Reads member name as absent/null (0), or an integer into *v (1). */
static int get_int(const spiffe_json *j, const char *name, int is_signed,
		   uint64_t *u, int64_t *s, int *has, spiffe_errbuf *eb)
{
	int v = spiffe_json_get(j, 0, name), rc;

	*has = 0;
	if (v < 0 || j->tok[v].type == SPIFFE_JSON_NULL)
		return 0;
	if (is_signed)
		rc = spiffe_json_int64(j, v, s);
	else
		rc = spiffe_json_uint64(j, v, u);
	if (rc != 0)
		return spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
				   "spiffebundle: unable to parse JWKS: %s is "
				   "not %s integer", name, is_signed ?
				   "a 64-bit" : "an unsigned 64-bit");
	*has = 1;
	return 0;
}

int spiffe_bundle_parse_spiffe(spiffe_bundle *b, const char *json,
			       size_t len, spiffe_errbuf *eb)
{
	struct doc d = { "spiffebundle", NULL };
	struct auths s = { NULL, 0, 0 };
	struct buf der = { NULL, 0, 0, SPIFFE_JSON_MAX_INPUT, 0 };
	spiffe_json j;
	uint64_t seq = 0;
	int64_t hint = 0;
	int keys = -1, rc, has_seq = 0, has_hint = 0;

	spiffe_json_init(&j);
	d.j = &j;
	rc = open_doc(&j, d.pfx, json, len, &keys, eb);
	if (rc == 0 && keys < 0)
		rc = spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
				 "spiffebundle: no authorities found");
	if (rc == 0)
		rc = get_int(&j, "spiffe_sequence", 0, &seq, NULL, &has_seq,
			     eb);
	if (rc == 0)
		rc = get_int(&j, "spiffe_refresh_hint", 1, NULL, &hint,
			     &has_hint, eb);
	for (size_t i = 0; rc == 0 && i < j.tok[keys].count; i++) {
		int o = spiffe_json_at(&j, keys, i), u;
		int x509;
		mbedtls_pk_context pk;

		if (j.tok[o].type != SPIFFE_JSON_OBJECT) {
			rc = spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
					 "spiffebundle: key %zu is not a JSON "
					 "object", i);
			break;
		}
		/* "use" first: an entry for another use is none of ours. */
		u = spiffe_json_get(&j, o, "use");
		if (u < 0)
			continue;
		if (j.tok[u].type != SPIFFE_JSON_STRING) {
			rc = spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
					 "spiffebundle: key %zu: \"use\" is "
					 "not a string", i);
			break;
		}
		if (spiffe_json_str_eq(&j, u, "x509-svid", 9))
			x509 = 1;
		else if (spiffe_json_str_eq(&j, u, "jwt-svid", 8))
			x509 = 0;
		else
			continue;
		mbedtls_pk_init(&pk);
		rc = read_key(&d, o, i, &pk, eb);
		if (rc == 0 && x509) {
			rc = read_x509_entry(&d, o, i, &pk, &der, eb);
		} else if (rc == 0) {
			spiffe_jwt_authority *a = auths_push(&s);

			if (a == NULL) {
				rc = spiffe_fail(eb, SPIFFE_ERR_NOMEM,
						 "out of memory");
			} else {
				rc = read_kid(&d, o, i, a, s.a, s.n, eb);
				if (rc == 0) {
					a->pk = pk;  /* moved */
					mbedtls_pk_init(&pk);
					s.n++;
				}
			}
		}
		mbedtls_pk_free(&pk);
		if (rc == JWK_SKIP)
			rc = 0;
	}
	/* Commit: the X.509 half is the only step that can still fail. */
	if (rc == 0)
		rc = spiffe_bundle_set_x509_der(b, (const uint8_t *)der.p,
						der.len, eb);
	if (rc == 0) {
		commit_jwt(b, &s);
		b->has_sequence = has_seq;
		b->sequence = has_seq ? seq : 0;
		b->has_refresh_hint = has_hint;
		b->refresh_hint = has_hint ? hint : 0;
	}
	free(der.p);
	auths_free(&s);
	spiffe_json_free(&j);
	return rc;
}

/* ---- adding and finding ------------------------------------------------ */

int spiffe_bundle_add_jwt(spiffe_bundle *b, const char *kid, size_t kid_len,
			  const mbedtls_pk_context *pk, spiffe_errbuf *eb)
{
	char why[96], q[QUOTE_MAX];
	spiffe_jwt_authority *na, *a;
	int rc;

	if (kid == NULL || kid_len == 0)
		return spiffe_fail(eb, SPIFFE_ERR_ARG,
				   "jwtbundle: keyID cannot be empty");
	if (kid_len > SPIFFE_KID_MAX)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT,
				   "jwtbundle: keyID longer than %d bytes",
				   SPIFFE_KID_MAX);
	if (pk == NULL || (rc = check_pk(pk, why, sizeof(why))) != 0)
		return spiffe_fail(eb, SPIFFE_ERR_UNSUPPORTED,
				   "jwtbundle: authority %s: %s",
				   quote(q, sizeof(q), kid, kid_len),
				   pk == NULL ? "no key" : why);
	if (spiffe_bundle_find_jwt(b, kid, kid_len) != NULL)
		return spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
				   "jwtbundle: duplicate key ID %s",
				   quote(q, sizeof(q), kid, kid_len));
	if (b->njwt >= SPIFFE_JWKS_MAX_KEYS)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT,
				   "jwtbundle: more than %d JWT authorities",
				   SPIFFE_JWKS_MAX_KEYS);
	na = realloc(b->jwt, (b->njwt + 1) * sizeof(*na));
	if (na == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	b->jwt = na;
	a = &na[b->njwt];
	memset(a, 0, sizeof(*a));
	mbedtls_pk_init(&a->pk);
	if (copy_public(&a->pk, pk) != 0) {
		mbedtls_pk_free(&a->pk);
		return spiffe_fail(eb, SPIFFE_ERR_CRYPTO,
				   "jwtbundle: cannot copy the public key");
	}
	memcpy(a->kid, kid, kid_len);
	a->kid[kid_len] = '\0';
	a->kid_len = kid_len;
	b->njwt++;
	return 0;
}

const spiffe_jwt_authority *spiffe_bundle_find_jwt(const spiffe_bundle *b,
						   const char *kid,
						   size_t kid_len)
{
	int i;

	if (b == NULL || kid == NULL)
		return NULL;
	i = auths_find(b->jwt, b->njwt, kid, kid_len);
	return i < 0 ? NULL : &b->jwt[i];
}

/* ---- writing ---------------------------------------------------------- */

static void put_str(struct buf *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_quoted(struct buf *o, const char *s, size_t len)
{
	char q[SPIFFE_KID_MAX * 6 + 3];
	size_t n;

	if (o->err)
		return;
	if (len > SPIFFE_KID_MAX || spiffe_json_quote(q, sizeof(q), &n, s,
						       len) != 0) {
		o->err = SPIFFE_ERR_LIMIT;
		return;
	}
	put(o, q, n);
}

static void put_b64url(struct buf *o, const uint8_t *p, size_t len)
{
	char enc[SPIFFE_B64URL_ENCODED_LEN(RSA_MAX_BYTES) + 1];
	size_t n;

	if (o->err)
		return;
	if (len > RSA_MAX_BYTES ||
	    spiffe_b64url_encode(enc, sizeof(enc), &n, p, len) != 0) {
		o->err = SPIFFE_ERR_LIMIT;
		return;
	}
	put(o, "\"", 1);
	put(o, enc, n);
	put(o, "\"", 1);
}

static void put_u64(struct buf *o, uint64_t v, int neg)
{
	char d[24];
	size_t i = sizeof(d);

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	if (neg)
		d[--i] = '-';
	put(o, d + i, sizeof(d) - i);
}

/* Writes the key members of pk ("kty" and the public parameters). */
static int put_key(struct buf *o, const mbedtls_pk_context *pk)
{
	char why[96];

	if (check_pk(pk, why, sizeof(why)) != 0)
		return SPIFFE_ERR_UNSUPPORTED;
	if (mbedtls_pk_get_type(pk) == MBEDTLS_PK_RSA) {
		uint8_t n[RSA_MAX_BYTES], e[4];
		mbedtls_mpi mn, me;
		size_t nl, el;
		int rc;

		mbedtls_mpi_init(&mn);
		mbedtls_mpi_init(&me);
		rc = mbedtls_rsa_export(mbedtls_pk_rsa(*pk), &mn, NULL, NULL,
					NULL, &me);
		nl = mbedtls_mpi_size(&mn);
		el = mbedtls_mpi_size(&me);
		if (rc == 0 && (nl > sizeof(n) || el > sizeof(e)))
			rc = -1;
		if (rc == 0)
			rc = mbedtls_mpi_write_binary(&mn, n, nl);
		if (rc == 0)
			rc = mbedtls_mpi_write_binary(&me, e, el);
		mbedtls_mpi_free(&mn);
		mbedtls_mpi_free(&me);
		if (rc != 0)
			return SPIFFE_ERR_CRYPTO;
		put_str(o, "\"kty\":\"RSA\",\"n\":");
		put_b64url(o, n, nl);
		put_str(o, ",\"e\":");
		put_b64url(o, e, el);
	} else {
		const mbedtls_ecp_keypair *kp = mbedtls_pk_ec(*pk);
		const struct curve *c =
			curve_by_id(mbedtls_ecp_keypair_get_group_id(kp));
		uint8_t pt[1 + 2 * EC_MAX_FIELD];
		size_t n;

		if (mbedtls_ecp_write_public_key(kp,
						 MBEDTLS_ECP_PF_UNCOMPRESSED,
						 &n, pt, sizeof(pt)) != 0 ||
		    n != 1 + 2 * c->field)
			return SPIFFE_ERR_CRYPTO;
		put_str(o, "\"kty\":\"EC\",\"crv\":\"");
		put_str(o, c->crv);
		put_str(o, "\",\"x\":");
		put_b64url(o, pt + 1, c->field);
		put_str(o, ",\"y\":");
		put_b64url(o, pt + 1 + c->field, c->field);
	}
	return 0;
}

static int put_jwt_keys(struct buf *o, const spiffe_bundle *b, int first,
			spiffe_errbuf *eb)
{
	char q[QUOTE_MAX];

	for (size_t i = 0; i < b->njwt; i++) {
		const spiffe_jwt_authority *a = &b->jwt[i];

		put_str(o, first && i == 0 ? "{" : ",{");
		if (put_key(o, &a->pk) != 0)
			return spiffe_fail(eb, SPIFFE_ERR_UNSUPPORTED,
					   "cannot marshal JWT authority %s: "
					   "unsupported key",
					   quote(q, sizeof(q), a->kid,
						 a->kid_len));
		put_str(o, ",\"kid\":");
		put_quoted(o, a->kid, a->kid_len);
		put_str(o, ",\"use\":\"jwt-svid\"}");
	}
	return 0;
}

static int finish(struct buf *o, char **out, size_t *len, spiffe_errbuf *eb)
{
	if (o->err) {
		free(o->p);
		return spiffe_fail(eb, o->err, o->err == SPIFFE_ERR_LIMIT ?
				   "marshalled bundle exceeds %zu bytes" :
				   "out of memory", o->max);
	}
	*out = o->p;
	*len = o->len;
	return 0;
}

int spiffe_bundle_marshal_jwks(const spiffe_bundle *b, char **out,
			       size_t *len, spiffe_errbuf *eb)
{
	struct buf o = { NULL, 0, 0, SPIFFE_JSON_MAX_INPUT, 0 };
	int rc;

	put_str(&o, "{\"keys\":[");
	if ((rc = put_jwt_keys(&o, b, 1, eb)) != 0) {
		free(o.p);
		return rc;
	}
	put_str(&o, "]}");
	return finish(&o, out, len, eb);
}

int spiffe_bundle_marshal_spiffe(const spiffe_bundle *b, char **out,
				 size_t *len, spiffe_errbuf *eb)
{
	struct buf o = { NULL, 0, 0, SPIFFE_JSON_MAX_INPUT, 0 };
	const mbedtls_x509_crt *c = &b->x509;
	size_t i = 0;
	int rc;

	put_str(&o, "{\"keys\":[");
	for (; c != NULL && i < b->nx509; c = c->next, i++) {
		size_t cap = (c->raw.len + 2) / 3 * 4 + 1, n;
		char *enc;

		put_str(&o, i == 0 ? "{" : ",{");
		if (put_key(&o, &c->pk) != 0) {
			free(o.p);
			return spiffe_fail(eb, SPIFFE_ERR_UNSUPPORTED,
					   "cannot marshal X.509 authority "
					   "%zu: unsupported key", i);
		}
		if ((enc = malloc(cap)) == NULL) {
			free(o.p);
			return spiffe_fail(eb, SPIFFE_ERR_NOMEM,
					   "out of memory");
		}
		if (spiffe_b64std_encode(enc, cap, &n, c->raw.p,
					 c->raw.len) != 0)
			o.err = SPIFFE_ERR_LIMIT;
		put_str(&o, ",\"use\":\"x509-svid\",\"x5c\":[\"");
		put(&o, enc, n);
		put_str(&o, "\"]}");
		free(enc);
	}
	if ((rc = put_jwt_keys(&o, b, i == 0, eb)) != 0) {
		free(o.p);
		return rc;
	}
	put_str(&o, "]");
	if (b->has_sequence) {
		put_str(&o, ",\"spiffe_sequence\":");
		put_u64(&o, b->sequence, 0);
	}
	if (b->has_refresh_hint) {
		int64_t h = b->refresh_hint;

		put_str(&o, ",\"spiffe_refresh_hint\":");
		put_u64(&o, h < 0 ? (uint64_t)0 - (uint64_t)h : (uint64_t)h,
			h < 0);
	}
	put_str(&o, "}");
	return finish(&o, out, len, eb);
}
