/*
 * fidx.c - the flow index: a pre-sized open-addressing table of (reference,
 * hash) entries with linear probing and backward-shift deletion.
 *
 * The index holds no keys: an entry names a flow and direction (a reference,
 * never 0) and keeps 32 bits of the key's keyed hash, both to skip most
 * foreign entries without touching a flow and to find an entry's home slot
 * again when deletion shifts it. It is made once for a fixed number of
 * entries and never grows, so no packet waits behind a rehash; deletion
 * leaves no tombstone, so lookups stay as short as the load allows.
 */
#include "nat/nat_int.h"

/* Slots for cap entries: load at most FIDX_LOAD_NUM / FIDX_LOAD_DEN, one spare. */
static size_t
fidx_slots(size_t cap)
{
	return cap * FIDX_LOAD_DEN / FIDX_LOAD_NUM + 1;
}

/* Make an index for up to cap entries. */
int
fidx_init(struct fidx *x, size_t cap)
{
	size_t n = fidx_slots(cap);

	memset(x, 0, sizeof(*x));
	if (n >= UINT32_MAX)
		return -1;
	/* calloc: untouched zero pages cost nothing until flows arrive */
	x->ent = calloc(n, sizeof(*x->ent));
	if (x->ent == NULL)
		return -1;
	x->size = (uint32_t)n;
	x->cap = (uint32_t)cap;
	return 0;
}

/* Free the index. */
void
fidx_fini(struct fidx *x)
{
	free(x->ent);
	memset(x, 0, sizeof(*x));
}

/* Bytes held by the index. */
size_t
fidx_bytes(const struct fidx *x)
{
	return (size_t)x->size * sizeof(*x->ent);
}

/* The slot after i, wrapping. */
static uint32_t
fidx_next(const struct fidx *x, uint32_t i)
{
	return i + 1 == x->size ? 0 : i + 1;
}

/* Add an entry; -1 when the index holds its capacity already. */
int
fidx_add(struct fidx *x, uint32_t hash, uint32_t ref)
{
	uint32_t i;

	/* a spare empty slot always ends every probe */
	if (x->used >= x->cap)
		return -1;
	for (i = fidx_home(x, hash); x->ent[i].ref != 0; i = fidx_next(x, i))
		;
	x->ent[i].ref = ref;
	x->ent[i].hash = hash;
	x->used++;
	return 0;
}

/* The slot of the entry (hash, ref), or -1 when it is not there. */
int64_t
fidx_find(const struct fidx *x, uint32_t hash, uint32_t ref)
{
	uint32_t i;

	for (i = fidx_home(x, hash); x->ent[i].ref != 0; i = fidx_next(x, i))
		if (x->ent[i].ref == ref)
			return i;
	return -1;
}

/* Distance from slot a forward to slot b. */
static uint32_t
fidx_dist(const struct fidx *x, uint32_t a, uint32_t b)
{
	return b >= a ? b - a : b + x->size - a;
}

/*
 * Empty slot i and close the gap: every later entry of the run whose home
 * lies at or before the gap moves back into it, so each entry stays
 * reachable from its home without a tombstone.
 */
void
fidx_del_at(struct fidx *x, uint32_t i)
{
	uint32_t j = i, home;

	for (;;) {
		j = fidx_next(x, j);
		if (x->ent[j].ref == 0)
			break;
		home = fidx_home(x, x->ent[j].hash);
		/* j may fill the gap only if the gap lies between its home and j */
		if (fidx_dist(x, home, j) < fidx_dist(x, i, j))
			continue;
		x->ent[i] = x->ent[j];
		i = j;
	}
	x->ent[i].ref = 0;
	x->ent[i].hash = 0;
	x->used--;
}

/* Remove the entry (hash, ref); -1 when it is not there. */
int
fidx_del(struct fidx *x, uint32_t hash, uint32_t ref)
{
	int64_t i = fidx_find(x, hash, ref);

	if (i < 0)
		return -1;
	fidx_del_at(x, (uint32_t)i);
	return 0;
}
