/*
 * test_check_sock.c - the listening sockets `tunrelay check` warns about
 * (core/check_sock.c): /proc/net lines parsed (addresses in the kernel's
 * word order, TCP listeners only), and which of them a front's capture
 * takes: excludes and DHCP first, then forwards, then the ephemeral ports,
 * then the backend catch-all.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "conf/conf.h"
#include "core/check_sock.h"
#include "nat/nat.h"

/* The text /proc/net prints for a 32-bit word: its bytes as a host integer. */
static void
hexword(const uint8_t *b, char *out)
{
	uint32_t w;

	memcpy(&w, b, 4);
	sprintf(out, "%08X", w);
}

/* A /proc/net/tcp line for ADDR:PORT in state st. */
static void
line4(char *out, const char *addr, unsigned int port, unsigned int st,
    unsigned long inode)
{
	uint8_t b[4];
	char h[9];

	inet_pton(AF_INET, addr, b);
	hexword(b, h);
	sprintf(out, "   3: %s:%04X 00000000:0000 %02X 00000000:00000000 "
	    "00:00000000 00000000     0        0 %lu 1 0000000000000000 100 0 "
	    "0 10 0\n", h, port, st, inode);
}

/* A /proc/net/udp6 line for [ADDR]:PORT. */
static void
line6(char *out, const char *addr, unsigned int port, unsigned long inode)
{
	uint8_t b[16];
	char h[4][9];
	int i;

	inet_pton(AF_INET6, addr, b);
	for (i = 0; i < 4; i++)
		hexword(b + 4 * i, h[i]);
	sprintf(out, "  120: %s%s%s%s:%04X 00000000000000000000000000000000:0000 "
	    "07 00000000:00000000 00:00000000 00000000     0        0 %lu 2 "
	    "0000000000000000 0\n", h[0], h[1], h[2], h[3], port, inode);
}

/* Listeners parsed with their address; other TCP states and headers not. */
static void
test_parse(void **state)
{
	struct check_sock s;
	uint8_t want[16];
	char l[512];

	(void)state;
	line4(l, "198.51.100.1", 22, 0x0A, 4242);
	assert_int_equal(check_sock_parse(l, NAT_P_TCP, 4, &s), 1);
	inet_pton(AF_INET, "198.51.100.1", want);
	assert_memory_equal(s.addr, want, 4);
	assert_int_equal(s.port, 22);
	assert_int_equal(s.proto, NAT_P_TCP);
	assert_int_equal(s.family, 4);
	assert_int_equal(s.inode, 4242);

	line4(l, "198.51.100.1", 22, 0x01, 4243);	/* established */
	assert_int_equal(check_sock_parse(l, NAT_P_TCP, 4, &s), 0);
	line4(l, "0.0.0.0", 1194, 0x07, 0);		/* UDP: any state */
	assert_int_equal(check_sock_parse(l, NAT_P_UDP, 4, &s), 1);
	assert_int_equal(s.inode, 0);

	line6(l, "2001:db8::1", 51820, 77);
	assert_int_equal(check_sock_parse(l, NAT_P_UDP, 6, &s), 1);
	inet_pton(AF_INET6, "2001:db8::1", want);
	assert_memory_equal(s.addr, want, 16);
	assert_int_equal(s.port, 51820);

	assert_int_equal(check_sock_parse("  sl  local_address rem_address   "
	    "st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n",
	    NAT_P_TCP, 4, &s), 0);
	assert_int_equal(check_sock_parse("   0: 0100007F:0016 garbage\n",
	    NAT_P_TCP, 4, &s), 0);
	/* an IPv6-length address in an IPv4 file */
	line6(l, "2001:db8::1", 53, 1);
	assert_int_equal(check_sock_parse(l, NAT_P_UDP, 4, &s), 0);
}

/* A socket: protocol, family, address text ("" = any), port. */
static struct check_sock
sock(uint8_t proto, uint8_t family, const char *addr, uint16_t port)
{
	struct check_sock s;

	memset(&s, 0, sizeof(s));
	s.proto = proto;
	s.family = family;
	s.port = port;
	if (addr[0] != '\0')
		inet_pton(family == 4 ? AF_INET : AF_INET6, addr, s.addr);
	return s;
}

/* Which sockets a front with a backend, an exclude and a forward relays. */
static void
test_relayed(void **state)
{
	struct conf_exclude ex[] = { { NAT_P_TCP, 22, 22 } };
	struct conf_forward fw[1];
	struct conf_front cf;
	struct nat_addr pub[2];
	uint8_t fam[2] = { 4, 6 };
	struct check_sock s;

	(void)state;
	memset(&cf, 0, sizeof(cf));
	memset(fw, 0, sizeof(fw));
	memset(pub, 0, sizeof(pub));
	inet_pton(AF_INET, "198.51.100.1", pub[0].b);
	inet_pton(AF_INET6, "2001:db8::1", pub[1].b);
	cf.backend[0].family = 4;
	cf.nbackend = 1;
	cf.exclude = ex;
	cf.nexclude = 1;

	/* excluded, DHCP, ephemeral: the host's */
	s = sock(NAT_P_TCP, 4, "", 22);
	assert_false(check_sock_relayed(&cf, 32768, 60999, &s, pub, fam, 2));
	s = sock(NAT_P_UDP, 4, "", 68);
	assert_false(check_sock_relayed(&cf, 32768, 60999, &s, pub, fam, 2));
	s = sock(NAT_P_UDP, 4, "", 51820);
	assert_false(check_sock_relayed(&cf, 32768, 60999, &s, pub, fam, 2));
	/* anything else on a public address of the backend's family */
	s = sock(NAT_P_UDP, 4, "", 1194);
	assert_true(check_sock_relayed(&cf, 32768, 60999, &s, pub, fam, 2));
	s = sock(NAT_P_TCP, 4, "198.51.100.1", 80);
	assert_true(check_sock_relayed(&cf, 32768, 60999, &s, pub, fam, 2));
	/* another address (the tunnel's), or a family without a backend */
	s = sock(NAT_P_TCP, 4, "10.22.22.2", 80);
	assert_false(check_sock_relayed(&cf, 32768, 60999, &s, pub, fam, 2));
	s = sock(NAT_P_TCP, 6, "2001:db8::1", 80);
	assert_false(check_sock_relayed(&cf, 32768, 60999, &s, pub, fam, 2));
	/* a dual-stack socket on :: receives IPv4 too */
	s = sock(NAT_P_TCP, 6, "", 80);
	assert_true(check_sock_relayed(&cf, 32768, 60999, &s, pub, fam, 2));

	/* forwards only: their ports, even inside the ephemeral range */
	cf.nbackend = 0;
	fw[0].family = 6;
	fw[0].protos = NAT_P_UDP;
	fw[0].listen_lo = 40000;
	fw[0].listen_hi = 40010;
	fw[0].match_dst = true;
	fw[0].listen_addr = pub[1];
	cf.forward = fw;
	cf.nforward = 1;
	s = sock(NAT_P_UDP, 6, "", 40005);
	assert_true(check_sock_relayed(&cf, 32768, 60999, &s, pub, fam, 2));
	s = sock(NAT_P_TCP, 6, "", 40005);
	assert_false(check_sock_relayed(&cf, 32768, 60999, &s, pub, fam, 2));
	s = sock(NAT_P_UDP, 4, "", 40005);
	assert_false(check_sock_relayed(&cf, 32768, 60999, &s, pub, fam, 2));
	s = sock(NAT_P_UDP, 4, "", 1194);
	assert_false(check_sock_relayed(&cf, 32768, 60999, &s, pub, fam, 2));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_relayed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
