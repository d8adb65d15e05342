/* The Workload API server through memory connections, spoken to by our
 * own HTTP/2 client session: exact statuses and messages for every
 * refusal (trailers-only where SPIRE sends it so), gRPC framing errors,
 * responses decoded by the library's Workload API client code, the SVID
 * cache shared between connections, pushes on registry changes, and the
 * request decoder and claims encoder on their own. */
#include "test.h"

#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/server.h"
#include "agent/store.h"
#include "agent/wlmsg.h"
#include "clock.h"
#include "grpc.h"
#include "h2.h"
#include "rng.h"
#include "wlapi_msg.h"

#define S(lit) lit, sizeof(lit) - 1

/* ---- the agent under test ----------------------------------------------- */

static struct agent {
	char dir[64];
	int dirfd;
	spiffe_td td;
	spiffe_agent_ca ca;
	spiffe_agent_registry reg;
	spiffe_agent_attestor att;
	spiffe_evloop loop;
	spiffe_agent_server *srv;
} A;

static int agent_start(void)
{
	spiffe_errbuf eb;

	snprintf(A.dir, sizeof(A.dir), "/tmp/agent-srv.XXXXXX");
	if (mkdtemp(A.dir) == NULL || spiffe_crypto_init() != 0 ||
	    spiffe_td_parse(&A.td, S("example.org"), &eb) != 0 ||
	    spiffe_agent_dir_open(A.dir, &A.dirfd, &eb) != 0)
		return -1;
	spiffe_agent_ca_init(&A.ca);
	spiffe_agent_registry_init(&A.reg);
	spiffe_agent_attestor_init(&A.att);
	if (spiffe_agent_ca_open(&A.ca, A.dirfd, &A.td, &eb) != 0 ||
	    spiffe_agent_registry_open(&A.reg, A.dirfd, &A.td, &eb) != 0 ||
	    spiffe_evloop_init(&A.loop, NULL, NULL, &eb) != 0 ||
	    spiffe_agent_server_new(&A.srv, &A.loop, -1, &A.ca, &A.reg,
				    &A.att, NULL, &eb) != 0) {
		fprintf(stderr, "agent: %s\n", eb.msg);
		return -1;
	}
	return 0;
}

static void agent_stop(void)
{
	char cmd[128];

	spiffe_agent_server_free(A.srv);
	spiffe_evloop_free(&A.loop);
	spiffe_agent_registry_free(&A.reg);
	spiffe_agent_attestor_free(&A.att);
	spiffe_agent_ca_free(&A.ca);
	close(A.dirfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", A.dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", A.dir);
}

/* Creates an entry; returns its id in id (65 bytes) or -1. */
static int add_entry(const char *sid, const char *sel1,
		     const char *sel2, const char *hint, char *id)
{
	spiffe_agent_entry e, out;
	spiffe_errbuf eb;
	int rc;

	spiffe_agent_entry_init(&e);
	spiffe_agent_entry_init(&out);
	e.spiffe_id = strdup(sid);
	e.parent_id = strdup("");
	e.hint = strdup(hint ? hint : "");
	rc = spiffe_selectors_add(&e.sel, sel1, strlen(sel1), &eb);
	if (rc == 0 && sel2 != NULL)
		rc = spiffe_selectors_add(&e.sel, sel2, strlen(sel2), &eb);
	if (rc == 0)
		rc = spiffe_agent_registry_create(&A.reg, &e, &out, &eb);
	if (rc == 0 && id != NULL)
		memcpy(id, out.id, sizeof(out.id));
	if (rc != 0)
		fprintf(stderr, "add_entry: %s\n", eb.msg);
	spiffe_agent_entry_free(&e);
	spiffe_agent_entry_free(&out);
	return rc == 0 ? 0 : -1;
}

static int del_entry(const char *id)
{
	spiffe_errbuf eb;

	return spiffe_agent_registry_delete(&A.reg, id, strlen(id), &eb);
}

/* ---- a client over a memory connection ---------------------------------- */

struct rpc {
	uint32_t id;
	int headers;            /* response header sections seen */
	int trailers_only;      /* the first section ended the stream */
	int http_status;
	int closed;
	spiffe_grpc_status st;
	int have_status;
	spiffe_grpc_deframer df;
	uint8_t *msg[8];
	size_t len[8];
	size_t nmsg;
};

struct client {
	spiffe_h2_session h2;
	spiffe_agent_conn *conn;
	struct rpc rpcs[32];
	size_t n;
	int closed;             /* the server is done with the connection */
};

static struct rpc *rpc_of(struct client *c, uint32_t id)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->rpcs[i].id == id)
			return &c->rpcs[i];
	return NULL;
}

static int hval(const spiffe_header *h, size_t n, const char *name,
		char *out, size_t cap)
{
	for (size_t i = 0; i < n; i++)
		if (h[i].name_len == strlen(name) &&
		    memcmp(h[i].name, name, h[i].name_len) == 0 &&
		    h[i].value_len < cap) {
			memcpy(out, h[i].value, h[i].value_len);
			out[h[i].value_len] = '\0';
			return 0;
		}
	return -1;
}

static void cl_headers(void *ctx, uint32_t id, const spiffe_header *h,
		       size_t n, unsigned flags)
{
	struct rpc *r = rpc_of(ctx, id);
	char v[16];

	if (r == NULL)
		return;
	if (flags & SPIFFE_H2_TRAILERS) {
		spiffe_grpc_response_trailers(h, n, &r->st);
		r->have_status = 1;
		return;
	}
	r->headers++;
	if (hval(h, n, ":status", v, sizeof(v)) == 0)
		r->http_status = atoi(v);
	if (flags & SPIFFE_H2_END_STREAM) {
		r->trailers_only = 1;
		/* Read grpc-status even under a non-200 :status. */
		spiffe_grpc_response_trailers(h, n, &r->st);
		r->have_status = 1;
	}
}

static void cl_data(void *ctx, uint32_t id, const uint8_t *p, size_t len,
		    int end)
{
	struct client *c = ctx;
	struct rpc *r = rpc_of(c, id);

	if (spiffe_h2_consume(&c->h2, id, len) != 0 || r == NULL)
		return;
	while (len > 0) {
		size_t used, ml;
		uint8_t *m;
		int rc = spiffe_grpc_deframer_feed(&r->df, p, len, &used, &m,
						   &ml, NULL);

		if (rc < 0)
			return;
		p += used;
		len -= used;
		if (rc == 1 && r->nmsg < 8) {
			r->msg[r->nmsg] = m;
			r->len[r->nmsg++] = ml;
		} else if (rc == 1) {
			free(m);
		}
	}
}

static void cl_close(void *ctx, uint32_t id, uint32_t code)
{
	struct rpc *r = rpc_of(ctx, id);

	if (r != NULL)
		r->closed = 1;
}

static const spiffe_h2_callbacks cl_cbs = {
	cl_headers, cl_data, cl_close, NULL, NULL,
};

