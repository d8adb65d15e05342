/* Workload API endpoint addresses: go-spiffe's addr_test.go table and
 * the stricter cases the SPIFFE Workload Endpoint standard asks for. */
#include "test.h"

#include <stdlib.h>
#include <sys/socket.h>

#include "address.h"

struct vec {
	const char *in;
	const char *err;     /* exact message, or NULL for success */
	const char *canon;   /* canonical form on success */
};

static const struct vec vecs[] = {
	{ "unix:///path/to/sock", NULL, "unix:///path/to/sock" },
	{ "unix:/path", NULL, "unix:///path" },
	{ "UNIX:///p", NULL, "unix:///p" },
	{ "Unix:/tmp/agent.sock", NULL, "unix:///tmp/agent.sock" },
	{ "unix:///tmp/a%20b", NULL, "unix:///tmp/a b" },
	{ "tcp://1.2.3.4:5", NULL, "tcp://1.2.3.4:5" },
	{ "tcp://[::1]:8000", NULL, "tcp://[::1]:8000" },
	{ "TCP://127.0.0.1:65535", NULL, "tcp://127.0.0.1:65535" },
	{ "unix:opaque", "workload endpoint unix socket URI must not be "
	  "opaque (the path must be absolute: unix:///path)", NULL },
	{ "unix:relative/path", "workload endpoint unix socket URI must not "
	  "be opaque (the path must be absolute: unix:///path)", NULL },
	{ "unix://", "workload endpoint unix socket URI must include a path",
	  NULL },
	{ "unix://foo", "workload endpoint unix socket URI must not include "
	  "an authority (\"foo\"); use unix:///path", NULL },
	{ "unix://host/tmp/sock", "workload endpoint unix socket URI must "
	  "not include an authority (\"host\"); use unix:///path", NULL },
	{ "unix:///", "workload endpoint unix socket URI path \"/\" is not a "
	  "socket", NULL },
	{ "unix://foo?whatever", "workload endpoint unix socket URI must not "
	  "include query values", NULL },
	{ "unix://foo#whatever", "workload endpoint unix socket URI must not "
	  "include a fragment", NULL },
	{ "unix://john:doe@foo/path", "workload endpoint unix socket URI "
	  "must not include user info", NULL },
	{ "unix:///tmp/a%2", "workload endpoint socket URI is not a valid "
	  "URI: invalid percent-encoding in path", NULL },
	{ "unix:///tmp/a%00b", "workload endpoint socket URI is not a valid "
	  "URI: invalid percent-encoding in path", NULL },
	{ "/tmp/agent.sock", "workload endpoint socket URI must have a "
	  "\"tcp\" or \"unix\" scheme (did you mean unix:///tmp/agent.sock?)",
	  NULL },
	{ "", "workload endpoint socket URI must have a \"tcp\" or \"unix\" "
	  "scheme", NULL },
	{ "blah", "workload endpoint socket URI must have a \"tcp\" or "
	  "\"unix\" scheme (a Unix socket is unix:///absolute/path)", NULL },
	{ "run/agent.sock", "workload endpoint socket URI must have a "
	  "\"tcp\" or \"unix\" scheme (a Unix socket is "
	  "unix:///absolute/path)", NULL },
	{ "unix-abstract:foo", "workload endpoint socket URI must have a "
	  "\"tcp\" or \"unix\" scheme", NULL },
	{ "tcp:opaque", "workload endpoint tcp socket URI must not be opaque "
	  "(use tcp://IP:port)", NULL },
	{ "tcp:127.0.0.1:8000", "workload endpoint tcp socket URI must not "
	  "be opaque (use tcp://IP:port)", NULL },
	{ "tcp://john:doe@1.2.3.4:5", "workload endpoint tcp socket URI "
	  "must not include user info", NULL },
	{ "tcp://", "workload endpoint tcp socket URI must include a host",
	  NULL },
	{ "tcp://1.2.3.4:5/path", "workload endpoint tcp socket URI must not "
	  "include a path", NULL },
	{ "tcp://1.2.3.4:5/", "workload endpoint tcp socket URI must not "
	  "include a path", NULL },
	{ "tcp://1.2.3.4:5?whatever", "workload endpoint tcp socket URI must "
	  "not include query values", NULL },
	{ "tcp://1.2.3.4:5#whatever", "workload endpoint tcp socket URI must "
	  "not include a fragment", NULL },
	{ "tcp://foo:5", "workload endpoint tcp socket URI host component "
	  "must be an IP:port (host names are not allowed)", NULL },
	{ "tcp://localhost:8000", "workload endpoint tcp socket URI host "
	  "component must be an IP:port (host names are not allowed)", NULL },
	{ "tcp://1.2.3.4", "workload endpoint tcp socket URI host component "
	  "must include a port", NULL },
	{ "tcp://1.2.3.4:", "workload endpoint tcp socket URI port must be a "
	  "number from 1 to 65535", NULL },
	{ "tcp://1.2.3.4:99999", "workload endpoint tcp socket URI port must "
	  "be a number from 1 to 65535", NULL },
	{ "tcp://1.2.3.4:0", "workload endpoint tcp socket URI port must be "
	  "a number from 1 to 65535", NULL },
	{ "tcp://1.2.3.4:http", "workload endpoint tcp socket URI port must "
	  "be a number from 1 to 65535", NULL },
	{ "tcp://[::1]", "workload endpoint tcp socket URI host component "
	  "must include a port", NULL },
	{ "tcp://[::1:80", "workload endpoint socket URI is not a valid URI: "
	  "unclosed '[' in host", NULL },
	{ "unix:///tmp/\tx", "workload endpoint socket URI is not a valid "
	  "URI: control character or space at byte 12", NULL },
};

