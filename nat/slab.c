/*
 * slab.c - fixed-size object pools grown in chunks, with a free list.
 * Objects are never returned to malloc until slab_destroy(), so the packet
 * path allocates at most once per chunk.
 *
 * An indexed pool (slab_iinit) names its objects by a 32-bit number, chunk *
 * per_chunk + slot, so that tables can hold 4-byte references instead of
 * pointers; its free list is threaded through those numbers.
 */
#include "nat/nat_int.h"

/* Set up a pool of objects of size bytes, at most max of them. */
int
slab_init(struct slab *s, size_t size, size_t per_chunk, size_t max)
{
	memset(s, 0, sizeof(*s));
	if (size < sizeof(void *))
		size = sizeof(void *);
	s->size = (size + 15) & ~(size_t)15;
	s->per_chunk = per_chunk;
	s->max = max;
	s->maxchunks = (max + per_chunk - 1) / per_chunk;
	s->chunks = calloc(s->maxchunks ? s->maxchunks : 1, sizeof(void *));
	return s->chunks ? 0 : -1;
}

/* Add a chunk's objects to the free list. */
static int
slab_grow(struct slab *s)
{
	uint8_t *c;
	size_t i;

	if (s->nchunks == s->maxchunks)
		return -1;
	c = malloc(s->size * s->per_chunk);
	if (c == NULL)
		return -1;
	s->chunks[s->nchunks++] = c;
	for (i = s->per_chunk; i-- > 0; ) {
		*(void **)(c + i * s->size) = s->free;
		s->free = c + i * s->size;
	}
	return 0;
}

/* Take an object, or NULL at the limit or without memory. */
void *
slab_alloc(struct slab *s)
{
	void *o;

	if (s->live >= s->max)
		return NULL;
	if (s->free == NULL && slab_grow(s) == -1)
		return NULL;
	o = s->free;
	s->free = *(void **)o;
	s->live++;
	return o;
}

/* Give an object back. */
void
slab_free(struct slab *s, void *o)
{
	*(void **)o = s->free;
	s->free = o;
	s->live--;
}

/* Release every chunk. */
void
slab_destroy(struct slab *s)
{
	size_t i;

	for (i = 0; i < s->nchunks; i++)
		free(s->chunks[i]);
	free(s->chunks);
	memset(s, 0, sizeof(*s));
}

/* Bytes held by the pool. */
size_t
slab_bytes(const struct slab *s)
{
	return s->nchunks * s->per_chunk * s->size +
	    s->maxchunks * sizeof(void *);
}

/*
 * Set up an indexed pool: objects addressed by number (slab_at). Chunks hold
 * a power of two objects (at least per_chunk) so that a number splits into
 * chunk and slot without a division.
 */
int
slab_iinit(struct slab *s, size_t size, size_t per_chunk, size_t max)
{
	unsigned shift = 0;

	while (((size_t)1 << shift) < per_chunk)
		shift++;
	if (max >= UINT32_MAX ||
	    slab_init(s, size, (size_t)1 << shift, max) == -1)
		return -1;
	s->shift = shift;
	s->ifree = UINT32_MAX;
	return 0;
}

/* Add a chunk's numbers to an indexed pool's free list, lowest first. */
static int
slab_igrow(struct slab *s)
{
	size_t i, base = s->nchunks * s->per_chunk;
	uint8_t *c;

	if (s->nchunks == s->maxchunks)
		return -1;
	/* calloc: a free object holds only its successor's number */
	c = calloc(s->per_chunk, s->size);
	if (c == NULL)
		return -1;
	s->chunks[s->nchunks++] = c;
	for (i = s->per_chunk; i-- > 0; ) {
		*(uint32_t *)(void *)(c + i * s->size) = s->ifree;
		s->ifree = (uint32_t)(base + i);
	}
	return 0;
}

/* Take an object of an indexed pool and its number; NULL at the limit. */
void *
slab_ialloc(struct slab *s, uint32_t *id)
{
	void *o;

	if (s->live >= s->max)
		return NULL;
	if (s->ifree == UINT32_MAX && slab_igrow(s) == -1)
		return NULL;
	*id = s->ifree;
	o = slab_at(s, *id);
	s->ifree = *(uint32_t *)o;
	s->live++;
	return o;
}

/* Give object number id back to its indexed pool. */
void
slab_ifree(struct slab *s, void *o, uint32_t id)
{
	*(uint32_t *)o = s->ifree;
	s->ifree = id;
	s->live--;
}
