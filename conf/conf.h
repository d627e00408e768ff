/*
 * conf.h - the tunrelay configuration file: parsing and strict validation.
 *
 * conf_load() reads one INI file (iniparser) into plain structs and checks
 * every key with its own small typed parser. It makes no system call other
 * than reading the file: whether interfaces exist, which addresses they
 * carry and whether the group exists are host checks for the daemon.
 *
 * Every error names the file, the line, the section and the key, quotes the
 * bad value and says what is allowed, e.g.
 *
 *	tunrelay.ini:7: [front] max_flows: "12x" is not a number
 *	    (allowed: 1..16777216)		(one line)
 *
 * All errors are collected (in file order) before conf_load() gives up.
 */
#ifndef TUNRELAY_CONF_H
#define TUNRELAY_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/errlen.h"
#include "nat/nat.h"

#define CONF_ERRORS_MAX		64	/* messages kept; the rest counted */
#define CONF_FILE_MAX		(1024 * 1024)	/* bytes */
#define CONF_LINE_MAX		1000	/* characters per line */

/* Defaults (docs/engine.md, RFC 4787/5382/5508 minimums). */
#define CONF_MAX_FLOWS		262144
#define CONF_MAX_FLOWS_MAX	16777216
#define CONF_TCP_ESTABLISHED	7440
#define CONF_TCP_TRANSITORY	240
#define CONF_UDP_TIMEOUT	300
#define CONF_UDP_TIMEOUT_MIN	120
#define CONF_ICMP_TIMEOUT	60
#define CONF_TIMEOUT_MAX	604800	/* one week */
#define CONF_NAT_PORT_LO	61000
#define CONF_NAT_PORT_HI	65534
#define CONF_QUEUES_MAX		64
#define CONF_MSS_MIN		536
#define CONF_MSS_MAX		65495
#define CONF_PER_SOURCE_RATE_MAX	1000000
#define CONF_SOCKET_DIR		"/run/tunrelay"
#define CONF_STATE_PATH_MAX	250	/* bytes: FILE.new must fit a name */

/* One message; line 0 when it concerns the whole file. */
struct conf_error {
	int	line;
	char	msg[ERRLEN];
};

/* Every problem found in a file, in file order. */
struct conf_errors {
	size_t			n;		/* messages in e[] */
	size_t			lost;		/* further errors not kept */
	struct conf_error	e[CONF_ERRORS_MAX];
};

enum conf_role {
	CONF_ROLE_NONE = 0,
	CONF_ROLE_FRONT,		/* [front]: the relay */
	CONF_ROLE_BACK,			/* [back]: the backend */
};

enum conf_mss {
	CONF_MSS_PMTU = 0,		/* clamp to the egress MTU (default) */
	CONF_MSS_OFF,			/* no clamping */
	CONF_MSS_FIXED,			/* clamp to mss */
};

enum conf_mark {
	CONF_MARK_AUTO = 0,		/* connmark, else source */
	CONF_MARK_CONNMARK,		/* netfilter connmark + fwmark rule */
	CONF_MARK_SOURCE,		/* source-address rules, no netfilter */
};

/* An address; family 4 or 6, IPv4 in the first 4 bytes. */
struct conf_addr {
	uint8_t		family;
	struct nat_addr	addr;
};

/* One backend of a list: "10.22.22.1:80 weight=2". */
struct conf_target {
	struct conf_addr a;
	uint16_t	 port;		/* first target port; 0: the public port */
	uint16_t	 weight;	/* 1..NAT_WEIGHT_MAX, default 1 */
};

#define CONF_TARGETS_MAX	64	/* backends in one list */

enum conf_check_kind {
	CONF_CHECK_NONE = 0,		/* no health checks (the default) */
	CONF_CHECK_TCP,			/* a TCP connect to the backend */
	CONF_CHECK_ICMP,		/* an ICMP echo to the backend */
};

/* Health checks of a list's backends (check = ..., check_interval = ...). */
struct conf_health {
	uint8_t		 kind;		/* enum conf_check_kind */
	uint16_t	 port;		/* tcp: 0 = each backend's target port */
	uint32_t	 interval;	/* seconds between checks */
	uint32_t	 timeout;	/* seconds a check may take, <= interval */
	uint32_t	 rise;		/* passes in a row that bring one up */
	uint32_t	 fall;		/* failures in a row that take one down */
};

#define CONF_CHECK_INTERVAL	5
#define CONF_CHECK_INTERVAL_MAX	3600
#define CONF_CHECK_TIMEOUT	2
#define CONF_CHECK_TIMEOUT_MAX	60
#define CONF_CHECK_RISE		2
#define CONF_CHECK_FALL		3
#define CONF_CHECK_COUNT_MAX	100

/* One exclude item, e.g. tcp/8000-8100. */
struct conf_exclude {
	uint8_t		protos;		/* NAT_P_TCP or NAT_P_UDP */
	uint16_t	port_lo;
	uint16_t	port_hi;
};

