/*
 * pktgen.h - synthetic packets for the NAT engine's unit tests.
 *
 * Builders produce IPv4/IPv6 packets (options, extension headers, fragments)
 * carrying TCP, UDP, ICMP/ICMPv6 echo or ICMP errors quoting a given packet,
 * with checksums computed in full, or in "partial" mode as a TUN with
 * IFF_VNET_HDR hands them out (NEEDS_CSUM, pseudo-header sum in the field).
 * Verifiers recompute every checksum from scratch; parsers read fields back.
 * Nothing here shares code with nat/: an engine bug cannot hide in a helper.
 * Everything is prefixed pg_ (the engine owns pkt_, flow_, csum_, ...).
 */
#ifndef TUNRELAY_PKTGEN_H
#define TUNRELAY_PKTGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/nat.h"
#include "tests/csum_full.h"

#define PKT_CAP 4096

/* Test addresses (documentation and private ranges). */
#define C4 "198.51.100.10"		/* clients */
#define C4B "198.51.100.11"
#define C6 "2001:db8:1::10"
#define C6B "2001:db8:1::11"
#define P4 "203.0.113.1"		/* the relay's public address */
#define P4B "203.0.113.2"
#define P6 "2001:db8:2::1"
#define B4 "10.22.22.1"			/* the backend's tunnel address */
#define B6 "fd00:22::1"
#define R4 "192.0.2.1"			/* full NAT source */
#define R6 "2001:db8:3::1"
#define RTR4 "10.22.22.254"		/* a router on the tunnel path */
#define RTR6 "fd00:22::fe"
#define CRTR4 "198.51.100.254"		/* a router on the client's path */
#define H4 "192.168.1.1"		/* relay's LAN address (hairpin) */
#define LANC4 "192.168.1.50"		/* LAN client */
#define LANS4 "192.168.1.32"		/* LAN server */

#define T0 1000000ULL			/* a start time, ms */
#define SEC(x) ((uint64_t)(x) * 1000)
#define PKT_MAX_EXT 6

#define PKT_TCP_FIN 0x01
#define PKT_TCP_SYN 0x02
#define PKT_TCP_RST 0x04
#define PKT_TCP_PSH 0x08
#define PKT_TCP_ACK 0x10

#define PKT_IPPROTO_HOPOPTS 0
#define PKT_IPPROTO_ICMP 1
#define PKT_IPPROTO_TCP 6
#define PKT_IPPROTO_UDP 17
#define PKT_IPPROTO_ROUTING 43
#define PKT_IPPROTO_FRAGMENT 44
#define PKT_IPPROTO_ICMPV6 58
#define PKT_IPPROTO_NONE 59
#define PKT_IPPROTO_DSTOPTS 60

/* ICMP types used by the tests. */
#define PKT_ICMP_ECHOREPLY 0
#define PKT_ICMP_UNREACH 3
#define PKT_ICMP_ECHO 8
#define PKT_ICMP_TIMXCEED 11
#define PKT_ICMP_PARAMPROB 12
#define PKT_ICMP_UNREACH_PORT 3
#define PKT_ICMP_UNREACH_NEEDFRAG 4
#define PKT_ICMP_UNREACH_HOST 1
#define PKT_ICMP6_UNREACH 1
#define PKT_ICMP6_PACKET_TOO_BIG 2
#define PKT_ICMP6_TIME_EXCEEDED 3
#define PKT_ICMP6_PARAM_PROB 4
#define PKT_ICMP6_ECHO_REQUEST 128
#define PKT_ICMP6_ECHO_REPLY 129

/* One IPv6 extension header for the builder. */
struct pg_ext6 {
	uint8_t type;		/* PKT_IPPROTO_HOPOPTS/DSTOPTS/ROUTING/FRAGMENT */
	uint8_t len8;		/* options/routing: extra 8-byte units (hdr ext len) */
	uint8_t rt_type;	/* routing type (segments left is always 0) */
	uint16_t frag_off;	/* fragment: offset in bytes (multiple of 8) */
	bool frag_more;		/* fragment: M flag */
	uint32_t frag_id;	/* fragment: identification */
};

