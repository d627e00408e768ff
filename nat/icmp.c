/*
 * icmp.c - ICMP errors: translation of errors about tracked flows (RFC 5508),
 * and time exceeded for packets whose TTL runs out here.
 */
#include "nat/nat_int.h"

/* Drop with a reason. */
static enum nat_verdict
icmp_drop(enum nat_drop_reason *why, enum nat_drop_reason r)
{
	*why = r;
	return NAT_DROP;
}

/* The flow key an error's quoted packet answers to: the quoted tuple reversed. */
static void
icmp_key(struct nat_key *k, const struct pkt_info *in)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->src, in->dst, in->alen);
	memcpy(k->dst, in->src, in->alen);
	k->proto = in->proto;
	k->family = in->family;
	if (in->proto == PROTO_TCP || in->proto == PROTO_UDP) {
		k->sport = in->dport;
		k->dport = in->sport;
	} else
		k->sport = in->sport;
}

/* Replace a 16-bit word, adding the change to acc. */
static uint32_t
icmp_put16(uint8_t *p, uint16_t v, uint32_t acc)
{
	acc = csum_diff16(acc, rd16(p), v);
	wr16(p, v);
	return acc;
}

/* Rewrite the quoted packet's ports or identifier; returns their sum change. */
static uint32_t
icmp_inner_ports(const struct pkt_info *in, const struct nat_key *t)
{
	uint8_t *l4 = in->ip + in->l4off;
	uint32_t acc = 0;

	if (in->proto == PROTO_TCP || in->proto == PROTO_UDP) {
		acc = icmp_put16(l4, t->sport, acc);
		acc = icmp_put16(l4 + 2, t->dport, acc);
	} else
		acc = icmp_put16(l4 + 4, t->sport, acc);
	return acc;
}

/*
 * Rewrite the quoted packet to the tuple t, fixing its IP checksum and, when
 * quoted far enough, its L4 checksum. Returns the change to the ICMP sum.
 */
static uint32_t
icmp_inner(const struct pkt_info *in, const struct nat_key *t)
{
	uint32_t acc, pacc, l4acc;
	uint16_t old;
	uint8_t *f;
	int off = pkt_csum_offset(in->proto);

	pacc = csum_diff(0, in->src, t->src, in->alen);
	pacc = csum_diff(pacc, in->dst, t->dst, in->alen);
	memcpy(in->src, t->src, in->alen);
	memcpy(in->dst, t->dst, in->alen);
	acc = pacc;
	if (in->family == 4) {
		old = rd16(in->ip + 10);
		csum_apply(in->ip + 10, pacc, false);
		acc = csum_diff16(acc, old, rd16(in->ip + 10));
	}
	l4acc = icmp_inner_ports(in, t);
	acc = csum_fold(acc + l4acc);
	if ((size_t)off + 2 > in->l4len)
		return acc;
	f = in->ip + in->l4off + off;
	old = rd16(f);
	if (in->proto == PROTO_UDP && old == 0)
		return acc;
	if (in->proto != PROTO_ICMP)
		l4acc = csum_fold(l4acc + pacc);
	csum_apply(f, l4acc, false);
	if (in->proto == PROTO_UDP && rd16(f) == 0)
		wr16(f, 0xffff);
	return csum_diff16(acc, old, rd16(f));
}

/* Parse and check the packet an ICMP error quotes. */
static int
icmp_quoted(struct pkt_info *in, const struct pkt_info *pi,
    enum nat_drop_reason *why)
{
	uint8_t *icmp = pi->ip + pi->l4off;

	if (pi->frag || pkt_parse(in, icmp + 8, pi->l4len - 8, true, why) == -1 ||
	    in->l4off == 0 || in->family != pi->family ||
	    !(in->proto == PROTO_TCP || in->proto == PROTO_UDP || in->icmp_echo)) {
		*why = NAT_DROP_ICMP_BAD;
		return -1;
	}
	return 0;
}

/*
 * Rewrite the outer header of an error travelling in direction d of flow f,
 * like any packet of that direction; returns the address change.
 */
