/*
 * log.h - one line per event on standard error, as Go's log package
 * writes them: "2026/12/03 17:00:00 Request received" (local time).
 *
 * Each line goes out in one write(2), so lines from several threads (the
 * server's workers, the Workload API thread) never interleave.  A
 * message may quote peer input (a token's audience, a header), so bytes
 * below 0x20 and 0x7f are written as \xNN: a peer cannot forge a line.
 * Messages longer than SPIFFE_LOG_LINE_MAX bytes are cut, marked "...".
 */
#ifndef SPIFFE_LOG_H
#define SPIFFE_LOG_H

#include "err.h"

/* Most bytes of one line, timestamp and newline included. */
#define SPIFFE_LOG_LINE_MAX 2048

/* Writes one timestamped line: the formatted message, escaped. */
void spiffe_log(const char *fmt, ...) SPIFFE_PRINTF(1, 2);

/*
 * spiffe_log(msg) with the shape of a log callback (spiffe_httpd_config's
 * log, spiffe_rproxy's); arg is unused.
 */
void spiffe_log_cb(void *arg, const char *msg);

#endif
