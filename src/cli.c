/*
 * cli.c - Go-style flags, Go durations and bounded file reads for the
 * programs (see cli.h).
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workloadapi.h"

/* ---- flags -------------------------------------------------------------- */

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static spiffe_flag *find(spiffe_flag *flags, size_t n, const char *name,
			 size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(flags[i].name) == len &&
		    memcmp(flags[i].name, name, len) == 0)
			return &flags[i];
	return NULL;
}

static int parse_bool(const char *v, int *out)
{
	if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		*out = 1;
	else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

/* Splits v at its commas (in place) onto the list. */
static int add_list(spiffe_flag *f, char *v, spiffe_errbuf *eb)
{
	spiffe_cli_list *l = f->dst;

	for (;;) {
		char *comma = strchr(v, ',');

		if (comma != NULL)
			*comma = '\0';
		if (*v == '\0')
			return spiffe_fail(eb, SPIFFE_ERR_ARG,
					   "empty value in the list of flag "
					   "-%s", f->name);
		if (l->n >= SPIFFE_CLI_LIST_MAX)
			return spiffe_fail(eb, SPIFFE_ERR_ARG,
					   "flag -%s takes at most %d values",
					   f->name, SPIFFE_CLI_LIST_MAX);
		l->v[l->n++] = v;
		if (comma == NULL)
			return 0;
		v = comma + 1;
	}
}

/* Go's strconv.ParseInt(v, 10, 64), with flag.Int's messages. */
static int parse_int(const char *v, int64_t *out, spiffe_errbuf *eb)
{
	uint64_t n = 0, max = INT64_MAX;
	int neg = v[0] == '-';
	const char *p = v + (v[0] == '-' || v[0] == '+');

	if (neg)
		max++;  /* INT64_MIN's magnitude */
	if (*p == '\0')
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "parse error");
	for (; *p != '\0'; p++) {
		if (!is_digit(*p))
			return spiffe_fail(eb, SPIFFE_ERR_ARG, "parse error");
		if (n > (max - (uint64_t)(*p - '0')) / 10)
			return spiffe_fail(eb, SPIFFE_ERR_ARG,
					   "value out of range");
		n = n * 10 + (uint64_t)(*p - '0');
	}
	*out = neg ? (int64_t)(0 - n) : (int64_t)n;
	return 0;
}

/* Stores value v (NULL: none given) into flag f. */
static int set_flag(spiffe_flag *f, char *v, spiffe_errbuf *eb)
{
	spiffe_errbuf why;
	int rc;

	if (f->kind == SPIFFE_FLAG_BOOL) {
		if (v == NULL) {
			*(int *)f->dst = 1;
		} else if (parse_bool(v, f->dst) != 0) {
			return spiffe_fail(eb, SPIFFE_ERR_ARG,
					   "invalid boolean value \"%s\" for "
					   "flag -%s (want true or false)", v,
					   f->name);
		}
		return 0;
	}
	if (*v == '\0')
		return spiffe_fail(eb, SPIFFE_ERR_ARG,
				   "flag -%s needs a non-empty value",
				   f->name);
	switch (f->kind) {
	case SPIFFE_FLAG_STRING:
		*(const char **)f->dst = v;
		return 0;
	case SPIFFE_FLAG_DURATION:
		rc = spiffe_cli_duration(v, strlen(v), f->dst, &why);
		if (rc != 0)
			return spiffe_fail(eb, SPIFFE_ERR_ARG,
					   "invalid value \"%s\" for flag "
					   "-%s: %s", v, f->name, why.msg);
		return 0;
	case SPIFFE_FLAG_LIST:
		return add_list(f, v, eb);
	case SPIFFE_FLAG_INT:
		if (parse_int(v, f->dst, &why) != 0)
			return spiffe_fail(eb, SPIFFE_ERR_ARG,
					   "invalid value \"%s\" for flag "
					   "-%s: %s", v, f->name, why.msg);
		return 0;
	case SPIFFE_FLAG_REPEAT: {
		spiffe_cli_list *l = f->dst;

		if (l->n >= SPIFFE_CLI_LIST_MAX)
			return spiffe_fail(eb, SPIFFE_ERR_ARG,
					   "flag -%s takes at most %d values",
					   f->name, SPIFFE_CLI_LIST_MAX);
		l->v[l->n++] = v;
		return 0;
	}
	}
	return spiffe_fail(eb, SPIFFE_ERR_ARG, "flag -%s has an unknown kind",
			   f->name);
}

