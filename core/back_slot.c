/*
 * back_slot.c - stable numbers (table and mark) of the back's tunnels (see
 * back_slot.h).
 */
#include <stdbool.h>
#include <string.h>

#include "core/back_slot.h"

/* Whether two names are equal (NULL equals nothing). */
static bool
back_slot_same(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Whether number s is already given to one of the n tunnels. */
static bool
back_slot_taken(const uint8_t *slot, size_t n, uint8_t s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (slot[i] == s)
			return true;
	return false;
}

/*
 * One pass: give each tunnel without a number the number of a previous
 * tunnel that matches it (by name and interface, or by interface alone)
 * when no other tunnel has that number yet.
 */
static void
back_slot_match(const struct back_slot_prev *prev, size_t nprev,
    const struct conf_back_tunnel *t, size_t n, size_t nslots,
    uint8_t *slot, bool by_name)
{
	size_t i, p;

	for (i = 0; i < n; i++) {
		if (slot[i] != BACK_SLOT_NONE)
			continue;
		for (p = 0; p < nprev; p++) {
			if (prev[p].slot >= nslots ||
			    !back_slot_same(prev[p].ifname, t[i].tunnel_interface) ||
			    (by_name && !back_slot_same(prev[p].name, t[i].name)) ||
			    back_slot_taken(slot, n, prev[p].slot))
				continue;
			slot[i] = prev[p].slot;
			break;
		}
	}
}

/* Give each tunnel without a number the lowest free one. */
static void
back_slot_fill(size_t n, size_t nslots, uint8_t *slot)
{
	size_t i;
	uint8_t s;

	for (i = 0; i < n; i++) {
		if (slot[i] != BACK_SLOT_NONE)
			continue;
		for (s = 0; s < nslots && back_slot_taken(slot, n, s); s++)
			;
		slot[i] = s;
	}
}

/* The number of each tunnel (see back_slot.h). */
void
back_slot_assign(const struct back_slot_prev *prev, size_t nprev,
    const struct conf_back_tunnel *t, size_t n, size_t nslots, uint8_t *slot)
{
	memset(slot, BACK_SLOT_NONE, n);
	back_slot_match(prev, nprev, t, n, nslots, slot, true);
	back_slot_match(prev, nprev, t, n, nslots, slot, false);
	back_slot_fill(n, nslots, slot);
}
