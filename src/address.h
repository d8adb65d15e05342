/*
 * address.h - Workload API endpoint addresses (SPIFFE_Workload_Endpoint
 * section 4).
 *
 * Accepted: "unix:///abs/path" and "unix:/abs/path" (a local socket), and
 * "tcp://IP:port" with an IPv4 or bracketed IPv6 literal.  Schemes are
 * case-insensitive.  Rejected, each with its own message: other schemes,
 * a unix authority ("unix://host/p"), relative or opaque unix paths, a
 * bare path with no scheme (the message suggests "unix://" + path), DNS
 * names for tcp, missing or out-of-range ports, user info, query,
 * fragment, and a tcp path.
 */
#ifndef SPIFFE_ADDRESS_H
#define SPIFFE_ADDRESS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SPIFFE_ENDPOINT_ENV "SPIFFE_ENDPOINT_SOCKET"
#define SPIFFE_ADDR_PATH_MAX 107  /* sun_path less its NUL */

enum spiffe_addr_kind { SPIFFE_ADDR_UNIX = 1, SPIFFE_ADDR_TCP = 2 };

typedef struct spiffe_addr {
	int kind;                           /* enum spiffe_addr_kind */
	char path[SPIFFE_ADDR_PATH_MAX + 1]; /* UNIX: absolute path */
	int family;                         /* TCP: AF_INET or AF_INET6 */
	uint8_t ip[16];                     /* TCP: address bytes */
	uint16_t port;                      /* TCP: port */
} spiffe_addr;

/* Parses s[0..len) into a; SPIFFE_ERR_ADDRESS with the reason in eb. */
SPIFFE_CHECK int spiffe_addr_parse(spiffe_addr *a, const char *s, size_t len,
				   spiffe_errbuf *eb);

/*
 * Parses explicit if not NULL, else $SPIFFE_ENDPOINT_SOCKET; unset or
 * empty gives "workload endpoint socket address is not configured".
 */
SPIFFE_CHECK int spiffe_addr_resolve(spiffe_addr *a, const char *explicit,
				     spiffe_errbuf *eb);

/* Writes the canonical form ("unix:///p", "tcp://1.2.3.4:5"). */
void spiffe_addr_format(const spiffe_addr *a, char *out, size_t cap);

/*
 * Opens a connected, close-on-exec, blocking stream socket to a.
 * Returns the descriptor, or a negative error with the reason in eb.
 */
SPIFFE_CHECK int spiffe_addr_connect(const spiffe_addr *a, spiffe_errbuf *eb);

#endif
