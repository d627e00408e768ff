/*
 * test_back_slot.c - the numbers (table and mark) of the back's tunnels
 * (core/back_slot.c): a section keeps its number across reloads whatever
 * is inserted or removed before it, a number found in the kernel goes to
 * the tunnel with its interface, new tunnels take the lowest free number,
 * and no number is ever given twice.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "conf/conf.h"
#include "core/back_slot.h"

#define NSLOTS 16

/* Fill tunnel i with a section name and an interface. */
static void
tun(struct conf_back_tunnel *t, size_t i, char *name, char *ifname)
{
	memset(&t[i], 0, sizeof(t[i]));
	t[i].name = name;
	t[i].tunnel_interface = ifname;
}

/* Every number is below NSLOTS and given once. */
static void
assert_distinct(const uint8_t *slot, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		assert_true(slot[i] < NSLOTS);
		for (j = 0; j < i; j++)
			assert_int_not_equal(slot[i], slot[j]);
	}
}

/* Without anything before: file order, [back]'s own first. */
static void
test_fresh(void **state)
{
	struct conf_back_tunnel t[3];
	uint8_t slot[3];

	(void)state;
	tun(t, 0, "back", "wg0");
	tun(t, 1, "back.b", "wg1");
	tun(t, 2, "back.c", "wg2");
	back_slot_assign(NULL, 0, t, 3, NSLOTS, slot);
	assert_int_equal(slot[0], 0);
	assert_int_equal(slot[1], 1);
	assert_int_equal(slot[2], 2);
}

/* A section inserted before another: the other keeps its number. */
static void
test_insert_before(void **state)
{
	const struct back_slot_prev prev[] = {
		{ "back", "wg0", 0 }, { "back.b", "wg1", 1 },
	};
	struct conf_back_tunnel t[3];
	uint8_t slot[3];

	(void)state;
	tun(t, 0, "back", "wg0");
	tun(t, 1, "back.c", "wg2");
	tun(t, 2, "back.b", "wg1");
	back_slot_assign(prev, 2, t, 3, NSLOTS, slot);
	assert_int_equal(slot[0], 0);
	assert_int_equal(slot[1], 2);
	assert_int_equal(slot[2], 1);
}

/* A section removed before others: they keep theirs, its number is free. */
static void
test_remove_then_add(void **state)
{
	const struct back_slot_prev prev[] = {
		{ "back", "wg0", 0 }, { "back.b", "wg1", 1 },
		{ "back.c", "wg2", 2 },
	};
	struct conf_back_tunnel t[3];
	uint8_t slot[3];

	(void)state;
	tun(t, 0, "back.c", "wg2");
	tun(t, 1, "back.b", "wg1");
	back_slot_assign(prev, 3, t, 2, NSLOTS, slot);
	assert_int_equal(slot[0], 2);
	assert_int_equal(slot[1], 1);
	/* the lowest free number goes to the next new section */
	tun(t, 2, "back.d", "wg3");
	back_slot_assign(prev + 1, 2, t, 3, NSLOTS, slot);
	assert_int_equal(slot[2], 0);
}

/* A section whose interface changed is a new tunnel: a new number. */
static void
test_interface_changed(void **state)
{
	const struct back_slot_prev prev[] = {
		{ "back.a", "wg0", 0 }, { "back.b", "wg1", 1 },
	};
	struct conf_back_tunnel t[2];
	uint8_t slot[2];

	(void)state;
	tun(t, 0, "back.b", "wg9");
	tun(t, 1, "back.a", "wg0");
	back_slot_assign(prev, 2, t, 2, NSLOTS, slot);
	assert_int_equal(slot[1], 0);
	/* its old number was freed with its old tunnel: the lowest free */
	assert_int_equal(slot[0], 1);
	/* with a lower number free, it takes that one */
	back_slot_assign(prev + 1, 1, t, 2, NSLOTS, slot);
	assert_int_equal(slot[0], 0);
	assert_int_equal(slot[1], 1);
}

/* A renamed section on the same interface keeps the interface's number. */
static void
test_renamed(void **state)
{
	const struct back_slot_prev prev[] = {
		{ "back.a", "wg0", 0 }, { "back.b", "wg1", 1 },
	};
	struct conf_back_tunnel t[2];
	uint8_t slot[2];

	(void)state;
	tun(t, 0, "back.new", "wg5");
	tun(t, 1, "back.tokyo", "wg1");
	back_slot_assign(prev, 2, t, 2, NSLOTS, slot);
	assert_int_equal(slot[1], 1);
	assert_int_equal(slot[0], 0);
}