/* What to build. pg_spec_init() fills sensible defaults. */
struct pg_spec {
	int family;			/* 4 or 6 */
	uint8_t proto;			/* PKT_IPPROTO_TCP/UDP/ICMP/ICMPV6 */
	struct nat_addr src, dst;
	uint16_t sport, dport;		/* ICMP echo: sport is the identifier */
	uint8_t ttl;			/* TTL / hop limit (default 64) */
	uint8_t tos;
	uint16_t ip_id;			/* IPv4 identification */
	bool df, mf;			/* IPv4 flags */
	uint16_t frag_off;		/* IPv4 fragment offset in bytes */
	const uint8_t *ip_opts;		/* IPv4 options, multiple of 4 bytes */
	size_t ip_opts_len;
	struct pg_ext6 ext[PKT_MAX_EXT];	/* IPv6 extension headers, in order */
	int n_ext;

	uint8_t tcp_flags;
	uint32_t seq, ack;
	uint16_t win;
	const uint8_t *tcp_opts;	/* raw TCP options (padded to 4 by caller) */
	size_t tcp_opts_len;
	uint16_t mss;			/* with no tcp_opts: add an MSS option */

	uint8_t icmp_type, icmp_code;
	uint16_t icmp_seq;
	uint32_t icmp_mtu;		/* v4 frag needed (16 bits) / v6 packet too big */
	const uint8_t *quote;		/* ICMP error: the quoted packet */
	size_t quote_len;

	const uint8_t *payload;		/* L4 payload (NULL: pattern of payload_len) */
	size_t payload_len;
	bool raw_l4;			/* payload is the whole L4 part: no L4 header built */
	bool udp_csum_zero;		/* UDP without checksum (IPv4) */
	bool bad_l4_csum;		/* deliberately wrong L4 checksum */
	bool partial;			/* vnet NEEDS_CSUM mode (TCP/UDP only) */
};

/* A packet with its room and its virtio-net header. */
struct pg_pkt {
	uint8_t data[PKT_CAP];
	size_t len;
	struct nat_vnet vnet;
	bool has_vnet;			/* pass &vnet to the engine */
};

/* Fields read back from a packet. */
struct pg_info {
	int family;
	struct nat_addr src, dst;
	uint8_t ttl;
	uint8_t tos;
	uint16_t ip_id;
	bool df, mf;
	uint16_t frag_off;		/* bytes */
	bool is_frag;			/* any fragment (v4 MF/offset, v6 fragment header) */
	uint32_t frag_id;		/* v4 id or v6 fragment id */
	size_t ip_hlen;			/* IPv4 header or IPv6 header + extension headers */
	size_t tot_len;			/* as the header claims */
	uint8_t proto;			/* upper-layer protocol */
	size_t l4_off, l4_len;		/* l4_len: bytes present up to tot_len/len */
	uint16_t sport, dport;		/* echo: identifier in sport, 0 in dport */
	uint16_t l4_csum;
	uint8_t tcp_flags;
	uint32_t seq, ack;
	uint16_t mss;			/* 0 when absent */
	size_t mss_off;			/* offset of the MSS value in the packet */
	uint16_t udp_len;
	uint8_t icmp_type, icmp_code;
	uint16_t icmp_seq;
	uint32_t icmp_mtu;
	bool icmp_err;
	size_t inner_off, inner_len;	/* quoted packet inside an ICMP error */
};

/* Addresses. */
struct nat_addr pg_addr(const char *s);
int pg_addr_family(const char *s);
const char *pg_addr_str(int family, const struct nat_addr *a, char *buf, size_t len);
bool pg_addr_eq(const struct nat_addr *a, const char *s);

/* Building. */
void pg_spec_init(struct pg_spec *sp, uint8_t proto, const char *src, uint16_t sport,
    const char *dst, uint16_t dport);
size_t pg_build(const struct pg_spec *sp, struct pg_pkt *out);
size_t pg_tcp(struct pg_pkt *out, const char *src, uint16_t sport, const char *dst,
    uint16_t dport, uint8_t flags);
size_t pg_udp(struct pg_pkt *out, const char *src, uint16_t sport, const char *dst,
    uint16_t dport, size_t payload_len);
size_t pg_echo(struct pg_pkt *out, const char *src, const char *dst, uint16_t id, bool reply);
size_t pg_icmp_error(struct pg_pkt *out, const char *src, const char *dst, uint8_t type,
    uint8_t code, uint32_t mtu, const uint8_t *quote, size_t quote_len);
void pg_copy(struct pg_pkt *dst, const struct pg_pkt *src);
void pg_make_partial(struct pg_pkt *p);
size_t pg_fragment(const uint8_t *full, size_t len, size_t off, size_t n, bool last,
    uint32_t id, uint8_t *out, size_t cap);
size_t pg_reassemble(const uint8_t *const frags[], const size_t lens[], int n,
    uint8_t *out, size_t cap);
