/*
 * jwtsvid.c - JWT-SVID parsing and validation (see jwtsvid.h for the
 * rules), and the verified-token cache.
 */
#include "jwtsvid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/bignum.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/md.h>
#include <mbedtls/rsa.h>

#include "b64.h"
#include "clock.h"
#include "rng.h"

/*
 * ECDSA verification takes the key's group as non-const because
 * mbedTLS may store a comb table for the base point in it.  With
 * MBEDTLS_ECP_FIXED_POINT_OPTIM == 1 the NIST curves load a static
 * table, so verifying only reads the group and threads may share a
 * bundle.  Without it they would race: refuse to build.
 */
#if !defined(MBEDTLS_ECP_FIXED_POINT_OPTIM) || \
	MBEDTLS_ECP_FIXED_POINT_OPTIM != 1
#error "jwtsvid.c needs MBEDTLS_ECP_FIXED_POINT_OPTIM == 1 (thread safety)"
#endif

#define MAX_LEEWAY 86400
#define MAX_SIG (SPIFFE_RSA_MAX_BITS / 8)       /* bytes */
#define QUOTE_MAX (64 * 6 + 3)                  /* one value in a message */
#define AUD_TYPE "expected string or array value to unmarshal to Audience"

static const struct alg {
	char name[6];
	char kind;                      /* 'E'CDSA, 'R'SA v1.5, 'P'SS */
	mbedtls_md_type_t md;
	uint8_t hlen;
	mbedtls_ecp_group_id grp;       /* ECDSA: the curve */
	uint8_t field;                  /* ECDSA: bytes of r and of s */
} algs[] = {
	[SPIFFE_JWT_RS256 - 1] = { "RS256", 'R', MBEDTLS_MD_SHA256, 32,
				   MBEDTLS_ECP_DP_NONE, 0 },
	[SPIFFE_JWT_RS384 - 1] = { "RS384", 'R', MBEDTLS_MD_SHA384, 48,
				   MBEDTLS_ECP_DP_NONE, 0 },
	[SPIFFE_JWT_RS512 - 1] = { "RS512", 'R', MBEDTLS_MD_SHA512, 64,
				   MBEDTLS_ECP_DP_NONE, 0 },
	[SPIFFE_JWT_ES256 - 1] = { "ES256", 'E', MBEDTLS_MD_SHA256, 32,
				   MBEDTLS_ECP_DP_SECP256R1, 32 },
	[SPIFFE_JWT_ES384 - 1] = { "ES384", 'E', MBEDTLS_MD_SHA384, 48,
				   MBEDTLS_ECP_DP_SECP384R1, 48 },
	[SPIFFE_JWT_ES512 - 1] = { "ES512", 'E', MBEDTLS_MD_SHA512, 64,
				   MBEDTLS_ECP_DP_SECP521R1, 66 },
	[SPIFFE_JWT_PS256 - 1] = { "PS256", 'P', MBEDTLS_MD_SHA256, 32,
				   MBEDTLS_ECP_DP_NONE, 0 },
	[SPIFFE_JWT_PS384 - 1] = { "PS384", 'P', MBEDTLS_MD_SHA384, 48,
				   MBEDTLS_ECP_DP_NONE, 0 },
	[SPIFFE_JWT_PS512 - 1] = { "PS512", 'P', MBEDTLS_MD_SHA512, 64,
				   MBEDTLS_ECP_DP_NONE, 0 },
};
#define NALGS (sizeof(algs) / sizeof(algs[0]))

const char *spiffe_jwt_alg_name(int alg)
{
	if (alg < 1 || (size_t)alg > NALGS)
		return "?";
	return algs[alg - 1].name;
}

/* s[0..len) quoted and escaped, at most 64 bytes shown (for messages). */
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

/* ---- parsing ------------------------------------------------------------ */

static void reset(spiffe_jwt_svid *s);

void spiffe_jwtsvid_init(spiffe_jwt_svid *s)
{
	memset(s, 0, sizeof(*s));
	spiffe_json_init(&s->claims_json);
	spiffe_json_init(&s->hdr_json);
	reset(s);
}

void spiffe_jwtsvid_free(spiffe_jwt_svid *s)
{
	if (s == NULL)
		return;
	spiffe_json_free(&s->claims_json);
	spiffe_json_free(&s->hdr_json);
	free(s->buf);
	spiffe_jwtsvid_init(s);
}

/* Where decoded strings go: the tail of the svid's buffer. */
struct strs {
	char *p;
	size_t left;
};

/* Decodes string token i of j into st and points *out at it. */
static int take_str(const spiffe_json *j, int i, struct strs *st,
		    spiffe_jwt_str *out)
{
	size_t n;

	/* Cannot fail: decoded strings and their NULs fit (see parse). */
	if (spiffe_json_str(j, i, st->p, st->left, &n) != 0)
		return SPIFFE_ERR_LIMIT;
	out->p = st->p;
	out->len = n;
	st->p += n + 1;
	st->left -= n + 1;
	return 0;
}

static int parse_fail(spiffe_errbuf *eb, int err, const char *what)
{
	return spiffe_fail(eb, err, "unable to parse JWT token: %s", what);
}

static int claims_fail(spiffe_errbuf *eb, const char *what)
{
	return spiffe_fail(eb, SPIFFE_ERR_JWT,
			   "unable to get claims from token: %s", what);
}

