/*
 * front_rules.h - the policy rules of every side (core/front_rules.c) and
 * the primitives the guard rules share with them.
 */
#ifndef TUNRELAY_FRONT_RULES_H
#define TUNRELAY_FRONT_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "core/front.h"

/* Build every side's rule list from the engine rules and the host. */
int front_rules(struct front *, char *err);
/* The error for a side that needs more rules than it has room for: -1. */
int front_rules_overflow(char *err);
/* Whether a side already has a rule like t (its priority aside). */
bool front_rules_has(const struct front_side *, const struct nl_rule *t);
/* Append one rule to a side (once); false when the side is full. */
bool front_rules_add(struct front *, enum nat_side, const struct nl_rule *);
/* A rule template: iif, family, protocol, lookup table (0 = our side's). */
struct nl_rule front_rules_template(const char *iif, uint8_t family,
    uint8_t proto, uint32_t table);
/* Add a "lookup local" rule with no protocol: local traffic stays local. */
bool front_rules_local_all(struct front *, enum nat_side, const char *iif,
    uint8_t family);

#endif