/* Moves bytes both ways until neither side has anything to say. */
static void shuttle(struct client *c)
{
	for (int round = 0; round < 64; round++) {
		const uint8_t *p;
		size_t len, moved = 0;

		if (spiffe_h2_output(&c->h2, &p, &len) != 0)
			abort();
		if (len > 0) {
			if (spiffe_agent_conn_feed(c->conn, p, len) != 0)
				c->closed = 1;
			if (spiffe_h2_output_consumed(&c->h2, len) != 0)
				abort();
			moved += len;
		}
		spiffe_agent_conn_output(c->conn, &p, &len);
		if (len > 0) {
			/* After a GOAWAY our client may fail: fine. */
			(void)!spiffe_h2_feed(&c->h2, p, len);
			moved += len;
		}
		if (moved == 0)
			return;
	}
}

static int client_open(struct client *c, const char *const *sel, size_t n)
{
	spiffe_agent_workload w;
	int rc;

	memset(c, 0, sizeof(*c));
	spiffe_agent_workload_init(&w);
	w.pid = 1;
	for (size_t i = 0; i < n; i++)
		if (spiffe_selectors_add(&w.sel, sel[i], strlen(sel[i]),
					 NULL) != 0)
			return -1;
	rc = spiffe_agent_conn_new_mem(A.srv, &w, &c->conn);
	spiffe_agent_workload_free(&w);
	if (rc != 0 || spiffe_h2_init(&c->h2, SPIFFE_H2_CLIENT, &cl_cbs, c,
				      NULL) != 0)
		return -1;
	shuttle(c);
	return 0;
}

static void client_close(struct client *c)
{
	for (size_t i = 0; i < c->n; i++) {
		spiffe_grpc_deframer_free(&c->rpcs[i].df);
		for (size_t m = 0; m < c->rpcs[i].nmsg; m++)
			free(c->rpcs[i].msg[m]);
	}
	spiffe_agent_conn_free(c->conn);
	spiffe_h2_free(&c->h2);
}

/*
 * Starts a call: path, extra header fields (name, value pairs; NULL
 * ends), the workload header unless no_hdr, then body[0..len) as it is
 * (already framed) with END_STREAM.
 */
static struct rpc *call_raw(struct client *c, const char *path,
			    const char *const *extra, int no_hdr,
			    const uint8_t *body, size_t len)
{
	spiffe_grpc_request req;
	struct rpc *r = &c->rpcs[c->n];
	size_t acc;

	if (c->n == sizeof(c->rpcs) / sizeof(c->rpcs[0]))
		return NULL;
	spiffe_grpc_request_init(&req, path, "localhost");
	if (!no_hdr && spiffe_grpc_request_add(&req, "workload.spiffe.io",
					       "true") != 0)
		return NULL;
	for (size_t i = 0; extra != NULL && extra[i] != NULL; i += 2)
		if (spiffe_grpc_request_add(&req, extra[i], extra[i + 1]) != 0)
			return NULL;
	memset(r, 0, sizeof(*r));
	spiffe_grpc_deframer_init(&r->df, 0);
	c->n++;
	if (spiffe_h2_submit_request(&c->h2, req.h, req.n, body == NULL,
				     &r->id) != 0)
		return NULL;
	if (body != NULL && (spiffe_h2_send_data(&c->h2, r->id, body, len, 1,
						 &acc) != 0 || acc != len))
		return NULL;
	shuttle(c);
	return r;
}

/* A call with one message msg[0..len) (framed here). */
static struct rpc *call(struct client *c, const char *method,
			const uint8_t *msg, size_t len)
{
	static uint8_t buf[64 * 1024];
	char path[64];

	snprintf(path, sizeof(path), "/SpiffeWorkloadAPI/%s", method);
	spiffe_grpc_prefix(buf, (uint32_t)len);
	if (len > 0)
		memcpy(buf + 5, msg, len);
	return call_raw(c, path, NULL, 0, buf, len + 5);
}

/* Checks r ended with code and message (trailers-only if only). */
#define CHECK_STATUS(r, want, text, only)                                  \
	do {                                                               \
		CHECK((r) != NULL);                                        \
		CHECK((r)->have_status);                                   \
		CHECK_INT((r)->st.code, (want));                           \
		CHECK_STR((r)->st.msg, (text));                            \
		CHECK_INT((r)->trailers_only, (only));                     \
	} while (0)

static const char *const ROOT[] = { "unix:uid:0", "unix:gid:0" };
static const char *const NOBODY[] = { "unix:uid:99" };

/* ---- tests -------------------------------------------------------------- */

TEST(no_identity_is_trailers_only)
{
	struct client c;
	struct rpc *r;

	CHECK(client_open(&c, NOBODY, 1) == 0);
	r = call(&c, "FetchX509SVID", NULL, 0);
	CHECK_STATUS(r, SPIFFE_GRPC_PERMISSION_DENIED, "no identity issued",
		     1);
	CHECK_INT(r->http_status, 200);
	CHECK_INT(r->nmsg, 0);
	r = call(&c, "FetchX509Bundles", NULL, 0);
	CHECK_STATUS(r, SPIFFE_GRPC_PERMISSION_DENIED, "no identity issued",
		     1);
	r = call(&c, "FetchJWTBundles", NULL, 0);
	CHECK_STATUS(r, SPIFFE_GRPC_PERMISSION_DENIED, "no identity issued",
		     1);
	/* JWTSVIDRequest{audience: "a"} */
	r = call(&c, "FetchJWTSVID", (const uint8_t *)"\x0a\x01" "a", 3);
	CHECK_STATUS(r, SPIFFE_GRPC_PERMISSION_DENIED, "no identity issued",
		     1);
	client_close(&c);
}

TEST(security_header)
{
	static const char *const twice[] = { "workload.spiffe.io", "true",
					     NULL };
	static const char *const upper[] = { "workload.spiffe.io", "True",
					     NULL };
	struct client c;
	struct rpc *r;
	const uint8_t empty[5] = { 0 };

	CHECK(client_open(&c, ROOT, 2) == 0);
	r = call_raw(&c, "/SpiffeWorkloadAPI/FetchX509SVID", NULL, 1, empty,
		     5);
	CHECK_STATUS(r, SPIFFE_GRPC_INVALID_ARGUMENT,
		     "security header missing from request", 1);
	r = call_raw(&c, "/SpiffeWorkloadAPI/FetchJWTBundles", twice, 0,
		     empty, 5);
	CHECK_STATUS(r, SPIFFE_GRPC_INVALID_ARGUMENT,
		     "security header missing from request", 1);
	r = call_raw(&c, "/SpiffeWorkloadAPI/ValidateJWTSVID", upper, 1,
		     empty, 5);
	CHECK_STATUS(r, SPIFFE_GRPC_INVALID_ARGUMENT,
		     "security header missing from request", 1);
	client_close(&c);
}

