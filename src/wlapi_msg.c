#include "wlapi_msg.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "workload.pb.h"

static const char *const method_paths[] = {
	"/SpiffeWorkloadAPI/FetchX509SVID",
	"/SpiffeWorkloadAPI/FetchX509Bundles",
	"/SpiffeWorkloadAPI/FetchJWTSVID",
	"/SpiffeWorkloadAPI/FetchJWTBundles",
	"/SpiffeWorkloadAPI/ValidateJWTSVID",
};

const char *spiffe_wlapi_method_path(int method)
{
	if (method < 0 || (size_t)method >= sizeof(method_paths) /
	    sizeof(method_paths[0]))
		return NULL;
	return method_paths[method];
}

/* ---- a protobuf wire reader ------------------------------------------- */

struct pbr {
	const uint8_t *p;
	size_t len, off;
};

/* One field as read: number, wire type, and its value or view. */
struct pbf {
	uint32_t num;
	int wt;
	const uint8_t *v;       /* LEN, I64, I32: the bytes */
	size_t vlen;
	uint64_t u;             /* VARINT: the value; I64: the bits */
};

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

static int rd_varint(struct pbr *r, uint64_t *v)
{
	uint64_t x = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		uint8_t b;

		if (r->off == r->len)
			return -1;
		b = r->p[r->off++];
		if (shift == 63 && b > 1)
			return -1;
		x |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

/* Reads the next field: 1, or 0 at the end, or -1 if malformed. */
static int rd_field(struct pbr *r, struct pbf *f)
{
	uint64_t tag, n;

	if (r->off == r->len)
		return 0;
	if (rd_varint(r, &tag) != 0 || (tag >> 3) == 0 ||
	    (tag >> 3) > 0x1fffffff)
		return -1;
	f->num = (uint32_t)(tag >> 3);
	f->wt = (int)(tag & 7);
	f->v = NULL;
	f->vlen = 0;
	f->u = 0;
	switch (f->wt) {
	case WT_VARINT:
		return rd_varint(r, &f->u) == 0 ? 1 : -1;
	case WT_I64:
		n = 8;
		break;
	case WT_I32:
		n = 4;
		break;
	case WT_LEN:
		if (rd_varint(r, &n) != 0)
			return -1;
		break;
	default:
		return -1;      /* groups are not proto3 */
	}
	if (n > r->len - r->off)
		return -1;
	f->v = r->p + r->off;
	f->vlen = (size_t)n;
	for (size_t i = n; i-- > 0 && f->wt != WT_LEN;)
		f->u = f->u << 8 | f->v[i];
	r->off += (size_t)n;
	return 1;
}

/* ---- the pre-decoding walk -------------------------------------------- */

enum { F_OTHER = 0, F_STR, F_MSG };

/* What the walk checks of a message's fields 1..7. */
struct shape {
	const char *msg;
	struct {
		uint8_t kind;
		uint32_t max;           /* repeated: most entries, 0 any */
		const struct shape *sub;
		const char *name;
	} f[8];
};

static const struct shape sh_entry = { "map entry", {
	[1] = { F_STR, 0, NULL, "key" },
} };
static const struct shape sh_x509svid = { "X509SVID", {
	[1] = { F_STR, 0, NULL, "spiffe_id" },
	[5] = { F_STR, 0, NULL, "hint" },
} };
static const struct shape sh_x509svid_resp = { "X509SVIDResponse", {
	[1] = { F_MSG, SPIFFE_WLAPI_MAX_SVIDS, &sh_x509svid, "svids" },
	[3] = { F_MSG, SPIFFE_BUNDLE_SET_MAX, &sh_entry,
		"federated_bundles" },
} };
static const struct shape sh_x509b_resp = { "X509BundlesResponse", {
	[2] = { F_MSG, SPIFFE_BUNDLE_SET_MAX, &sh_entry, "bundles" },
} };
static const struct shape sh_jwtsvid = { "JWTSVID", {
	[1] = { F_STR, 0, NULL, "spiffe_id" },
	[2] = { F_STR, 0, NULL, "svid" },
	[3] = { F_STR, 0, NULL, "hint" },
} };
static const struct shape sh_jwtsvid_resp = { "JWTSVIDResponse", {
	[1] = { F_MSG, SPIFFE_WLAPI_MAX_SVIDS, &sh_jwtsvid, "svids" },
} };
static const struct shape sh_jwtb_resp = { "JWTBundlesResponse", {
	[1] = { F_MSG, SPIFFE_BUNDLE_SET_MAX, &sh_entry, "bundles" },
} };
static const struct shape sh_validate_resp = { "ValidateJWTSVIDResponse", {
	[1] = { F_STR, 0, NULL, "spiffe_id" },
} };

static int walk(const uint8_t *p, size_t len, const struct shape *s,
		spiffe_errbuf *eb)
{
	struct pbr r = { p, len, 0 };
	struct pbf f;
	uint32_t count[8] = { 0 };
	int rc;

	while ((rc = rd_field(&r, &f)) == 1) {
		if (f.num >= 8 || s->f[f.num].kind == F_OTHER)
			continue;
		if (f.wt != WT_LEN)
			return spiffe_fail(eb, SPIFFE_ERR_MALFORMED,
					   "%s.%s: wrong wire type %d", s->msg,
					   s->f[f.num].name, f.wt);
		if (s->f[f.num].max != 0 && ++count[f.num] > s->f[f.num].max)
			return spiffe_fail(eb, SPIFFE_ERR_LIMIT,
					   "%s.%s: more than %u entries",
					   s->msg, s->f[f.num].name,
					   (unsigned)s->f[f.num].max);
		if (s->f[f.num].kind == F_STR &&
		    memchr(f.v, 0, f.vlen) != NULL)
			return spiffe_fail(eb, SPIFFE_ERR_MALFORMED,
					   "%s.%s: string holds a NUL byte",
					   s->msg, s->f[f.num].name);
		if (s->f[f.num].kind == F_MSG &&
		    (rc = walk(f.v, f.vlen, s->f[f.num].sub, eb)) != 0)
			return rc;
	}
	if (rc < 0)
		return spiffe_fail(eb, SPIFFE_ERR_MALFORMED,
				   "%s: malformed protobuf", s->msg);
	return 0;
}

/* Walks, then decodes p[0..len) into dst (released on failure). */
static int decode(const pb_msgdesc_t *fields, void *dst, const uint8_t *p,
		  size_t len, const struct shape *s, spiffe_errbuf *eb)
{
	pb_istream_t is;
	int rc;

	if ((rc = walk(p, len, s, eb)) != 0)
		return rc;
	is = pb_istream_from_buffer(p, len);
	if (!pb_decode(&is, fields, dst))
		return spiffe_fail(eb, SPIFFE_ERR_MALFORMED, "%s: %s", s->msg,
				   PB_GET_ERROR(&is));
	return 0;
}

static const uint8_t no_bytes[1];

static const uint8_t *bytes_of(const pb_bytes_array_t *b, size_t *len)
{
	*len = b != NULL ? b->size : 0;
	return b != NULL ? b->bytes : no_bytes;
}

/*
 * A decoded string field, "" when absent.  strlen() on it is exact and
 * bounded: nanopb allocates the field's wire length plus a terminator,
 * and walk() has rejected any string holding a NUL byte.
 */
static const char *str_of(const char *s)
{
	return s != NULL ? s : "";
}

/* ---- requests --------------------------------------------------------- */

static int encode_framed(const pb_msgdesc_t *fields, const void *msg,
			 uint8_t **out, size_t *len, spiffe_errbuf *eb)
{
	size_t n;
	uint8_t *buf;
	pb_ostream_t os;

	if (!pb_get_encoded_size(&n, fields, msg))
		return spiffe_fail(eb, SPIFFE_ERR_ARG,
				   "cannot encode request");
	if (n > SPIFFE_GRPC_MAX_MESSAGE)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT, "request of %zu "
				   "bytes is too large", n);
	if ((buf = malloc(n + SPIFFE_GRPC_PREFIX)) == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	os = pb_ostream_from_buffer(buf + SPIFFE_GRPC_PREFIX, n);
	if (!pb_encode(&os, fields, msg) || os.bytes_written != n) {
		free(buf);
		return spiffe_fail(eb, SPIFFE_ERR_ARG,
				   "cannot encode request");
	}
	spiffe_grpc_prefix(buf, (uint32_t)n);
	*out = buf;
	*len = n + SPIFFE_GRPC_PREFIX;
	return 0;
}

int spiffe_wlapi_encode_jwt_request(const char *const *aud, size_t naud,
				    const char *sid, uint8_t **out,
				    size_t *len, spiffe_errbuf *eb)
{
	JWTSVIDRequest req = JWTSVIDRequest_init_zero;

	if (aud == NULL || naud == 0)
		return spiffe_fail(eb, SPIFFE_ERR_ARG,
				   "at least one audience is required");
	if (naud > SPIFFE_JWT_MAX_AUDIENCES)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT, "more than %d "
				   "audiences", SPIFFE_JWT_MAX_AUDIENCES);
	for (size_t i = 0; i < naud; i++) {
		if (aud[i] == NULL)
			return spiffe_fail(eb, SPIFFE_ERR_ARG,
					   "audience %zu is NULL", i);
	}
	/* nanopb's structs are not const-qualified; encoding only reads. */
	req.audience_count = (pb_size_t)naud;
	req.audience = (char **)(uintptr_t)aud;
	req.spiffe_id = sid != NULL && sid[0] != '\0' ?
			(char *)(uintptr_t)sid : NULL;
	return encode_framed(JWTSVIDRequest_fields, &req, out, len, eb);
}

