/*
 * process.c - the packet path: nat_process() parses a packet, dispatches it
 * to its flow (or opens one under a rule), rewrites addresses, ports and
 * checksums, and counts the verdict; the clock and the sweep.
 */
#include "nat/nat_int.h"

/* Whether TTL lets the packet through (always, unless the engine decrements). */
int
nat_ttl(struct nat *nat, struct pkt_info *pi)
{
	if (nat->set.ttl_mode == NAT_TTL_DECREMENT && *pi->ttl <= 1)
		return -1;
	return 0;
}

/* Apply the TTL mode: one hop for the relay, whatever the kernel did. */
void
nat_ttl_adjust(struct nat *nat, struct pkt_info *pi)
{
	uint8_t old = *pi->ttl;

	if (nat->set.ttl_mode == NAT_TTL_RESTORE && old < 255)
		(*pi->ttl)++;
	else if (nat->set.ttl_mode == NAT_TTL_DECREMENT && old > 0)
		(*pi->ttl)--;
	if (pi->family == 4 && old != *pi->ttl)
		csum_apply(pi->ip + 10, csum_diff16(0,
		    (uint16_t)(old << 8 | pi->ip[9]),
		    (uint16_t)(*pi->ttl << 8 | pi->ip[9])), false);
}

/* Rewrite the L4 checksum after address (pacc) and port (lacc) changes. */
static void
nat_l4_csum(struct pkt_info *pi, bool partial, uint32_t pacc, uint32_t lacc)
{
	uint8_t *f = pi->ip + pi->l4off + pkt_csum_offset(pi->proto);

	if (pi->proto == PROTO_UDP && !partial && rd16(f) == 0)
		return;		/* IPv4 UDP without checksum */
	if (pi->proto == PROTO_ICMP)
		pacc = 0;	/* no pseudo-header */
	if (partial) {
		csum_apply(f, pacc, true);
		return;
	}
	csum_apply(f, csum_fold(pacc + lacc), false);
	if (pi->proto == PROTO_UDP && rd16(f) == 0)
		wr16(f, 0xffff);
}

/*
 * Rewrite addresses and ports (or the ICMP echo identifier) of a parsed
 * packet and update its checksums. A non-first fragment only has addresses.
 */
void
nat_rewrite(struct nat *nat, struct pkt_info *pi, bool partial,
    const uint8_t *src, uint16_t sport, const uint8_t *dst, uint16_t dport)
{
	uint8_t *l4 = pi->ip + pi->l4off;
	uint32_t pacc, lacc = 0;

	(void)nat;
	pacc = csum_diff(0, pi->src, src, pi->alen);
	pacc = csum_diff(pacc, pi->dst, dst, pi->alen);
	memcpy(pi->src, src, pi->alen);
	memcpy(pi->dst, dst, pi->alen);
	if (pi->family == 4)
		csum_apply(pi->ip + 10, pacc, false);
	if (pi->l4off == 0)
		return;
	if (pi->proto == PROTO_TCP || pi->proto == PROTO_UDP) {
		lacc = csum_diff16(lacc, rd16(l4), sport);
		lacc = csum_diff16(lacc, rd16(l4 + 2), dport);
		wr16(l4, sport);
		wr16(l4 + 2, dport);
	} else {
		lacc = csum_diff16(lacc, rd16(l4 + 4), sport);
		wr16(l4 + 4, sport);
	}
	nat_l4_csum(pi, partial, pacc, lacc);
}

/*
 * Check a packet's virtio checksum request against its headers (-1 when it
 * points anywhere but the L4 checksum); *partial tells whether that checksum
 * is left for the kernel to finish.
 */
static int
nat_vnet_check(const struct nat_pkt *pkt, const struct pkt_info *pi,
    bool *partial)
{
	const struct nat_vnet *v = pkt->vnet;

	*partial = false;
	if (v == NULL || !(v->flags & NAT_VNET_NEEDS_CSUM))
		return 0;
	if (pi->l4off == 0 || v->csum_start != pi->l4off ||
	    v->csum_offset != pkt_csum_offset(pi->proto) ||
	    (size_t)v->csum_start + v->csum_offset + 2 > pi->len)
		return -1;
	*partial = true;
	return 0;
}