/* Reads the header: alg first, then only kid and typ may be there. */
static int parse_header(spiffe_jwt_svid *s, struct strs *st, int *typ,
			spiffe_errbuf *eb)
{
	const spiffe_json *j = &s->hdr_json;
	char q[QUOTE_MAX], msg[QUOTE_MAX + 96];
	int v, rc;

	rc = spiffe_json_parse(&s->hdr_json, s->header.p, s->header.len, eb);
	if (rc != 0)
		return spiffe_wrap(eb, rc == SPIFFE_ERR_LIMIT ? rc :
				   SPIFFE_ERR_JWT,
				   "unable to parse JWT token: header");
	if (j->tok[0].type != SPIFFE_JSON_OBJECT)
		return parse_fail(eb, SPIFFE_ERR_JWT,
				  "header is not a JSON object");
	/* JWT-SVID section 4: alg before any other processing. */
	v = spiffe_json_get(j, 0, "alg");
	if (v < 0)
		return parse_fail(eb, SPIFFE_ERR_JWT, "header has no alg");
	if (j->tok[v].type != SPIFFE_JSON_STRING)
		return parse_fail(eb, SPIFFE_ERR_JWT,
				  "header alg is not a string");
	s->alg = 0;
	for (size_t i = 0; i < NALGS; i++) {
		if (spiffe_json_str_eq(j, v, algs[i].name, 5))
			s->alg = (int)i + 1;
	}
	if (s->alg == 0) {
		char a[SPIFFE_KID_MAX + 1];
		size_t n = 0;

		if (spiffe_json_str(j, v, a, sizeof(a), &n) != 0)
			n = 0;
		snprintf(msg, sizeof(msg), "unsupported alg %s (want RS, ES "
			 "or PS with 256, 384 or 512)",
			 quote(q, sizeof(q), a, n));
		return parse_fail(eb, SPIFFE_ERR_JWT, msg);
	}
	*typ = -1;
	v = 1;
	for (uint32_t m = 0; m < j->tok[0].count; m++) {
		int val = v + 1;

		if (spiffe_json_str_eq(j, v, "kid", 3)) {
			if (j->tok[val].type != SPIFFE_JSON_STRING)
				return parse_fail(eb, SPIFFE_ERR_JWT,
						  "header kid is not a "
						  "string");
			if ((rc = take_str(j, val, st, &s->kid)) != 0)
				return parse_fail(eb, rc, "header too long");
		} else if (spiffe_json_str_eq(j, v, "typ", 3)) {
			*typ = val;
		} else if (!spiffe_json_str_eq(j, v, "alg", 3)) {
			char k[SPIFFE_KID_MAX + 1];
			size_t n = 0;

			if (spiffe_json_str(j, v, k, sizeof(k), &n) != 0)
				n = 0;
			snprintf(msg, sizeof(msg), "header parameter %s is "
				 "not allowed in a JWT-SVID (only alg, kid, "
				 "typ)", quote(q, sizeof(q), k, n));
			return parse_fail(eb, SPIFFE_ERR_JWT, msg);
		}
		v = spiffe_json_next(j, val);
	}
	return 0;
}

/* A NumericDate claim: 0 absent (or null), 1 present, or an error. */
static int get_date(const spiffe_json *j, const char *name, int64_t *t,
		    spiffe_errbuf *eb)
{
	int v = spiffe_json_get(j, 0, name);
	char msg[96];
	int rc;

	if (v < 0 || j->tok[v].type == SPIFFE_JSON_NULL)
		return 0;
	if (j->tok[v].type != SPIFFE_JSON_NUMBER) {
		snprintf(msg, sizeof(msg), "%s: expected number value to "
			 "unmarshal NumericDate", name);
		return claims_fail(eb, msg);
	}
	rc = spiffe_json_numeric_date(j, v, t);
	if (rc != 0) {
		snprintf(msg, sizeof(msg), "%s: NumericDate out of range",
			 name);
		return claims_fail(eb, msg);
	}
	return 1;
}