int spiffe_cli_parse(spiffe_flag *flags, size_t nflags, int argc,
		     char **argv, int *nargs, spiffe_errbuf *eb)
{
	int out = 0;

	*nargs = 0;
	for (size_t k = 0; k < nflags; k++)
		flags[k].set = 0;
	for (int i = 0; i < argc; i++) {
		char *a = argv[i], *name, *eq, *v = NULL;
		spiffe_flag *f;
		size_t len;
		int rc;

		if (a[0] != '-' || a[1] == '\0') {
			argv[out++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			while (++i < argc)
				argv[out++] = argv[i];
			break;
		}
		name = a + (a[1] == '-' ? 2 : 1);
		if (*name == '\0' || *name == '-' || *name == '=')
			return spiffe_fail(eb, SPIFFE_ERR_ARG,
					   "bad flag syntax: %s", a);
		eq = strchr(name, '=');
		len = eq != NULL ? (size_t)(eq - name) : strlen(name);
		f = find(flags, nflags, name, len);
		if (f == NULL && ((len == 1 && name[0] == 'h') ||
				  (len == 4 && memcmp(name, "help", 4) == 0)))
			return SPIFFE_CLI_HELP;
		if (f == NULL)
			return spiffe_fail(eb, SPIFFE_ERR_ARG,
					   "flag provided but not defined: "
					   "-%.*s", (int)len, name);
		if (f->set && f->kind != SPIFFE_FLAG_LIST &&
		    f->kind != SPIFFE_FLAG_REPEAT)
			return spiffe_fail(eb, SPIFFE_ERR_ARG,
					   "flag -%s given twice", f->name);
		if (eq != NULL)
			v = eq + 1;
		else if (f->kind != SPIFFE_FLAG_BOOL && i + 1 < argc)
			v = argv[++i];
		else if (f->kind != SPIFFE_FLAG_BOOL)
			return spiffe_fail(eb, SPIFFE_ERR_ARG,
					   "flag needs an argument: -%s",
					   f->name);
		if ((rc = set_flag(f, v, eb)) != 0)
			return rc;
		f->set = 1;
	}
	*nargs = out;
	return 0;
}

void spiffe_cli_usage(FILE *f, const spiffe_flag *flags, size_t nflags)
{
	for (size_t i = 0; i < nflags; i++) {
		const spiffe_flag *g = &flags[i];

		if (g->kind == SPIFFE_FLAG_BOOL || g->arg == NULL)
			fprintf(f, "  -%s\n", g->name);
		else
			fprintf(f, "  -%s %s\n", g->name, g->arg);
		/* A help of several lines is indented as one. */
		fputs("        ", f);
		for (const char *h = g->help; *h != '\0'; h++) {
			fputc(*h, f);
			if (*h == '\n' && h[1] != '\0')
				fputs("        ", f);
		}
		fputc('\n', f);
	}
}

int spiffe_cli_program(const char *name, const char *synopsis,
		       const char *about, spiffe_flag *flags, size_t nflags,
		       int min_args, int max_args, int argc, char **argv,
		       int *nargs)
{
	spiffe_errbuf eb;
	int rc;

	rc = spiffe_cli_parse(flags, nflags, argc - 1, argv + 1, nargs, &eb);
	if (rc == SPIFFE_CLI_HELP) {
		printf("Usage: %s %s\n\n%s\n\nFlags:\n", name, synopsis,
		       about);
		spiffe_cli_usage(stdout, flags, nflags);
		return fflush(stdout) == 0 ? 0 : 2;
	}
	if (rc == 0 && *nargs < min_args)
		rc = spiffe_fail(&eb, SPIFFE_ERR_ARG, "missing argument");
	if (rc == 0 && *nargs > max_args)
		rc = spiffe_fail(&eb, SPIFFE_ERR_ARG, "unexpected argument "
				 "\"%s\"", argv[1 + max_args]);
	if (rc != 0)
		return spiffe_cli_usage_error(name, "%s", eb.msg);
	return -1;
}

int spiffe_cli_usage_error(const char *name, const char *fmt, ...)
{
	char msg[SPIFFE_ERRBUF_SIZE];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s (see %s -h)\n", name, msg, name);
	return 2;
}

/* ---- durations ---------------------------------------------------------- */

static const struct unit {
	const char *name;
	size_t len;
	uint64_t ns;
} units[] = {
	{ "ns", 2, 1 },
	{ "us", 2, 1000 },
	{ "\xc2\xb5s", 3, 1000 },       /* U+00B5 micro sign */
	{ "\xce\xbcs", 3, 1000 },       /* U+03BC Greek small mu */
	{ "ms", 2, 1000000 },
	{ "s", 1, 1000000000ull },
	{ "m", 1, 60ull * 1000000000ull },
	{ "h", 1, 3600ull * 1000000000ull },
};

#define NS_SCALE 1000000000ull  /* fraction digits kept: 9 */

int spiffe_cli_duration(const char *s, size_t len, int64_t *ns,
			spiffe_errbuf *eb)
{
	const uint64_t max = INT64_MAX;
	uint64_t total = 0;
	size_t i = 0;

	*ns = 0;
	if (len == 0)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "empty duration");
	if (s[0] == '+' || s[0] == '-')
		return spiffe_fail(eb, SPIFFE_ERR_ARG,
				   "a duration takes no sign");
	if (len == 1 && s[0] == '0')
		return 0;
	while (i < len) {
		uint64_t whole = 0, frac = 0, scale = 1, v, q, r;
		const struct unit *u = NULL;
		size_t digits = 0, j;

		for (; i < len && is_digit(s[i]); i++, digits++) {
			if (whole > (max - (uint64_t)(s[i] - '0')) / 10)
				goto overflow;
			whole = whole * 10 + (uint64_t)(s[i] - '0');
		}
		if (i < len && s[i] == '.') {
			/* Digits past the ninth are below a nanosecond. */
			for (i++; i < len && is_digit(s[i]); i++, digits++) {
				if (scale < NS_SCALE) {
					frac = frac * 10 +
					       (uint64_t)(s[i] - '0');
					scale *= 10;
				}
			}
		}
		if (digits == 0)
			return spiffe_fail(eb, SPIFFE_ERR_ARG,
					   "invalid duration \"%.*s\"",
					   (int)len, s);
		for (j = i; j < len && !is_digit(s[j]) && s[j] != '.'; j++)
			;
		if (j == i)
			return spiffe_fail(eb, SPIFFE_ERR_ARG,
					   "missing unit in duration \"%.*s\"",
					   (int)len, s);
		for (size_t k = 0; k < sizeof(units) / sizeof(units[0]); k++)
			if (units[k].len == j - i &&
			    memcmp(units[k].name, s + i, j - i) == 0)
				u = &units[k];
		if (u == NULL)
			return spiffe_fail(eb, SPIFFE_ERR_ARG,
					   "unknown unit \"%.*s\" in duration "
					   "\"%.*s\" (want ns, us, ms, s, m "
					   "or h)", (int)(j - i), s + i,
					   (int)len, s);
		if (whole > max / u->ns)
			goto overflow;
		/* frac / scale * ns, exactly: ns = q * scale + r, and
		 * frac, r < scale <= 10^9 keep every product in range. */
		q = u->ns / scale;
		r = u->ns % scale;
		v = whole * u->ns + frac * q + frac * r / scale;
		if (v > max || total > max - v)
			goto overflow;
		total += v;
		i = j;
	}
	*ns = (int64_t)total;
	return 0;
overflow:
	return spiffe_fail(eb, SPIFFE_ERR_LIMIT,
			   "duration \"%.*s\" is too long (at most %s)",
			   (int)len, s, "2562047h47m16.854775807s");
}