TEST(unknown_methods)
{
	struct client c;
	struct rpc *r;
	const uint8_t empty[5] = { 0 };

	CHECK(client_open(&c, ROOT, 2) == 0);
	r = call(&c, "FetchWITSVID", NULL, 0);
	CHECK_STATUS(r, SPIFFE_GRPC_UNIMPLEMENTED, "unknown method "
		     "FetchWITSVID for service SpiffeWorkloadAPI", 1);
	r = call(&c, "FetchWITBundles", NULL, 0);
	CHECK_STATUS(r, SPIFFE_GRPC_UNIMPLEMENTED, "unknown method "
		     "FetchWITBundles for service SpiffeWorkloadAPI", 1);
	/* No security header needed to learn that a method is unknown. */
	r = call_raw(&c, "/grpc.health.v1.Health/Check", NULL, 1, empty, 5);
	CHECK_STATUS(r, SPIFFE_GRPC_UNIMPLEMENTED,
		     "unknown service grpc.health.v1.Health", 1);
	r = call_raw(&c, "/nothing", NULL, 0, empty, 5);
	CHECK_STATUS(r, SPIFFE_GRPC_UNIMPLEMENTED,
		     "malformed method name: \"/nothing\"", 1);
	client_close(&c);
}

TEST(http_refusals)
{
	static const char *const ctype[] = { "content-type", "text/plain",
					     NULL };
	spiffe_grpc_request req;
	struct client c;
	struct rpc *r;
	const uint8_t empty[5] = { 0 };

	CHECK(client_open(&c, ROOT, 2) == 0);
	/* A second content-type: the server reads the first. */
	spiffe_grpc_request_init(&req, "/SpiffeWorkloadAPI/FetchX509SVID",
				 "localhost");
	req.h[4].value = (const uint8_t *)"text/plain";
	req.h[4].value_len = 10;
	r = &c.rpcs[c.n++];
	memset(r, 0, sizeof(*r));
	spiffe_grpc_deframer_init(&r->df, 0);
	CHECK(spiffe_h2_submit_request(&c.h2, req.h, req.n, 1, &r->id) == 0);
	shuttle(&c);
	CHECK_STATUS(r, SPIFFE_GRPC_INVALID_ARGUMENT, "invalid gRPC request "
		     "content-type \"text/plain\"", 1);
	CHECK_INT(r->http_status, 415);
	(void)ctype;
	(void)empty;
	/* :method GET */
	spiffe_grpc_request_init(&req, "/SpiffeWorkloadAPI/FetchX509SVID",
				 "localhost");
	req.h[0].value = (const uint8_t *)"GET";
	req.h[0].value_len = 3;
	r = &c.rpcs[c.n++];
	memset(r, 0, sizeof(*r));
	spiffe_grpc_deframer_init(&r->df, 0);
	CHECK(spiffe_h2_submit_request(&c.h2, req.h, req.n, 1, &r->id) == 0);
	shuttle(&c);
	CHECK_STATUS(r, SPIFFE_GRPC_INTERNAL, "Received a HEADERS frame with "
		     ":method \"GET\" which should be POST", 1);
	CHECK_INT(r->http_status, 405);
	client_close(&c);
}

TEST(framing_errors)
{
	static const char *const gzip[] = { "grpc-encoding", "gzip", NULL };
	static uint8_t big[SPIFFE_AGENT_MAX_REQUEST + 6];
	struct client c;
	struct rpc *r;
	uint8_t two[10] = { 0 };
	const uint8_t comp[6] = { 1, 0, 0, 0, 1, 0 };
	const uint8_t half[3] = { 0, 0, 0 };

	CHECK(client_open(&c, ROOT, 2) == 0);
	/* no message at all */
	r = call_raw(&c, "/SpiffeWorkloadAPI/FetchX509SVID", NULL, 0, NULL,
		     0);
	CHECK_STATUS(r, SPIFFE_GRPC_INTERNAL, "grpc: client streaming "
		     "protocol violation: get <EOF>, want <msg>", 1);
	/* two messages for a unary-request method */
	r = call_raw(&c, "/SpiffeWorkloadAPI/FetchX509SVID", NULL, 0, two, 10);
	CHECK_STATUS(r, SPIFFE_GRPC_INTERNAL, "grpc: client streaming "
		     "protocol violation: get <msg>, want <EOF>", 1);
	/* the stream ends inside a message */
	r = call_raw(&c, "/SpiffeWorkloadAPI/FetchX509SVID", NULL, 0, half, 3);
	CHECK_STATUS(r, SPIFFE_GRPC_INTERNAL, "grpc: the request ended "
		     "inside a message (unexpected EOF)", 1);
	/* compressed without an encoding, and with one we lack */
	r = call_raw(&c, "/SpiffeWorkloadAPI/FetchX509SVID", NULL, 0, comp, 6);
	CHECK_STATUS(r, SPIFFE_GRPC_INTERNAL, "grpc: compressed flag set "
		     "with identity or empty encoding", 1);
	r = call_raw(&c, "/SpiffeWorkloadAPI/FetchX509SVID", gzip, 0, comp,
		     6);
	CHECK_STATUS(r, SPIFFE_GRPC_UNIMPLEMENTED, "grpc: Decompressor is not "
		     "installed for grpc-encoding \"gzip\"", 1);
	/* too large */
	spiffe_grpc_prefix(big, SPIFFE_AGENT_MAX_REQUEST + 1);
	r = call_raw(&c, "/SpiffeWorkloadAPI/FetchJWTSVID", NULL, 0, big,
		     sizeof(big));
	CHECK_STATUS(r, SPIFFE_GRPC_RESOURCE_EXHAUSTED, "grpc: received "
		     "message larger than max (16385 vs. 16384)", 1);
	/* malformed protobuf: a truncated varint */
	r = call(&c, "FetchX509SVID", (const uint8_t *)"\x08\x80", 2);
	CHECK_STATUS(r, SPIFFE_GRPC_INTERNAL, "grpc: error unmarshalling "
		     "request: proto: cannot parse invalid wire-format data",
		     1);
	/* a string that is not UTF-8 */
	r = call(&c, "FetchJWTSVID", (const uint8_t *)"\x0a\x01\xff", 3);
	CHECK_STATUS(r, SPIFFE_GRPC_INTERNAL, "grpc: error unmarshalling "
		     "request: string field contains invalid UTF-8", 1);
	/* The connection still works. */
	r = call(&c, "FetchX509Bundles", NULL, 0);
	CHECK(r != NULL && r->nmsg == 1 && !r->have_status);
	CHECK(!c.closed);
	client_close(&c);
}

TEST(bad_http2_closes)
{
	struct client c;

	CHECK(client_open(&c, ROOT, 2) == 0);
	/* A DATA frame on stream 0 is a connection error. */
	CHECK(spiffe_agent_conn_feed(c.conn, (const uint8_t *)
				     "\0\0\1\0\0\0\0\0\0x", 10) ==
	      SPIFFE_ERR_CLOSED);
	client_close(&c);
}

