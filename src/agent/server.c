/*
 * server.c - the Workload API server (see server.h).
 *
 * Structure: the server holds a snapshot of the registry (its entries,
 * sorted by SPIFFE ID then entry ID) and, parallel to it, one cached
 * X.509-SVID per entry.  A connection holds its h2 session, its
 * attested workload, the indexes of the snapshot entries it matches
 * (recomputed when the snapshot changes) and its calls.  A call moves
 * from receiving its request, to live (answering, or streaming), to
 * done; what it has to send waits in k->out until h2 takes it, and a
 * status to end it with in k->fin, so a slow reader never makes the
 * server hold more than one response per stream.
 */
#include "agent/server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/wlmsg.h"
#include "clock.h"
#include "grpc.h"
#include "h2.h"
#include "json.h"
#include "jwtsvid.h"
#include "spiffeid.h"

/* ---- types -------------------------------------------------------------- */

enum rpc {
	RPC_NONE = 0,
	RPC_X509_SVID,
	RPC_X509_BUNDLES,
	RPC_JWT_SVID,
	RPC_JWT_BUNDLES,
	RPC_VALIDATE,
};

#define SERVICE "SpiffeWorkloadAPI"

static const struct method {
	const char *name;
	int rpc;
} methods[] = {
	{ "FetchX509SVID", RPC_X509_SVID },
	{ "FetchX509Bundles", RPC_X509_BUNDLES },
	{ "FetchJWTSVID", RPC_JWT_SVID },
	{ "FetchJWTBundles", RPC_JWT_BUNDLES },
	{ "ValidateJWTSVID", RPC_VALIDATE },
};

static const char *rpc_name(int rpc)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (methods[i].rpc == rpc)
			return methods[i].name;
	return "";
}

enum { C_RECV = 0, C_LIVE, C_DONE };

/* One stream. */
struct call {
	struct call *next;
	uint32_t id;
	int rpc;                /* enum rpc; RPC_NONE once refused */
	int state;
	spiffe_grpc_deframer df;
	int bad_encoding;       /* grpc-encoding other than identity */
	char encoding[32];
	uint8_t *req;           /* the request message */
	size_t req_len;
	unsigned nmsg;
	int hdr_sent;           /* response headers given to h2 */
	uint8_t *out;           /* framed message not yet taken by h2 */
	size_t out_len, out_off;
	int dirty;              /* a stream's state may have changed */
	int sent_once;          /* a bundle stream's response went out */
	uint64_t *sent;         /* versions of the SVIDs last sent */
	size_t nsent;
	int fin;                /* end with fin_code once out is sent */
	int fin_http;           /* :status of a refusal, 0: 200 */
	int fin_code;
	char *fin_msg;
};

struct conn {
	struct conn *prev, *next;
	spiffe_agent_server *srv;
	int fd;                 /* -1: a memory connection */
	spiffe_ev ev;
	uint32_t ev_mask;
	spiffe_timer preface;
	uint64_t rx;            /* bytes received */
	spiffe_h2_session h2;
	spiffe_agent_workload w;
	int attest_rc;          /* 0: attested */
	int pidfd;
	pid_t pid;              /* SO_PEERCRED, for logs (0: unknown) */
	uid_t uid;
	size_t *match;          /* snapshot indexes, in order */
	size_t nmatch;
	uint64_t match_gen;     /* snapshot generation of match, 0 none */
	struct call *calls;
	size_t ncalls;
	int closing;            /* flush what is queued, then close */
	size_t out_pending;     /* memory connection: bytes shown */
};

/* The X.509-SVID of one snapshot entry. */
struct item {
	spiffe_agent_x509svid svid;     /* cert NULL: none */
	uint64_t ver;                   /* unique per issue */
	int64_t refresh_ms;             /* monotonic: re-issue from here */
	int64_t refresh_at;             /* the same on the wall clock, s */
	int used;                       /* an open stream shows it */
};

/* A JWT-SVID kept for reuse while more than half its life is left. */
struct jwt_slot {
	uint8_t *key;           /* SPIFFE ID, TTL and audiences (jwt_key) */
	size_t key_len;
	char *token;
	size_t token_len;
	int64_t reuse_until;    /* wall clock, s */
	uint64_t used;          /* LRU clock */
};

struct spiffe_agent_server {
	spiffe_evloop *loop;
	spiffe_agent_ca *ca;
	spiffe_agent_registry *reg;
	spiffe_agent_attestor *att;
	spiffe_agent_server_config cfg;
	int lfd;
	spiffe_ev lev;
	spiffe_timer tick;
	spiffe_timer resume;            /* re-enables accept after EMFILE */
	spiffe_agent_entries snap;
	struct item *items;             /* parallel to snap.v */
	uint64_t gen;                   /* snapshot generation, from 1 */
	uint64_t reg_gen;               /* registry generation it shows */
	int need_snapshot;
	uint64_t ver;
	int reg_err;
	spiffe_errbuf reg_msg;
	struct conn *conns;
	size_t nconns;
	spiffe_id td_id;                /* spiffe://<td> */
	uint8_t *x509b_msg, *jwtb_msg;  /* the bundle responses, framed */
	size_t x509b_len, jwtb_len;
	struct jwt_slot jwt[SPIFFE_AGENT_JWT_CACHE];
	uint64_t jwt_clock;
	spiffe_agent_server_stats st;
};

/* After a failed re-issue, the old SVID is served and this is waited. */
#define RETRY_MS 1000

static void conn_flush(struct conn *c);
static void conn_close(struct conn *c);
static void schedule(spiffe_agent_server *s);

/* ---- logging ------------------------------------------------------------ */

static const spiffe_agent_log *lg(const spiffe_agent_server *s)
{
	return s->cfg.log;
}

/* Starts a line about connection c: its pid and uid. */
static void log_conn(spiffe_agent_logline *l, const struct conn *c,
		     int level, const char *msg)
{
	spiffe_agent_log_begin(l, lg(c->srv), level, msg);
	spiffe_agent_log_int(l, "pid", (int64_t)c->pid);
	spiffe_agent_log_int(l, "uid", (int64_t)c->uid);
}

/* The unix:path selector's value, or "" (a view into w). */
static const char *exe_path(const spiffe_agent_workload *w)
{
	static const char pre[] = "unix:path:";

	for (size_t i = 0; i < w->sel.n; i++)
		if (strncmp(w->sel.v[i], pre, sizeof(pre) - 1) == 0)
			return w->sel.v[i] + sizeof(pre) - 1;
	return "";
}

/* ---- the registry snapshot and the SVID cache -------------------------- */

static int entry_cmp(const spiffe_agent_entry *a, const spiffe_agent_entry *b)
{
	int r = strcmp(a->spiffe_id, b->spiffe_id);

	return r != 0 ? r : strcmp(a->id, b->id);
}

/*
 * An item issued for a carries over to b: same SPIFFE ID, entry ID and
 * TTL, and the same hint (a new item has a new version, so streams that
 * show it are sent the new hint).
 */
static int same_svid(const spiffe_agent_entry *a, const spiffe_agent_entry *b)
{
	return entry_cmp(a, b) == 0 && a->x509_svid_ttl == b->x509_svid_ttl &&
	       strcmp(a->hint, b->hint) == 0;
}

static void item_drop(struct item *it)
{
	spiffe_agent_x509svid_free(&it->svid);
	it->ver = 0;
	it->refresh_ms = 0;
	it->refresh_at = 0;
}

/*
 * Replaces the snapshot with the registry's entries, carrying over the
 * SVIDs of entries that did not change (both lists are sorted alike, so
 * one merge walk pairs them).
 */
static int snapshot(spiffe_agent_server *s)
{
	spiffe_agent_entries nl;
	struct item *ni;
	spiffe_errbuf eb;
	size_t j = 0;
	int rc;

	spiffe_agent_entries_init(&nl);
	/* Read first: a change after it shows at the next tick. */
	s->reg_gen = s->reg->generation;
	rc = spiffe_agent_registry_list(s->reg, &nl, &eb);
	if (rc == 0 &&
	    (ni = calloc(nl.n > 0 ? nl.n : 1, sizeof(*ni))) == NULL)
		rc = spiffe_fail(&eb, SPIFFE_ERR_NOMEM, "out of memory");
	if (rc != 0) {
		spiffe_agent_logline l;

		spiffe_agent_log_begin(&l, lg(s), SPIFFE_LOG_ERROR,
				       "Cannot read the registry");
		spiffe_agent_log_cstr(&l, "error", eb.msg);
		spiffe_agent_log_end(&l);
		spiffe_agent_entries_free(&nl);
		s->need_snapshot = 1;
		return rc;
	}
	for (size_t i = 0; i < nl.n; i++) {
		while (j < s->snap.n && entry_cmp(&s->snap.v[j], &nl.v[i]) < 0)
			j++;
		if (j < s->snap.n && same_svid(&s->snap.v[j], &nl.v[i])) {
			ni[i] = s->items[j];
			memset(&s->items[j], 0, sizeof(s->items[j]));
			j++;
		}
	}
	/* What was not carried over (moved items are zeroed). */
	for (j = 0; j < s->snap.n; j++)
		item_drop(&s->items[j]);
	free(s->items);
	spiffe_agent_entries_free(&s->snap);
	s->snap = nl;
	s->items = ni;
	s->gen++;
	s->need_snapshot = 0;
	return 0;
}

