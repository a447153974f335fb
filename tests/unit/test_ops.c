/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The mechanisms' pure parts on the host: LVM's JSON reports and stderr, and
 * the split of an LVM device-mapper name into its VG and LV.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <string.h>

#include "../../helper/ops/dm.h"
#include "../../helper/ops/lvm.h"

/* --- LVM's JSON reports ----------------------------------------------------- */

#define VGS_REPORT(rows) "{\"report\": [{\"vg\": [" rows "]}]}"
#define VG_ROW                                                                                     \
	"{\"vg_name\":\"vg0\", \"vg_size\":\"1069547520\", \"vg_free\":\"4194304\", "              \
	"\"vg_extent_size\":\"4194304\"}"

Test(lvm_report, vg_fields_are_read_as_bytes)
{
	struct vg_info vi;
	struct op_error e;

	cr_assert_eq(lvm_parse_vg(VGS_REPORT(VG_ROW), "vg0", &vi, &e), 0, "%s", e.why);
	cr_assert_eq(vi.size, 1069547520);
	cr_assert_eq(vi.free, 4194304);
	cr_assert_eq(vi.extent_size, 4194304);
}

Test(lvm_report, no_row_is_enoent_two_rows_too)
{
	struct vg_info vi;
	struct op_error e;

	cr_assert_eq(lvm_parse_vg(VGS_REPORT(""), "vg0", &vi, &e), -ENOENT);
	cr_assert_str_eq(e.why, "volume group 'vg0' not found");
	cr_assert_eq(lvm_parse_vg(VGS_REPORT(VG_ROW "," VG_ROW), "vg0", &vi, &e), -ENOENT);
}

Test(lvm_report, garbage_and_bad_fields_are_eio)
{
	struct vg_info vi;
	struct op_error e;

	cr_assert_eq(lvm_parse_vg("  Volume group vg0 not found", "vg0", &vi, &e), -EIO);
	cr_assert_str_eq(e.why, "vg_info: unexpected lvm report output");
	cr_assert_eq(lvm_parse_vg(NULL, "vg0", &vi, &e), -EIO);
	cr_assert_eq(lvm_parse_vg("{\"report\": [{\"lv\": []}]}", "vg0", &vi, &e), -EIO);
	cr_assert_eq(lvm_parse_vg(VGS_REPORT("{\"vg_size\":\"-1\", \"vg_free\":\"1\", "
					     "\"vg_extent_size\":\"1\"}"),
				  "vg0", &vi, &e),
		     -EIO);
	cr_assert_str_eq(e.why, "vg_info: unexpected lvm report fields");
}

Test(lvm_report, lv_row)
{
	const char *json =
		"{\"report\": [{\"lv\": [{\"lv_name\":\"d\", \"lv_path\":\"/dev/vg0/d\", "
		"\"lv_size\":\"8388608\", \"lv_active\":\"active\", "
		"\"lv_device_open\":\"\"}]}]}";
	struct lv_info li;
	struct op_error e;

	cr_assert_eq(lvm_parse_lv(json, "vg0/d", &li, &e), 0, "%s", e.why);
	cr_assert_str_eq(li.path, "/dev/vg0/d");
	cr_assert_eq(li.size, 8388608);
	cr_assert(li.active);
	cr_assert_not(li.open);
	cr_assert_eq(lvm_parse_lv("{\"report\": [{\"lv\": []}]}", "vg0/d", &li, &e), -ENOENT);
	cr_assert_str_eq(e.why, "logical volume 'vg0/d' not found");
}

Test(lvm_report, names_in_order)
{
	const char *json = "{\"report\": [{\"lv\": [{\"lv_name\":\"a\"}, {\"lv_name\":\"b_disk\"}, "
			   "{\"other\":1}]}]}";
	struct lvm_names ln;
	struct op_error e;

	cr_assert_eq(lvm_parse_names(json, &ln, &e), 0, "%s", e.why);
	cr_assert_eq(ln.n, 3);
	cr_assert_str_eq(ln.names[0], "a");
	cr_assert_str_eq(ln.names[1], "b_disk");
	cr_assert_str_eq(ln.names[2], "", "a row without a name gives an empty one");
	lvm_names_free(&ln);
	cr_assert_eq(lvm_parse_names("[]", &ln, &e), -EIO);
	cr_assert_null(ln.names);
}