TEST(x509_svid_and_cache)
{
	struct client c1, c2;
	spiffe_agent_server_stats st0, st;
	spiffe_x509_context *ctx = NULL;
	spiffe_errbuf eb;
	struct rpc *r;
	char id[65];

	CHECK(add_entry("spiffe://example.org/x509", "unix:uid:1000", NULL,
			NULL, id) == 0);
	spiffe_agent_server_tick(A.srv);
	spiffe_agent_server_stats_get(A.srv, &st0);
	{
		const char *const sel[] = { "unix:uid:1000" };

		CHECK(client_open(&c1, sel, 1) == 0);
		CHECK(client_open(&c2, sel, 1) == 0);
	}
	r = call(&c1, "FetchX509SVID", NULL, 0);
	CHECK(r != NULL && r->nmsg == 1 && !r->have_status);
	CHECK_INT(r->headers, 1);
	CHECK(spiffe_wlapi_parse_x509_context(r->msg[0] + 0, r->len[0], &ctx,
					      &eb) == 0);
	CHECK_INT(ctx->nsvids, 1);
	CHECK_STR(ctx->svids[0].id.str, "spiffe://example.org/x509");
	spiffe_x509_context_unref(ctx);
	r = call(&c2, "FetchX509SVID", NULL, 0);
	CHECK(r != NULL && r->nmsg == 1);
	/* One signature for both connections. */
	spiffe_agent_server_stats_get(A.srv, &st);
	CHECK_INT(st.x509_issued - st0.x509_issued, 1);
	/* The same bytes: the same SVID. */
	CHECK_INT(r->len[0], c1.rpcs[0].len[0]);
	CHECK_MEM(r->msg[0], c1.rpcs[0].msg[0], r->len[0]);
	client_close(&c1);
	client_close(&c2);
	CHECK(del_entry(id) == 0);
	spiffe_agent_server_tick(A.srv);
}

TEST(push_and_withdraw)
{
	const char *const sel[] = { "unix:uid:1001", "unix:gid:5" };
	spiffe_x509_context *ctx = NULL;
	spiffe_errbuf eb;
	struct client c;
	struct rpc *r, *b;
	char id1[65], id2[65], id3[65];

	CHECK(add_entry("spiffe://example.org/b", "unix:uid:1001", NULL,
			"web", id1) == 0);
	spiffe_agent_server_tick(A.srv);
	CHECK(client_open(&c, sel, 2) == 0);
	r = call(&c, "FetchX509SVID", NULL, 0);
	b = call(&c, "FetchJWTBundles", NULL, 0);
	CHECK(r != NULL && r->nmsg == 1 && b != NULL && b->nmsg == 1);
	/* A second entry (sorts first) and one with a taken hint. */
	CHECK(add_entry("spiffe://example.org/a", "unix:uid:1001",
			"unix:gid:5", NULL, id2) == 0);
	CHECK(add_entry("spiffe://example.org/c", "unix:gid:5", NULL, "web",
			id3) == 0);
	spiffe_agent_server_tick(A.srv);
	shuttle(&c);
	CHECK_INT(r->nmsg, 2);
	CHECK(spiffe_wlapi_parse_x509_context(r->msg[1], r->len[1], &ctx,
					      &eb) == 0);
	CHECK_INT(ctx->nsvids, 2);
	CHECK_STR(ctx->svids[0].id.str, "spiffe://example.org/a");
	CHECK_STR(ctx->svids[1].id.str, "spiffe://example.org/b");
	spiffe_x509_context_unref(ctx);
	/* The bundle stream has nothing new to say. */
	CHECK_INT(b->nmsg, 1);
	/* Nothing changed: no push. */
	spiffe_agent_server_tick(A.srv);
	shuttle(&c);
	CHECK_INT(r->nmsg, 2);
	/* Entries gone: both streams end with PermissionDenied. */
	CHECK(del_entry(id1) == 0 && del_entry(id2) == 0 &&
	      del_entry(id3) == 0);
	spiffe_agent_server_tick(A.srv);
	shuttle(&c);
	CHECK_STATUS(r, SPIFFE_GRPC_PERMISSION_DENIED, "no identity issued",
		     0);
	CHECK_STATUS(b, SPIFFE_GRPC_PERMISSION_DENIED, "no identity issued",
		     0);
	client_close(&c);
}

/* JWTSVIDRequest bytes for audiences aud (NULL-ended) and an ID. */
static size_t jwt_req(uint8_t *buf, const char *const *aud, const char *id)
{
	size_t o = 0;

	for (size_t i = 0; aud[i] != NULL; i++) {
		buf[o++] = 0x0a;
		buf[o++] = (uint8_t)strlen(aud[i]);
		memcpy(buf + o, aud[i], strlen(aud[i]));
		o += strlen(aud[i]);
	}
	if (id != NULL) {
		buf[o++] = 0x12;
		buf[o++] = (uint8_t)strlen(id);
		memcpy(buf + o, id, strlen(id));
		o += strlen(id);
	}
	return o;
}