/* ---- the Workload API address ------------------------------------------- */

int spiffe_cli_socket_address(const char *flag,
			      char buf[SPIFFE_CLI_ADDR_SIZE],
			      const char **addr, spiffe_errbuf *eb)
{
	*addr = flag;
	if (flag != NULL && flag[0] != '/' && flag[0] != '\0' &&
	    strchr(flag, ':') == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_ADDRESS, "socket path \"%.*s\""
				   " is not absolute (give /full/path or "
				   "unix:///full/path)", 200, flag);
	if (flag == NULL || flag[0] != '/')
		return 0;
	if (strlen(flag) > SPIFFE_ADDR_PATH_MAX ||
	    (size_t)snprintf(buf, SPIFFE_CLI_ADDR_SIZE, "unix://%s", flag) >=
	    SPIFFE_CLI_ADDR_SIZE)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT, "socket path is "
				   "longer than %d bytes",
				   SPIFFE_ADDR_PATH_MAX);
	*addr = buf;
	return 0;
}

int spiffe_cli_wlapi_options(const char *name, spiffe_cli_wlapi *w,
			     spiffe_wlapi_options *o, int *startup_ms)
{
	spiffe_errbuf eb;

	if (w->timeout < 1000000 || w->timeout / 1000000 > INT32_MAX)
		return spiffe_cli_usage_error(name, "flag -timeout must be "
					      "1ms..596h");
	*startup_ms = (int)(w->timeout / 1000000);
	if (spiffe_cli_socket_address(w->socket, w->addr, &o->address,
				      &eb) != 0)
		return spiffe_cli_usage_error(name, "flag -socketPath: %s",
					      eb.msg);
	return 0;
}

