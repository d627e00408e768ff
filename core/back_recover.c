/*
 * back_recover.c - what the back half finds installed (see back.h): at
 * start, the tunnel numbers read back from our nftables rules and routes;
 * on stop and on `tunrelay cleanup`, the removal of our rules, routes and
 * table.
 */
#include <net/if.h>
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/back_int.h"
#include "core/back_slot.h"
#include "core/log.h"

/* Point the spec at our tables alone: the scope that removal clears. */
static void
back_scope(struct back *b)
{
	b->nrules = b->nroutes = 0;
	back_spec(b);
}

/* Remove our rules, routes and table. */
void
back_remove(struct back *b)
{
	struct route_result res;
	char e[ERRLEN], ne[ERRLEN];

	back_scope(b);
	b->restoring = false;
	if (route_remove(&b->nl, &b->spec, &res, e) == -1)
		log_warnx("removing reply routing: %s", e);
	if (nft_remove(ne) == -1 && b->mode == CONF_MARK_CONNMARK)
		log_warnx("removing nftables table: %s", ne);
}

/* Remove what a killed back left: our rules, routes and nftables table. */
int
back_cleanup(char err[ERRLEN])
{
	struct back *b;
	struct route_result res;
	char e[ERRLEN], ne[ERRLEN];
	int rc = 0;

	if ((b = calloc(1, sizeof(*b))) == NULL) {
		snprintf(err, ERRLEN, "out of memory");
		return -1;
	}
	if (nl_open(&b->nl, err) == -1) {
		err_prefix(err, "netlink");
		free(b);
		return -1;
	}
	back_scope(b);
	/* a success may leave a note in e: err keeps only failures */
	if (route_remove(&b->nl, &b->spec, &res, e) == -1) {
		memcpy(err, e, ERRLEN);
		err_prefix(err, "reply routing");
		rc = -1;
	}
	/* without nftables there can be no table of ours to remove */
	if (nft_remove(ne) == -1 && nft_probe(e) == 0) {
		memcpy(err, ne, ERRLEN);
		err_prefix(err, "nftables table inet %s", NFT_BACK_TABLE);
		rc = -1;
	}
	nl_close(&b->nl);
	free(b);
	return rc;
}

/* Numbers found in the kernel at start (back_recover). */
struct back_found {
	struct back_slot_prev prev[BACK_FOUND_MAX];
	char ifname[BACK_FOUND_MAX][IFNAMSIZ];
	const char *from[BACK_FOUND_MAX];	/* where: for the log */
	size_t n;
};

/* Note that interface ifname had number slot (the first finding wins). */
static void
back_found_add(struct back_found *f, const char *ifname, uint32_t slot,
    const char *from)
{
	size_t i;

	if (slot >= BACK_TUNNELS || f->n == BACK_FOUND_MAX)
		return;
	for (i = 0; i < f->n; i++)
		if (strcmp(f->ifname[i], ifname) == 0 ||
		    f->prev[i].slot == slot)
			return;
	snprintf(f->ifname[f->n], IFNAMSIZ, "%s", ifname);
	f->prev[f->n].name = NULL;
	f->prev[f->n].ifname = f->ifname[f->n];
	f->prev[f->n].slot = (uint8_t)slot;
	f->from[f->n] = from;
	f->n++;
}

/*
 * The numbers in our nftables table: "iifname TUN ct mark set MARK" says
 * which mark the connections of each tunnel carry in conntrack, and it
 * names the interface even while it is down or gone.
 */
static void
back_found_nft(struct back_found *f)
{
	struct nft_found nf[BACK_FOUND_MAX];
	char e[ERRLEN];
	size_t n, i;

	if (nft_marks(nf, BACK_FOUND_MAX, &n, e) == -1)
		return;		/* no nftables: no table of ours either */
	for (i = 0; i < n; i++)
		if (nf[i].mark >= BACK_MARK)
			back_found_add(f, nf[i].name, nf[i].mark - BACK_MARK,
			    "nftables");
}

/*
 * The numbers in our routing tables: tunnel n's table routes through its
 * interface (while it is up). The only finding with mark = source.
 */
static void
back_found_routes(struct back *b, struct back_found *f, int af)
{
	struct nl_route *r;
	char e[ERRLEN], name[IF_NAMESIZE];
	size_t n, i;

	if (nl_route_list(&b->nl, af, 0, &r, &n, e) == -1)
		return;		/* no IPv6: no routes of ours there */
	for (i = 0; i < n; i++)
		if (r[i].protocol == NL_PROTO_TUNRELAY && r[i].oif != 0 &&
		    r[i].table >= BACK_TABLE &&
		    r[i].table < BACK_TABLE + BACK_TUNNELS &&
		    if_indextoname((unsigned int)r[i].oif, name) != NULL)
			back_found_add(f, name, r[i].table - BACK_TABLE,
			    "routes");
	free(r);
}

/*
 * At start (a first start, tunrelay restart, or after a SIGKILL): number
 * the tunnels, keeping the numbers that our objects in the kernel give the
 * tunnels of the previous instance, so that its connections keep their
 * marks; new tunnels take the lowest free numbers.
 */
void
back_recover(struct back *b)
{
	const struct conf_back *cb = &b->conf.back;
	struct back_found *f;
	size_t t, i;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		fatal("back");
	back_found_nft(f);
	back_found_routes(b, f, AF_INET);
	back_found_routes(b, f, AF_INET6);
	back_slot_assign(f->prev, f->n, cb->tunnel, cb->ntunnel, BACK_TUNNELS,
	    b->slot);
	for (t = 0; t < cb->ntunnel; t++)
		for (i = 0; i < f->n; i++)
			if (f->prev[i].slot == b->slot[t] &&
			    strcmp(f->ifname[i], cb->tunnel[t].tunnel_interface)
			    == 0)
				log_info("[%s] %s keeps table %u, mark 0x%x "
				    "(found in %s)", cb->tunnel[t].name,
				    f->ifname[i], back_table(b, t),
				    back_mark(b, t), f->from[i]);
	free(f);
}
