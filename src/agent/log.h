/*
 * log.h - the agent's log: one line per event in the text format SPIRE
 * writes (logrus):
 *
 *   time="2024-05-01T10:00:00Z" level=info msg="Workload attested" pid=42
 *
 * Values are written bare when they hold only [A-Za-z0-9-._/@^+], else
 * quoted as Go's %q would: '"' and '\' escaped, control bytes, C1
 * controls and bytes that are not UTF-8 as \n, \t, \r, \xNN or \u00NN.
 * So nothing a workload controls (an executable's path, a header) can
 * break a line or forge another.  Each line leaves in one write(2).
 */
#ifndef SPIFFE_AGENT_LOG_H
#define SPIFFE_AGENT_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum spiffe_agent_log_level {
	SPIFFE_LOG_DEBUG = 0,
	SPIFFE_LOG_INFO,
	SPIFFE_LOG_WARN,
	SPIFFE_LOG_ERROR,
};

/* Where lines go and which pass. */
typedef struct spiffe_agent_log {
	int level;              /* lines below it are dropped */
	int fd;                 /* written with write(2) */
} spiffe_agent_log;

/*
 * Parses a level name s[0..len): debug, info, warn (or warning), error,
 * in any case.  SPIFFE_ERR_ARG for anything else.
 */
SPIFFE_CHECK int spiffe_agent_log_level_parse(const char *s, size_t len,
					      int *level);

/* The longest line written; a longer one is cut and ends in "...". */
#define SPIFFE_AGENT_LOG_LINE 2048

/* A line being built. */
typedef struct spiffe_agent_logline {
	const spiffe_agent_log *log;
	int on;                 /* the level passes: build and write */
	size_t len;
	int cut;
	char buf[SPIFFE_AGENT_LOG_LINE];
} spiffe_agent_logline;

/*
 * Starts a line at level with message msg (NUL-terminated).  With log
 * NULL, or a level below log->level, the line is built nowhere and the
 * calls below do nothing.
 */
void spiffe_agent_log_begin(spiffe_agent_logline *l,
			    const spiffe_agent_log *log, int level,
			    const char *msg);

/* Appends key=value for the bytes v[0..len) (key: a trusted name). */
void spiffe_agent_log_str(spiffe_agent_logline *l, const char *key,
			  const char *v, size_t len);

/* Appends key=value for a NUL-terminated v. */
void spiffe_agent_log_cstr(spiffe_agent_logline *l, const char *key,
			   const char *v);

/* Appends key=value for an integer. */
void spiffe_agent_log_int(spiffe_agent_logline *l, const char *key,
			  int64_t v);

/* Writes the line (with its newline). */
void spiffe_agent_log_end(spiffe_agent_logline *l);

/* 1 if a line at level would be written. */
int spiffe_agent_log_on(const spiffe_agent_log *log, int level);

#endif
