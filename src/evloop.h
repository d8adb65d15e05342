/*
 * evloop.h - a small epoll event loop: level-triggered file descriptor
 * events, millisecond timers in a binary heap, a thread-safe wake-up,
 * and SIGTERM/SIGINT delivered through a signalfd.
 *
 * One thread runs the loop; spiffe_evloop_wake() (and only it) may be
 * called from others.  Registrations and timers are caller-allocated
 * and must stay put while registered; nothing here allocates per event.
 */
#ifndef SPIFFE_EVLOOP_H
#define SPIFFE_EVLOOP_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct spiffe_evloop spiffe_evloop;

/* Events a handler asks for and gets (the EPOLL* bits). */
enum {
	SPIFFE_EV_IN = 0x001,    /* EPOLLIN */
	SPIFFE_EV_OUT = 0x004,   /* EPOLLOUT */
	SPIFFE_EV_ERR = 0x008,   /* EPOLLERR, always reported */
	SPIFFE_EV_HUP = 0x010,   /* EPOLLHUP, always reported */
};

/* A file descriptor registration: fn(loop, arg, events) on readiness. */
typedef struct spiffe_ev {
	int fd;
	uint32_t events;
	void (*fn)(spiffe_evloop *l, void *arg, uint32_t events);
	void *arg;
} spiffe_ev;

/* A one-shot timer: fn(loop, arg) once, at or after its deadline. */
typedef struct spiffe_timer {
	int64_t when;            /* spiffe_monotonic_ms() deadline */
	size_t idx;              /* heap slot + 1; 0 = not armed */
	void (*fn)(spiffe_evloop *l, void *arg);
	void *arg;
} spiffe_timer;

struct spiffe_evloop {
	int epfd;
	int wakefd;              /* eventfd */
	int sigfd;               /* signalfd or -1 */
	spiffe_ev wake_ev, sig_ev;
	void (*on_wake)(spiffe_evloop *l, void *arg);
	void *wake_arg;
	void (*on_signal)(spiffe_evloop *l, void *arg, int signo);
	void *signal_arg;
	spiffe_timer **heap;
	size_t nheap, capheap;
	int stop;
};

/*
 * Starts loop l; on_wake(l, arg) runs in the loop thread after any
 * number of spiffe_evloop_wake() calls (may be NULL).  SPIFFE_ERR_IO.
 */
SPIFFE_CHECK int spiffe_evloop_init(spiffe_evloop *l,
				    void (*on_wake)(spiffe_evloop *, void *),
				    void *arg, spiffe_errbuf *eb);

/* Closes the loop's descriptors; safe zeroed-after-init and twice. */
void spiffe_evloop_free(spiffe_evloop *l);

/*
 * Blocks SIGTERM and SIGINT in the calling thread (call it before any
 * thread starts, so all inherit the mask), ignores SIGPIPE, and has the
 * loop call on_signal(l, arg, signo) when one arrives.
 */
SPIFFE_CHECK int spiffe_evloop_catch_signals(spiffe_evloop *l,
					     void (*on_signal)(spiffe_evloop *,
							       void *, int),
					     void *arg, spiffe_errbuf *eb);

/* Registers ev for events (SPIFFE_EV_IN / _OUT). */
SPIFFE_CHECK int spiffe_evloop_add(spiffe_evloop *l, spiffe_ev *ev,
				   uint32_t events);
/* Changes what ev waits for (no system call if unchanged). */
SPIFFE_CHECK int spiffe_evloop_mod(spiffe_evloop *l, spiffe_ev *ev,
				   uint32_t events);
/* Unregisters ev (before its fd is closed). */
void spiffe_evloop_del(spiffe_evloop *l, spiffe_ev *ev);

/* Arms (or re-arms) t to fire at deadline `when`. */
SPIFFE_CHECK int spiffe_timer_set(spiffe_evloop *l, spiffe_timer *t,
				  int64_t when);
/* Disarms t if armed. */
void spiffe_timer_cancel(spiffe_evloop *l, spiffe_timer *t);

/* Runs until spiffe_evloop_stop(); 0, or SPIFFE_ERR_IO from epoll. */
SPIFFE_CHECK int spiffe_evloop_run(spiffe_evloop *l, spiffe_errbuf *eb);

/* Makes run() return after the current round (loop thread only). */
void spiffe_evloop_stop(spiffe_evloop *l);

/* Wakes the loop from any thread (async-signal-safe). */
void spiffe_evloop_wake(spiffe_evloop *l);

#endif
