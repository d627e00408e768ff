/*
 * stats.c - the counter table and its two renderings: `tunrelay stats`
 * text and the Prometheus text format served by core/metrics.c.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "core/engine.h"
#include "core/flowlog.h"
#include "core/log.h"
#include "core/stats.h"

/* Label value of a side index. */
static const char *
stats_side_name(size_t i)
{
	static const char *const names[NAT_SIDE_MAX] = {
		"public", "inside", "lan"
	};

	return i < NAT_SIDE_MAX ? names[i] : "?";
}

/* Label value of a drop reason index. */
static const char *
stats_drop_name(size_t i)
{
	return nat_drop_name((enum nat_drop_reason)i);
}

/* Label value of a TCP state index. */
static const char *
stats_state_name(size_t i)
{
	return nat_tcp_state_name((enum nat_tcp_state)i);
}

#define F(field) offsetof(struct stats_snap, field)
#define STAT(name, metric, type, help, field) \
	{ name, metric, type, help, F(field), 0, NULL, 0, 0, NULL, NULL }
#define STAT_L(name, metric, type, help, field, labels) \
	{ name, metric, type, help, F(field), 0, labels, 0, 0, NULL, NULL }
#define STAT_RATIO(name, metric, help, field, divisor) \
	{ name, metric, STATS_GAUGE, help, F(field), F(divisor), NULL, 0, 0, \
	    NULL, NULL }
#define STAT_ARRAY(prefix, metric, type, help, field, n, first, label, fn) \
	{ prefix, metric, type, help, F(field), 0, NULL, n, first, label, fn }
#define C STATS_COUNTER
#define G STATS_GAUGE

