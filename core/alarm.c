/*
 * alarm.c - rate-limited overload log lines (see alarm.h).
 */
#include "core/alarm.h"
#include "core/log.h"

/* Take the counters as the new base without saying anything. */
static void
alarm_base(struct alarm *a, const struct nat_stats *st, uint64_t now)
{
	a->at = now;
	a->full = st->drops[NAT_DROP_TABLE_FULL];
	a->evicted = st->flows_evicted;
	a->src_flows = st->drops[NAT_DROP_SRC_FLOWS];
	a->src_rate = st->drops[NAT_DROP_SRC_RATE];
}

/* Log what grew since the base; returns whether anything was said. */
static int
alarm_say(const struct alarm *a, const struct nat_stats *st, uint64_t now)
{
	unsigned long long secs = (now - a->at + 999) / 1000;
	uint64_t full = st->drops[NAT_DROP_TABLE_FULL] - a->full;
	uint64_t ev = st->flows_evicted - a->evicted;
	uint64_t sf = st->drops[NAT_DROP_SRC_FLOWS] - a->src_flows;
	uint64_t sr = st->drops[NAT_DROP_SRC_RATE] - a->src_rate;
	int said = 0;

	if (full > 0 || ev > 0) {
		log_warnx("flow table full (max_flows %llu): %llu new flows "
		    "dropped, %llu finished, half-open or rebuildable flows evicted in the last "
		    "%llu s "
		    "(drop_table_full, flows_evicted)",
		    (unsigned long long)st->max_flows,
		    (unsigned long long)full, (unsigned long long)ev, secs);
		said = 1;
	}
	if (sf > 0 || sr > 0) {
		log_warnx("per-source limits: %llu new flows refused over "
		    "per_source_flows, %llu over per_source_rate in the last "
		    "%llu s (drop_source_flows, drop_source_rate)",
		    (unsigned long long)sf, (unsigned long long)sr, secs);
		said = 1;
	}
	return said;
}

/* Look at the counters; log what grew since the last line, if it is time. */
void
alarm_check(struct alarm *a, const struct nat_stats *st, uint64_t now)
{
	if (!a->started) {
		alarm_base(a, st, now);
		a->started = 1;
		return;
	}
	if (now < a->next)
		return;
	/* the period starts at the first line, so a burst is told at once */
	if (alarm_say(a, st, now))
		a->next = now + ALARM_PERIOD_MS;
	alarm_base(a, st, now);
}
