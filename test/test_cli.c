/*
 * test_cli.c - the shared command-line helpers: Go-style flags, Go
 * durations, bounded file reads.
 */
#include <stdlib.h>
#include <unistd.h>

#include "test.h"
#include "cli.h"
#include "workloadapi.h"

static const char *s_val;
static int b_val;
static int64_t d_val;
static spiffe_cli_list l_val;

static spiffe_flag flags[] = {
	{ "socketPath", SPIFFE_FLAG_STRING, &s_val, "PATH", "the socket", 0 },
	{ "silent", SPIFFE_FLAG_BOOL, &b_val, NULL, "say nothing", 0 },
	{ "timeout", SPIFFE_FLAG_DURATION, &d_val, "DURATION", "how long",
	  0 },
	{ "audience", SPIFFE_FLAG_LIST, &l_val, "A[,B...]", "audiences", 0 },
};
#define NFLAGS (sizeof(flags) / sizeof(flags[0]))

/* Parses the NULL-terminated words (copied, so lists can split them). */
static int parse(char **words, int *nargs, char args[][64],
		 spiffe_errbuf *eb)
{
	static char store[16][64];
	char *argv[16];
	int argc = 0, rc;

	s_val = NULL;
	b_val = 0;
	d_val = -1;
	memset(&l_val, 0, sizeof(l_val));
	for (; words[argc] != NULL; argc++) {
		snprintf(store[argc], sizeof(store[argc]), "%s", words[argc]);
		argv[argc] = store[argc];
	}
	eb->msg[0] = '\0';
	rc = spiffe_cli_parse(flags, NFLAGS, argc, argv, nargs, eb);
	for (int i = 0; rc == 0 && i < *nargs; i++)
		snprintf(args[i], 64, "%s", argv[i]);
	return rc;
}

TEST(flag_forms)
{
	char *w1[] = { "-socketPath", "/a", "x", "--silent", "-timeout=5s",
		       "y", NULL };
	char *w2[] = { "--socketPath=/b", "-silent=false", "--timeout",
		       "1m", NULL };
	char args[16][64];
	spiffe_errbuf eb;
	int n;

	CHECK_INT(parse(w1, &n, args, &eb), 0);
	CHECK_STR(s_val, "/a");
	CHECK_INT(b_val, 1);
	CHECK_INT(d_val, 5000000000LL);
	CHECK_INT(n, 2);
	CHECK_STR(args[0], "x");
	CHECK_STR(args[1], "y");
	CHECK_INT(flags[0].set, 1);
	CHECK_INT(flags[3].set, 0);
	CHECK_INT(parse(w2, &n, args, &eb), 0);
	CHECK_STR(s_val, "/b");
	CHECK_INT(b_val, 0);
	CHECK_INT(flags[1].set, 1);
	CHECK_INT(d_val, 60000000000LL);
	CHECK_INT(n, 0);
}

TEST(flag_values_may_start_with_a_dash)
{
	char *w[] = { "-socketPath", "-", "-", NULL };
	char args[16][64];
	spiffe_errbuf eb;
	int n;

	CHECK_INT(parse(w, &n, args, &eb), 0);
	CHECK_STR(s_val, "-");
	CHECK_INT(n, 1);
	CHECK_STR(args[0], "-");
}

TEST(double_dash_ends_flags)
{
	char *w[] = { "a", "--", "-silent", "--x", NULL };
	char args[16][64];
	spiffe_errbuf eb;
	int n;

	CHECK_INT(parse(w, &n, args, &eb), 0);
	CHECK_INT(b_val, 0);
	CHECK_INT(n, 3);
	CHECK_STR(args[0], "a");
	CHECK_STR(args[1], "-silent");
	CHECK_STR(args[2], "--x");
}

TEST(list_flags_accumulate)
{
	char *w[] = { "-audience", "a,b", "--audience=c", NULL };
	char args[16][64];
	spiffe_errbuf eb;
	int n;

	CHECK_INT(parse(w, &n, args, &eb), 0);
	CHECK_INT(l_val.n, 3);
	CHECK_STR(l_val.v[0], "a");
	CHECK_STR(l_val.v[1], "b");
	CHECK_STR(l_val.v[2], "c");
}