const struct stats_def stats_table[] = {
	STAT_ARRAY("packets_", "tunrelay_packets_total", C,
	    "Packets read from the TUN devices and given to the engine, by "
	    "side.", nat.packets, NAT_SIDE_MAX, 0, "side", stats_side_name),
	STAT("forwarded", "tunrelay_forwarded_total", C,
	    "Packets translated and sent on.", nat.forwarded),
	STAT("not_ours", "tunrelay_not_ours_total", C,
	    "Packets no rule or flow claims, handed back to the host.",
	    nat.not_ours),
	STAT("icmp_replies", "tunrelay_icmp_replies_total", C,
	    "ICMP errors the engine generated (time exceeded, too big).",
	    nat.replies),
	STAT("icmp_translated", "tunrelay_icmp_translated_total", C,
	    "ICMP errors translated for a tracked flow.", nat.icmp_translated),
	STAT("mss_clamped", "tunrelay_mss_clamped_total", C,
	    "TCP SYNs whose MSS option was lowered.", nat.mss_clamped),
	STAT("too_big", "tunrelay_too_big_total", C,
	    "ICMP too-big answers to client packets over a target's MTU.",
	    nat.too_big),
	STAT("table_full_icmp", "tunrelay_table_full_icmp_total", C,
	    "ICMP administratively-prohibited answers to new flows refused "
	    "for a full table or no free relay port.", nat.table_full_icmp),
	STAT_ARRAY("drop_", "tunrelay_drops_total", C,
	    "Packets the engine dropped, by reason.", nat.drops, NAT_DROP_MAX,
	    0, "reason", stats_drop_name),
	STAT("flows_active", "tunrelay_flows_active", G,
	    "Flows in the table.", nat.flows_active),
	STAT("flows_max", "tunrelay_flows_max", G,
	    "Size of the flow table (max_flows).", nat.max_flows),
	STAT_RATIO("table_fill", "tunrelay_table_fill_ratio",
	    "Share of the flow table in use (flows_active / flows_max).",
	    nat.flows_active, nat.max_flows),
	STAT("flows_created", "tunrelay_flows_created_total", C,
	    "Flows opened.", nat.flows_created),
	STAT("flows_expired", "tunrelay_flows_expired_total", C,
	    "Flows removed after their idle timeout.", nat.flows_expired),
	STAT("flows_evicted", "tunrelay_flows_evicted_total", C,
	    "Unassured flows removed early to make room in a full table.",
	    nat.flows_evicted),
	STAT("flows_retargeted", "tunrelay_flows_retargeted_total", C,
	    "Unreplied flows started over where the rules now send them.",
	    nat.flows_retargeted),
	STAT("sources_tracked", "tunrelay_sources_tracked", G,
	    "Sources held by the per-source limits.", nat.sources_tracked),
	STAT("sources_reclaimed", "tunrelay_sources_reclaimed_total", C,
	    "Idle sources forgotten to make room for new ones.",
	    nat.sources_reclaimed),
	STAT_ARRAY("flows_tcp_", "tunrelay_flows_tcp", G,
	    "TCP flows in the table, by state.", nat.flows_by_state,
	    NAT_TCP_STATE_MAX, 1, "state", stats_state_name),
	STAT("flows_udp", "tunrelay_flows_udp", G,
	    "UDP flows in the table.", nat.flows_udp),
	STAT("flows_icmp", "tunrelay_flows_icmp", G,
	    "ICMP echo flows in the table.", nat.flows_icmp),
	STAT("mappings", "tunrelay_mappings", G,
	    "Full NAT endpoint mappings.", nat.mappings),
	STAT("frags_tracked", "tunrelay_frags_tracked", G,
	    "Fragment trackers in use.", nat.frags_tracked),
	STAT("frags_queued", "tunrelay_frags_queued_total", C,
	    "Fragments kept until their first fragment came.",
	    nat.frags_queued),
	STAT("memory_bytes", "tunrelay_memory_bytes", G,
	    "Memory held by the engine (tables, flows, pools).", memory_bytes),
	STAT_L("tun_rx_packets", "tunrelay_tun_packets_total", C,
	    "Packets read from (rx) and written to (tx) the TUN devices.",
	    loop.rx_packets, "direction=\"rx\""),
	STAT_L("tun_tx_packets", "tunrelay_tun_packets_total", C, NULL,
	    loop.tx_packets, "direction=\"tx\""),
	STAT_L("tun_rx_bytes", "tunrelay_tun_bytes_total", C,
	    "Bytes of IP packets read from (rx) and written to (tx) the TUN "
	    "devices.", loop.rx_bytes, "direction=\"rx\""),
	STAT_L("tun_tx_bytes", "tunrelay_tun_bytes_total", C, NULL,
	    loop.tx_bytes, "direction=\"tx\""),
	STAT_L("tun_rx_errors", "tunrelay_tun_errors_total", C,
	    "TUN reads that failed or were too short (rx), writes the kernel "
	    "refused (tx).", loop.rx_errors, "direction=\"rx\""),
	STAT_L("tun_tx_errors", "tunrelay_tun_errors_total", C, NULL,
	    loop.tx_errors, "direction=\"tx\""),
	STAT("tun_bad_vnet", "tunrelay_tun_bad_vnet_total", C,
	    "Packets with a virtio-net header a TUN device never sends.",
	    loop.bad_vnet),
	STAT("not_ours_dropped", "tunrelay_not_ours_dropped_total", C,
	    "Packets no flow or rule claimed, addressed to no address of the "
	    "front: dropped (other_traffic = drop).", loop.not_ours_dropped),
	STAT("tun_io_submits", "tunrelay_tun_io_submits_total", C,
	    "io_uring submissions (one system call each: a round of reads "
	    "with the last round's writes); 0 on the read/write path.",
	    loop.io_submits),
	STAT("engine_lock_waits", "tunrelay_engine_lock_waits_total", C,
	    "Packets whose queue thread found the lock of the packet's engine "
	    "shard held by another thread and waited for it.", loop.lock_waits),
	STAT("engine_shard_crossed", "tunrelay_engine_shard_crossed_total", C,
	    "Packets the kernel put on a queue other than their flow's shard's "
	    "(translated there under that shard's lock).", loop.shard_crossed),
	STAT("log_lines_lost", "tunrelay_log_lines_lost_total", C,
	    "Log lines that could not be written.", log_lines_lost),
	STAT("reloads", "tunrelay_reloads_total", C,
	    "Configuration reloads applied (SIGHUP).", loop.reloads),
	STAT("reload_errors", "tunrelay_reload_errors_total", C,
	    "Reloads refused; the running configuration stayed.",
	    loop.reload_errors),
	STAT("flow_log_lines", "tunrelay_flow_log_lines_total", C,
	    "Flow log lines written.", flow_log_lines),
	STAT("flow_log_suppressed", "tunrelay_flow_log_suppressed_total", C,
	    "Flow log lines dropped by the rate limit (flow_log_rate).",
	    flow_log_suppressed),
};
const size_t stats_table_len = sizeof(stats_table) / sizeof(stats_table[0]);

