#include "address.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define PREFIX "workload endpoint socket URI"

static int bad(spiffe_errbuf *eb, const char *what)
{
	return spiffe_fail(eb, SPIFFE_ERR_ADDRESS, "%s", what);
}

static int has_prefix_ci(const char *s, size_t len, const char *p)
{
	size_t n = strlen(p);

	if (len < n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != p[i])
			return 0;
	}
	return 1;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Checks the parts every form forbids: control bytes, '?', '#'. */
static int check_common(const char *s, size_t len, size_t base,
			const char *kind, spiffe_errbuf *eb)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x21 || c == 0x7f)
			return spiffe_fail(eb, SPIFFE_ERR_ADDRESS,
					   PREFIX " is not a valid URI: control "
					   "character or space at byte %zu",
					   base + i);
		if (c == '?')
			return spiffe_fail(eb, SPIFFE_ERR_ADDRESS,
					   "workload endpoint %s socket URI "
					   "must not include query values",
					   kind);
		if (c == '#')
			return spiffe_fail(eb, SPIFFE_ERR_ADDRESS,
					   "workload endpoint %s socket URI "
					   "must not include a fragment", kind);
	}
	return 0;
}

static int parse_unix(spiffe_addr *a, const char *s, size_t len,
		      spiffe_errbuf *eb)
{
	const char *p;
	size_t n, o = 0;
	int rc = check_common(s, len, 5, "unix", eb);

	if (rc != 0)
		return rc;
	if (len >= 2 && s[0] == '/' && s[1] == '/') {
		/* "//authority/path": the authority must be empty. */
		const char *slash = memchr(s + 2, '/', len - 2);
		size_t alen = (slash ? (size_t)(slash - s) : len) - 2;

		if (memchr(s + 2, '@', alen) != NULL)
			return bad(eb, "workload endpoint unix socket URI "
				       "must not include user info");
		if (alen > 0)
			return spiffe_fail(eb, SPIFFE_ERR_ADDRESS,
					   "workload endpoint unix socket URI "
					   "must not include an authority "
					   "(\"%.*s\"); use unix:///path",
					   (int)(alen > 64 ? 64 : alen), s + 2);
		p = s + 2;
		n = len - 2;
		if (n == 0)
			return bad(eb, "workload endpoint unix socket URI "
				       "must include a path");
	} else {
		p = s;
		n = len;
		if (n == 0 || p[0] != '/')
			return bad(eb, "workload endpoint unix socket URI "
				       "must not be opaque (the path must be "
				       "absolute: unix:///path)");
	}
	if (n == 1)
		return bad(eb, "workload endpoint unix socket URI path \"/\" "
			       "is not a socket");
	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (c == '%') {
			int hi = i + 2 < n ? hexval(p[i + 1]) : -1;
			int lo = hi >= 0 ? hexval(p[i + 2]) : -1;

			if (lo < 0 || (hi == 0 && lo == 0))
				return bad(eb, PREFIX " is not a valid URI: "
					       "invalid percent-encoding in "
					       "path");
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (o >= SPIFFE_ADDR_PATH_MAX)
			return spiffe_fail(eb, SPIFFE_ERR_ADDRESS,
					   "workload endpoint unix socket path "
					   "is longer than %d bytes",
					   SPIFFE_ADDR_PATH_MAX);
		a->path[o++] = c;
	}
	a->path[o] = '\0';
	a->kind = SPIFFE_ADDR_UNIX;
	return 0;
}