int spiffe_wlapi_encode_validate_request(const char *audience,
					 const char *token, size_t token_len,
					 uint8_t **out, size_t *len,
					 spiffe_errbuf *eb)
{
	ValidateJWTSVIDRequest req = ValidateJWTSVIDRequest_init_zero;
	char *copy;
	int rc;

	if (audience == NULL || token == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_ARG,
				   "audience and token are required");
	if (token_len > SPIFFE_JWT_MAX)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT, "token of %zu bytes "
				   "exceeds %u", token_len, SPIFFE_JWT_MAX);
	if (memchr(token, 0, token_len) != NULL)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "token holds a NUL "
				   "byte");
	/* nanopb encodes C strings; the token is (pointer, length). */
	if ((copy = malloc(token_len + 1)) == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	memcpy(copy, token, token_len);
	copy[token_len] = '\0';
	req.audience = (char *)(uintptr_t)audience;
	req.svid = copy;
	rc = encode_framed(ValidateJWTSVIDRequest_fields, &req, out, len, eb);
	free(copy);
	return rc;
}

/* ---- X.509 contexts ---------------------------------------------------- */

spiffe_x509_context *spiffe_x509_context_new(void)
{
	spiffe_x509_context *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	if ((c->bundles = spiffe_bundle_set_new()) == NULL) {
		free(c);
		return NULL;
	}
	c->refs = 1;
	return c;
}

