/*
 * stats.h - the one table of counters. `tunrelay stats` (text, one
 * "name value" per line) and the Prometheus endpoint are both rendered from
 * stats_table[], over one snapshot, so the two can never disagree.
 *
 * Adding a counter is one line in stats.c's table: a scalar field of
 * struct stats_snap with STAT(), or an array indexed by an enum with
 * STAT_ARRAY() (new enum values then appear on their own).
 */
#ifndef TUNRELAY_STATS_H
#define TUNRELAY_STATS_H

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>

#include "nat/nat.h"

struct engine;

struct flowlog;
struct conf;

/*
 * Counters of the front's event loop itself (the engine keeps its own); one
 * set per queue, summed for a snapshot.
 */
struct loop_stats {
	uint64_t rx_packets;
	uint64_t rx_bytes;
	uint64_t tx_packets;
	uint64_t tx_bytes;
	uint64_t rx_errors;
	uint64_t tx_errors;		/* writes refused (queue full, device gone) */
	uint64_t bad_vnet;		/* virtio-net headers a TUN never sends */
	uint64_t not_ours_dropped;	/* left alone by the engine, not the host's:
					 * dropped (other_traffic = drop) */
	uint64_t io_submits;		/* io_uring submissions (system calls) */
	uint64_t lock_waits;		/* packet path found its shard's lock taken */
	uint64_t shard_crossed;		/* packets read on a queue not their shard's */
	uint64_t reloads;
	uint64_t reload_errors;
};

#define STATS_MAX_RULES 128	/* rule ids shown by status and metrics */

/* One config rule's counters (nat_rule_stats) and its name. */
struct stats_rule {
	char name[96];		/* "backend 10.22.22.1", "forward.web", ... */
	struct nat_rule_stats st;
};

#define STATS_MAX_BACKENDS 256	/* backends shown by status and metrics */

/* One backend's state and counters (nat_backend_stats) and its name. */
struct stats_backend {
	char name[112];		/* "forward.web 10.22.22.1:80", "backend fd22::1" */
	struct nat_backend_stats st;
};

/* Every value a counter may show, taken at one moment. */
struct stats_snap {
	struct nat_stats nat;
	struct loop_stats loop;
	uint64_t memory_bytes;
	uint64_t flow_log_lines;
	uint64_t flow_log_suppressed;
	uint64_t log_lines_lost;
};

enum stats_type {
	STATS_COUNTER = 0,	/* only grows; its metric name ends in _total */
	STATS_GAUGE,		/* goes up and down */
};

/*
 * One table entry: a scalar, a ratio of two scalars, or an array of values
 * from index first to n - 1 (n > 0), one per label value name_of(i).
 * Entries of one Prometheus metric (same `metric`) must be adjacent.
 */
struct stats_def {
	const char *name;	/* text name; an array's prefix ("drop_") */
	const char *metric;	/* Prometheus name */
	enum stats_type type;
	const char *help;	/* one line for # HELP */
	size_t off;		/* offsetof(struct stats_snap, uint64_t field) */
	size_t div;		/* ratio: offset of the divisor, else 0 */
	const char *labels;	/* fixed labels, e.g. direction="rx", or NULL */
	size_t n, first;	/* arrays: index range */
	const char *label;	/* arrays: label name */
	const char *(*name_of)(size_t);	/* arrays: label value of index */
};

extern const struct stats_def stats_table[];
extern const size_t stats_table_len;

/* Take a snapshot of the engine, the loop and the flow log. */
void stats_fill(struct stats_snap *, const struct engine *,
    const struct loop_stats *, const struct flowlog *);
/* "name value" lines, in table order. */
int stats_text(const struct stats_def *, size_t, const struct stats_snap *,
    struct evbuffer *);
/* One JSON object, the text names as keys (tunrelay stats -j). */
int stats_json(const struct stats_def *, size_t, const struct stats_snap *,
    struct evbuffer *);
/* Prometheus text exposition format 0.0.4. */
int stats_prom(const struct stats_def *, size_t, const struct stats_snap *,
    struct evbuffer *);

/* Per-rule counters with their names (call under the engine lock); the
 * number of rules filled, at most max. */
size_t stats_rules(const struct engine *, const struct conf *,
    struct stats_rule *, size_t max);
/* The per-rule metrics: tunrelay_rule_{packets,bytes,flows_created}_total
 * and tunrelay_rule_flows, labelled rule="NAME". */
void stats_prom_rules(const struct stats_rule *, size_t, struct evbuffer *);
/* Per-backend state and counters with their names; the number filled. */
size_t stats_backends(const struct engine *, const struct conf *,
    struct stats_backend *, size_t max);
/* The per-backend metrics (tunrelay_backend_*). */
void stats_prom_backends(const struct stats_backend *, size_t,
    struct evbuffer *);
/* tunrelay_build_info{version="..."} 1. */
void stats_prom_build(struct evbuffer *);

#endif
