/*
 * spiffe-jwt-using-proxy-server - the server of go-spiffe's "JWT-SVID
 * using proxy" example.  It serves HTTPS with its X.509-SVID and answers
 * a request only when its Authorization field carries a JWT-SVID for its
 * audience (jwtauth.h); everything comes from the Workload API.
 */
#include <signal.h>
#include <stdint.h>
#include <string.h>

#include "spiffe.h"

#define PROG "spiffe-jwt-using-proxy-server"
#define DEFAULT_AUDIENCE "spiffe://example.org/server"

static struct {
	const char *listen;
	spiffe_cli_list aud;
	int64_t leeway, workers;
	spiffe_cli_wlapi api;
	int verbose;
} o = { ":8080", { 0, { NULL } }, 60000000000, 2, SPIFFE_CLI_WLAPI_INIT,
	0 };

static spiffe_flag flags[] = {
	{ "listen", SPIFFE_FLAG_STRING, &o.listen, "ADDR",
	  "where to serve HTTPS: host:port or :port (default \":8080\")", 0 },
	{ "audience", SPIFFE_FLAG_LIST, &o.aud, "ID",
	  "an audience a token must name; repeat or separate with commas\n"
	  "for several (default " DEFAULT_AUDIENCE ")", 0 },
	{ "leeway", SPIFFE_FLAG_DURATION, &o.leeway, "DURATION",
	  "clock skew allowed on a token's exp, nbf and iat, in whole\n"
	  "seconds (default 60s)", 0 },
	SPIFFE_CLI_WLAPI_FLAGS(o.api),
	{ "workers", SPIFFE_FLAG_INT, &o.workers, "N",
	  "threads that answer requests (default 2)", 0 },
	{ "v", SPIFFE_FLAG_BOOL, &o.verbose, NULL,
	  "also log the SHA-256 and subject of every accepted token", 0 },
};

/* Answers status with body, as Go's handlers write them. */
static void reply(spiffe_httpd_resp *resp, int status, const char *body,
		  size_t len)
{
	static const char ct[] = "text/plain; charset=utf-8";

	resp->status = status;
	if (spiffe_httpd_resp_header(resp, "Content-Type", 12, ct,
				     sizeof(ct) - 1) != 0 ||
	    (status != 200 &&
	     spiffe_httpd_resp_header(resp, "X-Content-Type-Options", 22,
				      "nosniff", 7) != 0))
		return;
	if (spiffe_httpd_resp_write(resp, body, len) != 0)
		resp->err = 1;  /* set already; the client gets 500 */
}

#define REPLY(resp, status, lit) reply(resp, status, lit, sizeof(lit) - 1)

static void handler(void *arg, const spiffe_httpd_req *req,
		    spiffe_httpd_resp *resp)
{
	spiffe_jwt_auth *auth = arg;
	spiffe_jwt_svid svid;
	spiffe_errbuf eb;
	const char *v;
	size_t len;
	int rc;

	/* An absent field reads as "", like Go's Header.Get. */
	if (spiffe_httpd_req_header(req, "authorization", &v, &len) != 0)
		v = NULL;
	spiffe_jwtsvid_init(&svid);
	rc = spiffe_jwt_auth_check(auth, v, len, &svid, &eb);
	if (rc == SPIFFE_ERR_HTTP) {
		spiffe_log("Malformed header");
		REPLY(resp, 401, "Invalid or unsupported authorization "
		      "header\n");
	} else if (rc != 0) {
		spiffe_log("Invalid token: %s", eb.msg);
		REPLY(resp, 401, "Unauthorized\n");
	} else {
		spiffe_log("Request received");
		if (o.verbose) {
			char fp[SPIFFE_JWT_FINGERPRINT_SIZE];
			const char *tok;
			size_t tl;

			if (spiffe_jwt_auth_bearer(v, len, &tok, &tl) == 0) {
				spiffe_jwt_fingerprint(tok, tl, fp);
				spiffe_log("Token %s from %s", fp,
					   svid.id.str);
			}
		}
		REPLY(resp, 200, "Success!!!");
	}
	spiffe_jwtsvid_free(&svid);
}

