/*
 * frag.c - fragments: later fragments follow the translation of their first
 * fragment; early ones wait, within a byte budget, until it comes. A first
 * fragment the engine leaves alone (NAT_NOT_OURS: the host's own traffic)
 * makes its later fragments NAT_NOT_OURS too, and releases the early ones
 * untouched.
 */
#include <stdio.h>

#include "nat/nat_int.h"

/* Make the tracker table around its sentinel. */
int
frag_init(struct nat *nat, char *err)
{
	size_t max = nat->set.max_frags;

	nat->ht_log2 = 5;
	while (((size_t)1 << nat->ht_log2) < max && nat->ht_log2 < 24)
		nat->ht_log2++;
	if (slab_init(&nat->frag_slab, sizeof(struct frag), max < 64 ? max : 64,
	    max) == -1)
		goto oom;
	memset(&nat->frag_sentinel, 0, sizeof(nat->frag_sentinel));
	nat->frags = NULL;
	HASH_ADD(hh, nat->frags, key, FRAGKEYLEN, &nat->frag_sentinel);
	if (nat->frags == NULL)
		goto oom;
	nat->frags->hh.tbl->noexpand = 1;
	return 0;
oom:
	snprintf(err, ERRLEN, "no memory for %zu fragment trackers", max);
	return -1;
}

/* Free a queue of kept fragments, counting them as dropped when asked. */
static void
frag_free_queue(struct nat *nat, struct frag_buf *q, bool count)
{
	struct frag_buf *next;

	for (; q != NULL; q = next) {
		next = q->next;
		nat->frag_bytes -= q->len;
		if (count)
			nat->st.drops[NAT_DROP_FRAG_TIMEOUT]++;
		free(q);
	}
}

/* Forget a tracker. */
static void
frag_remove(struct nat *nat, struct frag *fr, bool count)
{
	frag_free_queue(nat, fr->queue, count);
	HASH_DELETE(hh, nat->frags, fr);
	slab_free(&nat->frag_slab, fr);
	nat->nfrags--;
	nat->st.frags_tracked = nat->nfrags;
}

/* Free every tracker and released fragment. */
void
frag_fini(struct nat *nat)
{
	struct frag *fr, *next;

	if (nat->frags == NULL)
		return;
	for (fr = nat->frag_sentinel.hh.next; fr != NULL; fr = next) {
		next = fr->hh.next;
		frag_remove(nat, fr, false);
	}
	frag_free_queue(nat, nat->ready, false);
	nat->ready = nat->ready_tail = NULL;
	HASH_CLEAR(hh, nat->frags);
	slab_destroy(&nat->frag_slab);
}

/* The tracker key of a fragment with the given (untranslated) addresses. */
static void
frag_key(struct frag_key *k, const struct pkt_info *pi, const uint8_t *src,
    const uint8_t *dst)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->src, src, pi->alen);
	memcpy(k->dst, dst, pi->alen);
	k->id = pi->frag_id;
	k->proto = pi->proto;
	k->family = pi->family;
}

/* Find a tracker, or make one (evicting the oldest when full). */
static struct frag *
frag_get(struct nat *nat, const struct frag_key *k, bool create)
{
	struct frag *fr = NULL;

	HASH_FIND(hh, nat->frags, k, FRAGKEYLEN, fr);
	if (fr != NULL || !create)
		return fr;
	if (nat->nfrags >= nat->set.max_frags && nat->frag_sentinel.hh.next)
		frag_remove(nat, nat->frag_sentinel.hh.next, true);
	fr = slab_alloc(&nat->frag_slab);
	if (fr == NULL)
		return NULL;
	memset(fr, 0, sizeof(*fr));
	fr->key = *k;
	fr->expires = nat->now + nat->set.frag_timeout;
	HASH_ADD(hh, nat->frags, key, FRAGKEYLEN, fr);
	nat->nfrags++;
	nat->st.frags_tracked = nat->nfrags;
	return fr;
}

/*
 * Translate a kept fragment (a pass tracker's stays as it came) and append
 * it to the released list.
 */
static void
frag_release(struct nat *nat, struct frag *fr, struct frag_buf *b)
{
	struct pkt_info pi;
	enum nat_drop_reason why;

	b->untouched = fr->pass;
	if (!fr->pass) {
		if (pkt_parse(&pi, b->data, b->len, false, &why) == -1) {
			nat->frag_bytes -= b->len;
			nat->st.drops[why]++;
			free(b);
			return;
		}
		nat_rewrite(nat, &pi, false, fr->nsrc, 0, fr->ndst, 0);
		nat_ttl_adjust(nat, &pi);
	}
	b->next = NULL;
	if (nat->ready_tail)
		nat->ready_tail->next = b;
	else
		nat->ready = b;
	nat->ready_tail = b;
}

/* Mark a tracker resolved and release fragments that arrived before. */
static void
frag_resolve(struct nat *nat, struct frag *fr)
{
	struct frag_buf *q, *next;

	fr->resolved = true;
	fr->expires = nat->now + nat->set.frag_timeout;
	q = fr->queue;
	fr->queue = NULL;
	for (; q != NULL; q = next) {
		next = q->next;
		frag_release(nat, fr, q);
	}
}

