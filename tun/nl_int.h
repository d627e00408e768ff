/*
 * nl_int.h - what the rtnetlink files of tun/ share among themselves (not
 * for users of tun/): the request/reply loop, dumps into arrays, attribute
 * helpers and the names ip(8) prints. nl.c defines them; nl_rule.c,
 * nl_route.c and nl_link.c build on them.
 */
#ifndef TUNRELAY_NL_INT_H
#define TUNRELAY_NL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libmnl/libmnl.h>

#include "tun/nl.h"

/* Large enough for any request built here (a rule with every attribute). */
#define NL_REQSIZE 1024

/* A growing array of parsed objects, filled by a dump. */
struct nl_collect {
	int (*parse)(const void *, size_t, void *, char *);
	bool (*keep)(const void *obj, const void *karg);
	const void *karg;
	size_t size;		/* of one object */
	char *arr;
	size_t n, cap;
	int bad;		/* -1 after a malformed message or no memory */
	char err[ERRLEN];
};

/* Data callback of a single-object request: parse the first match. */
struct nl_one {
	int (*parse)(const void *, size_t, void *, char *);
	void *obj;
	int found;		/* 1 found, -1 malformed */
	char err[ERRLEN];
};

/* Attribute table for mnl_attr_parse: keeps the last of each type. */
struct nl_tb {
	const struct nlattr *tb[64];
	size_t max;		/* highest type stored */
	bool unknown;		/* an attribute above max was seen */
};

size_t nl_addrlen(int family);
const void *nl_attr_fixed(const struct nlattr *, enum mnl_attr_data_type,
    size_t len);
int nl_attr_addr(const struct nlattr *, int family, uint8_t *dst);
int nl_attr_ifname(const struct nlattr *, char *dst);
int nl_tb_cb(const struct nlattr *, void *data);
const struct nlmsghdr *nl_msg_check(const void *buf, size_t len,
    uint16_t type, size_t hdrlen, int *skip, char err[ERRLEN]);
int nl_prefix_from(struct nl_prefix *, int family, unsigned int len,
    const struct nlattr *);

int nl_talk(struct nl *, struct nlmsghdr *, mnl_cb_t fn, void *arg,
    bool *intr, const char *what, char err[ERRLEN]);
int nl_dump(struct nl *, struct nlmsghdr *, struct nl_collect *,
    const char *what, char err[ERRLEN]);
int nl_one_cb(const struct nlmsghdr *, void *data);
int nl_one_result(struct nl_one *, const char *what, char err[ERRLEN]);

void nl_cat(char *buf, size_t len, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
const char *nl_table_name(uint32_t table, char *buf, size_t len);
const char *nl_rtproto_name(uint8_t, char *buf, size_t len);

#endif