static int parse_tcp(spiffe_addr *a, const char *s, size_t len,
		     spiffe_errbuf *eb)
{
	char host[64];
	const char *hp, *he, *port;
	size_t hlen, plen;
	unsigned long v = 0;
	int rc = check_common(s, len, 4, "tcp", eb);

	if (rc != 0)
		return rc;
	if (len < 2 || s[0] != '/' || s[1] != '/')
		return bad(eb, "workload endpoint tcp socket URI must not be "
			       "opaque (use tcp://IP:port)");
	s += 2;
	len -= 2;
	he = memchr(s, '/', len);
	if (he != NULL)
		return bad(eb, "workload endpoint tcp socket URI must not "
			       "include a path");
	if (memchr(s, '@', len) != NULL)
		return bad(eb, "workload endpoint tcp socket URI must not "
			       "include user info");
	if (len == 0)
		return bad(eb, "workload endpoint tcp socket URI must include "
			       "a host");
	if (s[0] == '[') {
		const char *rb = memchr(s, ']', len);

		if (rb == NULL)
			return bad(eb, PREFIX " is not a valid URI: unclosed "
				       "'[' in host");
		hp = s + 1;
		hlen = (size_t)(rb - hp);
		port = rb + 1;
		if (port < s + len && *port != ':')
			return bad(eb, "workload endpoint tcp socket URI host "
				       "component must be an IP:port");
		a->family = AF_INET6;
	} else {
		const char *colon = memchr(s, ':', len);

		hp = s;
		hlen = colon ? (size_t)(colon - s) : len;
		port = colon ? colon : s + len;
		a->family = AF_INET;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return bad(eb, "workload endpoint tcp socket URI host "
			       "component must be an IP:port");
	memcpy(host, hp, hlen);
	host[hlen] = '\0';
	if (inet_pton(a->family, host, a->ip) != 1)
		return bad(eb, "workload endpoint tcp socket URI host "
			       "component must be an IP:port (host names are "
			       "not allowed)");
	if (port >= s + len)
		return bad(eb, "workload endpoint tcp socket URI host "
			       "component must include a port");
	port++;
	plen = (size_t)(s + len - port);
	if (plen == 0 || plen > 5)
		return bad(eb, "workload endpoint tcp socket URI port must be "
			       "a number from 1 to 65535");
	for (size_t i = 0; i < plen; i++) {
		if (port[i] < '0' || port[i] > '9')
			return bad(eb, "workload endpoint tcp socket URI port "
				       "must be a number from 1 to 65535");
		v = v * 10 + (unsigned long)(port[i] - '0');
	}
	if (v == 0 || v > 65535)
		return bad(eb, "workload endpoint tcp socket URI port must be "
			       "a number from 1 to 65535");
	a->port = (uint16_t)v;
	a->kind = SPIFFE_ADDR_TCP;
	return 0;
}

int spiffe_addr_parse(spiffe_addr *a, const char *s, size_t len,
		      spiffe_errbuf *eb)
{
	int rc;

	memset(a, 0, sizeof(*a));
	if (len > 0 && s[0] == '/')
		return spiffe_fail(eb, SPIFFE_ERR_ADDRESS,
				   PREFIX " must have a \"tcp\" or \"unix\" "
				   "scheme (did you mean unix://%.*s?)",
				   (int)(len > 200 ? 200 : len), s);
	if (has_prefix_ci(s, len, "unix:"))
		rc = parse_unix(a, s + 5, len - 5, eb);
	else if (has_prefix_ci(s, len, "tcp:"))
		rc = parse_tcp(a, s + 4, len - 4, eb);
	else if (len > 0 && memchr(s, ':', len) == NULL)
		rc = bad(eb, PREFIX " must have a \"tcp\" or \"unix\" scheme "
			 "(a Unix socket is unix:///absolute/path)");
	else
		rc = bad(eb, PREFIX " must have a \"tcp\" or \"unix\" scheme");
	if (rc != 0)
		memset(a, 0, sizeof(*a));
	return rc;
}

int spiffe_addr_resolve(spiffe_addr *a, const char *explicit,
			spiffe_errbuf *eb)
{
	const char *s = explicit ? explicit : getenv(SPIFFE_ENDPOINT_ENV);

	if (s == NULL || s[0] == '\0') {
		memset(a, 0, sizeof(*a));
		return bad(eb, "workload endpoint socket address is not "
			       "configured (set " SPIFFE_ENDPOINT_ENV ")");
	}
	return spiffe_addr_parse(a, s, strlen(s), eb);
}

void spiffe_addr_format(const spiffe_addr *a, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];

	if (a->kind == SPIFFE_ADDR_UNIX) {
		snprintf(out, cap, "unix://%s", a->path);
	} else if (a->kind == SPIFFE_ADDR_TCP) {
		inet_ntop(a->family, a->ip, ip, sizeof(ip));
		snprintf(out, cap, a->family == AF_INET6 ? "tcp://[%s]:%u" :
			 "tcp://%s:%u", ip, (unsigned)a->port);
	} else if (cap > 0) {
		out[0] = '\0';
	}
}

int spiffe_addr_connect(const spiffe_addr *a, spiffe_errbuf *eb)
{
	char name[160];
	int fd, err;

	spiffe_addr_format(a, name, sizeof(name));
	if (a->kind == SPIFFE_ADDR_UNIX) {
		struct sockaddr_un sun;

		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		memcpy(sun.sun_path, a->path, strlen(a->path) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			goto fail;
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			return fd;
	} else if (a->kind == SPIFFE_ADDR_TCP) {
		struct sockaddr_in6 s6;
		struct sockaddr_in s4;
		struct sockaddr *sa;
		socklen_t salen;

		if (a->family == AF_INET6) {
			memset(&s6, 0, sizeof(s6));
			s6.sin6_family = AF_INET6;
			s6.sin6_port = htons(a->port);
			memcpy(&s6.sin6_addr, a->ip, 16);
			sa = (struct sockaddr *)&s6;
			salen = sizeof(s6);
		} else {
			memset(&s4, 0, sizeof(s4));
			s4.sin_family = AF_INET;
			s4.sin_port = htons(a->port);
			memcpy(&s4.sin_addr, a->ip, 4);
			sa = (struct sockaddr *)&s4;
			salen = sizeof(s4);
		}
		fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			goto fail;
		if (connect(fd, sa, salen) == 0)
			return fd;
	} else {
		return bad(eb, "no workload endpoint address");
	}
	err = errno;
	close(fd);
	errno = err;
fail:
	return spiffe_fail(eb, SPIFFE_ERR_IO, "cannot connect to %s: %s",
			   name, strerror(errno));
}
