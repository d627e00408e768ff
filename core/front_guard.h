/*
 * front_guard.h - fragment catchers and their guards, anti-spoofing and
 * the other_traffic = drop blackhole (core/front_guard.c).
 */
#ifndef TUNRELAY_FRONT_GUARD_H
#define TUNRELAY_FRONT_GUARD_H

#include <stdbool.h>
#include <stddef.h>

#include "core/front.h"

/*
 * Port-less twins of a side's port-selected captures from rule index from
 * on, behind guards keeping whole packets off them; false when full.
 */
bool front_guard_fragments(struct front *, enum nat_side, size_t from,
    bool by_sport);
/* The anti-spoofing rules of the tunnel and every [hairpin] interface. */
int front_guard_spoof(struct front *, char *err);
/* The last rules of an interface with other_traffic = drop; false when full. */
bool front_guard_other(struct front *, enum nat_side, const char *iif);

#endif