/* (Re-)issues the X.509-SVID of snapshot entry i. */
static int item_issue(spiffe_agent_server *s, size_t i, spiffe_errbuf *eb)
{
	const spiffe_agent_entry *e = &s->snap.v[i];
	struct item *it = &s->items[i];
	int64_t ttl = e->x509_svid_ttl ? e->x509_svid_ttl : s->cfg.x509_ttl;
	spiffe_agent_x509svid svid;
	spiffe_agent_logline l;
	spiffe_id *id;
	int64_t life;
	int rc;

	if ((id = malloc(sizeof(*id))) == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	spiffe_agent_x509svid_init(&svid);
	rc = spiffe_id_parse_cstr(id, e->spiffe_id, eb);
	if (rc == 0)
		rc = spiffe_agent_ca_issue_x509(s->ca, id, ttl, &svid, eb);
	free(id);
	if (rc != 0) {
		spiffe_agent_x509svid_free(&svid);
		return rc;
	}
	/* Half of what is left of its life (notBefore is backdated). */
	life = svid.not_after - spiffe_now();
	if (life < 0)
		life = 0;
	spiffe_agent_x509svid_free(&it->svid);
	it->svid = svid;
	it->ver = ++s->ver;
	it->refresh_ms = spiffe_monotonic_ms() + life * 500;
	it->refresh_at = spiffe_now() + life / 2;
	s->st.x509_issued++;
	spiffe_agent_log_begin(&l, lg(s), SPIFFE_LOG_DEBUG,
			       "Issued X.509-SVID");
	spiffe_agent_log_cstr(&l, "spiffe_id", e->spiffe_id);
	spiffe_agent_log_cstr(&l, "entry_id", e->id);
	spiffe_agent_log_int(&l, "expires_at", svid.not_after);
	spiffe_agent_log_end(&l);
	/* On failure the tick armed by schedule() still comes. */
	if ((s->tick.idx == 0 || it->refresh_ms < s->tick.when) &&
	    spiffe_timer_set(s->loop, &s->tick, it->refresh_ms) != 0)
		s->st.timer_errors++;
	return 0;
}

/*
 * 1 when item i has no SVID or is due for rotation, by the monotonic
 * clock (now, ms) or by the wall clock (which also runs while the host
 * sleeps: an SVID must not outlive its notAfter after a resume).
 */
static int item_due(const spiffe_agent_server *s, size_t i, int64_t now)
{
	const struct item *it = &s->items[i];

	return it->svid.cert == NULL || now >= it->refresh_ms ||
	       spiffe_now() >= it->refresh_at;
}

/* ---- matching ----------------------------------------------------------- */

static int matches(const struct conn *c, const spiffe_agent_entry *e)
{
	/* An entry without selectors never matches. */
	return c->attest_rc == 0 && e->sel.n > 0 &&
	       spiffe_selectors_subset(&e->sel, &c->w.sel);
}

/*
 * Brings c->match up to date with the snapshot (counted first, so a
 * connection holds only the indexes it matches); SPIFFE_ERR_NOMEM.
 */
static int conn_match(struct conn *c)
{
	spiffe_agent_server *s = c->srv;
	size_t n = 0;

	if (c->match_gen == s->gen)
		return 0;
	free(c->match);
	c->match = NULL;
	c->nmatch = 0;
	c->match_gen = 0;
	for (size_t i = 0; i < s->snap.n; i++)
		n += (size_t)matches(c, &s->snap.v[i]);
	if (n > 0 && (c->match = malloc(n * sizeof(*c->match))) == NULL)
		return SPIFFE_ERR_NOMEM;
	n = 0;
	for (size_t i = 0; i < s->snap.n; i++)
		if (matches(c, &s->snap.v[i]))
			c->match[n++] = i;
	c->nmatch = n;
	c->match_gen = s->gen;
	return 0;
}

/* 1 if a non-empty hint equal to e's is among entries idx[0..n). */
static int hint_taken(const spiffe_agent_server *s, const size_t *idx,
		      size_t n, const spiffe_agent_entry *e)
{
	if (e->hint[0] == '\0')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(s->snap.v[idx[i]].hint, e->hint) == 0)
			return 1;
	return 0;
}

static spiffe_agent_str str_of(const char *p)
{
	spiffe_agent_str v = { p, strlen(p) };

	return v;
}

/* ---- calls -------------------------------------------------------------- */

static struct call *call_find(struct conn *c, uint32_t id)
{
	for (struct call *k = c->calls; k != NULL; k = k->next)
		if (k->id == id)
			return k;
	return NULL;
}

static void call_release(struct call *k)
{
	spiffe_grpc_deframer_free(&k->df);
	free(k->req);
	k->req = NULL;
	free(k->out);
	k->out = NULL;
	free(k->sent);
	k->sent = NULL;
	free(k->fin_msg);
	k->fin_msg = NULL;
}

static void call_remove(struct conn *c, uint32_t id)
{
	for (struct call **pp = &c->calls; *pp != NULL; pp = &(*pp)->next) {
		struct call *k = *pp;

		if (k->id == id) {
			*pp = k->next;
			call_release(k);
			free(k);
			c->ncalls--;
			return;
		}
	}
}

/*
 * Ends call k with status code and a formatted message, after whatever
 * response it has begun to send.  A failed call's response not yet
 * begun is dropped.  http is the :status of a refusal (0: 200).
 */
static void call_fin(struct conn *c, struct call *k, int http, int code,
		     const char *fmt, ...) SPIFFE_PRINTF(5, 6);

static void call_fin(struct conn *c, struct call *k, int http, int code,
		     const char *fmt, ...)
{
	va_list ap;

	if (k->fin || k->state == C_DONE)
		return;
	k->fin = 1;
	k->fin_http = http;
	k->fin_code = code;
	k->state = C_LIVE;
	k->dirty = 0;
	spiffe_grpc_deframer_free(&k->df);
	free(k->req);
	k->req = NULL;
	k->fin_msg = malloc(SPIFFE_GRPC_MAX_SENT_MESSAGE + 1);
	if (k->fin_msg != NULL) {
		va_start(ap, fmt);
		vsnprintf(k->fin_msg, SPIFFE_GRPC_MAX_SENT_MESSAGE + 1, fmt,
			  ap);
		va_end(ap);
	}
	if (code != SPIFFE_GRPC_OK && k->out != NULL && k->out_off == 0) {
		free(k->out);
		k->out = NULL;
	}
	if (code != SPIFFE_GRPC_OK) {
		spiffe_agent_logline l;

		log_conn(&l, c, code == SPIFFE_GRPC_CANCELLED ?
			 SPIFFE_LOG_DEBUG : SPIFFE_LOG_ERROR, "Call failed");
		if (k->rpc != RPC_NONE)
			spiffe_agent_log_cstr(&l, "method", rpc_name(k->rpc));
		spiffe_agent_log_cstr(&l, "code",
				      spiffe_grpc_code_name(code));
		spiffe_agent_log_cstr(&l, "error", k->fin_msg);
		spiffe_agent_log_end(&l);
	}
}

/* The stream is gone or unusable: stop everything but the close. */
static void call_done(struct call *k)
{
	k->state = C_DONE;
	free(k->out);
	k->out = NULL;
}

/* Sets a response message for k (taking buf) or fails it. */
static void call_send(struct conn *c, struct call *k, int rc, uint8_t *buf,
		      size_t len)
{
	if (rc != 0) {
		free(buf);
		call_fin(c, k, 0, rc == SPIFFE_ERR_LIMIT ?
			 SPIFFE_GRPC_RESOURCE_EXHAUSTED :
			 SPIFFE_GRPC_INTERNAL, "could not serialize "
			 "response: %s", spiffe_strerror(rc));
		return;
	}
	free(k->out);
	k->out = buf;
	k->out_len = len;
	k->out_off = 0;
}