/* --- LVM's reason on stderr ------------------------------------------------- */

Test(lvm_reason, last_line_that_is_not_a_warning)
{
	char buf[128];

	cr_assert_str_eq(lvm_reason("  WARNING: setpriority failed\n"
				    "  Logical volume \"x\" already exists in volume group \"vg\"\n"
				    "  WARNING: again\n",
				    buf, sizeof(buf)),
			 "Logical volume \"x\" already exists in volume group \"vg\"");
}

Test(lvm_reason, the_device_error_behind_a_failed_write_is_named)
{
	char buf[256];

	cr_assert_str_eq(
		lvm_reason("  Error writing device /dev/mapper/pv at 5632 length 1536.\n"
			   "  WARNING: bcache_invalidate: block (0, 0) still dirty.\n"
			   "  Failed to write metadata to /dev/mapper/pv.\n"
			   "  Failed to write VG vg.\n",
			   buf, sizeof(buf)),
		"Failed to write VG vg. Error writing device /dev/mapper/pv at 5632 length "
		"1536.");
	cr_assert_str_eq(
		lvm_reason("  Error reading device /dev/sdz at 0 length 512.\n", buf, sizeof(buf)),
		"Error reading device /dev/sdz at 0 length 512.", "said once");
}

Test(lvm_reason, control_bytes_blanked_and_empty_said)
{
	char buf[64];

	cr_assert_str_eq(lvm_reason("bad\tthing\x1b[0m", buf, sizeof(buf)), "bad thing [0m");
	cr_assert_str_eq(lvm_reason("", buf, sizeof(buf)), "no reason given");
	cr_assert_str_eq(lvm_reason(NULL, buf, sizeof(buf)), "no reason given");
	cr_assert_str_eq(lvm_reason("  WARNING: only\n", buf, sizeof(buf)), "no reason given");
}

/* --- LVM dm names ------------------------------------------------------------ */

Test(dm_name, splits_at_the_single_dash)
{
	char vg[OP_NAME_CAP], lv[OP_NAME_CAP];

	cr_assert_eq(mapper_split_lvm_name("vg0-disk", vg, lv), 0);
	cr_assert_str_eq(vg, "vg0");
	cr_assert_str_eq(lv, "disk");
	cr_assert_eq(mapper_split_lvm_name("nova--ephemeral-a--b_disk", vg, lv), 0);
	cr_assert_str_eq(vg, "nova-ephemeral");
	cr_assert_str_eq(lv, "a-b_disk");
}

Test(dm_name, hidden_layers_and_non_lvm_names_refused)
{
	char vg[OP_NAME_CAP], lv[OP_NAME_CAP];
	char longname[OP_NAME_CAP + 8];

	cr_assert_eq(mapper_split_lvm_name("vg0-disk-real", vg, lv), -1, "a third part");
	cr_assert_eq(mapper_split_lvm_name("nodash", vg, lv), -1);
	cr_assert_eq(mapper_split_lvm_name("-disk", vg, lv), -1, "empty VG");
	cr_assert_eq(mapper_split_lvm_name("vg0-", vg, lv), -1, "empty LV");
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	longname[3] = '-';
	cr_assert_eq(mapper_split_lvm_name(longname, vg, lv), -1, "an LV name over the cap");
}

/* lvs -a rows as LVM 2.03 prints them (captured in the guest). */
/* clang-format off */
#define ROW(name, seg, origin, pool, data, meta, role)                                             \
	"{\"lv_name\":\"" name "\", \"segtype\":\"" seg "\", \"origin\":\"" origin           \
	"\", \"pool_lv\":\"" pool "\", \"data_lv\":\"" data "\", \"metadata_lv\":\"" meta    \
	"\", \"lv_role\":\"" role "\"}"
