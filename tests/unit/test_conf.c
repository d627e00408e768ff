/*
 * test_conf.c - conf/: valid files for the three scenarios and a back
 * config, one test per error class (exact message text), and the engine
 * settings built from a front config, field by field.
 *
 * Every test writes its file with mkstemp() under $TMPDIR and removes it.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <arpa/inet.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf/conf.h"

/* One loaded file: the path used in messages, the result and the errors. */
struct loaded {
	char			path[512];
	int			rc;
	struct conf		c;
	struct conf_errors	errs;
};

/* Write text to a fresh file under $TMPDIR; fills path. */
static void
write_file(const char *text, size_t len, char *path, size_t plen)
{
	const char	*dir = getenv("TMPDIR");
	int		 fd;

	snprintf(path, plen, "%s/tunrelay-conf-XXXXXX",
	    dir != NULL && *dir != '\0' ? dir : "/tmp");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* Print every message (shown when a test fails). */
static void
print_errs(const struct conf_errors *e)
{
	size_t	i;

	for (i = 0; i < e->n; i++)
		print_message("  %s\n", e->e[i].msg);
}

/* Load bytes as a file; the file is removed again. The result is heap-held. */
static struct loaded *
load_bytes(const char *text, size_t len)
{
	struct loaded	*l;

	l = calloc(1, sizeof(*l));
	assert_non_null(l);
	write_file(text, len, l->path, sizeof(l->path));
	l->rc = conf_load(l->path, &l->c, &l->errs);
	assert_int_equal(unlink(l->path), 0);
	return (l);
}

/* Load text. */
static struct loaded *
load(const char *text)
{
	return (load_bytes(text, strlen(text)));
}

/* Load text that must be valid. */
static struct loaded *
load_ok(const char *text)
{
	struct loaded	*l = load(text);

	if (l->rc != 0)
		print_errs(&l->errs);
	assert_int_equal(l->rc, 0);
	assert_int_equal(l->errs.n, 0);
	assert_string_equal(l->c.path, l->path);
	return (l);
}

/* Load text that must fail with exactly nerr errors. */
static struct loaded *
load_bad(const char *text, size_t nerr)
{
	struct loaded	*l = load(text);

	if (l->errs.n != nerr)
		print_errs(&l->errs);
	assert_int_equal(l->rc, -1);
	assert_int_equal(l->errs.n, nerr);
	assert_int_equal(l->errs.lost, 0);
	return (l);
}

/* Free a loaded file. */
static void
done(struct loaded *l)
{
	conf_free(&l->c);
	free(l);
}

/* Assert message i is "PATH:" followed by the formatted text. */
static void
assert_msg(const struct loaded *l, size_t i, const char *fmt, ...)
    __attribute__((__format__(__printf__, 3, 4)));

static void
assert_msg(const struct loaded *l, size_t i, const char *fmt, ...)
{
	char	want[2 * ERRLEN], tail[ERRLEN];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(tail, sizeof(tail), fmt, ap);
	va_end(ap);
	snprintf(want, sizeof(want), "%s:%s", l->path, tail);
	if (i >= l->errs.n || strcmp(l->errs.e[i].msg, want) != 0) {
		print_message("want %s\n", want);
		print_errs(&l->errs);
	}
	assert_true(i < l->errs.n);
	assert_string_equal(l->errs.e[i].msg, want);
}

/* An address in a nat_addr, for comparisons. */
static struct nat_addr
addr(const char *s)
{
	struct nat_addr	a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, s, a.b) != 1)
		assert_int_equal(inet_pton(AF_INET6, s, a.b), 1);
	return (a);
}

/* Assert two nat_addr are equal. */
static void
assert_addr(struct nat_addr got, const char *want)
{
	struct nat_addr	w = addr(want);

	assert_memory_equal(got.b, w.b, sizeof(w.b));
}

/* The default socket path for a temp file name. */
static void
assert_default_socket(const struct loaded *l)
{
	char		 want[600];
	const char	*base = strrchr(l->path, '/') + 1;

	snprintf(want, sizeof(want), "/run/tunrelay/%s.sock", base);
	assert_string_equal(l->c.control_socket, want);
}

/* ------------------------------------------------------------------ */
/* Valid files. */

/* Keep-client-ip front: relay everything but SSH to the backend. */
static const char keepip_front[] =
	"; keep-client-ip: no-SNAT relay keeping the client IP\n"
	"[front]\n"
	"public_interface = eth0        ; clients arrive here\n"
	"tunnel_interface = wg0         ; toward the backend\n"
	"backend = 10.22.22.1\n"
	"exclude = tcp/22               ; the relay's own SSH\n"
	"mss_clamp = pmtu\n"
	"max_flows = 262144\n";

static void
test_keepip_front(void **state)
{
	struct loaded		*l = load_ok(keepip_front);
	const struct conf_front	*f = &l->c.front;

	(void)state;
	assert_int_equal(l->c.role, CONF_ROLE_FRONT);
	assert_string_equal(f->public_interface, "eth0");
	assert_string_equal(f->tunnel_interface, "wg0");
	assert_int_equal(f->nbackend, 1);
	assert_int_equal(f->backend[0].family, 4);
	assert_addr(f->backend[0].addr, "10.22.22.1");
	assert_int_equal(f->nexclude, 1);
	assert_int_equal(f->exclude[0].protos, NAT_P_TCP);
	assert_int_equal(f->exclude[0].port_lo, 22);
	assert_int_equal(f->exclude[0].port_hi, 22);
	assert_int_equal(f->mss_mode, CONF_MSS_PMTU);
	assert_int_equal(f->max_flows, 262144);
	/* Defaults. */
	assert_int_equal(f->tcp_established_timeout, 7440);
	assert_int_equal(f->tcp_transitory_timeout, 240);
	assert_int_equal(f->udp_timeout, 300);
	assert_int_equal(f->icmp_timeout, 60);
	assert_true(f->tcp_pickup);
	assert_int_equal(f->nat_port_lo, 61000);
	assert_int_equal(f->nat_port_hi, 65534);
	assert_int_equal(f->queues, 0);
	assert_int_equal(f->nforward, 0);
	assert_int_equal(f->nhairpin, 0);
	assert_null(l->c.control_group);
	assert_default_socket(l);
	done(l);
}

/* Keep-client-ip back: replies to tunnelled flows go back through it. */
static void
test_keepip_back(void **state)
{
	struct loaded	*l = load_ok(
	    "[back]\n"
	    "tunnel_interface = wg0\n"
	    "front = 10.22.22.2, fd00:22::2\n"
	    "mark = connmark\n");
	const struct conf_back	*b = &l->c.back;
	const struct conf_back_tunnel	*t = &b->tunnel[0];

	(void)state;
	assert_int_equal(l->c.role, CONF_ROLE_BACK);
	assert_int_equal(b->ntunnel, 1);
	assert_string_equal(t->name, "back");
	assert_string_equal(t->tunnel_interface, "wg0");
	assert_int_equal(t->nfront, 2);
	assert_int_equal(t->front[0].family, 4);
	assert_addr(t->front[0].addr, "10.22.22.2");
	assert_int_equal(t->front[1].family, 6);
	assert_addr(t->front[1].addr, "fd00:22::2");
	assert_int_equal(b->mark, CONF_MARK_CONNMARK);
	assert_int_equal(b->mss_mode, CONF_MSS_PMTU);
	assert_int_equal(t->nservice, 0);
	assert_null(t->service);
	assert_default_socket(l);
	done(l);
}

/* [back] with defaults, source marking and service addresses. */
static void
test_back_source(void **state)
{
	struct loaded	*l = load_ok(
	    "[back]\n"
	    "tunnel_interface = tun0\n"
	    "front = 10.22.22.2\n"
	    "mark = source\n"
	    "mss_clamp = off\n"
	    "service_addresses = 192.0.2.10, 2001:db8::10\n"
	    "control_socket = /run/tr/back.sock\n");
	const struct conf_back	*b = &l->c.back;
	const struct conf_back_tunnel	*t = &b->tunnel[0];

	(void)state;
	assert_int_equal(b->mark, CONF_MARK_SOURCE);
	assert_int_equal(b->mss_mode, CONF_MSS_OFF);
	assert_int_equal(t->nservice, 2);
	assert_addr(t->service[0].addr, "192.0.2.10");
	assert_int_equal(t->service[1].family, 6);
	assert_addr(t->service[1].addr, "2001:db8::10");
	assert_string_equal(l->c.control_socket, "/run/tr/back.sock");
	done(l);
}

/* Several fronts: [back]'s own tunnel first, then [back.NAME] in order. */
static void
test_back_fronts(void **state)
{
	struct loaded	*l = load_ok(
	    "[back]\n"
	    "tunnel_interface = wg0\n"
	    "front = 10.22.22.2\n"
	    "mark = source\n"
	    "service_addresses = 192.0.2.10\n"
	    "[back.Paris]\n"
	    "tunnel_interface = wg1\n"
	    "front = 10.23.23.2, fd23::2\n"
	    "service_addresses = 192.0.2.11\n"
	    "[back.tokyo]\n"
	    "tunnel_interface = wg2\n"
	    "front = fd24::2\n");
	const struct conf_back	*b = &l->c.back;

	(void)state;
	assert_int_equal(b->ntunnel, 3);
	assert_string_equal(b->tunnel[0].name, "back");
	assert_string_equal(b->tunnel[1].name, "back.paris");
	assert_string_equal(b->tunnel[1].tunnel_interface, "wg1");
	assert_int_equal(b->tunnel[1].nfront, 2);
	assert_addr(b->tunnel[1].front[1].addr, "fd23::2");
	assert_int_equal(b->tunnel[1].nservice, 1);
	assert_addr(b->tunnel[1].service[0].addr, "192.0.2.11");
	assert_string_equal(b->tunnel[2].name, "back.tokyo");
	assert_int_equal(b->tunnel[2].line, 10);
	assert_int_equal(b->tunnel[2].front[0].family, 6);
	done(l);
}

