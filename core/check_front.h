/*
 * check_front.h - the findings of `tunrelay check` for a [front]
 * (check_front.c), and what its files share: the state of one front check
 * and the port and policy-rule findings (check_front_rules.c).
 */
#ifndef TUNRELAY_CHECK_FRONT_H
#define TUNRELAY_CHECK_FRONT_H

#include <stdbool.h>

#include "conf/conf.h"
#include "core/check.h"
#include "tun/nl.h"

/* What a front check looks at. */
struct check_front {
	const struct conf *c;
	const struct conf_front *cf;
	struct nl nl;
	bool running;		/* a front runs in this network namespace */
	bool fam[2];		/* IPv4, IPv6 relayed */
	struct nl_link pub, tun;
	bool has_pub, has_tun;
	int eph_lo, eph_hi;
};

/* Findings for a [front] config as far as scope says; the error count. */
int check_front(const struct conf *, enum check_scope);

/* Port ranges that collide with the kernel's ephemeral ports or nat_ports. */
void check_front_ports(struct check_front *);
/* Whether a [front] rewrites sources: a full NAT forward, or hairpin. */
bool check_front_full_nat(const struct conf_front *);
/* The host's own services on ports the front relays. */
void check_front_listeners(struct check_front *);
/* Policy routing findings, per family relayed; the number of errors. */
int check_front_rules(struct check_front *);

#endif
