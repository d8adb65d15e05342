/*
 * thread.c - library threads that take no process signals (thread.h).
 */
#include "thread.h"

#include <signal.h>

int spiffe_thread_create(pthread_t *t, const pthread_attr_t *attr,
			 void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int rc;

	/* The new thread inherits the mask in force when it is made. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(t, attr, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}
