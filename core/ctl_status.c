/*
 * ctl_status.c - the answer to `tunrelay status`, as text or JSON
 * (docs/json.md): version, role, uptime, devices, rules and backends.
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "core/ctl.h"
#include "core/ctl_status.h"
#include "core/front.h"
#include "core/json.h"
#include "core/stats.h"

/* Monotonic seconds. */
long long
ctl_status_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec;
}

/* status, text: one line per backend of the rules with several. */
void
ctl_status_backends(const struct stats_backend *b, size_t nb,
    struct evbuffer *out)
{
	size_t i;

	for (i = 0; i < nb; i++)
		evbuffer_add_printf(out, "backend \"%s\" state=%s weight=%u "
		    "flows=%llu flows_created=%llu packets=%llu bytes=%llu "
		    "ups=%llu downs=%llu\n", b[i].name, b[i].st.up ? "up" :
		    "down", b[i].st.weight,
		    (unsigned long long)b[i].st.flows_active,
		    (unsigned long long)b[i].st.flows_created,
		    (unsigned long long)b[i].st.packets,
		    (unsigned long long)b[i].st.bytes,
		    (unsigned long long)b[i].st.ups,
		    (unsigned long long)b[i].st.downs);
}

/* status, JSON: the backends array (docs/json.md). */
static void
ctl_status_backends_json(const struct stats_backend *b, size_t nb,
    struct evbuffer *out)
{
	size_t i;

	evbuffer_add_printf(out, ",\"backends\":[");
	for (i = 0; i < nb; i++) {
		evbuffer_add_printf(out, "%s{\"backend\":", i ? "," : "");
		json_evstr(out, b[i].name);
		evbuffer_add_printf(out, ",\"state\":\"%s\",\"weight\":%u,"
		    "\"flows\":%llu,\"flows_created\":%llu,\"packets\":%llu,"
		    "\"bytes\":%llu,\"ups\":%llu,\"downs\":%llu}",
		    b[i].st.up ? "up" : "down", b[i].st.weight,
		    (unsigned long long)b[i].st.flows_active,
		    (unsigned long long)b[i].st.flows_created,
		    (unsigned long long)b[i].st.packets,
		    (unsigned long long)b[i].st.bytes,
		    (unsigned long long)b[i].st.ups,
		    (unsigned long long)b[i].st.downs);
	}
	evbuffer_add_printf(out, "]");
}

/* How packets reach their shard's queue: ebpf, kernel (its own hash), or
 * none (one shard). */
static const char *
ctl_status_steer(const struct front *f)
{
	switch (f->steer) {
	case FRONT_STEER_EBPF:
		return "ebpf";
	case FRONT_STEER_KERNEL:
		return "kernel";
	default:
		return "none";
	}
}

/* status, text: one "key value" line each, then one line per rule. */
void
ctl_status_text(const struct ctl *c, const struct stats_rule *r, size_t nr,
    struct evbuffer *out)
{
	const struct front *f = c->front;
	char off[128];
	size_t i;

	evbuffer_add_printf(out, "version %s\nrole %s\nconfig %s\npid %ld\n"
	    "uptime %lld\nstarted_usec %llu\n", PACKAGE_VERSION, c->role,
	    c->conf_path, (long)getpid(), ctl_status_now() - c->started,
	    c->started_usec);
	if (f == NULL && c->status != NULL)
		c->status(out, false, c->status_arg);
	if (f == NULL)
		return;
	evbuffer_add_printf(out, "queues %u\nshards %u\nsteering %s\n",
	    f->nqueues, engine_shards(f->eng), ctl_status_steer(f));
	for (i = 0; i < NAT_SIDE_MAX; i++)
		if (f->side[i].used)
			evbuffer_add_printf(out, "device %s queues=%u offloads=%s\n",
			    f->side[i].dev.name, f->side[i].dev.nfds,
			    tundev_offload_str(f->side[i].dev.offloads, off,
			    sizeof(off)));
	for (i = 0; i < nr; i++)
		evbuffer_add_printf(out, "rule \"%s\" packets=%llu bytes=%llu "
		    "flows=%llu flows_created=%llu\n", r[i].name,
		    (unsigned long long)r[i].st.packets,
		    (unsigned long long)r[i].st.bytes,
		    (unsigned long long)r[i].st.flows_active,
		    (unsigned long long)r[i].st.flows_created);
}

/* status, JSON (docs/json.md). */
void
ctl_status_json(const struct ctl *c, const struct stats_rule *r, size_t nr,
    const struct stats_backend *b, size_t nb, struct evbuffer *out)
{
	const struct front *f = c->front;
	char off[128];
	size_t i, k = 0;

	evbuffer_add_printf(out, "{\"version\":\"%s\",\"role\":\"%s\","
	    "\"config\":", PACKAGE_VERSION, c->role);
	json_evstr(out, c->conf_path);
	evbuffer_add_printf(out, ",\"pid\":%ld,\"uptime\":%lld,"
	    "\"started_usec\":%llu", (long)getpid(), ctl_status_now() - c->started,
	    c->started_usec);
	if (f != NULL) {
		evbuffer_add_printf(out, ",\"queues\":%u,\"shards\":%u,"
		    "\"steering\":\"%s\",\"devices\":[", f->nqueues,
		    engine_shards(f->eng), ctl_status_steer(f));
		for (i = 0; i < NAT_SIDE_MAX; i++)
			if (f->side[i].used)
				evbuffer_add_printf(out, "%s{\"name\":\"%s\","
				    "\"queues\":%u,\"offloads\":\"%s\"}",
				    k++ ? "," : "", f->side[i].dev.name,
				    f->side[i].dev.nfds, tundev_offload_str(
				    f->side[i].dev.offloads, off, sizeof(off)));
		evbuffer_add_printf(out, "],\"rules\":[");
		for (i = 0; i < nr; i++) {
			evbuffer_add_printf(out, "%s{\"rule\":", i ? "," : "");
			json_evstr(out, r[i].name);
			evbuffer_add_printf(out, ",\"packets\":%llu,\"bytes\":"
			    "%llu,\"flows\":%llu,\"flows_created\":%llu}",
			    (unsigned long long)r[i].st.packets,
			    (unsigned long long)r[i].st.bytes,
			    (unsigned long long)r[i].st.flows_active,
			    (unsigned long long)r[i].st.flows_created);
		}
		evbuffer_add_printf(out, "]");
		ctl_status_backends_json(b, nb, out);
	} else if (c->status != NULL)
		c->status(out, true, c->status_arg);
	evbuffer_add_printf(out, "}\n");
}
