/*
 * port.c - full NAT: endpoint-independent mappings and port allocation
 * (RFC 4787/5382: no port overloading, parity and range class kept).
 */
#include <stdio.h>

#include "nat/nat_int.h"

/* Make the mapping table around its sentinel. */
int
port_init(struct nat *nat, char *err)
{
	size_t chunk = nat->set.max_flows < 256 ? nat->set.max_flows : 256;

	nat->ht_log2 = 5;
	while (((size_t)1 << nat->ht_log2) < nat->set.max_flows / 2 &&
	    nat->ht_log2 < 30)
		nat->ht_log2++;
	if (slab_init(&nat->map_slab, sizeof(struct nat_mapping), chunk,
	    nat->set.max_flows) == -1)
		goto oom;
	memset(&nat->map_sentinel, 0, sizeof(nat->map_sentinel));
	nat->maps = NULL;
	HASH_ADD(hh, nat->maps, key, MAPKEYLEN, &nat->map_sentinel);
	if (nat->maps == NULL)
		goto oom;
	nat->maps->hh.tbl->noexpand = 1;
	return 0;
oom:
	snprintf(err, ERRLEN, "no memory for the mapping table");
	return -1;
}

/* Free mappings and pools. */
void
port_fini(struct nat *nat)
{
	size_t i;

	if (nat->maps != NULL)
		HASH_CLEAR(hh, nat->maps);
	slab_destroy(&nat->map_slab);
	for (i = 0; i < nat->npools; i++)
		free(nat->pools[i]);
	nat->npools = 0;
}

/* The port pool of an external address and protocol, made on first use. */
static struct port_pool *
port_pool(struct nat *nat, uint8_t family, uint8_t proto,
    const struct nat_addr *a)
{
	struct port_pool *p;
	size_t i;

	for (i = 0; i < nat->npools; i++) {
		p = nat->pools[i];
		if (p->family == family && p->proto == proto &&
		    memcmp(&p->addr, a, sizeof(*a)) == 0)
			return p;
	}
	if (nat->npools == NAT_MAX_POOLS)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->addr = *a;
	p->family = family;
	p->proto = proto;
	nat->pools[nat->npools++] = p;
	return p;
}

/* Whether a port is taken in a pool. */
static bool
port_used(const struct port_pool *p, uint32_t port)
{
	return p->bits[port >> 6] & (1ULL << (port & 63));
}

/*
 * Search [lo, hi] from a start offset for a free port, optionally of a
 * parity, among the ports of this shard (nat_port_shard() names it; every
 * port when not sharded). The client's own port is never handed out: a
 * client must not be able to pick the relay port it gets (the
 * CVE-2021-3773 pattern).
 */
static uint32_t
port_search(const struct nat *nat, const struct port_pool *p, uint32_t lo,
    uint32_t hi, uint64_t start, int parity, uint16_t cport)
{
	uint32_t n = hi - lo + 1, i, port;

	for (i = 0; i < n; i++) {
		port = lo + (uint32_t)((start + i) % n);
		if (port == cport ||
		    (parity >= 0 && (port & 1) != (uint32_t)parity) ||
		    !port_mine(nat, port))	/* another shard's */
			continue;
		if (!port_used(p, port))
			return port;
	}
	return 0;
}

/*
 * Pick a free port for a client port: same range class (below 1024 or not)
 * and parity when possible, from a keyed pseudo-random start (RFC 6056).
 */
static uint32_t
port_pick(struct nat *nat, struct port_pool *p, uint16_t cport, uint64_t h)
{
	uint32_t lo = nat->set.nat_port_lo, hi = nat->set.nat_port_hi;
	uint32_t clo = lo, chi = hi, port = 0;

	if (cport < 1024 && lo < 1024)
		chi = hi < 1023 ? hi : 1023;
	else if (cport >= 1024 && hi >= 1024)
		clo = lo > 1024 ? lo : 1024;
	if (clo <= chi) {
		port = port_search(nat, p, clo, chi, h, cport & 1, cport);
		if (port == 0)
			port = port_search(nat, p, clo, chi, h, -1, cport);
	}
	if (port == 0)
		port = port_search(nat, p, lo, hi, h, cport & 1, cport);
	if (port == 0)
		port = port_search(nat, p, lo, hi, h, -1, cport);
	return port;
}

/* Fill a mapping key for a client endpoint behind an external address. */
static void
port_key(struct map_key *mk, const struct nat_key *k0, const struct nat_addr *ext)
{
	memset(mk, 0, sizeof(*mk));
	memcpy(mk->int_addr, k0->src, 16);
	memcpy(mk->ext_addr, ext->b, 16);
	mk->int_port = k0->sport;
	mk->proto = k0->proto;
	mk->family = k0->family;
}

