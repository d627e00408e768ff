/*
 * fuzz_nl.c - libFuzzer harness: the input as netlink replies from the
 * kernel, walked message by message like a dump.
 *
 * Each message (its length from its header, bounded by what is left) goes
 * through every parser of tun/nl.c: rules, routes, links, addresses and
 * error acks. Checks: a parser returns -1, 0 or 1 and always fills its
 * error text on -1; a parsed object is sane (family, prefix lengths within
 * the address size, interface names terminated); the text forms fit their
 * buffers.
 *
 * Built with -DFUZZ_REPLAY it exports fuzz_nl_one() for tests/fuzz/replay.
 */
#include <string.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <linux/netlink.h>

#include "tun/nl.h"
#include "tests/fuzz/fuzz_parsers.h"

/* Bits of an address of family af, or 0 for an unset prefix. */
static unsigned
fn_bits(uint8_t af)
{
	return af == AF_INET ? 32 : af == AF_INET6 ? 128 : 0;
}

/* A prefix is unset, or of a known family with a length that fits. */
static void
fn_prefix(const struct nl_prefix *p, const char *what)
{
	char buf[INET6_ADDRSTRLEN + 8];

	if (p->family == 0)
		return;
	if (fn_bits(p->family) == 0 || p->len > fn_bits(p->family))
		FZP_OOPS("%s: family %u, length %u", what, p->family, p->len);
	if (nl_prefix_str(p, buf, sizeof(buf)) == NULL ||
	    memchr(buf, '\0', sizeof(buf)) == NULL)
		FZP_OOPS("%s: no text form", what);
}

static void fn_parsers(const uint8_t *, size_t);

/* The parser's verdict is -1, 0 or 1, with a message on -1. */
static void
fn_rc(int rc, const char *err, const char *what)
{
	if (rc < -1 || rc > 1)
		FZP_OOPS("%s returned %d", what, rc);
	if (rc == -1 && (memchr(err, '\0', ERRLEN) == NULL || *err == '\0'))
		FZP_OOPS("%s failed without a message", what);
}

/*
 * One message through every parser, from an aligned copy of its exact size
 * (the kernel's buffers are aligned; ASan sees reads past the end).
 */
static void
fn_message(const uint8_t *data, size_t len)
{
	uint8_t *m = malloc(len ? len : 1);

	if (m == NULL)
		return;
	memcpy(m, data, len);
	fn_parsers(m, len);
	free(m);
}

/* Every parser on one message. */
static void
fn_parsers(const uint8_t *m, size_t len)
{
	char err[ERRLEN], text[512], msg[256];
	struct nl_rule r;
	struct nl_route rt;
	struct nl_link l;
	struct nl_ifaddr a;
	struct nl_proxy px;
	int rc;

	memset(err, 0, sizeof(err));
	rc = nl_rule_parse(m, len, &r, err);
	fn_rc(rc, err, "nl_rule_parse");
	if (rc == 1) {
		if (r.family != AF_INET && r.family != AF_INET6)
			FZP_OOPS("rule of family %u", r.family);
		fn_prefix(&r.src, "rule src");
		fn_prefix(&r.dst, "rule dst");
		if (memchr(r.iif, '\0', sizeof(r.iif)) == NULL ||
		    memchr(r.oif, '\0', sizeof(r.oif)) == NULL)
			FZP_OOPS("rule interface name not terminated");
		nl_rule_str(&r, text, sizeof(text));
		if (memchr(text, '\0', sizeof(text)) == NULL)
			FZP_OOPS("rule text not terminated");
	}
	memset(err, 0, sizeof(err));
	rc = nl_route_parse(m, len, &rt, err);
	fn_rc(rc, err, "nl_route_parse");
	if (rc == 1) {
		fn_prefix(&rt.dst, "route dst");
		fn_prefix(&rt.gw, "route gateway");
		fn_prefix(&rt.prefsrc, "route prefsrc");
		nl_route_str(&rt, text, sizeof(text));
		if (memchr(text, '\0', sizeof(text)) == NULL)
			FZP_OOPS("route text not terminated");
	}
	memset(err, 0, sizeof(err));
	rc = nl_link_parse(m, len, &l, err);
	fn_rc(rc, err, "nl_link_parse");
	if (rc == 1 && memchr(l.name, '\0', sizeof(l.name)) == NULL)
		FZP_OOPS("link name not terminated");
	memset(err, 0, sizeof(err));
	rc = nl_addr_parse(m, len, &a, err);
	fn_rc(rc, err, "nl_addr_parse");
	if (rc == 1 && a.prefixlen > fn_bits(a.family))
		FZP_OOPS("address of family %u with prefix length %u",
		    a.family, a.prefixlen);
	memset(err, 0, sizeof(err));
	rc = nl_proxy_parse(m, len, &px, err);
	fn_rc(rc, err, "nl_proxy_parse");
	if (rc == 1 && px.family != AF_INET && px.family != AF_INET6)
		FZP_OOPS("proxy entry of family %u", px.family);
	rc = nl_error_parse(m, len, msg, sizeof(msg));
	if (rc > 1 || memchr(msg, '\0', sizeof(msg)) == NULL)
		FZP_OOPS("nl_error_parse: %d", rc);
}

int
fuzz_nl_one(const uint8_t *data, size_t size)
{
	size_t off = 0, len;
	uint32_t hlen;

	/* walk like a dump: each header says how far its message goes */
	while (size - off >= 4) {
		memcpy(&hlen, data + off, 4);
		len = hlen < 4 || hlen > size - off ? size - off : hlen;
		fn_message(data + off, len);
		off += (len + 3) & ~(size_t)3;
		if (off > size)
			break;
	}
	if (off < size)
		fn_message(data + off, size - off);
	return 0;
}

#ifndef FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_nl_one(data, size);
}
#endif