spiffe_x509_context *spiffe_x509_context_ref(spiffe_x509_context *c)
{
	if (c != NULL)
		__atomic_fetch_add(&c->refs, 1, __ATOMIC_RELAXED);
	return c;
}

void spiffe_x509_context_unref(spiffe_x509_context *c)
{
	if (c == NULL ||
	    __atomic_fetch_sub(&c->refs, 1, __ATOMIC_ACQ_REL) != 1)
		return;
	for (size_t i = 0; i < c->nsvids; i++)
		spiffe_x509svid_free(&c->svids[i]);
	free(c->svids);
	spiffe_bundle_set_unref(c->bundles);
	free(c);
}

/* Puts the X.509 bundle der[0..len) (maybe empty) for td into set. */
static int put_x509(spiffe_bundle_set *set, const spiffe_td *td,
		    const uint8_t *der, size_t len, spiffe_errbuf *eb)
{
	spiffe_bundle b;
	int rc;

	spiffe_bundle_init(&b, td);
	rc = spiffe_bundle_set_x509_der(&b, der, len, eb);
	if (rc == 0)
		rc = spiffe_bundle_set_put(set, &b, eb);
	spiffe_bundle_free(&b);
	return rc;
}

static int put_jwks(spiffe_bundle_set *set, const spiffe_td *td,
		    const uint8_t *json, size_t len, spiffe_errbuf *eb)
{
	spiffe_bundle b;
	int rc;

	spiffe_bundle_init(&b, td);
	rc = spiffe_bundle_set_jwks(&b, (const char *)json, len, eb);
	if (rc == 0)
		rc = spiffe_bundle_set_put(set, &b, eb);
	spiffe_bundle_free(&b);
	return rc;
}

/* A bundle-map key, "spiffe://td" or "td", into a trust domain. */
static int map_key(spiffe_td *td, const char *key, const char *what,
		   spiffe_errbuf *eb)
{
	int rc = spiffe_td_parse(td, key, strlen(key), eb);

	return rc == 0 ? 0 : spiffe_wrap(eb, rc, "%s key", what);
}

static int hint_taken(const spiffe_x509_context *c, const char *hint,
		      size_t len)
{
	for (size_t i = 0; i < c->nsvids; i++) {
		if (c->svids[i].hint_len == len &&
		    memcmp(c->svids[i].hint, hint, len) == 0)
			return 1;
	}
	return 0;
}

