/*
 * tcp.c - TCP connection tracking for NAT (RFC 5382, RFC 7857) and MSS
 * clamping.
 */
#include "nat/nat_int.h"

/*
 * The state a client packet opens a flow in, or -1 with a reason: a plain SYN
 * opens SYN_SENT; an ACK without SYN/RST is picked up mid-stream as
 * ESTABLISHED unless pickup is off.
 */
int
tcp_open_state(const struct nat *nat, uint8_t flags, enum nat_drop_reason *why)
{
	if ((flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN)) == TCP_SYN)
		return NAT_TCP_SYN_SENT;
	if ((flags & (TCP_SYN | TCP_RST)) == 0 && (flags & TCP_ACK)) {
		if (!nat->set.tcp_no_pickup)
			return NAT_TCP_ESTABLISHED;
		*why = NAT_DROP_NO_FLOW;
		return -1;
	}
	*why = NAT_DROP_TCP_STATE;
	return -1;
}

/*
 * The state a target's packet opens a lost flow in (reply-side pickup), or
 * -1 with a reason: a SYN+ACK answers a SYN the flow had seen (SYN_RECV); an
 * ACK without SYN/RST is mid-stream (ESTABLISHED). An RST opens nothing.
 */
int
tcp_pickup_state(const struct nat *nat, uint8_t flags,
    enum nat_drop_reason *why)
{
	uint8_t f = flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN);

	/* the inside opens nothing else: a lost flow's reply, not a client */
	*why = NAT_DROP_NO_FLOW;
	if (nat->set.tcp_no_pickup)
		return -1;
	if (f == (TCP_SYN | TCP_ACK))
		return NAT_TCP_SYN_RECV;
	if ((f & (TCP_SYN | TCP_RST)) == 0 && (f & TCP_ACK))
		return NAT_TCP_ESTABLISHED;
	return -1;
}

/* Whether a client SYN starts the connection anew on a closed flow. */
bool
tcp_reopens(const struct nat_flow *f, int dir, uint8_t flags)
{
	return dir == 0 &&
	    (flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN)) == TCP_SYN &&
	    (f->state == NAT_TCP_CLOSED || f->state == NAT_TCP_TIME_WAIT);
}

/* Note a FIN from one direction. */
static void
tcp_fin(struct nat *nat, struct nat_flow *f, int dir)
{
	f->flags |= dir == 0 ? FLOW_FIN0 : FLOW_FIN1;
	if (f->state == NAT_TCP_TIME_WAIT || f->state == NAT_TCP_CLOSED)
		return;
	if ((f->flags & (FLOW_FIN0 | FLOW_FIN1)) == (FLOW_FIN0 | FLOW_FIN1))
		flow_set_state(nat, f, NAT_TCP_TIME_WAIT);
	else
		flow_set_state(nat, f, NAT_TCP_FIN_WAIT);
}

/*
 * Window tracking, enough to judge an RST the way an endpoint would (RFC
 * 5961 section 3): it is acceptable only inside the receive window of the
 * side it is sent to. Per direction d the flow keeps 28 bits in f->tw:
 *
 *   bits  0..19  end: the highest sequence number d has sent (seq + length),
 *                in 4 KiB units (TCP_TW_SHIFT)
 *   bits 20..23  wclass: 0 = nothing seen from d yet (end unknown too); else
 *                every window d advertised is below 2^(wclass + 1 + scale)
 *   bits 24..27  scale: 0 = unknown (no SYN seen: pickup, adopted flow),
 *                taken as 14; else d's window scale option + 1
 *
 * A receiver's next expected number lies between the sender's end minus the
 * receiver's window and the end itself, and an acceptable RST at most one
 * window past it: so an RST from d is judged against d's end, within the
 * largest window d's peer advertised (a rounded-up power of two, plus one
 * unit of slack for the units). Wrap-safe: differences are taken modulo
 * 2^20 units, as signed numbers. What cannot be judged passes.
 */
