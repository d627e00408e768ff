/*
 * metrics.h - the Prometheus endpoint (metrics = ...): an evhttp server on
 * a TCP address (loopback unless configured otherwise) or a Unix socket,
 * answering GET /metrics with the counter table of core/stats.h.
 */
#ifndef TUNRELAY_METRICS_H
#define TUNRELAY_METRICS_H

#include <event2/event.h>
#include <event2/http.h>

#include "conf/conf.h"
#include "nat/errlen.h"

struct evbuffer;
struct stats_snap;

#define METRICS_TIMEOUT 10	/* seconds for a client to ask and read */

/* Fills a snapshot for one scrape. */
typedef void metrics_fill_fn(struct stats_snap *, void *);

struct metrics {
	struct evhttp *http;
	int fd;
	char path[108];		/* the Unix socket to remove, or "" */
	char where[128];	/* for log lines: "127.0.0.1:9731", "unix:..." */
	metrics_fill_fn *fill;
	void *arg;
	/* more samples after the table (per-rule counters), or NULL */
	void (*extra)(struct evbuffer *, void *);
};

/*
 * Listen as m says (nothing when it is off). A Unix socket gets mode 0600,
 * or 0660 and the group with control_group; a stale one is replaced.
 */
int metrics_listen(struct metrics *, struct event_base *,
    const struct conf_metrics *, const char *group, metrics_fill_fn *,
    void *, char err[ERRLEN]);
/* Stop listening; remove the Unix socket. */
void metrics_close(struct metrics *);

#endif