static int add_x509svid(spiffe_x509_context *c, const X509SVID *s, size_t i,
			spiffe_errbuf *eb)
{
	spiffe_x509svid *v = &c->svids[c->nsvids];
	const char *sid = str_of(s->spiffe_id), *hint = str_of(s->hint);
	const uint8_t *chain, *key, *bundle;
	size_t chain_len, key_len, bundle_len;
	spiffe_id id;
	spiffe_td td;
	int rc;

	if ((rc = spiffe_id_parse(&id, sid, strlen(sid), eb)) != 0)
		return spiffe_wrap(eb, rc, "SVID %zu: spiffe_id", i);
	chain = bytes_of(s->x509_svid, &chain_len);
	key = bytes_of(s->x509_svid_key, &key_len);
	bundle = bytes_of(s->bundle, &bundle_len);
	spiffe_x509svid_init(v);
	rc = spiffe_x509svid_parse_der(v, chain, chain_len, key, key_len, eb);
	if (rc != 0)
		return spiffe_wrap(eb, rc, "SVID %zu", i);
	c->nsvids++;
	if (!spiffe_id_equal(&id, &v->id))
		return spiffe_fail(eb, SPIFFE_ERR_X509, "SVID %zu: spiffe_id "
				   "%.200s is not the certificate's URI SAN "
				   "%.200s", i, id.str, v->id.str);
	if ((rc = spiffe_x509svid_set_hint(v, hint, strlen(hint), eb)) != 0)
		return spiffe_wrap(eb, rc, "SVID %zu", i);
	spiffe_id_td(&id, &td);
	if ((rc = put_x509(c->bundles, &td, bundle, bundle_len, eb)) != 0)
		return spiffe_wrap(eb, rc, "SVID %zu: bundle", i);
	return 0;
}

int spiffe_wlapi_parse_x509_context(const uint8_t *p, size_t len,
				    spiffe_x509_context **out,
				    spiffe_errbuf *eb)
{
	X509SVIDResponse r;
	spiffe_x509_context *c = NULL;
	int rc;

	*out = NULL;
	memset(&r, 0, sizeof(r));
	if ((rc = decode(X509SVIDResponse_fields, &r, p, len,
			 &sh_x509svid_resp, eb)) != 0)
		return rc;
	if (r.svids_count == 0) {
		rc = spiffe_fail(eb, SPIFFE_ERR_MALFORMED,
				 "no SVIDs in response");
		goto done;
	}
	if ((c = spiffe_x509_context_new()) == NULL ||
	    (c->svids = calloc(r.svids_count, sizeof(*c->svids))) == NULL) {
		rc = spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < r.svids_count; i++) {
		const char *hint = str_of(r.svids[i].hint);

		/* The first SVID with a given hint wins (W-5.2.1). */
		if (hint[0] != '\0' && hint_taken(c, hint, strlen(hint)))
			continue;
		if ((rc = add_x509svid(c, &r.svids[i], i, eb)) != 0)
			goto done;
	}
	for (size_t i = 0; i < r.federated_bundles_count; i++) {
		const X509SVIDResponse_FederatedBundlesEntry *e =
			&r.federated_bundles[i];
		const uint8_t *der;
		size_t der_len;
		spiffe_td td;

		if ((rc = map_key(&td, str_of(e->key), "federated_bundles",
				  eb)) != 0)
			goto done;
		der = bytes_of(e->value, &der_len);
		if ((rc = put_x509(c->bundles, &td, der, der_len, eb)) != 0) {
			rc = spiffe_wrap(eb, rc, "federated bundle %s",
					 td.name);
			goto done;
		}
	}
	*out = c;
	c = NULL;
done:
	spiffe_x509_context_unref(c);
	pb_release(X509SVIDResponse_fields, &r);
	return rc;
}

/* ---- bundle responses -------------------------------------------------- */

/* Puts one bundle-map entry (X.509 DER or a JWKS) into set. */
static int put_entry(spiffe_bundle_set *set, const char *key,
		     const pb_bytes_array_t *value, int jwt,
		     spiffe_errbuf *eb)
{
	const uint8_t *v;
	size_t vlen;
	spiffe_td td;
	int rc;

	if ((rc = map_key(&td, str_of(key), "bundles", eb)) != 0)
		return rc;
	v = bytes_of(value, &vlen);
	rc = jwt ? put_jwks(set, &td, v, vlen, eb) :
		   put_x509(set, &td, v, vlen, eb);
	return rc == 0 ? 0 : spiffe_wrap(eb, rc, "bundle %s", td.name);
}

