/*
 * watch.h - kernel change events on the event loop, debounced. A watch feed
 * is an event socket (tun/nl_watch.h, tun/nft.h) that arms a timer: events
 * are coalesced until the timer fires, once, after a quiet time. The back
 * reconciles on it; the front uses it for its eye on the host: link and
 * address changes of the public and tunnel interfaces. The front's watch
 * says what happened and asks the loop to re-read the host (as SIGHUP
 * does) when the tunnel interface comes back, an interface's index or MTU
 * changes, or the public addresses change.
 */
#ifndef TUNRELAY_WATCH_H
#define TUNRELAY_WATCH_H

#include <stdbool.h>

#include <event2/event.h>

#include "nat/errlen.h"

#define WATCH_DEBOUNCE_MS 200

struct front;
struct mnl_socket;

/* An event socket that arms a debounce timer. */
struct watch_feed {
	struct mnl_socket *sock;	/* owned: closed by watch_feed_close */
	struct event *ev;
	struct event *timer;	/* armed on events, not owned */
	int ms;			/* the quiet time */
};

/*
 * Watch sock (taken over: closed on failure too) on base; events arm timer
 * to fire ms later unless it is already pending. -1 when libevent fails.
 */
int watch_feed_open(struct watch_feed *, struct event_base *,
    struct mnl_socket *sock, struct event *timer, int ms);
/* Stop watching and close the socket (a zeroed feed is fine). */
void watch_feed_close(struct watch_feed *);

/* The front's interface watch. */
struct watch {
	struct watch_feed feed;
	struct event *debounce;
	struct front *front;
	void (*reread)(void *);
	void *arg;
	bool tun_gone, pub_gone;
};

/* Subscribe to link and address events; reread(arg) is called on changes. */
int watch_open(struct watch *, struct event_base *, struct front *,
    void (*reread)(void *), void *arg, char err[ERRLEN]);
void watch_close(struct watch *);

#endif