/*
 * Whether the flow counts as assured after this packet; replied tells
 * whether a reply had passed before it. TCP needs the handshake done (or,
 * picked up mid-stream, packets both ways); UDP
 * and ICMP a two-way stream: traffic after the first reply, so that a single
 * answer (a flood of one-shot queries) does not pin a flow for its timeout.
 */
static void
nat_assure(struct nat *nat, struct nat_flow *f, bool replied)
{
	if (!(f->flags & FLOW_REPLIED) || (f->flags & FLOW_ASSURED))
		return;
	if (f->proto == PROTO_TCP) {
		if (f->state != NAT_TCP_ESTABLISHED &&
		    f->state != NAT_TCP_FIN_WAIT &&
		    f->state != NAT_TCP_TIME_WAIT)
			return;
		/* picked up mid-stream: a stray segment shows one side only */
		if ((f->flags & FLOW_PICKUP) && (f->pkts[0] == 0 ||
		    f->pkts[1] == 0))
			return;
	} else if (!replied)
		return;
	flow_assure(nat, f);
}

/* Translate a packet of flow f in direction dir and account for it. */
static enum nat_verdict
nat_forward(struct nat *nat, struct nat_flow *f, int dir, struct pkt_info *pi,
    bool partial)
{
	struct nat_rule_stats *rs;
	/* the packet leaves as the reverse of the other direction's key */
	const uint8_t *nsrc = flow_dst(f, !dir), *ndst = flow_src(f, !dir);
	const uint16_t *tp = &f->port[2 * !dir];
	uint8_t osrc[16], odst[16];
	uint16_t sport = pi->proto == PROTO_TCP || pi->proto == PROTO_UDP ?
	    tp[1] : tp[0];
	bool replied = (f->flags & FLOW_REPLIED) != 0;

	memcpy(osrc, pi->src, pi->alen);
	memcpy(odst, pi->dst, pi->alen);
	nat_rewrite(nat, pi, partial, nsrc, sport, ndst, tp[0]);
	if (pi->frag)
		frag_note(nat, pi, osrc, odst, nsrc, ndst);
	if (pi->proto == PROTO_TCP) {
		tcp_mss_clamp(nat, pi, partial);
		tcp_track(nat, f, dir, pi);
	}
	nat_ttl_adjust(nat, pi);
	f->seen = nat->now;
	f->pkts[dir]++;
	flow_count(f, dir, pi->len);
	if ((rs = rule_stats_find(nat, f->rule_id)) != NULL) {
		rs->packets++;
		rs->bytes += pi->len;
	}
	/* the rule's counters' place gives its backends without a search */
	if (rs != NULL && nat->rbk[rs - nat->rstats].count > 0)
		backend_count(nat, &nat->rbk[rs - nat->rstats], f, pi->len);
	if (dir == 1)
		f->flags |= FLOW_REPLIED;
	nat_assure(nat, f, replied);
	return NAT_FORWARD;
}

/* Drop with a reason. */
static enum nat_verdict
nat_drop(enum nat_drop_reason *why, enum nat_drop_reason r)
{
	*why = r;
	return NAT_DROP;
}

/* Start a closed TCP flow over for a new SYN on the same tuple. */
static void
nat_reopen(struct nat *nat, struct nat_flow *f)
{
	/* off whichever list it is on, to go back at the unassured tail */
	if (!(f->flags & FLOW_ASSURED))
		flow_assure(nat, f);
	flow_set_state(nat, f, NAT_TCP_SYN_SENT);
	f->simopen = 0;
	f->flags &= (uint8_t)(FLOW_SNAT | FLOW_ASSURED | FLOW_REBUILD);
	tcp_tw_reset(f);
	flow_unassure(nat, f);
}