TEST(list_flag_limits)
{
	char many[SPIFFE_CLI_LIST_MAX * 2 + 8];
	char *w[] = { "-audience", many, NULL };
	char *e1[] = { "-audience", "a,,b", NULL };
	char *e2[] = { "-audience", "a,", NULL };
	char *argv[2];
	spiffe_errbuf eb;
	int n;
	size_t k = 0;

	for (int i = 0; i <= SPIFFE_CLI_LIST_MAX; i++) {
		many[k++] = 'a';
		many[k++] = ',';
	}
	many[k - 1] = '\0';
	argv[0] = w[0];
	argv[1] = many;
	memset(&l_val, 0, sizeof(l_val));
	CHECK_INT(spiffe_cli_parse(flags, NFLAGS, 2, argv, &n, &eb),
		  SPIFFE_ERR_ARG);
	CHECK_STR(eb.msg, "flag -audience takes at most 32 values");
	CHECK_INT(parse(e1, &n, NULL, &eb), SPIFFE_ERR_ARG);
	CHECK_STR(eb.msg, "empty value in the list of flag -audience");
	CHECK_INT(parse(e2, &n, NULL, &eb), SPIFFE_ERR_ARG);
	CHECK_STR(eb.msg, "empty value in the list of flag -audience");
}

TEST(flag_errors)
{
	static const struct {
		char *w[5];
		int rc;
		const char *msg;
	} c[] = {
		{ { "-nope", NULL }, SPIFFE_ERR_ARG,
		  "flag provided but not defined: -nope" },
		{ { "--nope=1", NULL }, SPIFFE_ERR_ARG,
		  "flag provided but not defined: -nope" },
		{ { "-timeout", NULL }, SPIFFE_ERR_ARG,
		  "flag needs an argument: -timeout" },
		{ { "-socketPath", "a", "-socketPath", "b" }, SPIFFE_ERR_ARG,
		  "flag -socketPath given twice" },
		{ { "-silent", "-silent", NULL }, SPIFFE_ERR_ARG,
		  "flag -silent given twice" },
		{ { "-silent=yes", NULL }, SPIFFE_ERR_ARG,
		  "invalid boolean value \"yes\" for flag -silent (want true "
		  "or false)" },
		{ { "-timeout", "5", NULL }, SPIFFE_ERR_ARG,
		  "invalid value \"5\" for flag -timeout: missing unit in "
		  "duration \"5\"" },
		{ { "-socketPath=", NULL }, SPIFFE_ERR_ARG,
		  "flag -socketPath needs a non-empty value" },
		{ { "---x", NULL }, SPIFFE_ERR_ARG, "bad flag syntax: ---x" },
		{ { "-=x", NULL }, SPIFFE_ERR_ARG, "bad flag syntax: -=x" },
		{ { "-h", NULL }, SPIFFE_CLI_HELP, "" },
		{ { "-help", NULL }, SPIFFE_CLI_HELP, "" },
		{ { "a", "--help", NULL }, SPIFFE_CLI_HELP, "" },
	};
	char args[16][64];
	spiffe_errbuf eb;
	int n;

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		int rc = parse((char **)c[i].w, &n, args, &eb);

		if (rc != c[i].rc || strcmp(eb.msg, c[i].msg) != 0) {
			FAILF("case %zu: %d \"%s\", want %d \"%s\"", i, rc,
			      eb.msg, c[i].rc, c[i].msg);
			return;
		}
	}
}

TEST(usage_lists_every_flag)
{
	char buf[1024] = "";
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");

	CHECK(f != NULL);
	spiffe_cli_usage(f, flags, NFLAGS);
	fclose(f);
	CHECK_STR(buf, "  -socketPath PATH\n        the socket\n"
		  "  -silent\n        say nothing\n"
		  "  -timeout DURATION\n        how long\n"
		  "  -audience A[,B...]\n        audiences\n");
}

static int dur(const char *s, int64_t *ns, spiffe_errbuf *eb)
{
	eb->msg[0] = '\0';
	return spiffe_cli_duration(s, strlen(s), ns, eb);
}

TEST(durations)
{
	static const struct {
		const char *s;
		int64_t ns;
	} ok[] = {
		{ "0", 0 },
		{ "5s", 5000000000LL },
		{ "1m30s", 90000000000LL },
		{ "1.5h", 5400000000000LL },
		{ "250ms", 250000000 },
		{ "1us", 1000 },
		{ "1\xc2\xb5s", 1000 },
		{ "1\xce\xbcs", 1000 },
		{ "7ns", 7 },
		{ ".5s", 500000000 },
		{ "5.s", 5000000000LL },
		{ "0.000000001s", 1 },
		{ "1.0000000019s", 1000000001 },   /* below 1 ns: dropped */
		{ "0.1ns", 0 },
		{ "1h1m1s1ms1us1ns", 3661001001001LL },
		{ "9223372036854775807ns", INT64_MAX },
		{ "2562047h47m16.854775807s", INT64_MAX },
	};
	int64_t ns;
	spiffe_errbuf eb;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int rc = dur(ok[i].s, &ns, &eb);

		if (rc != 0 || ns != ok[i].ns) {
			FAILF("%s: rc %d ns %lld \"%s\", want %lld", ok[i].s,
			      rc, (long long)ns, eb.msg,
			      (long long)ok[i].ns);
			return;
		}
	}
}