TEST(jwt_and_validate)
{
	const char *const sel[] = { "unix:uid:1002" };
	const char *const aud[] = { "spiffe://example.org/server", "x", NULL };
	spiffe_wlapi_jwt *v = NULL;
	spiffe_jwt_svid sv;
	char *claims = NULL;
	spiffe_errbuf eb;
	struct client c;
	struct rpc *r;
	uint8_t buf[4096];
	size_t n, nv = 0;
	char id1[65], id2[65];

	CHECK(add_entry("spiffe://example.org/j1", "unix:uid:1002", NULL,
			"one", id1) == 0);
	CHECK(add_entry("spiffe://example.org/j2", "unix:uid:1002", NULL,
			NULL, id2) == 0);
	spiffe_agent_server_tick(A.srv);
	CHECK(client_open(&c, sel, 1) == 0);
	n = jwt_req(buf, aud, NULL);
	r = call(&c, "FetchJWTSVID", buf, n);
	CHECK(r != NULL && r->nmsg == 1);
	CHECK_STATUS(r, 0, "", 0);
	CHECK(spiffe_wlapi_parse_jwt_svids(r->msg[0], r->len[0], aud, 2, &v,
					   &nv, &eb) == 0);
	CHECK_INT(nv, 2);
	CHECK_STR(v[0].svid.id.str, "spiffe://example.org/j1");
	CHECK_STR(v[0].hint, "one");
	CHECK_STR(v[1].svid.id.str, "spiffe://example.org/j2");
	/* ValidateJWTSVID of the first token. */
	{
		size_t tl = v[0].token_len, o = 0;

		buf[o++] = 0x0a;
		buf[o++] = 27;
		memcpy(buf + o, aud[0], 27);
		o += 27;
		buf[o++] = 0x12;
		buf[o++] = (uint8_t)(0x80 | (tl & 0x7f));
		buf[o++] = (uint8_t)(tl >> 7);
		memcpy(buf + o, v[0].token, tl);
		n = o + tl;
	}
	r = call(&c, "ValidateJWTSVID", buf, n);
	CHECK(r != NULL && r->nmsg == 1);
	CHECK_STATUS(r, 0, "", 0);
	spiffe_jwtsvid_init(&sv);
	CHECK(spiffe_wlapi_parse_validate(r->msg[0], r->len[0], v[0].token,
					  v[0].token_len, aud[0], &sv,
					  &claims, &eb) == 0);
	CHECK_STR(sv.id.str, "spiffe://example.org/j1");
	{
		static const char pre[] = "{\"aud\":[\"spiffe://example.org/"
					  "server\",\"x\"],\"exp\":";

		CHECK(strncmp(claims, pre, sizeof(pre) - 1) == 0);
	}
	free(claims);
	spiffe_jwtsvid_free(&sv);
	/* An unknown length-delimited field is skipped (it used to end
	 * the call with Internal and an uninitialized message; found by
	 * fuzz_wlapi_request). */
	memcpy(buf + n, "\x1a\x02zz", 4);
	r = call(&c, "ValidateJWTSVID", buf, n + 4);
	CHECK(r != NULL && r->nmsg == 1);
	CHECK_STATUS(r, 0, "", 0);
	/* The wrong audience: InvalidArgument with the reason. */
	buf[2] = 'S';
	r = call(&c, "ValidateJWTSVID", buf, n);
	CHECK_STATUS(r, SPIFFE_GRPC_INVALID_ARGUMENT, "expected audience in "
		     "[\"Spiffe://example.org/server\"] (audience=[\"spiffe:"
		     "//example.org/server\" \"x\"])", 1);
	/* Empty audience, empty token. */
	r = call(&c, "ValidateJWTSVID", (const uint8_t *)"\x12\x01x", 3);
	CHECK_STATUS(r, SPIFFE_GRPC_INVALID_ARGUMENT,
		     "audience must be specified", 1);
	r = call(&c, "ValidateJWTSVID", (const uint8_t *)"\x0a\x01x", 3);
	CHECK_STATUS(r, SPIFFE_GRPC_INVALID_ARGUMENT,
		     "svid must be specified", 1);
	spiffe_wlapi_jwt_free(v, nv);
	/* One of the caller's IDs, one it does not have, a bad one. */
	n = jwt_req(buf, aud, "spiffe://example.org/j2");
	r = call(&c, "FetchJWTSVID", buf, n);
	CHECK(spiffe_wlapi_parse_jwt_svids(r->msg[0], r->len[0], aud, 2, &v,
					   &nv, &eb) == 0);
	CHECK_INT(nv, 1);
	CHECK_STR(v[0].svid.id.str, "spiffe://example.org/j2");
	spiffe_wlapi_jwt_free(v, nv);
	n = jwt_req(buf, aud, "spiffe://example.org/j3");
	r = call(&c, "FetchJWTSVID", buf, n);
	CHECK_STATUS(r, SPIFFE_GRPC_PERMISSION_DENIED, "no identity issued",
		     1);
	n = jwt_req(buf, aud, "spiffe://example.org/j1/");
	r = call(&c, "FetchJWTSVID", buf, n);
	CHECK_STATUS(r, SPIFFE_GRPC_INVALID_ARGUMENT, "invalid requested "
		     "SPIFFE ID: path cannot have a trailing slash: \"/\" at "
		     "offset 23 in \"spiffe://example.org/j1/\"", 1);
	client_close(&c);
	CHECK(del_entry(id1) == 0 && del_entry(id2) == 0);
	spiffe_agent_server_tick(A.srv);
}

TEST(jwt_cache)
{
	const char *const sel[] = { "unix:uid:1004" };
	const char *const aud1[] = { "a", "b", NULL };
	const char *const aud2[] = { "b", "a", NULL };
	spiffe_agent_server_stats st0, st;
	struct client c1, c2;
	struct rpc *r1, *r2, *r3;
	uint8_t buf[256];
	size_t n;
	char id[65];

	CHECK(add_entry("spiffe://example.org/cached", "unix:uid:1004", NULL,
			NULL, id) == 0);
	spiffe_agent_server_tick(A.srv);
	spiffe_agent_server_stats_get(A.srv, &st0);
	CHECK(client_open(&c1, sel, 1) == 0);
	CHECK(client_open(&c2, sel, 1) == 0);
	n = jwt_req(buf, aud1, NULL);
	r1 = call(&c1, "FetchJWTSVID", buf, n);
	r2 = call(&c2, "FetchJWTSVID", buf, n);
	CHECK(r1 != NULL && r1->nmsg == 1 && r2 != NULL && r2->nmsg == 1);
	/* The same token for both connections: one signature. */
	CHECK_INT(r1->len[0], r2->len[0]);
	CHECK_MEM(r1->msg[0], r2->msg[0], r1->len[0]);
	spiffe_agent_server_stats_get(A.srv, &st);
	CHECK_INT(st.jwt_issued - st0.jwt_issued, 1);
	CHECK_INT(st.jwt_reused - st0.jwt_reused, 1);
	/* Other audiences (or another order): another token. */
	n = jwt_req(buf, aud2, NULL);
	r3 = call(&c1, "FetchJWTSVID", buf, n);
	CHECK(r3 != NULL && r3->nmsg == 1);
	spiffe_agent_server_stats_get(A.srv, &st);
	CHECK_INT(st.jwt_issued - st0.jwt_issued, 2);
	client_close(&c1);
	client_close(&c2);
	CHECK(del_entry(id) == 0);
	spiffe_agent_server_tick(A.srv);
}

/* Rotation at half life by the wall clock (as after a host resumes). */
TEST(rotation)
{
	const char *const sel[] = { "unix:uid:1005" };
	const char *const aud[] = { "a", NULL };
	spiffe_agent_server_stats st0, st;
	spiffe_x509_context *c1 = NULL, *c2 = NULL;
	spiffe_errbuf eb;
	struct client c;
	struct rpc *r, *j;
	uint8_t buf[64];
	size_t n;
	char id[65];
	int64_t t0 = spiffe_now();

	CHECK(add_entry("spiffe://example.org/rot", "unix:uid:1005", NULL,
			NULL, id) == 0);
	spiffe_agent_server_tick(A.srv);
	spiffe_agent_server_stats_get(A.srv, &st0);
	CHECK(client_open(&c, sel, 1) == 0);
	r = call(&c, "FetchX509SVID", NULL, 0);
	n = jwt_req(buf, aud, NULL);
	j = call(&c, "FetchJWTSVID", buf, n);
	CHECK(r != NULL && r->nmsg == 1 && j != NULL && j->nmsg == 1);
	/* Before half of the hour: nothing new. */
	spiffe_clock_set(t0 + 1700);
	spiffe_agent_server_tick(A.srv);
	shuttle(&c);
	CHECK_INT(r->nmsg, 1);
	j = call(&c, "FetchJWTSVID", buf, n);       /* 5 min TTL: new */
	/* Past half of it: a new SVID is pushed. */
	spiffe_clock_set(t0 + 1801);
	spiffe_agent_server_tick(A.srv);
	shuttle(&c);
	CHECK_INT(r->nmsg, 2);
	CHECK(spiffe_wlapi_parse_x509_context(r->msg[0], r->len[0], &c1,
					      &eb) == 0);
	CHECK(spiffe_wlapi_parse_x509_context(r->msg[1], r->len[1], &c2,
					      &eb) == 0);
	spiffe_clock_set(-1);
	/* Another certificate, valid later. */
	CHECK(c1->svids[0].chain.serial.len != c2->svids[0].chain.serial.len ||
	      memcmp(c1->svids[0].chain.serial.p, c2->svids[0].chain.serial.p,
		     c1->svids[0].chain.serial.len) != 0);
	CHECK(mbedtls_x509_time_cmp(&c1->svids[0].chain.valid_to,
				    &c2->svids[0].chain.valid_to) < 0);
	spiffe_x509_context_unref(c1);
	spiffe_x509_context_unref(c2);
	spiffe_agent_server_stats_get(A.srv, &st);
	CHECK_INT(st.x509_issued - st0.x509_issued, 2);
	CHECK_INT(st.jwt_issued - st0.jwt_issued, 2);
	client_close(&c);
	CHECK(del_entry(id) == 0);
	spiffe_agent_server_tick(A.srv);
}

