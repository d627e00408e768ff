/*
 * ndp.c - the relay's IPv6 proxy neighbour entries (see ndp.h). Entries
 * carry the protocol tag NL_PROTO_TUNRELAY; untagged ones are never touched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include "tun/ndp.h"

/* Tell note about one change. */
static void
ndp_note(void (*note)(void *, const char *), void *arg, const char *verb,
    const struct nl_proxy *p)
{
	char a[INET6_ADDRSTRLEN], msg[128];

	if (note == NULL)
		return;
	snprintf(msg, sizeof(msg), "%s proxy neighbour entry %s on interface "
	    "#%d", verb, nl_ntop(AF_INET6, p->addr, a, sizeof(a)), p->ifindex);
	note(arg, msg);
}

/* Whether two entries name the same address on the same interface. */
static bool
ndp_same(const struct nl_proxy *a, const struct nl_proxy *b)
{
	return a->family == b->family && a->ifindex == b->ifindex &&
	    memcmp(a->addr, b->addr, 16) == 0;
}

/* Whether p is in list[0..n). */
static bool
ndp_in(const struct nl_proxy *list, size_t n, const struct nl_proxy *p)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ndp_same(&list[i], p))
			return true;
	return false;
}

/* Make the tagged entries match want (see ndp.h). */
int
ndp_sync(struct nl *nl, const struct nl_proxy *want, size_t n, bool prune,
    void (*note)(void *, const char *), void *arg, char err[ERRLEN])
{
	struct nl_proxy *have = NULL, p;
	size_t nhave = 0, i;
	int rc = -1;

	if (nl_proxy_list(nl, AF_INET6, &have, &nhave, err) == -1) {
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (ndp_in(have, nhave, &want[i]))
			continue;
		p = want[i];
		p.family = AF_INET6;
		p.protocol = NL_PROTO_TUNRELAY;
		if (nl_proxy_add(nl, &p, err) == -1) {
			goto out;
		}
		ndp_note(note, arg, "added", &p);
	}
	for (i = 0; prune && i < nhave; i++) {
		if (have[i].protocol != NL_PROTO_TUNRELAY ||
		    ndp_in(want, n, &have[i]))
			continue;
		if (nl_proxy_del(nl, &have[i], err) == -1) {
			goto out;
		}
		ndp_note(note, arg, "removed", &have[i]);
	}
	rc = 0;
out:
	free(have);
	return rc;
}

/* Delete every tagged entry. */
int
ndp_remove(struct nl *nl, void (*note)(void *, const char *), void *arg,
    char err[ERRLEN])
{
	return ndp_sync(nl, NULL, 0, true, note, arg, err);
}

/* Count the tagged entries. */
int
ndp_count(struct nl *nl, size_t *count, char err[ERRLEN])
{
	struct nl_proxy *have = NULL;
	size_t nhave = 0, i;

	*count = 0;
	if (nl_proxy_list(nl, AF_INET6, &have, &nhave, err) == -1) {
		return -1;
	}
	for (i = 0; i < nhave; i++)
		*count += have[i].protocol == NL_PROTO_TUNRELAY;
	free(have);
	return 0;
}