/*
 * Remember how a first fragment was translated (from osrc/odst to
 * nsrc/ndst), and release fragments that arrived before it.
 */
void
frag_note(struct nat *nat, const struct pkt_info *pi, const uint8_t *osrc,
    const uint8_t *odst, const uint8_t *nsrc, const uint8_t *ndst)
{
	struct frag_key k;
	struct frag *fr;

	frag_key(&k, pi, osrc, odst);
	fr = frag_get(nat, &k, true);
	if (fr == NULL)
		return;
	memcpy(fr->nsrc, nsrc, pi->alen);
	memcpy(fr->ndst, ndst, pi->alen);
	fr->pass = false;
	frag_resolve(nat, fr);
}

/*
 * A first fragment was left alone (NAT_NOT_OURS): its other fragments are
 * not ours either. Without this they would wait for a first fragment that
 * went by and be dropped, and the host's own fragmented datagrams (a large
 * DNS answer to its resolver) would never reassemble.
 */
void
frag_pass(struct nat *nat, const struct pkt_info *pi)
{
	struct frag_key k;
	struct frag *fr;

	frag_key(&k, pi, pi->src, pi->dst);
	if ((fr = frag_get(nat, &k, true)) == NULL)
		return;
	fr->pass = true;
	frag_resolve(nat, fr);
}

/* Keep a fragment that came before its first fragment. */
static enum nat_verdict
frag_keep(struct nat *nat, struct frag *fr, struct pkt_info *pi,
    enum nat_side side, enum nat_drop_reason *why)
{
	struct frag_buf *b, **tail;

	if (nat->frag_bytes + pi->len > nat->set.max_frag_bytes ||
	    (b = malloc(sizeof(*b) + pi->len)) == NULL) {
		*why = NAT_DROP_FRAG;
		return NAT_DROP;
	}
	b->next = NULL;
	b->len = pi->len;
	b->side = (uint8_t)side;
	memcpy(b->data, pi->ip, pi->len);
	for (tail = &fr->queue; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = b;
	nat->frag_bytes += pi->len;
	nat->st.frags_queued++;
	return NAT_QUEUED;
}

/* Handle a fragment other than the first. */
enum nat_verdict
frag_follow(struct nat *nat, struct pkt_info *pi, struct nat_pkt *pkt,
    enum nat_side side, enum nat_drop_reason *why)
{
	struct frag_key k;
	struct frag *fr;

	if (pkt->vnet && (pkt->vnet->flags & NAT_VNET_NEEDS_CSUM)) {
		*why = NAT_DROP_BAD_VNET;
		return NAT_DROP;
	}
	if (pi->proto == PROTO_TCP && pi->frag_off < 20) {
		/* would overwrite the TCP header of the first (RFC 1858) */
		*why = NAT_DROP_FRAG;
		return NAT_DROP;
	}
	frag_key(&k, pi, pi->src, pi->dst);
	fr = frag_get(nat, &k, false);
	if (fr != NULL && fr->resolved && fr->pass)
		return NAT_NOT_OURS;
	if (nat_ttl(nat, pi) == -1) {
		*why = NAT_DROP_TTL;	/* no ICMP error for a later fragment */
		return NAT_DROP;
	}
	if (fr != NULL && fr->resolved) {
		nat_rewrite(nat, pi, false, fr->nsrc, 0, fr->ndst, 0);
		nat_ttl_adjust(nat, pi);
		return NAT_FORWARD;
	}
	if (fr == NULL && (fr = frag_get(nat, &k, true)) == NULL) {
		*why = NAT_DROP_FRAG;
		return NAT_DROP;
	}
	return frag_keep(nat, fr, pi, side, why);
}

/* Hand out the next released fragment: 1 translated, 2 untouched. */
int
frag_pending(struct nat *nat, struct nat_pkt *pkt, enum nat_side *side)
{
	struct frag_buf *b = nat->ready;
	int rc;

	if (b == NULL)
		return 0;
	nat->ready = b->next;
	if (nat->ready == NULL)
		nat->ready_tail = NULL;
	nat->frag_bytes -= b->len;
	if (b->len > pkt->cap) {
		nat->st.drops[NAT_DROP_FRAG]++;
		free(b);
		return -1;
	}
	memcpy(pkt->data, b->data, b->len);
	pkt->len = b->len;
	if (side)
		*side = (enum nat_side)b->side;
	rc = b->untouched ? 2 : 1;
	free(b);
	return rc;
}

/* Remove up to budget expired trackers, dropping fragments still kept. */
size_t
frag_sweep(struct nat *nat, size_t budget)
{
	struct frag *fr, *next;
	size_t n = 0, removed = 0;

	for (fr = nat->frag_sentinel.hh.next; fr != NULL && n < budget;
	    fr = next, n++) {
		next = fr->hh.next;
		if ((int32_t)(nat->now - fr->expires) > 0) {
			frag_remove(nat, fr, true);
			removed++;
		}
	}
	return removed;
}

/* Bytes held by fragment tracking. */
size_t
frag_memory(const struct nat *nat)
{
	return slab_bytes(&nat->frag_slab) + nat->frag_bytes;
}