/* One [forward.NAME] section. */
struct conf_forward {
	char		*name;		/* NAME, lowercase */
	int		 line;		/* line of the section header */
	int		 listen_line;	/* line of its listen key */
	uint8_t		 protos;	/* NAT_P_TCP and/or NAT_P_UDP */
	uint8_t		 family;	/* 4 or 6: of to, and of listen_addr */
	bool		 match_dst;	/* listen named an address */
	struct nat_addr	 listen_addr;
	uint16_t	 listen_lo;	/* public port range */
	uint16_t	 listen_hi;
	struct nat_addr	 to;		/* the first of targets */
	uint16_t	 to_port;	/* first target port; 0: same port */
	uint8_t		 source;	/* enum nat_source */
	struct conf_target *targets;	/* every backend of to, in order */
	size_t		 ntargets;	/* >= 1 */
	struct conf_health health;
};

/* [front] metrics: where the Prometheus endpoint listens. */
struct conf_metrics {
	bool		 on;		/* false: metrics = off (the default) */
	char		*path;		/* unix:PATH, else NULL */
	struct conf_addr addr;		/* HOST:PORT (127.0.0.1 for PORT alone) */
	uint16_t	 port;
};

#define CONF_TABLE_FULL_ICMP_RATE	10	/* ICMP errors per second */
#define CONF_TABLE_FULL_ICMP_RATE_MAX	100000
#define CONF_FLOW_LOG_RATE	100	/* lines per second */
#define CONF_FLOW_LOG_RATE_MAX	100000
#define CONF_BUSY_POLL_MAX	1000	/* busy_poll: microseconds */

/* [front], with its [forward.*] and [hairpin] sections. */
struct conf_front {
	char			*public_interface;
	char			*tunnel_interface;	/* NULL: none */
	struct conf_addr	 backend[2];	/* the first of each family */
	size_t			 nbackend;	/* 0: forwards only */
	struct conf_target	*backends;	/* every backend, in order */
	size_t			 nbackends;
	struct conf_health	 backend_health;	/* backend_check... */
	struct conf_exclude	*exclude;
	size_t			 nexclude;
	uint8_t			 mss_mode;	/* enum conf_mss */
	uint16_t		 mss;		/* CONF_MSS_FIXED */
	uint32_t		 max_flows;
	uint32_t		 tcp_established_timeout;	/* seconds */
	uint32_t		 tcp_transitory_timeout;
	uint32_t		 udp_timeout;
	uint32_t		 icmp_timeout;
	bool			 tcp_pickup;
	bool			 table_full_icmp;	/* answer refused flows */
	uint32_t		 table_full_icmp_rate;	/* such answers a second */
	uint16_t		 nat_port_lo;
	uint16_t		 nat_port_hi;
	unsigned int		 queues;	/* 1..64; 0 = auto */
	bool			 tun_io_rw;	/* tun_io = readwrite: no io_uring */
	uint32_t		 busy_poll;	/* microseconds; 0: off */
	unsigned int		 shards;	/* 1: one engine; 0: auto */
	uint32_t		 per_source_flows;	/* 0: no limit */
	uint32_t		 per_source_rate;	/* new flows/s; 0: no limit */
	uint32_t		 per_source_burst;	/* 0: per_source_rate */
	bool			 route_other;	/* other_traffic = route */
	struct conf_forward	*forward;	/* in file order */
	size_t			 nforward;
	char			**hairpin;	/* [hairpin] interfaces */
	size_t			 nhairpin;	/* 0: no [hairpin] */
	struct conf_metrics	 metrics;
	bool			 flow_log;	/* log new and closed flows */
	uint32_t		 flow_log_rate;	/* lines per second */
	char			*state_file;	/* saved flows; NULL: off */
};

#define CONF_BACK_TUNNELS_MAX	16	/* [back]'s own tunnel and [back.NAME] */

/* One tunnel to a front: [back]'s own keys, or a [back.NAME] section. */
struct conf_back_tunnel {
	char			*name;		/* the section: "back" or "back.NAME" */
	int			 line;		/* line of its section header */
	char			*tunnel_interface;
	struct conf_addr	 front[2];	/* the front's tunnel addresses */
	size_t			 nfront;
	struct conf_addr	*service;	/* service_addresses */
	size_t			 nservice;
};

/*
 * [back] and its [back.NAME] sections: tunnel[0] is [back]'s own tunnel when
 * it names one, then the [back.NAME] sections in file order (the table and
 * mark are the tunnel's number, kept across reloads: core/back_slot.h).
 */
struct conf_back {
	struct conf_back_tunnel	*tunnel;
	size_t			 ntunnel;	/* 1..CONF_BACK_TUNNELS_MAX */
	uint8_t			 mark;		/* enum conf_mark */
	uint8_t			 mss_mode;	/* enum conf_mss */
	uint16_t		 mss;
};

/* A loaded file. */
struct conf {
	char		*path;		/* as given to conf_load() */
	enum conf_role	 role;
	char		*control_socket;	/* /run/tunrelay/NAME.sock */
	char		*control_group;		/* NULL: none */
	struct conf_front front;	/* role CONF_ROLE_FRONT */
	struct conf_back back;		/* role CONF_ROLE_BACK */
};