int spiffe_wlapi_parse_x509_bundles(const uint8_t *p, size_t len,
				    spiffe_bundle_set **out,
				    spiffe_errbuf *eb)
{
	X509BundlesResponse r;
	spiffe_bundle_set *set = NULL;
	int rc;

	*out = NULL;
	memset(&r, 0, sizeof(r));
	if ((rc = decode(X509BundlesResponse_fields, &r, p, len,
			 &sh_x509b_resp, eb)) != 0)
		return rc;
	if ((set = spiffe_bundle_set_new()) == NULL)
		rc = spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < r.bundles_count; i++)
		rc = put_entry(set, r.bundles[i].key, r.bundles[i].value, 0,
			       eb);
	if (rc == 0) {
		*out = set;
		set = NULL;
	}
	spiffe_bundle_set_unref(set);
	pb_release(X509BundlesResponse_fields, &r);
	return rc;
}

int spiffe_wlapi_parse_jwt_bundles(const uint8_t *p, size_t len,
				   spiffe_bundle_set **out, spiffe_errbuf *eb)
{
	JWTBundlesResponse r;
	spiffe_bundle_set *set = NULL;
	int rc;

	*out = NULL;
	memset(&r, 0, sizeof(r));
	if ((rc = decode(JWTBundlesResponse_fields, &r, p, len,
			 &sh_jwtb_resp, eb)) != 0)
		return rc;
	if ((set = spiffe_bundle_set_new()) == NULL)
		rc = spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < r.bundles_count; i++)
		rc = put_entry(set, r.bundles[i].key, r.bundles[i].value, 1,
			       eb);
	if (rc == 0) {
		*out = set;
		set = NULL;
	}
	spiffe_bundle_set_unref(set);
	pb_release(JWTBundlesResponse_fields, &r);
	return rc;
}

/* ---- JWT-SVIDs --------------------------------------------------------- */

void spiffe_wlapi_jwt_free(spiffe_wlapi_jwt *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(v[i].token);
		spiffe_jwtsvid_free(&v[i].svid);
	}
	free(v);
}

static int jwt_hint_taken(const spiffe_wlapi_jwt *v, size_t n,
			  const char *hint)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].hint, hint) == 0)
			return 1;
	}
	return 0;
}

static int add_jwt(spiffe_wlapi_jwt *v, const JWTSVID *s, size_t i,
		   const char *const *aud, size_t naud, spiffe_errbuf *eb)
{
	const char *token = str_of(s->svid), *hint = str_of(s->hint);
	const char *sid = str_of(s->spiffe_id);
	size_t tlen = strlen(token), hlen = strlen(hint);
	spiffe_id id;
	int rc;

	if (hlen > SPIFFE_SVID_HINT_MAX)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT, "JWT-SVID %zu: hint "
				   "of %zu bytes exceeds %d", i, hlen,
				   SPIFFE_SVID_HINT_MAX);
	if ((rc = spiffe_jwtsvid_parse_insecure(&v->svid, token, tlen,
						eb)) != 0 ||
	    (rc = spiffe_jwtsvid_validate_claims(&v->svid, aud, naud, NULL,
						 eb)) != 0)
		return spiffe_wrap(eb, rc, "JWT-SVID %zu", i);
	if ((rc = spiffe_id_parse(&id, sid, strlen(sid), eb)) != 0)
		return spiffe_wrap(eb, rc, "JWT-SVID %zu: spiffe_id", i);
	if (!spiffe_id_equal(&id, &v->svid.id))
		return spiffe_fail(eb, SPIFFE_ERR_JWT, "JWT-SVID %zu: "
				   "spiffe_id %.200s is not the token's "
				   "subject %.200s", i, id.str,
				   v->svid.id.str);
	if ((v->token = malloc(tlen + 1)) == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	memcpy(v->token, token, tlen + 1);
	v->token_len = tlen;
	memcpy(v->hint, hint, hlen + 1);
	return 0;
}

