/*
 * ctl_status.h - the answer to `tunrelay status`, text or JSON
 * (core/ctl_status.c).
 */
#ifndef TUNRELAY_CTL_STATUS_H
#define TUNRELAY_CTL_STATUS_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/buffer.h>

#include "core/ctl.h"
#include "core/stats.h"

/* Monotonic seconds: the clock uptime is counted on. */
long long ctl_status_now(void);
/* status, text: one "key value" line each, then one line per rule. */
void ctl_status_text(const struct ctl *, const struct stats_rule *, size_t nr,
    struct evbuffer *);
/* status, text: one line per backend of the rules with several. */
void ctl_status_backends(const struct stats_backend *, size_t nb,
    struct evbuffer *);
/* status, JSON (docs/json.md): one object, rules and backends included. */
void ctl_status_json(const struct ctl *, const struct stats_rule *, size_t nr,
    const struct stats_backend *, size_t nb, struct evbuffer *);

#endif