TEST(duration_errors)
{
	static const struct {
		const char *s;
		int rc;
		const char *msg;
	} c[] = {
		{ "", SPIFFE_ERR_ARG, "empty duration" },
		{ "5", SPIFFE_ERR_ARG, "missing unit in duration \"5\"" },
		{ "1s5", SPIFFE_ERR_ARG, "missing unit in duration \"1s5\"" },
		{ "5x", SPIFFE_ERR_ARG, "unknown unit \"x\" in duration "
		  "\"5x\" (want ns, us, ms, s, m or h)" },
		{ "5S", SPIFFE_ERR_ARG, "unknown unit \"S\" in duration "
		  "\"5S\" (want ns, us, ms, s, m or h)" },
		{ "5 s", SPIFFE_ERR_ARG, "unknown unit \" s\" in duration "
		  "\"5 s\" (want ns, us, ms, s, m or h)" },
		{ "-5s", SPIFFE_ERR_ARG, "a duration takes no sign" },
		{ "+5s", SPIFFE_ERR_ARG, "a duration takes no sign" },
		{ "s", SPIFFE_ERR_ARG, "invalid duration \"s\"" },
		{ ".s", SPIFFE_ERR_ARG, "invalid duration \".s\"" },
		{ "00", SPIFFE_ERR_ARG, "missing unit in duration \"00\"" },
		{ "9223372036854775808ns", SPIFFE_ERR_LIMIT, "duration "
		  "\"9223372036854775808ns\" is too long (at most "
		  "2562047h47m16.854775807s)" },
		{ "2562047h47m16.854775808s", SPIFFE_ERR_LIMIT, "duration "
		  "\"2562047h47m16.854775808s\" is too long (at most "
		  "2562047h47m16.854775807s)" },
		{ "2562048h", SPIFFE_ERR_LIMIT, "duration \"2562048h\" is too "
		  "long (at most 2562047h47m16.854775807s)" },
		{ "99999999999999999999s", SPIFFE_ERR_LIMIT, "duration "
		  "\"99999999999999999999s\" is too long (at most "
		  "2562047h47m16.854775807s)" },
	};
	int64_t ns;
	spiffe_errbuf eb;

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		int rc = dur(c[i].s, &ns, &eb);

		if (rc != c[i].rc || strcmp(eb.msg, c[i].msg) != 0 ||
		    ns != 0) {
			FAILF("\"%s\": %d \"%s\", want %d \"%s\"", c[i].s, rc,
			      eb.msg, c[i].rc, c[i].msg);
			return;
		}
	}
}

TEST(int_flags)
{
	static const struct {
		const char *v;
		int rc;
		int64_t want;
		const char *msg;
	} c[] = {
		{ "0", 0, 0, "" },
		{ "3000", 0, 3000, "" },
		{ "+7", 0, 7, "" },
		{ "-12", 0, -12, "" },
		{ "9223372036854775807", 0, INT64_MAX, "" },
		{ "-9223372036854775808", 0, INT64_MIN, "" },
		{ "9223372036854775808", SPIFFE_ERR_ARG, 0,
		  "invalid value \"9223372036854775808\" for flag -n: value "
		  "out of range" },
		{ "-9223372036854775809", SPIFFE_ERR_ARG, 0,
		  "invalid value \"-9223372036854775809\" for flag -n: value "
		  "out of range" },
		{ "12x", SPIFFE_ERR_ARG, 0,
		  "invalid value \"12x\" for flag -n: parse error" },
		{ "-", SPIFFE_ERR_ARG, 0,
		  "invalid value \"-\" for flag -n: parse error" },
		{ "0x10", SPIFFE_ERR_ARG, 0,
		  "invalid value \"0x10\" for flag -n: parse error" },
	};
	int64_t n;
	spiffe_flag f[] = {
		{ "n", SPIFFE_FLAG_INT, &n, "N", "how many", 0 },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char name[] = "-n", v[32];
		char *argv[] = { name, v };
		spiffe_errbuf eb;
		int nargs, rc;

		snprintf(v, sizeof(v), "%s", c[i].v);
		eb.msg[0] = '\0';
		n = -1;
		rc = spiffe_cli_parse(f, 1, 2, argv, &nargs, &eb);
		if (rc != c[i].rc || strcmp(eb.msg, c[i].msg) != 0 ||
		    (rc == 0 && n != c[i].want)) {
			FAILF("case %zu: %d \"%s\" %lld", i, rc, eb.msg,
			      (long long)n);
			return;
		}
	}
}