/* A packet of an existing flow. */
static enum nat_verdict
nat_existing_flow(struct nat *nat, struct nat_flow *f, int dir,
    struct pkt_info *pi, struct nat_pkt *pkt, enum nat_side side,
    bool partial, enum nat_drop_reason *why)
{
	if (dir == 0 && side != f->side)
		return nat_drop(why, NAT_DROP_WRONG_SIDE);
	/* out of window: neither state nor timeout change, nor is it sent on */
	if (pi->proto == PROTO_TCP && (pi->tcp_flags & TCP_RST) &&
	    !tcp_rst_ok(f, dir, pi))
		return nat_drop(why, NAT_DROP_TCP_RST_WINDOW);
	if (pi->icmp_echo && pi->icmp_request != (dir == 0))
		return nat_drop(why, NAT_DROP_UNSUPPORTED);
	if (nat_ttl(nat, pi) == -1)
		return icmp_time_exceeded(nat, pi, pkt, flow_addr(f, 1), why);
	if (dir == 0 && icmp_too_big(pi, pkt, f->mtu))
		return icmp_frag_needed(nat, pi, pkt, flow_addr(f, 1), f->mtu,
		    why);
	if (pi->proto == PROTO_TCP && tcp_reopens(f, dir, pi->tcp_flags))
		nat_reopen(nat, f);
	return nat_forward(nat, f, dir, pi, partial);
}

/* The initial state of a new flow, or -1 when the packet cannot open one. */
static int
nat_open_state(struct nat *nat, const struct pkt_info *pi,
    enum nat_drop_reason *why)
{
	if (pi->proto == PROTO_TCP)
		return tcp_open_state(nat, pi->tcp_flags, why);
	if (pi->proto == PROTO_UDP || (pi->icmp_echo && pi->icmp_request))
		return NAT_TCP_NONE;
	*why = NAT_DROP_NO_FLOW;
	return -1;
}

/* The state a reply opens a flow in (reply-side pickup), or -1. */
static int
nat_pickup_state(const struct nat *nat, const struct pkt_info *pi,
    enum nat_drop_reason *why)
{
	if (pi->proto == PROTO_TCP)
		return tcp_pickup_state(nat, pi->tcp_flags, why);
	if (pi->proto == PROTO_UDP || (pi->icmp_echo && !pi->icmp_request))
		return NAT_TCP_NONE;
	*why = NAT_DROP_NO_FLOW;
	return -1;
}

/* The source address a new flow is rewritten to, or NULL to keep it. */
static const struct nat_addr *
nat_snat_addr(const struct nat *nat, const struct nat_rule *r,
    enum nat_side side, uint8_t family)
{
	if (side == NAT_SIDE_LAN) {
		if (family == 4)
			return nat->set.hairpin4 ? &nat->set.hairpin_src4 : NULL;
		return nat->set.hairpin6 ? &nat->set.hairpin_src6 : NULL;
	}
	return r->source == NAT_SOURCE_RELAY ? &r->relay_src : NULL;
}

/* Put the mapped relay endpoint into the reply key. */
static void
nat_map_key(struct nat_key *k1, const struct nat_mapping *m)
{
	memcpy(k1->dst, m->key.ext_addr, 16);
	if (k1->proto == PROTO_TCP || k1->proto == PROTO_UDP)
		k1->dport = m->ext_port;
	else
		k1->sport = m->ext_port;
}

/*
 * Choose the relay endpoint of a full NAT flow: the client endpoint's shared
 * mapping, or a private one when the shared one would clash.
 */
static struct nat_mapping *
nat_snat(struct nat *nat, const struct nat_key *k0, struct nat_key *k1,
    const struct nat_addr *ext)
{
	struct nat_mapping *m;

	m = port_map(nat, k0, ext);
	if (m == NULL)
		return NULL;
	nat_map_key(k1, m);
	if (flow_lookup(nat, k1, NULL) == NULL)
		return m;
	port_unmap(nat, m);
	m = port_map_private(nat, k0, ext);
	if (m != NULL)
		nat_map_key(k1, m);
	return m;
}