/* Reads the claims we know, checking their types (go-jose's step). */
static int parse_claims(spiffe_jwt_svid *s, struct strs *st,
			spiffe_jwt_str *sub, spiffe_errbuf *eb)
{
	const spiffe_json *j = &s->claims_json;
	int v, rc, has_aud = 0;

	rc = spiffe_json_parse(&s->claims_json, s->claims.p, s->claims.len,
			       eb);
	if (rc != 0)
		return spiffe_wrap(eb, rc == SPIFFE_ERR_LIMIT ? rc :
				   SPIFFE_ERR_JWT,
				   "unable to get claims from token");
	if (j->tok[0].type != SPIFFE_JSON_OBJECT)
		return claims_fail(eb, "claims are not a JSON object");
	sub->p = NULL;
	sub->len = 0;
	v = spiffe_json_get(j, 0, "sub");
	if (v >= 0) {
		if (j->tok[v].type != SPIFFE_JSON_STRING)
			return claims_fail(eb, "sub is not a string");
		if ((rc = take_str(j, v, st, sub)) != 0)
			return claims_fail(eb, "claims too long");
	}
	s->naud = 0;
	v = spiffe_json_get(j, 0, "aud");
	if (v >= 0) {
		const spiffe_json_tok *t = &j->tok[v];

		has_aud = 1;
		if (t->type == SPIFFE_JSON_ARRAY) {
			if (t->count > SPIFFE_JWT_MAX_AUDIENCES)
				return spiffe_fail(eb, SPIFFE_ERR_LIMIT,
						   "unable to get claims from "
						   "token: aud has %u values, "
						   "more than the limit of %d",
						   (unsigned)t->count,
						   SPIFFE_JWT_MAX_AUDIENCES);
			for (uint32_t i = 0, e = v + 1; i < t->count;
			     i++, e = spiffe_json_next(j, e)) {
				if (j->tok[e].type != SPIFFE_JSON_STRING)
					return claims_fail(eb, AUD_TYPE);
				if (take_str(j, e, st, &s->aud[i]) != 0)
					return claims_fail(eb, "claims too "
							   "long");
				s->naud++;
			}
		} else if (t->type == SPIFFE_JSON_STRING) {
			if (take_str(j, v, st, &s->aud[0]) != 0)
				return claims_fail(eb, "claims too long");
			s->naud = 1;
		} else {
			return claims_fail(eb, AUD_TYPE);
		}
	}
	static const char *const strings[] = { "iss", "jti" };
	for (size_t i = 0; i < 2; i++) {
		v = spiffe_json_get(j, 0, strings[i]);
		if (v >= 0 && j->tok[v].type != SPIFFE_JSON_STRING) {
			char msg[32];

			snprintf(msg, sizeof(msg), "%s is not a string",
				 strings[i]);
			return claims_fail(eb, msg);
		}
	}
	int has_exp = get_date(j, "exp", &s->exp, eb);
	if (has_exp < 0)
		return has_exp;
	if ((s->has_nbf = get_date(j, "nbf", &s->nbf, eb)) < 0)
		return s->has_nbf;
	if ((s->has_iat = get_date(j, "iat", &s->iat, eb)) < 0)
		return s->has_iat;
	/* The rules on presence, in go-spiffe's order, then ours on aud. */
	if (sub->len == 0)
		return spiffe_fail(eb, SPIFFE_ERR_JWT,
				   "token missing subject claim");
	if (!has_exp)
		return spiffe_fail(eb, SPIFFE_ERR_JWT,
				   "token missing exp claim");
	if (!has_aud)
		return spiffe_fail(eb, SPIFFE_ERR_JWT,
				   "token missing aud claim");
	if (s->naud == 0)
		return spiffe_fail(eb, SPIFFE_ERR_JWT,
				   "token has an empty aud claim");
	return 0;
}

/* Offset of the second dot, needed for the signing input. */
static size_t signing_len(const spiffe_jwt_svid *s)
{
	return s->si_len;
}

/* Empties every field and view of s (its buffers are kept). */
static void reset(spiffe_jwt_svid *s)
{
	static const spiffe_jwt_str none = { "", 0 };

	s->id.len = 0;
	s->id.td_len = 0;
	s->id.str[0] = '\0';
	s->alg = 0;
	s->kid = s->typ = s->header = s->claims = s->sig = none;
	s->naud = 0;
	s->exp = s->nbf = s->iat = 0;
	s->has_nbf = s->has_iat = 0;
	s->si_len = s->used = 0;
	s->claims_json.ntok = 0;
	s->claims_json.text = NULL;
	s->claims_json.len = 0;
	s->hdr_json.ntok = 0;
}