#undef C
#undef G

/* Take a snapshot of everything the table shows. */
void
stats_fill(struct stats_snap *s, const struct engine *eng,
    const struct loop_stats *ls, const struct flowlog *fl)
{
	memset(s, 0, sizeof(*s));
	if (eng != NULL) {
		engine_get_stats(eng, &s->nat);
		s->memory_bytes = engine_memory(eng);
	}
	if (ls != NULL)
		s->loop = *ls;
	s->log_lines_lost = log_lost();
	if (fl != NULL) {
		s->flow_log_lines = fl->lines;
		s->flow_log_suppressed = fl->suppressed;
	}
}

/* The uint64_t at offset off of a snapshot. */
static uint64_t
stats_at(const struct stats_snap *s, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)s + off, sizeof(v));
	return v;
}

/* Print a ratio entry's value. */
static void
stats_ratio(struct evbuffer *out, const struct stats_def *d,
    const struct stats_snap *s)
{
	uint64_t den = stats_at(s, d->div);

	evbuffer_add_printf(out, "%.6f", den == 0 ? 0.0 :
	    (double)stats_at(s, d->off) / (double)den);
}

/* Render "name value" lines. */
int
stats_text(const struct stats_def *t, size_t n, const struct stats_snap *s,
    struct evbuffer *out)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		if (t[i].n > 0) {
			for (j = t[i].first; j < t[i].n; j++)
				evbuffer_add_printf(out, "%s%s %llu\n",
				    t[i].name, t[i].name_of(j),
				    (unsigned long long)stats_at(s,
				    t[i].off + j * sizeof(uint64_t)));
			continue;
		}
		evbuffer_add_printf(out, "%s ", t[i].name);
		if (t[i].div != 0)
			stats_ratio(out, &t[i], s);
		else
			evbuffer_add_printf(out, "%llu", (unsigned long long)
			    stats_at(s, t[i].off));
		evbuffer_add(out, "\n", 1);
	}
	return 0;
}

/* Render one JSON object {"name": value, ...}, in table order. */
int
stats_json(const struct stats_def *t, size_t n, const struct stats_snap *s,
    struct evbuffer *out)
{
	const char *sep = "";
	size_t i, j;

	evbuffer_add(out, "{", 1);
	for (i = 0; i < n; i++) {
		if (t[i].n > 0) {
			for (j = t[i].first; j < t[i].n; j++, sep = ",")
				evbuffer_add_printf(out, "%s\"%s%s\":%llu", sep,
				    t[i].name, t[i].name_of(j),
				    (unsigned long long)stats_at(s,
				    t[i].off + j * sizeof(uint64_t)));
			continue;
		}
		evbuffer_add_printf(out, "%s\"%s\":", sep, t[i].name);
		sep = ",";
		if (t[i].div != 0)
			stats_ratio(out, &t[i], s);
		else
			evbuffer_add_printf(out, "%llu", (unsigned long long)
			    stats_at(s, t[i].off));
	}
	evbuffer_add(out, "}\n", 2);
	return 0;
}

/* Append text with backslash escapes for \, newline and (in labels) ". */
static void
stats_escape(struct evbuffer *out, const char *s, bool quote)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			evbuffer_add(out, "\\\\", 2);
		else if (*s == '\n')
			evbuffer_add(out, "\\n", 2);
		else if (*s == '"' && quote)
			evbuffer_add(out, "\\\"", 2);
		else
			evbuffer_add(out, s, 1);
	}
}