void pg_set_ttl(struct pg_pkt *p, uint8_t ttl);
void pg_fix_ip_csum(uint8_t *p, size_t len);
void pg_fix_l4_csum(uint8_t *p, size_t len);

/* Checksums. */
uint32_t pg_pseudo_sum(const uint8_t *p, size_t len, uint8_t proto, size_t l4_len);
bool pg_check_ip_csum(const uint8_t *p, size_t len);
bool pg_check_l4_csum(const uint8_t *p, size_t len);
int pg_complete_partial(uint8_t *p, size_t len, const struct nat_vnet *vnet);
bool pg_check_all(const uint8_t *p, size_t len, const struct nat_vnet *vnet,
    char *why, size_t whylen);

/* Parsing. */
int pg_parse(const uint8_t *p, size_t len, struct pg_info *pi);
int pg_parse_quoted(const uint8_t *p, size_t len, struct pg_info *pi);
int pg_inner(const uint8_t *p, const struct pg_info *outer, struct pg_info *inner);
bool pg_tuple_is(const struct pg_info *pi, const char *src, uint16_t sport,
    const char *dst, uint16_t dport, char *why, size_t whylen);

/* Compare two packets outside the fields NAT rewrites; -1 when equal. */
long pg_diff_xlate(const struct pg_pkt *a, const struct pg_pkt *b, bool ports, bool ttl);

/* Engine glue (engines for the tests are made in fixture.h). */
enum nat_verdict pg_run(struct nat *n, struct pg_pkt *p, enum nat_side side, uint64_t now,
    enum nat_drop_reason *why);
int pg_flow_count(const struct nat *n, uint64_t now);
size_t pg_sweep_all(struct nat *n, uint64_t now);
bool pg_find_flow(const struct nat *n, uint64_t now, uint8_t proto, const char *osrc,
    uint16_t osport, struct nat_flow_info *out);

/*
 * Assertions for cmocka tests (expanded in test files, which include cmocka.h).
 */
#define assert_pkt_csums(P) do {						\
	char why_[256];								\
	if (!pg_check_all((P)->data, (P)->len,				\
	    (P)->has_vnet ? &(P)->vnet : NULL, why_, sizeof(why_)))		\
		fail_msg("%s:%d: checksum: %s", __FILE__, __LINE__, why_);	\
} while (0)

#define assert_pkt_tuple(PI, S, SP, D, DP) do {				\
	char why_[256];								\
	if (!pg_tuple_is((PI), (S), (SP), (D), (DP), why_, sizeof(why_)))	\
		fail_msg("%s:%d: tuple: %s", __FILE__, __LINE__, why_);		\
} while (0)

#define assert_verdict(V, WANT, WHY) do {					\
	int v_ = (int)(V), w_ = (int)(WANT);					\
	if (v_ != w_)								\
		fail_msg("%s:%d: verdict %d, want %d (drop reason %s)",	\
		    __FILE__, __LINE__, v_, w_,					\
		    v_ == NAT_DROP ? nat_drop_name(WHY) : "-");		\
} while (0)

#define assert_drop(V, WHY, REASON) do {					\
	int v_ = (int)(V);							\
	if (v_ != NAT_DROP || (int)(WHY) != (int)(REASON))			\
		fail_msg("%s:%d: verdict %d reason %s, want drop %s",		\
		    __FILE__, __LINE__, v_,					\
		    v_ == NAT_DROP ? nat_drop_name(WHY) : "-",			\
		    nat_drop_name(REASON));					\
} while (0)

/* Run P through N; it must be forwarded with every checksum valid. */
#define assert_forward(N, P, SIDE, NOW) do {				\
	enum nat_drop_reason fw_;						\
	enum nat_verdict fv_ = pg_run((N), (P), (SIDE), (NOW), &fw_);		\
	assert_verdict(fv_, NAT_FORWARD, fw_);					\
	assert_pkt_csums(P);							\
} while (0)

/* A and B equal except addresses, checksums (and ports / TTL if asked). */
#define assert_same_xlate(A, B, PORTS, TTL) do {				\
	long d_ = pg_diff_xlate((A), (B), (PORTS), (TTL));			\
	if (d_ >= 0)								\
		fail_msg("%s:%d: packets differ at byte %ld (0x%02x vs 0x%02x)",\
		    __FILE__, __LINE__, d_, (A)->data[d_], (B)->data[d_]);	\
} while (0)

#define assert_parse(P, PI) do {						\
	if (pg_parse((P)->data, (P)->len, (PI)) != 0)				\
		fail_msg("%s:%d: packet does not parse", __FILE__, __LINE__);	\
} while (0)

#endif
