/*
 * flowlog.h - optional logging of new and closed flows (flow_log = on),
 * both tuples per line, rate-limited by a token bucket of flow_log_rate
 * lines per second (burst: one second's worth). Lines over the limit are
 * counted, and a summary line says how many were suppressed.
 */
#ifndef TUNRELAY_FLOWLOG_H
#define TUNRELAY_FLOWLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"
#include "nat/nat.h"

#define FLOWLOG_LINELEN 512

struct flowlog {
	bool on;
	uint32_t rate;			/* lines per second, and the burst */
	uint64_t tokens;		/* thousandths of a line */
	uint64_t last_ms;		/* when tokens were last added */
	uint64_t last_summary_ms;
	uint64_t lines;			/* written (summaries not counted) */
	uint64_t suppressed;		/* dropped by the limit, all time */
	uint64_t pending;		/* dropped since the last summary */
	const struct conf *conf;	/* for rule names; may be NULL */
	uint64_t (*clock)(void);	/* monotonic milliseconds */
	void (*emit)(const char *, void *);	/* writes one line */
	void *arg;
};

/* Set up a flow log; on and rate may change later with flowlog_set(). */
void flowlog_init(struct flowlog *, const struct conf *, uint64_t (*)(void),
    void (*)(const char *, void *), void *);
/* Turn logging on or off and set the rate (at least 1 line per second). */
void flowlog_set(struct flowlog *, bool on, uint32_t rate);
/* The engine's flow hook (nat_set_flow_hook) for a struct flowlog. */
void flowlog_hook(const struct nat_flow_info *, enum nat_flow_event, void *);
/* Once a second: say how many lines the limit suppressed, if any. */
void flowlog_flush(struct flowlog *);
/* Format one flow event into buf (both tuples, state, rule). */
int flowlog_format(const struct flowlog *, const struct nat_flow_info *,
    enum nat_flow_event, char *buf, size_t len);

#endif