static int parse(spiffe_jwt_svid *s, const char *tok, size_t len,
		 spiffe_errbuf *eb)
{
	const char *d1, *d2;
	size_t hl, pl, sl, hmax, pmax, smax, need;
	struct strs st;
	spiffe_jwt_str sub = { "", 0 };
	int typ = -1, rc;
	char msg[96];

	/* Nothing may point into a buffer freed below. */
	reset(s);
	if (len > SPIFFE_JWT_MAX) {
		snprintf(msg, sizeof(msg), "token is %zu bytes, more than the "
			 "limit of %u", len, (unsigned)SPIFFE_JWT_MAX);
		return parse_fail(eb, SPIFFE_ERR_LIMIT, msg);
	}
	d1 = len ? memchr(tok, '.', len) : NULL;
	d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok)) : NULL;
	if (d2 == NULL || memchr(d2 + 1, '.',
				 len - (size_t)(d2 + 1 - tok)) != NULL) {
		size_t parts = 1;

		for (size_t i = 0; i < len; i++)
			parts += tok[i] == '.';
		snprintf(msg, sizeof(msg), "compact serialization has %zu "
			 "part%s, expected 3", parts, parts == 1 ? "" : "s");
		return parse_fail(eb, SPIFFE_ERR_JWT, msg);
	}
	hl = (size_t)(d1 - tok);
	pl = (size_t)(d2 - d1 - 1);
	sl = len - (size_t)(d2 + 1 - tok);
	hmax = SPIFFE_B64_DECODED_MAX(hl);
	pmax = SPIFFE_B64_DECODED_MAX(pl);
	smax = SPIFFE_B64_DECODED_MAX(sl);
	/*
	 * Layout: header, NUL, claims, NUL, signature, then the decoded
	 * strings (kid, typ, sub, aud).  Each decoded string plus its NUL
	 * is shorter than its JSON form, so header + claims bounds them.
	 */
	need = hmax + 1 + pmax + 1 + smax + hmax + pmax;
	if (s->cap < need) {
		free(s->buf);
		s->cap = 0;
		if ((s->buf = malloc(need)) == NULL)
			return spiffe_fail(eb, SPIFFE_ERR_NOMEM,
					   "out of memory");
		s->cap = need;
	}
	s->si_len = (size_t)(d2 - tok);

	char *p = s->buf;
	size_t n;
	if (spiffe_b64url_decode((uint8_t *)p, hmax, &n, tok, hl) != 0)
		return parse_fail(eb, SPIFFE_ERR_JWT, "header is not "
				  "canonical unpadded base64url");
	p[n] = '\0';
	s->header.p = p;
	s->header.len = n;
	p += hmax + 1;
	st.p = p + pmax + 1 + smax;
	st.left = hmax + pmax;
	if ((rc = parse_header(s, &st, &typ, eb)) != 0)
		return rc;
	if (spiffe_b64url_decode((uint8_t *)p, pmax, &n, d1 + 1, pl) != 0)
		return parse_fail(eb, SPIFFE_ERR_JWT, "payload is not "
				  "canonical unpadded base64url");
	p[n] = '\0';
	s->claims.p = p;
	s->claims.len = n;
	p += pmax + 1;
	if (spiffe_b64url_decode((uint8_t *)p, smax, &n, d2 + 1, sl) != 0)
		return parse_fail(eb, SPIFFE_ERR_JWT, "signature is not "
				  "canonical unpadded base64url");
	if (n > MAX_SIG)
		return parse_fail(eb, SPIFFE_ERR_JWT, "signature too long");
	s->sig.p = p;
	s->sig.len = n;
	/* go-spiffe's step 2. */
	if (typ >= 0) {
		const spiffe_json *j = &s->hdr_json;

		if (j->tok[typ].type != SPIFFE_JSON_STRING ||
		    (!spiffe_json_str_eq(j, typ, "JWT", 3) &&
		     !spiffe_json_str_eq(j, typ, "JOSE", 4)))
			return spiffe_fail(eb, SPIFFE_ERR_JWT,
					   "token header type not equal to "
					   "either JWT or JOSE");
		if (take_str(j, typ, &st, &s->typ) != 0)
			return parse_fail(eb, SPIFFE_ERR_LIMIT,
					  "header too long");
	}
	if ((rc = parse_claims(s, &st, &sub, eb)) != 0)
		return rc;
	s->used = (size_t)(st.p - s->buf);
	rc = spiffe_id_parse(&s->id, sub.p, sub.len, eb);
	if (rc != 0)
		return spiffe_wrap(eb, SPIFFE_ERR_JWT,
				   "token has an invalid subject claim");
	return 0;
}

int spiffe_jwtsvid_parse_insecure(spiffe_jwt_svid *s, const char *token,
				  size_t len, spiffe_errbuf *eb)
{
	if (s == NULL || (token == NULL && len != 0))
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "no token");
	return parse(s, token, len, eb);
}

/* ---- validation ------------------------------------------------------- */

void spiffe_jwt_options_init(spiffe_jwt_options *o)
{
	o->leeway = SPIFFE_JWT_DEFAULT_LEEWAY;
	o->cache = NULL;
}

/* Appends Go's %q of a string list ("[\"a\" \"b\"]") to out, bounded. */
static void go_list(char *out, size_t cap, const spiffe_jwt_str *v,
		    const char *const *c, size_t n)
{
	size_t o = 0;

	out[o++] = '[';
	for (size_t i = 0; i < n; i++) {
		char q[QUOTE_MAX];
		const char *e = v ? v[i].p : c[i];
		size_t len = v ? v[i].len : strlen(c[i]);
		const char *qs = quote(q, sizeof(q), e, len);
		size_t ql = strlen(qs);

		if (o + ql + 6 > cap) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (i > 0)
			out[o++] = ' ';
		memcpy(out + o, qs, ql);
		o += ql;
	}
	out[o++] = ']';
	out[o] = '\0';
}

static int check_args(const char *const *aud, size_t n,
		      const spiffe_jwt_options *o, spiffe_errbuf *eb)
{
	if (n == 0 || aud == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_ARG,
				   "no expected audience given: validation "
				   "needs at least one");
	for (size_t i = 0; i < n; i++) {
		if (aud[i] == NULL || aud[i][0] == '\0')
			return spiffe_fail(eb, SPIFFE_ERR_ARG,
					   "expected audience %zu is empty",
					   i);
	}
	if (o->leeway < 0 || o->leeway > MAX_LEEWAY)
		return spiffe_fail(eb, SPIFFE_ERR_ARG,
				   "leeway %lld s out of range 0..%d",
				   (long long)o->leeway, MAX_LEEWAY);
	return 0;
}

static int claims_ok(const spiffe_jwt_svid *s, const char *const *aud,
		     size_t n, int64_t leeway, spiffe_errbuf *eb)
{
	int64_t now;
	int match = 0;

	for (size_t i = 0; i < s->naud && !match; i++) {
		for (size_t k = 0; k < n && !match; k++) {
			size_t l = strlen(aud[k]);

			match = l == s->aud[i].len &&
				memcmp(aud[k], s->aud[i].p, l) == 0;
		}
	}
	if (!match) {
		char want[200], got[200];

		go_list(want, sizeof(want), NULL, aud, n);
		go_list(got, sizeof(got), s->aud, NULL, s->naud);
		return spiffe_fail(eb, SPIFFE_ERR_AUDIENCE,
				   "expected audience in %s (audience=%s)",
				   want, got);
	}
	now = spiffe_now();
	if (s->has_nbf && now + leeway < s->nbf)
		return spiffe_fail(eb, SPIFFE_ERR_EXPIRED,
				   "token not valid yet (nbf)");
	if (now - leeway > s->exp)
		return spiffe_fail(eb, SPIFFE_ERR_EXPIRED,
				   "token has expired");
	if (s->has_iat && now + leeway < s->iat)
		return spiffe_fail(eb, SPIFFE_ERR_EXPIRED,
				   "token issued in the future (iat)");
	return 0;
}

