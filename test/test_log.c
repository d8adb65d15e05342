/*
 * test_log.c - Go-style log lines: the timestamp layout, escaped control
 * bytes, the length bound, one line per call.
 */
#include <stdlib.h>
#include <unistd.h>

#include "test.h"
#include "log.h"

/* Runs spiffe_log("%s%s", a, b) with stderr in a file; returns its
 * text. */
static const char *logged(const char *a, const char *b)
{
	static char buf[2 * SPIFFE_LOG_LINE_MAX];
	FILE *f = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n;

	if (f == NULL || saved < 0 || dup2(fileno(f), STDERR_FILENO) < 0)
		abort();
	spiffe_log("%s%s", a, b);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* 1 if s starts with "YYYY/MM/DD HH:MM:SS " (Go's log.LstdFlags). */
static int stamped(const char *s)
{
	static const char shape[] = "0000/00/00 00:00:00 ";

	for (size_t i = 0; i < sizeof(shape) - 1; i++) {
		if (shape[i] == '0' ? (s[i] < '0' || s[i] > '9') :
		    s[i] != shape[i])
			return 0;
	}
	return 1;
}

TEST(line_shape)
{
	const char *s = logged("Invalid token: ", "jwtsvid: token has "
			       "expired");

	CHECK(stamped(s));
	CHECK_STR(s + 20, "Invalid token: jwtsvid: token has expired\n");
}

TEST(control_bytes_escaped)
{
	const char *s = logged("a\nb\r\tc", "\x7f\x1b[31m d\xc3\xa9");

	CHECK(stamped(s));
	/* No forged second line; UTF-8 is left alone. */
	CHECK_STR(s + 20, "a\\x0ab\\x0d\\x09c\\x7f\\x1b[31m d\xc3\xa9\n");
}

TEST(long_message_cut)
{
	static char big[3 * SPIFFE_LOG_LINE_MAX];
	const char *s;
	size_t n;

	memset(big, 'x', sizeof(big) - 1);
	s = logged(big, "");
	n = strlen(s);
	CHECK(n <= SPIFFE_LOG_LINE_MAX);
	CHECK(n > SPIFFE_LOG_LINE_MAX - 8);
	CHECK_STR(s + n - 4, "...\n");
	CHECK(strchr(s, '\n') == s + n - 1);
	/* Escapes are never split by the cut. */
	memset(big, '\n', sizeof(big) - 1);
	s = logged(big, "");
	n = strlen(s);
	CHECK_STR(s + n - 8, "\\x0a...\n");
}

int main(void)
{
	RUN(line_shape);
	RUN(control_bytes_escaped);
	RUN(long_message_cut);
	return test_summary();
}