/*
 * Is the caller still the process attested at connect?  If not, fails
 * k and returns 0.
 */
static int peer_ok(struct conn *c, struct call *k)
{
	spiffe_errbuf eb;

	if (c->attest_rc != 0) {
		call_fin(c, k, 0, SPIFFE_GRPC_UNAVAILABLE,
			 "workload attestation failed");
		return 0;
	}
	if (c->fd >= 0 && spiffe_agent_attest_check(&c->w, c->pidfd,
						    &eb) != 0) {
		call_fin(c, k, 0, SPIFFE_GRPC_UNAUTHENTICATED,
			 "could not verify existence of the original "
			 "caller: %s", eb.msg);
		return 0;
	}
	return 1;
}

/* Matches, or fails k with PermissionDenied; 1 when there are entries. */
static int entitled(struct conn *c, struct call *k)
{
	if (conn_match(c) != 0) {
		call_fin(c, k, 0, SPIFFE_GRPC_UNAVAILABLE, "out of memory");
		return 0;
	}
	if (c->nmatch == 0) {
		call_fin(c, k, 0, SPIFFE_GRPC_PERMISSION_DENIED,
			 "no identity issued");
		return 0;
	}
	return 1;
}

/* The current X509SVIDResponse for k, if it differs from what went. */
static void build_x509(struct conn *c, struct call *k)
{
	spiffe_agent_server *s = c->srv;
	spiffe_agent_x509_item *v;
	const uint8_t *bundle;
	size_t *idx, n = 0, blen;
	uint64_t *vers;
	int64_t now = spiffe_monotonic_ms();
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	v = malloc(c->nmatch * sizeof(*v));
	vers = malloc(c->nmatch * sizeof(*vers));
	idx = malloc(c->nmatch * sizeof(*idx));
	if (v == NULL || vers == NULL || idx == NULL) {
		call_fin(c, k, 0, SPIFFE_GRPC_UNAVAILABLE, "out of memory");
		goto out;
	}
	for (size_t m = 0; m < c->nmatch; m++) {
		size_t i = c->match[m];
		const spiffe_agent_entry *e = &s->snap.v[i];
		struct item *it = &s->items[i];
		spiffe_errbuf eb;

		if (hint_taken(s, idx, n, e))
			continue;
		if (item_due(s, i, now) &&
		    (rc = item_issue(s, i, &eb)) != 0) {
			spiffe_agent_logline l;

			spiffe_agent_log_begin(&l, lg(s), SPIFFE_LOG_ERROR,
					       "Cannot issue X.509-SVID");
			spiffe_agent_log_cstr(&l, "spiffe_id", e->spiffe_id);
			spiffe_agent_log_cstr(&l, "error", eb.msg);
			spiffe_agent_log_end(&l);
			/* Keep serving an old SVID while it is valid, and
			 * try again in a second, not at every turn. */
			if (it->svid.cert == NULL ||
			    spiffe_now() >= it->svid.not_after) {
				call_fin(c, k, 0, SPIFFE_GRPC_UNAVAILABLE,
					 "could not issue X.509-SVID for %s: "
					 "%s", e->spiffe_id, eb.msg);
				goto out;
			}
			it->refresh_ms = now + RETRY_MS;
			it->refresh_at = spiffe_now() + RETRY_MS / 1000;
		}
		it->used = 1;
		idx[n] = i;
		v[n].spiffe_id = str_of(e->spiffe_id);
		v[n].cert = it->svid.cert;
		v[n].cert_len = it->svid.cert_len;
		v[n].key = it->svid.key;
		v[n].key_len = it->svid.key_len;
		v[n].hint = str_of(e->hint);
		vers[n] = it->ver;
		n++;
	}
	if (k->sent != NULL && k->nsent == n &&
	    memcmp(k->sent, vers, n * sizeof(*vers)) == 0)
		goto out;
	bundle = spiffe_agent_ca_x509_bundle(s->ca, &blen);
	rc = spiffe_agent_encode_x509_svids(v, n, bundle, blen, &buf, &len);
	call_send(c, k, rc, buf, len);
	if (rc == 0) {
		free(k->sent);
		k->sent = vers;
		k->nsent = n;
		vers = NULL;
	}
out:
	free(v);
	free(vers);
	free(idx);
}

/* A copy of a prebuilt bundle response. */
static void build_bundle(struct conn *c, struct call *k, const uint8_t *msg,
			 size_t len)
{
	uint8_t *buf;

	if (k->sent_once)
		return;
	k->sent_once = 1;
	if ((buf = malloc(len)) == NULL) {
		call_send(c, k, SPIFFE_ERR_NOMEM, NULL, 0);
		return;
	}
	memcpy(buf, msg, len);
	call_send(c, k, 0, buf, len);
}

/* Recomputes a stream's state; queues a response or ends the stream. */
static void build(struct conn *c, struct call *k)
{
	spiffe_agent_server *s = c->srv;

	if (!entitled(c, k))
		return;
	switch (k->rpc) {
	case RPC_X509_SVID:
		build_x509(c, k);
		break;
	case RPC_X509_BUNDLES:
		build_bundle(c, k, s->x509b_msg, s->x509b_len);
		break;
	case RPC_JWT_BUNDLES:
		build_bundle(c, k, s->jwtb_msg, s->jwtb_len);
		break;
	}
}

/* ---- the JWT-SVID cache ------------------------------------------------- */

/*
 * The cache key of a token: each field as a 4-byte length and its bytes
 * (so no two lists encode alike).  With out NULL, only counts.
 */
static size_t jwt_key(uint8_t *out, const char *id, int64_t ttl,
		      const spiffe_agent_str *aud, size_t naud)
{
	size_t o = 0, idlen = strlen(id);

#define PUT(p, n) do {                                                   \
		if (out != NULL) {                                       \
			out[o] = (uint8_t)((n) >> 24);                   \
			out[o + 1] = (uint8_t)((n) >> 16);               \
			out[o + 2] = (uint8_t)((n) >> 8);                \
			out[o + 3] = (uint8_t)(n);                       \
			if ((n) > 0)                                     \
				memcpy(out + o + 4, (p), (n));           \
		}                                                        \
		o += 4 + (n);                                            \
	} while (0)
	PUT(id, idlen);
	PUT(&ttl, sizeof(ttl));
	for (size_t i = 0; i < naud; i++)
		PUT(aud[i].p, aud[i].len);
#undef PUT
	return o;
}

/* A token for key still fresh enough to hand out again, or NULL. */
static struct jwt_slot *jwt_find(spiffe_agent_server *s, const uint8_t *key,
				 size_t len, int64_t now)
{
	for (size_t i = 0; i < SPIFFE_AGENT_JWT_CACHE; i++) {
		struct jwt_slot *j = &s->jwt[i];

		if (j->key != NULL && j->key_len == len &&
		    memcmp(j->key, key, len) == 0 && now < j->reuse_until) {
			j->used = ++s->jwt_clock;
			return j;
		}
	}
	return NULL;
}

static void jwt_slot_free(struct jwt_slot *j)
{
	free(j->key);
	free(j->token);
	memset(j, 0, sizeof(*j));
}

/* Keeps a copy of token under key (takes key), evicting the LRU slot. */
static void jwt_keep(spiffe_agent_server *s, uint8_t *key, size_t len,
		     const char *token, size_t token_len, int64_t reuse_until)
{
	struct jwt_slot *v = &s->jwt[0];
	char *t = malloc(token_len + 1);

	if (t == NULL) {
		free(key);
		return;
	}
	memcpy(t, token, token_len + 1);
	for (size_t i = 0; i < SPIFFE_AGENT_JWT_CACHE; i++) {
		struct jwt_slot *j = &s->jwt[i];

		/* The same key again (an expired one): replace it. */
		if (j->key == NULL || (j->key_len == len &&
				       memcmp(j->key, key, len) == 0)) {
			v = j;
			break;
		}
		if (j->used < v->used)
			v = j;
	}
	jwt_slot_free(v);
	v->key = key;
	v->key_len = len;
	v->token = t;
	v->token_len = token_len;
	v->reuse_until = reuse_until;
	v->used = ++s->jwt_clock;
}

/*
 * The JWT-SVID of entry e for the audiences in r: a cached one with
 * more than half its life left, or a new one.  *token (from malloc) and
 * *len; 0 or an error with eb set.
 */