/* The name wins over the interface when both could claim a number. */
static void
test_name_first(void **state)
{
	const struct back_slot_prev prev[] = {
		{ "back.a", "wg0", 3 },
	};
	struct conf_back_tunnel t[2];
	uint8_t slot[2];

	(void)state;
	/* back.x has wg0 too (as a file could not, but prev could differ) */
	tun(t, 0, "back.x", "wg0");
	tun(t, 1, "back.a", "wg0");
	back_slot_assign(prev, 1, t, 2, NSLOTS, slot);
	assert_int_equal(slot[1], 3);
	assert_int_equal(slot[0], 0);
}

/* At start: numbers found in the kernel, by interface, whatever the order. */
static void
test_recovered(void **state)
{
	const struct back_slot_prev prev[] = {
		{ NULL, "b-wgb", 1 }, { NULL, "b-wga", 0 },
		{ NULL, "gone0", 4 },
	};
	struct conf_back_tunnel t[4];
	uint8_t slot[4];

	(void)state;
	tun(t, 0, "back", "b-wga");
	tun(t, 1, "back.c", "wg-c");
	tun(t, 2, "back.b", "b-wgb");
	tun(t, 3, "back.d", "wg-d");
	back_slot_assign(prev, 3, t, 4, NSLOTS, slot);
	assert_int_equal(slot[0], 0);
	assert_int_equal(slot[2], 1);
	/* new tunnels: the lowest numbers nobody kept (4 is free again) */
	assert_int_equal(slot[1], 2);
	assert_int_equal(slot[3], 3);
}

/* Kernel findings that disagree: one number, one tunnel; bad numbers ignored. */
static void
test_conflicts(void **state)
{
	const struct back_slot_prev prev[] = {
		{ NULL, "wg0", 1 }, { NULL, "wg1", 1 }, { NULL, "wg0", 2 },
		{ NULL, "wg2", NSLOTS }, { NULL, "wg3", BACK_SLOT_NONE },
	};
	struct conf_back_tunnel t[4];
	uint8_t slot[4];

	(void)state;
	tun(t, 0, "back.b", "wg1");
	tun(t, 1, "back.a", "wg0");
	tun(t, 2, "back.c", "wg2");
	tun(t, 3, "back.d", "wg3");
	back_slot_assign(prev, 5, t, 4, NSLOTS, slot);
	assert_int_equal(slot[0], 1);	/* wg1 came first in file order */
	assert_int_equal(slot[1], 2);	/* wg0's other finding */
	assert_int_equal(slot[2], 0);
	assert_int_equal(slot[3], 3);
	assert_distinct(slot, 4);
}

/* Sixteen tunnels, shuffled against what was before: all numbers given. */
static void
test_full(void **state)
{
	static char *names[NSLOTS] = { "back.a", "back.b", "back.c",
	    "back.d", "back.e", "back.f", "back.g", "back.h", "back.i",
	    "back.j", "back.k", "back.l", "back.m", "back.n", "back.o",
	    "back.p" };
	static char *ifs[NSLOTS] = { "w0", "w1", "w2", "w3", "w4", "w5",
	    "w6", "w7", "w8", "w9", "w10", "w11", "w12", "w13", "w14", "w15" };
	struct back_slot_prev prev[NSLOTS];
	struct conf_back_tunnel t[NSLOTS];
	uint8_t slot[NSLOTS];
	size_t i, j;

	(void)state;
	for (i = 0; i < NSLOTS; i++) {
		prev[i].name = names[i];
		prev[i].ifname = ifs[i];
		prev[i].slot = (uint8_t)((i * 7) % NSLOTS);
	}
	/* reversed, with the first eight replaced by new sections */
	for (i = 0; i < NSLOTS; i++) {
		j = NSLOTS - 1 - i;
		tun(t, i, j < 8 ? ifs[j] : names[j], ifs[j]);
	}
	back_slot_assign(prev, NSLOTS, t, NSLOTS, NSLOTS, slot);
	assert_distinct(slot, NSLOTS);
	for (i = 0; i < NSLOTS; i++) {
		j = NSLOTS - 1 - i;
		/* kept sections by name, renamed ones by interface */
		assert_int_equal(slot[i], prev[j].slot);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh),
		cmocka_unit_test(test_insert_before),
		cmocka_unit_test(test_remove_then_add),
		cmocka_unit_test(test_interface_changed),
		cmocka_unit_test(test_renamed),
		cmocka_unit_test(test_name_first),
		cmocka_unit_test(test_recovered),
		cmocka_unit_test(test_conflicts),
		cmocka_unit_test(test_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
