#include "clock.h"

#include <stdatomic.h>
#include <time.h>

/* Documented process-wide test hook; -1 means "use the real clock". */
static _Atomic int64_t fixed_now = -1;

int64_t spiffe_now(void)
{
	int64_t t = atomic_load(&fixed_now);
	struct timespec ts;

	if (t >= 0)
		return t;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

int64_t spiffe_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void spiffe_clock_set(int64_t t)
{
	atomic_store(&fixed_now, t);
}