/* [back] without a tunnel of its own when [back.NAME] sections name them. */
static void
test_back_sections_only(void **state)
{
	struct loaded	*l = load_ok(
	    "[back]\n"
	    "mark = connmark\n"
	    "[back.a]\n"
	    "tunnel_interface = wg-a\n"
	    "front = 10.22.22.2\n"
	    "[back.b]\n"
	    "tunnel_interface = wg-b\n"
	    "front = 10.23.23.2\n");

	(void)state;
	assert_int_equal(l->c.back.ntunnel, 2);
	assert_string_equal(l->c.back.tunnel[0].tunnel_interface, "wg-a");
	assert_string_equal(l->c.back.tunnel[1].tunnel_interface, "wg-b");
	done(l);
}

/* Errors of [back.NAME]: names, keys, shared interfaces and services. */
static void
test_err_back_sections(void **state)
{
	struct loaded	*l = load_bad(
	    "[back]\n"
	    "front = 10.22.22.2\n"
	    "service_addresses = 192.0.2.1\n"
	    "[back.a]\n"
	    "tunnel_interface = wg1\n"
	    "front = 10.23.23.2\n"
	    "service_addresses = 192.0.2.1\n"
	    "mark = source\n"
	    "[back.b c]\n"
	    "[back.d]\n"
	    "tunnel_interface = wg1\n"
	    "front = 10.24.24.2\n", 5);

	(void)state;
	assert_msg(l, 0, "1: [back] tunnel_interface: missing, the key is "
	    "required (allowed: the interface toward the front, e.g. wg0)");
	assert_msg(l, 1, "7: [back.a] service_addresses: \"192.0.2.1\" is "
	    "also listed in [back] on line 1: replies from it cannot be told "
	    "apart by source address (allowed: each address in one tunnel's "
	    "list)");
	assert_msg(l, 2, "8: [back.a] mark: unknown key (allowed: "
	    "tunnel_interface, front, service_addresses)");
	assert_msg(l, 3, "9: [back.b c]: \"b c\" is not a tunnel name "
	    "(allowed: [back.NAME], NAME 1 to 32 letters, digits, '_' or "
	    "'-')");
	assert_msg(l, 4, "11: [back.d] tunnel_interface: \"wg1\" is also "
	    "the tunnel of [back.a] on line 4 (allowed: one section per "
	    "tunnel interface)");
	done(l);
}

/* [back.NAME] belongs to [back]; [back] alone with services but no tunnel. */
static void
test_err_back_sections_role(void **state)
{
	struct loaded	*l = load_bad(
	    "[front]\n"
	    "public_interface = eth0\n"
	    "tunnel_interface = wg0\n"
	    "backend = 10.22.22.1\n"
	    "[back.a]\n"
	    "tunnel_interface = wg1\n", 1);

	(void)state;
	assert_msg(l, 0, "5: [back.a]: only allowed with [back], this file "
	    "has [front] on line 1 (allowed: [front], [forward.NAME], "
	    "[hairpin])");
	done(l);
	l = load_bad(
	    "[back]\n"
	    "service_addresses = 192.0.2.1\n"
	    "[back.a]\n"
	    "tunnel_interface = wg1\n"
	    "front = 10.23.23.2\n", 1);
	assert_msg(l, 0, "2: [back] service_addresses: \"192.0.2.1\" belongs "
	    "to a tunnel, and [back] names none (allowed: service_addresses "
	    "in the [back.NAME] section of the tunnel they are reached "
	    "through)");
	done(l);
}

/* Port forward on a single NIC, source rewritten to the relay. */
static const char portfwd[] =
	"[front]\n"
	"public_interface = eth0\n"
	"\n"
	"[forward.web]\n"
	"proto = tcp\n"
	"listen = 192.168.1.34:81\n"
	"to = 192.168.1.32:80\n"
	"source = relay\n";

static void
test_portfwd_single_nic(void **state)
{
	struct loaded			*l = load_ok(portfwd);
	const struct conf_front		*f = &l->c.front;
	const struct conf_forward	*fw = &f->forward[0];

	(void)state;
	assert_null(f->tunnel_interface);
	assert_int_equal(f->nbackend, 0);
	assert_int_equal(f->nforward, 1);
	assert_string_equal(fw->name, "web");
	assert_int_equal(fw->line, 4);
	assert_int_equal(fw->listen_line, 6);
	assert_int_equal(fw->protos, NAT_P_TCP);
	assert_int_equal(fw->family, 4);
	assert_true(fw->match_dst);
	assert_addr(fw->listen_addr, "192.168.1.34");
	assert_int_equal(fw->listen_lo, 81);
	assert_int_equal(fw->listen_hi, 81);
	assert_addr(fw->to, "192.168.1.32");
	assert_int_equal(fw->to_port, 80);
	assert_int_equal(fw->source, NAT_SOURCE_RELAY);
	done(l);
}

/* Hairpin: LAN clients reach the forwards via the public address. */
static const char hairpin[] =
	"[front]\n"
	"public_interface = wan0\n"
	"[forward.web]\n"
	"proto = tcp\n"
	"listen = 80\n"
	"to = 192.168.1.10\n"
	"[forward.game]\n"
	"proto = tcp,udp\n"
	"listen = 27015-27020\n"
	"to = 192.168.1.11:37015\n"
	"[forward.v6]\n"
	"proto = udp\n"
	"listen = [2001:db8::1]:53\n"
	"to = [fd00::53]:5353\n"
	"[hairpin]\n"
	"interfaces = br0, br1\n";

static void
test_hairpin(void **state)
{
	struct loaded			*l = load_ok(hairpin);
	const struct conf_front		*f = &l->c.front;
	const struct conf_forward	*fw = f->forward;

	(void)state;
	assert_int_equal(f->nforward, 3);
	assert_string_equal(fw[0].name, "web");
	assert_false(fw[0].match_dst);
	assert_int_equal(fw[0].listen_lo, 80);
	assert_int_equal(fw[0].to_port, 0);
	assert_int_equal(fw[0].source, NAT_SOURCE_KEEP);
	assert_string_equal(fw[1].name, "game");
	assert_int_equal(fw[1].protos, NAT_P_TCP | NAT_P_UDP);
	assert_int_equal(fw[1].listen_lo, 27015);
	assert_int_equal(fw[1].listen_hi, 27020);
	assert_int_equal(fw[1].to_port, 37015);
	assert_int_equal(fw[2].family, 6);
	assert_true(fw[2].match_dst);
	assert_addr(fw[2].listen_addr, "2001:db8::1");
	assert_addr(fw[2].to, "fd00::53");
	assert_int_equal(fw[2].to_port, 5353);
	assert_int_equal(f->nhairpin, 2);
	assert_string_equal(f->hairpin[0], "br0");
	assert_string_equal(f->hairpin[1], "br1");
	done(l);
}

/* Every [front] key, quoting and comments as iniparser reads them. */
static const char full_front[] =
	"# every key\n"
	"[Front]\n"
	"Public_Interface = \"eth0\" ; quoted\n"
	"tunnel_interface = 'wg0'#comment\n"
	"backend = 10.22.22.1 , fd00::1\n"
	"exclude = tcp/22, udp/53,TCP/8000-8100\n"
	"mss_clamp = 1400\n"
	"max_flows = 16777216\n"
	"tcp_established_timeout = 86400\n"
	"tcp_transitory_timeout = 300\n"
	"udp_timeout = 120\n"
	"icmp_timeout = 90\n"
	"tcp_pickup = No\n"
	"nat_ports = 40000-40999\n"
	"control_socket = /run/tunrelay/main.sock\n"
	"control_group = tunrelay\n"
	"queues = auto\r\n"
	"[forward.dns]\n"
	"proto = udp\n"
	"listen = 5353\n"
	"to = 10.22.22.9:53\n";

static void
test_full_front(void **state)
{
	struct loaded		*l = load_ok(full_front);
	const struct conf_front	*f = &l->c.front;

	(void)state;
	assert_string_equal(f->public_interface, "eth0");
	assert_string_equal(f->tunnel_interface, "wg0");
	assert_int_equal(f->nbackend, 2);
	assert_int_equal(f->backend[1].family, 6);
	assert_addr(f->backend[1].addr, "fd00::1");
	assert_int_equal(f->nexclude, 3);
	assert_int_equal(f->exclude[1].protos, NAT_P_UDP);
	assert_int_equal(f->exclude[1].port_lo, 53);
	assert_int_equal(f->exclude[2].port_lo, 8000);
	assert_int_equal(f->exclude[2].port_hi, 8100);
	assert_int_equal(f->mss_mode, CONF_MSS_FIXED);
	assert_int_equal(f->mss, 1400);
	assert_int_equal(f->max_flows, 16777216);
	assert_int_equal(f->tcp_established_timeout, 86400);
	assert_int_equal(f->tcp_transitory_timeout, 300);
	assert_int_equal(f->udp_timeout, 120);
	assert_int_equal(f->icmp_timeout, 90);
	assert_false(f->tcp_pickup);
	assert_int_equal(f->nat_port_lo, 40000);
	assert_int_equal(f->nat_port_hi, 40999);
	assert_int_equal(f->queues, 0);
	assert_string_equal(l->c.control_socket, "/run/tunrelay/main.sock");
	assert_string_equal(l->c.control_group, "tunrelay");
	done(l);
}

/* ------------------------------------------------------------------ */
/* Engine settings. */