/* # HELP and # TYPE of a metric. */
static void
stats_prom_head(struct evbuffer *out, const struct stats_def *d)
{
	evbuffer_add_printf(out, "# HELP %s ", d->metric);
	stats_escape(out, d->help != NULL ? d->help : "", false);
	evbuffer_add_printf(out, "\n# TYPE %s %s\n", d->metric,
	    d->type == STATS_COUNTER ? "counter" : "gauge");
}

/* The samples of one entry. */
static void
stats_prom_samples(struct evbuffer *out, const struct stats_def *d,
    const struct stats_snap *s)
{
	size_t j;

	if (d->n == 0) {
		evbuffer_add_printf(out, "%s", d->metric);
		if (d->labels != NULL)
			evbuffer_add_printf(out, "{%s}", d->labels);
		evbuffer_add(out, " ", 1);
		if (d->div != 0)
			stats_ratio(out, d, s);
		else
			evbuffer_add_printf(out, "%llu", (unsigned long long)
			    stats_at(s, d->off));
		evbuffer_add(out, "\n", 1);
		return;
	}
	for (j = d->first; j < d->n; j++) {
		evbuffer_add_printf(out, "%s{%s=\"", d->metric, d->label);
		stats_escape(out, d->name_of(j), true);
		evbuffer_add_printf(out, "\"} %llu\n", (unsigned long long)
		    stats_at(s, d->off + j * sizeof(uint64_t)));
	}
}

/* Render the Prometheus text format: HELP and TYPE once per metric. */
int
stats_prom(const struct stats_def *t, size_t n, const struct stats_snap *s,
    struct evbuffer *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (i == 0 || strcmp(t[i].metric, t[i - 1].metric) != 0)
			stats_prom_head(out, &t[i]);
		stats_prom_samples(out, &t[i], s);
	}
	return 0;
}

/* Per-rule counters with their names; the number filled. */
size_t
stats_rules(const struct engine *eng, const struct conf *c,
    struct stats_rule *r, size_t max)
{
	struct nat_rule_stats st[STATS_MAX_RULES];
	size_t n, i;

	if (eng == NULL)
		return 0;
	n = engine_rule_stats(eng, st, STATS_MAX_RULES);
	if (n > STATS_MAX_RULES)
		n = STATS_MAX_RULES;
	for (i = 0; i < n && i < max; i++) {
		r[i].st = st[i];
		conf_nat_rule_name(c, st[i].id, r[i].name, sizeof(r[i].name));
	}
	return i;
}

/* One per-rule metric: HELP, TYPE and a sample per rule. */
static void
stats_prom_rule(struct evbuffer *out, const struct stats_rule *r, size_t n,
    const char *metric, const char *type, const char *help, size_t off)
{
	uint64_t v;
	size_t i;

	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", metric, help,
	    metric, type);
	for (i = 0; i < n; i++) {
		memcpy(&v, (const char *)&r[i].st + off, sizeof(v));
		evbuffer_add_printf(out, "%s{rule=\"", metric);
		stats_escape(out, r[i].name, true);
		evbuffer_add_printf(out, "\"} %llu\n", (unsigned long long)v);
	}
}

/* The per-rule metrics. */
void
stats_prom_rules(const struct stats_rule *r, size_t n, struct evbuffer *out)
{
	if (n == 0)
		return;
	stats_prom_rule(out, r, n, "tunrelay_rule_packets_total", "counter",
	    "Packets translated by flows of the rule, both directions",
	    offsetof(struct nat_rule_stats, packets));
	stats_prom_rule(out, r, n, "tunrelay_rule_bytes_total", "counter",
	    "Bytes translated by flows of the rule, both directions",
	    offsetof(struct nat_rule_stats, bytes));
	stats_prom_rule(out, r, n, "tunrelay_rule_flows_created_total",
	    "counter", "Flows the rule created",
	    offsetof(struct nat_rule_stats, flows_created));
	stats_prom_rule(out, r, n, "tunrelay_rule_flows", "gauge",
	    "Flows of the rule tracked now",
	    offsetof(struct nat_rule_stats, flows_active));
}