/* The reply key of a new flow under rule r, before any source rewrite. */
static void
nat_reply_key(const struct nat *nat, struct nat_key *k1,
    const struct nat_key *k0, const struct nat_rule *r,
    const struct pkt_info *pi)
{
	const struct nat_bk *b = backend_pick(nat, r, k0->src);

	memset(k1, 0, sizeof(*k1));
	memcpy(k1->src, b ? b->st.addr.b : r->to.b, 16);
	memcpy(k1->dst, k0->src, 16);
	k1->proto = k0->proto;
	k1->family = k0->family;
	if (k0->proto == PROTO_TCP || k0->proto == PROTO_UDP) {
		k1->sport = b ? rule_port_at(r, b->st.port, pi->dport) :
		    rule_target_port(r, pi->dport);
		k1->dport = k0->sport;
	} else
		k1->sport = k0->sport;
	k1->dir = 1;
}

/*
 * Whether the rules alone give a keep-mode flow back: reply-side pickup of
 * its reply key finds the same rule and the same original key (no port was
 * picked to avoid a clash, the public address is the rule's).
 */
static bool
nat_rebuildable(const struct nat *nat, const struct nat_rule *r,
    const struct nat_key *k0, const struct nat_key *k1)
{
	struct nat_key k;

	return rule_reverse(nat, k1, &k) == r &&
	    memcmp(&k, k0, KEYLEN) == 0;
}

/* Fill in a new flow's rule, side, flags and state, and list it. */
static void
nat_flow_init(struct nat *nat, struct nat_flow *f, const struct nat_rule *r,
    enum nat_side side, uint8_t flags, int state)
{
	f->side = (uint8_t)side;
	f->simopen = 0;
	f->rule_id = r->id;
	rule_stats_flow(nat, f->rule_id, 1, true);
	backend_flow(nat, f, 1, true);
	f->mtu = r->mtu;
	f->created = nat->now;
	f->flags = flags;
	f->state = (uint8_t)state;
	flow_gauge(nat, f, 1);
	flow_unassure(nat, f);
}

/*
 * A new flow could not be made: give back the source's reservation and
 * refuse (a full table or no free port is answered by icmp_refused()).
 */
static enum nat_verdict
nat_open_fail(struct nat *nat, uint32_t src, struct pkt_info *pi,
    struct nat_pkt *pkt, enum nat_drop_reason *why, enum nat_drop_reason r)
{
	limit_cancel(nat, src);
	if (r == NAT_DROP_TABLE_FULL || r == NAT_DROP_NO_PORT)
		return icmp_refused(nat, pi, pkt, r, why);
	return nat_drop(why, r);
}

/* Open a flow for a client packet under rule r. */
static enum nat_verdict
nat_open(struct nat *nat, const struct nat_rule *r, const struct nat_key *k0,
    struct pkt_info *pi, struct nat_pkt *pkt, enum nat_side side, bool partial,
    enum nat_drop_reason *why)
{
	const struct nat_addr *ext = nat_snat_addr(nat, r, side, pi->family);
	struct nat_mapping *m = NULL;
	struct nat_flow *f;
	struct nat_key k1;
	uint32_t src;
	uint8_t flags;
	int state;