static void
test_nat_settings(void **state)
{
	struct loaded		*l = load_ok(
	    "[front]\n"
	    "public_interface = eth0\n"
	    "tunnel_interface = wg0\n"
	    "backend = 10.22.22.1, fd00::1\n"
	    "exclude = tcp/22, udp/8000-8100\n"
	    "mss_clamp = 1380\n"
	    "max_flows = 1000\n"
	    "udp_timeout = 600\n"
	    "tcp_pickup = no\n"
	    "nat_ports = 50000-50999\n"
	    "[forward.web]\n"
	    "proto = tcp\n"
	    "listen = 192.0.2.1:81-82\n"
	    "to = 192.168.1.32:80\n"
	    "source = relay\n");
	struct nat_settings	 s;
	struct nat_rule		 r[16];
	size_t			 n = 16;
	char			 err[ERRLEN], name[64];

	(void)state;
	assert_int_equal(conf_nat_nrules(&l->c), 7);
	memset(&s, 0xa5, sizeof(s));
	memset(r, 0xa5, sizeof(r));
	assert_int_equal(conf_nat_settings(&l->c, &s, r, &n, err), 0);
	assert_int_equal(n, 7);
	assert_ptr_equal(s.rules, r);
	assert_int_equal(s.nrules, 7);
	assert_int_equal(s.max_flows, 1000);
	assert_int_equal(s.hash_key[0], 0);
	assert_int_equal(s.hash_key[1], 0);
	assert_int_equal(s.port_seed, 0);
	assert_int_equal(s.tcp_established, 7440);
	assert_int_equal(s.tcp_transitory, 240);
	assert_int_equal(s.udp_timeout, 600);
	assert_int_equal(s.icmp_timeout, 60);
	assert_int_equal(s.frag_timeout, 0);
	assert_int_equal(s.max_frags, 0);
	assert_int_equal(s.max_frag_bytes, 0);
	assert_true(s.tcp_no_pickup);
	assert_int_equal(s.mss_clamp, 1380);
	assert_int_equal(s.mtu, 0);
	assert_int_equal(s.ttl_mode, NAT_TTL_RESTORE);
	assert_int_equal(s.nat_port_lo, 50000);
	assert_int_equal(s.nat_port_hi, 50999);
	assert_false(s.hairpin4);
	assert_false(s.hairpin6);

	/* 1. exclude items, once per family in use (4 and 6). */
	assert_int_equal(r[0].family, 4);
	assert_int_equal(r[0].action, NAT_RULE_PASS);
	assert_int_equal(r[0].protos, NAT_P_TCP);
	assert_int_equal(r[0].port_lo, 22);
	assert_int_equal(r[0].port_hi, 22);
	assert_false(r[0].match_dst);
	assert_addr(r[0].to, "0.0.0.0");
	assert_int_equal(r[0].id, CONF_RULE_EXCLUDE | 0);
	assert_int_equal(r[1].family, 6);
	assert_int_equal(r[1].action, NAT_RULE_PASS);
	assert_int_equal(r[1].protos, NAT_P_TCP);
	assert_int_equal(r[1].port_lo, 22);
	assert_int_equal(r[1].id, CONF_RULE_EXCLUDE | 0);
	assert_int_equal(r[2].family, 4);
	assert_int_equal(r[2].protos, NAT_P_UDP);
	assert_int_equal(r[2].port_lo, 8000);
	assert_int_equal(r[2].port_hi, 8100);
	assert_int_equal(r[2].id, CONF_RULE_EXCLUDE | 1);
	assert_int_equal(r[3].family, 6);
	assert_int_equal(r[3].protos, NAT_P_UDP);

	/* 2. the forward. */
	assert_int_equal(r[4].family, 4);
	assert_int_equal(r[4].action, NAT_RULE_DNAT);
	assert_int_equal(r[4].protos, NAT_P_TCP);
	assert_int_equal(r[4].source, NAT_SOURCE_RELAY);
	assert_int_equal(r[4].port_lo, 81);
	assert_int_equal(r[4].port_hi, 82);
	assert_true(r[4].match_dst);
	assert_addr(r[4].dst, "192.0.2.1");
	assert_addr(r[4].to, "192.168.1.32");
	assert_int_equal(r[4].to_port, 80);
	assert_addr(r[4].relay_src, "0.0.0.0");	/* the caller's to fill */
	assert_int_equal(r[4].id, CONF_RULE_FORWARD | 0);

	/* 3. the backend, one default rule per family. */
	assert_int_equal(r[5].family, 4);
	assert_int_equal(r[5].action, NAT_RULE_DNAT);
	assert_int_equal(r[5].protos, NAT_P_TCP | NAT_P_UDP | NAT_P_ICMP);
	assert_int_equal(r[5].source, NAT_SOURCE_KEEP);
	assert_int_equal(r[5].port_lo, 1);
	assert_int_equal(r[5].port_hi, 65535);
	assert_false(r[5].match_dst);
	assert_addr(r[5].to, "10.22.22.1");
	assert_int_equal(r[5].to_port, 0);
	assert_int_equal(r[5].id, CONF_RULE_BACKEND | 0);
	assert_int_equal(r[6].family, 6);
	assert_addr(r[6].to, "fd00::1");
	assert_int_equal(r[6].id, CONF_RULE_BACKEND | 1);

	assert_string_equal(conf_nat_rule_name(&l->c, r[2].id, name,
	    sizeof(name)), "exclude udp/8000-8100");
	assert_string_equal(conf_nat_rule_name(&l->c, r[4].id, name,
	    sizeof(name)), "forward.web");
	assert_string_equal(conf_nat_rule_name(&l->c, r[6].id, name,
	    sizeof(name)), "backend fd00::1");
	assert_string_equal(conf_nat_rule_name(&l->c, 99, name, sizeof(name)),
	    "rule 99");

	/* Too little room: an error, nothing written. */
	n = 6;
	assert_int_equal(conf_nat_settings(&l->c, &s, r, &n, err), -1);
	assert_string_equal(err, "room for 6 NAT rules, 7 needed");
	done(l);
}