#define TCP_TW_SHIFT	12
#define TCP_TW_ENDBITS	20
#define TCP_TW_ENDMASK	((1U << TCP_TW_ENDBITS) - 1)
#define TCP_TW_BITS	28
#define TCP_WSCALE_MAX	14	/* RFC 7323 */

struct tcp_tw {
	uint32_t end;		/* units */
	uint8_t wclass;
	uint8_t scale;
};

/* What a segment says about its sender. */
struct tcp_seg {
	uint32_t seq, end;	/* end: seq + data, SYN and FIN */
	uint32_t ack;
	uint16_t win;
	int wscale;		/* -1: no window scale option */
	uint8_t flags;
};

/* Offset of option kind (of length len) in a TCP header, or 0 when absent. */
static size_t
tcp_opt_find(const uint8_t *th, size_t doff, uint8_t kind, uint8_t len)
{
	size_t i = 20, olen;

	while (i < doff && th[i] != 0) {
		if (th[i] == 1) {
			i++;
			continue;
		}
		if (i + 1 >= doff)
			return 0;
		olen = th[i + 1];
		if (olen < 2 || i + olen > doff)
			return 0;
		if (th[i] == kind && olen == len)
			return i;
		i += olen;
	}
	return 0;
}

/* Read the sequence space and window of a (parsed, whole-header) segment. */
static void
tcp_seg_read(const struct pkt_info *pi, struct tcp_seg *g)
{
	const uint8_t *th = pi->ip + pi->l4off;
	size_t doff = (size_t)(th[12] >> 4) * 4, o;

	g->flags = pi->tcp_flags;
	g->seq = rd32(th + 4);
	g->ack = rd32(th + 8);
	g->win = rd16(th + 14);
	g->end = g->seq + (uint32_t)(pi->l4len - doff) +
	    ((g->flags & TCP_SYN) != 0) + ((g->flags & TCP_FIN) != 0);
	g->wscale = -1;
	if ((g->flags & TCP_SYN) && (o = tcp_opt_find(th, doff, 3, 3)) != 0)
		g->wscale = th[o + 2];
}

/* The whole record of both directions. */
static uint64_t
tcp_tw_load(const struct nat_flow *f)
{
	uint64_t v = 0;
	int i;

	for (i = TCP_TW_BYTES - 1; i >= 0; i--)
		v = v << 8 | f->tw[i];
	return v;
}

/* Direction d's part of the record. */
static void
tcp_tw_get(const struct nat_flow *f, int d, struct tcp_tw *t)
{
	uint32_t v = (uint32_t)(tcp_tw_load(f) >> (d * TCP_TW_BITS));

	t->end = v & TCP_TW_ENDMASK;
	t->wclass = (v >> TCP_TW_ENDBITS) & 15;
	t->scale = (v >> (TCP_TW_ENDBITS + 4)) & 15;
}

/* Store direction d's part of the record. */
static void
tcp_tw_put(struct nat_flow *f, int d, const struct tcp_tw *t)
{
	uint64_t v = tcp_tw_load(f), m = ((1ULL << TCP_TW_BITS) - 1) <<
	    (d * TCP_TW_BITS);
	uint64_t x = (uint64_t)(t->end | (uint32_t)t->wclass << TCP_TW_ENDBITS |
	    (uint32_t)t->scale << (TCP_TW_ENDBITS + 4)) << (d * TCP_TW_BITS);
	int i;

	v = (v & ~m) | x;
	for (i = 0; i < TCP_TW_BYTES; i++, v >>= 8)
		f->tw[i] = (uint8_t)v;
}

/* Forget both directions (the connection starts over). */
void
tcp_tw_reset(struct nat_flow *f)
{
	memset(f->tw, 0, sizeof(f->tw));
}

/* Signed distance in units from a record's end to sequence number seq. */
static int32_t
tcp_tw_diff(uint32_t seq, uint32_t end)
{
	uint32_t d = ((seq >> TCP_TW_SHIFT) - end) & TCP_TW_ENDMASK;

	if (d & (1U << (TCP_TW_ENDBITS - 1)))
		return (int32_t)d - (int32_t)(1U << TCP_TW_ENDBITS);
	return (int32_t)d;
}

