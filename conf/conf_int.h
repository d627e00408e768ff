/*
 * conf_int.h - shared by the files of conf/; not for other modules.
 *
 *	conf.c		conf_load(), errors, section and key bookkeeping
 *	conf_scan.c	the line scan: sections, keys, values, line numbers
 *	conf_parse.c	pure typed parsers (number, port range, address, ...)
 *	conf_key.c	one key's value through a parser, with the error message
 *	conf_front.c	[front], [forward.NAME], [hairpin], cross-checks
 *	conf_back.c	[back] and [back.NAME]
 *	conf_nat.c	conf_nat_settings(), conf_nat_backends(): the engine's
 *			rules and backends; conf_nat_checks()
 *	conf_backend.c	backend lists with weights, health check keys
 */
#ifndef TUNRELAY_CONF_INT_H
#define TUNRELAY_CONF_INT_H

#include <stdarg.h>

#include "conf/conf.h"

#define CONF_SECTIONS_MAX	1024
#define CONF_ENTRIES_MAX	4096
#define CONF_ITEM_MAX		(CONF_LINE_MAX + 1)	/* list item + NUL */
#define CONF_IFNAME_MAX		15	/* IFNAMSIZ - 1 */
#define CONF_GROUP_MAX		32
#define CONF_SOCKET_MAX		107	/* sizeof(sun_path) - 1 */
#define CONF_FORWARD_NAME_MAX	32

/* Keys allowed in [front] and [back] alike (conf_common()). */
#define CONF_COMMON_KEYS	"control_socket", "control_group"

enum conf_kind {
	CONF_SEC_UNKNOWN = 0,
	CONF_SEC_FRONT,
	CONF_SEC_BACK,
	CONF_SEC_FORWARD,
	CONF_SEC_HAIRPIN,
	CONF_SEC_BACK_TUNNEL,		/* [back.NAME] */
};

/* A section header. */
struct conf_sec {
	char	*name;		/* lowercase, as iniparser keys it */
	int	 line;
	int	 kind;		/* enum conf_kind */
	bool	 dup;		/* repeats an earlier section: keys ignored */
	bool	 broken;	/* an unreadable header: contents ignored */
};

/* A "key = value" line. */
struct conf_ent {
	size_t	 sec;		/* index in ctx->sec */
	char	*key;		/* lowercase, as iniparser keys it */
	char	*value;		/* as iniparser_getstring() returns it */
	int	 line;
	bool	 dup;		/* repeats an earlier key of its section */
	bool	 broken;	/* the value could not be read: not parsed */
};

/* The state of one conf_load(). */
struct conf_ctx {
	const char		*path;
	struct conf_errors	*errs;
	size_t			 nerr;	/* errors found, kept or not */
	size_t			 unreadable;	/* lines whose key is unknown */
	struct conf_sec		*sec;
	size_t			 nsec;
	struct conf_ent		*ent;
	size_t			 nent;
};

/* conf.c */
void	conf_error(struct conf_ctx *, int, const char *, ...)
	    __attribute__((__format__(__printf__, 3, 4)));
void	conf_bad(struct conf_ctx *, const struct conf_ent *, const char *,
	    const char *, const char *);
void	conf_missing(struct conf_ctx *, size_t, const char *, const char *);
void	conf_nomem(struct conf_ctx *, int);
const char *conf_quote(const char *, char *, size_t);
int	conf_sec_name(struct conf_ctx *, size_t, const char *);
const char *conf_join(const char *const *, char *, size_t);
const struct conf_ent *conf_find(struct conf_ctx *, size_t, const char *);
const struct conf_ent *conf_at_line(struct conf_ctx *, int);
bool	conf_present(struct conf_ctx *, size_t, const char *);
void	conf_check_keys(struct conf_ctx *, size_t, const char *const *);
void	*conf_grow(struct conf_ctx *, void *, size_t, size_t, int);
char	*conf_strdup(struct conf_ctx *, const char *, int);
void	 conf_common(struct conf_ctx *, size_t, struct conf *);
int	 conf_default_path(struct conf_ctx *, const char *, char *, size_t);