/* Per-backend state and counters with their names; the number filled. */
size_t
stats_backends(const struct engine *eng, const struct conf *c,
    struct stats_backend *b, size_t max)
{
	struct nat_backend_stats *st;
	size_t n, i;

	if (eng == NULL || max == 0 ||
	    (st = calloc(max, sizeof(*st))) == NULL)
		return 0;
	n = engine_backend_stats(eng, st, max);
	for (i = 0; i < n && i < max; i++) {
		b[i].st = st[i];
		conf_nat_backend_name(c, st[i].id, b[i].name, sizeof(b[i].name));
	}
	free(st);
	return i;
}

/* One per-backend metric: HELP, TYPE and a sample per backend. */
static void
stats_prom_backend(struct evbuffer *out, const struct stats_backend *b,
    size_t n, const char *metric, const char *type, const char *help,
    size_t off)
{
	uint64_t v;
	size_t i;

	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", metric, help,
	    metric, type);
	for (i = 0; i < n; i++) {
		memcpy(&v, (const char *)&b[i].st + off, sizeof(v));
		evbuffer_add_printf(out, "%s{backend=\"", metric);
		stats_escape(out, b[i].name, true);
		evbuffer_add_printf(out, "\"} %llu\n", (unsigned long long)v);
	}
}

/* The per-backend state gauge and the up/down transition counter. */
static void
stats_prom_backend_state(const struct stats_backend *b, size_t n,
    struct evbuffer *out)
{
	size_t i;
	int to;

	evbuffer_add_printf(out, "# HELP tunrelay_backend_up Whether the "
	    "backend gets new flows (1) or its checks took it out (0)\n"
	    "# TYPE tunrelay_backend_up gauge\n");
	for (i = 0; i < n; i++) {
		evbuffer_add_printf(out, "tunrelay_backend_up{backend=\"");
		stats_escape(out, b[i].name, true);
		evbuffer_add_printf(out, "\"} %d\n", b[i].st.up ? 1 : 0);
	}
	evbuffer_add_printf(out, "# HELP tunrelay_backend_transitions_total "
	    "State changes of the backend, by the state it went to\n"
	    "# TYPE tunrelay_backend_transitions_total counter\n");
	for (i = 0; i < n; i++)
		for (to = 0; to < 2; to++) {
			evbuffer_add_printf(out, "tunrelay_backend_transitions_"
			    "total{backend=\"");
			stats_escape(out, b[i].name, true);
			evbuffer_add_printf(out, "\",to=\"%s\"} %llu\n",
			    to ? "up" : "down", (unsigned long long)(to ?
			    b[i].st.ups : b[i].st.downs));
		}
}

/* The per-backend metrics. */
void
stats_prom_backends(const struct stats_backend *b, size_t n,
    struct evbuffer *out)
{
	if (n == 0)
		return;
	stats_prom_backend_state(b, n, out);
	stats_prom_backend(out, b, n, "tunrelay_backend_packets_total",
	    "counter", "Packets translated by flows of the backend, both "
	    "directions", offsetof(struct nat_backend_stats, packets));
	stats_prom_backend(out, b, n, "tunrelay_backend_bytes_total",
	    "counter", "Bytes translated by flows of the backend, both "
	    "directions", offsetof(struct nat_backend_stats, bytes));
	stats_prom_backend(out, b, n, "tunrelay_backend_flows_created_total",
	    "counter", "Flows the backend was given",
	    offsetof(struct nat_backend_stats, flows_created));
	stats_prom_backend(out, b, n, "tunrelay_backend_flows", "gauge",
	    "Flows of the backend tracked now",
	    offsetof(struct nat_backend_stats, flows_active));
}

/* The build-info gauge. */
void
stats_prom_build(struct evbuffer *out)
{
	evbuffer_add_printf(out, "# HELP tunrelay_build_info The version of "
	    "the running tunrelay (always 1)\n# TYPE tunrelay_build_info "
	    "gauge\ntunrelay_build_info{version=\"%s\"} 1\n",
	    PACKAGE_VERSION);
}
