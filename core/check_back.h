/*
 * check_back.h - the findings of `tunrelay check` for a [back]
 * (check_back.c).
 */
#ifndef TUNRELAY_CHECK_BACK_H
#define TUNRELAY_CHECK_BACK_H

#include "conf/conf.h"
#include "core/check.h"

/* Findings for a [back] config as far as scope says; the error count. */
int check_back(const struct conf *, enum check_scope);

#endif