/* conf_scan.c */
int	 conf_scan_file(struct conf_ctx *);
void	 conf_scan_text(struct conf_ctx *, const char *, size_t);
void	 conf_scan_free(struct conf_ctx *);

/* conf_parse.c: NULL on success, else why the value is bad */
const char *conf_parse_u32(const char *, uint32_t, uint32_t, uint32_t *);
const char *conf_parse_range(const char *, uint16_t, uint16_t *, uint16_t *);
const char *conf_parse_addr(const char *, struct conf_addr *);
const char *conf_parse_unicast(const struct conf_addr *);
const char *conf_parse_listen(const char *, bool *, struct conf_addr *,
	    uint16_t *, uint16_t *);
/* A bare IPv6 target that also reads as ADDRESS:PORT (addr, *port). */
bool conf_parse_v6_ambiguous(const char *, char *addr, size_t len,
    long *port);
const char *conf_parse_target(const char *, struct conf_addr *, uint16_t *,
	    uint16_t *);
const char *conf_parse_ifname(const char *);
const char *conf_parse_group(const char *);
const char *conf_parse_path(const char *);
const char *conf_parse_word(const char *, const char *const *, int *);
const char *conf_parse_bool(const char *, bool *);
const char *conf_parse_protos(const char *, uint8_t *);
const char *conf_parse_exclude(const char *, struct conf_exclude *);
int	 conf_parse_item(const char **, char *, size_t);

/* conf_key.c: 0, or -1 after reporting the error */
int	 conf_key_ifname(struct conf_ctx *, const struct conf_ent *, char **);
int	 conf_key_ifnames(struct conf_ctx *, const struct conf_ent *, char ***,
	    size_t *);
int	 conf_key_u32(struct conf_ctx *, const struct conf_ent *, uint32_t,
	    uint32_t, const char *, uint32_t *);
int	 conf_key_range(struct conf_ctx *, const struct conf_ent *, uint16_t,
	    uint16_t *, uint16_t *);
int	 conf_key_bool(struct conf_ctx *, const struct conf_ent *, bool *);
int	 conf_key_word(struct conf_ctx *, const struct conf_ent *,
	    const char *const *, int *);
int	 conf_key_mss(struct conf_ctx *, const struct conf_ent *, uint8_t *,
	    uint16_t *);
int	 conf_key_addr_pair(struct conf_ctx *, const struct conf_ent *,
	    struct conf_addr *, size_t *);
int	 conf_key_addr_list(struct conf_ctx *, const struct conf_ent *,
	    struct conf_addr **, size_t *);
int	 conf_key_path(struct conf_ctx *, const struct conf_ent *, char **);
int	 conf_key_group(struct conf_ctx *, const struct conf_ent *, char **);

/* conf_ops.c: metrics, flow_log, flow_log_rate, state_file of [front] */
#define CONF_OPS_KEYS	"metrics", "flow_log", "flow_log_rate", "state_file"
void	 conf_ops_load(struct conf_ctx *, size_t, struct conf_front *);
const char *conf_ops_state_path(const char *);
const char *conf_ops_metrics(const char *, struct conf_metrics *, char *,
	    size_t);

/* conf_backend.c: backend lists and health checks */
const char *conf_backend_split(const char *, char *, size_t, uint16_t *);
bool	 conf_backend_same(const struct conf_target *,
	    const struct conf_target *);
int	 conf_backend_push(struct conf_ctx *, const struct conf_ent *,
	    const char *, struct conf_target **, size_t *,
	    const struct conf_target *);
int	 conf_backend_addrs(struct conf_ctx *, const struct conf_ent *,
	    struct conf_front *);
void	 conf_backend_firsts(struct conf_front *);
void	 conf_backend_health(struct conf_ctx *, size_t, const char *,
	    struct conf_health *, bool);

/* conf_front.c, conf_back.c */
void	 conf_front_load(struct conf_ctx *, size_t, struct conf *);
void	 conf_front_free(struct conf_front *);
void	 conf_back_load(struct conf_ctx *, size_t, struct conf *);
void	 conf_back_free(struct conf_back *);

#endif
