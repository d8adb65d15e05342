/*
 * clock.h - the one place libspiffe reads the wall clock.
 *
 * Every validity comparison (JWT exp/nbf/iat, certificate times, cache
 * expiry) calls spiffe_now(), so tests can move time with
 * spiffe_clock_set().
 */
#ifndef SPIFFE_CLOCK_H
#define SPIFFE_CLOCK_H

#include <stdint.h>

/* Seconds since the Unix epoch (or the value set for tests). */
int64_t spiffe_now(void);

/* Milliseconds from a monotonic clock, for timeouts and backoff. */
int64_t spiffe_monotonic_ms(void);

/* Tests only: fix the wall clock at t; t < 0 returns to the real clock. */
void spiffe_clock_set(int64_t t);

#endif