static uint32_t
icmp_outer(struct pkt_info *pi, const struct nat_flow *f, int d)
{
	uint8_t src[16], dst[16];
	uint32_t acc;

	memcpy(src, pi->src, pi->alen);
	memcpy(dst, pi->dst, pi->alen);
	if (d == 1) {
		/* towards the client: from the public address it used */
		memcpy(src, flow_addr(f, 1), pi->alen);
		memcpy(dst, flow_addr(f, 0), pi->alen);
	} else {
		memcpy(dst, flow_addr(f, 2), pi->alen);
		if (f->flags & FLOW_SNAT)
			memcpy(src, flow_reply_dst(f), pi->alen);
	}
	acc = csum_diff(0, pi->src, src, pi->alen);
	acc = csum_diff(acc, pi->dst, dst, pi->alen);
	memcpy(pi->src, src, pi->alen);
	memcpy(pi->dst, dst, pi->alen);
	if (pi->family == 4)
		csum_apply(pi->ip + 10, acc, false);
	return acc;
}

/*
 * Translate an ICMP error about a tracked flow. The error never opens,
 * refreshes or removes the flow (RFC 5508, RFC 7857).
 */
enum nat_verdict
icmp_error(struct nat *nat, struct pkt_info *pi, struct nat_pkt *pkt,
    enum nat_side side, enum nat_drop_reason *why)
{
	struct pkt_info in;
	struct nat_flow *f;
	struct nat_key k;
	uint32_t acc, pacc;
	uint8_t *sum = pi->ip + pi->l4off + 2;
	bool partial = pkt->vnet && (pkt->vnet->flags & NAT_VNET_NEEDS_CSUM);
	int d;

	if (icmp_quoted(&in, pi, why) == -1)
		return NAT_DROP;
	icmp_key(&k, &in);
	f = flow_lookup(nat, &k, &d);
	if (f == NULL || flow_expired(nat, f)) {
		/*
		 * An error about no flow of ours is about the host's own
		 * traffic (it shares the public and the relay addresses; the
		 * front captures every ICMP error to them) or about traffic
		 * the host routes: the host's stack decides.
		 */
		return NAT_NOT_OURS;
	}
	if (d == 0 && side != f->side)
		return icmp_drop(why, NAT_DROP_WRONG_SIDE);
	if (partial && (pkt->vnet->csum_start != pi->l4off ||
	    pkt->vnet->csum_offset != 2))
		return icmp_drop(why, NAT_DROP_BAD_VNET);
	/*
	 * RFC 5508 REQ-3. After the lookup: an error not ours is the host's,
	 * whose stack checks it. Before any rewrite: a dropped one stays as
	 * it came. The outer message is summed, quote included, as its sender
	 * summed it: a quote is often cut short, its own sum cannot be judged.
	 */
	if (!pkt_csum_ok(pi, pkt, partial))
		return icmp_drop(why, NAT_DROP_BAD_CSUM);
	if (nat_ttl(nat, pi) == -1)
		return icmp_drop(why, NAT_DROP_TTL);
	flow_key(f, !d, &k);
	acc = icmp_inner(&in, &k);
	pacc = icmp_outer(pi, f, d);
	if (pi->family == 6)
		csum_apply(sum, partial ? pacc : csum_fold(acc + pacc), partial);
	else if (!partial)
		csum_apply(sum, acc, false);
	nat_ttl_adjust(nat, pi);
	nat->st.icmp_translated++;
	return NAT_FORWARD;
}

/* Write the IPv4 header of a generated ICMP error. */
static void
icmp_ip4(uint8_t *p, size_t len, const uint8_t *src, const uint8_t *dst)
{
	memset(p, 0, 20);
	p[0] = 0x45;
	wr16(p + 2, (uint16_t)len);
	p[8] = 64;
	p[9] = PROTO_ICMP;
	memcpy(p + 12, src, 4);
	memcpy(p + 16, dst, 4);
	wr16(p + 10, (uint16_t)~csum_fold(csum_add(0, p, 20)));
}