static int jwt_get(spiffe_agent_server *s, const spiffe_agent_entry *e,
		   const spiffe_agent_jwt_req *r, char **token, size_t *len,
		   spiffe_errbuf *eb)
{
	int64_t ttl = e->jwt_svid_ttl ? e->jwt_svid_ttl : s->cfg.jwt_ttl;
	int64_t now = spiffe_now(), life;
	struct jwt_slot *j;
	spiffe_id *id;
	uint8_t *key;
	size_t klen;
	int rc;

	if (ttl == 0)
		ttl = SPIFFE_AGENT_JWT_TTL;
	klen = jwt_key(NULL, e->spiffe_id, ttl, r->aud, r->naud);
	if ((key = malloc(klen)) == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	jwt_key(key, e->spiffe_id, ttl, r->aud, r->naud);
	if ((j = jwt_find(s, key, klen, now)) != NULL) {
		free(key);
		if ((*token = malloc(j->token_len + 1)) == NULL)
			return spiffe_fail(eb, SPIFFE_ERR_NOMEM,
					   "out of memory");
		memcpy(*token, j->token, j->token_len + 1);
		*len = j->token_len;
		s->st.jwt_reused++;
		return 0;
	}
	if ((id = malloc(sizeof(*id))) == NULL) {
		free(key);
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	}
	rc = spiffe_id_parse_cstr(id, e->spiffe_id, eb);
	if (rc == 0)
		rc = spiffe_agent_ca_issue_jwt(s->ca, id, r->aud, r->naud, ttl,
					       token, len, eb);
	free(id);
	if (rc != 0) {
		free(key);
		return rc;
	}
	s->st.jwt_issued++;
	/* Reused for half its life, and never past the root's. */
	life = ttl / 2;
	if (now + life > s->ca->not_after)
		life = s->ca->not_after - now;
	jwt_keep(s, key, klen, *token, *len, now + life);
	return 0;
}

static void do_jwt(struct conn *c, struct call *k)
{
	spiffe_agent_server *s = c->srv;
	spiffe_agent_jwt_req r;
	spiffe_agent_jwt_item *v = NULL;
	size_t *idx = NULL, n = 0;
	char **tokens = NULL;
	spiffe_id *id = NULL;
	spiffe_errbuf eb;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	rc = spiffe_agent_decode_jwt_req(k->req, k->req_len, &r, &eb);
	if (rc == SPIFFE_ERR_LIMIT) {
		call_fin(c, k, 0, SPIFFE_GRPC_INVALID_ARGUMENT, "%s", eb.msg);
		return;
	}
	if (rc != 0) {
		call_fin(c, k, 0, SPIFFE_GRPC_INTERNAL, "grpc: error "
			 "unmarshalling request: %s", eb.msg);
		return;
	}
	if (r.naud == 0) {
		call_fin(c, k, 0, SPIFFE_GRPC_INVALID_ARGUMENT,
			 "audience must be specified");
		return;
	}
	if ((id = malloc(sizeof(*id))) == NULL) {
		call_fin(c, k, 0, SPIFFE_GRPC_UNAVAILABLE, "out of memory");
		return;
	}
	if (r.spiffe_id.len > 0 &&
	    spiffe_id_parse(id, r.spiffe_id.p, r.spiffe_id.len, &eb) != 0) {
		call_fin(c, k, 0, SPIFFE_GRPC_INVALID_ARGUMENT,
			 "invalid requested SPIFFE ID: %s", eb.msg);
		goto out;
	}
	if (!peer_ok(c, k) || !entitled(c, k))
		goto out;
	v = calloc(c->nmatch, sizeof(*v));
	idx = calloc(c->nmatch, sizeof(*idx));
	tokens = calloc(c->nmatch, sizeof(*tokens));
	if (v == NULL || idx == NULL || tokens == NULL) {
		call_fin(c, k, 0, SPIFFE_GRPC_UNAVAILABLE, "out of memory");
		goto out;
	}
	for (size_t m = 0; m < c->nmatch; m++) {
		size_t i = c->match[m];
		const spiffe_agent_entry *e = &s->snap.v[i];
		size_t tlen;

		if (r.spiffe_id.len > 0 && strcmp(e->spiffe_id, id->str) != 0)
			continue;
		if (hint_taken(s, idx, n, e))
			continue;
		rc = jwt_get(s, e, &r, &tokens[n], &tlen, &eb);
		if (rc == SPIFFE_ERR_ARG || rc == SPIFFE_ERR_LIMIT) {
			call_fin(c, k, 0, SPIFFE_GRPC_INVALID_ARGUMENT, "%s",
				 eb.msg);
			goto out;
		}
		if (rc != 0) {
			call_fin(c, k, 0, SPIFFE_GRPC_UNAVAILABLE, "could not "
				 "fetch JWT-SVID: %s", eb.msg);
			goto out;
		}
		idx[n] = i;
		v[n].spiffe_id = str_of(e->spiffe_id);
		v[n].token.p = tokens[n];
		v[n].token.len = tlen;
		v[n].hint = str_of(e->hint);
		n++;
	}
	if (n == 0) {
		call_fin(c, k, 0, SPIFFE_GRPC_PERMISSION_DENIED,
			 "no identity issued");
		goto out;
	}
	rc = spiffe_agent_encode_jwt_svids(v, n, &buf, &len);
	call_send(c, k, rc, buf, len);
	if (rc == 0)
		call_fin(c, k, 0, SPIFFE_GRPC_OK, "%s", "");
out:
	for (size_t i = 0; tokens != NULL && i < n; i++)
		free(tokens[i]);
	free(tokens);
	free(idx);
	free(v);
	free(id);
}

static void do_validate(struct conn *c, struct call *k)
{
	spiffe_agent_validate_req r;
	spiffe_jwt_svid sv;
	spiffe_errbuf eb;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	rc = spiffe_agent_decode_validate_req(k->req, k->req_len, &r, &eb);
	if (rc != 0) {
		call_fin(c, k, 0, SPIFFE_GRPC_INTERNAL, "grpc: error "
			 "unmarshalling request: %s", eb.msg);
		return;
	}
	if (r.audience.len == 0) {
		call_fin(c, k, 0, SPIFFE_GRPC_INVALID_ARGUMENT,
			 "audience must be specified");
		return;
	}
	if (r.svid.len == 0) {
		call_fin(c, k, 0, SPIFFE_GRPC_INVALID_ARGUMENT,
			 "svid must be specified");
		return;
	}
	if (!peer_ok(c, k) || !entitled(c, k))
		return;
	spiffe_jwtsvid_init(&sv);
	rc = spiffe_agent_ca_validate_jwt(c->srv->ca, r.svid.p, r.svid.len,
					  r.audience.p, r.audience.len, &sv,
					  &eb);
	if (rc != 0) {
		call_fin(c, k, 0, SPIFFE_GRPC_INVALID_ARGUMENT, "%s", eb.msg);
		spiffe_jwtsvid_free(&sv);
		return;
	}
	rc = spiffe_agent_encode_validate(sv.id.str, sv.id.len,
					  &sv.claims_json, &buf, &len, &eb);
	spiffe_jwtsvid_free(&sv);
	call_send(c, k, rc, buf, len);
	if (rc == 0)
		call_fin(c, k, 0, SPIFFE_GRPC_OK, "%s", "");
}

/* The request is complete: answer it. */
static void dispatch(struct conn *c, struct call *k)
{
	spiffe_errbuf eb;

	switch (k->rpc) {
	case RPC_X509_SVID:
	case RPC_X509_BUNDLES:
	case RPC_JWT_BUNDLES:
		if (spiffe_agent_decode_empty(k->req, k->req_len, &eb) != 0) {
			call_fin(c, k, 0, SPIFFE_GRPC_INTERNAL, "grpc: error "
				 "unmarshalling request: %s", eb.msg);
			break;
		}
		if (!peer_ok(c, k))
			break;
		k->state = C_LIVE;
		k->dirty = 1;
		break;
	case RPC_JWT_SVID:
		do_jwt(c, k);
		break;
	case RPC_VALIDATE:
		do_validate(c, k);
		break;
	}
	free(k->req);
	k->req = NULL;
	if (k->state == C_RECV)
		k->state = C_LIVE;
}

/* The client ended its side of k. */
static void input_end(struct conn *c, struct call *k)
{
	if (k->fin || k->state != C_RECV)
		return;
	if (spiffe_grpc_deframer_partial(&k->df))
		call_fin(c, k, 0, SPIFFE_GRPC_INTERNAL, "grpc: the request "
			 "ended inside a message (unexpected EOF)");
	else if (k->nmsg == 0)
		call_fin(c, k, 0, SPIFFE_GRPC_INTERNAL, "grpc: client "
			 "streaming protocol violation: get <EOF>, want "
			 "<msg>");
	else
		dispatch(c, k);
}

/*
 * Moves what k has to send into h2 as far as the stream's send queue
 * and the output buffer allow; builds a stream's next response when it
 * is marked dirty and nothing is pending.
 */
static void call_pump(struct conn *c, struct call *k)
{
	spiffe_grpc_trailers *t;
	const spiffe_header *ok;
	size_t nok;
	int rc;

	for (;;) {
		if (k->state == C_DONE)
			return;
		if (k->out != NULL) {
			if (!k->hdr_sent) {
				ok = spiffe_grpc_response_ok(&nok);
				rc = spiffe_h2_submit_response(&c->h2, k->id,
							       ok, nok, 0);
				if (rc == SPIFFE_ERR_AGAIN)
					return;
				if (rc != 0) {
					call_done(k);
					return;
				}
				k->hdr_sent = 1;
			}
			while (k->out_off < k->out_len) {
				size_t room = spiffe_h2_send_room(&c->h2,
								  k->id);
				size_t left = k->out_len - k->out_off, acc;

				if (room == 0)
					return;
				rc = spiffe_h2_send_data(&c->h2, k->id,
							 k->out + k->out_off,
							 left < room ? left :
							 room, 0, &acc);
				if (rc != 0) {
					call_done(k);
					return;
				}
				if (acc == 0)
					return;
				k->out_off += acc;
			}
			free(k->out);
			k->out = NULL;
			continue;
		}
		if (k->fin) {
			if ((t = malloc(sizeof(*t))) == NULL)
				return;
			spiffe_grpc_trailers_set(t, k->hdr_sent ? 0 :
						 k->fin_http ? k->fin_http :
						 200, k->fin_code,
						 k->fin_msg ? k->fin_msg : "",
						 k->fin_msg ?
						 strlen(k->fin_msg) : 0);
			if (k->hdr_sent)
				rc = spiffe_h2_submit_trailers(&c->h2, k->id,
							       t->h, t->n);
			else
				rc = spiffe_h2_submit_response(&c->h2, k->id,
							       t->h, t->n, 1);
			free(t);
			if (rc == SPIFFE_ERR_AGAIN)
				return;
			call_done(k);
			return;
		}
		if (k->dirty && k->state == C_LIVE) {
			k->dirty = 0;
			build(c, k);
			if (k->out != NULL || k->fin)
				continue;
		}
		return;
	}
}

static void pump_all(struct conn *c)
{
	for (struct call *k = c->calls; k != NULL; k = k->next)
		call_pump(c, k);
}

/* ---- HTTP/2 callbacks --------------------------------------------------- */

/* Which RPC path p[0..len) names; fails k as grpc-go does if none. */
static int route(struct conn *c, struct call *k, const uint8_t *p,
		 size_t len)
{
	const char *sm = (const char *)p;
	size_t slen = len, pos;
	int shown = len > 200 ? 200 : (int)len;

	if (slen > 0 && sm[0] == '/') {
		sm++;
		slen--;
	}
	for (pos = slen; pos > 0 && sm[pos - 1] != '/'; pos--)
		;
	if (pos == 0) {
		call_fin(c, k, 0, SPIFFE_GRPC_UNIMPLEMENTED, "malformed "
			 "method name: \"%.*s\"", shown, (const char *)p);
		return RPC_NONE;
	}
	if (pos - 1 != sizeof(SERVICE) - 1 ||
	    memcmp(sm, SERVICE, sizeof(SERVICE) - 1) != 0) {
		call_fin(c, k, 0, SPIFFE_GRPC_UNIMPLEMENTED, "unknown service "
			 "%.*s", (int)(pos - 1 > 200 ? 200 : pos - 1), sm);
		return RPC_NONE;
	}
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strlen(methods[i].name) == slen - pos &&
		    memcmp(methods[i].name, sm + pos, slen - pos) == 0)
			return methods[i].rpc;
	call_fin(c, k, 0, SPIFFE_GRPC_UNIMPLEMENTED, "unknown method %.*s for "
		 "service " SERVICE, (int)(slen - pos > 200 ? 200 :
					   slen - pos), sm + pos);
	return RPC_NONE;
}

