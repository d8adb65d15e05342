/*
 * bundle.c - trust bundles: X.509 authorities and bundle sets.
 * (The JWK forms live in jwks.c.)
 */
#include "bundle.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/asn1.h>
#include <mbedtls/pem.h>

void spiffe_bundle_init(spiffe_bundle *b, const spiffe_td *td)
{
	memset(b, 0, sizeof(*b));
	if (td != NULL)
		b->td = *td;
	mbedtls_x509_crt_init(&b->x509);
}

static void free_jwt(spiffe_jwt_authority *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mbedtls_pk_free(&a[i].pk);
	free(a);
}

void spiffe_bundle_free(spiffe_bundle *b)
{
	if (b == NULL)
		return;
	mbedtls_x509_crt_free(&b->x509);
	free_jwt(b->jwt, b->njwt);
	spiffe_bundle_init(b, NULL);
}

static int has_der(const mbedtls_x509_crt *list, size_t n,
		   const uint8_t *der, size_t len)
{
	for (const mbedtls_x509_crt *c = list; c != NULL && n > 0;
	     c = c->next, n--) {
		if (c->raw.len == len && memcmp(c->raw.p, der, len) == 0)
			return 1;
	}
	return 0;
}

/* Appends one DER certificate to list (holding *n) unless present. */
static int add_der(mbedtls_x509_crt *list, size_t *n, const uint8_t *der,
		   size_t len, spiffe_errbuf *eb)
{
	int rc;

	if (len > SPIFFE_X509_MAX_DER)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT,
				   "x509bundle: certificate of %zu bytes "
				   "exceeds the limit of %u", len,
				   (unsigned)SPIFFE_X509_MAX_DER);
	if (has_der(list, *n, der, len))
		return 0;
	if (*n >= SPIFFE_BUNDLE_MAX_CERTS)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT,
				   "x509bundle: more than %d certificates",
				   SPIFFE_BUNDLE_MAX_CERTS);
	rc = mbedtls_x509_crt_parse_der(list, der, len);
	if (rc != 0)
		return spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
				   "x509bundle: cannot parse certificate %zu "
				   "(mbedTLS -0x%04x)", *n + 1, (unsigned)-rc);
	(*n)++;
	return 0;
}

int spiffe_bundle_add_x509(spiffe_bundle *b, const uint8_t *der,
			   size_t len, spiffe_errbuf *eb)
{
	return add_der(&b->x509, &b->nx509, der, len, eb);
}

static void replace_x509(spiffe_bundle *b, mbedtls_x509_crt *list, size_t n)
{
	mbedtls_x509_crt_free(&b->x509);
	b->x509 = *list;        /* the struct owns the head; moving it is ok */
	b->nx509 = n;
	mbedtls_x509_crt_init(list);
}

/*
 * Length of the DER element at p (tag, length and contents), which must
 * be a SEQUENCE that fits in the len bytes left.
 */
static int der_element_len(const uint8_t *p, size_t len, size_t *out)
{
	unsigned char *cur = (unsigned char *)p;
	size_t body;

	if (mbedtls_asn1_get_tag(&cur, p + len, &body,
				 MBEDTLS_ASN1_CONSTRUCTED |
				 MBEDTLS_ASN1_SEQUENCE) != 0)
		return -1;
	*out = (size_t)(cur - p) + body;
	return 0;
}

int spiffe_bundle_set_x509_der(spiffe_bundle *b, const uint8_t *der,
			       size_t len, spiffe_errbuf *eb)
{
	mbedtls_x509_crt list;
	size_t n = 0, off = 0;
	int rc = 0;

	mbedtls_x509_crt_init(&list);
	while (off < len) {
		size_t el;

		if (der_element_len(der + off, len - off, &el) != 0) {
			rc = spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
					 "x509bundle: cannot parse "
					 "certificate at byte %zu: not a DER "
					 "SEQUENCE within the input", off);
			break;
		}
		rc = add_der(&list, &n, der + off, el, eb);
		if (rc != 0)
			break;
		off += el;
	}
	if (rc == 0)
		replace_x509(b, &list, n);
	mbedtls_x509_crt_free(&list);
	return rc;
}