int spiffe_wlapi_parse_jwt_svids(const uint8_t *p, size_t len,
				 const char *const *aud, size_t naud,
				 spiffe_wlapi_jwt **out, size_t *n,
				 spiffe_errbuf *eb)
{
	JWTSVIDResponse r;
	spiffe_wlapi_jwt *v = NULL;
	size_t k = 0;
	int rc;

	*out = NULL;
	*n = 0;
	memset(&r, 0, sizeof(r));
	if ((rc = decode(JWTSVIDResponse_fields, &r, p, len, &sh_jwtsvid_resp,
			 eb)) != 0)
		return rc;
	if (r.svids_count == 0) {
		rc = spiffe_fail(eb, SPIFFE_ERR_MALFORMED,
				 "there were no SVIDs in the response");
		goto done;
	}
	if ((v = calloc(r.svids_count, sizeof(*v))) == NULL) {
		rc = spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < r.svids_count; i++) {
		const char *hint = str_of(r.svids[i].hint);

		if (hint[0] != '\0' && jwt_hint_taken(v, k, hint))
			continue;
		spiffe_jwtsvid_init(&v[k].svid);
		rc = add_jwt(&v[k], &r.svids[i], i, aud, naud, eb);
		k++;
		if (rc != 0)
			goto done;
	}
	*out = v;
	*n = k;
	v = NULL;
done:
	spiffe_wlapi_jwt_free(v, k);
	pb_release(JWTSVIDResponse_fields, &r);
	return rc;
}

/* ---- ValidateJWTSVID and the claims Struct ---------------------------- */

struct jbuf {
	char *p;
	size_t len, cap;
	int err;
};

