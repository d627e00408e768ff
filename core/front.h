/*
 * front.h - the front relay: the engine, one TUN device per side and the
 * policy routing that steers traffic into them, built from a [front] config.
 */
#ifndef TUNRELAY_FRONT_H
#define TUNRELAY_FRONT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <stdio.h>

#include "conf/conf.h"
#include "core/engine.h"
#include "core/statefile.h"
#include "nat/errlen.h"
#include "nat/nat.h"
#include "tun/nl.h"
#include "tun/route.h"
#include "tun/tundev.h"

#define FRONT_TABLE_BASE 7331		/* tables 7331..7333, one per side */
#define FRONT_PRIO_BASE 1000		/* rules 1000..1299, 100 per side */
#define FRONT_PRIO_LOCAL 1300		/* where the priority-0 local rule goes */
#define FRONT_MAX_RULES 96		/* per side */
#define FRONT_MAX_HAIRPIN 8
#define FRONT_HOLD_METRIC 4294967295U	/* below every other route */

/* What the host looks like to a front config. */
struct front_host {
	int pub_ifindex;
	unsigned int pub_mtu;
	bool pub_has[2];		/* [0] IPv4, [1] IPv6 */
	struct nat_addr pub_addr[2];	/* first address per family */
	struct nat_addr pub_all[16];	/* every global address */
	uint8_t pub_all_family[16];
	size_t npub_all;
	int tun_ifindex;		/* tunnel interface, 0 = none */
	unsigned int tun_mtu;
	int eph_lo, eph_hi;		/* ip_local_port_range */
};

struct front_side {
	bool used;
	struct tundev dev;
	struct route_spec spec;
	struct nl_rule rules[FRONT_MAX_RULES];
	size_t nrules;
	bool keep[2];			/* keep-source targets here, IPv4/IPv6 */
	struct nl_route hold[2];	/* blackhole fallbacks, IPv4 and IPv6 */
};

struct front {
	unsigned int nqueues;		/* queues of every TUN device, >= 1 */
	struct conf conf;
	struct nl nl;
	/*
	 * One shard per queue (core/engine.h). The packet path locks the
	 * shard of its packet; everything else (reload, control socket,
	 * health checks, counters) takes every shard (front_lock).
	 */
	struct engine *eng;
	enum { FRONT_STEER_NONE = 0, FRONT_STEER_EBPF, FRONT_STEER_KERNEL }
	    steer;			/* how packets reach their shard's queue */
	struct nat_settings set;
	struct nat_rule *rules;
	struct front_host host;
	struct front_side side[NAT_SIDE_MAX];
	bool icmp6;			/* proxy_ndp on: ICMPv6 to own addresses captured */
	struct statefile state;		/* flows that survive a restart */
	bool clean_stop;		/* SIGTERM/SIGINT: the state file goes */
	bool handover;			/* a restart: leave rules, sysctls, file */
};

/* Build everything a config needs and install it; on error nothing is left. */
int front_start(struct front *, struct conf *, char err[ERRLEN]);
/* Apply a new config to a running front; on error the old one stays. */
int front_reload(struct front *, struct conf *, char err[ERRLEN]);
/* The number of queues a [front] asks for: auto = online CPUs, capped. */
unsigned int front_queues(const struct conf_front *);
/*
 * Whether the packet p[0..len) is addressed to one of the front's own
 * addresses (public, relay and hairpin sources). Under any shard's lock
 * (a reload changes them with every shard locked).
 */
bool front_own_dst(const struct front *, const uint8_t *p, size_t len);
/* Take every shard's lock (the whole engine). */
void front_lock(struct front *);
/* Release every shard's lock. */
void front_unlock(struct front *);
/* Remove our rules, routes and devices; frees the engine. */
void front_stop(struct front *);
/* Remove whatever a killed instance left behind (no config needed). */
int front_cleanup(char err[ERRLEN]);
/*
 * Remove a killed instance's state file, unless the service manager is about
 * to restart it (SERVICE_RESULT other than success); -1 with a message.
 */
int front_cleanup_state(const struct conf *, char err[ERRLEN]);
/* Count our rules and routes in the kernel. */
int front_count(struct nl *, size_t *rules, size_t *routes, char err[ERRLEN]);
/* The rules and routes run would install, printed; nothing installed. */
int front_show(const struct conf *, FILE *, char err[ERRLEN]);

#endif