static const char removable_json[] = "{\"report\": [{\"lv\": ["
	ROW("adminsnap", "linear", "t1", "", "", "", "public,snapshot,thicksnapshot") ","
	ROW("t1", "linear", "", "", "", "", "public,origin,thickorigin") ","
	ROW("t2", "linear", "", "", "", "", "public") ","
	ROW("thinvol", "thin", "", "tpool", "", "", "public") ","
	ROW("tpool", "thin-pool", "", "", "[tpool_tdata]", "[tpool_tmeta]", "private") ","
	ROW("[tpool_tdata]", "linear", "", "", "", "", "private,thin,pool,data") ","
	ROW("[tpool_tmeta]", "linear", "", "", "", "", "private,thin,pool,metadata") ","
	ROW("tsnapother", "linear", "other", "", "", "", "public,snapshot,thicksnapshot") ","
	ROW("tsparse", "linear", "[tsparse_vorigin]", "", "", "", "public,snapshot") ","
	ROW("[tsparse_vorigin]", "zero", "", "", "", "", "private,origin,thickorigin") ","
	ROW("tthin", "thin", "", "tpool2", "", "", "public") ","
	ROW("tpool3", "thin-pool", "", "", "[tpool3_tdata]", "[tpool3_tmeta]", "private")
	"]}]}";
/* clang-format on */

Test(lvm_report, removable_only_plain_and_sparse_without_dependents)
{
	struct op_error e;

	cr_assert_eq(lvm_parse_removable(removable_json, "vg", "t2", &e), 0, "%s", e.why);
	cr_assert_eq(lvm_parse_removable(removable_json, "vg", "tsparse", &e), 0, "%s", e.why);
	cr_assert_eq(lvm_parse_removable(removable_json, "vg", "t1", &e), -EBUSY);
	cr_assert(strstr(e.why, "'adminsnap'"), "%s", e.why);
	cr_assert_eq(lvm_parse_removable(removable_json, "vg", "tpool", &e), -EBUSY);
	cr_assert(strstr(e.why, "'thinvol'"), "%s", e.why);
	cr_assert_eq(lvm_parse_removable(removable_json, "vg", "tpool3", &e), -EPERM);
	cr_assert(strstr(e.why, "a thin-pool LV"), "%s", e.why);
	cr_assert_eq(lvm_parse_removable(removable_json, "vg", "tsnapother", &e), -EPERM);
	cr_assert(strstr(e.why, "origin 'other'"), "%s", e.why);
	cr_assert_eq(lvm_parse_removable(removable_json, "vg", "tthin", &e), -EPERM);
	cr_assert(strstr(e.why, "a thin LV"), "%s", e.why);
	cr_assert_eq(lvm_parse_removable(removable_json, "vg", "adminsnap", &e), -EPERM);
	cr_assert_eq(lvm_parse_removable(removable_json, "vg", "nosuch", &e), -ENOENT);
	cr_assert_eq(lvm_parse_removable("garbage", "vg", "t2", &e), -EIO);
}

/*
 * An lvm that records its argv, "removes" nothing, and reports that a
 * snapshot of x appeared: the race between the dependents check and lvremove.
 */
static void
fake_lvm(char *dir, char *lvm, size_t cap)
{
	FILE *f;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(lvm, cap, "%s/lvm", dir);
	f = fopen(lvm, "w");
	cr_assert_not_null(f);
	fprintf(f,
		"#!/bin/sh\necho \"$*\" >>\"%s/argv\"\n"
		"case $1 in lvs) cat <<'J'\n"
		"{\"report\":[{\"lv\":[{\"lv_name\":\"x\",\"segtype\":\"linear\",\"origin\":\"\","
		"\"pool_lv\":\"\",\"data_lv\":\"\",\"metadata_lv\":\"\",\"lv_role\":\"public\"},"
		"{\"lv_name\":\"snap\",\"segtype\":\"linear\",\"origin\":\"x\",\"pool_lv\":\"\","
		"\"data_lv\":\"\",\"metadata_lv\":\"\",\"lv_role\":\"public,snapshot\"}]}]}\n"
		"J\nesac\nexit 0\n",
		dir);
	fclose(f);
	chmod(lvm, 0755);
}