/* Write the IPv6 header of a generated ICMPv6 error; returns the pseudo sum. */
static uint32_t
icmp_ip6(uint8_t *p, size_t plen, const uint8_t *src, const uint8_t *dst)
{
	memset(p, 0, 40);
	p[0] = 0x60;
	wr16(p + 4, (uint16_t)plen);
	p[6] = PROTO_ICMPV6;
	p[7] = 64;
	memcpy(p + 8, src, 16);
	memcpy(p + 24, dst, 16);
	return csum_add(0, p + 8, 32) + (uint32_t)plen + PROTO_ICMPV6;
}

/*
 * Complete a partial (NEEDS_CSUM) checksum the way the kernel would at
 * egress, so a quoted packet carries its real checksum.
 */
static void
icmp_finish_csum(const struct pkt_info *pi, struct nat_pkt *pkt)
{
	const struct nat_vnet *v = pkt->vnet;
	uint8_t *f;

	if (v == NULL || !(v->flags & NAT_VNET_NEEDS_CSUM) ||
	    (size_t)v->csum_start + v->csum_offset + 2 > pi->len)
		return;
	f = pkt->data + v->csum_start + v->csum_offset;
	wr16(f, (uint16_t)~csum_fold(csum_add(0, pkt->data + v->csum_start,
	    pi->len - v->csum_start)));
}

/* Whether an address is multicast, broadcast or unspecified: no one host. */
static bool
icmp_not_host(uint8_t family, const uint8_t *a)
{
	static const uint8_t zero[16];

	if (family == 4)
		return a[0] >= 224 || memcmp(a, zero, 4) == 0;
	return a[0] == 0xff || memcmp(a, zero, 16) == 0;
}

/*
 * Whether a packet may be answered with an ICMP error (RFC 1122 3.2.2):
 * not an ICMP error itself, not a later fragment, from and to one host.
 */
static bool
icmp_may_answer(const struct pkt_info *pi)
{
	return !pi->icmp_error && !(pi->frag && !pi->first_frag) &&
	    !icmp_not_host(pi->family, pi->src) &&
	    !icmp_not_host(pi->family, pi->dst);
}

/*
 * Replace the packet by an ICMP error for its sender, sent from address from
 * and quoting as much of the packet as fits in the minimum MTU: type/code of
 * the family, word the 32-bit field after the checksum. fail is the drop
 * reason when it cannot be built.
 */
static enum nat_verdict
icmp_reply(struct pkt_info *pi, struct nat_pkt *pkt, const uint8_t *from,
    const uint8_t tc[2], uint32_t word, enum nat_drop_reason fail,
    enum nat_drop_reason *why)
{
	size_t hl = pi->family == 4 ? 20 : 40;
	size_t max = (pi->family == 4 ? 576 : 1280) - hl - 8;
	size_t quote = pi->len < max ? pi->len : max;
	uint8_t src[16], dst[16], *icmp = pkt->data + hl;
	uint32_t sum = 0;

	if (!icmp_may_answer(pi) || hl + 8 + quote > pkt->cap)
		return icmp_drop(why, fail);
	memcpy(src, from, pi->alen);
	memcpy(dst, pi->src, pi->alen);
	icmp_finish_csum(pi, pkt);
	memmove(icmp + 8, pkt->data, quote);
	memset(icmp, 0, 8);
	icmp[0] = tc[0];
	icmp[1] = tc[1];
	wr16(icmp + 4, (uint16_t)(word >> 16));
	wr16(icmp + 6, (uint16_t)word);
	if (pi->family == 4)
		icmp_ip4(pkt->data, hl + 8 + quote, src, dst);
	else
		sum = icmp_ip6(pkt->data, 8 + quote, src, dst);
	wr16(icmp + 2, (uint16_t)~csum_fold(csum_add(sum, icmp, 8 + quote)));
	pkt->len = hl + 8 + quote;
	if (pkt->vnet)
		memset(pkt->vnet, 0, sizeof(*pkt->vnet));
	return NAT_REPLY;
}

