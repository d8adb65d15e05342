/*
 * wlapi_source.c - the X.509 and JWT sources: a client, one watch, and
 * the latest good material behind a mutex.
 *
 * A source keeps what it last installed when a stream breaks (the watch
 * reconnects with its backoff) and when an update is bad.  A source's
 * constructor waits for the first update; a final watch error
 * (InvalidArgument) ends the wait at once with that error.
 */
#include "workloadapi.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/platform_util.h>

#include "clock.h"

#define DEFAULT_STARTUP_MS 30000

/* What both sources share: the waiting and the last error. */
struct base {
	spiffe_wlapi_client *c;
	spiffe_wlapi_watch *w;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t version;
	int final_err;                  /* a final watch error, or 0 */
	int have_err;
	char last_err[SPIFFE_ERRBUF_SIZE];
};

struct spiffe_x509_source {
	struct base b;
	spiffe_x509_context *cur;
	spiffe_tls_svid *tls;           /* cur->svids[0], for handshakes */
};

struct jwt_entry {
	char *key;                      /* audiences (sorted), ID */
	size_t key_len;
	char *token;
	int64_t exp, refresh_at;        /* wall-clock seconds */
	uint64_t used;                  /* for eviction */
};

struct spiffe_jwt_source {
	struct base b;
	spiffe_bundle_set *cur;
	struct jwt_entry cache[SPIFFE_WLAPI_JWT_CACHE];
	size_t ncache;
	uint64_t tick;
};

static void on_error(void *arg, int err, const char *msg, int final)
{
	struct base *b = arg;

	pthread_mutex_lock(&b->mu);
	snprintf(b->last_err, sizeof(b->last_err), "%s", msg);
	b->have_err = 1;
	if (final && err != SPIFFE_ERR_CANCELED)
		b->final_err = err;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

static int base_init(struct base *b)
{
	pthread_condattr_t ca;

	memset(b, 0, sizeof(*b));
	if (pthread_mutex_init(&b->mu, NULL) != 0)
		return -1;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_cond_init(&b->cv, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		pthread_mutex_destroy(&b->mu);
		return -1;
	}
	pthread_condattr_destroy(&ca);
	return 0;
}

/* Stops the watch and the client; the callbacks have all returned. */
static void base_stop(struct base *b)
{
	spiffe_wlapi_watch_stop(b->w);
	b->w = NULL;
	spiffe_wlapi_client_free(b->c);
	b->c = NULL;
}

static void base_destroy(struct base *b)
{
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
}

/* "30s", "1.5s", "250ms": a duration as Go prints it. */
static void fmt_duration(char *out, size_t cap, int ms)
{
	if (ms < 1000) {
		snprintf(out, cap, "%dms", ms);
	} else if (ms % 1000 == 0) {
		snprintf(out, cap, "%ds", ms / 1000);
	} else {
		char frac[4];
		int f = ms % 1000, n = 3;

		snprintf(frac, sizeof(frac), "%03d", f);
		while (n > 0 && frac[n - 1] == '0')
			frac[--n] = '\0';
		snprintf(out, cap, "%d.%ss", ms / 1000, frac);
	}
}

/*
 * Starts the client and a watch of kind, then waits (b->mu held on
 * return when 0) until the first update is in, a final error came, or
 * timeout_ms passed.
 */
static int base_start(struct base *b, const spiffe_wlapi_options *o,
		      int kind, spiffe_wlapi_watcher *w, int timeout_ms,
		      const char *what, spiffe_errbuf *eb)
{
	struct timespec ts;
	int64_t deadline;
	int rc;

	if (timeout_ms < 0)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "negative timeout");
	if (timeout_ms == 0)
		timeout_ms = DEFAULT_STARTUP_MS;
	if ((rc = spiffe_wlapi_client_new(&b->c, o, eb)) != 0)
		return rc;
	w->error = on_error;
	w->arg = b;
	if ((rc = spiffe_wlapi_watch_start(b->c, kind, w, &b->w, eb)) != 0)
		return rc;
	deadline = spiffe_monotonic_ms() + timeout_ms;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&b->mu);
	while (b->version == 0 && b->final_err == 0) {
		if (pthread_cond_timedwait(&b->cv, &b->mu, &ts) == ETIMEDOUT ||
		    spiffe_monotonic_ms() >= deadline)
			break;
	}
	if (b->version != 0)
		return 0;
	rc = b->final_err;
	if (rc != 0) {
		spiffe_fail(eb, rc, "%s", b->last_err);
	} else {
		char d[32];

		fmt_duration(d, sizeof(d), timeout_ms);
		if (b->have_err)
			rc = spiffe_fail(eb, SPIFFE_ERR_TIMEOUT, "timed out "
					 "after %s; last error: %s", d,
					 b->last_err);
		else
			rc = spiffe_fail(eb, SPIFFE_ERR_TIMEOUT, "timed out "
					 "after %s waiting for the first %s",
					 d, what);
	}
	pthread_mutex_unlock(&b->mu);
	return rc;
}

