/*
 * fixture.h - engines for the NAT unit tests: the default settings, rule
 * builders for the common rules, creation, and a cmocka teardown that frees
 * whatever engines a failed test left behind.
 *
 * Everything is prefixed fx_; the packets themselves come from pktgen.h.
 */
#ifndef TUNRELAY_FIXTURE_H
#define TUNRELAY_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "nat/nat.h"
#include "pktgen.h"

/* Every protocol a rule can match. */
#define ALLP (NAT_P_TCP | NAT_P_UDP | NAT_P_ICMP)

void fx_settings(struct nat_settings *s, const struct nat_rule *rules,
    size_t nrules);
struct nat_rule fx_rule(const char *to, uint8_t protos, uint16_t lo,
    uint16_t hi, uint16_t to_port);
struct nat_rule fx_relay_rule(const char *to, uint8_t protos, uint16_t lo,
    uint16_t hi, uint16_t to_port, const char *relay_src);
size_t fx_keep_all(struct nat_rule r[2]);
struct nat *fx_nat(const struct nat_settings *s);
struct nat *fx_engine(const struct nat_rule *rules, size_t nrules);
void fx_free(struct nat *n);
int fx_teardown(void **state);

/* A test whose engines (made by fx_nat) are freed even when it fails. */
#define FX_TEST(f) cmocka_unit_test_teardown(f, fx_teardown)

#endif