TEST(jwt_audience_rules)
{
	const char *const sel[] = { "unix:uid:1003" };
	const char *const none[] = { NULL };
	struct client c;
	struct rpc *r;
	uint8_t buf[1024];
	size_t n = 0;
	char id[65];

	CHECK(add_entry("spiffe://example.org/k", "unix:uid:1003", NULL,
			NULL, id) == 0);
	spiffe_agent_server_tick(A.srv);
	CHECK(client_open(&c, sel, 1) == 0);
	n = jwt_req(buf, none, "spiffe://example.org/k");
	r = call(&c, "FetchJWTSVID", buf, n);
	CHECK_STATUS(r, SPIFFE_GRPC_INVALID_ARGUMENT,
		     "audience must be specified", 1);
	/* 33 audiences */
	n = 0;
	for (int i = 0; i < 33; i++) {
		buf[n++] = 0x0a;
		buf[n++] = 1;
		buf[n++] = 'a';
	}
	r = call(&c, "FetchJWTSVID", buf, n);
	CHECK_STATUS(r, SPIFFE_GRPC_INVALID_ARGUMENT,
		     "too many audiences (33; at most 32)", 1);
	client_close(&c);
	CHECK(del_entry(id) == 0);
	spiffe_agent_server_tick(A.srv);
}

/* ---- a real socket: the per-RPC check of the peer --------------------- */

/*
 * Makes one call on a connected socket with our h2 client, blocking;
 * returns the gRPC code, or -1, with the message in msg (256 bytes).
 */
static int fd_call(int fd, const char *path, char *msg)
{
	struct client c;
	spiffe_grpc_request req;
	struct rpc *r;
	const uint8_t empty[5] = { 0 };
	uint8_t buf[16384];
	size_t acc;

	memset(&c, 0, sizeof(c));
	if (spiffe_h2_init(&c.h2, SPIFFE_H2_CLIENT, &cl_cbs, &c, NULL) != 0)
		return -1;
	r = &c.rpcs[c.n++];
	spiffe_grpc_deframer_init(&r->df, 0);
	spiffe_grpc_request_init(&req, path, "localhost");
	if (spiffe_grpc_request_add(&req, "workload.spiffe.io", "true") != 0 ||
	    spiffe_h2_submit_request(&c.h2, req.h, req.n, 0, &r->id) != 0 ||
	    spiffe_h2_send_data(&c.h2, r->id, empty, 5, 1, &acc) != 0)
		return -1;
	while (!r->have_status && r->nmsg == 0) {
		const uint8_t *p;
		size_t len;
		ssize_t n;

		if (spiffe_h2_output(&c.h2, &p, &len) != 0)
			return -1;
		if (len > 0) {
			if (write(fd, p, len) != (ssize_t)len ||
			    spiffe_h2_output_consumed(&c.h2, len) != 0)
				return -1;
			continue;
		}
		if ((n = read(fd, buf, sizeof(buf))) <= 0 ||
		    spiffe_h2_feed(&c.h2, buf, (size_t)n) != 0)
			return -1;
	}
	snprintf(msg, 256, "%s", r->have_status ? r->st.msg : "");
	return r->have_status ? r->st.code : 0;
}

/* What the parent's timer watches while the loop runs. */
static struct orch {
	spiffe_agent_server *srv;
	int conn_rd, exit_wr, go_wr, res_rd;
	pid_t a;
	int own;
	int step;
	int64_t deadline;
	spiffe_timer t;
} O;

static void orch_tick(spiffe_evloop *l, void *arg)
{
	spiffe_agent_server_stats st;
	struct pollfd pf = { 0, POLLIN, 0 };
	char ch = 'x';

	spiffe_agent_server_stats_get(O.srv, &st);
	if (spiffe_monotonic_ms() > O.deadline) {
		spiffe_evloop_stop(l);
		return;
	}
	if (O.step == 0 && st.accepted == 1) {
		/* Attested while its first owner lives; now it may leave
		 * (and is reaped before its child calls). */
		if (write(O.exit_wr, &ch, 1) != 1 ||
		    (!O.own && waitpid(O.a, NULL, 0) < 0) ||
		    write(O.go_wr, &ch, 1) != 1)
			O.deadline = 0;
		O.step = 1;
	}
	if (O.step == 1) {
		pf.fd = O.res_rd;
		if (poll(&pf, 1, 0) == 1) {
			spiffe_evloop_stop(l);
			return;
		}
	}
	if (spiffe_timer_set(l, &O.t, spiffe_monotonic_ms() + 10) != 0)
		spiffe_evloop_stop(l);
}

/*
 * Runs a workload that connects, is attested, then hands the connection
 * to its child and exits (own=0), or keeps it (own=1); the child calls
 * FetchX509SVID.  Returns the code; msg gets the message.
 */
static int handed_over(const char *sock, int own, char *msg)
{
	int conn[2], ex[2], go[2], res[2], code = -1;
	spiffe_errbuf eb;

	if (pipe(conn) != 0 || pipe(ex) != 0 || pipe(go) != 0 ||
	    pipe(res) != 0)
		return -1;
	O.a = fork();
	if (O.a == 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		char ch;
		pid_t b;

		memcpy(sa.sun_path, sock, strlen(sock) + 1);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa,
				      sizeof(sa)) != 0)
			_exit(1);
		b = fork();
		if (b == 0) {
			char m[256] = "";
			int rc;

			if (read(go[0], &ch, 1) != 1)
				_exit(1);
			rc = fd_call(fd, "/SpiffeWorkloadAPI/FetchX509SVID",
				     m);
			if (write(res[1], &rc, sizeof(rc)) != sizeof(rc) ||
			    write(res[1], m, sizeof(m)) != sizeof(m))
				_exit(1);
			_exit(0);
		}
		if (read(ex[0], &ch, 1) != 1)
			_exit(1);
		if (own) {
			/* Stay until the child is done. */
			waitpid(b, NULL, 0);
		}
		_exit(0);
	}
	O.conn_rd = conn[0];
	O.exit_wr = ex[1];
	O.go_wr = go[1];
	O.res_rd = res[0];
	O.step = 0;
	O.own = own;
	O.deadline = spiffe_monotonic_ms() + 10000;
	O.t.fn = orch_tick;
	if (spiffe_timer_set(&A.loop, &O.t, spiffe_monotonic_ms()) == 0 &&
	    spiffe_evloop_run(&A.loop, &eb) == 0 &&
	    read(res[0], &code, sizeof(code)) == sizeof(code) &&
	    read(res[0], msg, 256) == 256) {
		msg[255] = '\0';
	} else {
		code = -1;
	}
	spiffe_timer_cancel(&A.loop, &O.t);
	if (own)
		waitpid(O.a, NULL, 0);
	for (int i = 0; i < 2; i++) {
		close(conn[i]);
		close(ex[i]);
		close(go[i]);
		close(res[i]);
	}
	return code;
}

