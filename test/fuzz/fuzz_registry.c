/* Fuzz target: the registration entries file parser.  A file that loads
 * must write out and load back to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static spiffe_td td;
	spiffe_agent_entries a, b;
	spiffe_errbuf eb;
	char *t1, *t2;
	size_t n1, n2;

	if (td.len == 0 && spiffe_td_parse(&td, "example.org", 11, NULL) != 0)
		abort();
	spiffe_agent_entries_init(&a);
	spiffe_agent_entries_init(&b);
	if (spiffe_agent_registry_parse((const char *)data, size, &td, &a,
					&eb) != 0) {
		if (a.n != 0)
			abort();
		return 0;
	}
	if (spiffe_agent_registry_marshal(&a, &t1, &n1, &eb) != 0)
		abort();
	if (spiffe_agent_registry_parse(t1, n1, &td, &b, &eb) != 0 ||
	    b.n != a.n)
		abort();
	if (spiffe_agent_registry_marshal(&b, &t2, &n2, &eb) != 0 ||
	    n1 != n2 || memcmp(t1, t2, n1) != 0)
		abort();
	free(t1);
	free(t2);
	spiffe_agent_entries_free(&a);
	spiffe_agent_entries_free(&b);
	return 0;
}
