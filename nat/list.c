/*
 * list.c - flows as the caller sees them: described for a listing and for
 * the flow event hook, walked (callback or cursor) and deleted.
 */
#include "nat/nat_int.h"

/* The backend of a flow, for listing, when its rule has several. */
static void
nat_describe_backend(const struct nat *nat, const struct nat_flow *f,
    struct nat_flow_info *fi)
{
	const struct nat_bk *b = backend_of(nat, f);

	if (b != NULL) {
		fi->has_backend = true;
		fi->backend_id = b->st.id;
	}
}

/* Describe a flow for listing. */
static void
nat_describe(const struct nat *nat, const struct nat_flow *f, uint32_t now,
    struct nat_flow_info *fi)
{
	struct nat_key ok, rk;
	const struct nat_key *o = &ok, *r = &rk;
	uint32_t to = flow_timeout(nat, f);

	flow_key(f, 0, &ok);
	flow_key(f, 1, &rk);
	memset(fi, 0, sizeof(*fi));
	fi->family = o->family;
	fi->proto = o->proto;
	memcpy(fi->orig_src.b, o->src, 16);
	memcpy(fi->orig_dst.b, o->dst, 16);
	fi->orig_sport = o->sport;
	fi->orig_dport = o->dport;
	memcpy(fi->reply_src.b, r->src, 16);
	memcpy(fi->reply_dst.b, r->dst, 16);
	fi->reply_sport = r->sport;
	fi->reply_dport = r->dport;
	fi->state = o->proto == PROTO_TCP ? nat_tcp_state_name(f->state) :
	    (f->flags & FLOW_REPLIED) ? "replied" : "new";
	fi->assured = (f->flags & FLOW_ASSURED) != 0;
	/* a listing's clock may lag the packet path's by a moment */
	fi->age = now > f->created ? now - f->created : 0;
	fi->idle = now > f->seen ? now - f->seen : 0;
	fi->expires = fi->idle < to ? to - fi->idle : 0;
	fi->rule_id = f->rule_id;
	nat_describe_backend(nat, f, fi);
	fi->packets[0] = f->pkts[0];
	fi->packets[1] = f->pkts[1];
	fi->bytes[0] = flow_bytes(f, 0);
	fi->bytes[1] = flow_bytes(f, 1);
}

/* Call fn for every flow, oldest first. */
int
nat_flows(const struct nat *nat, uint64_t now,
    int (*fn)(const struct nat_flow_info *, void *), void *arg)
{
	const struct nat_flow *f;
	struct nat_flow_info fi;
	uint32_t id;
	int rc;

	for (id = nat->ahead; id != FLOW_NONE; id = f->all.next) {
		f = flow_at(nat, id);
		if (flow_expired(nat, f))
			continue;
		nat_describe(nat, f, (uint32_t)(now / 1000), &fi);
		if ((rc = fn(&fi, arg)) != 0)
			return rc;
	}
	return 0;
}

/* Delete every flow match() accepts; the number deleted. */
size_t
nat_flows_delete(struct nat *nat, uint64_t now,
    int (*match)(const struct nat_flow_info *, void *), void *arg)
{
	struct nat_flow *f;
	struct nat_flow_info fi;
	uint32_t id, next;
	size_t n = 0;

	for (id = nat->ahead; id != FLOW_NONE; id = next) {
		f = flow_at(nat, id);
		next = f->all.next;	/* read before the flow goes */
		nat_describe(nat, f, (uint32_t)(now / 1000), &fi);
		if (!match(&fi, arg))
			continue;
		flow_delete(nat, f);
		n++;
	}
	return n;
}

/* Start a listing walk at the oldest flow. */
int
nat_cursor_open(struct nat *nat)
{
	int i;

	for (i = 0; i < NAT_CURSORS; i++) {
		if (!nat->cursor_busy[i]) {
			nat->cursor_busy[i] = true;
			nat->cursor[i] = nat->ahead;
			return i;
		}
	}
	return -1;
}

/*
 * Visit up to max flows from a walk's position. A walk follows creation
 * order, and flow_delete() moves a cursor off a flow that goes, so flows
 * opened during the walk are listed too, each flow at most once.
 */
size_t
nat_cursor_next(struct nat *nat, int c, uint64_t now, size_t max,
    int (*fn)(const struct nat_flow_info *, void *), void *arg)
{
	struct nat_flow_info fi;
	struct nat_flow *f;
	size_t seen = 0;

	if (c < 0 || c >= NAT_CURSORS || !nat->cursor_busy[c])
		return 0;
	nat_clock(nat, now);
	while (seen < max && nat->cursor[c] != FLOW_NONE) {
		f = flow_at(nat, nat->cursor[c]);
		nat->cursor[c] = f->all.next;
		if (flow_expired(nat, f))
			continue;
		nat_describe(nat, f, nat->now, &fi);
		seen++;
		if (fn(&fi, arg) != 0)
			break;
	}
	return seen;
}

/* End a walk. */
void
nat_cursor_close(struct nat *nat, int c)
{
	if (c >= 0 && c < NAT_CURSORS) {
		nat->cursor_busy[c] = false;
		nat->cursor[c] = FLOW_NONE;
	}
}

/* Set (or clear, with NULL) the flow event hook. */
void
nat_set_flow_hook(struct nat *nat, nat_flow_hook *fn, void *arg)
{
	nat->hook = fn;
	nat->hook_arg = arg;
}

/* Tell the hook about a flow event. */
void
nat_flow_event(struct nat *nat, const struct nat_flow *f,
    enum nat_flow_event ev)
{
	struct nat_flow_info fi;

	if (nat->hook == NULL)
		return;
	nat_describe(nat, f, nat->now, &fi);
	nat->hook(&fi, ev, nat->hook_arg);
}

/* Name of a flow event. */
const char *
nat_flow_event_name(enum nat_flow_event ev)
{
	static const char *const names[NAT_FLOW_EVENT_MAX] = {
		"new", "expired", "evicted", "retargeted"
	};

	return (unsigned)ev < NAT_FLOW_EVENT_MAX ? names[ev] : "?";
}
