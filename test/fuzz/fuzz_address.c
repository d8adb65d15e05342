/* Fuzz target: Workload API endpoint address parsing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	spiffe_addr a, b;
	spiffe_errbuf eb;
	char canon[256];

	if (spiffe_addr_parse(&a, (const char *)data, size, &eb) != 0)
		return 0;
	/* A parsed address formats to a form that parses to the same. */
	spiffe_addr_format(&a, canon, sizeof(canon));
	if (a.kind == SPIFFE_ADDR_TCP) {
		if (spiffe_addr_parse(&b, canon, strlen(canon), &eb) != 0 ||
		    b.port != a.port || memcmp(b.ip, a.ip, 16) != 0)
			abort();
	}
	return 0;
}