static void on_headers(void *ctx, uint32_t id, const spiffe_header *h,
		       size_t n, unsigned flags)
{
	struct conn *c = ctx;
	struct call *k = call_find(c, id);
	spiffe_grpc_server_req r;
	spiffe_grpc_status st;
	const uint8_t *v;
	size_t vlen;
	int http;

	if (flags & SPIFFE_H2_TRAILERS) {
		if (k != NULL)
			input_end(c, k);
		return;
	}
	if (k != NULL)
		return;
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		if (spiffe_h2_reset(&c->h2, id, SPIFFE_H2_INTERNAL_ERROR) != 0)
			c->closing = 1;
		return;
	}
	k->id = id;
	k->next = c->calls;
	c->calls = k;
	c->ncalls++;
	spiffe_grpc_deframer_init(&k->df, SPIFFE_AGENT_MAX_REQUEST);
	if (spiffe_grpc_server_request(h, n, &r, &http, &st) != 0) {
		call_fin(c, k, http, st.code, "%s", st.msg);
	} else if ((k->rpc = route(c, k, r.path, r.path_len)) != RPC_NONE) {
		/* SPIRE: exactly one value, exactly "true". */
		if (spiffe_grpc_metadata(h, n, "workload.spiffe.io", &v,
					 &vlen) != 1 || vlen != 4 ||
		    memcmp(v, "true", 4) != 0)
			call_fin(c, k, 0, SPIFFE_GRPC_INVALID_ARGUMENT,
				 "security header missing from request");
		if (r.encoding != NULL &&
		    !(r.encoding_len == 8 &&
		      memcmp(r.encoding, "identity", 8) == 0)) {
			size_t m = r.encoding_len < sizeof(k->encoding) ?
				   r.encoding_len : sizeof(k->encoding) - 1;

			k->bad_encoding = 1;
			memcpy(k->encoding, r.encoding, m);
			k->encoding[m] = '\0';
		}
	}
	if (flags & SPIFFE_H2_END_STREAM)
		input_end(c, k);
}

static void on_data(void *ctx, uint32_t id, const uint8_t *p, size_t len,
		    int end)
{
	struct conn *c = ctx;
	struct call *k = call_find(c, id);
	spiffe_errbuf eb;

	/* Consumed at once: what a call keeps is bounded by its deframer.
	 * Bytes of a closed stream fail here and need nothing. */
	if (spiffe_h2_consume(&c->h2, id, len) != 0)
		k = NULL;
	if (k == NULL || k->fin || k->state != C_RECV)
		return;
	while (len > 0) {
		size_t used, mlen;
		uint8_t *msg;
		int rc;

		rc = spiffe_grpc_deframer_feed(&k->df, p, len, &used, &msg,
					       &mlen, &eb);
		if (rc == SPIFFE_ERR_LIMIT) {
			call_fin(c, k, 0, SPIFFE_GRPC_RESOURCE_EXHAUSTED, "%s",
				 eb.msg);
			return;
		}
		if (rc < 0 && spiffe_grpc_deframer_compressed(&k->df)) {
			if (k->bad_encoding)
				call_fin(c, k, 0, SPIFFE_GRPC_UNIMPLEMENTED,
					 "grpc: Decompressor is not installed "
					 "for grpc-encoding \"%s\"",
					 k->encoding);
			else
				call_fin(c, k, 0, SPIFFE_GRPC_INTERNAL,
					 "grpc: compressed flag set with "
					 "identity or empty encoding");
			return;
		}
		if (rc < 0) {
			call_fin(c, k, 0, SPIFFE_GRPC_INTERNAL, "%s", eb.msg);
			return;
		}
		p += used;
		len -= used;
		if (rc == 1) {
			if (k->nmsg++ == 0) {
				k->req = msg;
				k->req_len = mlen;
			} else {
				free(msg);
				call_fin(c, k, 0, SPIFFE_GRPC_INTERNAL,
					 "grpc: client streaming protocol "
					 "violation: get <msg>, want <EOF>");
				return;
			}
		} else if (used == 0) {
			break;
		}
	}
	if (end)
		input_end(c, k);
}

static void on_stream_close(void *ctx, uint32_t id, uint32_t code)
{
	call_remove(ctx, id);
}

static const spiffe_h2_callbacks h2_cbs = {
	on_headers, on_data, on_stream_close, NULL, NULL,
};

/* ---- connections -------------------------------------------------------- */

static void conn_set_events(struct conn *c, uint32_t mask)
{
	if (c->fd < 0 || c->ev_mask == mask)
		return;
	if (spiffe_evloop_mod(c->srv->loop, &c->ev, mask) == 0)
		c->ev_mask = mask;
}