/*
 * Load and check path. Returns 0 and fills *out, or -1 with every error in
 * *errs and *out untouched (a reload with a bad file keeps the old one).
 * *errs is about 33 KB: keep it off small stacks. Not thread-safe (it sets
 * iniparser's global error callback while loading).
 */
int	conf_load(const char *path, struct conf *out, struct conf_errors *errs);
/* Free what conf_load() allocated; *c is zeroed. */
void	conf_free(struct conf *c);

/* AF_INET or AF_INET6 for family 4 or 6. */
int	conf_af(uint8_t family);

/* Print an address of family 4 or 6 into buf ("?" when it cannot be). */
const char *conf_ntop(uint8_t family, const struct nat_addr *a, char *buf,
	    size_t len);

/* Print a configured address into buf. */
const char *conf_addr_str(const struct conf_addr *a, char *buf, size_t len);

/* Print an exclude item as written ("tcp/22", "udp/8000-8100"). */
const char *conf_exclude_str(const struct conf_exclude *x, char *buf,
	    size_t len);

/*
 * The engine's view of a front config (docs/engine.md).
 *
 * Fills *s (zeroed first) with max_flows, the timeouts, tcp_no_pickup,
 * mss_clamp, nat_port_lo/hi and ttl_mode = NAT_TTL_RESTORE, and writes the
 * rules, in this order, into rules[0..*nrules) (*nrules: capacity in, count
 * out; conf_nat_nrules() gives the count needed):
 *
 *   1. every exclude item as a NAT_RULE_PASS rule, once per family in use;
 *   2. the forwards in file order (NAT_RULE_DNAT);
 *   3. one default rule per backend address: TCP, UDP and ICMP, ports 1..65535,
 *      port kept, source kept.
 *
 * s->rules/s->nrules point at rules. The caller still sets what conf cannot
 * know: hash_key and port_seed (randomness); relay_src of every rule with
 * source NAT_SOURCE_RELAY (the egress interface's address of that family);
 * hairpin4/6 and hairpin_src4/6 (the [hairpin] interfaces' addresses); and
 * mtu when mss_mode is CONF_MSS_PMTU (the egress MTU; left 0 no clamping
 * happens). Returns -1 with a message in err when c is not a front config
 * or rules is too small.
 */
int	conf_nat_settings(const struct conf *c, struct nat_settings *s,
	    struct nat_rule *rules, size_t *nrules, char err[ERRLEN]);
/* Rules conf_nat_settings() writes for c. */
size_t	conf_nat_nrules(const struct conf *c);
/*
 * Describe a rule by its id ("exclude tcp/22", "forward.web",
 * "backend 10.22.22.1") for flow listings; "rule ID" when unknown.
 */
const char *conf_nat_rule_name(const struct conf *c, uint32_t id, char *buf,
	    size_t len);

/*
 * The backend lists as the engine's: rules with several backends, or with
 * health checks, get backend_first/backend_count into bk[0..*nbk) (*nbk:
 * capacity in, count out; conf_nat_nbackends() gives the count needed),
 * and s->backends points at bk. Call after conf_nat_settings() with its
 * rules (s->rules, writable); rules of no such list are left alone.
 */
int	conf_nat_backends(const struct conf *c, struct nat_settings *s,
	    struct nat_rule *rules, struct nat_backend *bk, size_t *nbk,
	    char err[ERRLEN]);
/* Backends conf_nat_backends() writes for c. */
size_t	conf_nat_nbackends(const struct conf *c);
/* Describe a backend by its id ("forward.web 10.22.22.1:80"). */
const char *conf_nat_backend_name(const struct conf *c, uint32_t id,
	    char *buf, size_t len);

/* One backend to check, as conf_nat_checks() lists them. */
struct conf_check {
	uint32_t		 id;		/* the engine's backend id */
	struct conf_addr	 a;
	uint16_t		 port;		/* tcp: the port to connect to */
	const struct conf_health *health;
};
/* Fill out[0..max) with every backend that has checks; their number. */
size_t	conf_nat_checks(const struct conf *c, struct conf_check *out,
	    size_t max);

/* Backend ids: the rule's id with the backend's place in its list. */
#define CONF_BACKEND_ID(rule, j)	(CONF_RULE_KIND(rule) | \
	(CONF_RULE_INDEX(rule) << 8) | (uint32_t)(j))
#define CONF_BACKEND_RULE(id)	(CONF_RULE_KIND(id) | \
	((CONF_RULE_INDEX(id) >> 8) & 0xffffU))
#define CONF_BACKEND_PLACE(id)	((id) & 0xffU)

/* Rule ids: kind in the top byte, index in the kind below it. */
#define CONF_RULE_EXCLUDE	(1U << 24)
#define CONF_RULE_FORWARD	(2U << 24)
#define CONF_RULE_BACKEND	(3U << 24)
#define CONF_RULE_HOST		(4U << 24)	/* the front's: ports the host keeps */
#define CONF_RULE_KIND(id)	((id) & 0xff000000U)
#define CONF_RULE_INDEX(id)	((id) & 0x00ffffffU)

#endif
