/*
 * thread.h - the library's own threads (the Workload API client's, the
 * HTTPS server's workers).
 *
 * They start with every signal blocked, so a process signal (SIGTERM,
 * SIGINT, SIGHUP) is never delivered to a thread the program does not
 * know about: it reaches one of the program's own threads, or the
 * signalfd of a server that catches it (evloop.h).
 */
#ifndef SPIFFE_THREAD_H
#define SPIFFE_THREAD_H

#include <pthread.h>

/*
 * pthread_create(t, attr, fn, arg) with all signals blocked in the new
 * thread; the caller's signal mask is unchanged.  0 or an errno value.
 */
int spiffe_thread_create(pthread_t *t, const pthread_attr_t *attr,
			 void *(*fn)(void *), void *arg);

#endif