TEST(peer_replaced)
{
	spiffe_agent_listener lis;
	spiffe_agent_server *srv = NULL;
	spiffe_errbuf eb;
	char sock[96], msg[256];
	int code;

	snprintf(sock, sizeof(sock), "%s/run/api.sock", A.dir);
	CHECK(spiffe_agent_listen(&lis, sock, &eb) == 0);
	CHECK(spiffe_agent_server_new(&srv, &A.loop, lis.fd, &A.ca, &A.reg,
				      &A.att, NULL, &eb) == 0);
	O.srv = srv;
	/* The owner stays: served (the uid 0 entry). */
	code = handed_over(sock, 1, msg);
	CHECK_INT(code, 0);
	spiffe_agent_server_free(srv);
	CHECK(spiffe_agent_server_new(&srv, &A.loop, lis.fd, &A.ca, &A.reg,
				      &A.att, NULL, &eb) == 0);
	O.srv = srv;
	/* The owner left the connection to its child: refused. */
	code = handed_over(sock, 0, msg);
	CHECK_INT(code, SPIFFE_GRPC_UNAUTHENTICATED);
	{
		static const char want[] = "could not verify existence of the "
					   "original caller: attestation: "
					   "process ";

		if (strncmp(msg, want, sizeof(want) - 1) != 0)
			FAILF("message \"%s\"", msg);
		CHECK(strstr(msg, " has exited") != NULL);
	}
	spiffe_agent_server_free(srv);
	spiffe_agent_listener_close(&lis);
}

TEST(decode_requests)
{
	spiffe_agent_jwt_req j;
	spiffe_agent_validate_req v;
	spiffe_errbuf eb;

	/* Unknown fields of every wire type are skipped; a known field of
	 * another wire type too; the last value of a singular field wins. */
	static const uint8_t mixed[] =
		"\x08\x05" "\x0a\x01" "a" "\x11" "12345678" "\x15" "1234"
		"\x12\x01" "x" "\x10\x01" "\x12\x02" "yz" "\x1b\x08\x01\x1c";

	CHECK(spiffe_agent_decode_jwt_req(mixed, sizeof(mixed) - 1, &j,
					  &eb) == 0);
	CHECK_INT(j.naud, 1);
	CHECK(j.aud[0].len == 1 && j.aud[0].p[0] == 'a');
	CHECK(j.spiffe_id.len == 2 && memcmp(j.spiffe_id.p, "yz", 2) == 0);
	CHECK(spiffe_agent_decode_validate_req((const uint8_t *)
		"\x0a\x00\x12\x03" "abc", 7, &v, &eb) == 0);
	CHECK(v.audience.len == 0 && v.svid.len == 3);
	/* Unknown length-delimited fields around the known ones (a
	 * regression: they made the decoder return 1). */
	CHECK_INT(spiffe_agent_decode_validate_req((const uint8_t *)
		"\x1a\x01q" "\x0a\x01" "a" "\x22\x00" "\x12\x01" "b"
		"\x9a\x00\x02" "zz", 16, &v, &eb), 0);
	CHECK(v.audience.len == 1 && v.audience.p[0] == 'a');
	CHECK(v.svid.len == 1 && v.svid.p[0] == 'b');
	CHECK_INT(spiffe_agent_decode_validate_req((const uint8_t *)
		"\x9a\x00\x02\x0c\x32", 5, &v, &eb), 0);
	CHECK(v.audience.len == 0 && v.svid.len == 0);
	/* Malformed: field 0, an unfinished group, a length past the end,
	 * end-group at the top, wire types 6 and 7. */
	CHECK_INT(spiffe_agent_decode_empty((const uint8_t *)"\x00\x01", 2,
					    &eb), SPIFFE_ERR_MALFORMED);
	CHECK_STR(eb.msg, "proto: cannot parse invalid wire-format data");
	CHECK_INT(spiffe_agent_decode_empty((const uint8_t *)"\x0b\x08\x01",
					    3, &eb), SPIFFE_ERR_MALFORMED);
	CHECK_INT(spiffe_agent_decode_empty((const uint8_t *)"\x0a\x05" "ab",
					    4, &eb), SPIFFE_ERR_MALFORMED);
	CHECK_INT(spiffe_agent_decode_empty((const uint8_t *)"\x0c", 1, &eb),
		  SPIFFE_ERR_MALFORMED);
	CHECK_INT(spiffe_agent_decode_empty((const uint8_t *)"\x0e", 1, &eb),
		  SPIFFE_ERR_MALFORMED);
	CHECK_INT(spiffe_agent_decode_empty((const uint8_t *)"\x0f", 1, &eb),
		  SPIFFE_ERR_MALFORMED);
	/* A group whose end tag names another field. */
	CHECK_INT(spiffe_agent_decode_empty((const uint8_t *)"\x0b\x14", 2,
					    &eb), SPIFFE_ERR_MALFORMED);
	/* UTF-8: overlong, surrogate, past U+10FFFF; a good 4-byte one. */
	CHECK_INT(spiffe_agent_decode_validate_req((const uint8_t *)
		"\x0a\x02\xc0\xaf", 4, &v, &eb), SPIFFE_ERR_MALFORMED);
	CHECK_STR(eb.msg, "string field contains invalid UTF-8");
	CHECK_INT(spiffe_agent_decode_validate_req((const uint8_t *)
		"\x0a\x03\xed\xa0\x80", 5, &v, &eb), SPIFFE_ERR_MALFORMED);
	CHECK_INT(spiffe_agent_decode_validate_req((const uint8_t *)
		"\x0a\x04\xf4\x90\x80\x80", 6, &v, &eb), SPIFFE_ERR_MALFORMED);
	CHECK(spiffe_agent_decode_validate_req((const uint8_t *)
		"\x0a\x04\xf0\x9f\x98\x80", 6, &v, &eb) == 0);
	/* A varint of 11 bytes; one of 10 that fits 64 bits. */
	CHECK_INT(spiffe_agent_decode_empty((const uint8_t *)
		"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12,
		&eb), SPIFFE_ERR_MALFORMED);
	CHECK_INT(spiffe_agent_decode_empty((const uint8_t *)
		"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 11,
		&eb), SPIFFE_ERR_MALFORMED);
	CHECK(spiffe_agent_decode_empty((const uint8_t *)
		"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11,
		&eb) == 0);
	CHECK(spiffe_agent_decode_empty(NULL, 0, &eb) == 0);
}