static void conn_close(struct conn *c)
{
	spiffe_agent_server *s = c->srv;
	spiffe_agent_logline l;

	log_conn(&l, c, SPIFFE_LOG_DEBUG, "Connection closed");
	spiffe_agent_log_end(&l);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	s->nconns--;
	spiffe_timer_cancel(s->loop, &c->preface);
	if (c->fd >= 0) {
		spiffe_evloop_del(s->loop, &c->ev);
		close(c->fd);
	}
	if (c->pidfd >= 0)
		close(c->pidfd);
	while (c->calls != NULL)
		call_remove(c, c->calls->id);
	spiffe_h2_free(&c->h2);
	spiffe_agent_workload_free(&c->w);
	free(c->match);
	free(c);
}

/*
 * Moves queued responses into h2 and h2's output to the socket until
 * the socket would block or nothing is left; closes the connection when
 * it is done.  Returns with c possibly freed: callers touch c no more.
 */
static void conn_flush(struct conn *c)
{
	const uint8_t *p;
	size_t len = 0;

	for (;;) {
		pump_all(c);
		if (spiffe_h2_output(&c->h2, &p, &len) != 0)
			break;
		if (len == 0 || c->fd < 0)
			break;
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0 || spiffe_h2_output_consumed(&c->h2,
							(size_t)n) != 0) {
			conn_close(c);
			return;
		}
	}
	if (c->fd < 0)
		return;
	if (c->closing || (len == 0 && spiffe_h2_done(&c->h2))) {
		conn_close(c);
		return;
	}
	conn_set_events(c, SPIFFE_EV_IN | (len > 0 ? SPIFFE_EV_OUT : 0));
}

static void log_h2_error(const struct conn *c)
{
	spiffe_agent_logline l;

	log_conn(&l, c, SPIFFE_LOG_WARN,
		 "Closing connection after an HTTP/2 error");
	spiffe_agent_log_cstr(&l, "error", spiffe_h2_errmsg(&c->h2));
	spiffe_agent_log_end(&l);
}

static void on_conn_io(spiffe_evloop *l, void *arg, uint32_t events)
{
	struct conn *c = arg;
	uint8_t buf[16384];

	if (events & (SPIFFE_EV_IN | SPIFFE_EV_ERR | SPIFFE_EV_HUP)) {
		/* A few reads a round, so one busy peer cannot starve the
		 * others (the loop is level-triggered). */
		for (int round = 0; round < 4; round++) {
			ssize_t n = recv(c->fd, buf, sizeof(buf),
					 MSG_DONTWAIT);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN ||
				      errno == EWOULDBLOCK))
				break;
			if (n <= 0) {
				conn_close(c);
				return;
			}
			c->rx += (uint64_t)n;
			if (c->rx >= 24)
				spiffe_timer_cancel(l, &c->preface);
			if (spiffe_h2_feed(&c->h2, buf, (size_t)n) != 0) {
				log_h2_error(c);
				c->closing = 1;
				break;
			}
			if ((size_t)n < sizeof(buf))
				break;
		}
	}
	conn_flush(c);
}

static void on_preface_timeout(spiffe_evloop *l, void *arg)
{
	struct conn *c = arg;
	spiffe_agent_logline ll;

	log_conn(&ll, c, SPIFFE_LOG_WARN, "Closing connection that sent no "
		 "HTTP/2 preface");
	spiffe_agent_log_end(&ll);
	conn_close(c);
}

/* A new connection; fd < 0 for a memory one.  NULL on failure. */
static struct conn *conn_new(spiffe_agent_server *s, int fd)
{
	spiffe_h2_options opt = { 0, 0, SPIFFE_AGENT_MAX_STREAMS };
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->srv = s;
	c->fd = fd;
	c->pidfd = -1;
	spiffe_agent_workload_init(&c->w);
	if (spiffe_h2_init(&c->h2, SPIFFE_H2_SERVER, &h2_cbs, c, &opt) != 0) {
		spiffe_h2_free(&c->h2);
		free(c);
		return NULL;
	}
	c->preface.fn = on_preface_timeout;
	c->preface.arg = c;
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	return c;
}

/* Attests a new socket connection and logs the outcome. */
static void conn_attest(struct conn *c)
{
	spiffe_agent_server *s = c->srv;
	spiffe_agent_logline l;
	spiffe_errbuf eb;

	struct ucred cred;
	socklen_t sl = sizeof(cred);

	/* Who it claims to be, for the log even if attestation fails. */
	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &sl) == 0 &&
	    sl == sizeof(cred)) {
		c->pid = cred.pid;
		c->uid = cred.uid;
	}
	c->attest_rc = spiffe_agent_attest_fd_pinned(s->att, c->fd, &c->w,
						     &c->pidfd, &eb);
	if (c->attest_rc != 0) {
		log_conn(&l, c, SPIFFE_LOG_ERROR,
			 "Workload attestation failed");
		spiffe_agent_log_cstr(&l, "error", eb.msg);
		spiffe_agent_log_end(&l);
		return;
	}
	if (conn_match(c) != 0)
		c->match_gen = 0;
	log_conn(&l, c, SPIFFE_LOG_INFO, "Workload attested");
	spiffe_agent_log_int(&l, "gid", (int64_t)c->w.gid);
	spiffe_agent_log_cstr(&l, "path", exe_path(&c->w));
	spiffe_agent_log_int(&l, "entries", (int64_t)c->nmatch);
	if (spiffe_agent_log_on(lg(s), SPIFFE_LOG_INFO)) {
		char ids[1024];
		size_t o = 0;

		ids[0] = '\0';
		for (size_t m = 0; m < c->nmatch; m++) {
			const char *id = s->snap.v[c->match[m]].spiffe_id;
			int w = snprintf(ids + o, sizeof(ids) - o, "%s%s",
					 m > 0 ? "," : "", id);

			if (w < 0 || (size_t)w >= sizeof(ids) - o)
				break;
			o += (size_t)w;
		}
		spiffe_agent_log_cstr(&l, "spiffe_ids", ids);
	}
	if (c->w.note[0] != '\0')
		spiffe_agent_log_cstr(&l, "note", c->w.note);
	spiffe_agent_log_end(&l);
}

static void on_resume(spiffe_evloop *l, void *arg)
{
	spiffe_agent_server *s = arg;
	spiffe_agent_logline ll;

	if (spiffe_evloop_mod(l, &s->lev, SPIFFE_EV_IN) == 0)
		return;
	spiffe_agent_log_begin(&ll, lg(s), SPIFFE_LOG_ERROR,
			       "Cannot watch the listening socket again");
	spiffe_agent_log_end(&ll);
}

