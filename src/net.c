/*
 * net.c - TCP listen/connect helpers.
 */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"

int spiffe_net_split(const char *addr, size_t len,
		     char host[SPIFFE_NET_HOST_MAX + 1],
		     char port[SPIFFE_NET_PORT_MAX + 1], int allow_zero,
		     spiffe_errbuf *eb)
{
	size_t colon, hs = 0, he;
	unsigned long v = 0;

	host[0] = port[0] = '\0';
	if (len > 0 && addr[0] == '[') {
		const char *rb = memchr(addr, ']', len);

		if (rb == NULL || (size_t)(rb - addr) + 1 >= len ||
		    rb[1] != ':')
			goto bad;
		hs = 1;
		he = (size_t)(rb - addr);
		colon = he + 1;
	} else {
		const char *c = memchr(addr, ':', len);

		if (c == NULL || memchr(c + 1, ':', len - (size_t)(c - addr) -
					1) != NULL)
			goto bad;
		colon = (size_t)(c - addr);
		he = colon;
	}
	if (he - hs > SPIFFE_NET_HOST_MAX || len - colon - 1 == 0 ||
	    len - colon - 1 > SPIFFE_NET_PORT_MAX)
		goto bad;
	for (size_t i = colon + 1; i < len; i++) {
		if (addr[i] < '0' || addr[i] > '9')
			goto bad;
		v = v * 10 + (unsigned long)(addr[i] - '0');
	}
	if (v > 65535 || (v == 0 && !allow_zero))
		goto bad;
	for (size_t i = hs; i < he; i++)
		if (addr[i] == '\0')
			goto bad;
	memcpy(host, addr + hs, he - hs);
	host[he - hs] = '\0';
	memcpy(port, addr + colon + 1, len - colon - 1);
	port[len - colon - 1] = '\0';
	return 0;
bad:
	return spiffe_fail(eb, SPIFFE_ERR_ARG, "invalid address \"%.*s\" "
			   "(want host:port, :port or [v6]:port)",
			   (int)(len > 200 ? 200 : len), addr);
}

int spiffe_net_listen(const char *addr, int backlog, int *fd,
		      spiffe_errbuf *eb)
{
	char host[SPIFFE_NET_HOST_MAX + 1], port[SPIFFE_NET_PORT_MAX + 1];
	struct addrinfo hints, *res, *ai;
	int rc, s = -1, one = 1, err = 0;

	*fd = -1;
	rc = spiffe_net_split(addr, strlen(addr), host, port, 1, eb);
	if (rc != 0)
		return rc;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (rc != 0)
		return spiffe_fail(eb, SPIFFE_ERR_IO, "listen %s: %s", addr,
				   gai_strerror(rc));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		s = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
			   SOCK_CLOEXEC, ai->ai_protocol);
		if (s < 0) {
			err = errno;
			continue;
		}
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(s, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(s, backlog) == 0)
			break;
		err = errno;
		close(s);
		s = -1;
	}
	freeaddrinfo(res);
	if (s < 0)
		return spiffe_fail(eb, SPIFFE_ERR_IO, "listen %s: %s", addr,
				   strerror(err));
	*fd = s;
	return 0;
}

int spiffe_net_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}

/* Connects s to one address before deadline; 0 or an errno value. */
static int connect_one(int s, const struct addrinfo *ai, int64_t deadline)
{
	struct pollfd p;
	int err = 0;
	socklen_t elen = sizeof(err);

	if (connect(s, ai->ai_addr, ai->ai_addrlen) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return errno;
	p.fd = s;
	p.events = POLLOUT;
	for (;;) {
		int64_t left = deadline - spiffe_monotonic_ms();
		int rc;

		if (left <= 0)
			return ETIMEDOUT;
		rc = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (rc > 0)
			break;
		if (rc < 0 && errno != EINTR)
			return errno;
	}
	if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
		return errno;
	return err;
}

int spiffe_net_connect(const char *host, const char *port, int64_t deadline,
		       int *fd, spiffe_errbuf *eb)
{
	struct addrinfo hints, *res, *ai;
	int rc, err = ECONNREFUSED, one = 1;

	*fd = -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0)
		return spiffe_fail(eb, SPIFFE_ERR_IO, "dial %s:%s: %s", host,
				   port, gai_strerror(rc));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		int s = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
			       SOCK_CLOEXEC, ai->ai_protocol);

		if (s < 0) {
			err = errno;
			continue;
		}
		err = connect_one(s, ai, deadline);
		if (err == 0) {
			setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one,
				   sizeof(one));
			*fd = s;
			break;
		}
		close(s);
		if (err == ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	if (*fd >= 0)
		return 0;
	if (err == ETIMEDOUT)
		return spiffe_fail(eb, SPIFFE_ERR_TIMEOUT, "dial %s:%s: "
				   "timed out", host, port);
	return spiffe_fail(eb, SPIFFE_ERR_IO, "dial %s:%s: %s", host, port,
			   strerror(err));
}