Test(lvm_remove, lvm_itself_skips_an_lv_that_gained_a_dependent)
{
	char dir[] = "/tmp/ephcrypt-fakelvm-XXXXXX", lvm[96], argv_file[96], line[256] = "";
	struct lvm_config cfg = { .timeout_s = 10, .no_shell = true };
	struct op_error e;
	FILE *f;

	fake_lvm(dir, lvm, sizeof(lvm));
	cfg.path = lvm;
	cr_assert_eq(lvm_lv_remove(&cfg, "vg0", "x", &e), -EBUSY);
	cr_assert_not_null(strstr(e.why, "'snap'"), "names what is in the way: %s", e.why);
	snprintf(argv_file, sizeof(argv_file), "%s/argv", dir);
	f = fopen(argv_file, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(line, sizeof(line), f));
	fclose(f);
	cr_assert_str_eq(line, "lvremove --yes -S lv_full_descendants=[] -- vg0/x\n",
			 "LVM is told to skip the LV if anything hangs off it");
	unlink(argv_file);
	unlink(lvm);
	rmdir(dir);
}

Test(lvm_config, dirs_read_from_the_effective_configuration)
{
	char dirs[LVM_CONFIG_DIRS][PATH_MAX];
	struct op_error e;

	cr_assert_eq(lvm_parse_config_dirs("backup_dir=\"/srv/lvm/backup\"\n"
					   "archive_dir=\"/srv/lvm/archive\"\n"
					   "locking_dir=\"/run/lock/lvm\"\n",
					   dirs, &e),
		     0, "%s", e.why);
	cr_assert_str_eq(dirs[0], "/srv/lvm/backup");
	cr_assert_str_eq(dirs[1], "/srv/lvm/archive");
	cr_assert_str_eq(dirs[2], "/run/lock/lvm");
	/* Indented, as in a section, and in any order. */
	cr_assert_eq(lvm_parse_config_dirs("\tlocking_dir=\"/run/l\"\n\tarchive_dir=\"/a/b\"\n"
					   "\tbackup_dir=\"/c/d\"\n",
					   dirs, &e),
		     0, "%s", e.why);
	cr_assert_str_eq(dirs[2], "/run/l");
}

Test(lvm_config, too_broad_or_odd_folders_refused)
{
	static const char *const bad[] = { "/",	      "/etc",	  "relative/dir", "/srv/../etc",
					   "/srv//x", "/srv/./x", "/srv/x/" };
	char dirs[LVM_CONFIG_DIRS][PATH_MAX], text[512];
	struct op_error e;

	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		snprintf(text, sizeof(text),
			 "backup_dir=\"%s\"\narchive_dir=\"/a/b\"\nlocking_dir=\"/c/d\"\n", bad[k]);
		cr_expect_eq(lvm_parse_config_dirs(text, dirs, &e), -EPERM, "'%s' accepted",
			     bad[k]);
	}
	cr_assert_eq(lvm_parse_config_dirs("backup_dir=\"/a/b\"\n", dirs, &e), -EIO);
	cr_assert(strstr(e.why, "backup/archive_dir"), "%s", e.why);
	/* a key's name inside another's value is not the key */
	cr_assert_eq(lvm_parse_config_dirs("x=\"backup_dir=\\\"/a/b\"\n", dirs, &e), -EIO);
}

/* --- the line sent to LVM's shell ------------------------------------------- */

/*
 * LVM's shell splitter as lvm2's tools/lvmcmdline.c behaves: words end at
 * white space; a word that starts with a quote runs to the same quote; '#'
 * at a word's start ends the line. Returns the number of words.
 */
static int
split_like_lvm(char *s, char *words[], int max)
{
	int n = 0;

	while (*s && n < max) {
		char quote = 0, *end;

		while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
			s++;
		if (!*s || *s == '#')
			break;
		if (*s == '\'' || *s == '"')
			quote = *s++;
		for (end = s; *end && (quote ? *end != quote
					     : !(*end == ' ' || (*end >= '\t' && *end <= '\r')));
		     end++)
			;
		words[n++] = s;
		if (!*end)
			break;
		*end = '\0';
		s = end + 1;
	}
	return n;
}