/* The largest window a side advertised, in units, rounded up, plus slack. */
static int32_t
tcp_tw_units(const struct tcp_tw *r)
{
	int bits = r->wclass + 1 +
	    (r->scale ? r->scale - 1 : TCP_WSCALE_MAX);

	if (bits <= TCP_TW_SHIFT)
		return 2;
	return (int32_t)(1U << (bits - TCP_TW_SHIFT)) + 1;
}

/* Whether seq lies within the peer's window r around the sender's end s. */
static bool
tcp_tw_in(const struct tcp_tw *s, const struct tcp_tw *r, uint32_t seq)
{
	int32_t d = tcp_tw_diff(seq, s->end), w = tcp_tw_units(r);

	return d >= -w && d <= w;
}

/*
 * The window class of a segment: its window rounded up to a power of two
 * (at least 4), as 2^(class + 1 + scale). A SYN's window is never scaled
 * (RFC 7323), so its class takes the scale off again.
 */
static uint8_t
tcp_tw_class(const struct tcp_seg *g, const struct tcp_tw *s)
{
	int e = 0, c;
	uint32_t w = g->win;

	while (w != 0) {
		e++;
		w >>= 1;
	}
	c = (e < 2 ? 2 : e) - 1;
	if (g->flags & TCP_SYN)
		c -= s->scale ? s->scale - 1 : TCP_WSCALE_MAX;
	return (uint8_t)(c < 1 ? 1 : c);
}

/*
 * Learn from a segment of direction dir: its scale (a SYN that is the first
 * segment seen that way), its end (when later, and plausible: within the
 * peer's window, so a forged segment far off cannot move it) and its window.
 */
static void
tcp_tw_track(struct nat_flow *f, int dir, const struct tcp_seg *g)
{
	struct tcp_tw s, r;
	int ws = g->wscale > TCP_WSCALE_MAX ? TCP_WSCALE_MAX : g->wscale;
	uint8_t c;

	tcp_tw_get(f, dir, &s);
	tcp_tw_get(f, !dir, &r);
	if (s.wclass == 0) {
		if (g->flags & TCP_SYN)
			s.scale = (uint8_t)(ws < 0 ? 1 : ws + 1);
		s.end = g->end >> TCP_TW_SHIFT;
	} else if (r.wclass != 0 && !tcp_tw_in(&s, &r, g->end))
		return;
	else if (tcp_tw_diff(g->end, s.end) > 0)
		s.end = g->end >> TCP_TW_SHIFT;
	c = tcp_tw_class(g, &s);
	if (c > s.wclass)
		s.wclass = c;
	tcp_tw_put(f, dir, &s);
}

/*
 * Whether an RST in direction dir may change the flow: its sequence number
 * is in the window of the side it goes to, or there is not enough known to
 * tell (no segment seen one way or the other).
 */
bool
tcp_rst_ok(const struct nat_flow *f, int dir, const struct pkt_info *pi)
{
	struct tcp_tw s, r;
	struct tcp_seg g;

	tcp_tw_get(f, dir, &s);
	tcp_tw_get(f, !dir, &r);
	if (s.wclass == 0 || r.wclass == 0)
		return true;
	tcp_seg_read(pi, &g);
	return tcp_tw_in(&s, &r, g.seq);
}

/*
 * Whether a client's ACK acknowledges what the target sent (its SYN+ACK):
 * the ACK number within the target's end, give or take the client's window.
 * A blind spoofer cannot guess it, so it cannot make a flow established
 * (and assured, never evicted) that the target never agreed to. Nothing
 * known of the target (a rebuilt flow): taken as it is.
 */
static bool
tcp_ack_ok(const struct nat_flow *f, const struct tcp_seg *g)
{
	struct tcp_tw c, t;

	tcp_tw_get(f, 0, &c);
	tcp_tw_get(f, 1, &t);
	if (c.wclass == 0 || t.wclass == 0)
		return true;
	return tcp_tw_in(&t, &c, g->ack);
}

