/*
 * alarm.h - rate-limited log lines about overload: the flow table full,
 * sources over their per-source limits. Fed the engine's counters once a
 * second; says at most one line per kind every ALARM_PERIOD_MS.
 */
#ifndef TUNRELAY_ALARM_H
#define TUNRELAY_ALARM_H

#include <stdint.h>

#include "nat/nat.h"

#define ALARM_PERIOD_MS 10000

struct alarm {
	uint64_t next;			/* ms: no line before this */
	uint64_t at;			/* ms: when the base was taken */
	uint64_t full, evicted;		/* counters at the last line */
	uint64_t src_flows, src_rate;
	int started;
};

/* Look at the counters; log what grew since the last line, if it is time. */
void alarm_check(struct alarm *, const struct nat_stats *, uint64_t now);

#endif