	if ((state = nat_open_state(nat, pi, why)) == -1)
		return NAT_DROP;
	if (side == NAT_SIDE_LAN && ext == NULL)
		return nat_drop(why, NAT_DROP_WRONG_SIDE);
	/* a source over its limits is refused before it costs a flow */
	if (limit_admit(nat, pi, &src, why) == -1)
		return NAT_DROP;
	if (!flow_make_room(nat))
		return nat_open_fail(nat, src, pi, pkt, why, NAT_DROP_TABLE_FULL);
	nat_reply_key(nat, &k1, k0, r, pi);
	if (ext != NULL && (m = nat_snat(nat, k0, &k1, ext)) == NULL)
		return nat_open_fail(nat, src, pi, pkt, why, NAT_DROP_NO_PORT);
	/* keep mode: the reply key's client port must be free, and of the
	 * shard's residue, as the shard function reads it from replies */
	if (ext == NULL && (flow_lookup(nat, &k1, NULL) != NULL ||
	    ((k1.proto == PROTO_TCP || k1.proto == PROTO_UDP) &&
	    !port_mine(nat, k1.dport))) && port_pick_free(nat, &k1) == -1)
		return nat_open_fail(nat, src, pi, pkt, why, NAT_DROP_NO_PORT);
	if ((f = flow_insert(nat, k0, &k1, m)) == NULL) {
		if (m)
			port_unmap(nat, m);
		return nat_open_fail(nat, src, pi, pkt, why, NAT_DROP_TABLE_FULL);
	}
	limit_attach(nat, f, src);
	flags = m ? FLOW_SNAT : 0;
	if (state == NAT_TCP_ESTABLISHED)
		flags |= FLOW_PICKUP;
	if (m == NULL && nat_rebuildable(nat, r, k0, &k1))
		flags |= FLOW_REBUILD;
	nat_flow_init(nat, f, r, side, flags, state);
	nat_forward(nat, f, 0, pi, partial);
	nat_flow_event(nat, f, NAT_FLOW_NEW);
	return NAT_FORWARD;
}

/*
 * A reply from the inside with no flow (the relay restarted, the flow was
 * evicted): in keep mode the rules tell whom it answers, so the flow is
 * opened again from this side and the reply translated.
 */
static enum nat_verdict
nat_pickup(struct nat *nat, const struct nat_key *k1, struct pkt_info *pi,
    struct nat_pkt *pkt, bool partial, enum nat_drop_reason *why)
{
	const struct nat_rule *r;
	struct nat_flow *f;
	struct nat_key k0;
	int state;

	if ((state = nat_pickup_state(nat, pi, why)) == -1)
		return NAT_DROP;
	/* a flow that holds the original key has another reply key */
	if ((r = rule_reverse(nat, k1, &k0)) == NULL ||
	    flow_lookup(nat, &k0, NULL) != NULL)
		return nat_drop(why, NAT_DROP_NO_FLOW);
	/* a client that is a keep target itself, from one of its target
	 * ports, sends to another shard: a flow rebuilt here would not be
	 * found by its own client's packets */
	if (!shard_key_mine(nat, &k0, NAT_SIDE_PUBLIC))
		return nat_drop(why, NAT_DROP_NO_FLOW);
	if (!pkt_csum_ok(pi, pkt, partial))
		return nat_drop(why, NAT_DROP_BAD_CSUM);
	if (nat_ttl(nat, pi) == -1)
		return icmp_time_exceeded(nat, pi, pkt, k0.dst, why);
	if (!flow_make_room(nat) ||
	    (f = flow_insert(nat, &k0, k1, NULL)) == NULL)
		return nat_drop(why, NAT_DROP_TABLE_FULL);
	nat_flow_init(nat, f, r, NAT_SIDE_PUBLIC, FLOW_PICKUP | FLOW_REBUILD,
	    state);
	nat_forward(nat, f, 1, pi, partial);
	nat_flow_event(nat, f, NAT_FLOW_NEW);
	return NAT_FORWARD;
}

/*
 * A packet from the inside with no flow: a reply to rebuild (reply-side
 * pickup), unless it goes to one of the relay's own addresses. A fragment
 * or an ICMP echo that no flow claims is the host's own traffic (the front
 * captures all of them to its addresses, ports and types unseen) or routed
 * traffic: NAT_NOT_OURS, the caller decides.
 */
static enum nat_verdict
nat_inside_new_flow(struct nat *nat, const struct nat_key *k1,
    struct pkt_info *pi, struct nat_pkt *pkt, bool partial,
    enum nat_drop_reason *why)
{
	enum nat_verdict v;

	if (rule_relay_addr(nat, pi->family, pi->dst))
		v = nat_drop(why, NAT_DROP_NO_FLOW);
	else
		v = nat_pickup(nat, k1, pi, pkt, partial, why);
	if (v == NAT_DROP && *why == NAT_DROP_NO_FLOW &&
	    (pi->frag || pi->icmp_echo))
		return NAT_NOT_OURS;
	return v;
}

