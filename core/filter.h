/*
 * filter.h - a flow filter (tunrelay flows --proto/--addr/--port/--state/
 * --rule, and --delete): every field set must match. On the control
 * socket's wire, "key=value" fields after the command, separated by tabs
 * (rule names hold spaces).
 */
#ifndef TUNRELAY_FILTER_H
#define TUNRELAY_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/errlen.h"
#include "nat/nat.h"

struct filter {
	uint8_t proto;		/* IPPROTO_*; 0: any */
	uint8_t family;		/* of addr; 0: any address */
	struct nat_addr addr;	/* either side, either tuple */
	uint16_t port;		/* either port, either tuple; 0: any */
	char state[24];		/* "established", "replied", ...; "": any */
	char rule[96];		/* "forward.web", "backend", ...; "": any */
};

/* Set one field from "proto", "addr", "port", "state", "rule"; -1 with a
 * message naming the allowed values. */
int filter_set(struct filter *, const char *key, const char *value,
    char err[ERRLEN]);
/* Whether no field is set. */
bool filter_empty(const struct filter *);
/* The wire form: "\tkey=value" per field set. */
void filter_str(const struct filter *, char *buf, size_t len);
/* Whether a flow (with its rule's name) passes the filter. */
bool filter_match(const struct filter *, const struct nat_flow_info *,
    const char *rule);

#endif
