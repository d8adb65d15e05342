/*
 * evloop.c - epoll, a timer heap, an eventfd and a signalfd.
 */
#include "evloop.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "clock.h"

#define MAX_EVENTS 64

static void on_wakefd(spiffe_evloop *l, void *arg, uint32_t events)
{
	uint64_t v;

	(void)arg;
	(void)events;
	/* Drain first, so a wake during on_wake is not lost. */
	while (read(l->wakefd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
	if (l->on_wake != NULL)
		l->on_wake(l, l->wake_arg);
}

int spiffe_evloop_init(spiffe_evloop *l,
		       void (*on_wake)(spiffe_evloop *, void *), void *arg,
		       spiffe_errbuf *eb)
{
	memset(l, 0, sizeof(*l));
	l->sigfd = -1;
	l->wakefd = -1;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		return spiffe_fail(eb, SPIFFE_ERR_IO, "epoll_create1: %s",
				   strerror(errno));
	l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->wakefd < 0) {
		int e = errno;

		spiffe_evloop_free(l);
		return spiffe_fail(eb, SPIFFE_ERR_IO, "eventfd: %s",
				   strerror(e));
	}
	l->on_wake = on_wake;
	l->wake_arg = arg;
	l->wake_ev.fd = l->wakefd;
	l->wake_ev.fn = on_wakefd;
	if (spiffe_evloop_add(l, &l->wake_ev, SPIFFE_EV_IN) != 0) {
		int e = errno;

		spiffe_evloop_free(l);
		return spiffe_fail(eb, SPIFFE_ERR_IO, "epoll_ctl: %s",
				   strerror(e));
	}
	return 0;
}

void spiffe_evloop_free(spiffe_evloop *l)
{
	if (l->epfd > 0)
		close(l->epfd);
	if (l->wakefd > 0)
		close(l->wakefd);
	if (l->sigfd > 0)
		close(l->sigfd);
	free(l->heap);
	memset(l, 0, sizeof(*l));
	l->epfd = l->wakefd = l->sigfd = -1;
}

static void on_sigfd(spiffe_evloop *l, void *arg, uint32_t events)
{
	struct signalfd_siginfo si;

	(void)arg;
	(void)events;
	while (read(l->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		if (l->on_signal != NULL)
			l->on_signal(l, l->signal_arg, (int)si.ssi_signo);
}

int spiffe_evloop_catch_signals(spiffe_evloop *l,
				void (*on_signal)(spiffe_evloop *, void *,
						  int),
				void *arg, spiffe_errbuf *eb)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return spiffe_fail(eb, SPIFFE_ERR_IO,
				   "pthread_sigmask failed");
	l->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (l->sigfd < 0)
		return spiffe_fail(eb, SPIFFE_ERR_IO, "signalfd: %s",
				   strerror(errno));
	l->on_signal = on_signal;
	l->signal_arg = arg;
	l->sig_ev.fd = l->sigfd;
	l->sig_ev.fn = on_sigfd;
	if (spiffe_evloop_add(l, &l->sig_ev, SPIFFE_EV_IN) != 0)
		return spiffe_fail(eb, SPIFFE_ERR_IO, "epoll_ctl: %s",
				   strerror(errno));
	return 0;
}

static int ctl(spiffe_evloop *l, int op, spiffe_ev *ev, uint32_t events)
{
	struct epoll_event e;

	memset(&e, 0, sizeof(e));
	e.events = events;
	e.data.ptr = ev;
	if (epoll_ctl(l->epfd, op, ev->fd, &e) != 0)
		return SPIFFE_ERR_IO;
	ev->events = events;
	return 0;
}

int spiffe_evloop_add(spiffe_evloop *l, spiffe_ev *ev, uint32_t events)
{
	return ctl(l, EPOLL_CTL_ADD, ev, events);
}

int spiffe_evloop_mod(spiffe_evloop *l, spiffe_ev *ev, uint32_t events)
{
	if (ev->events == events)
		return 0;
	return ctl(l, EPOLL_CTL_MOD, ev, events);
}

void spiffe_evloop_del(spiffe_evloop *l, spiffe_ev *ev)
{
	struct epoll_event e;

	(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, ev->fd, &e);
	ev->events = 0;
}

/* ---- timer heap (min-heap on `when`, idx is slot + 1) -------------- */

static void heap_put(spiffe_evloop *l, size_t i, spiffe_timer *t)
{
	l->heap[i] = t;
	t->idx = i + 1;
}

static void sift_up(spiffe_evloop *l, size_t i)
{
	spiffe_timer *t = l->heap[i];

	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (l->heap[p]->when <= t->when)
			break;
		heap_put(l, i, l->heap[p]);
		i = p;
	}
	heap_put(l, i, t);
}

static void sift_down(spiffe_evloop *l, size_t i)
{
	spiffe_timer *t = l->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= l->nheap)
			break;
		if (c + 1 < l->nheap &&
		    l->heap[c + 1]->when < l->heap[c]->when)
			c++;
		if (t->when <= l->heap[c]->when)
			break;
		heap_put(l, i, l->heap[c]);
		i = c;
	}
	heap_put(l, i, t);
}

