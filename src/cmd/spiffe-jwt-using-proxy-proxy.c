/*
 * spiffe-jwt-using-proxy-proxy - the proxy of go-spiffe's "JWT-SVID
 * using proxy" example.  It terminates TLS with its X.509-SVID (it runs
 * as the server's workload), logs each request and forwards it over TLS
 * to the server, which must present the expected SPIFFE ID (rproxy.h).
 */
#include <signal.h>
#include <stdint.h>
#include <string.h>

#include "spiffe.h"

#define PROG "spiffe-jwt-using-proxy-proxy"

static struct {
	const char *listen, *upstream, *upstream_id;
	int64_t workers;
	spiffe_cli_wlapi api;
} o = { ":8443", "https://localhost:8080", "spiffe://example.org/server", 8,
	SPIFFE_CLI_WLAPI_INIT };

static spiffe_flag flags[] = {
	{ "listen", SPIFFE_FLAG_STRING, &o.listen, "ADDR",
	  "where to serve HTTPS: host:port or :port (default \":8443\")", 0 },
	{ "upstream", SPIFFE_FLAG_STRING, &o.upstream, "URL",
	  "the server to forward to (default https://localhost:8080)", 0 },
	{ "upstreamID", SPIFFE_FLAG_STRING, &o.upstream_id, "ID",
	  "the SPIFFE ID the server must present\n"
	  "(default spiffe://example.org/server)", 0 },
	SPIFFE_CLI_WLAPI_FLAGS(o.api),
	{ "workers", SPIFFE_FLAG_INT, &o.workers, "N",
	  "requests forwarded at once; as many upstream connections are\n"
	  "kept alive (default 8)", 0 },
};

/* Logs "METHOD URL", as the reference does, then forwards. */
static void handler(void *arg, const spiffe_httpd_req *req,
		    spiffe_httpd_resp *resp)
{
	spiffe_log("%.*s %.*s", (int)req->method_len, req->method,
		   (int)req->target_len, req->target);
	spiffe_rproxy_handler(arg, req, resp);
}

int main(int argc, char **argv)
{
	spiffe_x509_source *xs = NULL;
	spiffe_wlapi_options wo;
	spiffe_tls_config tls, uptls;
	spiffe_svid_provider sp;
	spiffe_bundle_provider bp;
	spiffe_authorizer az;
	spiffe_httpd_config hc;
	spiffe_httpd srv;
	spiffe_rproxy_config pc;
	spiffe_rproxy px;
	spiffe_id id;
	spiffe_errbuf eb;
	int nargs, rc, wait_ms;

	rc = spiffe_cli_program(PROG, "[flags]",
				"Serves HTTPS with the X.509-SVID from the "
				"Workload API and forwards every request\n"
				"to the upstream server over TLS, if that "
				"presents the expected SPIFFE ID.", flags,
				sizeof(flags) / sizeof(flags[0]), 0, 0, argc,
				argv, &nargs);
	if (rc >= 0)
		return rc;
	if (o.workers < 1 || o.workers > SPIFFE_HTTPC_MAX_POOL)
		return spiffe_cli_usage_error(PROG, "flag -workers must be "
					      "1..%d", SPIFFE_HTTPC_MAX_POOL);
	if (spiffe_id_parse_cstr(&id, o.upstream_id, &eb) != 0)
		return spiffe_cli_usage_error(PROG, "flag -upstreamID: %s",
					      eb.msg);
	spiffe_wlapi_options_init(&wo);
	if ((rc = spiffe_cli_wlapi_options(PROG, &o.api, &wo, &wait_ms)) != 0)
		return rc;
	rc = 1;
	signal(SIGPIPE, SIG_IGN);
	memset(&tls, 0, sizeof(tls));
	memset(&uptls, 0, sizeof(uptls));
	memset(&srv, 0, sizeof(srv));
	memset(&px, 0, sizeof(px));
	if (spiffe_x509_source_new(&xs, &wo, wait_ms, &eb) != 0) {
		spiffe_log("Unable to create X509Source: %s", eb.msg);
		goto out;
	}
	sp = spiffe_x509_source_svid_provider(xs);
	bp = spiffe_x509_source_bundle_provider(xs);
	spiffe_authorize_id(&az, &id);
	memset(&pc, 0, sizeof(pc));
	pc.url = o.upstream;
	pc.url_len = strlen(o.upstream);
	pc.tls = &uptls;
	pc.pool = (int)o.workers;
	pc.log = spiffe_log_cb;
	if (spiffe_tls_config_init(&tls, SPIFFE_TLS_SERVER, &sp, NULL, NULL,
				   &eb) != 0 ||
	    spiffe_tls_config_init(&uptls, SPIFFE_TLS_CLIENT, NULL, &bp, &az,
				   &eb) != 0 ||
	    spiffe_rproxy_init(&px, &pc, &eb) != 0) {
		spiffe_log("%s", eb.msg);
		goto out;
	}
	memset(&hc, 0, sizeof(hc));
	hc.listen = o.listen;
	hc.tls = &tls;
	hc.handler = handler;
	hc.handler_arg = &px;
	hc.workers = (int)o.workers;
	hc.header_timeout_ms = 10000;
	hc.catch_signals = 1;
	hc.log = spiffe_log_cb;
	rc = spiffe_httpd_init(&srv, &hc, &eb);
	if (rc == 0) {
		spiffe_log("Serving HTTPS on port %d, forwarding to %s",
			   spiffe_httpd_port(&srv), o.upstream);
		rc = spiffe_httpd_run(&srv, &eb);
	}
	if (rc != 0)
		spiffe_log("%s", eb.msg);
	rc = rc != 0;
out:
	spiffe_httpd_free(&srv);
	spiffe_rproxy_free(&px);
	spiffe_tls_config_free(&uptls);
	spiffe_tls_config_free(&tls);
	spiffe_x509_source_free(xs);
	return rc;
}