TEST(address_table)
{
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		const struct vec *v = &vecs[i];
		spiffe_addr a;
		spiffe_errbuf eb = { "" };
		char canon[200];
		int rc = spiffe_addr_parse(&a, v->in, strlen(v->in), &eb);

		if (v->err == NULL) {
			if (rc != 0) {
				FAILF("%s: unexpected error %s", v->in,
				      eb.msg);
				return;
			}
			spiffe_addr_format(&a, canon, sizeof(canon));
			CHECK_STR(canon, v->canon);
		} else {
			if (rc != SPIFFE_ERR_ADDRESS) {
				FAILF("%s: rc %d, want error \"%s\"", v->in,
				      rc, v->err);
				return;
			}
			CHECK_STR(eb.msg, v->err);
			CHECK_INT(a.kind, 0);
		}
	}
}

TEST(unix_path_limit)
{
	char in[200] = "unix://";
	spiffe_addr a;
	spiffe_errbuf eb;

	for (int i = 0; i < 107; i++)
		in[7 + i] = i == 0 ? '/' : 'a';
	CHECK_INT(spiffe_addr_parse(&a, in, strlen(in), &eb), 0);
	CHECK_INT(strlen(a.path), 107);
	in[7 + 107] = 'b';
	CHECK_INT(spiffe_addr_parse(&a, in, strlen(in), &eb),
		  SPIFFE_ERR_ADDRESS);
	CHECK_STR(eb.msg, "workload endpoint unix socket path is longer "
		  "than 107 bytes");
}

TEST(resolve_from_environment)
{
	spiffe_addr a;
	spiffe_errbuf eb;

	unsetenv(SPIFFE_ENDPOINT_ENV);
	CHECK_INT(spiffe_addr_resolve(&a, NULL, &eb), SPIFFE_ERR_ADDRESS);
	CHECK_STR(eb.msg, "workload endpoint socket address is not "
		  "configured (set SPIFFE_ENDPOINT_SOCKET)");
	setenv(SPIFFE_ENDPOINT_ENV, "unix:///run/spire/agent.sock", 1);
	CHECK_INT(spiffe_addr_resolve(&a, NULL, &eb), 0);
	CHECK_STR(a.path, "/run/spire/agent.sock");
	/* An explicit address wins over the environment. */
	CHECK_INT(spiffe_addr_resolve(&a, "tcp://127.0.0.1:1", &eb), 0);
	CHECK_INT(a.kind, SPIFFE_ADDR_TCP);
	CHECK_INT(a.family, AF_INET);
	CHECK_INT(a.port, 1);
	unsetenv(SPIFFE_ENDPOINT_ENV);
}

TEST(connect_reports_the_address)
{
	spiffe_addr a;
	spiffe_errbuf eb;
	const char *s = "unix:///nonexistent/dir/agent.sock";

	CHECK_INT(spiffe_addr_parse(&a, s, strlen(s), &eb), 0);
	CHECK_INT(spiffe_addr_connect(&a, &eb), SPIFFE_ERR_IO);
	CHECK_STR(eb.msg, "cannot connect to unix:///nonexistent/dir/"
		  "agent.sock: No such file or directory");
}

int main(void)
{
	RUN(address_table);
	RUN(unix_path_limit);
	RUN(resolve_from_environment);
	RUN(connect_reports_the_address);
	return test_summary();
}
