/*
 * test_err.c - err_prefix(): the callee's message keeps its text behind
 * the caller's context, and a message too long for the buffer is cut at
 * its end, never past the buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"

/* The context goes before the message, with ": " between. */
static void
test_prefix(void **state)
{
	char err[ERRLEN] = "No such device";

	(void)state;
	err_prefix(err, "tunnel_interface %s", "wg0");
	assert_string_equal(err, "tunnel_interface wg0: No such device");
	err_prefix(err, "netlink");
	assert_string_equal(err, "netlink: tunnel_interface wg0: No such device");
}

/* A long message is cut at the end; the buffer stays terminated. */
static void
test_long(void **state)
{
	char err[ERRLEN + 8];

	(void)state;
	memset(err, 'x', sizeof(err));
	memset(err, 'm', ERRLEN - 1);
	err[ERRLEN - 1] = '\0';
	err_prefix(err, "context");
	assert_int_equal(strlen(err), ERRLEN - 1);
	assert_memory_equal(err, "context: mmm", 12);
	assert_int_equal(err[ERRLEN], 'x');	/* nothing written past it */
}

/* A context that fills the buffer alone leaves no room for the message. */
static void
test_long_context(void **state)
{
	char err[ERRLEN] = "lost", ctx[ERRLEN + 10];

	(void)state;
	memset(ctx, 'c', sizeof(ctx) - 1);
	ctx[sizeof(ctx) - 1] = '\0';
	err_prefix(err, "%s", ctx);
	assert_int_equal(strlen(err), ERRLEN - 1);
	assert_null(strstr(err, "lost"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_long),
		cmocka_unit_test(test_long_context),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