int spiffe_jwtsvid_validate_claims(const spiffe_jwt_svid *s,
				   const char *const *aud, size_t n,
				   const spiffe_jwt_options *o,
				   spiffe_errbuf *eb)
{
	spiffe_jwt_options def;
	int rc;

	if (o == NULL) {
		spiffe_jwt_options_init(&def);
		o = &def;
	}
	if ((rc = check_args(aud, n, o, eb)) != 0)
		return rc;
	if (s == NULL || s->id.len == 0)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "no parsed token");
	return claims_ok(s, aud, n, o->leeway, eb);
}

static const char *key_kind(const mbedtls_pk_context *pk, char *buf,
			    size_t cap)
{
	mbedtls_pk_type_t t = mbedtls_pk_get_type(pk);

	if (t == MBEDTLS_PK_RSA) {
		snprintf(buf, cap, "RSA-%zu", mbedtls_pk_get_bitlen(pk));
	} else if (t == MBEDTLS_PK_ECKEY || t == MBEDTLS_PK_ECDSA) {
		switch (mbedtls_ecp_keypair_get_group_id(mbedtls_pk_ec(*pk))) {
		case MBEDTLS_ECP_DP_SECP256R1: return "EC P-256";
		case MBEDTLS_ECP_DP_SECP384R1: return "EC P-384";
		case MBEDTLS_ECP_DP_SECP521R1: return "EC P-521";
		default: return "EC (other curve)";
		}
	} else {
		return "of an unsupported type";
	}
	return buf;
}

/* Verifies s's signature with authority a (whose kid matched). */
static int verify(const spiffe_jwt_svid *s, const char *token,
		  const spiffe_jwt_authority *a, spiffe_errbuf *eb)
{
	const struct alg *al = &algs[s->alg - 1];
	const uint8_t *sig = (const uint8_t *)s->sig.p;
	mbedtls_pk_type_t t = mbedtls_pk_get_type(&a->pk);
	uint8_t hash[64];
	char q[QUOTE_MAX], kind[32];
	int ok = 0, rc;

	if (al->kind == 'E') {
		mbedtls_ecp_keypair *kp;

		if ((t != MBEDTLS_PK_ECKEY && t != MBEDTLS_PK_ECDSA) ||
		    mbedtls_ecp_keypair_get_group_id(
			    mbedtls_pk_ec(a->pk)) != al->grp)
			goto mismatch;
		if (s->sig.len != 2u * al->field)
			return spiffe_fail(eb, SPIFFE_ERR_SIGNATURE,
					   "unable to get claims from token: "
					   "error in cryptographic primitive "
					   "(%s signature of %zu bytes, not "
					   "%u)", al->name, s->sig.len,
					   2u * al->field);
		if (mbedtls_md(mbedtls_md_info_from_type(al->md),
			       (const uint8_t *)token, signing_len(s),
			       hash) != 0)
			return spiffe_fail(eb, SPIFFE_ERR_CRYPTO,
					   "hashing failed");
		mbedtls_mpi r, sv;

		mbedtls_mpi_init(&r);
		mbedtls_mpi_init(&sv);
		kp = mbedtls_pk_ec(a->pk);
		rc = mbedtls_mpi_read_binary(&r, sig, al->field);
		if (rc == 0)
			rc = mbedtls_mpi_read_binary(&sv, sig + al->field,
						     al->field);
		if (rc == 0)
			rc = mbedtls_ecdsa_verify(&kp->MBEDTLS_PRIVATE(grp),
						  hash, al->hlen,
						  &kp->MBEDTLS_PRIVATE(Q), &r,
						  &sv);
		ok = rc == 0;
		mbedtls_mpi_free(&r);
		mbedtls_mpi_free(&sv);
	} else {
		mbedtls_rsa_context *rsa;

		if (t != MBEDTLS_PK_RSA)
			goto mismatch;
		rsa = mbedtls_pk_rsa(a->pk);
		/* mbedTLS reads exactly the modulus size from sig. */
		if (s->sig.len != mbedtls_rsa_get_len(rsa))
			return spiffe_fail(eb, SPIFFE_ERR_SIGNATURE,
					   "unable to get claims from token: "
					   "error in cryptographic primitive "
					   "(%s signature of %zu bytes for a "
					   "%zu-byte modulus)", al->name,
					   s->sig.len,
					   mbedtls_rsa_get_len(rsa));
		if (mbedtls_md(mbedtls_md_info_from_type(al->md),
			       (const uint8_t *)token, signing_len(s),
			       hash) != 0)
			return spiffe_fail(eb, SPIFFE_ERR_CRYPTO,
					   "hashing failed");
		if (al->kind == 'R')
			rc = mbedtls_rsa_rsassa_pkcs1_v15_verify(
				rsa, al->md, al->hlen, hash, sig);
		else
			rc = mbedtls_rsa_rsassa_pss_verify_ext(
				rsa, al->md, al->hlen, hash, al->md,
				al->hlen, sig);
		ok = rc == 0;
	}
	if (ok)
		return 0;
	return spiffe_fail(eb, SPIFFE_ERR_SIGNATURE,
			   "unable to get claims from token: error in "
			   "cryptographic primitive (%s signature does not "
			   "verify with JWT authority %s)", al->name,
			   quote(q, sizeof(q), a->kid, a->kid_len));
mismatch:
	return spiffe_fail(eb, SPIFFE_ERR_SIGNATURE,
			   "unable to get claims from token: error in "
			   "cryptographic primitive (alg %s does not match "
			   "JWT authority %s, which is %s)", al->name,
			   quote(q, sizeof(q), a->kid, a->kid_len),
			   key_kind(&a->pk, kind, sizeof(kind)));
}

