/*
 * net.h - TCP sockets for the HTTPS server and client: listening,
 * connecting with a deadline, and "host:port" addresses.
 *
 * Addresses are local configuration (flags), not peer input, but are
 * still read as (pointer, length) with bounds: "host:port", ":port"
 * (every address), "[v6]:port"; host is a name or a numeric address.
 */
#ifndef SPIFFE_NET_H
#define SPIFFE_NET_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SPIFFE_NET_HOST_MAX 255
#define SPIFFE_NET_PORT_MAX 5

/*
 * Splits addr[0..len) into host (terminated, "" for ":port") and port
 * (terminated decimal 1..65535, or 0 when allow_zero).  SPIFFE_ERR_ARG
 * with a message otherwise.
 */
SPIFFE_CHECK int spiffe_net_split(const char *addr, size_t len,
				  char host[SPIFFE_NET_HOST_MAX + 1],
				  char port[SPIFFE_NET_PORT_MAX + 1],
				  int allow_zero, spiffe_errbuf *eb);

/*
 * Binds and listens on addr (port 0 picks a free one), non-blocking,
 * close-on-exec, SO_REUSEADDR; *fd is the socket.
 */
SPIFFE_CHECK int spiffe_net_listen(const char *addr, int backlog, int *fd,
				   spiffe_errbuf *eb);

/* The local port of a bound socket, or -1. */
int spiffe_net_local_port(int fd);

/*
 * Connects to host:port (each resolved address in turn) before deadline
 * (spiffe_monotonic_ms()); *fd is a non-blocking, close-on-exec socket
 * with TCP_NODELAY.  SPIFFE_ERR_IO or SPIFFE_ERR_TIMEOUT.
 */
SPIFFE_CHECK int spiffe_net_connect(const char *host, const char *port,
				    int64_t deadline, int *fd,
				    spiffe_errbuf *eb);

#endif