int main(int argc, char **argv)
{
	static const char *const def_aud[] = { DEFAULT_AUDIENCE };
	spiffe_x509_source *xs = NULL;
	spiffe_jwt_source *js = NULL;
	spiffe_wlapi_options wo;
	spiffe_jwt_auth auth;
	spiffe_tls_config tls;
	spiffe_httpd_config hc;
	spiffe_httpd srv;
	spiffe_svid_provider sp;
	spiffe_bundle_provider bp;
	spiffe_errbuf eb;
	int nargs, rc, wait_ms;

	rc = spiffe_cli_program(PROG, "[flags]",
				"Serves HTTPS with the X.509-SVID from the "
				"Workload API and answers \"Success!!!\"\n"
				"to requests that carry a valid JWT-SVID in "
				"Authorization: Bearer.", flags,
				sizeof(flags) / sizeof(flags[0]), 0, 0, argc,
				argv, &nargs);
	if (rc >= 0)
		return rc;
	if (o.workers < 1 || o.workers > 256)
		return spiffe_cli_usage_error(PROG, "flag -workers must be "
					      "1..256");
	if (o.leeway > 86400 * 1000000000ll)
		return spiffe_cli_usage_error(PROG, "flag -leeway must be "
					      "at most 24h");
	spiffe_wlapi_options_init(&wo);
	if ((rc = spiffe_cli_wlapi_options(PROG, &o.api, &wo, &wait_ms)) != 0)
		return rc;
	rc = 1;
	signal(SIGPIPE, SIG_IGN);
	memset(&tls, 0, sizeof(tls));
	memset(&srv, 0, sizeof(srv));
	memset(&auth, 0, sizeof(auth));
	if (spiffe_x509_source_new(&xs, &wo, wait_ms, &eb) != 0) {
		spiffe_log("Unable to create X509Source: %s", eb.msg);
		goto out;
	}
	if (spiffe_jwt_source_new(&js, &wo, wait_ms, &eb) != 0) {
		spiffe_log("Unable to create JWTSource: %s", eb.msg);
		goto out;
	}
	bp = spiffe_jwt_source_bundle_provider(js);
	if (spiffe_jwt_auth_init(&auth, &bp, o.aud.n ? o.aud.v : def_aud,
				 o.aud.n ? o.aud.n : 1,
				 o.leeway / 1000000000, SPIFFE_JWT_AUTH_CACHE,
				 &eb) != 0) {
		spiffe_log("%s", eb.msg);
		goto out;
	}
	sp = spiffe_x509_source_svid_provider(xs);
	if (spiffe_tls_config_init(&tls, SPIFFE_TLS_SERVER, &sp, NULL, NULL,
				   &eb) != 0) {
		spiffe_log("%s", eb.msg);
		goto out;
	}
	memset(&hc, 0, sizeof(hc));
	hc.listen = o.listen;
	hc.tls = &tls;
	hc.handler = handler;
	hc.handler_arg = &auth;
	hc.workers = (int)o.workers;
	hc.header_timeout_ms = 10000;  /* the reference's ReadHeaderTimeout */
	hc.catch_signals = 1;
	hc.log = spiffe_log_cb;
	rc = spiffe_httpd_init(&srv, &hc, &eb);
	if (rc == 0) {
		spiffe_log("Serving HTTPS on port %d",
			   spiffe_httpd_port(&srv));
		rc = spiffe_httpd_run(&srv, &eb);
	}
	if (rc != 0)
		spiffe_log("%s", eb.msg);
	rc = rc != 0;
out:
	spiffe_httpd_free(&srv);
	spiffe_tls_config_free(&tls);
	spiffe_jwt_auth_free(&auth);
	spiffe_jwt_source_free(js);
	spiffe_x509_source_free(xs);
	return rc;
}