/* A packet with no flow: may it open one, and under which rule. */
static enum nat_verdict
nat_new_flow(struct nat *nat, const struct nat_key *k0, struct pkt_info *pi,
    struct nat_pkt *pkt, enum nat_side side, bool partial,
    enum nat_drop_reason *why)
{
	const struct nat_rule *r;

	if (side == NAT_SIDE_INSIDE)
		return nat_inside_new_flow(nat, k0, pi, pkt, partial, why);
	/* the hairpin address is the relay's own: no LAN client's target */
	if (side == NAT_SIDE_LAN && rule_hairpin_addr(nat, pi->family, pi->dst))
		return NAT_NOT_OURS;
	r = rule_match(nat, pi);
	if (r == NULL || r->action == NAT_RULE_PASS)
		return NAT_NOT_OURS;
	if (!pkt_csum_ok(pi, pkt, partial))
		return nat_drop(why, NAT_DROP_BAD_CSUM);
	if (nat_ttl(nat, pi) == -1)
		return icmp_time_exceeded(nat, pi, pkt, pi->dst, why);
	/* no state for a packet that cannot pass: the sender sends it again */
	if (icmp_too_big(pi, pkt, r->mtu))
		return icmp_frag_needed(nat, pi, pkt, pi->dst, r->mtu, why);
	return nat_open(nat, r, k0, pi, pkt, side, partial, why);
}

/*
 * Whether the rules are asked again for a client packet of flow f: a SYN
 * that starts a new connection on a closed flow's tuple; or, for a flow
 * that never had a reply, a packet that would open a flow (TCP: a bare SYN
 * in SYN_SENT; UDP; an echo request) in a later second of the clock than
 * the flow's last packet: a retry, or a one-way stream once a second.
 */
static bool
nat_retarget_due(const struct nat *nat, const struct nat_flow *f,
    const struct pkt_info *pi)
{
	if (pi->proto == PROTO_TCP && tcp_reopens(f, 0, pi->tcp_flags))
		return true;
	if (f->flags & (FLOW_REPLIED | FLOW_PICKUP))
		return false;
	if (pi->proto == PROTO_TCP && (f->state != NAT_TCP_SYN_SENT ||
	    (pi->tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN)) !=
	    TCP_SYN))
		return false;
	if (pi->icmp_echo && !pi->icmp_request)
		return false;
	return nat->now != f->seen;
}

/*
 * Whether the rules now send an unreplied flow's client packet elsewhere
 * than f goes: its rule is gone or passes, its target (the backend picked,
 * with health) or the relay address it is rewritten to changed. Such a flow
 * is started over, so a client retrying into a target that went away or
 * never answered reaches the one the rules name now.
 */
static bool
nat_retarget(const struct nat *nat, const struct nat_flow *f,
    const struct nat_key *k0, const struct pkt_info *pi, enum nat_side side)
{
	const struct nat_rule *r;
	const struct nat_addr *ext;
	struct nat_key k1;

	if (!nat_retarget_due(nat, f, pi))
		return false;
	r = rule_match(nat, pi);
	if (r == NULL || r->action == NAT_RULE_PASS)
		return true;
	nat_reply_key(nat, &k1, k0, r, pi);
	if (memcmp(k1.src, flow_addr(f, 2), flow_alen(f)) != 0 ||
	    ((pi->proto == PROTO_TCP || pi->proto == PROTO_UDP) &&
	    k1.sport != f->port[2]))
		return true;
	ext = nat_snat_addr(nat, r, side, pi->family);
	if ((ext == NULL) != (f->map == NULL))
		return true;
	return ext != NULL && memcmp(ext->b, f->map->key.ext_addr,
	    flow_alen(f)) != 0;
}

