/*
 * health.h - health checks of the front's backends: a TCP connect or an
 * ICMP echo to each backend of a list with `check` set, every interval.
 * After `fall` failures in a row a backend is taken out of the engine's
 * hash of new flows (nat_backend_set), after `rise` passes in a row it is
 * put back; its flows are never touched. Backends start up.
 */
#ifndef TUNRELAY_HEALTH_H
#define TUNRELAY_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

struct front;
struct health_probe;

struct health {
	struct event_base *base;
	struct front *front;
	struct health_probe **p;
	size_t n;
	uint16_t seq;			/* ICMP echo sequence numbers */
};

/* Start checking the backends the front's config names. */
void health_open(struct health *, struct event_base *, struct front *);
/*
 * After a reload (engine lock not held): check the new list's backends;
 * a backend still listed (same rule, address, port and kind of check)
 * keeps its state, and every engine backend gets the state its checks say
 * (up when it has none).
 */
void health_reload(struct health *);
/* Stop every check. */
void health_close(struct health *);

#endif
