/*
 * back.h - the back half: on the backend, send the replies of flows that
 * arrived through a tunnel back through that tunnel. One tunnel per front
 * ([back]'s own and [back.NAME] sections, docs/many-fronts.md); tunnel
 * number n has its own routing table BACK_TABLE + n and mark BACK_MARK + n.
 * A tunnel keeps its number while its section is there (core/back_slot.h):
 * on reload by section name, at start read back from our nftables rules
 * and routes, by interface.
 *
 * Tunnel i's table holds "default via FRONT dev TUNNEL" (and the tunnel's
 * own prefixes); rules send replies to it:
 *   mark = source:   "from TUNNEL-ADDRESS lookup T", "from SERVICE lookup T"
 *   mark = connmark: "fwmark MARK lookup T" plus the nftables table of
 *                    tun/nft.h (connmark, restore, UDP source fix, MSS),
 *                    its rules repeated per tunnel
 * Everything is tagged (protocol 222, priorities BACK_PRIO_LO..HI, tables
 * BACK_TABLE..BACK_TABLE + BACK_TUNNELS - 1 and BACK_TABLE_SPARE, nft table
 * "inet tunrelay_back"), reconciled at start, watched through rtnetlink and
 * nftables events (restored within a second when flushed or deleted), and
 * removed on SIGTERM/SIGINT. A tunnel that is missing is left out until it
 * is back; the others carry on.
 */
#ifndef TUNRELAY_BACK_H
#define TUNRELAY_BACK_H

#include "conf/conf.h"
#include "nat/errlen.h"

#define BACK_TUNNELS CONF_BACK_TUNNELS_MAX	/* tunnels (fronts) at most */
#define BACK_TABLE 7341		/* tunnel n's reply table: BACK_TABLE + n */
#define BACK_TABLE_SPARE 7340	/* route.c's own-table slot; never looked up */
#define BACK_PRIO_LO 1400	/* our rules: 1400..1499 */
#define BACK_PRIO_HI 1499
#define BACK_MARK 0x7e1		/* tunnel n's connection mark: BACK_MARK + n */
#define BACK_DEBOUNCE_MS 200	/* netlink events are coalesced this long */

/* Run the back half described by path until SIGTERM/SIGINT; the exit code. */
int back_run(const char *path, struct conf *);
/* Remove what a killed back left (found by its tags); -1 with err. */
int back_cleanup(char err[ERRLEN]);

/* What `tunrelay check` reads as run does (core/check_back.c). */
#include <stdbool.h>
#include <stddef.h>

#include "tun/nl.h"

#define BACK_MAX_ADDRS 16	/* global addresses read per tunnel */

/* A tunnel's interface as run finds it. */
struct back_probe {
	int ifindex;		/* 0: the interface is missing */
	bool up;		/* IFF_UP */
};

/*
 * Tunnel t's interface (p) and its global addresses (out, at most
 * BACK_MAX_ADDRS), as run reads them. A missing interface is no error
 * (ifindex 0, why in err); -1 when netlink fails.
 */
int back_probe_tunnel(const struct conf *, struct nl *, size_t t,
    struct back_probe *p, struct nl_ifaddr *out, size_t *n,
    char err[ERRLEN]);

#endif
