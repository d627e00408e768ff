/*
 * check.h - the host findings of `tunrelay check` beyond what a config
 * needs to start (core/front.c and core/back.c check that): the seed's
 * troubleshooting list and more. Each finding says what is wrong and the
 * command or setting that fixes it; errors fail the check, warnings and
 * notes do not. With a front running in this network namespace, its live
 * state (rules, sysctls) is checked too.
 */
#ifndef TUNRELAY_CHECK_H
#define TUNRELAY_CHECK_H

#include "conf/conf.h"

#define CHECK_PING_MS 1000	/* how long a peer has to answer a ping */

/* Findings for a [front] config, printed; returns the number of errors. */
int check_front(const struct conf *);
/* Findings for a [back] config, printed; returns the number of errors. */
int check_back(const struct conf *);

#endif