TEST(workload_api_flags)
{
	spiffe_cli_wlapi w = SPIFFE_CLI_WLAPI_INIT;
	spiffe_wlapi_options o;
	char longp[200];
	int ms = 0;

	spiffe_wlapi_options_init(&o);
	CHECK_INT(spiffe_cli_wlapi_options("p", &w, &o, &ms), 0);
	CHECK(o.address == NULL);       /* $SPIFFE_ENDPOINT_SOCKET */
	CHECK_INT(ms, 30000);
	/* A bare path, as SPIRE's tools take it; URLs as given. */
	w.socket = "/tmp/agent.sock";
	CHECK_INT(spiffe_cli_wlapi_options("p", &w, &o, &ms), 0);
	CHECK_STR(o.address, "unix:///tmp/agent.sock");
	w.socket = "tcp://127.0.0.1:8081";
	CHECK_INT(spiffe_cli_wlapi_options("p", &w, &o, &ms), 0);
	CHECK_STR(o.address, "tcp://127.0.0.1:8081");
	/* Usage errors (the message goes to stderr) exit 2. */
	memset(longp, 'x', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	w.socket = longp;
	CHECK_INT(spiffe_cli_wlapi_options("p", &w, &o, &ms), 2);
	w.socket = NULL;
	w.timeout = 999999;             /* under 1 ms */
	CHECK_INT(spiffe_cli_wlapi_options("p", &w, &o, &ms), 2);
	w.timeout = 1000000;
	CHECK_INT(spiffe_cli_wlapi_options("p", &w, &o, &ms), 0);
	CHECK_INT(ms, 1);
}

TEST(read_file_bounds)
{
	char path[] = "/tmp/test_cli_XXXXXX";
	int fd = mkstemp(path);
	spiffe_errbuf eb;
	char *buf;
	size_t len;

	CHECK(fd >= 0);
	CHECK_INT(write(fd, "hello", 5), 5);
	close(fd);
	CHECK_INT(spiffe_cli_read_file(path, 5, &buf, &len, &eb), 0);
	CHECK_INT(len, 5);
	CHECK_STR(buf, "hello");
	free(buf);
	CHECK_INT(spiffe_cli_read_file(path, 4, &buf, &len, &eb),
		  SPIFFE_ERR_LIMIT);
	CHECK(buf == NULL);
	CHECK(strstr(eb.msg, " is 5 bytes, larger than the limit of 4 "
		     "bytes") != NULL);
	unlink(path);
	CHECK_INT(spiffe_cli_read_file(path, 4, &buf, &len, &eb),
		  SPIFFE_ERR_IO);
	CHECK(strstr(eb.msg, "No such file or directory") != NULL);
	CHECK_INT(spiffe_cli_read_file("/tmp", 4, &buf, &len, &eb),
		  SPIFFE_ERR_IO);
	CHECK_STR(eb.msg, "cannot read /tmp: Is a directory");
	/* Not a regular file: the size is found by reading. */
	CHECK_INT(spiffe_cli_read_file("/dev/zero", 10000, &buf, &len, &eb),
		  SPIFFE_ERR_LIMIT);
	CHECK_STR(eb.msg, "/dev/zero is larger than the limit of 10000 bytes");
	CHECK_INT(spiffe_cli_read_file("/dev/null", 0, &buf, &len, &eb), 0);
	CHECK_INT(len, 0);
	CHECK_STR(buf, "");
	free(buf);
}

int main(void)
{
	RUN(flag_forms);
	RUN(flag_values_may_start_with_a_dash);
	RUN(double_dash_ends_flags);
	RUN(list_flags_accumulate);
	RUN(list_flag_limits);
	RUN(flag_errors);
	RUN(usage_lists_every_flag);
	RUN(durations);
	RUN(duration_errors);
	RUN(int_flags);
	RUN(workload_api_flags);
	RUN(read_file_bounds);
	return test_summary();
}