/* ---- files -------------------------------------------------------------- */

int spiffe_cli_read_file(const char *path, size_t max, char **out,
			 size_t *len, spiffe_errbuf *eb)
{
	const char *name = path;
	size_t n = 0, cap;
	struct stat st;
	char *buf = NULL;
	int fd, rc = 0;

	*out = NULL;
	*len = 0;
	if (strcmp(path, "-") == 0) {
		fd = STDIN_FILENO;
		name = "standard input";
	} else if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		return spiffe_fail(eb, SPIFFE_ERR_IO, "cannot read %s: %s",
				   name, strerror(errno));
	}
	cap = 4096;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		if ((uint64_t)st.st_size > max) {
			rc = spiffe_fail(eb, SPIFFE_ERR_LIMIT,
					 "%s is %lld bytes, larger than the "
					 "limit of %zu bytes", name,
					 (long long)st.st_size, max);
			goto out;
		}
		cap = (size_t)st.st_size + 1;
	}
	if (cap > max + 1)
		cap = max + 1;
	if ((buf = malloc(cap + 1)) == NULL) {
		rc = spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		ssize_t got;

		if (n == cap) {
			size_t ncap = cap > max / 2 ? max + 1 : cap * 2;
			char *nb;

			if (n > max) {
				rc = spiffe_fail(eb, SPIFFE_ERR_LIMIT,
						 "%s is larger than the limit "
						 "of %zu bytes", name, max);
				goto out;
			}
			if ((nb = realloc(buf, ncap + 1)) == NULL) {
				rc = spiffe_fail(eb, SPIFFE_ERR_NOMEM,
						 "out of memory");
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = spiffe_fail(eb, SPIFFE_ERR_IO,
					 "cannot read %s: %s", name,
					 strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	if (fd != STDIN_FILENO)
		close(fd);
	return rc;
}

void spiffe_cli_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}
