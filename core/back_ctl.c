/*
 * back_ctl.c - the back half's answers on the control socket (see back.h):
 * `tunrelay stats` (its mode and the repairs it made) and `tunrelay
 * status` (every tunnel, as text or JSON).
 */
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "core/back_int.h"
#include "core/json.h"
#include "core/log.h"

/* `tunrelay stats` of the back half: its mode and the repairs it made. */
static void
back_stats(struct evbuffer *out, void *arg)
{
	const struct back *b = arg;

#define S(name, v) evbuffer_add_printf(out, "%s %llu\n", name, \
	    (unsigned long long)(v))
	evbuffer_add_printf(out, "mode %s\n", b->mode == CONF_MARK_CONNMARK ?
	    "connmark" : "source");
	S("rules", b->nrules);
	S("repairs", b->st.repairs);
	S("repair_errors", b->st.repair_errors);
	S("rules_restored", b->st.rules_restored);
	S("routes_restored", b->st.routes_restored);
	S("nft_restored", b->st.nft_restored);
	S("reloads", b->st.reloads);
	S("reload_errors", b->st.reload_errors);
#undef S
}

/* One tunnel's front addresses, joined with ',' (JSON: quoted). */
static void
back_status_fronts(struct evbuffer *out, const struct conf_back_tunnel *ct,
    bool json)
{
	char a[64];
	size_t i;

	for (i = 0; i < ct->nfront; i++)
		evbuffer_add_printf(out, json ? "%s\"%s\"" : "%s%s",
		    i ? "," : "", conf_addr_str(&ct->front[i], a, sizeof(a)));
}

/* Tunnel t as one status line. */
static void
back_status_text(struct evbuffer *out, const struct back *b, size_t t)
{
	const struct conf_back_tunnel *ct = &b->conf.back.tunnel[t];

	evbuffer_add_printf(out, "tunnel %s interface=%s table=%u mark=0x%x "
	    "state=%s rules=%zu front=", ct->name, ct->tunnel_interface,
	    back_table(b, t), back_mark(b, t),
	    back_state_name(back_tun_state(b, t)), b->tun[t].nrules);
	back_status_fronts(out, ct, false);
	evbuffer_add_printf(out, "\n");
}

/* Tunnel t as one JSON object (docs/json.md). */
static void
back_status_json(struct evbuffer *out, const struct back *b, size_t t)
{
	const struct conf_back_tunnel *ct = &b->conf.back.tunnel[t];

	evbuffer_add_printf(out, "%s{\"section\":", t ? "," : "");
	json_evstr(out, ct->name);
	evbuffer_add_printf(out, ",\"interface\":");
	json_evstr(out, ct->tunnel_interface);
	evbuffer_add_printf(out, ",\"table\":%u,\"mark\":%u,\"state\":\"%s\","
	    "\"rules\":%zu,\"front\":[", back_table(b, t), back_mark(b, t),
	    back_state_name(back_tun_state(b, t)),
	    b->tun[t].nrules);
	back_status_fronts(out, ct, true);
	evbuffer_add_printf(out, "]}");
}

/* `tunrelay status` of the back half: its mode and every tunnel. */
static void
back_status(struct evbuffer *out, bool json, void *arg)
{
	const struct back *b = arg;
	const char *mode = b->mode == CONF_MARK_CONNMARK ? "connmark" :
	    "source";
	size_t t;

	if (json)
		evbuffer_add_printf(out, ",\"mode\":\"%s\",\"tunnels\":[",
		    mode);
	else
		evbuffer_add_printf(out, "mode %s\n", mode);
	for (t = 0; t < b->conf.back.ntunnel; t++) {
		if (json)
			back_status_json(out, b, t);
		else
			back_status_text(out, b, t);
	}
	if (json)
		evbuffer_add_printf(out, "]");
}

/* The control socket, for tunrelay stats. */
int
back_ctl(struct back *b)
{
	char err[ERRLEN];

	if (ctl_listen(&b->ctl, b->base, b->conf.control_socket,
	    b->conf.control_group, NULL, NULL, err) == -1) {
		log_msg(LOG_CRIT, "not started: control socket: %s", err);
		return -1;
	}
	b->ctl.text = back_stats;
	b->ctl.text_arg = b;
	b->ctl.status = back_status;
	b->ctl.status_arg = b;
	b->ctl.conf_path = b->path;
	return 0;
}
