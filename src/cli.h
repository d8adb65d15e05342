/*
 * cli.h - command-line conventions shared by libspiffe's programs:
 * Go-style flags (as SPIRE's tools take them), Go durations, and bounded
 * reads of input files.
 *
 * Flags are "-name value" or "-name=value", and "--name" is a synonym of
 * "-name".  A bool flag takes no separate value: "-silent", or
 * "-silent=true" / "=false" / "=1" / "=0".  Flags and arguments may
 * come in any order; "--" ends the flags, and "-" alone is an argument
 * (standard input).  A flag given twice is an error, except a list
 * flag, whose comma-separated values accumulate.  "-h", "-help" and
 * "--help" ask for help.
 */
#ifndef SPIFFE_CLI_H
#define SPIFFE_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "address.h"
#include "err.h"
#include "limits.h"

enum spiffe_flag_kind {
	SPIFFE_FLAG_BOOL = 1,   /* dst is int *: set to 0 or 1 */
	SPIFFE_FLAG_STRING,     /* dst is const char **: points into argv */
	SPIFFE_FLAG_DURATION,   /* dst is int64_t *: nanoseconds */
	SPIFFE_FLAG_LIST,       /* dst is spiffe_cli_list * */
	SPIFFE_FLAG_INT,        /* dst is int64_t *: decimal, maybe signed */
	SPIFFE_FLAG_REPEAT,     /* dst is spiffe_cli_list *: one value per
				   use, commas kept ("-selector a,b") */
};

/* The values of a list flag, in order; each points into argv. */
typedef struct spiffe_cli_list {
	size_t n;
	const char *v[SPIFFE_CLI_LIST_MAX];
} spiffe_cli_list;

/* One flag a program accepts. */
typedef struct spiffe_flag {
	const char *name;       /* without dashes: "socketPath" */
	int kind;               /* enum spiffe_flag_kind */
	void *dst;              /* where the value goes (see the kinds) */
	const char *arg;        /* placeholder in help ("PATH"); not BOOL */
	const char *help;       /* a line or a few, '\n'-separated */
	int set;                /* output: 1 once given */
} spiffe_flag;

/* spiffe_cli_parse's result when help was asked for. */
#define SPIFFE_CLI_HELP 1

/*
 * Parses argv[0..argc) (what follows the command's name) against
 * flags[0..nflags), whose set fields it clears first.  The arguments
 * that are not flags are moved, in order, to argv[0..*nargs).  List
 * values are split in place: argv's commas become NULs.  Returns 0,
 * SPIFFE_CLI_HELP, or SPIFFE_ERR_ARG with eb naming the flag and the
 * problem ("flag provided but not defined: -x", "flag needs an
 * argument: -timeout", "invalid value \"5x\" for flag -timeout: ...").
 */
SPIFFE_CHECK int spiffe_cli_parse(spiffe_flag *flags, size_t nflags,
				  int argc, char **argv, int *nargs,
				  spiffe_errbuf *eb);

/*
 * Writes one entry per flag to f: "  -name ARG" on one line, then the
 * help, indented (a help may span lines).
 */
void spiffe_cli_usage(FILE *f, const spiffe_flag *flags, size_t nflags);

/*
 * What a program does with its command line: spiffe_cli_parse on
 * argv[1..argc), then a check that min_args..max_args arguments are
 * left (moved to argv[1..1 + *nargs)).  On -h it prints "Usage: NAME
 * SYNOPSIS", about and the flags to standard output and returns 0; on
 * an error, "NAME: <message> (see NAME -h)" to standard error and
 * returns 2.  -1 means go on.
 */
SPIFFE_CHECK int spiffe_cli_program(const char *name, const char *synopsis,
				    const char *about, spiffe_flag *flags,
				    size_t nflags, int min_args,
				    int max_args, int argc, char **argv,
				    int *nargs);

/*
 * Prints "NAME: <message> (see NAME -h)" to standard error, as
 * spiffe_cli_program does for a flag it cannot parse, and returns 2 (the
 * exit status of a usage error).
 */
