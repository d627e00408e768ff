/*
 * front_host.h - the host facts a front config needs and the engine
 * settings built from them (core/front_host.c).
 */
#ifndef TUNRELAY_FRONT_HOST_H
#define TUNRELAY_FRONT_HOST_H

#include <stdint.h>

#include "core/front.h"

/* Index 0 (IPv4) or 1 (IPv6) of an engine family, as in pub_has[]. */
static inline int
front_family_index(uint8_t family)
{
	return family == 4 ? 0 : 1;
}

/* A host prefix (/32 or /128) for an engine address. */
struct nl_prefix front_host_prefix(uint8_t family, const struct nat_addr *);
/* Everything the config needs to know about the host (f->host). */
int front_host(struct front *, char *err);
/* The interface and source address the kernel uses to reach a target. */
int front_egress(struct front *, uint8_t family, const struct nat_addr *to,
    struct nl_route *, char *err);
/* The number of targets of a rule: its backends, or its one target. */
uint32_t front_ntargets(const struct nat_rule *);
/* Rule r as if its target j (of backends bk) were its only one. */
struct nat_rule front_target(const struct nat_backend *bk,
    const struct nat_rule *r, uint32_t j);
/*
 * Turn the config into engine settings and rules; the backends follow the
 * rules in the same allocation (*rp), freed with them.
 */
int front_settings(struct front *, struct nat_settings *, struct nat_rule **rp,
    char *err);

#endif
