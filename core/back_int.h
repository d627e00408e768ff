/*
 * back_int.h - the back half's state and the functions its files share (not
 * for users of the back: back.h). back_setup.c builds and installs the rules,
 * routes, nftables table and rp_filter; back_recover.c finds and removes
 * what is installed; back.c runs the daemon; back_ctl.c answers the control
 * socket.
 */
#ifndef TUNRELAY_BACK_INT_H
#define TUNRELAY_BACK_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "conf/conf.h"
#include "core/back.h"
#include "core/ctl.h"
#include "core/daemon.h"
#include "core/watch.h"
#include "tun/nft.h"
#include "tun/nl.h"
#include "tun/route.h"

#define BACK_MAX_RULES (BACK_PRIO_HI - BACK_PRIO_LO + 1)
#define BACK_MAX_ROUTES (8 * BACK_TUNNELS)	/* prefixes and defaults */
#define BACK_FOUND_MAX (4 * BACK_TUNNELS)	/* findings at start */

_Static_assert(BACK_TUNNELS <= NFT_TUNNELS_MAX, "a tunnel without nft rules");
#define BACK_RETRY_MS 1000	/* while the tunnel is down or gone */

/* What `tunrelay stats` shows for the back half. */
struct back_stats {
	uint64_t repairs;		/* reconciles that put something back */
	uint64_t repair_errors;		/* reconciles that failed (retried) */
	uint64_t rules_restored;
	uint64_t routes_restored;
	uint64_t nft_restored;		/* nftables table recreated */
	uint64_t reloads;
	uint64_t reload_errors;
};

/* A tunnel as the last reconcile found it. */
enum back_state {
	BACK_UP = 0,		/* there and up: routed */
	BACK_DOWN,		/* there, but down: left out */
	BACK_MISSING,		/* no such interface: left out */
};

/* What a reconcile found about one tunnel. */
struct back_tun {
	int ifindex;		/* 0: the interface is missing */
	bool up;		/* IFF_UP */
	uint8_t said;		/* enum back_state last logged */
	bool no_family[2];	/* IPv4/IPv6 left out: the tunnel has no address */
	size_t nrules;		/* rules installed for it */
};

struct back {
	const char *path;
	struct conf conf;
	struct nl nl;
	uint8_t mode;		/* CONF_MARK_CONNMARK or CONF_MARK_SOURCE */
	struct back_tun tun[BACK_TUNNELS];
	uint8_t slot[BACK_TUNNELS];	/* tunnel t's number (back_slot.h) */
	struct nl_rule rules[BACK_MAX_RULES];
	size_t nrules;
	struct nl_route routes[BACK_MAX_ROUTES];
	size_t nroutes;
	struct route_spec spec;
	bool restoring;		/* changes now are repairs: log them so */
	char last_err[ERRLEN];	/* last failure logged (no repeats) */
	struct event_base *base;
	struct watch_feed watch[2];	/* rtnetlink, nftables events */
	struct event *debounce;		/* reconcile after events, retries */
	struct daemon daemon;		/* signals, watchdog, restart */
	struct ctl ctl;			/* answers tunrelay stats */
	struct back_stats st;
};

/* back_setup.c: build and install */
/* Resolve mark = auto: connmark when nftables works, else source. */
void back_mode(struct back *);
/* Everything for the current mode; err says what failed. */
int back_install(struct back *, bool force_nft, char *err);
/* Log what runs, once. */
void back_describe(const struct back *);
/* Log a failure once until it changes or clears. */
void back_fail(struct back *, const char *msg);
/* Tunnel t's connection mark and routing table. */
uint32_t back_mark(const struct back *, size_t t);
uint32_t back_table(const struct back *, size_t t);
/* The spec route_apply works on (also the scope route_remove clears). */
void back_spec(struct back *);
/* Tunnel t's global addresses; a missing interface is no error (see .c). */
int back_tun_addrs(struct back *, size_t t, struct nl_ifaddr *out, size_t *n,
    char *err);
/* Tunnel t's state from what back_tun_addrs found, and its name. */
enum back_state back_tun_state(const struct back *, size_t t);
const char *back_state_name(enum back_state);

/* back_recover.c: what is installed */
/* Number the tunnels at start, keeping the numbers found in the kernel. */
void back_recover(struct back *);
/* Remove our rules, routes and table. */
void back_remove(struct back *);

/* back_ctl.c: the control socket (tunrelay stats, status) */
int back_ctl(struct back *);

#endif