static void on_accept(spiffe_evloop *l, void *arg, uint32_t events)
{
	spiffe_agent_server *s = arg;

	for (int i = 0; i < 64; i++) {
		int fd = accept4(s->lfd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		spiffe_agent_logline ll;
		struct conn *c;

		if (fd < 0 && errno == EINTR)
			continue;
		if (fd < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (fd < 0) {
			/* Out of descriptors: the socket stays readable, so
			 * pause accepting instead of spinning. */
			spiffe_agent_log_begin(&ll, lg(s), SPIFFE_LOG_ERROR,
					       "Cannot accept a connection");
			spiffe_agent_log_cstr(&ll, "error", strerror(errno));
			spiffe_agent_log_end(&ll);
			if (spiffe_evloop_mod(l, &s->lev, 0) == 0 &&
			    spiffe_timer_set(l, &s->resume,
					     spiffe_monotonic_ms() + 100) != 0)
				on_resume(l, s);
			return;
		}
		if (s->nconns >= s->cfg.max_conns) {
			spiffe_agent_log_begin(&ll, lg(s), SPIFFE_LOG_WARN,
					       "Too many connections; "
					       "refusing one");
			spiffe_agent_log_int(&ll, "max",
					     (int64_t)s->cfg.max_conns);
			spiffe_agent_log_end(&ll);
			close(fd);
			continue;
		}
		if ((c = conn_new(s, fd)) == NULL) {
			close(fd);
			continue;
		}
		s->st.accepted++;
		conn_attest(c);
		c->ev.fd = fd;
		c->ev.fn = on_conn_io;
		c->ev.arg = c;
		if (spiffe_evloop_add(l, &c->ev, SPIFFE_EV_IN) != 0 ||
		    spiffe_timer_set(l, &c->preface, spiffe_monotonic_ms() +
				     SPIFFE_AGENT_PREFACE_MS) != 0) {
			c->fd = -1;     /* not registered: close by hand */
			close(fd);
			conn_close(c);
			continue;
		}
		c->ev_mask = SPIFFE_EV_IN;
		conn_flush(c);  /* our SETTINGS go out at once */
	}
}

/* ---- periodic work ------------------------------------------------------ */

/* Marks the items that open X.509-SVID streams show. */
static void mark_used(spiffe_agent_server *s)
{
	for (size_t i = 0; i < s->snap.n; i++)
		s->items[i].used = 0;
	for (struct conn *c = s->conns; c != NULL; c = c->next) {
		int live = 0;

		for (struct call *k = c->calls; k != NULL; k = k->next)
			if (k->rpc == RPC_X509_SVID && k->state == C_LIVE &&
			    !k->fin)
				live = 1;
		if (!live || conn_match(c) != 0)
			continue;
		for (size_t m = 0; m < c->nmatch; m++)
			s->items[c->match[m]].used = 1;
	}
}

/* Re-evaluates every open stream and sends what changed. */
static void update_all(spiffe_agent_server *s)
{
	struct conn *c, *next;

	for (c = s->conns; c != NULL; c = next) {
		next = c->next;
		for (struct call *k = c->calls; k != NULL; k = k->next)
			if (k->state == C_LIVE && !k->fin)
				k->dirty = 1;
		conn_flush(c);
	}
}

void spiffe_agent_server_tick(spiffe_agent_server *s)
{
	spiffe_agent_logline l;
	spiffe_errbuf eb;
	int changed = 0, due = 0, rc;
	int64_t now;

	rc = spiffe_agent_registry_refresh(s->reg, &changed, &eb);
	if (rc != 0 && (!s->reg_err || strcmp(eb.msg, s->reg_msg.msg))) {
		spiffe_agent_log_begin(&l, lg(s), SPIFFE_LOG_ERROR,
				       "Registry does not load; no entries "
				       "are served until it does");
		spiffe_agent_log_cstr(&l, "error", eb.msg);
		spiffe_agent_log_end(&l);
		s->reg_msg = eb;
	} else if (rc == 0 && s->reg_err) {
		spiffe_agent_log_begin(&l, lg(s), SPIFFE_LOG_INFO,
				       "Registry loads again");
		spiffe_agent_log_end(&l);
	}
	s->reg_err = rc != 0;
	/* Changes made through this registry object count too. */
	if (s->reg->generation != s->reg_gen)
		changed = 1;
	if ((changed || s->need_snapshot) && snapshot(s) == 0) {
		changed = 1;
		spiffe_agent_log_begin(&l, lg(s), SPIFFE_LOG_INFO,
				       "Registration entries changed");
		spiffe_agent_log_int(&l, "entries", (int64_t)s->snap.n);
		spiffe_agent_log_end(&l);
	}
	now = spiffe_monotonic_ms();
	mark_used(s);
	for (size_t i = 0; i < s->snap.n; i++) {
		struct item *it = &s->items[i];

		if (it->svid.cert == NULL || !item_due(s, i, now))
			continue;
		if (it->used)
			due = 1;
		else
			item_drop(it);  /* nothing shows it: drop it */
	}
	if (changed || due)
		update_all(s);
}

/* Arms the tick: the next registry poll or rotation, whichever first. */
static void schedule(spiffe_agent_server *s)
{
	int64_t next = spiffe_monotonic_ms() + s->cfg.refresh_ms;

	for (size_t i = 0; i < s->snap.n; i++) {
		const struct item *it = &s->items[i];

		if (it->svid.cert != NULL && it->used &&
		    it->refresh_ms < next)
			next = it->refresh_ms;
	}
	if (spiffe_timer_set(s->loop, &s->tick, next) != 0)
		s->st.timer_errors++;
}

static void on_tick(spiffe_evloop *l, void *arg)
{
	spiffe_agent_server *s = arg;

	spiffe_agent_server_tick(s);
	schedule(s);
}

/* ---- setup -------------------------------------------------------------- */

/*
 * The JWKS as SPIRE serves it on the Workload API: every key member
 * but "use" (bundleutil's standard JWKS).  Built from the CA's JWKS
 * text, member by member, so no key material is re-encoded.
 */
static int standard_jwks(const char *text, size_t len, char **out,
			 size_t *outlen)
{
	spiffe_json j;
	char *buf;
	size_t o = 0;
	int keys, k, rc = SPIFFE_ERR_BUNDLE;

	spiffe_json_init(&j);
	if (spiffe_json_parse(&j, text, len, NULL) != 0 ||
	    (keys = spiffe_json_get(&j, 0, "keys")) < 0 ||
	    j.tok[keys].type != SPIFFE_JSON_ARRAY ||
	    (buf = malloc(len + 16)) == NULL) {
		spiffe_json_free(&j);
		return rc;
	}
	memcpy(buf + o, "{\"keys\":[", 9);
	o += 9;
	k = keys + 1;
	for (uint32_t n = 0; n < j.tok[keys].count; n++) {
		int m = k + 1, first = 1;

		if (j.tok[k].type != SPIFFE_JSON_OBJECT)
			goto fail;
		buf[o++] = n > 0 ? ',' : '{';
		if (n > 0)
			buf[o++] = '{';
		for (uint32_t f = 0; f < j.tok[k].count; f++) {
			const spiffe_json_tok *key = &j.tok[m];
			const spiffe_json_tok *val = &j.tok[m + 1];
			size_t from = key->start - 1;
			size_t to = val->end +
				    (val->type == SPIFFE_JSON_STRING);

			if (!spiffe_json_str_eq(&j, m, "use", 3)) {
				if (!first)
					buf[o++] = ',';
				memcpy(buf + o, text + from, to - from);
				o += to - from;
				first = 0;
			}
			m = spiffe_json_next(&j, m + 1);
		}
		buf[o++] = '}';
		k = spiffe_json_next(&j, k);
	}
	memcpy(buf + o, "]}", 2);
	o += 2;
	spiffe_json_free(&j);
	*out = buf;
	*outlen = o;
	return 0;
fail:
	free(buf);
	spiffe_json_free(&j);
	return rc;
}

int spiffe_agent_server_new(spiffe_agent_server **out, spiffe_evloop *loop,
			    int listen_fd, spiffe_agent_ca *ca,
			    spiffe_agent_registry *reg,
			    spiffe_agent_attestor *att,
			    const spiffe_agent_server_config *cfg,
			    spiffe_errbuf *eb)
{
	spiffe_agent_server *s;
	const uint8_t *der;
	const char *jwks;
	char *std = NULL;
	size_t len, stdlen;
	int rc;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	s->loop = loop;
	s->ca = ca;
	s->reg = reg;
	s->att = att;
	if (cfg != NULL)
		s->cfg = *cfg;
	if (s->cfg.refresh_ms <= 0)
		s->cfg.refresh_ms = 1000;
	if (s->cfg.max_conns == 0 ||
	    s->cfg.max_conns > SPIFFE_AGENT_MAX_CONNS)
		s->cfg.max_conns = SPIFFE_AGENT_MAX_CONNS;
	s->lfd = listen_fd;
	s->tick.fn = on_tick;
	s->tick.arg = s;
	s->resume.fn = on_resume;
	s->resume.arg = s;
	spiffe_agent_entries_init(&s->snap);
	spiffe_td_id(&ca->td, &s->td_id);
	der = spiffe_agent_ca_x509_bundle(ca, &len);
	rc = spiffe_agent_encode_x509_bundles(s->td_id.str, s->td_id.len,
					      der, len, &s->x509b_msg,
					      &s->x509b_len);
	if (rc == 0) {
		jwks = spiffe_agent_ca_jwks(ca, &len);
		rc = standard_jwks(jwks, len, &std, &stdlen);
	}
	if (rc == 0)
		rc = spiffe_agent_encode_jwt_bundles(s->td_id.str,
						     s->td_id.len, std,
						     stdlen, &s->jwtb_msg,
						     &s->jwtb_len);
	free(std);
	if (rc != 0) {
		spiffe_agent_server_free(s);
		return spiffe_fail(eb, rc, "cannot encode the bundles: %s",
				   spiffe_strerror(rc));
	}
	if ((rc = snapshot(s)) != 0) {
		spiffe_agent_server_free(s);
		return spiffe_fail(eb, rc, "cannot read the registry");
	}
	if (listen_fd >= 0) {
		s->lev.fd = listen_fd;
		s->lev.fn = on_accept;
		s->lev.arg = s;
		if (spiffe_evloop_add(loop, &s->lev, SPIFFE_EV_IN) != 0) {
			s->lfd = -1;
			spiffe_agent_server_free(s);
			return spiffe_fail(eb, SPIFFE_ERR_IO, "cannot watch "
					   "the listening socket");
		}
	}
	schedule(s);
	*out = s;
	return 0;
}

void spiffe_agent_server_free(spiffe_agent_server *s)
{
	if (s == NULL)
		return;
	while (s->conns != NULL) {
		struct conn *c = s->conns;

		if (c->fd >= 0 &&
		    spiffe_h2_goaway(&c->h2, SPIFFE_H2_NO_ERROR, NULL, 0) == 0)
			c->closing = 1;
		if (c->fd >= 0)
			conn_flush(c);  /* sends GOAWAY, then closes */
		if (s->conns == c)
			conn_close(c);
	}
	if (s->lfd >= 0)
		spiffe_evloop_del(s->loop, &s->lev);
	spiffe_timer_cancel(s->loop, &s->tick);
	spiffe_timer_cancel(s->loop, &s->resume);
	for (size_t i = 0; s->items != NULL && i < s->snap.n; i++)
		item_drop(&s->items[i]);
	free(s->items);
	spiffe_agent_entries_free(&s->snap);
	free(s->x509b_msg);
	free(s->jwtb_msg);
	for (size_t i = 0; i < SPIFFE_AGENT_JWT_CACHE; i++)
		jwt_slot_free(&s->jwt[i]);
	free(s);
}

void spiffe_agent_server_stats_get(const spiffe_agent_server *s,
				   spiffe_agent_server_stats *st)
{
	*st = s->st;
	st->conns = s->nconns;
	st->x509_cached = 0;
	for (size_t i = 0; i < s->snap.n; i++)
		if (s->items[i].svid.cert != NULL)
			st->x509_cached++;
}

/* ---- the socket --------------------------------------------------------- */

/* Copies path's folder into dir (cap bytes); "." when it has none. */
static int parent_of(const char *path, char *dir, size_t cap)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (slash == NULL) {
		dir[0] = '.';
		dir[1] = '\0';
		return 0;
	}
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= cap)
		return -1;
	memcpy(dir, path, n);
	dir[n] = '\0';
	return 0;
}