/*
 * The state a segment without RST of direction dir moves the flow to, or -1
 * for none. A normal open: the target's SYN+ACK, then the client's ACK of
 * it. A simultaneous open (RFC 793 figure 8, RFC 5382 REQ-2): the target's
 * SYN without ACK leaves SYN_SENT as it is (f->simopen notes it), then a
 * SYN+ACK either way, then an ACK either way. A target sends a bare SYN only
 * in a simultaneous open, never as an answer to a client's SYN, so nobody
 * on the client's side can make the target's ACK count.
 */
static int
tcp_handshake(const struct nat_flow *f, int dir, const struct tcp_seg *g)
{
	uint8_t sa = g->flags & (TCP_SYN | TCP_ACK);

	/* a client's SYN+ACK answers only a SYN the target sent it */
	if (f->state == NAT_TCP_SYN_SENT && sa == (TCP_SYN | TCP_ACK) &&
	    (dir == 1 || f->simopen))
		return NAT_TCP_SYN_RECV;
	if (f->state == NAT_TCP_SYN_RECV && sa == TCP_ACK &&
	    (dir == 0 ? tcp_ack_ok(f, g) : f->simopen))
		return NAT_TCP_ESTABLISHED;
	return -1;
}

/*
 * Advance the state for a packet in direction dir. An RST (in window: see
 * tcp_rst_ok()) closes the flow but keeps it for the transitory timeout, so
 * that a late segment still finds its mapping.
 */
void
tcp_track(struct nat *nat, struct nat_flow *f, int dir,
    const struct pkt_info *pi)
{
	uint8_t flags = pi->tcp_flags;
	struct tcp_seg g;
	int s;

	if (flags & TCP_RST) {
		flow_set_state(nat, f, NAT_TCP_CLOSED);
		return;
	}
	tcp_seg_read(pi, &g);
	tcp_tw_track(f, dir, &g);
	if (dir == 1 && f->state == NAT_TCP_SYN_SENT &&
	    (flags & (TCP_SYN | TCP_ACK)) == TCP_SYN)
		f->simopen = 1;
	if ((s = tcp_handshake(f, dir, &g)) != -1)
		flow_set_state(nat, f, (uint8_t)s);
	if (flags & TCP_FIN)
		tcp_fin(nat, f, dir);
}

/* The MSS ceiling for a family, or 0 when clamping is off. */
static uint16_t
tcp_mss_max(const struct nat *nat, uint8_t family)
{
	uint16_t hdr = family == 4 ? 40 : 60;

	if (nat->set.mss_clamp)
		return nat->set.mss_clamp;
	if (nat->set.mtu > hdr)
		return (uint16_t)(nat->set.mtu - hdr);
	return 0;
}

/* Rewrite the MSS value at option offset off (from the TCP header). */
static void
tcp_mss_write(uint8_t *th, size_t off, uint16_t mss, bool partial)
{
	size_t a = off & ~(size_t)1;
	uint8_t old[4], now[4];
	size_t n = (off & 1) ? 4 : 2;

	/* an odd offset straddles two checksum words: diff both */
	memcpy(old, th + a, n);
	wr16(th + off, mss);
	memcpy(now, th + a, n);
	if (!partial)
		csum_apply(th + 16, csum_diff(0, old, now, n), false);
}

/* Clamp the MSS option of a SYN or SYN+ACK. */
void
tcp_mss_clamp(struct nat *nat, struct pkt_info *pi, bool partial)
{
	uint8_t *th = pi->ip + pi->l4off;
	size_t doff = (size_t)(th[12] >> 4) * 4, o;
	uint16_t max = tcp_mss_max(nat, pi->family);

	if (max == 0 || !(pi->tcp_flags & TCP_SYN))
		return;
	if ((o = tcp_opt_find(th, doff, 2, 4)) != 0 && rd16(th + o + 2) > max) {
		tcp_mss_write(th, o + 2, max, partial);
		nat->st.mss_clamped++;
	}
}