/* Allocate a mapping with a fresh port; not yet in the table. */
static struct nat_mapping *
port_new(struct nat *nat, const struct nat_key *k0, const struct nat_addr *ext)
{
	struct nat_mapping *m;
	struct port_pool *p;
	uint64_t key[2], h;
	uint32_t port;

	p = port_pool(nat, k0->family, k0->proto, ext);
	if (p == NULL)
		return NULL;
	m = slab_alloc(&nat->map_slab);
	if (m == NULL)
		return NULL;
	memset(m, 0, sizeof(*m));
	port_key(&m->key, k0, ext);
	key[0] = nat->hash_key[0] ^ nat->set.port_seed;
	key[1] = nat->hash_key[1];
	h = sip_hash(key, &m->key, MAPKEYLEN);
	port = port_pick(nat, p, k0->sport, h);
	if (port == 0) {
		slab_free(&nat->map_slab, m);
		return NULL;
	}
	p->bits[port >> 6] |= 1ULL << (port & 63);
	p->used++;
	m->pool = p;
	m->ext_port = (uint16_t)port;
	m->refs = 1;
	nat->st.mappings++;
	return m;
}

/*
 * The endpoint-independent mapping of a client endpoint (k0's source) behind
 * ext, made on first use; NULL when no port is free.
 */
struct nat_mapping *
port_map(struct nat *nat, const struct nat_key *k0, const struct nat_addr *ext)
{
	struct nat_mapping *m = NULL;
	struct map_key mk;

	port_key(&mk, k0, ext);
	HASH_FIND(hh, nat->maps, &mk, MAPKEYLEN, m);
	if (m != NULL) {
		m->refs++;
		return m;
	}
	m = port_new(nat, k0, ext);
	if (m == NULL)
		return NULL;
	m->hashed = true;
	HASH_ADD(hh, nat->maps, key, MAPKEYLEN, m);
	return m;
}

/*
 * A mapping for one flow only, used when the shared mapping would give two
 * flows the same reply key (same client endpoint, same target).
 */
struct nat_mapping *
port_map_private(struct nat *nat, const struct nat_key *k0,
    const struct nat_addr *ext)
{
	return port_new(nat, k0, ext);
}

/* Drop a reference; the last one frees the port. */
void
port_unmap(struct nat *nat, struct nat_mapping *m)
{
	struct port_pool *p = m->pool;

	if (--m->refs > 0)
		return;
	p->bits[m->ext_port >> 6] &= ~(1ULL << (m->ext_port & 63));
	p->used--;
	if (m->hashed)
		HASH_DELETE(hh, nat->maps, m);
	slab_free(&nat->map_slab, m);
	nat->st.mappings--;
}

/*
 * The port of this shard in v's block of nshards ports (the block beside it
 * at the ends: 1024..65535 stays so): replies to a moved client port must
 * reach the flow's shard. v itself when not sharded.
 */
static uint16_t
port_own(const struct nat *nat, uint32_t v)
{
	uint32_t i;

	/* the next port of the shard from v on, 1024..65535 round */
	for (i = 0; i < 64512 && !port_mine(nat, v); i++)
		v = v >= 0xffff ? 1024 : v + 1;
	return (uint16_t)v;
}

/*
 * Source kept but the reply key is taken (the same client port reaches the
 * same target through two public ports): move the client's port in the reply
 * key to one no flow uses. The client keeps its address.
 */
int
port_pick_free(struct nat *nat, struct nat_key *k1)
{
	uint64_t h = sip_hash(nat->hash_key, k1, KEYLEN);
	int i;

	for (i = 0; i < 64; i++) {
		if (k1->proto == PROTO_TCP || k1->proto == PROTO_UDP)
			k1->dport = port_own(nat, 1024 +
			    (uint32_t)((h + (uint64_t)i * 7919) % 64512));
		else
			k1->sport = port_own(nat,
			    (uint32_t)((h + (uint64_t)i * 7919) & 0xffff));
		if (flow_lookup(nat, k1, NULL) == NULL)
			return 0;
	}
	return -1;
}

/*
 * Take relay port `port` of ext again for the client endpoint of k0 (a flow
 * taken over from a saved region): the endpoint's shared mapping, one more
 * reference when it exists with that very port, or a private mapping. NULL
 * when the port or the endpoint's shared mapping is taken otherwise (*clash)
 * or there is no room.
 */
struct nat_mapping *
port_claim(struct nat *nat, const struct nat_key *k0,
    const struct nat_addr *ext, uint16_t port, bool shared, bool *clash)
{
	struct nat_mapping *m = NULL;
	struct port_pool *p;
	struct map_key mk;

	*clash = false;
	if (!port_mine(nat, port)) {
		*clash = true;		/* another shard's port */
		return NULL;
	}
	port_key(&mk, k0, ext);
	if (shared) {
		HASH_FIND(hh, nat->maps, &mk, MAPKEYLEN, m);
		if (m != NULL && m->ext_port == port) {
			m->refs++;
			return m;
		}
	}
	if (m != NULL) {
		*clash = true;		/* the endpoint is mapped to another port */
		return NULL;
	}
	if ((p = port_pool(nat, k0->family, k0->proto, ext)) == NULL)
		return NULL;
	if (port_used(p, port)) {
		*clash = true;
		return NULL;
	}
	if ((m = slab_alloc(&nat->map_slab)) == NULL)
		return NULL;
	memset(m, 0, sizeof(*m));
	m->key = mk;
	p->bits[port >> 6] |= 1ULL << (port & 63);
	p->used++;
	m->pool = p;
	m->ext_port = port;
	m->refs = 1;
	m->hashed = shared;
	if (shared)
		HASH_ADD(hh, nat->maps, key, MAPKEYLEN, m);
	nat->st.mappings++;
	return m;
}