/* Exclusions only for the family in use; pmtu and off leave mss_clamp 0. */
static void
test_nat_settings_v4_only(void **state)
{
	struct loaded		*l = load_ok(keepip_front);
	struct nat_settings	 s;
	struct nat_rule		 r[4];
	size_t			 n = 4;
	char			 err[ERRLEN];

	(void)state;
	assert_int_equal(conf_nat_settings(&l->c, &s, r, &n, err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(r[0].action, NAT_RULE_PASS);
	assert_int_equal(r[0].family, 4);
	assert_int_equal(r[1].action, NAT_RULE_DNAT);
	assert_int_equal(s.mss_clamp, 0);
	assert_false(s.tcp_no_pickup);
	done(l);
}

/* A back config has no engine settings. */
static void
test_nat_settings_back(void **state)
{
	struct loaded		*l = load_ok("[back]\ntunnel_interface = wg0\n"
	    "front = 10.22.22.2\n");
	struct nat_settings	 s;
	struct nat_rule		 r[1];
	size_t			 n = 1;
	char			 err[ERRLEN], want[600];

	(void)state;
	assert_int_equal(conf_nat_nrules(&l->c), 0);
	assert_int_equal(conf_nat_settings(&l->c, &s, r, &n, err), -1);
	snprintf(want, sizeof(want), "%s: not a [front] configuration",
	    l->path);
	assert_string_equal(err, want);
	done(l);
}

/* ------------------------------------------------------------------ */
/* Error classes: each message names file:line, section, key, the quoted
 * value and the allowed values. */

static void
test_err_number(void **state)
{
	struct loaded	*l = load_bad(
	    "[front]\n"
	    "public_interface = eth0\n"
	    "tunnel_interface = wg0\n"
	    "backend = 10.22.22.1\n"
	    "\n"
	    "\n"
	    "max_flows = 12x\n", 1);

	(void)state;
	assert_int_equal(l->errs.e[0].line, 7);
	assert_msg(l, 0, "7: [front] max_flows: \"12x\" is not a number "
	    "(allowed: 1..16777216)");
	done(l);
}

/* The per-source limits: values into the engine settings, bad ones named. */
static void
test_per_source(void **state)
{
	struct loaded		*l = load_ok(
	    "[front]\n"
	    "public_interface = eth0\n"
	    "tunnel_interface = wg0\n"
	    "backend = 10.22.22.1\n"
	    "per_source_flows = 100\n"
	    "per_source_rate = 20\n"
	    "per_source_burst = 40\n");
	struct nat_settings	 s;
	struct nat_rule		 r[4];
	size_t			 n = 4;
	char			 err[ERRLEN];

	(void)state;
	assert_int_equal(conf_nat_settings(&l->c, &s, r, &n, err), 0);
	assert_int_equal(s.src_max_flows, 100);
	assert_int_equal(s.src_rate, 20);
	assert_int_equal(s.src_burst, 40);
	assert_false(l->c.front.route_other);
	done(l);
	l = load_ok("[front]\npublic_interface = eth0\ntunnel_interface = wg0\n"
	    "backend = 10.22.22.1\nother_traffic = route\n");
	assert_true(l->c.front.route_other);
	done(l);
	l = load_bad("[front]\npublic_interface = eth0\ntunnel_interface = wg0\n"
	    "backend = 10.22.22.1\nother_traffic = allow\n", 1);
	assert_msg(l, 0, "5: [front] other_traffic: \"allow\" is not an allowed "
	    "value (allowed: drop, route)");
	done(l);
	l = load_ok("[front]\npublic_interface = eth0\ntunnel_interface = wg0\n"
	    "backend = 10.22.22.1\n");
	n = 4;
	assert_int_equal(conf_nat_settings(&l->c, &s, r, &n, err), 0);
	assert_int_equal(s.src_max_flows, 0);
	assert_int_equal(s.src_rate, 0);
	done(l);
	l = load_bad(
	    "[front]\n"
	    "public_interface = eth0\n"
	    "tunnel_interface = wg0\n"
	    "backend = 10.22.22.1\n"
	    "per_source_flows = -1\n"
	    "per_source_rate = 1000001\n"
	    "per_source_burst = 5x\n", 3);
	assert_msg(l, 0, "5: [front] per_source_flows: \"-1\" is not a number "
	    "(allowed: 0..16777216 flows, 0 = no limit)");
	assert_msg(l, 1, "6: [front] per_source_rate: \"1000001\" is out of "
	    "range (allowed: 0..1000000 new flows per second, 0 = no limit)");
	assert_msg(l, 2, "7: [front] per_source_burst: \"5x\" is not a number "
	    "(allowed: 0..1000000 new flows, 0 = per_source_rate)");
	done(l);
}

/* table_full_icmp and its rate: defaults, values, bad ones named. */
static void
test_table_full_icmp(void **state)
{
	struct loaded		*l = load_ok("[front]\npublic_interface = eth0\n"
	    "tunnel_interface = wg0\nbackend = 10.22.22.1\n");
	struct nat_settings	 s;
	struct nat_rule		 r[4];
	size_t			 n = 4;
	char			 err[ERRLEN];

	(void)state;
	assert_int_equal(conf_nat_settings(&l->c, &s, r, &n, err), 0);
	assert_false(s.table_full_icmp_off);
	assert_int_equal(s.table_full_icmp_rate, 10);
	done(l);
	l = load_ok("[front]\npublic_interface = eth0\ntunnel_interface = wg0\n"
	    "backend = 10.22.22.1\ntable_full_icmp = no\n"
	    "table_full_icmp_rate = 500\n");
	n = 4;
	assert_int_equal(conf_nat_settings(&l->c, &s, r, &n, err), 0);
	assert_true(s.table_full_icmp_off);
	assert_int_equal(s.table_full_icmp_rate, 500);
	done(l);
	l = load_bad("[front]\npublic_interface = eth0\ntunnel_interface = wg0\n"
	    "backend = 10.22.22.1\ntable_full_icmp = maybe\n"
	    "table_full_icmp_rate = 0\n", 2);
	assert_msg(l, 1, "6: [front] table_full_icmp_rate: \"0\" is out of "
	    "range (allowed: 1..100000 ICMP errors per second)");
	done(l);
}

/* tun_io and busy_poll: defaults, values, bad ones named. */
static void
test_tun_io(void **state)
{
	struct loaded	*l = load_ok("[front]\npublic_interface = eth0\n"
	    "tunnel_interface = wg0\nbackend = 10.22.22.1\n");

	(void)state;
	assert_false(l->c.front.tun_io_rw);
	assert_int_equal(l->c.front.busy_poll, 0);
	done(l);
	l = load_ok("[front]\npublic_interface = eth0\ntunnel_interface = wg0\n"
	    "backend = 10.22.22.1\ntun_io = readwrite\nbusy_poll = 50\n");
	assert_true(l->c.front.tun_io_rw);
	assert_int_equal(l->c.front.busy_poll, 50);
	done(l);
	l = load_ok("[front]\npublic_interface = eth0\ntunnel_interface = wg0\n"
	    "backend = 10.22.22.1\ntun_io = auto\n");
	assert_false(l->c.front.tun_io_rw);
	done(l);
	l = load_bad("[front]\npublic_interface = eth0\ntunnel_interface = wg0\n"
	    "backend = 10.22.22.1\ntun_io = uring\nbusy_poll = 1001\n", 2);
	assert_msg(l, 0, "5: [front] tun_io: \"uring\" is not an allowed value "
	    "(allowed: auto, readwrite)");
	assert_msg(l, 1, "6: [front] busy_poll: \"1001\" is out of range "
	    "(allowed: 0..1000 microseconds, 0 = off)");
	done(l);
}

static void
test_err_range(void **state)
{
	struct loaded	*l = load_bad(
	    "[front]\n"
	    "public_interface = eth0\n"
	    "tunnel_interface = wg0\n"
	    "backend = 10.22.22.1\n"
	    "udp_timeout = 60\n"
	    "max_flows = 16777217\n"
	    "tcp_established_timeout = 99999999999999999999\n"
	    "queues = 65\n"
	    "nat_ports = 80-90\n"
	    "mss_clamp = 100\n", 6);

	(void)state;
	assert_msg(l, 0, "5: [front] udp_timeout: \"60\" is out of range "
	    "(allowed: 120..604800 seconds)");
	assert_msg(l, 1, "6: [front] max_flows: \"16777217\" is out of range "
	    "(allowed: 1..16777216)");
	assert_msg(l, 2, "7: [front] tcp_established_timeout: "
	    "\"99999999999999999999\" is out of range (allowed: 7440..604800 "
	    "seconds)");
	assert_msg(l, 3, "8: [front] queues: \"65\" is out of range (allowed: "
	    "auto, or a number 1..64)");
	assert_msg(l, 4, "9: [front] nat_ports: \"80-90\" has a port out of "
	    "range (allowed: PORT or LO-HI within 1024..65535)");
	assert_msg(l, 5, "10: [front] mss_clamp: \"100\" is out of range "
	    "(allowed: pmtu, off, or a number 536..65495)");
	done(l);
}

static void
test_err_words(void **state)
{
	struct loaded	*l = load_bad(
	    "[front]\n"
	    "public_interface = eth0\n"
	    "tunnel_interface = wg0\n"
	    "backend = 10.22.22.1\n"
	    "tcp_pickup = true\n"
	    "mss_clamp = auto\n"
	    "queues = many\n"
	    "[forward.a]\n"
	    "proto = sctp\n"
	    "listen = 81\n"
	    "to = 10.0.0.1\n"
	    "source = nat\n", 5);

	(void)state;
	assert_msg(l, 0, "5: [front] tcp_pickup: \"true\" is not yes or no "
	    "(allowed: yes, no)");
	assert_msg(l, 1, "6: [front] mss_clamp: \"auto\" is not pmtu, off or "
	    "a number (allowed: pmtu, off, or a number 536..65495)");
	assert_msg(l, 2, "7: [front] queues: \"many\" is not auto or a number "
	    "(allowed: auto, or a number 1..64)");
	assert_msg(l, 3, "9: [forward.a] proto: \"sctp\" is not tcp, udp or "
	    "tcp,udp (allowed: tcp, udp, tcp,udp)");
	assert_msg(l, 4, "12: [forward.a] source: \"nat\" is not an allowed "
	    "value (allowed: keep, relay)");
	done(l);
}

static void
test_err_address(void **state)
{
	struct loaded	*l = load_bad(
	    "[front]\n"
	    "public_interface = eth0\n"
	    "tunnel_interface = wg0\n"
	    "backend = 10.22.22.300\n"
	    "[forward.a]\n"
	    "proto = tcp\n"
	    "listen = 81\n"
	    "to = 127.0.0.1:80\n"
	    "[forward.b]\n"
	    "proto = tcp\n"
	    "listen = 82\n"
	    "to = ff02::1\n", 3);

	(void)state;
	assert_msg(l, 0, "4: [front] backend: \"10.22.22.300\" is not an IPv4 "
	    "or IPv6 address (allowed: IPv4 and/or IPv6 unicast addresses "
	    "separated by commas, each with an optional weight=1..10000, e.g. "
	    "\"10.22.22.1 weight=2, 10.22.22.3, fd00::1\")");
	assert_msg(l, 1, "8: [forward.a] to: \"127.0.0.1:80\" is a loopback "
	    "address (allowed: ADDR, ADDR:PORT or [IPV6]:PORT, a unicast "
	    "address)");
	assert_msg(l, 2, "12: [forward.b] to: \"ff02::1\" is a multicast "
	    "address (allowed: ADDR, ADDR:PORT or [IPV6]:PORT, a unicast "
	    "address)");
	done(l);
}

#define ALLOWED_BACKEND "IPv4 and/or IPv6 unicast addresses separated by " \
	"commas, each with an optional weight=1..10000, e.g. \"10.22.22.1 " \
	"weight=2, 10.22.22.3, fd00::1\""

static void
test_err_address_pair(void **state)
{
	struct loaded	*l = load_bad(
	    "[front]\n"
	    "public_interface = eth0\n"
	    "tunnel_interface = wg0\n"
	    "backend = 10.22.22.1, 10.22.22.1,, ::ffff:10.0.0.1\n", 3);

	(void)state;
	assert_msg(l, 0, "4: [front] backend: \"10.22.22.1\" is listed twice "
	    "(allowed: each address (and port) once)");
	assert_msg(l, 1, "4: [front] backend: \"\" is an empty item (allowed: "
	    ALLOWED_BACKEND ")");
	assert_msg(l, 2, "4: [front] backend: \"::ffff:10.0.0.1\" is an "
	    "IPv4-mapped address (write the IPv4 address) (allowed: "
	    ALLOWED_BACKEND ")");
	done(l);
}

/* Backend lists with weights and checks, and the engine's view of them. */
static void
test_backend_lists(void **state)
{
	struct loaded		*l = load_ok(
	    "[front]\n"
	    "public_interface = eth0\n"
	    "tunnel_interface = wg0\n"
	    "backend = 10.22.22.1 weight=3, fd00::1, 10.22.22.2\n"
	    "backend_check = icmp interval=2 timeout=1 rise=1 fall=2\n"
	    "[forward.web]\n"
	    "proto = tcp\n"
	    "listen = 81-82\n"
	    "to = 10.22.22.5:80 weight=2, 10.22.22.6:8080 , 10.22.22.7\n"
	    "check = tcp\n"
	    "[forward.dns]\n"
	    "proto = udp\n"
	    "listen = 53\n"
	    "to = 10.22.22.9\n");
	const struct conf_front	*f = &l->c.front;
	const struct conf_forward *w = &f->forward[0];
	struct nat_settings	 s;
	struct nat_rule		 r[16];
	struct nat_backend	 bk[16];
	struct conf_check	 ck[16];
	size_t			 n = 16, nb = 16, i;
	char			 err[ERRLEN], name[80];

	(void)state;
	assert_int_equal(f->nbackends, 3);
	assert_int_equal(f->nbackend, 2);	/* the first of each family */
	assert_addr(f->backend[0].addr, "10.22.22.1");
	assert_addr(f->backend[1].addr, "fd00::1");
	assert_int_equal(f->backends[0].weight, 3);
	assert_int_equal(f->backends[2].weight, 1);
	assert_int_equal(f->backend_health.kind, CONF_CHECK_ICMP);
	assert_int_equal(f->backend_health.interval, 2);
	assert_int_equal(f->backend_health.timeout, 1);
	assert_int_equal(f->backend_health.rise, 1);
	assert_int_equal(f->backend_health.fall, 2);
	assert_int_equal(w->ntargets, 3);
	assert_addr(w->to, "10.22.22.5");
	assert_int_equal(w->to_port, 80);
	assert_int_equal(w->targets[1].port, 8080);
	assert_int_equal(w->targets[2].port, 0);
	assert_int_equal(w->targets[0].weight, 2);
	assert_int_equal(w->health.kind, CONF_CHECK_TCP);
	assert_int_equal(w->health.interval, CONF_CHECK_INTERVAL);
	assert_int_equal(w->health.fall, CONF_CHECK_FALL);
	assert_int_equal(f->forward[1].ntargets, 1);
	assert_int_equal(f->forward[1].health.kind, CONF_CHECK_NONE);

	assert_int_equal(conf_nat_settings(&l->c, &s, r, &n, err), 0);
	assert_int_equal(conf_nat_nbackends(&l->c), 6);
	assert_int_equal(conf_nat_backends(&l->c, &s, r, bk, &nb, err), 0);
	assert_int_equal(nb, 6);
	assert_ptr_equal(s.backends, bk);
	for (i = 0; i < n; i++) {
		if (r[i].id == (CONF_RULE_FORWARD | 0)) {
			assert_int_equal(r[i].backend_count, 3);
			assert_int_equal(bk[r[i].backend_first + 1].port, 8080);
			assert_int_equal(bk[r[i].backend_first].weight, 2);
		} else if (r[i].id == (CONF_RULE_FORWARD | 1))
			assert_int_equal(r[i].backend_count, 0);
		else if (r[i].id == CONF_RULE_BACKEND && r[i].family == 4)
			assert_int_equal(r[i].backend_count, 2);
		else if (r[i].id == (CONF_RULE_BACKEND | 1))
			assert_int_equal(r[i].backend_count, 1);
	}
	assert_string_equal(conf_nat_backend_name(&l->c,
	    CONF_BACKEND_ID(CONF_RULE_FORWARD | 0, 1), name, sizeof(name)),
	    "forward.web 10.22.22.6:8080");
	assert_string_equal(conf_nat_backend_name(&l->c,
	    CONF_BACKEND_ID(CONF_RULE_BACKEND | 1, 1), name, sizeof(name)),
	    "backend fd00::1");
	/* tcp without a port checks the target port, else the listen port */
	assert_int_equal(conf_nat_checks(&l->c, ck, 16), 6);
	assert_int_equal(ck[0].port, 80);
	assert_int_equal(ck[1].port, 8080);
	assert_int_equal(ck[2].port, 81);
	assert_int_equal(ck[3].health->kind, CONF_CHECK_ICMP);
	assert_int_equal(ck[4].id, CONF_BACKEND_ID(CONF_RULE_BACKEND | 1, 1));
	assert_int_equal(ck[5].id, CONF_BACKEND_ID(CONF_RULE_BACKEND | 0, 2));
	done(l);
}

/* Bad backend lists and checks. */
static void
test_err_backend_lists(void **state)
{
	struct loaded	*l = load_bad(
	    "[front]\n"
	    "public_interface = eth0\n"
	    "tunnel_interface = wg0\n"
	    "backend = 10.22.22.1 weight=0, 10.22.22.2 heavy\n"
	    "backend_check = tcp\n"
	    "[forward.web]\n"
	    "proto = tcp\n"
	    "listen = 80\n"
	    "to = 10.22.22.5:80, fd00::5, 10.22.22.5:80\n"
	    "check = tcp interval=2 timeout=3\n"
	    "[forward.b]\n"
	    "proto = tcp\n"
	    "listen = 90\n"
	    "to = 10.22.22.5\n"
	    "check = ping\n", 7);

	(void)state;
	assert_msg(l, 0, "4: [front] backend: \"10.22.22.1 weight=0\" has a "
	    "weight that is not a number 1..10000 (allowed: " ALLOWED_BACKEND
	    ")");
	assert_msg(l, 1, "4: [front] backend: \"10.22.22.2 heavy\" has "
	    "something other than weight=N after the address (allowed: "
	    ALLOWED_BACKEND ")");
	assert_msg(l, 2, "5: [front] backend_check: \"tcp\" names no port, and "
	    "the backends keep the public port (allowed: tcp:PORT, icmp or "
	    "none)");
	assert_msg(l, 3, "9: [forward.web] to: \"fd00::5\" is of another "
	    "family than the first backend (allowed: backends of one family)");
	assert_msg(l, 4, "9: [forward.web] to: \"10.22.22.5:80\" is listed "
	    "twice (allowed: each address (and port) once)");
	assert_msg(l, 5, "10: [forward.web] check: \"timeout=3\" is longer "
	    "than the interval (allowed: none, or tcp, tcp:PORT or icmp "
	    "followed by any of interval=1..3600 timeout=1..60 (seconds, at "
	    "most the interval) rise=1..100 fall=1..100)");
	assert_msg(l, 6, "15: [forward.b] check: \"ping\" is not none, tcp, "
	    "tcp:PORT or icmp (allowed: none, or tcp, tcp:PORT or icmp "
	    "followed by any of interval=1..3600 timeout=1..60 (seconds, at "
	    "most the interval) rise=1..100 fall=1..100)");
	done(l);
}

static void
test_err_exclude(void **state)
{
	struct loaded	*l = load_bad(
	    "[front]\n"
	    "public_interface = eth0\n"
	    "tunnel_interface = wg0\n"
	    "backend = 10.22.22.1\n"
	    "exclude = icmp, tcp/22, tcp/20-30, udp/0, sctp/1, tcp/9-8\n", 5);

	(void)state;
	assert_msg(l, 0, "5: [front] exclude: \"icmp\" is not PROTO/PORT or "
	    "PROTO/LO-HI (allowed: tcp/PORT, udp/PORT, tcp/LO-HI, udp/LO-HI, "
	    "ports 1..65535, separated by commas)");
	assert_msg(l, 1, "5: [front] exclude: \"tcp/20-30\" overlaps tcp/22 in "
	    "the same list (allowed: items that do not overlap)");
	assert_msg(l, 2, "5: [front] exclude: \"udp/0\" has a port out of "
	    "range (allowed: tcp/PORT, udp/PORT, tcp/LO-HI, udp/LO-HI, ports "
	    "1..65535, separated by commas)");
	assert_msg(l, 3, "5: [front] exclude: \"sctp/1\" has a protocol other "
	    "than tcp or udp (allowed: tcp/PORT, udp/PORT, tcp/LO-HI, "
	    "udp/LO-HI, ports 1..65535, separated by commas)");
	assert_msg(l, 4, "5: [front] exclude: \"tcp/9-8\" has its first port "
	    "above its last (allowed: tcp/PORT, udp/PORT, tcp/LO-HI, "
	    "udp/LO-HI, ports 1..65535, separated by commas)");
	done(l);
}

static void
test_err_exclude_icmp(void **state)
{
	struct loaded	*l = load_bad(
	    "[front]\n"
	    "public_interface = eth0\n"
	    "tunnel_interface = wg0\n"
	    "backend = 10.22.22.1\n"
	    "exclude = icmp/8\n", 1);

	(void)state;
	assert_msg(l, 0, "5: [front] exclude: \"icmp/8\" excludes ICMP, which "
	    "cannot be excluded (allowed: tcp/PORT, udp/PORT, tcp/LO-HI, "
	    "udp/LO-HI, ports 1..65535, separated by commas)");
	done(l);
}

static void
test_err_interface(void **state)
{
	struct loaded	*l = load_bad(
	    "[front]\n"
	    "public_interface = averyveryverylongname\n"
	    "tunnel_interface = \"wg 0\"\n"
	    "backend = 10.22.22.1\n"
	    "[hairpin]\n"
	    "interfaces = br0, br0, ..\n", 4);

	(void)state;
	assert_msg(l, 0, "2: [front] public_interface: "
	    "\"averyveryverylongname\" is longer than 15 characters (allowed: "
	    "an interface name of 1 to 15 characters without '/', ':' or "
	    "blanks)");
	assert_msg(l, 1, "3: [front] tunnel_interface: \"wg 0\" has a "
	    "character not allowed in an interface name (allowed: an "
	    "interface name of 1 to 15 characters without '/', ':' or "
	    "blanks)");
	assert_msg(l, 2, "6: [hairpin] interfaces: \"br0\" is listed twice "
	    "(allowed: interface names separated by commas, each once)");
	assert_msg(l, 3, "6: [hairpin] interfaces: \"..\" is not an interface "
	    "name (allowed: interface names separated by commas, each once)");
	done(l);
}

static void
test_err_interface_roles(void **state)
{
	struct loaded	*l = load_bad(
	    "[front]\n"
	    "public_interface = eth0\n"
	    "tunnel_interface = eth0\n"
	    "backend = 10.22.22.1\n"
	    "[hairpin]\n"
	    "interfaces = br0, eth0\n", 2);

	(void)state;
	assert_msg(l, 0, "3: [front] tunnel_interface: \"eth0\" is also "
	    "public_interface (allowed: an interface other than "
	    "public_interface)");
	assert_msg(l, 1, "6: [hairpin] interfaces: \"eth0\" is also [front] "
	    "public_interface (allowed: LAN interfaces other than "
	    "public_interface and tunnel_interface)");
	done(l);
}

static void
test_err_empty_value(void **state)
{
	struct loaded	*l = load_bad(
	    "[front]\n"
	    "public_interface =\n"
	    "tunnel_interface = \"\"\n"
	    "backend = 10.22.22.1\n"
	    "max_flows = ; comment only\n", 3);

	(void)state;
	assert_msg(l, 0, "2: [front] public_interface: \"\" is empty "
	    "(allowed: an interface name of 1 to 15 characters without '/', "
	    "':' or blanks)");
	assert_msg(l, 1, "3: [front] tunnel_interface: \"\" is empty "
	    "(allowed: an interface name of 1 to 15 characters without '/', "
	    "':' or blanks)");
	assert_msg(l, 2, "5: [front] max_flows: \"\" is empty (allowed: "
	    "1..16777216)");
	done(l);
}

static void
test_err_unknown_key(void **state)
{
	struct loaded	*l = load_bad(
	    "[front]\n"
	    "public_interface = eth0\n"
	    "tunnel_interface = wg0\n"
	    "backend = 10.22.22.1\n"
	    "max_flow = 100\n"
	    "[forward.a]\n"
	    "proto = tcp\n"
	    "listen = 81\n"
	    "to = 10.0.0.1\n"
	    "colour = blue\n", 2);

	(void)state;
	assert_msg(l, 0, "5: [front] max_flow: unknown key, did you mean "
	    "max_flows? (allowed: public_interface, tunnel_interface, backend, "
	    "exclude, mss_clamp, max_flows, tcp_established_timeout, "
	    "tcp_transitory_timeout, udp_timeout, icmp_timeout, tcp_pickup, "
	    "nat_ports, queues, per_source_flows, per_source_rate, "
	    "per_source_burst, other_traffic, table_full_icmp, table_full_icmp_rate, tun_io, busy_poll, shards, metrics, flow_log, flow_log_rate, "
	    "state_file, control_socket, control_group, backend_check)");
	assert_msg(l, 1, "10: [forward.a] colour: unknown key (allowed: proto, "
	    "listen, to, source, check)");
	done(l);
}

static void
test_err_unknown_section(void **state)
{
	struct loaded	*l = load_bad(
	    "[front]\n"
	    "public_interface = eth0\n"
	    "tunnel_interface = wg0\n"
	    "backend = 10.22.22.1\n"
	    "[frontend]\n"
	    "x = 1\n"
	    "[forward.bad name!]\n", 5);

	(void)state;
	assert_msg(l, 0, "5: [frontend]: unknown section (allowed: [front], "
	    "[back], [back.NAME], [forward.NAME], [hairpin])");
	assert_msg(l, 1, "7: [forward.bad name!]: \"bad name!\" is not a "
	    "forward name (allowed: [forward.NAME], NAME 1 to 32 letters, "
	    "digits, '_' or '-')");
	/* The badly named forward also lacks its keys. */
	assert_msg(l, 2, "7: [forward.bad name!] proto: missing, the key is "
	    "required (allowed: tcp, udp, tcp,udp)");
	assert_int_equal(l->errs.e[3].line, 7);
	assert_int_equal(l->errs.e[4].line, 7);
	done(l);
}

static void
test_err_duplicate_key(void **state)
{
	struct loaded	*l = load_bad(
	    "[front]\n"
	    "public_interface = eth0\n"
	    "tunnel_interface = wg0\n"
	    "backend = 10.22.22.1\n"
	    "Backend = 10.22.22.5\n", 1);

	(void)state;
	assert_msg(l, 0, "5: [front] backend: duplicate key (first on line 4; "
	    "allowed: each key once per section)");
	done(l);
}

static void
test_err_duplicate_section(void **state)
{
	struct loaded	*l = load_bad(
	    "[front]\n"
	    "public_interface = eth0\n"
	    "tunnel_interface = wg0\n"
	    "backend = 10.22.22.1\n"
	    "[forward.web]\n"
	    "proto = tcp\n"
	    "listen = 80\n"
	    "to = 10.0.0.1\n"
	    "[ FRONT ]\n"
	    "max_flows = 5\n"
	    "[forward.Web]\n"
	    "proto = udp\n", 2);

	(void)state;
	assert_msg(l, 0, "9: [front]: duplicate section (first on line 1; "
	    "allowed: each section once)");
	assert_msg(l, 1, "11: [forward.web]: duplicate section (first on line "
	    "5; allowed: each section once)");
	done(l);
}

static void
test_err_front_and_back(void **state)
{
	struct loaded	*l = load_bad(
	    "[back]\n"
	    "tunnel_interface = wg0\n"
	    "front = 10.22.22.2\n"
	    "[front]\n"
	    "public_interface = eth0\n", 1);

	(void)state;
	assert_msg(l, 0, "4: [front]: not allowed together with [back] on line "
	    "1 (allowed: one role per file, [front] or [back])");
	done(l);
}

static void
test_err_no_role(void **state)
{
	struct loaded	*l = load_bad("; nothing here\n", 1);

	(void)state;
	assert_int_equal(l->errs.e[0].line, 0);
	assert_msg(l, 0, " no [front] or [back] section (allowed: one of them, "
	    "[front] on the relay, [back] on the backend)");
	done(l);
}

static void
test_err_front_only_sections(void **state)
{
	struct loaded	*l = load_bad(
	    "[back]\n"
	    "tunnel_interface = wg0\n"
	    "front = 10.22.22.2\n"
	    "[forward.web]\n"
	    "proto = tcp\n"
	    "[hairpin]\n"
	    "interfaces = br0\n", 2);

	(void)state;
	assert_msg(l, 0, "4: [forward.web]: only allowed with [front], this "
	    "file has [back] on line 1 (allowed: [back] alone)");
	assert_msg(l, 1, "6: [hairpin]: only allowed with [front], this file "
	    "has [back] on line 1 (allowed: [back] alone)");
	done(l);
}

static void
test_err_missing(void **state)
{
	struct loaded	*l = load_bad(
	    "[front]\n"
	    "backend = 10.22.22.1\n"
	    "[forward.x]\n"
	    "[hairpin]\n", 6);

	(void)state;
	assert_msg(l, 0, "1: [front] public_interface: missing, the key is "
	    "required (allowed: the interface clients arrive on, e.g. eth0)");
	assert_msg(l, 1, "1: [front] tunnel_interface: missing, required with "
	    "backend (allowed: the interface toward the backend, e.g. wg0)");
	assert_msg(l, 2, "3: [forward.x] proto: missing, the key is required "
	    "(allowed: tcp, udp, tcp,udp)");
	assert_msg(l, 3, "3: [forward.x] listen: missing, the key is required "
	    "(allowed: PORT, LO-HI, ADDR:PORT, ADDR:LO-HI or [IPV6]:PORT, "
	    "ports 1..65535)");
	assert_msg(l, 4, "3: [forward.x] to: missing, the key is required "
	    "(allowed: ADDR, ADDR:PORT or [IPV6]:PORT, a unicast address)");
	assert_msg(l, 5, "4: [hairpin] interfaces: missing, the key is "
	    "required (allowed: LAN interface names separated by commas, e.g. "
	    "br0)");
	done(l);
}

static void
test_err_back_missing(void **state)
{
	struct loaded	*l = load_bad(
	    "[back]\n"
	    "mark = always\n"
	    "service_addresses = 192.0.2.1, 192.0.2.1\n", 4);

	(void)state;
	assert_msg(l, 0, "1: [back] tunnel_interface: missing, the key is "
	    "required (allowed: the interface toward the front, e.g. wg0)");
	assert_msg(l, 1, "1: [back] front: missing, the key is required "
	    "(allowed: the front's tunnel addresses, one IPv4 and/or one IPv6, "
	    "e.g. 10.22.22.2)");
	assert_msg(l, 2, "2: [back] mark: \"always\" is not an allowed value "
	    "(allowed: auto, connmark, source)");
	assert_msg(l, 3, "3: [back] service_addresses: \"192.0.2.1\" is listed "
	    "twice (allowed: IPv4 or IPv6 unicast addresses separated by "
	    "commas, e.g. \"10.22.22.1, fd00::1\")");
	done(l);
}

static void
test_err_back_connmark_services(void **state)
{
	struct loaded	*l = load_bad(
	    "[back]\n"
	    "tunnel_interface = wg0\n"
	    "front = 10.22.22.2\n"
	    "mark = connmark\n"
	    "service_addresses = 192.0.2.1\n", 1);

	(void)state;
	assert_msg(l, 0, "5: [back] service_addresses: \"192.0.2.1\" is only "
	    "used with mark = source or auto (allowed: no service_addresses "
	    "with mark = connmark)");
	done(l);
}

static void
test_err_no_destination(void **state)
{
	struct loaded	*l = load_bad(
	    "[front]\n"
	    "public_interface = eth0\n", 1);

	(void)state;
	assert_msg(l, 0, "1: [front] backend: missing, and there is no "
	    "[forward.NAME] section (allowed: a backend address, or forwards, "
	    "or both)");
	done(l);
}

static void
test_err_forward_overlap(void **state)
{
	struct loaded	*l = load_bad(
	    "[front]\n"
	    "public_interface = eth0\n"
	    "[forward.a]\n"
	    "proto = tcp\n"
	    "listen = 8000-8100\n"
	    "to = 10.0.0.1\n"
	    "[forward.b]\n"
	    "proto = udp\n"
	    "listen = 8050\n"
	    "to = 10.0.0.2\n"
	    "[forward.c]\n"
	    "proto = udp,tcp\n"
	    "listen = 8100-8200\n"
	    "to = 10.0.0.3\n"
	    "[forward.d]\n"
	    "proto = tcp\n"
	    "listen = 192.0.2.1:8000\n"
	    "to = 10.0.0.4\n"
	    "[forward.e]\n"
	    "proto = tcp\n"
	    "listen = 8000\n"
	    "to = fd00::4\n"
	    "[forward.f]\n"
	    "proto = tcp\n"
	    "listen = 192.0.2.2:9000\n"
	    "to = 10.0.0.4\n"
	    "[forward.g]\n"
	    "proto = tcp\n"
	    "listen = 192.0.2.3:9000\n"
	    "to = 10.0.0.4\n", 2);

	(void)state;
	/* b: other protocol, e: other family, f/g: other addresses: fine. */
	assert_msg(l, 0, "13: [forward.c] listen: \"8100-8200\" overlaps "
	    "[forward.a] listen on line 5 (allowed: ports that no other "
	    "forward of the same protocol and family uses)");
	assert_msg(l, 1, "17: [forward.d] listen: \"192.0.2.1:8000\" overlaps "
	    "[forward.a] listen on line 5 (allowed: ports that no other "
	    "forward of the same protocol and family uses)");
	done(l);
}

static void
test_err_forward_overlap_udp(void **state)
{
	struct loaded	*l = load_bad(
	    "[front]\n"
	    "public_interface = eth0\n"
	    "[forward.b]\n"
	    "proto = udp\n"
	    "listen = 8050\n"
	    "to = 10.0.0.2\n"
	    "[forward.c]\n"
	    "proto = udp,tcp\n"
	    "listen = 8000-8100\n"
	    "to = 10.0.0.3\n", 1);

	(void)state;
	assert_msg(l, 0, "9: [forward.c] listen: \"8000-8100\" overlaps "
	    "[forward.b] listen on line 5 (allowed: ports that no other "
	    "forward of the same protocol and family uses)");
	done(l);
}

static void
test_err_exclude_forward(void **state)
{
	struct loaded	*l = load_bad(
	    "[front]\n"
	    "public_interface = eth0\n"
	    "tunnel_interface = wg0\n"
	    "backend = 10.22.22.1\n"
	    "exclude = udp/53, tcp/2200-2300\n"
	    "[forward.ssh]\n"
	    "proto = tcp\n"
	    "listen = 2222\n"
	    "to = 10.0.0.1:22\n"
	    "[forward.dns]\n"
	    "proto = tcp\n"
	    "listen = 53\n"
	    "to = 10.0.0.1\n", 1);

	(void)state;
	assert_msg(l, 0, "8: [forward.ssh] listen: \"2222\" overlaps exclude "
	    "tcp/2200-2300 on line 5 (allowed: ports that [front] exclude does "
	    "not name)");
	done(l);
}

static void
test_err_target_range(void **state)
{
	struct loaded	*l = load_bad(
	    "[front]\n"
	    "public_interface = eth0\n"
	    "[forward.a]\n"
	    "proto = tcp\n"
	    "listen = 1000-1999\n"
	    "to = 10.0.0.1:65000\n"
	    "[forward.b]\n"
	    "proto = tcp\n"
	    "listen = 3000-3009\n"
	    "to = 10.0.0.1:4000-4004\n"
	    "[forward.c]\n"
	    "proto = tcp\n"
	    "listen = 5000-5009\n"
	    "to = 10.0.0.1:6000-6009\n", 2);

	(void)state;
	assert_msg(l, 0, "6: [forward.a] to: \"10.0.0.1:65000\" runs past port "
	    "65535 (allowed: a first port of at most 64536, so that listen "
	    "1000-1999 maps one to one)");
	assert_msg(l, 1, "10: [forward.b] to: \"10.0.0.1:4000-4004\" has a "
	    "port range of another size than listen (allowed: one port, or a "
	    "range of 10 ports like listen)");
	assert_int_equal(l->c.front.nforward, 0);	/* untouched */
	done(l);
}

static void
test_err_listen_forms(void **state)
{
	struct loaded	*l = load_bad(
	    "[front]\n"
	    "public_interface = eth0\n"
	    "[forward.a]\n"
	    "proto = tcp\n"
	    "listen = fd00::1:80\n"
	    "to = fd00::2\n"
	    "[forward.b]\n"
	    "proto = tcp\n"
	    "listen = [2001:db8::1]:80\n"
	    "to = 10.0.0.1\n"
	    "[forward.c]\n"
	    "proto = tcp\n"
	    "listen = 192.0.2.1\n"
	    "to = fd00::2:80\n"
	    "[forward.d]\n"
	    "proto = tcp\n"
	    "listen = [2001:db8::1]\n"
	    "to = 10.0.0.1:0\n", 6);

	(void)state;
	assert_msg(l, 0, "5: [forward.a] listen: \"fd00::1:80\" is an IPv6 "
	    "address without brackets and port (allowed: PORT, LO-HI, "
	    "ADDR:PORT, ADDR:LO-HI or [IPV6]:PORT, ports 1..65535)");
	assert_msg(l, 1, "10: [forward.b] to: \"10.0.0.1\" is IPv4 but listen "
	    "is IPv6 (allowed: an address of the family of the listen "
	    "address)");
	assert_msg(l, 2, "13: [forward.c] listen: \"192.0.2.1\" is not a port "
	    "or port range (allowed: PORT, LO-HI, ADDR:PORT, ADDR:LO-HI or "
	    "[IPV6]:PORT, ports 1..65535)");
	/* a bare IPv6 target that also reads as address and port */
	assert_msg(l, 3, "14: [forward.c] to: \"fd00::2:80\" reads as an IPv6 "
	    "address or as address fd00::2 with port 80 (allowed: "
	    "[fd00::2]:80 for that address and port, or [fd00::2:80] for the "
	    "address alone)");
	assert_msg(l, 4, "17: [forward.d] listen: \"[2001:db8::1]\" has no "
	    "port after the address (allowed: PORT, LO-HI, ADDR:PORT, "
	    "ADDR:LO-HI or [IPV6]:PORT, ports 1..65535)");
	assert_msg(l, 5, "18: [forward.d] to: \"10.0.0.1:0\" has a port out of "
	    "range (allowed: ADDR, ADDR:PORT or [IPV6]:PORT, a unicast "
	    "address)");
	done(l);
}

static void
test_err_nat_ports_exclude(void **state)
{
	struct loaded	*l = load_bad(
	    "[front]\n"
	    "public_interface = eth0\n"
	    "exclude = tcp/22, udp/62000\n"
	    "[forward.web]\n"
	    "proto = tcp\n"
	    "listen = 81\n"
	    "to = 192.168.1.32:80\n"
	    "source = relay\n", 1);

	(void)state;
	assert_msg(l, 0, "3: [front] exclude: \"udp/62000\" is inside "
	    "nat_ports, where full NAT (source = relay, [hairpin]) maps its "
	    "flows (allowed: ports outside nat_ports)");
	done(l);
}

static void
test_err_control(void **state)
{
	struct loaded	*l = load_bad(
	    "[back]\n"
	    "tunnel_interface = wg0\n"
	    "front = 10.22.22.2\n"
	    "control_socket = run/x.sock\n"
	    "control_group = -wheel\n", 2);

	(void)state;
	assert_msg(l, 0, "4: [back] control_socket: \"run/x.sock\" is not an "
	    "absolute path (allowed: an absolute path of up to 107 bytes)");
	assert_msg(l, 1, "5: [back] control_group: \"-wheel\" starts with '-' "
	    "(allowed: a group name of 1 to 32 letters, digits, '.', '_' or "
	    "'-')");
	done(l);
}

/* Lines iniparser would misread or reject. */
static void
test_err_syntax(void **state)
{
	struct loaded	*l = load_bad(
	    "orphan = 1\n"
	    "[front\n"
	    "[front] x\n"
	    "[front]\n"
	    "public_interface = eth0\n"
	    "just some words\n"
	    "= 5\n"
	    "tunnel_interface = \"wg0\n"
	    "backend = \"10.22.22.1\" trailing\n"
	    "; a comment ending in a backslash \\\n"
	    "[]\n", 9);

	(void)state;
	assert_msg(l, 0, "1: orphan: key outside any section (allowed: keys "
	    "after a [section] header)");
	assert_msg(l, 1, "2: \"[front\": section header without ']' (allowed: "
	    "\"[section]\" alone on its line)");
	assert_msg(l, 2, "3: \"[front] x\": text after the section header "
	    "(allowed: \"[section]\" alone on its line)");
	assert_msg(l, 3, "6: \"just some words\": not a key = value line "
	    "(allowed: \"key = value\", \"[section]\", or a comment starting "
	    "with ';' or '#')");
	assert_msg(l, 4, "7: \"= 5\": no key before '=' (allowed: \"key = "
	    "value\", \"[section]\", or a comment starting with ';' or '#')");
	assert_msg(l, 5, "8: [front] tunnel_interface: \"\\\"wg0\" has an "
	    "unterminated quote (allowed: a value in matching quotes, then "
	    "nothing or a comment)");
	assert_msg(l, 6, "9: [front] backend: \"\\\"10.22.22.1\\\" trailing\" "
	    "has text after the closing quote (allowed: a value in matching "
	    "quotes, then nothing or a comment)");
	assert_msg(l, 7, "10: line ends with '\\', which would join the next "
	    "line to it (allowed: no '\\' at the end of a line)");
	assert_msg(l, 8, "11: []: empty section name (allowed: [front], "
	    "[back], [back.NAME], [forward.NAME], [hairpin])");
	done(l);
}

/* The brief's own example: iniparser 4.1 cannot read a comment after a
 * section header; the rest of the file is still checked. */
static void
test_err_header_comment(void **state)
{
	struct loaded	*l = load_bad(
	    "[front]\n"
	    "public_interface = eth0        ; clients arrive here\n"
	    "tunnel_interface = wg0         ; toward the backend\n"
	    "backend = 10.22.22.1           ; default destination\n"
	    "exclude = tcp/22               ; list: tcp/22, udp/53\n"
	    "\n"
	    "[forward.web]                  ; optional\n"
	    "proto = tcp                    ; tcp | udp | tcp,udp\n"
	    "listen = 81                    ; public port or range\n"
	    "to = 192.168.1.32:80           ; address[:port]\n"
	    "source = kept\n", 2);

	(void)state;
	assert_msg(l, 0, "7: \"[forward.web]                  ; optional\": "
	    "comment after a section header, which iniparser cannot read "
	    "(allowed: the comment on a line of its own)");
	assert_msg(l, 1, "11: [forward.web] source: \"kept\" is not an "
	    "allowed value (allowed: keep, relay)");
	done(l);
}

static void
test_err_bytes(void **state)
{
	char		 text[2048];
	struct loaded	*l;
	size_t		 n;

	(void)state;
	n = (size_t)snprintf(text, sizeof(text), "[front]\npublic_interface = "
	    "eth0\nx = ");
	memset(text + n, 'a', 1100);
	n += 1100;
	memcpy(text + n, "\nbackend = 1\0\n", 14);
	n += 14;
	l = load_bytes(text, n);
	assert_int_equal(l->rc, -1);
	assert_int_equal(l->errs.n, 2);
	assert_msg(l, 0, "3: line is 1104 characters long (allowed: up to "
	    "1000)");
	assert_msg(l, 1, "4: line has a NUL byte (allowed: text)");
	done(l);

	/* A byte order mark is reported; the rest is still read. */
	l = load_bad("\xef\xbb\xbf[back]\ntunnel_interface = wg0\n", 2);
	assert_msg(l, 0, "1: file starts with a UTF-8 byte order mark "
	    "(allowed: UTF-8 without BOM, or ASCII)");
	assert_msg(l, 1, "1: [back] front: missing, the key is required "
	    "(allowed: the front's tunnel addresses, one IPv4 and/or one IPv6, "
	    "e.g. 10.22.22.2)");
	done(l);
}

/* A file with five different errors reports all five, in line order. */
static void
test_err_five(void **state)
{
	struct loaded	*l = load_bad(
	    "[front]\n"
	    "public_interface = eth0/1\n"
	    "tunnel_interface = wg0\n"
	    "backend = 10.22.22.1\n"
	    "exclude = tcp/99999\n"
	    "tcp_transitory_timeout = 10\n"
	    "icmp_timeout = 1m\n"
	    "[forward.x]\n"
	    "proto = tcp\n"
	    "listen = 81\n"
	    "to = 10.0.0.1:80\n"
	    "spam = 1\n", 5);

	(void)state;
	assert_int_equal(l->errs.e[0].line, 2);
	assert_int_equal(l->errs.e[1].line, 5);
	assert_int_equal(l->errs.e[2].line, 6);
	assert_int_equal(l->errs.e[3].line, 7);
	assert_int_equal(l->errs.e[4].line, 12);
	assert_msg(l, 0, "2: [front] public_interface: \"eth0/1\" has a "
	    "character not allowed in an interface name (allowed: an interface "
	    "name of 1 to 15 characters without '/', ':' or blanks)");
	assert_msg(l, 1, "5: [front] exclude: \"tcp/99999\" has a port out of "
	    "range (allowed: tcp/PORT, udp/PORT, tcp/LO-HI, udp/LO-HI, ports "
	    "1..65535, separated by commas)");
	assert_msg(l, 2, "6: [front] tcp_transitory_timeout: \"10\" is out of "
	    "range (allowed: 240..604800 seconds)");
	assert_msg(l, 3, "7: [front] icmp_timeout: \"1m\" is not a number "
	    "(allowed: 60..604800 seconds)");
	assert_msg(l, 4, "12: [forward.x] spam: unknown key (allowed: proto, "
	    "listen, to, source, check)");
	done(l);
}

/* More errors than the list holds: the rest are counted. */
static void
test_err_many(void **state)
{
	char		*text, *p;
	struct loaded	*l;
	int		 i;

	(void)state;
	text = malloc(100 * 32 + 64);
	assert_non_null(text);
	p = text + sprintf(text, "[front]\npublic_interface = eth0\n");
	for (i = 0; i < 100; i++)
		p += sprintf(p, "bad%d = x\n", i);
	l = load(text);
	free(text);
	assert_int_equal(l->rc, -1);
	assert_int_equal(l->errs.n, CONF_ERRORS_MAX);
	/* 100 unknown keys + no destination. */
	assert_int_equal(l->errs.lost, 101 - CONF_ERRORS_MAX);
	done(l);
}

/* A missing file; *out is left alone on any failure. */
static void
test_err_no_file(void **state)
{
	struct conf		c;
	struct conf_errors	errs;

	(void)state;
	memset(&c, 0x5a, sizeof(c));
	assert_int_equal(conf_load("/nonexistent/tunrelay.ini", &c, &errs), -1);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.e[0].msg, "/nonexistent/tunrelay.ini: cannot "
	    "open: No such file or directory");
	assert_int_equal(c.role, 0x5a5a5a5a);
}

/* A FIFO, a directory and "-" are refused at once: nothing blocks. */
static void
test_err_not_regular(void **state)
{
	const char		*dir = getenv("TMPDIR");
	struct conf		 c;
	struct conf_errors	 errs;
	char			 p[512], want[600];

	(void)state;
	snprintf(p, sizeof(p), "%s/tunrelay-fifo-%ld", dir != NULL &&
	    *dir != '\0' ? dir : "/tmp", (long)getpid());
	assert_int_equal(mkfifo(p, 0600), 0);
	/* without a writer, a blocking open would never return */
	assert_int_equal(conf_load(p, &c, &errs), -1);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(errs.n, 1);
	snprintf(want, sizeof(want), "%s: is a FIFO (allowed: a regular file)",
	    p);
	assert_string_equal(errs.e[0].msg, want);
	assert_int_equal(conf_load("/", &c, &errs), -1);
	assert_string_equal(errs.e[0].msg, "/: is a directory (allowed: a "
	    "regular file)");
	assert_int_equal(conf_load("-", &c, &errs), -1);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.e[0].msg, "-: standard input is not read "
	    "(allowed: the path of a regular file; save the configuration to "
	    "a file first, e.g. /etc/tunrelay/NAME.ini)");
}