static void jput(struct jbuf *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (n > SPIFFE_WLAPI_MAX_CLAIMS - b->len) {
		b->err = SPIFFE_ERR_LIMIT;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		if ((np = realloc(b->p, cap)) == NULL) {
			b->err = SPIFFE_ERR_NOMEM;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static int jquote(struct jbuf *b, const uint8_t *s, size_t n,
		  spiffe_errbuf *eb)
{
	size_t cap, outlen;
	char *tmp;
	int rc;

	if (n > SPIFFE_WLAPI_MAX_CLAIMS)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT, "claims: string too "
				   "long");
	cap = n * 6 + 3;        /* every byte as \u00XX, quotes, NUL */
	if ((tmp = malloc(cap)) == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	rc = spiffe_json_quote(tmp, cap, &outlen, (const char *)s, n);
	if (rc == 0)
		jput(b, tmp, outlen);
	free(tmp);
	if (rc != 0)
		return spiffe_fail(eb, rc, "claims: string is not valid "
				   "UTF-8");
	return 0;
}

/* Writes a finite double: exact integers, else %.17g in the C locale. */
static int jnumber(struct jbuf *b, uint64_t bits, spiffe_errbuf *eb)
{
	char buf[40];
	double d;
	int n = 0;

	memcpy(&d, &bits, sizeof(d));
	if (!isfinite(d))
		return spiffe_fail(eb, SPIFFE_ERR_MALFORMED, "claims: number "
				   "is not finite");
	if (d >= -9007199254740992.0 && d <= 9007199254740992.0 &&
	    (double)(int64_t)d == d) {
		int64_t v = (int64_t)d;
		uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
		char *e = buf + sizeof(buf), *q = e;

		do {
			*--q = (char)('0' + u % 10);
			u /= 10;
		} while (u != 0);
		if (v < 0)
			*--q = '-';
		jput(b, q, (size_t)(e - q));
		return 0;
	}
	locale_t c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	locale_t old;

	if (c == (locale_t)0)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	old = uselocale(c);
	n = snprintf(buf, sizeof(buf), "%.17g", d);
	uselocale(old);
	freelocale(c);
	if (n <= 0 || (size_t)n >= sizeof(buf))
		return spiffe_fail(eb, SPIFFE_ERR_MALFORMED, "claims: number");
	jput(b, buf, (size_t)n);
	return 0;
}

static int render_value(struct jbuf *b, const uint8_t *p, size_t len,
			int depth, spiffe_errbuf *eb);

struct key {
	const uint8_t *p;
	size_t len;
};

static int key_cmp(const void *x, const void *y)
{
	const struct key *a = x, *k = y;
	size_t n = a->len < k->len ? a->len : k->len;
	int c = memcmp(a->p, k->p, n);

	if (c != 0)
		return c;
	return a->len < k->len ? -1 : a->len > k->len;
}

static int bad_claims(spiffe_errbuf *eb, const char *what)
{
	return spiffe_fail(eb, SPIFFE_ERR_MALFORMED, "claims: %s", what);
}

/* Struct { map<string, Value> fields = 1; } */
static int render_struct(struct jbuf *b, const uint8_t *p, size_t len,
			 int depth, spiffe_errbuf *eb)
{
	struct pbr r = { p, len, 0 };
	struct pbf f;
	struct key *keys = NULL;
	size_t nkeys = 0;
	int rc;

	if (depth > SPIFFE_JSON_MAX_DEPTH)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT, "claims: nested "
				   "deeper than %d", SPIFFE_JSON_MAX_DEPTH);
	jput(b, "{", 1);
	while ((rc = rd_field(&r, &f)) == 1) {
		struct pbr er;
		struct pbf ef;
		const uint8_t *key = no_bytes, *val = NULL;
		size_t klen = 0, vlen = 0;
		int nk = 0, nv = 0, erc;

		if (f.num != 1)
			continue;
		if (f.wt != WT_LEN) {
			rc = bad_claims(eb, "wrong wire type");
			goto out;
		}
		er = (struct pbr){ f.v, f.vlen, 0 };
		while ((erc = rd_field(&er, &ef)) == 1) {
			if (ef.num != 1 && ef.num != 2)
				continue;
			if (ef.wt != WT_LEN) {
				rc = bad_claims(eb, "wrong wire type");
				goto out;
			}
			if (ef.num == 1) {
				key = ef.v;
				klen = ef.vlen;
				nk++;
			} else {
				val = ef.v;
				vlen = ef.vlen;
				nv++;
			}
		}
		if (erc < 0 || nk > 1 || nv != 1) {
			rc = bad_claims(eb, erc < 0 ? "malformed protobuf" :
					"malformed map entry");
			goto out;
		}
		if (nkeys == SPIFFE_JSON_MAX_MEMBERS) {
			rc = spiffe_fail(eb, SPIFFE_ERR_LIMIT, "claims: more "
					 "than %d members",
					 SPIFFE_JSON_MAX_MEMBERS);
			goto out;
		}
		if (keys == NULL &&
		    (keys = malloc(SPIFFE_JSON_MAX_MEMBERS *
				   sizeof(*keys))) == NULL) {
			rc = spiffe_fail(eb, SPIFFE_ERR_NOMEM,
					 "out of memory");
			goto out;
		}
		keys[nkeys].p = key;
		keys[nkeys++].len = klen;
		if (nkeys > 1)
			jput(b, ",", 1);
		if ((rc = jquote(b, key, klen, eb)) != 0)
			goto out;
		jput(b, ":", 1);
		if ((rc = render_value(b, val, vlen, depth + 1, eb)) != 0)
			goto out;
	}
	if (rc < 0) {
		rc = bad_claims(eb, "malformed protobuf");
		goto out;
	}
	rc = 0;
	jput(b, "}", 1);
	if (nkeys > 1) {
		qsort(keys, nkeys, sizeof(*keys), key_cmp);
		for (size_t i = 1; i < nkeys; i++) {
			if (key_cmp(&keys[i - 1], &keys[i]) == 0) {
				rc = bad_claims(eb, "duplicate member name");
				break;
			}
		}
	}
out:
	free(keys);
	return rc;
}

/* ListValue { repeated Value values = 1; } */
static int render_list(struct jbuf *b, const uint8_t *p, size_t len,
		       int depth, spiffe_errbuf *eb)
{
	struct pbr r = { p, len, 0 };
	struct pbf f;
	size_t n = 0;
	int rc;

	if (depth > SPIFFE_JSON_MAX_DEPTH)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT, "claims: nested "
				   "deeper than %d", SPIFFE_JSON_MAX_DEPTH);
	jput(b, "[", 1);
	while ((rc = rd_field(&r, &f)) == 1) {
		if (f.num != 1)
			continue;
		if (f.wt != WT_LEN)
			return bad_claims(eb, "wrong wire type");
		if (n++ > 0)
			jput(b, ",", 1);
		if ((rc = render_value(b, f.v, f.vlen, depth + 1, eb)) != 0)
			return rc;
	}
	if (rc < 0)
		return bad_claims(eb, "malformed protobuf");
	jput(b, "]", 1);
	return 0;
}

/*
 * Value { oneof kind { NullValue null_value = 1; double number_value =
 * 2; string string_value = 3; bool bool_value = 4; Struct struct_value
 * = 5; ListValue list_value = 6; } }: exactly one kind must be set.
 */
static int render_value(struct jbuf *b, const uint8_t *p, size_t len,
			int depth, spiffe_errbuf *eb)
{
	static const int want_wt[7] = { -1, WT_VARINT, WT_I64, WT_LEN,
					 WT_VARINT, WT_LEN, WT_LEN };
	struct pbr r = { p, len, 0 };
	struct pbf f, kind;
	int rc, n = 0;

	memset(&kind, 0, sizeof(kind));
	while ((rc = rd_field(&r, &f)) == 1) {
		if (f.num > 6)
			continue;
		if (f.wt != want_wt[f.num])
			return bad_claims(eb, "wrong wire type");
		kind = f;
		n++;
	}
	if (rc < 0)
		return bad_claims(eb, "malformed protobuf");
	if (n != 1)
		return bad_claims(eb, n == 0 ? "value without a kind" :
				  "value with more than one kind");
	switch (kind.num) {
	case 1:
		jput(b, "null", 4);
		return 0;
	case 2:
		return jnumber(b, kind.u, eb);
	case 3:
		return jquote(b, kind.v, kind.vlen, eb);
	case 4:
		if (kind.u != 0)
			jput(b, "true", 4);
		else
			jput(b, "false", 5);
		return 0;
	case 5:
		return render_struct(b, kind.v, kind.vlen, depth, eb);
	default:
		return render_list(b, kind.v, kind.vlen, depth, eb);
	}
}

int spiffe_wlapi_struct_to_json(const uint8_t *p, size_t len, char **out,
				size_t *outlen, spiffe_errbuf *eb)
{
	struct jbuf b = { NULL, 0, 0, 0 };
	int rc;

	*out = NULL;
	*outlen = 0;
	if (len > SPIFFE_WLAPI_MAX_CLAIMS)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT, "claims: %zu bytes "
				   "exceed %u", len, SPIFFE_WLAPI_MAX_CLAIMS);
	rc = render_struct(&b, p, len, 1, eb);
	if (rc == 0 && b.err != 0)
		rc = spiffe_fail(eb, b.err, b.err == SPIFFE_ERR_LIMIT ?
				 "claims: JSON exceeds %u bytes" :
				 "out of memory", SPIFFE_WLAPI_MAX_CLAIMS);
	if (rc != 0) {
		free(b.p);
		return rc;
	}
	*out = b.p;
	*outlen = b.len;
	return 0;
}

