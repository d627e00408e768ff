/*
 * nft.h - the back half's nftables objects, through libnftnl over a
 * NETLINK_NETFILTER socket: one table of our own ("inet tunrelay_back"),
 * created, replaced and deleted in single atomic batches. Other tables are
 * never touched. The rules below are repeated for every tunnel (one per
 * front), each with its own MARK and its own maps (udp4/udp6 for tunnel
 * number 0, udp4_N/udp6_N for tunnel number N).
 *
 *   chain pre   (filter, prerouting, mangle)
 *	iifname TUN ct mark set MARK
 *	iifname TUN udp: update @udp4/@udp6 { saddr . sport . dport : daddr }
 *	iifname != TUN ct mark MARK meta mark set ct mark	(forwarded replies)
 *   chain out   (route, output, mangle)
 *	udp ct state new, daddr . dport . sport in @udp4/@udp6:
 *	    saddr set (the address the client sent to), meta mark set MARK
 *	ct mark MARK meta mark set ct mark
 *   chain post  (filter, postrouting, mangle; only with MSS clamping)
 *	oifname TUN tcp flags & (syn|rst) == syn tcp option maxseg size set
 *	    rt mtu | N
 *
 * The udp maps fix replies of UDP services bound to 0.0.0.0 or :: that do
 * not use IP_PKTINFO: the kernel picks the uplink's source address for them,
 * the reply is a new conntrack entry without our mark, and would leave by
 * the wrong path with the wrong source. The out chain gives such a reply the
 * address its request was sent to and the mark, and the route chain
 * re-routes it through the tunnel.
 */
#ifndef TUNRELAY_NFT_H
#define TUNRELAY_NFT_H

#include <stdbool.h>
#include <stdint.h>

#include "nat/errlen.h"

#define NFT_BACK_TABLE "tunrelay_back"
#define NFT_UDP_TIMEOUT_MS 300000	/* learned UDP flows: the default ct timeout */

struct mnl_socket;

#define NFT_TUNNELS_MAX 16

/* One tunnel: its interface and the mark of the flows that arrive on it. */
struct nft_tunnel {
	const char *name;	/* the tunnel interface's name */
	uint32_t mark;		/* connection and packet mark */
	uint8_t num;		/* its number: names its maps (udp4, udp4_N) */
};

/* What nft_marks found: a tunnel interface and the mark its flows get. */
struct nft_found {
	char name[16];		/* IFNAMSIZ */
	uint32_t mark;
};

/* What the table does. */
struct nft_back {
	struct nft_tunnel tunnel[NFT_TUNNELS_MAX];
	size_t ntunnel;
	bool mss;		/* clamp the MSS of SYNs leaving by the tunnel */
	uint16_t mss_fixed;	/* to this value; 0 = to the route's MTU */
};

/* Whether nftables is usable here: create and delete a probe table. */
int nft_probe(char err[ERRLEN]);
/* Replace our table (delete and recreate in one batch). */
int nft_apply(const struct nft_back *, char err[ERRLEN]);
/* Delete our table if it exists. */
int nft_remove(char err[ERRLEN]);
/* Number of chains in our table (0: no table). */
int nft_chains(int *n, char err[ERRLEN]);
/* Chains nft_apply creates for a spec. */
int nft_chains_wanted(const struct nft_back *);
/*
 * The "iifname TUN ct mark set MARK" rules of our table: which mark the
 * flows of each tunnel interface get (none: no table). At most max.
 */
int nft_marks(struct nft_found *out, size_t max, size_t *n,
    char err[ERRLEN]);
/* A non-blocking socket subscribed to nftables change events; NULL on error. */
struct mnl_socket *nft_watch_open(char err[ERRLEN]);

#endif
