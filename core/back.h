/*
 * back.h - the back half (BRIEF section 2, issue 4): on the backend, send
 * the replies of flows that arrived through the tunnel back through it.
 *
 * A routing table of our own holds "default via FRONT dev TUNNEL" (and the
 * tunnel's own prefixes); rules send replies to it:
 *   mark = source:   "from TUNNEL-ADDRESS lookup T", "from SERVICE lookup T"
 *   mark = connmark: "fwmark MARK lookup T" plus the nftables table of
 *                    core/nft.h (connmark, restore, UDP source fix, MSS)
 * Everything is tagged (protocol 222, priorities BACK_PRIO_LO..HI, tables
 * BACK_TABLE/BACK_TABLE_SPARE, nft table "inet tunrelay_back"), reconciled at
 * start, watched through rtnetlink and nftables events (restored within a
 * second when flushed or deleted), and removed on SIGTERM/SIGINT.
 */
#ifndef TUNRELAY_BACK_H
#define TUNRELAY_BACK_H

#include "conf/conf.h"

#define BACK_ERRLEN 512
#define BACK_TABLE 7341		/* the reply table */
#define BACK_TABLE_SPARE 7342	/* route.c's own-table slot; never looked up */
#define BACK_PRIO_LO 1400	/* our rules: 1400..1499 */
#define BACK_PRIO_HI 1499
#define BACK_MARK 0x7e1		/* connection and packet mark */
#define BACK_DEBOUNCE_MS 200	/* netlink events are coalesced this long */

/* Run the back half described by path until SIGTERM/SIGINT; the exit code. */
int back_run(const char *path, struct conf *);
/* Host checks for a back config, printed with their fixes; the problem count. */
int back_check(const struct conf *);
int back_cleanup(char err[BACK_ERRLEN]);

#endif
