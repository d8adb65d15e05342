/*
 * log.c - Go-style log lines on standard error (see log.h).
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

/* Room kept at the end of a line for "..." and the newline. */
#define TAIL 4

void spiffe_log_cb(void *arg, const char *msg)
{
	(void)arg;
	spiffe_log("%s", msg);
}

void spiffe_log(const char *fmt, ...)
{
	static const char hex[] = "0123456789abcdef";
	char msg[SPIFFE_LOG_LINE_MAX], line[SPIFFE_LOG_LINE_MAX];
	struct timespec ts;
	struct tm tm;
	size_t o = 0, off;
	va_list ap;
	int n, cut;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	cut = (size_t)n >= sizeof(msg);
	clock_gettime(CLOCK_REALTIME, &ts);
	if (localtime_r(&ts.tv_sec, &tm) != NULL)
		o = strftime(line, sizeof(line), "%Y/%m/%d %H:%M:%S ", &tm);
	for (const char *p = msg; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (o + 4 > sizeof(line) - TAIL) {
			cut = 1;
			break;
		}
		if (c < 0x20 || c == 0x7f) {
			line[o++] = '\\';
			line[o++] = 'x';
			line[o++] = hex[c >> 4];
			line[o++] = hex[c & 15];
		} else {
			line[o++] = (char)c;
		}
	}
	if (cut) {
		line[o++] = '.';
		line[o++] = '.';
		line[o++] = '.';
	}
	line[o++] = '\n';
	/* One write per line: lines are shorter than PIPE_BUF, so a pipe
	 * takes each whole.  A short write elsewhere goes on where it
	 * stopped. */
	for (off = 0; off < o;) {
		ssize_t w = write(STDERR_FILENO, line + off, o - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		off += (size_t)w;
	}
}