static void
assert_round_trip(const char *const argv[])
{
	char line[LVM_SHELL_LINE_MAX], *words[80];
	int n;

	cr_assert_eq(lvm_shell_line(argv, line, sizeof(line)), 0, "refused %s", argv[1]);
	cr_assert_eq(strchr(line, '\n'), line + strlen(line) - 1, "one line, one newline");
	n = split_like_lvm(line, words, 80);
	for (int k = 0; k < n; k++)
		cr_assert_str_eq(words[k], argv[k + 1], "word %d", k + 1);
	cr_assert_null(argv[n + 1], "LVM's shell sees %d words", n);
}

Test(lvm_shell_line, the_helpers_commands_split_back_to_their_argv)
{
	const char *create[] = {
		"lvm", "lvcreate", "--yes", "-L", "67108864b", "-n", "instance-0000_disk.eph",
		"--",  "nova-vg",  NULL
	};
	const char *report[] = { "lvm",	       "vgs",	  "--reportformat",
				 "json",       "--units", "b",
				 "--nosuffix", "-o",	  "vg_name,vg_size,vg_free,vg_extent_size",
				 "--",	       "vg0",	  NULL };
	const char *nova[] = { "lvm",	   "vgs", "--separator", "|", "-o", "vg_size,vg_free",
			       "vg+0%@:=", NULL };
	const char *remove[] = { "lvm", "lvremove", "--yes", "-S", LVM_REMOVE_ALONE,
				 "--",	"vg0/x",    NULL };

	assert_round_trip(create);
	assert_round_trip(report);
	assert_round_trip(nova);
	assert_round_trip(remove);
}

Test(lvm_shell_line, words_lvm_would_read_otherwise_are_refused)
{
	const char *bad[] = { "vg0;reboot", "vg0\nlvremove", "vg0 -ff", "'vg0'",      "\"vg0\"",
			      "#vg0",	    "vg0#x",	     "vg\\0",	"vg0\t",      "",
			      "$(id)",	    "vg`id`",	     "vg\x7f",	"vg\xc3\xa9", "vg0\r" };
	char line[LVM_SHELL_LINE_MAX];

	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		const char *argv[] = { "lvm", "lvremove", "--yes", "--", bad[k], NULL };

		cr_assert_eq(lvm_shell_line(argv, line, sizeof(line)), -EINVAL, "word %zu passed",
			     k);
	}
}

Test(lvm_shell_line, long_words_many_words_and_small_buffers_are_refused)
{
	static char longword[LVM_SHELL_WORD_MAX + 2];
	const char *argv[LVM_SHELL_ARGS_MAX + 3] = { "lvm", "lvs" };
	const char *one[] = { "lvm", "lvs", longword, NULL };
	const char *none[] = { "lvm", NULL }, *other[] = { "sh", "-c", NULL };
	char line[LVM_SHELL_LINE_MAX], small[8];

	memset(longword, 'a', LVM_SHELL_WORD_MAX + 1);
	cr_assert_eq(lvm_shell_line(one, line, sizeof(line)), -EINVAL, "a word over the cap");
	longword[LVM_SHELL_WORD_MAX] = '\0';
	cr_assert_eq(lvm_shell_line(one, line, sizeof(line)), 0, "a word at the cap");
	cr_assert_eq(lvm_shell_line(one, small, sizeof(small)), -EINVAL, "a line over the buffer");
	for (size_t k = 2; k < LVM_SHELL_ARGS_MAX + 2; k++)
		argv[k] = "a";
	cr_assert_eq(lvm_shell_line(argv, line, sizeof(line)), -EINVAL, "too many words");
	argv[LVM_SHELL_ARGS_MAX + 1] = NULL;
	cr_assert_eq(lvm_shell_line(argv, line, sizeof(line)), 0, "words at the cap");
	cr_assert_eq(lvm_shell_line(none, line, sizeof(line)), -EINVAL, "no command");
	cr_assert_eq(lvm_shell_line(other, line, sizeof(line)), -EINVAL, "not lvm");
}
