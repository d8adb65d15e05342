/*
 * wlmsg.c - Workload API requests decoded and responses encoded for the
 * agent's server (see wlmsg.h).
 */
#include "agent/wlmsg.h"

#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "grpc.h"
#include "utf8.h"

/* ---- reading ------------------------------------------------------------ */

#define BAD_WIRE "proto: cannot parse invalid wire-format data"
#define BAD_UTF8 "string field contains invalid UTF-8"

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_SGROUP = 3,
       WT_EGROUP = 4, WT_I32 = 5 };

/* Groups nest at most this deep (protobuf-go allows more; we need none). */
#define MAX_GROUP_DEPTH 64

struct rd {
	const uint8_t *p;
	size_t len, off;
};

static int rd_varint(struct rd *r, uint64_t *v)
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

/* One field: its number and wire type; for LEN, a view of the bytes. */
struct fld {
	uint64_t num;
	int wt;
	const uint8_t *v;
	size_t vlen;
};

/*
 * Reads the next field (a whole group for a start-group tag): 1, or 0
 * at the end, or -1 if malformed.  An end-group tag is returned as such
 * so the group reader can stop.
 */
static int rd_field(struct rd *r, struct fld *f, int depth)
{
	uint64_t tag, n;

	if (r->off == r->len)
		return 0;
	if (rd_varint(r, &tag) != 0)
		return -1;
	f->num = tag >> 3;
	f->wt = (int)(tag & 7);
	f->v = NULL;
	f->vlen = 0;
	if (f->num == 0 || f->num > 0x1fffffff)
		return -1;
	switch (f->wt) {
	case WT_VARINT:
		return rd_varint(r, &n) == 0 ? 1 : -1;
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
	case WT_SGROUP: {
		struct fld g;
		int rc;

		if (depth >= MAX_GROUP_DEPTH)
			return -1;
		while ((rc = rd_field(r, &g, depth + 1)) == 1) {
			if (g.wt == WT_EGROUP)
				return g.num == f->num ? 1 : -1;
		}
		return -1;      /* the message ended inside the group */
	}
	case WT_EGROUP:
		return depth > 0 ? 1 : -1;
	default:
		return -1;
	}
	if (n > r->len - r->off)
		return -1;
	f->v = r->p + r->off;
	f->vlen = (size_t)n;
	r->off += (size_t)n;
	return 1;
}

static int bad(spiffe_errbuf *eb, const char *why)
{
	return spiffe_fail(eb, SPIFFE_ERR_MALFORMED, "%s", why);
}

/* A string field's value as a view, once its UTF-8 is checked. */
static int take_str(const struct fld *f, spiffe_agent_str *s,
		    spiffe_errbuf *eb)
{
	if (!spiffe_utf8_valid(f->v, f->vlen))
		return bad(eb, BAD_UTF8);
	s->p = (const char *)f->v;
	s->len = f->vlen;
	return 0;
}

int spiffe_agent_decode_empty(const uint8_t *p, size_t len,
			      spiffe_errbuf *eb)
{
	struct rd r = { p, len, 0 };
	struct fld f;
	int rc;

	while ((rc = rd_field(&r, &f, 0)) == 1)
		;
	return rc < 0 ? bad(eb, BAD_WIRE) : 0;
}

int spiffe_agent_decode_jwt_req(const uint8_t *p, size_t len,
				spiffe_agent_jwt_req *req, spiffe_errbuf *eb)
{
	struct rd r = { p, len, 0 };
	struct fld f;
	size_t naud = 0;
	int rc;

	memset(req, 0, sizeof(*req));
	while ((rc = rd_field(&r, &f, 0)) == 1) {
		if (f.wt != WT_LEN)
			continue;
		if (f.num == 1) {
			spiffe_agent_str s;

			if ((rc = take_str(&f, &s, eb)) != 0)
				return rc;
			/* Count on, so the message can name the number. */
			if (naud < SPIFFE_JWT_MAX_AUDIENCES)
				req->aud[naud] = s;
			naud++;
		} else if (f.num == 2) {
			if ((rc = take_str(&f, &req->spiffe_id, eb)) != 0)
				return rc;
		}
	}
	if (rc < 0)
		return bad(eb, BAD_WIRE);
	if (naud > SPIFFE_JWT_MAX_AUDIENCES)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT, "too many audiences "
				   "(%zu; at most %d)", naud,
				   SPIFFE_JWT_MAX_AUDIENCES);
	req->naud = naud;
	return 0;
}