/*
 * A source of sz bytes (its struct base first): starts a watch of kind
 * with w's update callbacks and waits for the first update.  On failure
 * drop releases what the callbacks installed and the source is freed.
 */
static void source_free(struct base *b, void (*drop)(struct base *))
{
	if (b == NULL)
		return;
	base_stop(b);
	drop(b);
	base_destroy(b);
	free(b);
}

static int source_new(void **out, size_t sz, const spiffe_wlapi_options *o,
		      int kind, spiffe_wlapi_watcher *w, int timeout_ms,
		      const char *what, void (*drop)(struct base *),
		      spiffe_errbuf *eb)
{
	struct base *b;
	int rc;

	*out = NULL;
	if ((b = calloc(1, sz)) == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	if (base_init(b) != 0) {
		free(b);
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	}
	rc = base_start(b, o, kind, w, timeout_ms, what, eb);
	if (rc != 0) {
		source_free(b, drop);
		return rc;
	}
	pthread_mutex_unlock(&b->mu);
	*out = b;
	return 0;
}

/* ---- X.509 ------------------------------------------------------------ */

/*
 * A TLS copy of an SVID of a context (the context is shared and
 * immutable; a TLS SVID owns its chain and key): the chain's DER and the
 * key's PKCS#8, parsed again.  NULL with eb set on failure.
 */
static spiffe_tls_svid *tls_copy(const spiffe_x509svid *v, spiffe_errbuf *eb)
{
	spiffe_x509svid copy;
	spiffe_tls_svid *out = NULL;
	uint8_t *der = NULL, *key = NULL;
	size_t dlen = 0, klen = 0, o = 0;
	const mbedtls_x509_crt *c;

	spiffe_x509svid_init(&copy);
	for (c = &v->chain; c != NULL && c->raw.len > 0; c = c->next)
		dlen += c->raw.len;
	if ((der = malloc(dlen ? dlen : 1)) == NULL) {
		spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
		goto done;
	}
	for (c = &v->chain; c != NULL && c->raw.len > 0; c = c->next) {
		memcpy(der + o, c->raw.p, c->raw.len);
		o += c->raw.len;
	}
	if (spiffe_x509_key_write_pkcs8(&v->key, &key, &klen, eb) != 0 ||
	    spiffe_x509svid_parse_der(&copy, der, dlen, key, klen, eb) != 0 ||
	    spiffe_tls_svid_new(&out, &copy, eb) != 0)
		out = NULL;
done:
	if (key != NULL) {
		mbedtls_platform_zeroize(key, klen);
		free(key);
	}
	free(der);
	spiffe_x509svid_free(&copy);
	return out;
}

static void x509_update(void *arg, spiffe_x509_context *ctx)
{
	spiffe_x509_source *s = arg;
	spiffe_x509_context *old;
	spiffe_tls_svid *tls = NULL, *old_tls = NULL;
	spiffe_errbuf eb;

	/* Converted here, once per update, not in every handshake. */
	if (ctx->nsvids > 0 && (tls = tls_copy(&ctx->svids[0], &eb)) == NULL)
		spiffe_wrap(&eb, 0, "X.509-SVID for TLS");
	pthread_mutex_lock(&s->b.mu);
	old = s->cur;
	s->cur = spiffe_x509_context_ref(ctx);
	if (tls != NULL) {
		old_tls = s->tls;
		s->tls = tls;
	} else {
		/* Handshakes go on with the SVID they had. */
		memcpy(s->b.last_err, eb.msg, sizeof(s->b.last_err));
		s->b.have_err = 1;
	}
	s->b.version++;
	pthread_cond_broadcast(&s->b.cv);
	pthread_mutex_unlock(&s->b.mu);
	spiffe_x509_context_unref(old);
	spiffe_tls_svid_unref(old_tls);
}

static void x509_drop(struct base *b)
{
	spiffe_x509_source *s = (spiffe_x509_source *)b;

	spiffe_x509_context_unref(s->cur);
	spiffe_tls_svid_unref(s->tls);
}

int spiffe_x509_source_new(spiffe_x509_source **out,
			   const spiffe_wlapi_options *o,
			   int startup_timeout_ms, spiffe_errbuf *eb)
{
	spiffe_wlapi_watcher w = { .x509_context = x509_update };
	void *s;
	int rc;

	rc = source_new(&s, sizeof(**out), o, SPIFFE_WLAPI_X509_CONTEXT, &w,
			startup_timeout_ms, "X.509 context", x509_drop, eb);
	*out = s;
	return rc;
}

void spiffe_x509_source_free(spiffe_x509_source *s)
{
	source_free(s != NULL ? &s->b : NULL, x509_drop);
}

spiffe_x509_context *spiffe_x509_source_get(spiffe_x509_source *s)
{
	spiffe_x509_context *c;

	pthread_mutex_lock(&s->b.mu);
	c = spiffe_x509_context_ref(s->cur);
	pthread_mutex_unlock(&s->b.mu);
	return c;
}

uint64_t spiffe_x509_source_version(spiffe_x509_source *s)
{
	uint64_t v;

	pthread_mutex_lock(&s->b.mu);
	v = s->b.version;
	pthread_mutex_unlock(&s->b.mu);
	return v;
}

static spiffe_tls_svid *x509_tls_svid(void *arg)
{
	spiffe_x509_source *s = arg;
	spiffe_tls_svid *v;

	pthread_mutex_lock(&s->b.mu);
	v = s->tls != NULL ? spiffe_tls_svid_ref(s->tls) : NULL;
	pthread_mutex_unlock(&s->b.mu);
	return v;
}

static spiffe_bundle_set *x509_bundles(void *arg)
{
	spiffe_x509_source *s = arg;
	spiffe_bundle_set *set;

	pthread_mutex_lock(&s->b.mu);
	set = spiffe_bundle_set_ref(s->cur->bundles);
	pthread_mutex_unlock(&s->b.mu);
	return set;
}

spiffe_svid_provider spiffe_x509_source_svid_provider(spiffe_x509_source *s)
{
	spiffe_svid_provider p = { x509_tls_svid, s };

	return p;
}

spiffe_bundle_provider spiffe_x509_source_bundle_provider(
	spiffe_x509_source *s)
{
	spiffe_bundle_provider p = { x509_bundles, s };

	return p;
}

/* ---- JWT -------------------------------------------------------------- */

static void jwt_update(void *arg, spiffe_bundle_set *set)
{
	spiffe_jwt_source *s = arg;
	spiffe_bundle_set *old;

	pthread_mutex_lock(&s->b.mu);
	old = s->cur;
	s->cur = spiffe_bundle_set_ref(set);
	s->b.version++;
	pthread_cond_broadcast(&s->b.cv);
	pthread_mutex_unlock(&s->b.mu);
	spiffe_bundle_set_unref(old);
}

static void jwt_drop(struct base *b)
{
	spiffe_jwt_source *s = (spiffe_jwt_source *)b;

	spiffe_bundle_set_unref(s->cur);
	for (size_t i = 0; i < s->ncache; i++) {
		free(s->cache[i].key);
		free(s->cache[i].token);
	}
}

int spiffe_jwt_source_new(spiffe_jwt_source **out,
			  const spiffe_wlapi_options *o,
			  int startup_timeout_ms, spiffe_errbuf *eb)
{
	spiffe_wlapi_watcher w = { .jwt_bundles = jwt_update };
	void *s;
	int rc;

	rc = source_new(&s, sizeof(**out), o, SPIFFE_WLAPI_JWT_BUNDLES, &w,
			startup_timeout_ms, "JWT bundles", jwt_drop, eb);
	*out = s;
	return rc;
}

void spiffe_jwt_source_free(spiffe_jwt_source *s)
{
	source_free(s != NULL ? &s->b : NULL, jwt_drop);
}

spiffe_bundle_set *spiffe_jwt_source_bundles(spiffe_jwt_source *s)
{
	spiffe_bundle_set *set;

	pthread_mutex_lock(&s->b.mu);
	set = spiffe_bundle_set_ref(s->cur);
	pthread_mutex_unlock(&s->b.mu);
	return set;
}

static spiffe_bundle_set *jwt_bundles(void *arg)
{
	return spiffe_jwt_source_bundles(arg);
}

spiffe_bundle_provider spiffe_jwt_source_bundle_provider(
	spiffe_jwt_source *s)
{
	spiffe_bundle_provider p = { jwt_bundles, s };

	return p;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * The cache key: the audiences sorted, each with its NUL, then an empty
 * string, then the ID: the same set in any order finds one entry.
 */
static char *cache_key(const char *const *aud, size_t naud,
		       const char *sid, size_t *len)
{
	const char *sorted[SPIFFE_JWT_MAX_AUDIENCES];
	size_t n = 1, off = 0;
	char *k;

	if (naud == 0 || naud > SPIFFE_JWT_MAX_AUDIENCES)
		return NULL;
	if (sid == NULL)
		sid = "";
	memcpy(sorted, aud, naud * sizeof(*aud));
	qsort(sorted, naud, sizeof(*sorted), str_cmp);
	for (size_t i = 0; i < naud; i++)
		n += strlen(sorted[i]) + 1;
	n += strlen(sid) + 1;
	if ((k = malloc(n)) == NULL)
		return NULL;
	for (size_t i = 0; i < naud; i++) {
		size_t l = strlen(sorted[i]) + 1;

		memcpy(k + off, sorted[i], l);
		off += l;
	}
	k[off++] = '\0';
	memcpy(k + off, sid, strlen(sid) + 1);
	*len = n;
	return k;
}

static struct jwt_entry *cache_find(spiffe_jwt_source *s, const char *key,
				    size_t len)
{
	for (size_t i = 0; i < s->ncache; i++) {
		if (s->cache[i].key_len == len &&
		    memcmp(s->cache[i].key, key, len) == 0)
			return &s->cache[i];
	}
	return NULL;
}

static char *copy_str(const char *p)
{
	size_t n = strlen(p) + 1;
	char *q = malloc(n);

	if (q != NULL)
		memcpy(q, p, n);
	return q;
}

/* Stores token under key (taken over); the least recently used entry
 * goes when the cache is full. */
static void cache_put(spiffe_jwt_source *s, char *key, size_t len,
		      char *token, int64_t exp, int64_t refresh_at)
{
	struct jwt_entry *e = cache_find(s, key, len);

	if (e == NULL && s->ncache < SPIFFE_WLAPI_JWT_CACHE) {
		e = &s->cache[s->ncache++];
	} else if (e == NULL) {
		e = &s->cache[0];
		for (size_t i = 1; i < s->ncache; i++) {
			if (s->cache[i].used < e->used)
				e = &s->cache[i];
		}
	}
	if (e->key != key)
		free(e->key);
	free(e->token);
	e->key = key;
	e->key_len = len;
	e->token = token;
	e->exp = exp;
	e->refresh_at = refresh_at;
	e->used = ++s->tick;
}

int spiffe_jwt_source_fetch(spiffe_jwt_source *s, const char *const *aud,
			    size_t naud, const char *sid, char **token,
			    spiffe_errbuf *eb)
{
	spiffe_wlapi_jwt *v = NULL;
	struct jwt_entry *e;
	size_t n = 0, klen = 0;
	char *key, *tok;
	int64_t now = spiffe_now(), start, life;
	int rc;

	*token = NULL;
	if (naud == 0 || naud > SPIFFE_JWT_MAX_AUDIENCES)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "need 1 to %d "
				   "audiences", SPIFFE_JWT_MAX_AUDIENCES);
	for (size_t i = 0; i < naud; i++) {
		if (aud[i] == NULL)
			return spiffe_fail(eb, SPIFFE_ERR_ARG, "audience %zu "
					   "is NULL", i);
	}
	if ((key = cache_key(aud, naud, sid, &klen)) == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	pthread_mutex_lock(&s->b.mu);
	e = cache_find(s, key, klen);
	if (e != NULL && now < e->refresh_at) {
		e->used = ++s->tick;
		*token = copy_str(e->token);
		pthread_mutex_unlock(&s->b.mu);
		free(key);
		return *token != NULL ? 0 : spiffe_fail(eb, SPIFFE_ERR_NOMEM,
							"out of memory");
	}
	pthread_mutex_unlock(&s->b.mu);

	rc = spiffe_wlapi_fetch_jwt_svids(s->b.c, aud, naud, sid, &v,
					  &n, eb);
	pthread_mutex_lock(&s->b.mu);
	if (rc != 0) {
		/* A token still valid serves while the agent is away. */
		e = cache_find(s, key, klen);
		if (e != NULL && spiffe_now() < e->exp)
			*token = copy_str(e->token);
		pthread_mutex_unlock(&s->b.mu);
		free(key);
		return *token != NULL ? 0 : rc;
	}
	/* Fetch again once half of the lifetime has passed. */
	start = v[0].svid.has_iat && v[0].svid.iat <= now ? v[0].svid.iat :
		now;
	life = v[0].svid.exp > start ? v[0].svid.exp - start : 0;
	tok = copy_str(v[0].token);
	*token = copy_str(v[0].token);
	if (tok != NULL && *token != NULL) {
		cache_put(s, key, klen, tok, v[0].svid.exp, start + life / 2);
		key = NULL;
		tok = NULL;
	}
	pthread_mutex_unlock(&s->b.mu);
	free(tok);
	free(key);
	spiffe_wlapi_jwt_free(v, n);
	if (*token == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	return 0;
}
