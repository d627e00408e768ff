/*
 * frag.c - fragments: later fragments follow the translation of their first
 * fragment; early ones wait, within a byte budget, until it comes. A first
 * fragment the engine leaves alone (NAT_NOT_OURS: the host's own traffic)
 * makes its later fragments NAT_NOT_OURS too, and releases the early ones
 * untouched.
 *
 * The tables live in the first shard (nat->first, the engine itself when not
 * sharded) and are used between share_lock() and share_unlock(): a later
 * fragment may reach another shard than its first. In the helpers below
 * `nat` is the table owner (the HASH_* macros hash with its key) and `me`
 * the engine at work (its clock, settings and counters).
 */
#include <stdio.h>

#include "nat/nat_int.h"

/* Make the tracker table around its sentinel (the first shard only). */
int
frag_init(struct nat *nat, char *err)
{
	size_t max = nat->set.max_frags;

	if (nat->first != nat)
		return 0;
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
frag_free_queue(struct nat *nat, struct nat *me, struct frag_buf *q,
    bool count)
{
	struct frag_buf *next;

	for (; q != NULL; q = next) {
		next = q->next;
		nat->frag_bytes -= q->len;
		if (count)
			me->st.drops[NAT_DROP_FRAG_TIMEOUT]++;
		free(q);
	}
}

/* Forget a tracker. */
static void
frag_remove(struct nat *nat, struct nat *me, struct frag *fr, bool count)
{
	frag_free_queue(nat, me, fr->queue, count);
	HASH_DELETE(hh, nat->frags, fr);
	slab_free(&nat->frag_slab, fr);
	nat->nfrags--;
}

/* Free every tracker and released fragment (the first shard's, at its end). */
void
frag_fini(struct nat *nat)
{
	struct frag *fr, *next;

	if (nat->first != nat || nat->frags == NULL)
		return;
	for (fr = nat->frag_sentinel.hh.next; fr != NULL; fr = next) {
		next = fr->hh.next;
		frag_remove(nat, nat, fr, false);
	}
	frag_free_queue(nat, nat, nat->ready, false);
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
frag_get(struct nat *nat, struct nat *me, const struct frag_key *k,
    bool create)
{
	struct frag *fr = NULL;

	HASH_FIND(hh, nat->frags, k, FRAGKEYLEN, fr);
	if (fr != NULL || !create)
		return fr;
	if (nat->nfrags >= me->set.max_frags && nat->frag_sentinel.hh.next)
		frag_remove(nat, me, nat->frag_sentinel.hh.next, true);
	fr = slab_alloc(&nat->frag_slab);
	if (fr == NULL)
		return NULL;
	memset(fr, 0, sizeof(*fr));
	fr->key = *k;
	fr->expires = me->now + me->set.frag_timeout;
	HASH_ADD(hh, nat->frags, key, FRAGKEYLEN, fr);
	nat->nfrags++;
	return fr;
}

/*
 * Translate a kept fragment (a pass tracker's stays as it came) and append
 * it to the released list.
 */
static void
frag_release(struct nat *nat, struct nat *me, struct frag *fr,
    struct frag_buf *b)
{
	struct pkt_info pi;
	enum nat_drop_reason why;

	b->untouched = fr->pass;
	if (!fr->pass) {
		if (pkt_parse(&pi, b->data, b->len, false, &why) == -1) {
			nat->frag_bytes -= b->len;
			me->st.drops[why]++;
			free(b);
			return;
		}
		nat_rewrite(me, &pi, false, fr->nsrc, 0, fr->ndst, 0);
		nat_ttl_adjust(me, &pi);
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
frag_resolve(struct nat *nat, struct nat *me, struct frag *fr)
{
	struct frag_buf *q, *next;

	fr->resolved = true;
	fr->expires = me->now + me->set.frag_timeout;
	q = fr->queue;
	fr->queue = NULL;
	for (; q != NULL; q = next) {
		next = q->next;
		frag_release(nat, me, fr, q);
	}
}

/*
 * Remember how a first fragment was translated (from osrc/odst to
 * nsrc/ndst), and release fragments that arrived before it.
 */
void
frag_note(struct nat *me, const struct pkt_info *pi, const uint8_t *osrc,
    const uint8_t *odst, const uint8_t *nsrc, const uint8_t *ndst)
{
	struct nat *nat = me->first;
	struct frag_key k;
	struct frag *fr;

	frag_key(&k, pi, osrc, odst);
	share_lock(me);
	fr = frag_get(nat, me, &k, true);
	if (fr != NULL) {
		memcpy(fr->nsrc, nsrc, pi->alen);
		memcpy(fr->ndst, ndst, pi->alen);
		fr->pass = false;
		frag_resolve(nat, me, fr);
	}
	share_unlock(me);
}

/*
 * A first fragment was left alone (NAT_NOT_OURS): its other fragments are
 * not ours either. Without this they would wait for a first fragment that
 * went by and be dropped, and the host's own fragmented datagrams (a large
 * DNS answer to its resolver) would never reassemble.
 */
void
frag_pass(struct nat *me, const struct pkt_info *pi)
{
	struct nat *nat = me->first;
	struct frag_key k;
	struct frag *fr;

	frag_key(&k, pi, pi->src, pi->dst);
	share_lock(me);
	if ((fr = frag_get(nat, me, &k, true)) != NULL) {
		fr->pass = true;
		frag_resolve(nat, me, fr);
	}
	share_unlock(me);
}

/* Keep a fragment that came before its first fragment. */
static enum nat_verdict
frag_keep(struct nat *nat, struct nat *me, struct frag *fr,
    struct pkt_info *pi, enum nat_side side, enum nat_drop_reason *why)
{
	struct frag_buf *b, **tail;

	if (nat->frag_bytes + pi->len > me->set.max_frag_bytes ||
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
	me->st.frags_queued++;
	return NAT_QUEUED;
}

/* Handle a later fragment with the shared tables locked. */
static enum nat_verdict
frag_follow_locked(struct nat *nat, struct nat *me, struct pkt_info *pi,
    enum nat_side side, enum nat_drop_reason *why)
{
	struct frag_key k;
	struct frag *fr;

	frag_key(&k, pi, pi->src, pi->dst);
	fr = frag_get(nat, me, &k, false);
	if (fr != NULL && fr->resolved && fr->pass)
		return NAT_NOT_OURS;
	if (nat_ttl(me, pi) == -1) {
		*why = NAT_DROP_TTL;	/* no ICMP error for a later fragment */
		return NAT_DROP;
	}
	if (fr != NULL && fr->resolved) {
		nat_rewrite(me, pi, false, fr->nsrc, 0, fr->ndst, 0);
		nat_ttl_adjust(me, pi);
		return NAT_FORWARD;
	}
	if (fr == NULL && (fr = frag_get(nat, me, &k, true)) == NULL) {
		*why = NAT_DROP_FRAG;
		return NAT_DROP;
	}
	return frag_keep(nat, me, fr, pi, side, why);
}

/* Handle a fragment other than the first. */
enum nat_verdict
frag_follow(struct nat *me, struct pkt_info *pi, struct nat_pkt *pkt,
    enum nat_side side, enum nat_drop_reason *why)
{
	enum nat_verdict v;

	if (pkt->vnet && (pkt->vnet->flags & NAT_VNET_NEEDS_CSUM)) {
		*why = NAT_DROP_BAD_VNET;
		return NAT_DROP;
	}
	if (pi->proto == PROTO_TCP && pi->frag_off < 20) {
		/* would overwrite the TCP header of the first (RFC 1858) */
		*why = NAT_DROP_FRAG;
		return NAT_DROP;
	}
	share_lock(me);
	v = frag_follow_locked(me->first, me, pi, side, why);
	share_unlock(me);
	return v;
}

/* Take the next released fragment off the ready list, or NULL. */
static struct frag_buf *
frag_next_ready(struct nat *me)
{
	struct nat *nat = me->first;
	struct frag_buf *b;

	share_lock(me);
	if ((b = nat->ready) != NULL) {
		nat->ready = b->next;
		if (nat->ready == NULL)
			nat->ready_tail = NULL;
		nat->frag_bytes -= b->len;
	}
	share_unlock(me);
	return b;
}

/* Hand out the next released fragment: 1 translated, 2 untouched. */
int
frag_pending(struct nat *nat, struct nat_pkt *pkt, enum nat_side *side)
{
	struct frag_buf *b = frag_next_ready(nat);
	int rc;

	if (b == NULL)
		return 0;
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
frag_sweep(struct nat *me, size_t budget)
{
	struct nat *nat = me->first;
	struct frag *fr, *next;
	size_t n = 0, removed = 0;

	share_lock(me);
	for (fr = nat->frag_sentinel.hh.next; fr != NULL && n < budget;
	    fr = next, n++) {
		next = fr->hh.next;
		if ((int32_t)(me->now - fr->expires) > 0) {
			frag_remove(nat, me, fr, true);
			removed++;
		}
	}
	share_unlock(me);
	return removed;
}

/* Bytes held by fragment tracking (the first shard counts the shared table). */
size_t
frag_memory(const struct nat *nat)
{
	size_t n;

	if (nat->first != nat)
		return 0;
	share_lock(nat);
	n = slab_bytes(&nat->frag_slab) + nat->frag_bytes;
	share_unlock(nat);
	return n;
}

/* Fragment trackers now (the first shard reports the shared table). */
size_t
frag_tracked(const struct nat *nat)
{
	size_t n;

	if (nat->first != nat)
		return 0;
	share_lock(nat);
	n = nat->nfrags;
	share_unlock(nat);
	return n;
}