/* mkdir -p with mode 0755 for the folders it creates. */
static int make_dirs(char *dir, spiffe_errbuf *eb)
{
	struct stat st;
	char *slash;

	if (stat(dir, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0 :
		       spiffe_fail(eb, SPIFFE_ERR_IO, "%s is not a folder",
				   dir);
	if (errno != ENOENT)
		return spiffe_fail(eb, SPIFFE_ERR_IO, "cannot use %s: %s", dir,
				   strerror(errno));
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		int rc;

		*slash = '\0';
		rc = make_dirs(dir, eb);
		*slash = '/';
		if (rc != 0)
			return rc;
	}
	/* chmod after mkdir: the umask must not lock workloads out (and
	 * never through a symbolic link swapped in meanwhile). */
	if ((mkdir(dir, 0755) != 0 && errno != EEXIST) ||
	    fchmodat(AT_FDCWD, dir, 0755, AT_SYMLINK_NOFOLLOW) != 0)
		return spiffe_fail(eb, SPIFFE_ERR_IO, "cannot create %s: %s",
				   dir, strerror(errno));
	return 0;
}

void spiffe_agent_listener_init(spiffe_agent_listener *l)
{
	memset(l, 0, sizeof(*l));
	l->fd = -1;
}

int spiffe_agent_listen(spiffe_agent_listener *l, const char *path,
			spiffe_errbuf *eb)
{
	struct sockaddr_un sa;
	char dir[sizeof(sa.sun_path)];
	struct stat st;
	int fd = -1, dfd = -1, rc;

	spiffe_agent_listener_init(l);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (path[0] == '\0' || strlen(path) >= sizeof(sa.sun_path))
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "socket path must be 1 "
				   "to %zu bytes", sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, path, strlen(path));
	if (parent_of(path, dir, sizeof(dir)) != 0)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "bad socket path");
	if ((rc = make_dirs(dir, eb)) != 0)
		return rc;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return spiffe_fail(eb, SPIFFE_ERR_IO, "cannot open %s: %s",
				   dir, strerror(errno));
	/* Two agents starting at once: one checks and binds at a time. */
	for (int i = 0; flock(dfd, LOCK_EX | LOCK_NB) != 0; i++) {
		if ((errno != EWOULDBLOCK && errno != EINTR) || i == 200) {
			rc = spiffe_fail(eb, SPIFFE_ERR_IO, "cannot lock %s: "
					 "%s", dir, strerror(errno));
			goto out;
		}
		usleep(10000);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = spiffe_fail(eb, SPIFFE_ERR_IO, "socket: %s",
				 strerror(errno));
		goto out;
	}
	if (lstat(path, &st) == 0) {
		int probe;

		if (!S_ISSOCK(st.st_mode)) {
			rc = spiffe_fail(eb, SPIFFE_ERR_ARG, "%s exists and "
					 "is not a socket", path);
			goto out;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa,
					  sizeof(sa)) == 0) {
			close(probe);
			rc = spiffe_fail(eb, SPIFFE_ERR_ARG, "another agent "
					 "is serving on %s", path);
			goto out;
		}
		if (probe >= 0)
			close(probe);
		if (unlink(path) != 0 && errno != ENOENT) {
			rc = spiffe_fail(eb, SPIFFE_ERR_IO, "cannot remove "
					 "the stale socket %s: %s", path,
					 strerror(errno));
			goto out;
		}
	} else if (errno != ENOENT) {
		rc = spiffe_fail(eb, SPIFFE_ERR_IO, "cannot use %s: %s", path,
				 strerror(errno));
		goto out;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    fchmodat(AT_FDCWD, path, 0777, AT_SYMLINK_NOFOLLOW) != 0 ||
	    listen(fd, 512) != 0 ||
	    lstat(path, &st) != 0) {
		rc = spiffe_fail(eb, SPIFFE_ERR_IO, "cannot listen on %s: %s",
				 path, strerror(errno));
		goto out;
	}
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	memcpy(l->path, path, strlen(path) + 1);
	l->fd = fd;
	l->open = 1;
	fd = -1;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	close(dfd);             /* releases the lock */
	return rc;
}

void spiffe_agent_listener_close(spiffe_agent_listener *l)
{
	struct stat st;

	if (!l->open)
		return;
	close(l->fd);
	l->fd = -1;
	l->open = 0;
	if (lstat(l->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_dev == l->dev && st.st_ino == l->ino)
		unlink(l->path);
}

/* ---- memory connections ------------------------------------------------- */

struct spiffe_agent_conn {
	struct conn *c;
};

int spiffe_agent_conn_new_mem(spiffe_agent_server *s,
			      const spiffe_agent_workload *w,
			      spiffe_agent_conn **out)
{
	spiffe_agent_conn *m = calloc(1, sizeof(*m));
	struct conn *c;

	*out = NULL;
	if (m == NULL || (c = conn_new(s, -1)) == NULL) {
		free(m);
		return SPIFFE_ERR_NOMEM;
	}
	c->w.pid = c->pid = w->pid;
	c->w.uid = c->uid = w->uid;
	c->w.gid = w->gid;
	c->w.start_time = w->start_time;
	if (spiffe_selectors_copy(&c->w.sel, &w->sel) != 0) {
		conn_close(c);
		free(m);
		return SPIFFE_ERR_NOMEM;
	}
	m->c = c;
	*out = m;
	return 0;
}

static void mem_consume(spiffe_agent_conn *m)
{
	if (m->c->out_pending > 0 &&
	    spiffe_h2_output_consumed(&m->c->h2, m->c->out_pending) != 0)
		m->c->closing = 1;
	m->c->out_pending = 0;
}

int spiffe_agent_conn_feed(spiffe_agent_conn *m, const uint8_t *p,
			   size_t len)
{
	struct conn *c = m->c;

	mem_consume(m);
	if (c->closing)
		return SPIFFE_ERR_CLOSED;
	c->rx += len;
	if (spiffe_h2_feed(&c->h2, p, len) != 0)
		c->closing = 1;
	pump_all(c);
	return c->closing || spiffe_h2_done(&c->h2) ? SPIFFE_ERR_CLOSED : 0;
}

void spiffe_agent_conn_output(spiffe_agent_conn *m, const uint8_t **p,
			      size_t *len)
{
	mem_consume(m);
	conn_flush(m->c);       /* pumps; leaves the bytes in h2 */
	if (spiffe_h2_output(&m->c->h2, p, len) != 0) {
		*p = NULL;
		*len = 0;
	}
	m->c->out_pending = *len;
}

void spiffe_agent_conn_free(spiffe_agent_conn *m)
{
	if (m == NULL)
		return;
	conn_close(m->c);
	free(m);
}