int spiffe_bundle_set_x509_pem(spiffe_bundle *b, const char *pem,
			       size_t len, spiffe_errbuf *eb)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----";
	static const char end[] = "-----END CERTIFICATE-----";
	mbedtls_x509_crt list;
	size_t n = 0, off = 0;
	int rc = 0;

	mbedtls_x509_crt_init(&list);
	for (;;) {
		const char *s;
		const char *e;
		mbedtls_pem_context ctx;
		size_t used;

		if (off >= len)         /* also: (NULL, 0) is no blocks */
			break;
		s = memmem(pem + off, len - off, begin, sizeof(begin) - 1);
		if (s == NULL)
			break;
		e = memmem(s, (size_t)(pem + len - s), end, sizeof(end) - 1);
		if (e == NULL) {
			rc = spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
					 "x509bundle: PEM block without END "
					 "line");
			break;
		}
		/* mbedtls_pem_read_buffer wants a NUL after the block. */
		size_t blen = (size_t)(e - s) + sizeof(end) - 1;
		char *blk = malloc(blen + 1);
		if (blk == NULL) {
			rc = spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
			break;
		}
		memcpy(blk, s, blen);
		blk[blen] = '\0';
		mbedtls_pem_init(&ctx);
		int prc = mbedtls_pem_read_buffer(&ctx, begin, end,
						  (unsigned char *)blk, NULL, 0,
						  &used);
		free(blk);
		if (prc != 0) {
			mbedtls_pem_free(&ctx);
			rc = spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
					 "x509bundle: invalid PEM certificate "
					 "block %zu (mbedTLS -0x%04x)", n + 1,
					 (unsigned)-prc);
			break;
		}
		size_t dlen;
		const unsigned char *d = mbedtls_pem_get_buffer(&ctx, &dlen);
		rc = add_der(&list, &n, d, dlen, eb);
		mbedtls_pem_free(&ctx);
		if (rc != 0)
			break;
		off = (size_t)(e - pem) + sizeof(end) - 1;
	}
	if (rc == 0 && n == 0 && len > 0)
		rc = spiffe_fail(eb, SPIFFE_ERR_BUNDLE,
				 "x509bundle: no PEM certificate blocks found");
	if (rc == 0)
		replace_x509(b, &list, n);
	mbedtls_x509_crt_free(&list);
	return rc;
}

/* ---- bundle sets ------------------------------------------------------ */

struct spiffe_bundle_set {
	atomic_uint refs;
	uint64_t generation;
	size_t n, cap;
	spiffe_bundle *b;
};

static atomic_uint_fast64_t next_generation = 1;

spiffe_bundle_set *spiffe_bundle_set_new(void)
{
	spiffe_bundle_set *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	atomic_init(&s->refs, 1);
	s->generation = atomic_fetch_add(&next_generation, 1);
	return s;
}

spiffe_bundle_set *spiffe_bundle_set_ref(spiffe_bundle_set *s)
{
	if (s != NULL)
		atomic_fetch_add(&s->refs, 1);
	return s;
}

void spiffe_bundle_set_unref(spiffe_bundle_set *s)
{
	if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	for (size_t i = 0; i < s->n; i++)
		spiffe_bundle_free(&s->b[i]);
	free(s->b);
	free(s);
}

static spiffe_bundle *find(const spiffe_bundle_set *s, const spiffe_td *td)
{
	for (size_t i = 0; i < s->n; i++) {
		if (spiffe_td_equal(&s->b[i].td, td))
			return &s->b[i];
	}
	return NULL;
}

/* Moves *from into *to and leaves *from an empty bundle of the same td. */
static void move_bundle(spiffe_bundle *to, spiffe_bundle *from)
{
	*to = *from;
	spiffe_bundle_init(from, &to->td);
}

int spiffe_bundle_set_put(spiffe_bundle_set *s, spiffe_bundle *b,
			  spiffe_errbuf *eb)
{
	spiffe_bundle *slot = find(s, &b->td);

	if (b->td.len == 0)
		return spiffe_fail(eb, SPIFFE_ERR_ARG,
				   "bundle has no trust domain");
	if (slot != NULL) {
		spiffe_bundle_free(slot);
		move_bundle(slot, b);
		return 0;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4;
		spiffe_bundle *nb;

		if (s->n >= SPIFFE_BUNDLE_SET_MAX)
			return spiffe_fail(eb, SPIFFE_ERR_LIMIT,
					   "bundle set: more than %d trust "
					   "domains", SPIFFE_BUNDLE_SET_MAX);
		nb = realloc(s->b, cap * sizeof(*nb));
		if (nb == NULL)
			return spiffe_fail(eb, SPIFFE_ERR_NOMEM,
					   "out of memory");
		s->b = nb;
		s->cap = cap;
	}
	move_bundle(&s->b[s->n++], b);
	return 0;
}

const spiffe_bundle *spiffe_bundle_set_get(const spiffe_bundle_set *s,
					   const spiffe_td *td)
{
	return s == NULL ? NULL : find(s, td);
}

size_t spiffe_bundle_set_count(const spiffe_bundle_set *s)
{
	return s == NULL ? 0 : s->n;
}

const spiffe_bundle *spiffe_bundle_set_at(const spiffe_bundle_set *s,
					  size_t i)
{
	return s == NULL || i >= s->n ? NULL : &s->b[i];
}

uint64_t spiffe_bundle_set_generation(const spiffe_bundle_set *s)
{
	return s == NULL ? 0 : s->generation;
}
