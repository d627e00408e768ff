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
 * Advance the state for a packet in direction dir. An RST closes the flow but
 * keeps it for the transitory timeout, so a forged RST cannot cut a mapping.
 */
void
tcp_track(struct nat *nat, struct nat_flow *f, int dir, uint8_t flags)
{
	if (flags & TCP_RST) {
		flow_set_state(nat, f, NAT_TCP_CLOSED);
		return;
	}
	if (dir == 1 && (flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK) &&
	    f->state == NAT_TCP_SYN_SENT)
		flow_set_state(nat, f, NAT_TCP_SYN_RECV);
	else if (dir == 0 && (flags & (TCP_SYN | TCP_ACK)) == TCP_ACK &&
	    f->state == NAT_TCP_SYN_RECV)
		flow_set_state(nat, f, NAT_TCP_ESTABLISHED);
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
	size_t doff = (size_t)(th[12] >> 4) * 4, i = 20, olen;
	uint16_t max = tcp_mss_max(nat, pi->family);

	if (max == 0 || !(pi->tcp_flags & TCP_SYN))
		return;
	while (i < doff && th[i] != 0) {
		if (th[i] == 1) {
			i++;
			continue;
		}
		if (i + 1 >= doff)
			return;
		olen = th[i + 1];
		if (olen < 2 || i + olen > doff)
			return;
		if (th[i] == 2 && olen == 4) {
			if (rd16(th + i + 2) > max) {
				tcp_mss_write(th, i + 2, max, partial);
				nat->st.mss_clamped++;
			}
			return;
		}
		i += olen;
	}
}