/* Replace the packet by an ICMP time exceeded for its sender. */
enum nat_verdict
icmp_time_exceeded(struct nat *nat, struct pkt_info *pi, struct nat_pkt *pkt,
    const uint8_t *from, enum nat_drop_reason *why)
{
	static const uint8_t v4[2] = { 11, 0 }, v6[2] = { 3, 0 };

	(void)nat;
	return icmp_reply(pi, pkt, from, pi->family == 4 ? v4 : v6, 0,
	    NAT_DROP_TTL, why);
}

/*
 * Whether a client packet is over the MTU toward its target and may not be
 * fragmented on the way: IPv4 with DF, any IPv6 (only the sender fragments).
 * GSO superpackets are cut to size by the kernel and are never "too big".
 */
bool
icmp_too_big(const struct pkt_info *pi, const struct nat_pkt *pkt,
    uint16_t mtu)
{
	if (mtu == 0 || pi->len <= mtu || pi->icmp_error)
		return false;
	if (pkt->vnet != NULL && pkt->vnet->gso_type != 0)
		return false;
	return pi->family == 6 || (pi->ip[6] & 0x40) != 0;
}

/*
 * Replace the packet by "fragmentation needed" (IPv4, RFC 1191: next-hop MTU
 * in the low half of the word) or "packet too big" (IPv6, RFC 8201: the MTU
 * is the word) from address from, so the sender's path MTU discovery works:
 * the kernel's own error, sent after translation, would quote an address the
 * sender never used.
 */
enum nat_verdict
icmp_frag_needed(struct nat *nat, struct pkt_info *pi, struct nat_pkt *pkt,
    const uint8_t *from, uint16_t mtu, enum nat_drop_reason *why)
{
	static const uint8_t v4[2] = { 3, 4 }, v6[2] = { 2, 0 };

	nat->st.too_big++;
	return icmp_reply(pi, pkt, from, pi->family == 4 ? v4 : v6, mtu,
	    NAT_DROP_TOO_BIG, why);
}

/*
 * Take one token from a bucket of rate tokens a second (as many at once)
 * at time now (ms); false when it is empty.
 */
bool
icmp_bucket_take(struct icmp_bucket *b, uint32_t rate, uint64_t now)
{
	uint64_t cap = (uint64_t)rate * 1000;

	if (now > b->last) {
		/* rate tokens a second is rate thousandths a millisecond */
		b->tokens += (now - b->last) * rate;
		b->last = now;
	}
	if (b->tokens > cap)
		b->tokens = cap;
	if (b->tokens < 1000)
		return false;
	b->tokens -= 1000;
	return true;
}

/*
 * A client's new flow refused for want of resources (reason r: a full
 * table, no relay port free): answer "administratively prohibited" (ICMP
 * 3/13, ICMPv6 1/1; RFC 5508 REQ-8) from the address it was sent to, when
 * on and the rate allows; else a plain drop. Either way the refusal counts
 * under r.
 */
enum nat_verdict
icmp_refused(struct nat *nat, struct pkt_info *pi, struct nat_pkt *pkt,
    enum nat_drop_reason r, enum nat_drop_reason *why)
{
	static const uint8_t v4[2] = { 3, 13 }, v6[2] = { 1, 1 };
	uint32_t rate = nat->set.table_full_icmp_rate ?
	    nat->set.table_full_icmp_rate : ICMP_TABLE_FULL_RATE;
	uint8_t from[16];
	bool ok;

	if (nat->set.table_full_icmp_off || !icmp_may_answer(pi))
		return icmp_drop(why, r);
	/* one bucket for the relay: the first shard's */
	share_lock(nat);
	ok = icmp_bucket_take(&nat->first->full_icmp, rate, nat->now_ms);
	share_unlock(nat);
	if (!ok)
		return icmp_drop(why, r);
	memcpy(from, pi->dst, pi->alen);
	if (icmp_reply(pi, pkt, from, pi->family == 4 ? v4 : v6, 0,
	    r, why) != NAT_REPLY)
		return NAT_DROP;
	nat->st.drops[r]++;
	nat->st.table_full_icmp++;
	return NAT_REPLY;
}