/* The claims Struct of a ValidateJWTSVIDResponse (none: empty). */
static int find_claims(const uint8_t *p, size_t len, const uint8_t **c,
		       size_t *clen, spiffe_errbuf *eb)
{
	struct pbr r = { p, len, 0 };
	struct pbf f;
	int rc, n = 0;

	*c = no_bytes;
	*clen = 0;
	while ((rc = rd_field(&r, &f)) == 1) {
		if (f.num != 2)
			continue;
		if (f.wt != WT_LEN)
			return bad_claims(eb, "wrong wire type");
		/* Protobuf would merge repeats; nobody sends them. */
		if (n++ > 0)
			return bad_claims(eb, "claims field repeated");
		*c = f.v;
		*clen = f.vlen;
	}
	return rc < 0 ? bad_claims(eb, "malformed protobuf") : 0;
}

int spiffe_wlapi_parse_validate(const uint8_t *p, size_t len,
				const char *token, size_t token_len,
				const char *audience, spiffe_jwt_svid *out,
				char **claims_json, spiffe_errbuf *eb)
{
	ValidateJWTSVIDResponse r;
	const uint8_t *claims;
	size_t claims_len, jlen;
	const char *sid;
	spiffe_id id;
	int rc;

	if (claims_json != NULL)
		*claims_json = NULL;
	memset(&r, 0, sizeof(r));
	if ((rc = decode(ValidateJWTSVIDResponse_fields, &r, p, len,
			 &sh_validate_resp, eb)) != 0)
		return rc;
	if ((rc = find_claims(p, len, &claims, &claims_len, eb)) != 0)
		goto done;
	if ((rc = spiffe_jwtsvid_parse_insecure(out, token, token_len,
						eb)) != 0 ||
	    (rc = spiffe_jwtsvid_validate_claims(out, &audience, 1, NULL,
						 eb)) != 0)
		goto done;
	sid = str_of(r.spiffe_id);
	if ((rc = spiffe_id_parse(&id, sid, strlen(sid), eb)) != 0) {
		rc = spiffe_wrap(eb, rc, "ValidateJWTSVIDResponse.spiffe_id");
		goto done;
	}
	if (!spiffe_id_equal(&id, &out->id)) {
		rc = spiffe_fail(eb, SPIFFE_ERR_JWT, "the server's spiffe_id "
				 "%.200s is not the token's subject %.200s",
				 id.str, out->id.str);
		goto done;
	}
	if (claims_json != NULL)
		rc = spiffe_wlapi_struct_to_json(claims, claims_len,
						 claims_json, &jlen, eb);
done:
	if (rc != 0)
		spiffe_jwtsvid_free(out);
	pb_release(ValidateJWTSVIDResponse_fields, &r);
	return rc;
}
