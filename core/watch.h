/*
 * watch.h - the front's eye on the host: link and address changes of the
 * public and tunnel interfaces (rtnetlink events). It says what happened
 * and asks the loop to re-read the host (as SIGHUP does) when the tunnel
 * interface comes back, an interface's index or MTU changes, or the public
 * addresses change.
 */
#ifndef TUNRELAY_WATCH_H
#define TUNRELAY_WATCH_H

#include <stdbool.h>

#include <event2/event.h>

#include "core/front.h"

#define WATCH_ERRLEN 256
#define WATCH_DEBOUNCE_MS 200

struct mnl_socket;

struct watch {
	struct mnl_socket *sock;
	struct event *ev, *debounce;
	struct front *front;
	void (*reread)(void *);
	void *arg;
	bool tun_gone, pub_gone;
};

/* Subscribe to link and address events; reread(arg) is called on changes. */
int watch_open(struct watch *, struct event_base *, struct front *,
    void (*reread)(void *), void *arg, char err[WATCH_ERRLEN]);
void watch_close(struct watch *);

#endif