static int cache_get(spiffe_jwt_cache *c, const char *tok, size_t len,
		     uint64_t h, uint64_t gen, int64_t leeway,
		     spiffe_jwt_svid *s);
static void cache_put(spiffe_jwt_cache *c, const char *tok, size_t len,
		      uint64_t h, uint64_t gen, int64_t leeway,
		      const spiffe_jwt_svid *s);
static uint64_t siphash24(const uint64_t key[2], const uint8_t *p,
			  size_t len);

int spiffe_jwtsvid_parse_and_validate(spiffe_jwt_svid *s, const char *token,
				      size_t len,
				      const spiffe_bundle_set *set,
				      const char *const *aud, size_t n,
				      const spiffe_jwt_options *o,
				      spiffe_errbuf *eb)
{
	spiffe_jwt_options def;
	spiffe_jwt_cache *c;
	const spiffe_bundle *b;
	const spiffe_jwt_authority *a;
	spiffe_td td;
	uint64_t gen, h = 0;
	char q[QUOTE_MAX];
	int rc;

	if (o == NULL) {
		spiffe_jwt_options_init(&def);
		o = &def;
	}
	if (s == NULL || set == NULL || (token == NULL && len != 0))
		return spiffe_fail(eb, SPIFFE_ERR_ARG,
				   "no token, svid or bundle set");
	if ((rc = check_args(aud, n, o, eb)) != 0)
		return rc;
	gen = spiffe_bundle_set_generation(set);
	c = o->cache != NULL && o->cache->ready ? o->cache : NULL;
	if (c != NULL && len <= SPIFFE_JWT_MAX) {
		/*
		 * These exact bytes parsed and verified before, under this
		 * very bundle set: restore that parse, skip the signature.
		 */
		h = siphash24(c->key, (const uint8_t *)token, len);
		if (cache_get(c, token, len, h, gen, o->leeway, s))
			return claims_ok(s, aud, n, o->leeway, eb);
	}
	if ((rc = parse(s, token, len, eb)) != 0)
		return rc;
	if (s->kid.len == 0)
		return spiffe_fail(eb, SPIFFE_ERR_JWT,
				   "token header missing key id");
	spiffe_id_td(&s->id, &td);
	b = spiffe_bundle_set_get(set, &td);
	if (b == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOT_FOUND,
				   "no bundle found for trust domain \"%s\"",
				   td.name);
	a = spiffe_bundle_find_jwt(b, s->kid.p, s->kid.len);
	if (a == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOT_FOUND,
				   "no JWT authority %s found for trust "
				   "domain \"%s\"",
				   quote(q, sizeof(q), s->kid.p, s->kid.len),
				   td.name);
	if ((rc = verify(s, token, a, eb)) != 0)
		return rc;
	if (c != NULL)
		cache_put(c, token, len, h, gen, o->leeway, s);
	return claims_ok(s, aud, n, o->leeway, eb);
}

/* ---- the verified-token cache ------------------------------------------ */

/*
 * What parsing a token gave, kept with the token in one allocation:
 * struct snap, the claims' JSON tokens, then the token's bytes, the
 * SPIFFE ID and the svid's buffer (decoded header, claims, signature and
 * strings; views are kept as offsets into it).
 */
struct off {
	uint32_t off, len;
};

struct snap {
	int alg;
	int has_nbf, has_iat;
	size_t naud;
	int64_t exp, nbf, iat;
	size_t si_len, id_len, id_td_len, used, ntok;
	struct off kid, typ, header, claims, sig;
	struct off aud[SPIFFE_JWT_MAX_AUDIENCES];
};

struct spiffe_jwt_cache_entry {
	uint64_t hash;
	uint64_t gen;           /* bundle set generation verified under */
	int64_t exp;
	struct snap *snap;      /* NULL: the entry is free */
	const char *tok;        /* the token's bytes, inside snap's block */
	size_t len;
	uint32_t slot;          /* its place in the index */
	uint8_t ref;            /* clock: used since the hand passed */
};

/* SipHash-2-4 (Aumasson and Bernstein, 2012), 64-bit output. */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                          \
	do {                                                              \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);  \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                    \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                    \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);  \
	} while (0)

static uint64_t le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

