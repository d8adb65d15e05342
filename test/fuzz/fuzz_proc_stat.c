/* Fuzz target: the /proc/PID/stat and /proc/PID/status parsers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/attest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	spiffe_agent_proc_stat st;
	spiffe_agent_proc_status ps;
	spiffe_errbuf eb;
	/* An exact-size copy, so reading past the end is caught. */
	char *p = malloc(size ? size : 1);

	if (p == NULL)
		return 0;
	memcpy(p, data, size);
	if (spiffe_agent_parse_stat(p, size, &st, &eb) == 0 &&
	    (st.pid <= 0 || st.pid > INT32_MAX ||
	     !((st.state >= 'A' && st.state <= 'Z') ||
	       (st.state >= 'a' && st.state <= 'z'))))
		abort();
	if (spiffe_agent_parse_status(p, size, &ps, &eb) == 0 &&
	    ps.ngroups > SPIFFE_AGENT_MAX_GROUPS)
		abort();
	free(p);
	return 0;
}
