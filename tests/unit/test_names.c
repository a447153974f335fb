/* SPDX-License-Identifier: Apache-2.0 */
/* The name grammar (helper/names.c): what no policy can widen. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../../policy/names.h"

typedef int (*checkfn)(const char *, char *, size_t);

/* Assert that check refuses name with exactly the message want. */
static void
refused(checkfn check, const char *name, const char *want)
{
	char why[384] = "";

	cr_assert_eq(check(name, why, sizeof(why)), -1, "'%s' must be refused", name);
	cr_assert_str_eq(why, want);
}

static void
allowed(checkfn check, const char *name)
{
	char why[384] = "";

	cr_assert_eq(check(name, why, sizeof(why)), 0, "'%s' must pass: %s", name, why);
}

static char *
repeat(char c, size_t n)
{
	static char buf[512];

	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

Test(names, good_names_pass)
{
	allowed(name_check_vg, "nova-ephemeral");
	allowed(name_check_vg, "vg_0+x.y");
	allowed(name_check_lv, "6f1b3c2a-8d4e-4f5a-9b7c-1d2e3f4a5b6c_disk.eph0");
	allowed(name_check_lv, "a-snapshot"); /* reserved only as a prefix */
	allowed(name_check_dm, "6f1b3c2a-8d4e-4f5a-9b7c-1d2e3f4a5b6c_disk.local-dmcrypt");
	allowed(name_check_dm, "...");
	allowed(name_check_lv, repeat('a', 127));
}

Test(names, empty_and_null)
{
	refused(name_check_vg, "", "volume group name '': must not be empty");
	refused(name_check_lv, NULL, "LV name '(null)': must not be empty");
	refused(name_check_dm, "", "mapping name '': must not be empty");
}

Test(names, length_limit_is_127_bytes)
{
	char want[384];

	snprintf(want, sizeof(want), "LV name '%.64s...': is longer than 127 bytes",
		 repeat('a', 64));
	refused(name_check_lv, repeat('a', 128), want);
	snprintf(want, sizeof(want), "mapping name '%.64s...': is longer than 127 bytes",
		 repeat('b', 64));
	refused(name_check_dm, repeat('b', 300), want);
}

Test(names, leading_dash)
{
	refused(name_check_vg, "-vg", "volume group name '-vg': must not start with '-'");
	refused(name_check_lv, "-x", "LV name '-x': must not start with '-'");
	refused(name_check_dm, "--help", "mapping name '--help': must not start with '-'");
}

Test(names, dot_and_dotdot)
{
	refused(name_check_vg, ".", "volume group name '.': must not be '.' or '..'");
	refused(name_check_lv, "..", "LV name '..': must not be '.' or '..'");
	refused(name_check_dm, "..", "mapping name '..': must not be '.' or '..'");
}

Test(names, bytes_outside_the_charset)
{
	refused(name_check_lv, "../etc",
		"LV name '../etc': byte 2 ('/') is not one of A-Z a-z 0-9 + _ . -");
	refused(name_check_dm, "a/b",
		"mapping name 'a/b': byte 1 ('/') is not one of A-Z a-z 0-9 "
		"+ _ . -");
	refused(name_check_dm, "a b",
		"mapping name 'a b': byte 1 (' ') is not one of A-Z a-z 0-9 "
		"+ _ . -");
	refused(name_check_vg, "vg\nx",
		"volume group name 'vg\\nx': byte 2 ('\\n') is not one of "
		"A-Z a-z 0-9 + _ . -");
	refused(name_check_lv, "x\ty",
		"LV name 'x\\ty': byte 1 ('\\t') is not one of A-Z a-z 0-9 "
		"+ _ . -");
	refused(name_check_lv, "d\xc3\xa9j\xc3\xa0", /* UTF-8 "déjà" */
		"LV name 'd\\xc3\\xa9j\\xc3\\xa0': byte 1 ('\\xc3') is not one of A-Z a-z 0-9 + _ "
		". "
		"-");
	refused(name_check_dm, "it's",
		"mapping name 'it\\'s': byte 2 ('\\'') is not one of A-Z "
		"a-z 0-9 + _ . -");
	refused(name_check_dm, "a\x7f",
		"mapping name 'a\\x7f': byte 1 ('\\x7f') is not one of A-Z "
		"a-z 0-9 + _ . -");
}

Test(names, lvm_reserved_lv_names)
{
	refused(name_check_lv, "snapshot",
		"LV name 'snapshot': names starting with 'snapshot' are "
		"reserved by LVM");
	refused(name_check_lv, "pvmove0",
		"LV name 'pvmove0': names starting with 'pvmove' are "
		"reserved by LVM");
	refused(name_check_lv, "x_tmeta",
		"LV name 'x_tmeta': names containing '_tmeta' are "
		"reserved by LVM");
	refused(name_check_lv, "x_rimage_0",
		"LV name 'x_rimage_0': names containing '_rimage' "
		"are reserved by LVM");
	refused(name_check_lv, "a_cdata_b",
		"LV name 'a_cdata_b': names containing '_cdata' are "
		"reserved by LVM");
	refused(name_check_lv, "v_vorigin",
		"LV name 'v_vorigin': names containing '_vorigin' are "
		"reserved by LVM");
	/* LVM reserves these for LVs only: a VG or a mapping may carry them. */
	allowed(name_check_vg, "snapshot");
	allowed(name_check_dm, "x_tmeta");
}

Test(names, reserved_vg_and_dm_names)
{
	refused(name_check_vg, "mapper",
		"volume group name 'mapper': is reserved (/dev/mapper is "
		"not a volume group)");
	refused(name_check_vg, "disk",
		"volume group name 'disk': is reserved (/dev/disk is not a "
		"volume group)");
	refused(name_check_dm, "control",
		"mapping name 'control': is reserved "
		"(/dev/mapper/control is device-mapper's own)");
	allowed(name_check_vg, "mapper2");
}

Test(names, show_escapes_and_truncates)
{
	char out[NAME_SHOW_CAP], small[8];
	char in[70];

	name_show("a\\b'c\n\x01", out, sizeof(out));
	cr_assert_str_eq(out, "a\\\\b\\'c\\n\\x01");
	memset(in, 0xff, 69);
	in[69] = '\0';
	name_show(in, out, sizeof(out));
	cr_assert_eq(strlen(out), 64 * 4 + 3, "64 bytes as \\xff, then ...");
	cr_assert_str_eq(out + 64 * 4, "...");
	name_show("abcdefghij", small, sizeof(small));
	cr_assert_str_eq(small, "abcdefg", "a short buffer is cut, never overrun");
}

Test(names, why_may_be_null_or_short)
{
	char why[12];

	cr_assert_eq(name_check_lv("a/b", NULL, 0), -1);
	cr_assert_eq(name_check_lv("a/b", why, sizeof(why)), -1);
	cr_assert_str_eq(why, "LV name 'a/");
}