/*
 * A bare IPv6 target that also reads as ADDRESS:PORT is refused with both
 * bracketed forms; one that does not ("::1" endings) is taken as an address.
 */
static void
test_err_v6_ambiguous(void **state)
{
	static const char	 head[] =
		"[front]\npublic_interface = eth0\n"
		"[forward.web]\nproto = tcp\nlisten = 8080\n";
	char			 text[512];
	struct loaded		*l;

	(void)state;
	snprintf(text, sizeof(text), "%sto = 2001:db8:1::5:80\n", head);
	l = load_bad(text, 1);
	assert_msg(l, 0, "6: [forward.web] to: \"2001:db8:1::5:80\" reads as "
	    "an IPv6 address or as address 2001:db8:1::5 with port 80 "
	    "(allowed: [2001:db8:1::5]:80 for that address and port, or "
	    "[2001:db8:1::5:80] for the address alone)");
	done(l);
	snprintf(text, sizeof(text), "%sto = [2001:db8:1::5]:80\n", head);
	l = load_ok(text);
	assert_addr(l->c.front.forward[0].to, "2001:db8:1::5");
	assert_int_equal(l->c.front.forward[0].to_port, 80);
	done(l);
	snprintf(text, sizeof(text), "%sto = [2001:db8:1::5:80]\n", head);
	l = load_ok(text);
	assert_addr(l->c.front.forward[0].to, "2001:db8:1::5:80");
	assert_int_equal(l->c.front.forward[0].to_port, 0);
	done(l);
	/* without ":1" the rest is no address: not ambiguous */
	snprintf(text, sizeof(text), "%sto = 2001:db8::1\n", head);
	l = load_ok(text);
	assert_addr(l->c.front.forward[0].to, "2001:db8::1");
	done(l);
	/* a last group in hex, or above 65535, is no port */
	snprintf(text, sizeof(text), "%sto = 2001:db8:1::5:ab\n", head);
	done(load_ok(text));
	snprintf(text, sizeof(text), "%sto = 2001:db8:1:2:3:4:5:6\n", head);
	done(load_ok(text));
}

