/*
 * flowlog.c - new and closed flows as log lines, through a token bucket.
 * The engine calls flowlog_hook() from inside nat_process()/nat_sweep();
 * the bucket keeps a flood of short flows from flooding the log too.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "core/flowlog.h"

#define FLOWLOG_MILLI 1000	/* tokens per line */

/* Set up a flow log, off until flowlog_set(). */
void
flowlog_init(struct flowlog *fl, const struct conf *c, uint64_t (*clock)(void),
    void (*emit)(const char *, void *), void *arg)
{
	memset(fl, 0, sizeof(*fl));
	fl->conf = c;
	fl->clock = clock;
	fl->emit = emit;
	fl->arg = arg;
	fl->rate = 1;
}

/* Turn the log on or off; a new rate starts with a full bucket. */
void
flowlog_set(struct flowlog *fl, bool on, uint32_t rate)
{
	if (rate == 0)
		rate = 1;
	if (rate != fl->rate || on != fl->on)
		fl->last_ms = 0;
	fl->on = on;
	fl->rate = rate;
}

/* Add the tokens earned since the last call, up to one second's worth. */
static void
flowlog_refill(struct flowlog *fl, uint64_t now)
{
	uint64_t cap = (uint64_t)fl->rate * FLOWLOG_MILLI;

	if (fl->last_ms == 0 || now < fl->last_ms) {
		fl->tokens = cap;
		fl->last_ms = now;
		return;
	}
	fl->tokens += (now - fl->last_ms) * fl->rate;
	if (fl->tokens > cap)
		fl->tokens = cap;
	fl->last_ms = now;
}

/* Write the "suppressed" summary when lines were dropped. */
static void
flowlog_summary(struct flowlog *fl, uint64_t now)
{
	char line[128];

	if (fl->pending == 0)
		return;
	snprintf(line, sizeof(line), "flow log: %llu lines suppressed "
	    "(flow_log_rate = %u per second)",
	    (unsigned long long)fl->pending, fl->rate);
	fl->emit(line, fl->arg);
	fl->pending = 0;
	fl->last_summary_ms = now;
}

/* Append one tuple to buf at *off. */
static void
flowlog_tuple(char *buf, size_t len, size_t *off, const struct nat_flow_info *fi,
    const struct nat_addr *src, const struct nat_addr *dst, uint16_t sport,
    uint16_t dport)
{
	char a[64], b[64];
	int n;

	if (fi->proto == 6 || fi->proto == 17)
		n = snprintf(buf + *off, len - *off, " src=%s dst=%s sport=%u "
		    "dport=%u", conf_ntop(fi->family, src, a, sizeof(a)),
		    conf_ntop(fi->family, dst, b, sizeof(b)), sport, dport);
	else
		n = snprintf(buf + *off, len - *off, " src=%s dst=%s id=%u",
		    conf_ntop(fi->family, src, a, sizeof(a)),
		    conf_ntop(fi->family, dst, b, sizeof(b)), sport);
	if (n > 0)
		*off = *off + (size_t)n < len ? *off + (size_t)n : len - 1;
}

/* Format one flow event. */
int
flowlog_format(const struct flowlog *fl, const struct nat_flow_info *fi,
    enum nat_flow_event ev, char *buf, size_t len)
{
	char rule[128];
	size_t off;
	int n;

	if (len < 2)
		return -1;
	n = snprintf(buf, len, "flow %s %s", nat_flow_event_name(ev),
	    nat_proto_name(fi->proto));
	off = n > 0 && (size_t)n < len ? (size_t)n : len - 1;
	flowlog_tuple(buf, len, &off, fi, &fi->orig_src, &fi->orig_dst,
	    fi->orig_sport, fi->orig_dport);
	flowlog_tuple(buf, len, &off, fi, &fi->reply_src, &fi->reply_dst,
	    fi->reply_sport, fi->reply_dport);
	if (fl->conf != NULL)
		conf_nat_rule_name(fl->conf, fi->rule_id, rule, sizeof(rule));
	else
		snprintf(rule, sizeof(rule), "rule %u", fi->rule_id);
	if (ev == NAT_FLOW_NEW)
		snprintf(buf + off, len - off, " state=%s rule=\"%s\"",
		    fi->state, rule);
	else
		snprintf(buf + off, len - off, " state=%s%s age=%us idle=%us "
		    "packets=%llu/%llu bytes=%llu/%llu rule=\"%s\"", fi->state,
		    fi->assured ? " [ASSURED]" : "", fi->age, fi->idle,
		    (unsigned long long)fi->packets[0],
		    (unsigned long long)fi->packets[1],
		    (unsigned long long)fi->bytes[0],
		    (unsigned long long)fi->bytes[1], rule);
	return 0;
}

/* The engine's flow hook: one line per event, within the rate. */
void
flowlog_hook(const struct nat_flow_info *fi, enum nat_flow_event ev, void *arg)
{
	struct flowlog *fl = arg;
	char line[FLOWLOG_LINELEN];
	uint64_t now;

	if (!fl->on)
		return;
	now = fl->clock();
	flowlog_refill(fl, now);
	if (fl->tokens < FLOWLOG_MILLI) {
		fl->suppressed++;
		fl->pending++;
		return;
	}
	fl->tokens -= FLOWLOG_MILLI;
	flowlog_summary(fl, now);
	flowlog_format(fl, fi, ev, line, sizeof(line));
	fl->emit(line, fl->arg);
	fl->lines++;
}

/* Once a second: the summary of suppressed lines, at most once a second. */
void
flowlog_flush(struct flowlog *fl)
{
	uint64_t now;

	if (fl->pending == 0)
		return;
	now = fl->clock();
	if (fl->last_summary_ms != 0 && now - fl->last_summary_ms < 1000)
		return;
	flowlog_summary(fl, now);
}