int spiffe_agent_decode_validate_req(const uint8_t *p, size_t len,
				     spiffe_agent_validate_req *req,
				     spiffe_errbuf *eb)
{
	struct rd r = { p, len, 0 };
	struct fld f;
	int rc;

	memset(req, 0, sizeof(*req));
	while ((rc = rd_field(&r, &f, 0)) == 1) {
		int err = 0;

		/* Unknown fields, and known ones of another type, are
		 * skipped: err stays 0 for them. */
		if (f.wt != WT_LEN)
			continue;
		if (f.num == 1)
			err = take_str(&f, &req->audience, eb);
		else if (f.num == 2)
			err = take_str(&f, &req->svid, eb);
		if (err != 0)
			return err;
	}
	return rc < 0 ? bad(eb, BAD_WIRE) : 0;
}

/* ---- writing ------------------------------------------------------------ */

/*
 * A writer: with p NULL it only counts, so every encoder runs twice,
 * once to size the buffer and once to fill it.
 */
struct wr {
	uint8_t *p;
	size_t off;
};

static size_t varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static void put_byte(struct wr *w, uint8_t b)
{
	if (w->p != NULL)
		w->p[w->off] = b;
	w->off++;
}

static void put_varint(struct wr *w, uint64_t v)
{
	while (v >= 0x80) {
		put_byte(w, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	put_byte(w, (uint8_t)v);
}

static void put_raw(struct wr *w, const void *p, size_t len)
{
	if (w->p != NULL && len > 0)
		memcpy(w->p + w->off, p, len);
	w->off += len;
}

/* Field num, wire type LEN, with len bytes following. */
static void put_len_hdr(struct wr *w, unsigned num, size_t len)
{
	put_varint(w, (uint64_t)num << 3 | WT_LEN);
	put_varint(w, len);
}

static void put_bytes(struct wr *w, unsigned num, const void *p,
		      size_t len)
{
	put_len_hdr(w, num, len);
	put_raw(w, p, len);
}

/* A proto3 string or bytes field: left out when empty. */
static void put_opt(struct wr *w, unsigned num, const void *p, size_t len)
{
	if (len > 0)
		put_bytes(w, num, p, len);
}

/* Bytes a LEN field of len bytes takes, its tag included. */
static size_t len_field(unsigned num, size_t len)
{
	return varint_len((uint64_t)num << 3) + varint_len(len) + len;
}

static size_t opt_field(unsigned num, size_t len)
{
	return len > 0 ? len_field(num, len) : 0;
}

/*
 * Runs emit twice (count, then fill) and returns the framed buffer.
 * emit(w, arg) writes the message body.
 */
static int frame(void (*emit)(struct wr *, const void *), const void *arg,
		 uint8_t **out, size_t *len)
{
	struct wr w = { NULL, 0 };
	uint8_t *p;

	*out = NULL;
	*len = 0;
	emit(&w, arg);
	if (w.off > SPIFFE_GRPC_MAX_MESSAGE)
		return SPIFFE_ERR_LIMIT;
	if ((p = malloc(SPIFFE_GRPC_PREFIX + w.off)) == NULL)
		return SPIFFE_ERR_NOMEM;
	spiffe_grpc_prefix(p, (uint32_t)w.off);
	w.p = p + SPIFFE_GRPC_PREFIX;
	w.off = 0;
	emit(&w, arg);
	*out = p;
	*len = SPIFFE_GRPC_PREFIX + w.off;
	return 0;
}

struct x509_args {
	const spiffe_agent_x509_item *v;
	size_t n;
	const uint8_t *bundle;
	size_t bundle_len;
};

static size_t x509svid_size(const spiffe_agent_x509_item *it,
			    size_t bundle_len)
{
	return opt_field(1, it->spiffe_id.len) +
	       opt_field(2, it->cert_len) + opt_field(3, it->key_len) +
	       opt_field(4, bundle_len) + opt_field(5, it->hint.len);
}

static void emit_x509(struct wr *w, const void *arg)
{
	const struct x509_args *a = arg;

	for (size_t i = 0; i < a->n; i++) {
		const spiffe_agent_x509_item *it = &a->v[i];

		put_len_hdr(w, 1, x509svid_size(it, a->bundle_len));
		put_opt(w, 1, it->spiffe_id.p, it->spiffe_id.len);
		put_opt(w, 2, it->cert, it->cert_len);
		put_opt(w, 3, it->key, it->key_len);
		put_opt(w, 4, a->bundle, a->bundle_len);
		put_opt(w, 5, it->hint.p, it->hint.len);
	}
}

/* Sizes are summed in size_t; check the inputs cannot overflow it. */
static int too_big(size_t a, size_t b)
{
	return a > SPIFFE_GRPC_MAX_MESSAGE || b > SPIFFE_GRPC_MAX_MESSAGE;
}

int spiffe_agent_encode_x509_svids(const spiffe_agent_x509_item *v,
				   size_t n, const uint8_t *bundle,
				   size_t bundle_len, uint8_t **out,
				   size_t *len)
{
	struct x509_args a = { v, n, bundle, bundle_len };
	size_t total = 0;

	*out = NULL;
	*len = 0;
	if (too_big(n, bundle_len))
		return SPIFFE_ERR_LIMIT;
	for (size_t i = 0; i < n; i++) {
		if (too_big(v[i].spiffe_id.len, v[i].cert_len) ||
		    too_big(v[i].key_len, v[i].hint.len))
			return SPIFFE_ERR_LIMIT;
		total += len_field(1, x509svid_size(&v[i], bundle_len));
		if (total > SPIFFE_GRPC_MAX_MESSAGE)
			return SPIFFE_ERR_LIMIT;
	}
	return frame(emit_x509, &a, out, len);
}

struct map_args {
	unsigned field;
	const void *key, *val;
	size_t key_len, val_len;
};

static void emit_map(struct wr *w, const void *arg)
{
	const struct map_args *a = arg;

	/* protobuf-go writes both members of a map entry, even empty. */
	put_len_hdr(w, a->field, len_field(1, a->key_len) +
		    len_field(2, a->val_len));
	put_bytes(w, 1, a->key, a->key_len);
	put_bytes(w, 2, a->val, a->val_len);
}

static int encode_map(unsigned field, const char *key, size_t key_len,
		      const void *val, size_t val_len, uint8_t **out,
		      size_t *len)
{
	struct map_args a = { field, key, val, key_len, val_len };

	*out = NULL;
	*len = 0;
	if (too_big(key_len, val_len))
		return SPIFFE_ERR_LIMIT;
	return frame(emit_map, &a, out, len);
}

int spiffe_agent_encode_x509_bundles(const char *key, size_t key_len,
				     const uint8_t *der, size_t der_len,
				     uint8_t **out, size_t *len)
{
	return encode_map(2, key, key_len, der, der_len, out, len);
}

int spiffe_agent_encode_jwt_bundles(const char *key, size_t key_len,
				    const char *jwks, size_t jwks_len,
				    uint8_t **out, size_t *len)
{
	return encode_map(1, key, key_len, jwks, jwks_len, out, len);
}

struct jwt_args {
	const spiffe_agent_jwt_item *v;
	size_t n;
};

static size_t jwtsvid_size(const spiffe_agent_jwt_item *it)
{
	return opt_field(1, it->spiffe_id.len) +
	       opt_field(2, it->token.len) + opt_field(3, it->hint.len);
}

static void emit_jwt(struct wr *w, const void *arg)
{
	const struct jwt_args *a = arg;

	for (size_t i = 0; i < a->n; i++) {
		const spiffe_agent_jwt_item *it = &a->v[i];

		put_len_hdr(w, 1, jwtsvid_size(it));
		put_opt(w, 1, it->spiffe_id.p, it->spiffe_id.len);
		put_opt(w, 2, it->token.p, it->token.len);
		put_opt(w, 3, it->hint.p, it->hint.len);
	}
}

int spiffe_agent_encode_jwt_svids(const spiffe_agent_jwt_item *v, size_t n,
				  uint8_t **out, size_t *len)
{
	struct jwt_args a = { v, n };
	size_t total = 0;

	*out = NULL;
	*len = 0;
	if (n > SPIFFE_GRPC_MAX_MESSAGE)
		return SPIFFE_ERR_LIMIT;
	for (size_t i = 0; i < n; i++) {
		if (too_big(v[i].spiffe_id.len, v[i].token.len) ||
		    v[i].hint.len > SPIFFE_GRPC_MAX_MESSAGE)
			return SPIFFE_ERR_LIMIT;
		total += len_field(1, jwtsvid_size(&v[i]));
		if (total > SPIFFE_GRPC_MAX_MESSAGE)
			return SPIFFE_ERR_LIMIT;
	}
	return frame(emit_jwt, &a, out, len);
}

/* ---- claims as a google.protobuf.Struct -------------------------------- */

/*
 * Struct { map<string, Value> fields = 1; }
 * Value { oneof kind { NullValue null_value = 1; double number_value = 2;
 *         string string_value = 3; bool bool_value = 4;
 *         Struct struct_value = 5; ListValue list_value = 6; } }
 * ListValue { repeated Value values = 1; }
 *
 * The JSON was parsed by spiffe_json (strict, depth-bounded), so the
 * recursion below is bounded by SPIFFE_JSON_MAX_DEPTH.  Strings are
 * decoded (escapes undone) into a scratch buffer first; every string of
 * a token fits in SPIFFE_JWT_MAX bytes.
 */
struct sctx {
	const spiffe_json *j;
	char *scratch;          /* SPIFFE_JWT_MAX + 1 bytes */
	int err;
};

/* A JSON number as protobuf-go would get it from encoding/json. */
static double number(struct sctx *c, int i)
{
	const spiffe_json_tok *t = &c->j->tok[i];
	size_t len = t->end - t->start;
	char buf[64], *text = buf;
	int64_t v;
	double d;

	if (spiffe_json_int64(c->j, i, &v) == 0 &&
	    v >= -(INT64_C(1) << 53) && v <= (INT64_C(1) << 53))
		return (double)v;
	if (len >= sizeof(buf) && (text = malloc(len + 1)) == NULL) {
		c->err = SPIFFE_ERR_NOMEM;
		return 0;
	}
	memcpy(text, c->j->text + t->start, len);
	text[len] = '\0';
	/* strtod reads the decimal point of the locale: use "C". */
	{
		locale_t cl = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
		locale_t old = (locale_t)0;

		if (cl != (locale_t)0)
			old = uselocale(cl);
		d = strtod(text, NULL);
		if (cl != (locale_t)0) {
			uselocale(old);
			freelocale(cl);
		}
	}
	if (text != buf)
		free(text);
	return d;
}

/* Decodes string token i into the scratch buffer; its length or -1. */
static long str_of(struct sctx *c, int i)
{
	size_t len;

	if (spiffe_json_str(c->j, i, c->scratch, SPIFFE_JWT_MAX + 1,
			    &len) != 0) {
		c->err = SPIFFE_ERR_LIMIT;
		return -1;
	}
	return (long)len;
}

static size_t value_size(struct sctx *c, int i);
static void emit_value(struct wr *w, struct sctx *c, int i);

/* The Struct body of object token i: its fields entries. */
static size_t struct_size(struct sctx *c, int i)
{
	const spiffe_json_tok *t = &c->j->tok[i];
	int k = i + 1;
	size_t n = 0;

	for (uint32_t m = 0; m < t->count; m++) {
		size_t klen = c->j->tok[k].count;
		size_t vs = value_size(c, k + 1);

		n += len_field(1, len_field(1, klen) + len_field(2, vs));
		k = spiffe_json_next(c->j, k + 1);
	}
	return n;
}

static size_t list_size(struct sctx *c, int i)
{
	const spiffe_json_tok *t = &c->j->tok[i];
	int k = i + 1;
	size_t n = 0;

	for (uint32_t m = 0; m < t->count; m++) {
		n += len_field(1, value_size(c, k));
		k = spiffe_json_next(c->j, k);
	}
	return n;
}

/* Bytes of the Value message for token i. */
static size_t value_size(struct sctx *c, int i)
{
	const spiffe_json_tok *t = &c->j->tok[i];

	switch (t->type) {
	case SPIFFE_JSON_NULL:
	case SPIFFE_JSON_TRUE:
	case SPIFFE_JSON_FALSE:
		return 2;                       /* tag, varint 0 or 1 */
	case SPIFFE_JSON_NUMBER:
		return 9;                       /* tag, 8 bytes */
	case SPIFFE_JSON_STRING:
		return len_field(3, t->count);  /* count: decoded length */
	case SPIFFE_JSON_OBJECT:
		return len_field(5, struct_size(c, i));
	case SPIFFE_JSON_ARRAY:
		return len_field(6, list_size(c, i));
	}
	return 0;
}

static void emit_struct(struct wr *w, struct sctx *c, int i, int top)
{
	const spiffe_json_tok *t = &c->j->tok[i];
	int k = i + 1;

	for (uint32_t m = 0; m < t->count && c->err == 0; m++) {
		size_t klen = c->j->tok[k].count;
		int aud = top && spiffe_json_str_eq(c->j, k, "aud", 3) &&
			  c->j->tok[k + 1].type == SPIFFE_JSON_STRING;
		size_t vs;
		long n;

		if (aud) {
			/* Value{list_value: ListValue{values: [Value]}} */
			size_t one = value_size(c, k + 1);

			vs = len_field(6, len_field(1, one));
		} else {
			vs = value_size(c, k + 1);
		}
		put_len_hdr(w, 1, len_field(1, klen) + len_field(2, vs));
		if ((n = str_of(c, k)) < 0)
			return;
		put_bytes(w, 1, c->scratch, (size_t)n);
		put_len_hdr(w, 2, vs);
		if (aud) {
			put_len_hdr(w, 6, len_field(1, value_size(c, k + 1)));
			put_len_hdr(w, 1, value_size(c, k + 1));
		}
		emit_value(w, c, k + 1);
		k = spiffe_json_next(c->j, k + 1);
	}
}

static void emit_value(struct wr *w, struct sctx *c, int i)
{
	const spiffe_json_tok *t = &c->j->tok[i];
	uint8_t dbl[8];
	uint64_t bits;
	double d;
	long n;
	int k;

	switch (t->type) {
	case SPIFFE_JSON_NULL:
		put_byte(w, 1 << 3 | WT_VARINT);
		put_byte(w, 0);
		return;
	case SPIFFE_JSON_TRUE:
	case SPIFFE_JSON_FALSE:
		put_byte(w, 4 << 3 | WT_VARINT);
		put_byte(w, t->type == SPIFFE_JSON_TRUE);
		return;
	case SPIFFE_JSON_NUMBER:
		d = number(c, i);
		memcpy(&bits, &d, 8);
		for (int b = 0; b < 8; b++)
			dbl[b] = (uint8_t)(bits >> (8 * b));
		put_byte(w, 2 << 3 | WT_I64);
		put_raw(w, dbl, 8);
		return;
	case SPIFFE_JSON_STRING:
		if ((n = str_of(c, i)) < 0)
			return;
		put_bytes(w, 3, c->scratch, (size_t)n);
		return;
	case SPIFFE_JSON_OBJECT:
		put_len_hdr(w, 5, struct_size(c, i));
		emit_struct(w, c, i, 0);
		return;
	case SPIFFE_JSON_ARRAY:
		put_len_hdr(w, 6, list_size(c, i));
		k = i + 1;
		for (uint32_t m = 0; m < t->count && c->err == 0; m++) {
			put_len_hdr(w, 1, value_size(c, k));
			emit_value(w, c, k);
			k = spiffe_json_next(c->j, k);
		}
		return;
	}
}

struct validate_args {
	const char *id;
	size_t id_len;
	struct sctx *c;
	size_t claims;          /* Struct bytes, from the counting pass */
};

static void emit_validate(struct wr *w, const void *arg)
{
	const struct validate_args *a = arg;

	put_opt(w, 1, a->id, a->id_len);
	put_len_hdr(w, 2, a->claims);
	emit_struct(w, a->c, 0, 1);
}

int spiffe_agent_encode_validate(const char *id, size_t id_len,
				 const spiffe_json *claims, uint8_t **out,
				 size_t *len, spiffe_errbuf *eb)
{
	struct sctx c = { claims, NULL, 0 };
	struct validate_args a = { id, id_len, &c, 0 };
	struct wr w = { NULL, 0 };
	int rc;

	*out = NULL;
	*len = 0;
	if (claims->ntok == 0 || claims->tok[0].type != SPIFFE_JSON_OBJECT ||
	    id_len > SPIFFE_ID_MAX)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "claims are not a "
				   "JSON object");
	if ((c.scratch = malloc(SPIFFE_JWT_MAX + 1)) == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	/* The Struct's size, counting the "aud" list SPIRE makes. */
	emit_struct(&w, &c, 0, 1);
	a.claims = w.off;
	rc = c.err;
	if (rc == 0)
		rc = frame(emit_validate, &a, out, len);
	if (rc == 0 && c.err != 0) {
		free(*out);
		*out = NULL;
		*len = 0;
		rc = c.err;
	}
	free(c.scratch);
	if (rc != 0)
		return spiffe_fail(eb, rc, "cannot encode the claims: %s",
				   spiffe_strerror(rc));
	return 0;
}