/* conf_free() on a zeroed or freed config is harmless. */
static void
test_free_twice(void **state)
{
	struct loaded	*l = load_ok(hairpin);

	(void)state;
	conf_free(&l->c);
	assert_null(l->c.front.forward);
	conf_free(&l->c);
	conf_free(NULL);
	done(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keepip_front),
		cmocka_unit_test(test_keepip_back),
		cmocka_unit_test(test_back_source),
		cmocka_unit_test(test_back_fronts),
		cmocka_unit_test(test_back_sections_only),
		cmocka_unit_test(test_err_back_sections),
		cmocka_unit_test(test_err_back_sections_role),
		cmocka_unit_test(test_portfwd_single_nic),
		cmocka_unit_test(test_hairpin),
		cmocka_unit_test(test_full_front),
		cmocka_unit_test(test_nat_settings),
		cmocka_unit_test(test_nat_settings_v4_only),
		cmocka_unit_test(test_nat_settings_back),
		cmocka_unit_test(test_err_number),
		cmocka_unit_test(test_err_range),
		cmocka_unit_test(test_per_source),
		cmocka_unit_test(test_table_full_icmp),
		cmocka_unit_test(test_tun_io),
		cmocka_unit_test(test_err_words),
		cmocka_unit_test(test_err_address),
		cmocka_unit_test(test_err_address_pair),
		cmocka_unit_test(test_backend_lists),
		cmocka_unit_test(test_err_backend_lists),
		cmocka_unit_test(test_err_exclude),
		cmocka_unit_test(test_err_exclude_icmp),
		cmocka_unit_test(test_err_interface),
		cmocka_unit_test(test_err_interface_roles),
		cmocka_unit_test(test_err_empty_value),
		cmocka_unit_test(test_err_unknown_key),
		cmocka_unit_test(test_err_unknown_section),
		cmocka_unit_test(test_err_duplicate_key),
		cmocka_unit_test(test_err_duplicate_section),
		cmocka_unit_test(test_err_front_and_back),
		cmocka_unit_test(test_err_no_role),
		cmocka_unit_test(test_err_front_only_sections),
		cmocka_unit_test(test_err_missing),
		cmocka_unit_test(test_err_back_missing),
		cmocka_unit_test(test_err_back_connmark_services),
		cmocka_unit_test(test_err_no_destination),
		cmocka_unit_test(test_err_forward_overlap),
		cmocka_unit_test(test_err_forward_overlap_udp),
		cmocka_unit_test(test_err_exclude_forward),
		cmocka_unit_test(test_err_target_range),
		cmocka_unit_test(test_err_listen_forms),
		cmocka_unit_test(test_err_nat_ports_exclude),
		cmocka_unit_test(test_err_control),
		cmocka_unit_test(test_err_syntax),
		cmocka_unit_test(test_err_header_comment),
		cmocka_unit_test(test_err_bytes),
		cmocka_unit_test(test_err_five),
		cmocka_unit_test(test_err_many),
		cmocka_unit_test(test_err_no_file),
		cmocka_unit_test(test_err_not_regular),
		cmocka_unit_test(test_err_v6_ambiguous),
		cmocka_unit_test(test_free_twice),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