void spiffe_timer_cancel(spiffe_evloop *l, spiffe_timer *t)
{
	size_t i;

	if (t->idx == 0)
		return;
	i = t->idx - 1;
	t->idx = 0;
	l->nheap--;
	if (i == l->nheap)
		return;
	{
		spiffe_timer *x = l->heap[l->nheap];

		heap_put(l, i, x);
		sift_up(l, i);
		sift_down(l, x->idx - 1);
	}
}

int spiffe_timer_set(spiffe_evloop *l, spiffe_timer *t, int64_t when)
{
	if (t->idx != 0) {
		size_t i = t->idx - 1;

		t->when = when;
		sift_up(l, i);
		sift_down(l, t->idx - 1);
		return 0;
	}
	if (l->nheap == l->capheap) {
		size_t cap = l->capheap ? l->capheap * 2 : 64;
		spiffe_timer **h = realloc(l->heap, cap * sizeof(*h));

		if (h == NULL)
			return SPIFFE_ERR_NOMEM;
		l->heap = h;
		l->capheap = cap;
	}
	t->when = when;
	heap_put(l, l->nheap++, t);
	sift_up(l, l->nheap - 1);
	return 0;
}

/* ---- running -------------------------------------------------------- */

static void run_timers(spiffe_evloop *l)
{
	int64_t now = spiffe_monotonic_ms();

	while (l->nheap > 0 && l->heap[0]->when <= now) {
		spiffe_timer *t = l->heap[0];

		spiffe_timer_cancel(l, t);
		t->fn(l, t->arg);
	}
}

int spiffe_evloop_run(spiffe_evloop *l, spiffe_errbuf *eb)
{
	struct epoll_event evs[MAX_EVENTS];

	l->stop = 0;
	while (!l->stop) {
		int timeout = -1, n;

		if (l->nheap > 0) {
			int64_t d = l->heap[0]->when - spiffe_monotonic_ms();

			timeout = d < 0 ? 0 : d > 60000 ? 60000 : (int)d;
		}
		n = epoll_wait(l->epfd, evs, MAX_EVENTS, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return spiffe_fail(eb, SPIFFE_ERR_IO, "epoll_wait: %s",
					   strerror(errno));
		}
		for (int i = 0; i < n; i++) {
			spiffe_ev *ev = evs[i].data.ptr;

			ev->fn(l, ev->arg, evs[i].events);
		}
		run_timers(l);
	}
	return 0;
}

void spiffe_evloop_stop(spiffe_evloop *l)
{
	l->stop = 1;
}

void spiffe_evloop_wake(spiffe_evloop *l)
{
	uint64_t one = 1;

	while (write(l->wakefd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}
