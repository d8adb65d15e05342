/*
 * log.c - logrus-style text lines for the agent (see log.h).
 */
#include "agent/log.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "utf8.h"

static const char *const level_names[] = {
	"debug", "info", "warning", "error",
};

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int ieq(const char *s, size_t len, const char *name)
{
	size_t n = strlen(name);

	if (len != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)s[i]) != name[i])
			return 0;
	return 1;
}

int spiffe_agent_log_level_parse(const char *s, size_t len, int *level)
{
	if (ieq(s, len, "debug"))
		*level = SPIFFE_LOG_DEBUG;
	else if (ieq(s, len, "info"))
		*level = SPIFFE_LOG_INFO;
	else if (ieq(s, len, "warn") || ieq(s, len, "warning"))
		*level = SPIFFE_LOG_WARN;
	else if (ieq(s, len, "error"))
		*level = SPIFFE_LOG_ERROR;
	else
		return SPIFFE_ERR_ARG;
	return 0;
}

int spiffe_agent_log_on(const spiffe_agent_log *log, int level)
{
	return log != NULL && log->fd >= 0 && level >= log->level;
}

/* Room kept for the cut marker and the newline. */
#define RESERVE 4

static void put(spiffe_agent_logline *l, const char *p, size_t n)
{
	size_t room = sizeof(l->buf) - RESERVE - l->len;

	if (l->cut)
		return;
	if (n > room) {
		n = room;
		l->cut = 1;
	}
	if (n > 0)
		memcpy(l->buf + l->len, p, n);
	l->len += n;
}

static void putc1(spiffe_agent_logline *l, char c)
{
	put(l, &c, 1);
}

static int bare(const char *v, size_t len)
{
	if (len == 0)
		return 1;
	for (size_t i = 0; i < len; i++) {
		char c = v[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		      c == '_' || c == '/' || c == '@' || c == '^' ||
		      c == '+'))
			return 0;
	}
	return 1;
}

static void put_quoted(spiffe_agent_logline *l, const char *v, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)v;

	putc1(l, '"');
	for (size_t i = 0; i < len;) {
		size_t n = spiffe_utf8_seq(u + i, len - i, NULL);
		char esc[6];

		if (n == 1 && u[i] >= 0x20 && u[i] != 0x7f) {
			if (u[i] == '"' || u[i] == '\\')
				putc1(l, '\\');
			putc1(l, (char)u[i]);
		} else if (n == 1 && (u[i] == '\n' || u[i] == '\t' ||
				      u[i] == '\r')) {
			esc[0] = '\\';
			esc[1] = u[i] == '\n' ? 'n' : u[i] == '\t' ? 't' : 'r';
			put(l, esc, 2);
		} else if (n == 2 && u[i] == 0xc2 && u[i + 1] < 0xa0) {
			/* C1 controls, U+0080..U+009F */
			esc[0] = '\\';
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[u[i + 1] >> 4];
			esc[5] = hex[u[i + 1] & 15];
			put(l, esc, 6);
		} else if (n > 1) {
			put(l, v + i, n);
		} else {
			esc[0] = '\\';
			esc[1] = 'x';
			esc[2] = hex[u[i] >> 4];
			esc[3] = hex[u[i] & 15];
			put(l, esc, 4);
			n = 1;
		}
		i += n;
	}
	putc1(l, '"');
}

void spiffe_agent_log_begin(spiffe_agent_logline *l,
			    const spiffe_agent_log *log, int level,
			    const char *msg)
{
	struct timespec ts;
	struct tm tm;
	char t[32];
	size_t n;

	l->log = log;
	l->on = spiffe_agent_log_on(log, level);
	l->len = 0;
	l->cut = 0;
	if (!l->on)
		return;
	if (level < SPIFFE_LOG_DEBUG || level > SPIFFE_LOG_ERROR)
		level = SPIFFE_LOG_ERROR;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(t, sizeof(t), "time=\"%Y-%m-%dT%H:%M:%SZ\"", &tm);
	put(l, t, n);
	put(l, " level=", 7);
	put(l, level_names[level], strlen(level_names[level]));
	put(l, " msg=", 5);
	put_quoted(l, msg, strlen(msg));
}

void spiffe_agent_log_str(spiffe_agent_logline *l, const char *key,
			  const char *v, size_t len)
{
	if (!l->on)
		return;
	putc1(l, ' ');
	put(l, key, strlen(key));
	putc1(l, '=');
	if (bare(v, len))
		put(l, v, len);
	else
		put_quoted(l, v, len);
}

void spiffe_agent_log_cstr(spiffe_agent_logline *l, const char *key,
			   const char *v)
{
	if (v == NULL)
		v = "";
	spiffe_agent_log_str(l, key, v, strlen(v));
}

void spiffe_agent_log_int(spiffe_agent_logline *l, const char *key,
			  int64_t v)
{
	char buf[24];
	char *p = buf + sizeof(buf);
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	if (!l->on)
		return;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--p = '-';
	spiffe_agent_log_str(l, key, p, (size_t)(buf + sizeof(buf) - p));
}

void spiffe_agent_log_end(spiffe_agent_logline *l)
{
	size_t off = 0;

	if (!l->on)
		return;
	if (l->cut) {
		memcpy(l->buf + l->len, "...", 3);
		l->len += 3;
	}
	l->buf[l->len++] = '\n';
	while (off < l->len) {
		ssize_t n = write(l->log->fd, l->buf + off, l->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	l->on = 0;
}