int spiffe_cli_usage_error(const char *name, const char *fmt, ...)
	SPIFFE_PRINTF(2, 3);

/*
 * Parses s[0..len) as a Go duration ("5s", "1m30s", "1.5h", "250ms";
 * units ns, us, µs, ms, s, m, h; "0" alone needs no unit) into *ns.
 * Signs are refused: a duration here is never negative.  SPIFFE_ERR_ARG
 * with the reason in eb, SPIFFE_ERR_LIMIT past INT64_MAX nanoseconds.
 */
SPIFFE_CHECK int spiffe_cli_duration(const char *s, size_t len,
				     int64_t *ns, spiffe_errbuf *eb);

/* Room for "unix://" + a socket path + NUL. */
#define SPIFFE_CLI_ADDR_SIZE (7 + SPIFFE_ADDR_PATH_MAX + 1)

/*
 * The Workload API flags of a workload program, -socketPath and
 * -timeout (how long to wait at start for the first SVID and bundles),
 * with their defaults: $SPIFFE_ENDPOINT_SOCKET and 30 s.  Put
 * SPIFFE_CLI_WLAPI_FLAGS(w) in the program's flag table and, after
 * parsing, call spiffe_cli_wlapi_options.
 */
typedef struct spiffe_cli_wlapi {
	const char *socket;
	int64_t timeout;        /* nanoseconds */
	char addr[SPIFFE_CLI_ADDR_SIZE];
} spiffe_cli_wlapi;

#define SPIFFE_CLI_WLAPI_INIT { NULL, 30000000000, "" }

#define SPIFFE_CLI_WLAPI_FLAGS(w)                                           \
	{ "socketPath", SPIFFE_FLAG_STRING, &(w).socket, "PATH",            \
	  "the Workload API socket, a path or unix:///path or\n"             \
	  "tcp://IP:port (default $SPIFFE_ENDPOINT_SOCKET)", 0 },            \
	{ "timeout", SPIFFE_FLAG_DURATION, &(w).timeout, "DURATION",        \
	  "how long to wait at start for the SVID and bundles\n"             \
	  "(default 30s)", 0 }

struct spiffe_wlapi_options;

/*
 * Checks w's values and fills o (initialized) with the address and
 * *startup_ms with the timeout: 0, or 2 after a usage error naming
 * program name (see spiffe_cli_usage_error).  o's address points into w.
 */
SPIFFE_CHECK int spiffe_cli_wlapi_options(const char *name,
					  spiffe_cli_wlapi *w,
					  struct spiffe_wlapi_options *o,
					  int *startup_ms);

/*
 * The Workload API address a program uses (for spiffe_wlapi_options):
 * flag is a -socketPath value, or NULL when none was given (then *addr
 * is NULL: $SPIFFE_ENDPOINT_SOCKET).  A bare absolute path, as SPIRE's
 * tools take it, becomes "unix://" + path in buf[0..cap); any other
 * value is passed on as given for spiffe_addr_parse to judge.  buf holds
 * SPIFFE_CLI_ADDR_SIZE bytes.
 * SPIFFE_ERR_LIMIT if the path does not fit a socket address.
 */
SPIFFE_CHECK int spiffe_cli_socket_address(
	const char *flag, char buf[SPIFFE_CLI_ADDR_SIZE], const char **addr,
	spiffe_errbuf *eb);

/*
 * Reads the file at path ("-": standard input) into a buffer from malloc
 * with a NUL after the data, refusing more than max bytes.  The caller
 * frees *out.  SPIFFE_ERR_IO ("cannot read PATH: ..."), SPIFFE_ERR_LIMIT
 * ("PATH is larger than the limit of N bytes") or SPIFFE_ERR_NOMEM.
 */
SPIFFE_CHECK int spiffe_cli_read_file(const char *path, size_t max,
				      char **out, size_t *len,
				      spiffe_errbuf *eb);

#endif