TEST(claims_struct)
{
	static const char doc[] =
		"{\"aud\":\"one\",\"sub\":\"spiffe://example.org/w\","
		"\"exp\":1700000000,\"f\":1.5,\"neg\":-2,\"big\":1e300,"
		"\"n\":null,\"t\":true,\"no\":false,\"esc\":\"a\\u00e9\\n\","
		"\"o\":{\"aud\":\"x\",\"l\":[1,[],{}]},\"e\":\"\"}";
	spiffe_json j;
	spiffe_errbuf eb;
	uint8_t *out = NULL;
	char *json = NULL;
	size_t len, jl;

	spiffe_json_init(&j);
	CHECK(spiffe_json_parse(&j, doc, sizeof(doc) - 1, &eb) == 0);
	CHECK(spiffe_agent_encode_validate("spiffe://example.org/w", 22, &j,
					   &out, &len, &eb) == 0);
	spiffe_json_free(&j);
	/* ValidateJWTSVIDResponse: spiffe_id, then claims (field 2). */
	CHECK(len > 5 + 24 && out[5] == 0x0a && out[6] == 22);
	CHECK(out[5 + 24] == 0x12);
	{
		size_t off = 5 + 25, l = 0;
		unsigned shift = 0;

		while (out[off] & 0x80) {
			l |= (size_t)(out[off++] & 0x7f) << shift;
			shift += 7;
		}
		l |= (size_t)out[off++] << shift;
		CHECK_INT(off + l, len);
		CHECK(spiffe_wlapi_struct_to_json(out + off, l, &json, &jl,
						  &eb) == 0);
	}
	/* The top-level aud became a list; the nested one did not. */
	CHECK_STR(json, "{\"aud\":[\"one\"],\"sub\":\"spiffe://example.org/w"
		  "\",\"exp\":1700000000,\"f\":1.5,\"neg\":-2,"
		  "\"big\":1.0000000000000001e+300,\"n\":null,\"t\":true,"
		  "\"no\":false,\"esc\":\"a\xc3\xa9\\u000a\","
		  "\"o\":{\"aud\":\"x\",\"l\":[1,[],{}]},\"e\":\"\"}");
	free(json);
	free(out);
}

TEST(encode_limits)
{
	spiffe_agent_x509_item it;
	uint8_t *out = (uint8_t *)1;
	size_t len = 1;

	memset(&it, 0, sizeof(it));
	it.spiffe_id.p = "spiffe://example.org/x";
	it.spiffe_id.len = 22;
	it.cert_len = SPIFFE_GRPC_MAX_MESSAGE;  /* never read: too big */
	it.cert = (const uint8_t *)"";
	CHECK_INT(spiffe_agent_encode_x509_svids(&it, 1, NULL, 0, &out, &len),
		  SPIFFE_ERR_LIMIT);
	CHECK(out == NULL && len == 0);
	CHECK(spiffe_agent_encode_jwt_bundles("k", 1, "{}", 2, &out,
					      &len) == 0);
	CHECK_INT(len, 5 + 2 + 3 + 4);
	CHECK_MEM(out, "\0\0\0\0\x09\x0a\x07\x0a\x01k\x12\x02{}", len);
	free(out);
}

TEST(trailers_encoding)
{
	spiffe_grpc_trailers t;
	char msg[600];

	spiffe_grpc_trailers_set(&t, 0, 7, "100% \xc3\xa9\n", 8);
	CHECK_INT(t.n, 2);
	CHECK(t.h[0].value_len == 1 && t.h[0].value[0] == '7');
	CHECK(t.h[1].value_len == 16 &&
	      memcmp(t.h[1].value, "100%25 %C3%A9%0A", 16) == 0);
	/* Cut at 512 bytes, not inside the two-byte sequence at 511. */
	memset(msg, 'a', sizeof(msg));
	msg[511] = (char)0xc3;
	msg[512] = (char)0xa9;
	spiffe_grpc_trailers_set(&t, 200, 3, msg, sizeof(msg));
	CHECK_INT(t.n, 4);
	CHECK_INT(t.h[3].value_len, 511);
}

/* Log lines: bare and quoted values, escapes, a cut line. */
TEST(log_lines)
{
	spiffe_agent_log log;
	spiffe_agent_logline l;
	char buf[4096], big[3000];
	int p[2];
	ssize_t n;
	int level;

	CHECK(pipe(p) == 0);
	log.fd = p[1];
	log.level = SPIFFE_LOG_INFO;
	spiffe_agent_log_begin(&l, &log, SPIFFE_LOG_DEBUG, "dropped");
	spiffe_agent_log_end(&l);
	spiffe_agent_log_begin(&l, &log, SPIFFE_LOG_WARN, "a \"b\"");
	spiffe_agent_log_cstr(&l, "path", "/usr/bin/x-1.2_b@c^d+e");
	spiffe_agent_log_str(&l, "evil", "a\nb\"c\\\x01\xff\xc2\x85\xc3\xa9"
			     "\x7f", 13);
	spiffe_agent_log_int(&l, "n", -42);
	spiffe_agent_log_cstr(&l, "e", "");
	spiffe_agent_log_str(&l, "z", NULL, 0);
	spiffe_agent_log_end(&l);
	n = read(p[0], buf, sizeof(buf) - 1);
	CHECK(n > 0);
	buf[n] = '\0';
	CHECK(strncmp(buf, "time=\"", 6) == 0);
	CHECK_STR(strstr(buf, " level="), " level=warning msg=\"a \\\"b\\\"\" "
		  "path=/usr/bin/x-1.2_b@c^d+e evil=\"a\\nb\\\"c\\\\\\x01"
		  "\\xff\\u0085\xc3\xa9\\x7f\" n=-42 e= z=\n");
	memset(big, 'a', sizeof(big));
	spiffe_agent_log_begin(&l, &log, SPIFFE_LOG_ERROR, "big");
	spiffe_agent_log_str(&l, "v", big, sizeof(big));
	spiffe_agent_log_end(&l);
	n = read(p[0], buf, sizeof(buf) - 1);
	CHECK_INT(n, SPIFFE_AGENT_LOG_LINE);
	CHECK(memcmp(buf + n - 4, "...\n", 4) == 0);
	close(p[0]);
	close(p[1]);
	CHECK(spiffe_agent_log_level_parse("WARNING", 7, &level) == 0 &&
	      level == SPIFFE_LOG_WARN);
	CHECK(spiffe_agent_log_level_parse("Debug", 5, &level) == 0 &&
	      level == SPIFFE_LOG_DEBUG);
	CHECK(spiffe_agent_log_level_parse("verbose", 7, &level) != 0);
}

int main(void)
{
	if (agent_start() != 0 ||
	    add_entry("spiffe://example.org/root", "unix:uid:0", NULL, NULL,
		      NULL) != 0) {
		printf("RESULT 0 1\n");
		return 1;
	}
	spiffe_agent_server_tick(A.srv);
	RUN(no_identity_is_trailers_only);
	RUN(security_header);
	RUN(unknown_methods);
	RUN(http_refusals);
	RUN(framing_errors);
	RUN(bad_http2_closes);
	RUN(x509_svid_and_cache);
	RUN(push_and_withdraw);
	RUN(jwt_and_validate);
	RUN(jwt_cache);
	RUN(rotation);
	RUN(peer_replaced);
	RUN(jwt_audience_rules);
	RUN(decode_requests);
	RUN(claims_struct);
	RUN(encode_limits);
	RUN(trailers_encoding);
	RUN(log_lines);
	agent_stop();
	return test_summary();
}
