/*
 * spiffe-jwt-using-proxy-client - the client of go-spiffe's "JWT-SVID
 * using proxy" example.  It fetches a JWT-SVID for the server's audience
 * from the Workload API and sends GET / with it in Authorization: Bearer
 * to the proxy over TLS, accepting only a peer with the server's SPIFFE
 * ID.  It logs the body of a 200 response; any other status fails.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spiffe.h"

#define PROG "spiffe-jwt-using-proxy-client"

static struct {
	const char *url, *server_id;
	int64_t n;
	spiffe_cli_wlapi api;
	int verbose;
} o = { "https://localhost:8443/", "spiffe://example.org/server", 1,
	SPIFFE_CLI_WLAPI_INIT, 0 };

static spiffe_flag flags[] = {
	{ "url", SPIFFE_FLAG_STRING, &o.url, "URL",
	  "where to send the request (default https://localhost:8443/)", 0 },
	{ "serverID", SPIFFE_FLAG_STRING, &o.server_id, "ID",
	  "the SPIFFE ID the peer must present\n"
	  "(default spiffe://example.org/server)", 0 },
	SPIFFE_CLI_WLAPI_FLAGS(o.api),
	{ "n", SPIFFE_FLAG_INT, &o.n, "N",
	  "send N requests over one kept-alive connection and log the\n"
	  "rate (default 1)", 0 },
	{ "v", SPIFFE_FLAG_BOOL, &o.verbose, NULL,
	  "also log the SHA-256 of the token sent", 0 },
};

/*
 * Sends the n requests; logs the last body, or why a request failed.
 * 0 or 1 (the exit status).
 */
static int call(spiffe_httpc *c, const char *path, size_t plen,
		const char *token)
{
	spiffe_http_kv f[1];
	spiffe_httpc_resp r;
	spiffe_errbuf eb;
	char *authz;
	size_t tl = strlen(token);
	int64_t t0 = spiffe_monotonic_ms(), ms;
	int rc = 0;

	if ((authz = malloc(7 + tl + 1)) == NULL) {
		spiffe_log("out of memory");
		return 1;
	}
	memcpy(authz, "Bearer ", 7);
	memcpy(authz + 7, token, tl + 1);
	f[0].name = "Authorization";
	f[0].name_len = 13;
	f[0].value = authz;
	f[0].value_len = 7 + tl;
	spiffe_httpc_resp_init(&r);
	for (int64_t i = 0; i < o.n && rc == 0; i++) {
		if (spiffe_httpc_request(c, "GET", 3, path, plen, f, 1, NULL,
					 0, &r, &eb) != 0) {
			spiffe_log("Error connecting to \"%s\": %s", o.url,
				   eb.msg);
			rc = 1;
		} else if (r.status != 200) {
			spiffe_log("unexpected status: %d %s", r.status,
				   spiffe_http_reason(r.status));
			rc = 1;
		}
	}
	if (rc == 0) {
		spiffe_log("%.*s", (int)r.body_len,
			   r.body != NULL ? (const char *)r.body : "");
		ms = spiffe_monotonic_ms() - t0;
		if (o.n > 1)
			spiffe_log("%" PRId64 " requests in %" PRId64 " ms "
				   "(%.0f/s)", o.n, ms,
				   ms > 0 ? (double)o.n * 1000 / (double)ms :
				   0.0);
	}
	spiffe_httpc_resp_free(&r);
	free(authz);
	return rc;
}

int main(int argc, char **argv)
{
	char host[SPIFFE_NET_HOST_MAX + 1], port[SPIFFE_NET_PORT_MAX + 1];
	const char *audience = "spiffe://example.org/server", *path;
	spiffe_x509_source *xs = NULL;
	spiffe_jwt_source *js = NULL;
	spiffe_wlapi_options wo;
	spiffe_tls_config tls;
	spiffe_bundle_provider bp;
	spiffe_authorizer az;
	spiffe_httpc_config hc;
	spiffe_httpc c;
	spiffe_id id;
	spiffe_errbuf eb;
	char *token = NULL;
	size_t plen;
	int nargs, rc, wait_ms;

	rc = spiffe_cli_program(PROG, "[flags] [AUDIENCE]",
				"Fetches a JWT-SVID for AUDIENCE (default "
				"spiffe://example.org/server) and\nsends "
				"GET with it in Authorization: Bearer to the "
				"proxy over TLS.", flags,
				sizeof(flags) / sizeof(flags[0]), 0, 1, argc,
				argv, &nargs);
	if (rc >= 0)
		return rc;
	if (nargs == 1)
		audience = argv[1];
	if (o.n < 1)
		return spiffe_cli_usage_error(PROG, "flag -n must be at "
					      "least 1");
	if (spiffe_id_parse_cstr(&id, o.server_id, &eb) != 0)
		return spiffe_cli_usage_error(PROG, "flag -serverID: %s",
					      eb.msg);
	if (spiffe_httpc_parse_url(o.url, strlen(o.url), host, port, &path,
				   &plen, &eb) != 0)
		return spiffe_cli_usage_error(PROG, "flag -url: %s", eb.msg);
	spiffe_wlapi_options_init(&wo);
	if ((rc = spiffe_cli_wlapi_options(PROG, &o.api, &wo, &wait_ms)) != 0)
		return rc;
	rc = 1;
	signal(SIGPIPE, SIG_IGN);
	memset(&tls, 0, sizeof(tls));
	memset(&c, 0, sizeof(c));
	if (spiffe_x509_source_new(&xs, &wo, wait_ms, &eb) != 0) {
		spiffe_log("Unable to create X509Source: %s", eb.msg);
		goto out;
	}
	if (spiffe_jwt_source_new(&js, &wo, wait_ms, &eb) != 0) {
		spiffe_log("Unable to create JWTSource: %s", eb.msg);
		goto out;
	}
	if (spiffe_jwt_source_fetch(js, &audience, 1, NULL, &token,
				    &eb) != 0) {
		spiffe_log("Unable to fetch SVID: %s", eb.msg);
		goto out;
	}
	if (o.verbose) {
		char fp[SPIFFE_JWT_FINGERPRINT_SIZE];

		spiffe_jwt_fingerprint(token, strlen(token), fp);
		spiffe_log("Sending token %s", fp);
	}
	bp = spiffe_x509_source_bundle_provider(xs);
	spiffe_authorize_id(&az, &id);
	memset(&hc, 0, sizeof(hc));
	hc.tls = &tls;
	hc.pool = 1;
	if (spiffe_tls_config_init(&tls, SPIFFE_TLS_CLIENT, NULL, &bp, &az,
				   &eb) != 0 ||
	    spiffe_httpc_init(&c, &hc, host, port, &eb) != 0) {
		spiffe_log("%s", eb.msg);
		goto out;
	}
	rc = call(&c, path, plen, token);
out:
	spiffe_httpc_free(&c);
	spiffe_tls_config_free(&tls);
	free(token);
	spiffe_jwt_source_free(js);
	spiffe_x509_source_free(xs);
	return rc;
}