static uint64_t siphash24(const uint64_t key[2], const uint8_t *p,
			  size_t len)
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ key[0];
	uint64_t v1 = 0x646f72616e646f6dULL ^ key[1];
	uint64_t v2 = 0x6c7967656e657261ULL ^ key[0];
	uint64_t v3 = 0x7465646279746573ULL ^ key[1];
	uint64_t m, last = (uint64_t)len << 56;
	size_t i, tail = len & 7;

	for (i = 0; i + 8 <= len; i += 8) {
		m = le64(p + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t k = 0; k < tail; k++)
		last |= (uint64_t)p[i + k] << (8 * k);
	v3 ^= last;
	SIPROUND;
	SIPROUND;
	v0 ^= last;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

int spiffe_jwt_cache_init(spiffe_jwt_cache *c, size_t capacity,
			  spiffe_errbuf *eb)
{
	size_t slots = 2;

	memset(c, 0, sizeof(*c));
	if (capacity == 0 || capacity > SPIFFE_JWT_CACHE_MAX)
		return spiffe_fail(eb, SPIFFE_ERR_ARG,
				   "cache capacity %zu out of range 1..%d",
				   capacity, SPIFFE_JWT_CACHE_MAX);
	/* At most half full, so probe sequences stay short. */
	while (slots < 2 * capacity)
		slots *= 2;
	if (spiffe_rng(NULL, (unsigned char *)c->key, sizeof(c->key)) != 0)
		return spiffe_fail(eb, SPIFFE_ERR_CRYPTO,
				   "no random key for the cache");
	c->index = calloc(slots, sizeof(*c->index));
	c->e = calloc(capacity, sizeof(*c->e));
	if (c->index == NULL || c->e == NULL ||
	    pthread_mutex_init(&c->mu, NULL) != 0) {
		free(c->index);
		free(c->e);
		memset(c, 0, sizeof(*c));
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	}
	c->cap = capacity;
	c->mask = slots - 1;
	c->ready = 1;
	return 0;
}

/* Removes entry e from the index (backward-shift deletion) and frees it. */
static void drop(spiffe_jwt_cache *c, struct spiffe_jwt_cache_entry *e)
{
	size_t i = e->slot, j = i;

	c->index[i] = 0;
	for (;;) {
		j = (j + 1) & c->mask;
		if (c->index[j] == 0)
			break;
		struct spiffe_jwt_cache_entry *f = &c->e[c->index[j] - 1];
		size_t home = f->hash & c->mask;

		/* Move f back to i unless its home lies in (i, j]. */
		if (((j - home) & c->mask) >= ((j - i) & c->mask)) {
			c->index[i] = c->index[j];
			f->slot = (uint32_t)i;
			c->index[j] = 0;
			i = j;
		}
	}
	free(e->snap);
	e->snap = NULL;
	e->tok = NULL;
	e->len = 0;
	c->used--;
}

static int dead(const struct spiffe_jwt_cache_entry *e, uint64_t gen,
		int64_t now, int64_t leeway)
{
	return e->gen != gen || now - leeway > e->exp;
}

static struct spiffe_jwt_cache_entry *find(spiffe_jwt_cache *c,
					   const char *tok, size_t len,
					   uint64_t h)
{
	for (size_t i = h & c->mask;; i = (i + 1) & c->mask) {
		uint32_t x = c->index[i];
		struct spiffe_jwt_cache_entry *e;

		if (x == 0)
			return NULL;
		e = &c->e[x - 1];
		/* The hash only finds; the bytes decide. */
		if (e->hash == h && e->len == len &&
		    memcmp(e->tok, tok, len) == 0)
			return e;
	}
}

static struct off off_of(const spiffe_jwt_svid *s, spiffe_jwt_str v)
{
	struct off o = { 0, (uint32_t)v.len };

	if (v.len != 0)
		o.off = (uint32_t)(v.p - s->buf);
	return o;
}

static spiffe_jwt_str view_of(const spiffe_jwt_svid *s, struct off o)
{
	spiffe_jwt_str v = { "", o.len };

	if (o.len != 0)
		v.p = s->buf + o.off;
	return v;
}

/* The claims' JSON tokens and the bytes that follow struct snap. */
static spiffe_json_tok *snap_toks(const struct snap *p)
{
	return (spiffe_json_tok *)(void *)(p + 1);
}

static char *snap_bytes(const struct snap *p)
{
	return (char *)(snap_toks(p) + p->ntok);
}

/*
 * Fills s from snapshot p of a token of toklen bytes, as parsing that
 * token did; 0, or SPIFFE_ERR_NOMEM before anything visible changed.
 */
static int restore(spiffe_jwt_svid *s, const struct snap *p, size_t toklen)
{
	const char *bytes = snap_bytes(p);
	spiffe_json *j = &s->claims_json;

	if (s->cap < p->used) {
		char *nb = malloc(p->used);

		if (nb == NULL)
			return SPIFFE_ERR_NOMEM;
		free(s->buf);
		s->buf = nb;
		s->cap = p->used;
	}
	if (j->cap < p->ntok) {
		spiffe_json_tok *nt = realloc(j->tok, p->ntok * sizeof(*nt));

		if (nt == NULL)
			return SPIFFE_ERR_NOMEM;
		j->tok = nt;
		j->cap = p->ntok;
	}
	memcpy(s->buf, bytes + toklen + p->id_len, p->used);
	memcpy(s->id.str, bytes + toklen, p->id_len);
	s->id.str[p->id_len] = '\0';
	s->id.len = p->id_len;
	s->id.td_len = p->id_td_len;
	s->alg = p->alg;
	s->kid = view_of(s, p->kid);
	s->typ = view_of(s, p->typ);
	s->naud = p->naud;
	for (size_t i = 0; i < p->naud; i++)
		s->aud[i] = view_of(s, p->aud[i]);
	s->exp = p->exp;
	s->has_nbf = p->has_nbf;
	s->nbf = p->nbf;
	s->has_iat = p->has_iat;
	s->iat = p->iat;
	s->header = view_of(s, p->header);
	s->claims = view_of(s, p->claims);
	s->sig = view_of(s, p->sig);
	s->si_len = p->si_len;
	s->used = p->used;
	memcpy(j->tok, snap_toks(p), p->ntok * sizeof(*j->tok));
	j->ntok = p->ntok;
	j->text = s->claims.p;
	j->len = s->claims.len;
	/* The header's tokens are not kept: nothing reads them later. */
	s->hdr_json.ntok = 0;
	return 0;
}

static int cache_get(spiffe_jwt_cache *c, const char *tok, size_t len,
		     uint64_t h, uint64_t gen, int64_t leeway,
		     spiffe_jwt_svid *s)
{
	int64_t now = spiffe_now();
	struct spiffe_jwt_cache_entry *e;
	int hit = 0;

	pthread_mutex_lock(&c->mu);
	e = find(c, tok, len, h);
	if (e != NULL && dead(e, gen, now, leeway)) {
		drop(c, e);
	} else if (e != NULL && restore(s, e->snap, len) == 0) {
		e->ref = 1;
		hit = 1;
	}
	if (hit)
		c->hits++;
	else
		c->misses++;
	pthread_mutex_unlock(&c->mu);
	return hit;
}

static void cache_put(spiffe_jwt_cache *c, const char *tok, size_t len,
		      uint64_t h, uint64_t gen, int64_t leeway,
		      const spiffe_jwt_svid *s)
{
	int64_t now = spiffe_now();
	const spiffe_json *j = &s->claims_json;
	struct spiffe_jwt_cache_entry *e;
	struct snap *p;
	char *bytes;
	size_t size, i;

	if (now - leeway > s->exp)
		return;         /* would be dead on arrival */
	size = sizeof(*p) + j->ntok * sizeof(*j->tok) + len + s->id.len +
	       s->used;
	if (size > SPIFFE_JWT_CACHE_MAX_ENTRY || (p = malloc(size)) == NULL)
		return;         /* a cache may always decline */
	memset(p, 0, sizeof(*p));
	p->alg = s->alg;
	p->has_nbf = s->has_nbf;
	p->has_iat = s->has_iat;
	p->naud = s->naud;
	p->exp = s->exp;
	p->nbf = s->nbf;
	p->iat = s->iat;
	p->si_len = s->si_len;
	p->id_len = s->id.len;
	p->id_td_len = s->id.td_len;
	p->used = s->used;
	p->ntok = j->ntok;
	p->kid = off_of(s, s->kid);
	p->typ = off_of(s, s->typ);
	p->header = off_of(s, s->header);
	p->claims = off_of(s, s->claims);
	p->sig = off_of(s, s->sig);
	for (i = 0; i < s->naud; i++)
		p->aud[i] = off_of(s, s->aud[i]);
	memcpy(snap_toks(p), j->tok, j->ntok * sizeof(*j->tok));
	bytes = snap_bytes(p);
	memcpy(bytes, tok, len);
	memcpy(bytes + len, s->id.str, s->id.len);
	memcpy(bytes + len + s->id.len, s->buf, s->used);

	pthread_mutex_lock(&c->mu);
	if ((e = find(c, tok, len, h)) != NULL) {
		e->gen = gen;   /* another thread verified it too */
		pthread_mutex_unlock(&c->mu);
		free(p);
		return;
	}
	/* Clock: take a free or dead entry, else one not used lately. */
	for (size_t n = 0;; n++) {
		e = &c->e[c->hand];
		c->hand = (c->hand + 1) % c->cap;
		if (e->snap == NULL)
			break;
		if (dead(e, gen, now, leeway) || !e->ref || n >= 2 * c->cap) {
			drop(c, e);
			break;
		}
		e->ref = 0;
	}
	for (i = h & c->mask; c->index[i] != 0; i = (i + 1) & c->mask)
		;
	e->hash = h;
	e->gen = gen;
	e->exp = s->exp;
	e->snap = p;
	e->tok = bytes;
	e->len = len;
	e->ref = 0;
	e->slot = (uint32_t)i;
	c->index[i] = (uint32_t)(e - c->e) + 1;
	c->used++;
	pthread_mutex_unlock(&c->mu);
}

void spiffe_jwt_cache_clear(spiffe_jwt_cache *c)
{
	if (c == NULL || !c->ready)
		return;
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < c->cap; i++) {
		free(c->e[i].snap);
		c->e[i].snap = NULL;
		c->e[i].tok = NULL;
		c->e[i].len = 0;
	}
	memset(c->index, 0, (c->mask + 1) * sizeof(*c->index));
	c->used = 0;
	c->hand = 0;
	pthread_mutex_unlock(&c->mu);
}

size_t spiffe_jwt_cache_count(spiffe_jwt_cache *c)
{
	size_t n;

	if (c == NULL || !c->ready)
		return 0;
	pthread_mutex_lock(&c->mu);
	n = c->used;
	pthread_mutex_unlock(&c->mu);
	return n;
}

void spiffe_jwt_cache_free(spiffe_jwt_cache *c)
{
	if (c == NULL || !c->ready)
		return;
	spiffe_jwt_cache_clear(c);
	pthread_mutex_destroy(&c->mu);
	free(c->index);
	free(c->e);
	memset(c, 0, sizeof(*c));
}
