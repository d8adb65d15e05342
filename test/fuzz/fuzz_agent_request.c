/*
 * fuzz_agent_request - the Workload API server's input path: a memory
 * connection of spiffe-agent's server (h2 server session, gRPC request
 * headers and framing, protobuf request decoding, the handlers and
 * their encoders) fed arbitrary frames after a valid client preface and
 * SETTINGS.  d[0] picks the size of the pieces the rest is fed in; the
 * output is drained after each piece.  The agent (CA, registry with
 * entries for the fuzzed workload, server) is made once per process in
 * a temporary folder.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/server.h"
#include "agent/store.h"
#include "rng.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static struct {
	char dir[64];
	int dirfd;
	spiffe_agent_ca ca;
	spiffe_agent_registry reg;
	spiffe_agent_attestor att;
	spiffe_evloop loop;
	spiffe_agent_server *srv;
	spiffe_agent_workload w;
} F;

static void cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", F.dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", F.dir);
}

static void entry(const char *id, const char *sel, const char *hint)
{
	spiffe_agent_entry e;
	spiffe_errbuf eb;

	spiffe_agent_entry_init(&e);
	e.spiffe_id = strdup(id);
	e.parent_id = strdup("");
	e.hint = strdup(hint);
	if (spiffe_selectors_add(&e.sel, sel, strlen(sel), &eb) != 0 ||
	    spiffe_agent_registry_create(&F.reg, &e, NULL, &eb) != 0)
		abort();
	spiffe_agent_entry_free(&e);
}

static void setup(void)
{
	spiffe_errbuf eb;
	spiffe_td td;

	snprintf(F.dir, sizeof(F.dir), "/tmp/fuzz-agent.XXXXXX");
	if (mkdtemp(F.dir) == NULL)
		abort();
	atexit(cleanup);
	spiffe_agent_ca_init(&F.ca);
	spiffe_agent_registry_init(&F.reg);
	spiffe_agent_attestor_init(&F.att);
	spiffe_agent_workload_init(&F.w);
	if (spiffe_crypto_init() != 0 ||
	    spiffe_td_parse(&td, "example.org", 11, &eb) != 0 ||
	    spiffe_agent_dir_open(F.dir, &F.dirfd, &eb) != 0 ||
	    spiffe_agent_ca_open(&F.ca, F.dirfd, &td, &eb) != 0 ||
	    spiffe_agent_registry_open(&F.reg, F.dirfd, &td, &eb) != 0)
		abort();
	entry("spiffe://example.org/a", "unix:uid:0", "web");
	entry("spiffe://example.org/b", "unix:uid:0", "web");
	entry("spiffe://example.org/c", "unix:gid:0", "");
	if (spiffe_evloop_init(&F.loop, NULL, NULL, &eb) != 0 ||
	    spiffe_agent_server_new(&F.srv, &F.loop, -1, &F.ca, &F.reg,
				    &F.att, NULL, &eb) != 0 ||
	    spiffe_selectors_add(&F.w.sel, "unix:uid:0", 10, &eb) != 0 ||
	    spiffe_selectors_add(&F.w.sel, "unix:gid:0", 10, &eb) != 0)
		abort();
	F.w.pid = 1;
}

static void drain(spiffe_agent_conn *c)
{
	const uint8_t *p;
	size_t len;
	volatile uint8_t sink = 0;

	spiffe_agent_conn_output(c, &p, &len);
	for (size_t i = 0; i < len; i++)
		sink ^= p[i];
	(void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static const uint8_t hello[] =
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
		"\0\0\x0c\x04\0\0\0\0\0" "\0\x04\0\x10\0\0" "\0\x06\0\0\x40\0";
	spiffe_agent_conn *c;
	size_t step;

	if (F.srv == NULL)
		setup();
	if (spiffe_agent_conn_new_mem(F.srv, &F.w, &c) != 0)
		return 0;
	if (spiffe_agent_conn_feed(c, hello, sizeof(hello) - 1) != 0)
		abort();
	drain(c);
	step = n > 0 ? 1 + (size_t)d[0] * 67 : 1;
	for (size_t off = 1; off < n;) {
		size_t k = n - off < step ? n - off : step;
		int rc = spiffe_agent_conn_feed(c, d + off, k);

		drain(c);
		if (rc != 0) {
			if (rc != SPIFFE_ERR_CLOSED)
				abort();
			break;
		}
		off += k;
	}
	drain(c);
	spiffe_agent_conn_free(c);
	return 0;
}