/* A TCP, UDP or ICMP echo packet: find its flow or open one. */
static enum nat_verdict
nat_flow_packet(struct nat *nat, struct pkt_info *pi, struct nat_pkt *pkt,
    enum nat_side side, enum nat_drop_reason *why)
{
	struct nat_flow *f;
	struct nat_key k;
	bool partial;
	int dir;

	if (nat_vnet_check(pkt, pi, &partial) == -1)
		return nat_drop(why, NAT_DROP_BAD_VNET);
	flow_key_from_pkt(&k, pi);
	f = flow_lookup(nat, &k, &dir);
	if (f != NULL && flow_expired(nat, f)) {
		flow_remove(nat, f, NAT_FLOW_EXPIRED);
		nat->st.flows_expired++;
	} else if (f != NULL && dir == 0 && side == f->side &&
	    nat_retarget(nat, f, &k, pi, side)) {
		flow_remove(nat, f, NAT_FLOW_RETARGETED);
		nat->st.flows_retargeted++;
	} else if (f != NULL)
		return nat_existing_flow(nat, f, dir, pi, pkt, side, partial,
		    why);
	return nat_new_flow(nat, &k, pi, pkt, side, partial, why);
}

/* Route a parsed packet to the path that handles it. */
static enum nat_verdict
nat_dispatch(struct nat *nat, struct nat_pkt *pkt, enum nat_side side,
    enum nat_drop_reason *why)
{
	struct pkt_info pi;
	enum nat_verdict v;

	if (pkt->data == NULL || pkt_parse(&pi, pkt->data, pkt->len, false,
	    why) == -1)
		return NAT_DROP;
	if (pi.frag && !pi.first_frag)
		return frag_follow(nat, &pi, pkt, side, why);
	if (pi.proto == PROTO_TCP || pi.proto == PROTO_UDP || pi.icmp_echo) {
		v = nat_flow_packet(nat, &pi, pkt, side, why);
		/* the rest of a datagram we leave alone is left alone too */
		if (v == NAT_NOT_OURS && pi.frag)
			frag_pass(nat, &pi);
		return v;
	}
	if (pi.icmp_error)
		return icmp_error(nat, &pi, pkt, side, why);
	return NAT_NOT_OURS;
}

/*
 * Advance the engine's clock to now (milliseconds). It never goes back:
 * callers on several threads read their clocks before they take turns, so a
 * time older than one already seen is taken as the newest one. A flow seen
 * "in the future" would otherwise look idle for 2^32 seconds and expire.
 */
void
nat_clock(struct nat *nat, uint64_t now)
{
	if (now <= nat->now_ms)
		return;
	nat->now_ms = now;
	nat->now = (uint32_t)(now / 1000);
}

/* Process one packet in place. */
enum nat_verdict
nat_process(struct nat *nat, struct nat_pkt *pkt, enum nat_side side,
    uint64_t now, enum nat_drop_reason *why)
{
	enum nat_drop_reason r = NAT_DROP_UNSUPPORTED;
	enum nat_verdict v = NAT_DROP;

	nat_clock(nat, now);
	if ((unsigned)side < NAT_SIDE_MAX) {
		nat->st.packets[side]++;
		v = nat_dispatch(nat, pkt, side, &r);
	}
	switch (v) {
	case NAT_FORWARD:
		nat->st.forwarded++;
		break;
	case NAT_DROP:
		nat->st.drops[r]++;
		break;
	case NAT_NOT_OURS:
		nat->st.not_ours++;
		break;
	case NAT_REPLY:
		nat->st.replies++;
		break;
	case NAT_QUEUED:
		break;
	}
	if (why)
		*why = r;
	return v;
}

/* Take the next released fragment. */
int
nat_pending(struct nat *nat, struct nat_pkt *pkt, enum nat_side *side)
{
	return frag_pending(nat, pkt, side);
}

/* Expire idle flows and fragment trackers, bounded by budget. */
size_t
nat_sweep(struct nat *nat, uint64_t now, size_t budget)
{
	nat_clock(nat, now);
	return flow_sweep(nat, budget) + frag_sweep(nat, budget);
}
