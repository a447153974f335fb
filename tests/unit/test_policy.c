/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The deployer policy (helper/policy.c): the parser, file checks, every
 * check function and the summary. Each test writes its policy to
 * <tmpdir>/policy.conf; messages are compared with the directory cut off.
 * policy/examples/nova.conf is read relative to the working directory
 * (the repository root, as `make check-unit` runs).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../policy/hint.h"
#include "../../policy/policy.h"
#include "../../policy/settings.h"

#define NOVA_EXAMPLE "policy/examples/nova.conf"
#define UUID	     "6f1b3c2a-8d4e-4f5a-9b7c-1d2e3f4a5b6c"

static char dir[PATH_MAX];
static char path[PATH_MAX + 32];
static char link_path[PATH_MAX + 32];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ephcrypt-policy-test-XXXXXX");
	cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/policy.conf", dir);
	snprintf(link_path, sizeof(link_path), "%s/link.conf", dir);
}

static void
teardown(void)
{
	unlink(link_path);
	rmdir(path); /* the not-a-regular-file test makes it a directory */
	unlink(path);
	rmdir(dir);
}

TestSuite(policy, .init = setup, .fini = teardown);

/* --- helpers ------------------------------------------------------------- */

static void
writefile(const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "fopen %s: %s", path, strerror(errno));
	cr_assert_eq(fwrite(text, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

/* Cut every "<dir>/" out of s, in place, so messages read "policy.conf:N: ...". */
static void
cutdir(char *s)
{
	size_t dl = strlen(dir) + 1;
	char *at;

	while ((at = strstr(s, dir)) != NULL && at[dl - 1] == '/')
		memmove(at, at + dl, strlen(at + dl) + 1);
}

/* Load the file at p; returns the error count, *msgs the messages (caller frees). */
static int
loadpath(const char *p, bool check, struct policy **out, char **msgs)
{
	size_t len = 0;
	FILE *err;
	int n;

	*msgs = NULL;
	err = open_memstream(msgs, &len);
	cr_assert_not_null(err);
	n = policy_load(p, check, err, out);
	fclose(err);
	cutdir(*msgs);
	return n;
}

static int
loadtext(const char *text, size_t len, struct policy **out, char **msgs)
{
	writefile(text, len);
	return loadpath(path, false, out, msgs);
}

static struct policy *
good(const char *text)
{
	struct policy *p = NULL;
	char *msgs;

	cr_assert_eq(loadtext(text, strlen(text), &p, &msgs), 0, "unexpected errors:\n%s", msgs);
	cr_assert_str_empty(msgs);
	cr_assert_not_null(p);
	free(msgs);
	return p;
}

/* The policy must be refused with exactly the messages want, one per line. */
static void
badlen(const char *text, size_t len, const char *want)
{
	struct policy *p = (struct policy *)1;
	int n, lines = 0;
	const char *c;
	char *msgs;

	for (c = want; *c; c++)
		lines += *c == '\n';
	n = loadtext(text, len, &p, &msgs);
	cr_assert_str_eq(msgs, want, "got:\n%s\nwant:\n%s", msgs, want);
	cr_assert_eq(n, lines, "error count %d, want %d", n, lines);
	cr_assert_null(p, "*out must be NULL on error");
	free(msgs);
}

static void
bad(const char *text, const char *want)
{
	badlen(text, strlen(text), want);
}

/* Rule text of a verdict for line n of the test policy. */
static const char *
at(unsigned n)
{
	static char buf[sizeof(path) + 16];

	snprintf(buf, sizeof(buf), "%s:%u", path, n);
	return buf;
}

/* The verdict of the last check; CALL is a policy_* call passing &v. */
static struct verdict v;

#define ALLOWED(call, line_)                                                                       \
	do {                                                                                       \
		memset(&v, 0xa5, sizeof(v));                                                       \
		cr_assert_eq((call), 0, "%s refused: %s", #call, v.why);                           \
		cr_assert_str_eq(v.rule, at(line_), "%s", #call);                                  \
		cr_assert_str_empty(v.why, "%s", #call);                                           \
	} while (0)

#define REFUSED(call, rule_, want_)                                                                \
	do {                                                                                       \
		memset(&v, 0xa5, sizeof(v));                                                       \
		cr_assert_eq((call), -1, "%s must be refused", #call);                             \
		cr_assert_str_eq(v.why, want_, "%s", #call);                                       \
		cr_assert_str_eq(v.rule, rule_, "%s", #call);                                      \
	} while (0)

static const char full_policy[] = "# a complete policy\n"			    /* 1 */
				  "[callers]\n"					    /* 2 */
				  "uid 0\n"					    /* 3 */
				  "user root   # by name\n"			    /* 4 */
				  "\n"						    /* 5 */
				  "[volume-groups]\n"				    /* 6 */
				  "vg nova-ephemeral max-lv-size 2T\n"		    /* 7 */
				  "\tvg\tscratch\tmax-lv-size\t512M\t\n"	    /* 8 */
				  "[volumes]\n"					    /* 9 */
				  "lv ^[0-9a-f]{8}_disk(\\.local|\\.eph[0-9]+)?$\n" /* 10 */
				  "lv in scratch tmp[0-9]\n"			    /* 11 */
				  "[mappings]\n"				    /* 12 */
				  "mapping [0-9a-f]{8}_disk(\\.local)?-dmcrypt\n"   /* 13 */
				  "[crypto]\n"					    /* 14 */
				  "cipher aes-xts-plain64 key-sizes 256,512\n"	    /* 15 */
				  "cipher aes-cbc-essiv:sha256 key-sizes 128\n"	    /* 16 */
				  "sector-sizes 512,4096\n"			    /* 17 */
				  "allow-discards no\n"				    /* 18 */
				  "no-read-workqueue yes\n"			    /* 19 */
				  "no-write-workqueue no\n"			    /* 20 */
				  "nova-passphrase-hash sha256\n";		    /* 21 */

/* --- the parser: what loads ---------------------------------------------- */

Test(policy, full_policy_summary)
{
	struct policy *p = good(full_policy);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	policy_summary(p, f);
	fclose(f);
	cr_assert_str_eq(out,
			 "callers: uid 0, root(0)\n"
			 "volume groups: nova-ephemeral (LVs up to 2.0 TiB), scratch (LVs up to "
			 "512.0 MiB)\n"
			 "LV names: 2 pattern(s): ^([0-9a-f]{8}_disk(\\.local|\\.eph[0-9]+)?)$, "
			 "^(tmp[0-9])$ in scratch\n"
			 "mappings: 1 pattern(s): ^([0-9a-f]{8}_disk(\\.local)?-dmcrypt)$\n"
			 "ciphers: aes-xts-plain64 with 256 or 512-bit keys, aes-cbc-essiv:sha256 "
			 "with 128-bit keys; sector sizes 512, 4096\n"
			 "flags: discards refused; no_read_workqueue allowed; no_write_workqueue "
			 "refused\n"
			 "nova passphrase hash: sha256\n");
	free(out);
	policy_free(p);
}

Test(policy, empty_policy_allows_nothing)
{
	struct policy *p = good("# nothing\n\n   \t\n");
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	policy_summary(p, f);
	fclose(f);
	cr_assert_str_eq(out,
			 "callers: any uid\n"
			 "volume groups: none (this policy allows nothing)\n"
			 "LV names: 0 pattern(s) (none allowed)\n"
			 "mappings: 0 pattern(s) (none allowed)\n"
			 "ciphers: none; sector sizes none\n"
			 "flags: discards refused; no_read_workqueue refused; no_write_workqueue "
			 "refused\n"
			 "nova passphrase hash: ripemd160\n");
	free(out);
	REFUSED(policy_vg(p, "nova-ephemeral", &v), "default deny",
		"volume group 'nova-ephemeral' is not in [volume-groups]");
	REFUSED(policy_lv(p, "nova-ephemeral", "x", &v), "default deny",
		"volume group 'nova-ephemeral' is not in [volume-groups]");
	REFUSED(policy_lv_size(p, "vg", 1, &v), "default deny",
		"volume group 'vg' is not in [volume-groups]");
	REFUSED(policy_mapping(p, "x", &v), "default deny",
		"mapping name 'x' matches no [mappings] pattern");
	REFUSED(policy_cipher(p, "aes-xts-plain64", 512, &v), "default deny",
		"cipher 'aes-xts-plain64' with 512-bit key is not allowed by [crypto]");
	REFUSED(policy_sector_size(p, 512, &v), "default deny",
		"sector size 512 is not allowed by [crypto]");
	REFUSED(policy_flag(p, PF_NO_READ_WORKQUEUE, &v), "default deny",
		"flag 'no_read_workqueue' is not allowed by [crypto]");
	cr_assert_str_eq(policy_nova_hash(p), "ripemd160");
	policy_free(p);
}

Test(policy, zero_byte_file_is_valid_and_denies)
{
	struct policy *p = good("");

	REFUSED(policy_flag(p, PF_ALLOW_DISCARDS, &v), "default deny",
		"flag 'allow_discards' is not allowed by [crypto]");
	policy_free(p);
}

Test(policy, comments_blanks_and_whitespace)
{
	struct policy *p = good("   # indented comment\n"
				"[volume-groups]# comment right after a header\n"
				"\t\n"
				"vg a max-lv-size 1G#comment without a space\n"
				"vg b max-lv-size 1g \r\n"
				"\n"
				"[volumes]\n"
				"lv x\n"
				"# last line has no newline\n"
				"lv y");

	ALLOWED(policy_vg(p, "a", &v), 4);
	ALLOWED(policy_lv_size(p, "b", 1ULL << 30, &v), 5);
	ALLOWED(policy_lv(p, "b", "y", &v), 10);
	policy_free(p);
}

Test(policy, line_of_exactly_1024_bytes_loads)
{
	char text[1100] = "[volumes]\nlv ";

	memset(text + 13, 'a', 1021); /* "lv " + 1021 = 1024 bytes */
	strcpy(text + 13 + 1021, "\n");
	cr_assert_eq(strlen(text), 10 + 1024 + 1);
	policy_free(good(text));
}

/* --- the parser: every malformed form, with its line ----------------------- */

Test(policy, unknown_directive)
{
	bad("[callers]\nuid 0\npermit nova\n", "policy.conf:3: unknown directive 'permit'\n");
}

Test(policy, directive_before_any_section)
{
	bad("# hello\nvg a max-lv-size 1G\n",
	    "policy.conf:2: 'vg' before any section (it belongs in [volume-groups])\n");
}

Test(policy, directive_in_wrong_section)
{
	bad("[callers]\nvg a max-lv-size 1G\n[crypto]\nlv x\nuid 0\n",
	    "policy.conf:2: 'vg' is not allowed in [callers] (it belongs in [volume-groups])\n"
	    "policy.conf:4: 'lv' is not allowed in [crypto] (it belongs in [volumes])\n"
	    "policy.conf:5: 'uid' is not allowed in [crypto] (it belongs in [callers])\n");
}

Test(policy, unknown_section_reports_once)
{
	bad("[callers]\nuid 0\n[permit]\nuid 1\nwhatever\n[callers ]\n",
	    "policy.conf:3: unknown section [permit]\n"
	    "policy.conf:6: trailing garbage ']' after [callers\n");
}

Test(policy, malformed_section_headers)
{
	bad("[callers\n[]\n[crypto] x\n[Crypto]\n",
	    "policy.conf:1: bad section header '[callers' (expected [NAME])\n"
	    "policy.conf:2: bad section header '[]' (expected [NAME])\n"
	    "policy.conf:3: trailing garbage 'x' after [crypto]\n"
	    "policy.conf:4: unknown section [Crypto]; did you mean [crypto]?\n");
}

Test(policy, duplicate_section)
{
	bad("[crypto]\nallow-discards no\n[callers]\n[crypto]\n",
	    "policy.conf:4: duplicate section [crypto] (first at line 1)\n");
}

Test(policy, bad_regex_with_regerror_text)
{
	bad("[volumes]\nlv ab(c\nlv [a-\nlv x{2\n[mappings]\nmapping *x\n",
	    "policy.conf:2: bad pattern 'ab(c': Unmatched ( or \\(\n"
	    "policy.conf:3: bad pattern '[a-': Unmatched [, [^, [:, [., or [=\n"
	    "policy.conf:4: bad pattern 'x{2': Unmatched \\{\n"
	    "policy.conf:6: bad pattern '*x': Invalid preceding regular expression (patterns are "
	    "regular expressions, not globs: a leading '*' repeats nothing; did you mean "
	    "'.*x'?)\n");
}

Test(policy, pattern_too_complex_is_refused_before_regcomp)
{
	/* glibc copies what a repetition repeats: these would take gigabytes. */
	bad("[volumes]\nlv a++++++++++++++++++++++++++++++++\nlv (a{99}){99}\nlv a{4096}\n"
	    "[mappings]\nmapping ((x|y)*){2000}\n",
	    "policy.conf:2: bad pattern 'a++++++++++++++++++++++++++++++++': too complex (its "
	    "repetitions expand to over 4096 elements)\n"
	    "policy.conf:3: bad pattern '(a{99}){99}': too complex (its repetitions expand to over "
	    "4096 elements)\n"
	    "policy.conf:4: bad pattern 'a{4096}': too complex (its repetitions expand to over "
	    "4096 elements)\n"
	    "policy.conf:6: bad pattern '((x|y)*){2000}': too complex (its repetitions expand to "
	    "over 4096 elements)\n");
}

Test(policy, repeating_what_can_match_nothing_is_refused_before_regcomp)
{
	/* The fuzzer's find: regcomp took over 2 minutes on line 5's pattern. */
	bad("[volumes]\nlv (a*)+\nlv ((b?){0,9}){0,9}\n[mappings]\nmapping p|\\.*+++++++\n"
	    "mapping (x|)+\nmapping (^|a)+\n",
	    "policy.conf:2: bad pattern '(a*)+': '+' at offset 4 repeats something that can match "
	    "nothing, which adds nothing and makes the regular expression compiler take minutes; "
	    "repeat only what matches at least one character\n"
	    "policy.conf:3: bad pattern '((b?){0,9}){0,9}': '{0,9}' at offset 5 repeats something "
	    "that can match nothing, which adds nothing and makes the regular expression compiler "
	    "take minutes; repeat only what matches at least one character\n"
	    "policy.conf:5: bad pattern 'p|\\\\.*+++++++': '+' at offset 5 repeats something that "
	    "can match nothing, which adds nothing and makes the regular expression compiler take "
	    "minutes; repeat only what matches at least one character\n"
	    "policy.conf:6: bad pattern '(x|)+': '+' at offset 4 repeats something that can match "
	    "nothing, which adds nothing and makes the regular expression compiler take minutes; "
	    "repeat only what matches at least one character\n"
	    "policy.conf:7: bad pattern '(^|a)+': '+' at offset 5 repeats something that can "
	    "match nothing, which adds nothing and makes the regular expression compiler take "
	    "minutes; repeat only what matches at least one character\n");
}

Test(policy, nested_repetitions_of_real_characters_are_fine)
{
	policy_free(good("[volume-groups]\nvg v max-lv-size 1G\n[volumes]\n"
			 "lv [0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}_disk\n"
			 "lv (nova-[a-z]+_)*disk(\\.[a-z]+)?\nlv ((a|b)+c)+\n"));
}

Test(policy, pattern_cannot_escape_its_anchors)
{
	/* Wrapped blindly, "x)|(.*" would give "^(x)|(.*)$": any name. */
	bad("[volumes]\nlv x)|.*\nlv x)|(.*\nlv ^$\nlv ^\n[mappings]\nmapping a)(b\n",
	    "policy.conf:2: bad pattern 'x)|.*': unmatched )\n"
	    "policy.conf:3: bad pattern 'x)|(.*': Unmatched ( or \\(\n"
	    "policy.conf:4: empty pattern\n"
	    "policy.conf:5: empty pattern\n"
	    "policy.conf:7: bad pattern 'a)(b': Unmatched ( or \\(\n");
}

Test(policy, bad_size_and_unit)
{
	bad("[volume-groups]\nvg a max-lv-size 2X\nvg b max-lv-size 0\nvg c max-lv-size -1G\n"
	    "vg d max-lv-size 1.5T\nvg e max-lv-size 99999999999T\nvg f max-lv-size 2TiB\n",
	    "policy.conf:2: bad size '2X' (expected a number > 0 with an optional K, M, G, T or P "
	    "suffix)\n"
	    "policy.conf:3: bad size '0' (expected a number > 0 with an optional K, M, G, T or P "
	    "suffix)\n"
	    "policy.conf:4: bad size '-1G' (expected a number > 0 with an optional K, M, G, T or P "
	    "suffix)\n"
	    "policy.conf:5: bad size '1.5T' (expected a number > 0 with an optional K, M, G, T or "
	    "P "
	    "suffix)\n"
	    "policy.conf:6: bad size '99999999999T' (expected a number > 0 with an optional K, M, "
	    "G, "
	    "T or P suffix)\n"
	    "policy.conf:7: bad size '2TiB' (expected a number > 0 with an optional K, M, G, T or "
	    "P "
	    "suffix)\n");
}

Test(policy, bad_numbers)
{
	bad("[callers]\nuid abc\nuid -1\nuid 4294967295\nuid 0x10\nuid 1 \n"
	    "[crypto]\nsector-sizes 512,,4096\ncipher a-b key-sizes 256,x\n",
	    "policy.conf:2: bad uid 'abc' (expected a number in 0..4294967294)\n"
	    "policy.conf:3: bad uid '-1' (expected a number in 0..4294967294)\n"
	    "policy.conf:4: bad uid '4294967295' (expected a number in 0..4294967294)\n"
	    "policy.conf:5: bad uid '0x10' (expected a number in 0..4294967294)\n"
	    "policy.conf:8: bad sector size '' (expected a number)\n"
	    "policy.conf:9: bad key size 'x' (expected a number)\n");
}

Test(policy, bad_cipher_names)
{
	bad("[crypto]\ncipher AES-XTS-PLAIN64 key-sizes 256\ncipher aes key-sizes 256\n"
	    "cipher -xts key-sizes 256\ncipher aes- key-sizes 256\n"
	    "cipher capi:xts(aes)-plain64 key-sizes 256\ncipher aes-xts-plain64 keysizes 256\n",
	    "policy.conf:2: bad cipher 'AES-XTS-PLAIN64' (expected CIPHER-MODE in [a-z0-9:-], such "
	    "as aes-xts-plain64)\n"
	    "policy.conf:3: bad cipher 'aes' (expected CIPHER-MODE in [a-z0-9:-], such as "
	    "aes-xts-plain64)\n"
	    "policy.conf:4: bad cipher '-xts' (expected CIPHER-MODE in [a-z0-9:-], such as "
	    "aes-xts-plain64)\n"
	    "policy.conf:5: bad cipher 'aes-' (expected CIPHER-MODE in [a-z0-9:-], such as "
	    "aes-xts-plain64)\n"
	    "policy.conf:6: bad cipher 'capi:xts(aes)-plain64' (expected CIPHER-MODE in "
	    "[a-z0-9:-], "
	    "such as aes-xts-plain64)\n"
	    "policy.conf:7: expected 'key-sizes', got 'keysizes' (usage: cipher NAME key-sizes "
	    "BITS[,BITS...])\n");
}

Test(policy, bad_key_sizes)
{
	bad("[crypto]\ncipher a-b key-sizes 100\ncipher c-d key-sizes 120\n"
	    "cipher e-f key-sizes 256,1032\ncipher g-h key-sizes "
	    "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17\n",
	    "policy.conf:2: key size 100 is not a multiple of 8 in 128..1024\n"
	    "policy.conf:3: key size 120 is not a multiple of 8 in 128..1024\n"
	    "policy.conf:4: key size 1032 is not a multiple of 8 in 128..1024\n"
	    "policy.conf:5: too many key sizes (at most 16)\n");
}

Test(policy, bad_sector_sizes)
{
	bad("[crypto]\nsector-sizes 1000\nsector-sizes 256\nsector-sizes 512,8192\n",
	    "policy.conf:2: sector size 1000 is not a power of two in 512..4096\n"
	    "policy.conf:3: sector size 256 is not a power of two in 512..4096\n"
	    "policy.conf:4: sector size 8192 is not a power of two in 512..4096\n");
}

Test(policy, yes_or_no_expected)
{
	bad("[crypto]\nallow-discards maybe\nno-read-workqueue YES\nno-write-workqueue 1\n"
	    "nova-passphrase-hash md5\n",
	    "policy.conf:2: expected 'no' or 'yes', got 'maybe'\n"
	    "policy.conf:3: expected 'no' or 'yes', got 'YES'\n"
	    "policy.conf:4: expected 'no' or 'yes', got '1'\n"
	    "policy.conf:5: expected 'ripemd160' or 'sha256', got 'md5'\n");
}

Test(policy, unknown_user)
{
	bad("[callers]\nuser root\nuser no-such-user-ephcrypt\n",
	    "policy.conf:3: unknown user 'no-such-user-ephcrypt'\n");
}

Test(policy, overlong_line)
{
	char text[1200] = "[volumes]\nlv ";

	memset(text + 13, 'a', 1022); /* "lv " + 1022 = 1025 bytes */
	strcpy(text + 13 + 1022, "\nbogus\n");
	bad(text, "policy.conf:2: line longer than 1024 bytes\n"
		  "policy.conf:3: unknown directive 'bogus'\n");
}

Test(policy, nul_byte)
{
	static const char text[] = "[callers]\nuid 0\0 uid 1\nbogus\n";

	badlen(text, sizeof(text) - 1,
	       "policy.conf:2: NUL byte at column 6\n"
	       "policy.conf:3: unknown directive 'bogus'\n");
}

Test(policy, trailing_garbage_and_missing_arguments)
{
	bad("[callers]\nuid 0 1\nuid\n[volume-groups]\nvg a max-lv-size 1G extra\nvg b\n"
	    "vg c max-size 1G\n[volumes]\nlv in a\nlv at a x\nlv in a x y\n",
	    "policy.conf:2: trailing garbage '1' (usage: uid NUMBER)\n"
	    "policy.conf:3: missing argument (usage: uid NUMBER)\n"
	    "policy.conf:5: trailing garbage 'extra' (usage: vg NAME max-lv-size SIZE)\n"
	    "policy.conf:6: missing argument (usage: vg NAME max-lv-size SIZE)\n"
	    "policy.conf:7: expected 'max-lv-size', got 'max-size' (usage: vg NAME max-lv-size "
	    "SIZE)\n"
	    "policy.conf:9: missing argument (usage: lv [in VG] PATTERN)\n"
	    "policy.conf:10: expected 'in', got 'at' (usage: lv [in VG] PATTERN)\n"
	    "policy.conf:11: trailing garbage 'y' (usage: lv [in VG] PATTERN)\n");
}

Test(policy, duplicates)
{
	bad("[volume-groups]\nvg a max-lv-size 1G\nvg a max-lv-size 2G\n[crypto]\n"
	    "cipher a-b key-sizes 256\ncipher a-b key-sizes 512\nallow-discards no\n"
	    "allow-discards no\nsector-sizes 512\nsector-sizes 512\nnova-passphrase-hash sha256\n"
	    "nova-passphrase-hash sha256\n",
	    "policy.conf:3: duplicate vg 'a' (first at line 2)\n"
	    "policy.conf:6: duplicate cipher 'a-b' (first at line 5)\n"
	    "policy.conf:8: duplicate 'allow-discards' (first at line 7)\n"
	    "policy.conf:10: duplicate 'sector-sizes' (first at line 9)\n"
	    "policy.conf:12: duplicate 'nova-passphrase-hash' (first at line 11)\n");
}

Test(policy, names_in_the_file_follow_the_grammar)
{
	bad("[volume-groups]\nvg mapper max-lv-size 1G\nvg ../x max-lv-size 1G\n"
	    "vg -a max-lv-size 1G\n[volumes]\nlv in d\xc3\xa9j\xc3\xa0 x\n",
	    "policy.conf:2: volume group name 'mapper': is reserved (/dev/mapper is not a volume "
	    "group)\n"
	    "policy.conf:3: volume group name '../x': byte 2 ('/') is not one of A-Z a-z 0-9 + _ . "
	    "-\n"
	    "policy.conf:4: volume group name '-a': must not start with '-'\n"
	    "policy.conf:6: volume group name 'd\\xc3\\xa9j\\xc3\\xa0': byte 1 ('\\xc3') is not "
	    "one "
	    "of A-Z a-z 0-9 + _ . -\n");
}

Test(policy, lv_rule_for_an_undeclared_vg)
{
	/* Found after the whole file is read: the VG may come later. */
	bad("[volumes]\nlv in later x\nlv in nope y\n[volume-groups]\nvg later max-lv-size 1G\n",
	    "policy.conf:3: volume group 'nope' is not in [volume-groups]\n");
}

Test(policy, too_many_rules)
{
	char text[64 * 16 + 64];
	size_t o;
	int i;

	o = (size_t)snprintf(text, sizeof(text), "[callers]\n");
	for (i = 0; i < 65; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "uid %d\n", i);
	bad(text, "policy.conf:66: too many rules in [callers] (at most 64)\n");
}

Test(policy, every_error_is_counted)
{
	struct policy *p = NULL;
	char *msgs;

	cr_assert_eq(loadtext("x\ny\n[z]\n[crypto]\nq\n", 19, &p, &msgs), 4);
	cr_assert_str_eq(msgs, "policy.conf:1: unknown directive 'x'\n"
			       "policy.conf:2: unknown directive 'y'\n"
			       "policy.conf:3: unknown section [z]\n"
			       "policy.conf:5: unknown directive 'q'\n");
	free(msgs);
}

Test(policy, unprintable_words_are_escaped)
{
	bad("[callers]\nuser r\x1bo\\t\n", "policy.conf:2: unknown user 'r\\x1bo\\\\t'\n");
}

/* --- the file itself --------------------------------------------------------- */

static void
filebad(bool check, const char *want)
{
	struct policy *p = (struct policy *)1;
	char *msgs;

	cr_assert_eq(loadpath(path, check, &p, &msgs), 1);
	cr_assert_str_eq(msgs, want);
	cr_assert_null(p);
	free(msgs);
}

Test(policy, missing_file)
{
	filebad(false, "policy.conf: No such file or directory\n");
}

Test(policy, not_a_regular_file)
{
	cr_assert_eq(mkdir(path, 0755), 0);
	filebad(false, "policy.conf: not a regular file\n");
}

Test(policy, symlink_is_refused)
{
	struct policy *p = (struct policy *)1;
	char *msgs;

	writefile("", 0);
	cr_assert_eq(symlink(path, link_path), 0);
	cr_assert_eq(loadpath(link_path, false, &p, &msgs), 1);
	cr_assert_str_eq(msgs,
			 "link.conf: is a symbolic link: name the file itself, not a link to it\n");
	free(msgs);
}

Test(policy, wrong_owner)
{
	struct policy *p = NULL;
	char *msgs;

	if (geteuid() != 0)
		cr_skip_test("chown needs root");
	writefile("[callers]\nuid 0\n", 16);
	cr_assert_eq(chmod(path, 0644), 0);
	cr_assert_eq(chown(path, 1, 0), 0);
	filebad(true, "policy.conf: owned by uid 1, not root: whoever owns it decides what root "
		      "does (chown root:root policy.conf)\n");
	/* Without check_file (unit tests, --check-policy on a copy) it loads. */
	cr_assert_eq(loadpath(path, false, &p, &msgs), 0, "%s", msgs);
	policy_free(p);
	free(msgs);
}

Test(policy, writable_by_others)
{
	if (geteuid() != 0)
		cr_skip_test("the file must be root's for the mode to be the reason");
	writefile("", 0);
	cr_assert_eq(chmod(path, 0666), 0);
	filebad(true, "policy.conf: writable by group or others (mode 0666): it should be mode "
		      "0644 (chmod 0644 policy.conf)\n");
}

Test(policy, writable_by_group)
{
	if (geteuid() != 0)
		cr_skip_test("the file must be root's for the mode to be the reason");
	writefile("", 0);
	cr_assert_eq(chmod(path, 0620), 0);
	filebad(true, "policy.conf: writable by group or others (mode 0620): it should be mode "
		      "0600 (chmod 0600 policy.conf)\n");
}

Test(policy, root_owned_0600_passes_the_file_checks)
{
	struct policy *p = NULL;
	char *msgs;

	if (geteuid() != 0)
		cr_skip_test("needs a root-owned file");
	writefile("[callers]\nuid 0\n", 16);
	cr_assert_eq(chmod(path, 0600), 0);
	cr_assert_eq(loadpath(path, true, &p, &msgs), 0, "%s", msgs);
	policy_free(p);
	free(msgs);
}

/* --- enforcement ------------------------------------------------------------- */

Test(policy, callers)
{
	struct policy *p = good(full_policy);
	struct policy *any = good("[volume-groups]\n");
	char want[sizeof(path) + 64];

	ALLOWED(policy_uid(p, 0, &v), 3);
	REFUSED(policy_uid(p, 1000, &v), "default deny", "caller uid 1000 is not in [callers]");
	memset(&v, 0, sizeof(v));
	cr_assert_eq(policy_uid(any, 4242, &v), 0);
	snprintf(want, sizeof(want), "%s (no [callers] rule: any uid)", path);
	cr_assert_str_eq(v.rule, want);
	cr_assert_eq(policy_uid(p, 0, NULL), 0, "the verdict is optional");
	cr_assert_eq(policy_uid(p, 1, NULL), -1);
	policy_free(p);
	policy_free(any);
}

Test(policy, volume_groups_and_sizes)
{
	struct policy *p = good(full_policy);

	ALLOWED(policy_vg(p, "nova-ephemeral", &v), 7);
	ALLOWED(policy_vg(p, "scratch", &v), 8);
	REFUSED(policy_vg(p, "vg1", &v), "default deny",
		"volume group 'vg1' is not in [volume-groups]");
	REFUSED(policy_vg(p, "nova-ephemeral/..", &v), "name grammar",
		"volume group name 'nova-ephemeral/..': byte 14 ('/') is not one of A-Z a-z 0-9 + "
		"_ . "
		"-");
	REFUSED(policy_vg(p, "", &v), "name grammar", "volume group name '': must not be empty");
	ALLOWED(policy_lv_size(p, "nova-ephemeral", 2199023255552ULL, &v), 7);
	REFUSED(policy_lv_size(p, "nova-ephemeral", 3298534883328ULL, &v), at(7),
		"LV size 3298534883328 exceeds the largest allowed (2199023255552, policy.conf:7)");
	REFUSED(policy_lv_size(p, "scratch", (512ULL << 20) + 1, &v), at(8),
		"LV size 536870913 exceeds the largest allowed (536870912, policy.conf:8)");
	REFUSED(policy_lv_size(p, "other", 1, &v), "default deny",
		"volume group 'other' is not in [volume-groups]");
	policy_free(p);
}

Test(policy, lv_names)
{
	struct policy *p = good(full_policy);

	ALLOWED(policy_lv(p, "nova-ephemeral", "0123abcd_disk", &v), 10);
	ALLOWED(policy_lv(p, "nova-ephemeral", "0123abcd_disk.eph12", &v), 10);
	ALLOWED(policy_lv(p, "scratch", "0123abcd_disk.local", &v), 10);
	ALLOWED(policy_lv(p, "scratch", "tmp7", &v), 11);
	REFUSED(policy_lv(p, "nova-ephemeral", "tmp7", &v), "default deny",
		"LV name 'tmp7' matches no [volumes] pattern for volume group 'nova-ephemeral'");
	REFUSED(policy_lv(p, "nova-ephemeral", "foo_disk", &v), "default deny",
		"LV name 'foo_disk' matches no [volumes] pattern for volume group "
		"'nova-ephemeral'");
	/* Anchored: no substring match, at either end. */
	REFUSED(policy_lv(p, "nova-ephemeral", "x0123abcd_disk", &v), "default deny",
		"LV name 'x0123abcd_disk' matches no [volumes] pattern for volume group "
		"'nova-ephemeral'");
	REFUSED(policy_lv(p, "scratch", "tmp77", &v), "default deny",
		"LV name 'tmp77' matches no [volumes] pattern for volume group 'scratch'");
	REFUSED(policy_lv(p, "vg1", "0123abcd_disk", &v), "default deny",
		"volume group 'vg1' is not in [volume-groups]");
	policy_free(p);
}

Test(policy, alternation_is_anchored_as_a_whole)
{
	struct policy *p = good("[volume-groups]\nvg v max-lv-size 1G\n[volumes]\nlv a|b\n"
				"[mappings]\nmapping ^c|d$\n");

	ALLOWED(policy_lv(p, "v", "a", &v), 4);
	ALLOWED(policy_lv(p, "v", "b", &v), 4);
	REFUSED(policy_lv(p, "v", "ab", &v), "default deny",
		"LV name 'ab' matches no [volumes] pattern for volume group 'v'");
	REFUSED(policy_lv(p, "v", "xa", &v), "default deny",
		"LV name 'xa' matches no [volumes] pattern for volume group 'v'");
	ALLOWED(policy_mapping(p, "d", &v), 6);
	REFUSED(policy_mapping(p, "cx", &v), "default deny",
		"mapping name 'cx' matches no [mappings] pattern");
	policy_free(p);
}

/* A pattern that matches anything still cannot let a bad name through. */
Test(policy, grammar_beats_a_wide_pattern)
{
	static const char *const lvs[][2] = {
		{ "a/b", "LV name 'a/b': byte 1 ('/') is not one of A-Z a-z 0-9 + _ . -" },
		{ "..", "LV name '..': must not be '.' or '..'" },
		{ "x\ny", "LV name 'x\\ny': byte 1 ('\\n') is not one of A-Z a-z 0-9 + _ . -" },
		{ "x y", "LV name 'x y': byte 1 (' ') is not one of A-Z a-z 0-9 + _ . -" },
		{ "\xe2\x82\xac",
		  "LV name '\\xe2\\x82\\xac': byte 0 ('\\xe2') is not one of A-Z a-z "
		  "0-9 + _ . -" },
		{ "-rf", "LV name '-rf': must not start with '-'" },
		{ "snapshot",
		  "LV name 'snapshot': names starting with 'snapshot' are reserved by LVM" },
		{ "pvmove", "LV name 'pvmove': names starting with 'pvmove' are reserved by LVM" },
		{ "x_tmeta", "LV name 'x_tmeta': names containing '_tmeta' are reserved by LVM" },
		{ "x_rimage_0",
		  "LV name 'x_rimage_0': names containing '_rimage' are reserved by LVM" },
		{ "", "LV name '': must not be empty" },
	};
	struct policy *p = good("[volume-groups]\nvg v max-lv-size 1G\n[volumes]\nlv .*\n"
				"[mappings]\nmapping .*\n");
	char long_name[200];
	size_t i;

	for (i = 0; i < sizeof(lvs) / sizeof(lvs[0]); i++)
		REFUSED(policy_lv(p, "v", lvs[i][0], &v), "name grammar", lvs[i][1]);
	memset(long_name, 'a', 128);
	long_name[128] = '\0';
	cr_assert_eq(policy_lv(p, "v", long_name, &v), -1);
	cr_assert_str_eq(v.rule, "name grammar");
	cr_assert(strstr(v.why, "is longer than 127 bytes"), "%s", v.why);
	long_name[127] = '\0';
	ALLOWED(policy_lv(p, "v", long_name, &v), 4);
	REFUSED(policy_mapping(p, "control", &v), "name grammar",
		"mapping name 'control': is reserved (/dev/mapper/control is device-mapper's own)");
	REFUSED(policy_mapping(p, "a\nb", &v), "name grammar",
		"mapping name 'a\\nb': byte 1 ('\\n') is not one of A-Z a-z 0-9 + _ . -");
	REFUSED(policy_mapping(p, "../../dev/sda", &v), "name grammar",
		"mapping name '../../dev/sda': byte 2 ('/') is not one of A-Z a-z 0-9 + _ . -");
	ALLOWED(policy_mapping(p, "anything-else", &v), 6);
	policy_free(p);
}

Test(policy, mappings)
{
	struct policy *p = good(full_policy);

	ALLOWED(policy_mapping(p, "0123abcd_disk-dmcrypt", &v), 13);
	ALLOWED(policy_mapping(p, "0123abcd_disk.local-dmcrypt", &v), 13);
	REFUSED(policy_mapping(p, "x", &v), "default deny",
		"mapping name 'x' matches no [mappings] pattern");
	REFUSED(policy_mapping(p, "0123abcd_disk", &v), "default deny",
		"mapping name '0123abcd_disk' matches no [mappings] pattern");
	policy_free(p);
}

Test(policy, ciphers_and_key_sizes)
{
	struct policy *p = good(full_policy);

	ALLOWED(policy_cipher(p, "aes-xts-plain64", 256, &v), 15);
	ALLOWED(policy_cipher(p, "aes-xts-plain64", 512, &v), 15);
	ALLOWED(policy_cipher(p, "aes-cbc-essiv:sha256", 128, &v), 16);
	REFUSED(policy_cipher(p, "aes-cbc-essiv:sha256", 512, &v), "default deny",
		"cipher 'aes-cbc-essiv:sha256' with 512-bit key is not allowed by [crypto]");
	REFUSED(policy_cipher(p, "aes-xts-plain64", 384, &v), "default deny",
		"cipher 'aes-xts-plain64' with 384-bit key is not allowed by [crypto]");
	REFUSED(policy_cipher(p, "aes-xts-plain64", 0, &v), "default deny",
		"cipher 'aes-xts-plain64' with 0-bit key is not allowed by [crypto]");
	REFUSED(policy_cipher(p, "aes-xts-plain64", 4096, &v), "default deny",
		"cipher 'aes-xts-plain64' with 4096-bit key is not allowed by [crypto]");
	REFUSED(policy_cipher(p, "aes-xts-plain", 256, &v), "default deny",
		"cipher 'aes-xts-plain' with 256-bit key is not allowed by [crypto]");
	REFUSED(policy_cipher(p, "aes-xts-plain64\n", 256, &v), "default deny",
		"cipher 'aes-xts-plain64\\n' with 256-bit key is not allowed by [crypto]");
	REFUSED(policy_cipher(p, NULL, 256, &v), "default deny",
		"cipher '(null)' with 256-bit key is not allowed by [crypto]");
	policy_free(p);
}

Test(policy, sector_sizes)
{
	struct policy *p = good(full_policy);

	ALLOWED(policy_sector_size(p, 512, &v), 17);
	ALLOWED(policy_sector_size(p, 4096, &v), 17);
	REFUSED(policy_sector_size(p, 1024, &v), "default deny",
		"sector size 1024 is not allowed by [crypto]");
	REFUSED(policy_sector_size(p, 0, &v), "default deny",
		"sector size 0 is not allowed by [crypto]");
	REFUSED(policy_sector_size(p, 1536, &v), "default deny",
		"sector size 1536 is not allowed by [crypto]");
	REFUSED(policy_sector_size(p, 8192, &v), "default deny",
		"sector size 8192 is not allowed by [crypto]");
	policy_free(p);
}

Test(policy, flags_and_hash)
{
	struct policy *p = good(full_policy);

	REFUSED(policy_flag(p, PF_ALLOW_DISCARDS, &v), at(18),
		"flag 'allow_discards' is not allowed by [crypto]");
	ALLOWED(policy_flag(p, PF_NO_READ_WORKQUEUE, &v), 19);
	REFUSED(policy_flag(p, PF_NO_WRITE_WORKQUEUE, &v), at(20),
		"flag 'no_write_workqueue' is not allowed by [crypto]");
	REFUSED(policy_flag(p, (enum policy_flag)7, &v), "default deny", "unknown flag 7");
	cr_assert_str_eq(policy_nova_hash(p), "sha256");
	cr_assert_str_eq(policy_nova_hash(NULL), "ripemd160");
	policy_free(p);
}

Test(policy, free_accepts_null)
{
	policy_free(NULL);
}

/* --- policy/examples/nova.conf ------------------------------------------------ */

/*
 * Load the example. It names the nova user, which a build host may lack:
 * then a copy with "user root" stands in, and the rest is the same file.
 */
static struct policy *
nova_example(void)
{
	struct policy *p = NULL;
	char *text = NULL, *user, *msgs;
	size_t cap = 0, len = 0;
	FILE *f = fopen(NOVA_EXAMPLE, "r");

	cr_assert_not_null(f, "%s (run from the repository root): %s", NOVA_EXAMPLE,
			   strerror(errno));
	len = (size_t)getdelim(&text, &cap, '\0', f);
	fclose(f);
	cr_assert_not_null(user = strstr(text, "\nuser nova\n"), "the example names the nova user");
	if (getpwnam("nova") == NULL)
		memcpy(user, "\nuser root\n", 11);
	cr_assert_eq(loadtext(text, len, &p, &msgs), 0, "%s", msgs);
	free(msgs);
	free(text);
	return p;
}

Test(policy, nova_example_loads_and_allows_nova_names)
{
	struct policy *p = nova_example();
	struct verdict ok;

	cr_assert_eq(policy_vg(p, "nova-ephemeral", &ok), 0, "%s", ok.why);
	cr_assert_eq(policy_lv(p, "nova-ephemeral", UUID "_disk.eph0", &ok), 0, "%s", ok.why);
	cr_assert_eq(policy_lv(p, "nova-ephemeral", UUID "_disk", &ok), 0, "%s", ok.why);
	cr_assert_eq(policy_lv(p, "nova-ephemeral", UUID "_disk.swap", &ok), 0, "%s", ok.why);
	cr_assert_eq(policy_lv(p, "nova-ephemeral", UUID "_disk.rescue", &ok), 0, "%s", ok.why);
	cr_assert_eq(policy_mapping(p, UUID "_disk.local-dmcrypt", &ok), 0, "%s", ok.why);
	cr_assert_eq(policy_mapping(p, UUID "_disk-dmcrypt", &ok), 0, "%s", ok.why);
	cr_assert_eq(policy_cipher(p, "aes-xts-plain64", 256, &ok), 0, "%s", ok.why);
	cr_assert_eq(policy_cipher(p, "aes-xts-plain64", 512, &ok), 0, "%s", ok.why);
	cr_assert_eq(policy_sector_size(p, 512, &ok), 0, "%s", ok.why);
	cr_assert_eq(policy_sector_size(p, 4096, &ok), 0, "%s", ok.why);
	cr_assert_eq(policy_flag(p, PF_NO_READ_WORKQUEUE, &ok), 0, "%s", ok.why);
	cr_assert_eq(policy_flag(p, PF_NO_WRITE_WORKQUEUE, &ok), 0, "%s", ok.why);
	cr_assert_eq(policy_lv_size(p, "nova-ephemeral", 2ULL << 40, &ok), 0, "%s", ok.why);
	cr_assert_str_eq(policy_nova_hash(p), "ripemd160");
	policy_free(p);
}

Test(policy, nova_example_refuses_the_rest)
{
	struct policy *p = nova_example();

	REFUSED(policy_lv(p, "nova-ephemeral", "foo_disk", &v), "default deny",
		"LV name 'foo_disk' matches no [volumes] pattern for volume group "
		"'nova-ephemeral'");
	REFUSED(policy_lv(p, "nova-ephemeral", UUID "_disk.config2", &v), "default deny",
		"LV name '" UUID "_disk.config2' matches no [volumes] pattern for volume group "
		"'nova-ephemeral'");
	REFUSED(policy_lv(p, "nova-ephemeral", "6F1B3C2A-8D4E-4F5A-9B7C-1D2E3F4A5B6C_disk", &v),
		"default deny",
		"LV name '6F1B3C2A-8D4E-4F5A-9B7C-1D2E3F4A5B6C_disk' matches no [volumes] pattern "
		"for "
		"volume group 'nova-ephemeral'");
	REFUSED(policy_mapping(p, UUID "_disk.local", &v), "default deny",
		"mapping name '" UUID "_disk.local' matches no [mappings] pattern");
	REFUSED(policy_vg(p, "cinder-volumes", &v), "default deny",
		"volume group 'cinder-volumes' is not in [volume-groups]");
	REFUSED(policy_cipher(p, "aes-cbc-essiv:sha256", 256, &v), "default deny",
		"cipher 'aes-cbc-essiv:sha256' with 256-bit key is not allowed by [crypto]");
	cr_assert_eq(policy_flag(p, PF_ALLOW_DISCARDS, &v), -1, "discards are refused");
	cr_assert_eq(policy_sector_size(p, 2048, &v), -1);
	cr_assert_eq(policy_lv_size(p, "nova-ephemeral", (2ULL << 40) + 1, &v), -1);
	policy_free(p);
}

/* --- messages that say what to do (visudo's way) ----------------------------- */

Test(policy, misspelt_sections_and_directives_get_a_suggestion)
{
	bad("[volume-group]\nvg a max-lv-size 1G\n[callers]\nusr nova\n[mapings]\n[frobnicate]\n",
	    "policy.conf:1: unknown section [volume-group]; did you mean [volume-groups]?\n"
	    "policy.conf:4: unknown directive 'usr'; did you mean 'user'?\n"
	    "policy.conf:5: unknown section [mapings]; did you mean [mappings]?\n"
	    "policy.conf:6: unknown section [frobnicate]\n");
}

Test(policy, stops_after_twenty_errors)
{
	char text[2048] = "[callers]\n", want[4096] = "";
	size_t n = strlen(text), w = 0;

	for (int k = 2; k <= 40; k++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "bogus%d x\n", k);
	for (int k = 2; k <= 21; k++)
		w += (size_t)snprintf(want + w, sizeof(want) - w,
				      "policy.conf:%d: unknown directive 'bogus%d'\n", k, k);
	snprintf(want + w, sizeof(want) - w,
		 "policy.conf:22: stopping after 20 errors; the rest of the file is not checked\n");
	bad(text, want);
}

Test(policy, closest_word_is_a_slip_or_nothing)
{
	static const char *const words[] = { "callers", "volume-groups", "volumes", "crypto" };

	cr_assert_str_eq(hint_closest("volume-group", words, 4), "volume-groups");
	cr_assert_str_eq(hint_closest("volumse", words, 4), "volumes", "a swap of two letters");
	cr_assert_str_eq(hint_closest("Crypto", words, 4), "crypto");
	cr_assert_str_eq(hint_closest("caller", words, 4), "callers");
	cr_assert_null(hint_closest("forward", words, 4), "no known word is close");
	cr_assert_null(hint_closest("x", words, 4));
	/* At the edge of the limit (3 for long words), and just past it. */
	cr_assert_str_eq(hint_closest("vloume-grop", words, 4), "volume-groups",
			 "a swap and two drops");
	cr_assert_null(hint_closest("vloume-grp", words, 4), "four edits away");
	cr_assert_null(hint_closest("volume-groups-and-more-besides", words, 4));
}

Test(policy, glob_where_a_regex_is_expected_gets_a_hint)
{
	char buf[256];

	cr_assert_str_eq(hint_glob("nova-*", buf, sizeof(buf)),
			 "patterns are regular expressions, not globs: '*' makes the '-' before "
			 "it repeat (zero or more times); did you mean 'nova-.*'?");
	cr_assert_str_eq(hint_glob("*_disk", buf, sizeof(buf)),
			 "patterns are regular expressions, not globs: a leading '*' repeats "
			 "nothing; did you mean '.*_disk'?");
	cr_assert_str_eq(hint_glob("disk?", buf, sizeof(buf)),
			 "patterns are regular expressions, not globs: '?' makes the 'k' before "
			 "it optional; did you mean 'disk.'?");
	cr_assert_null(hint_glob("nova-.*", buf, sizeof(buf)));
	cr_assert_null(hint_glob("^disk[0-9]*$", buf, sizeof(buf)));
	cr_assert_null(hint_glob("(a|b)?x", buf, sizeof(buf)));
	cr_assert_null(hint_glob("a\\*", buf, sizeof(buf)), "an escaped '*' is a literal");
}

/* policy_lint's output for text, with the directory cut off; returns the count. */
static int
lint(const char *text, char **out)
{
	struct policy *p = good(text);
	size_t len = 0;
	FILE *f = open_memstream(out, &len);
	int n;

	cr_assert_not_null(f);
	n = policy_lint(p, f);
	fclose(f);
	cutdir(*out);
	policy_free(p);
	return n;
}

Test(policy, check_warns_about_patterns_that_accept_everything_or_look_like_globs)
{
	char *out;

	cr_assert_eq(lint("[volume-groups]\nvg vg0 max-lv-size 1G\n[volumes]\nlv nova-*\n"
			  "lv in vg0 .*\nlv ^disk[0-9]+$\n[mappings]\nmapping .+\nmapping "
			  "(.*)\nmapping [^/]*\n",
			  &out),
		     5, "%s", out);
	cr_assert_str_eq(
		out,
		"policy.conf:4: warning: [volumes] pattern 'nova-*': patterns are regular "
		"expressions, not globs: '*' makes the '-' before it repeat (zero or more times); "
		"did you mean 'nova-.*'?\n"
		"policy.conf:5: warning: [volumes] pattern '.*' accepts every name in vg0: allow "
		"only the names Nova makes (as the example policy does: "
		"^[0-9a-f-]{36}_disk(\\.local|\\.swap)?$)\n"
		"policy.conf:8: warning: [mappings] pattern '.+' accepts every name: allow only "
		"the "
		"names Nova makes (as the example policy does: "
		"^[0-9a-f-]{36}_disk(\\.local|\\.swap)?-dmcrypt$)\n"
		"policy.conf:9: warning: [mappings] pattern '(.*)' accepts every name: allow only "
		"the names Nova makes (as the example policy does: "
		"^[0-9a-f-]{36}_disk(\\.local|\\.swap)?-dmcrypt$)\n"
		"policy.conf:10: warning: [mappings] pattern '[^/]*' accepts every name: allow "
		"only "
		"the names Nova makes (as the example policy does: "
		"^[0-9a-f-]{36}_disk(\\.local|\\.swap)?-dmcrypt$)\n");
	free(out);
}

Test(policy, nova_example_has_no_warnings)
{
	struct policy *p = nova_example();
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	cr_assert_eq(policy_lint(p, f), 0);
	fclose(f);
	cr_assert_str_empty(out);
	free(out);
	policy_free(p);
}

Test(policy, owner_mode_and_contents_errors_are_all_shown)
{
	struct policy *p = (struct policy *)1;
	char *msgs;

	if (geteuid() != 0)
		cr_skip_test("chown needs root");
	writefile("[volume-group]\n", 15);
	cr_assert_eq(chmod(path, 0664), 0);
	cr_assert_eq(chown(path, 1, 0), 0);
	cr_assert_eq(loadpath(path, true, &p, &msgs), 3, "%s", msgs);
	cr_assert_str_eq(msgs,
			 "policy.conf: owned by uid 1, not root: whoever owns it decides what root "
			 "does (chown root:root policy.conf)\n"
			 "policy.conf: writable by group or others (mode 0664): it should be mode "
			 "0644 (chmod 0644 policy.conf)\n"
			 "policy.conf:1: unknown section [volume-group]; did you mean "
			 "[volume-groups]?\n");
	cr_assert_null(p);
	free(msgs);
}

/* --- helper.conf ----------------------------------------------------------- */

/* Load text as helper.conf over the defaults; the messages with the directory cut. */
static int
settings_text(const char *text, bool check, struct settings *s, char **msgs)
{
	size_t len = 0;
	FILE *err = open_memstream(msgs, &len);
	int n;

	cr_assert_not_null(err);
	writefile(text, strlen(text));
	settings_default(s);
	n = settings_load(path, false, check, err, s);
	fclose(err);
	cutdir(*msgs);
	return n;
}

Test(policy, helper_conf_defaults_and_every_key)
{
	struct settings s;
	char *msgs;

	settings_default(&s);
	cr_assert_str_eq(s.policy, "/etc/ephcrypt/policy.conf");
	cr_assert_str_eq(s.audit_log, "/var/log/ephcrypt/audit.log");
	cr_assert_str_eq(s.lvm, "/sbin/lvm");
	cr_assert_eq(s.max_message, 1u << 20);
	cr_assert_eq(s.lvm_timeout_s, 120);
	cr_assert_eq(settings_text("# deployer's settings\n\npolicy = /etc/p.conf\n"
				   "  audit-log=/srv/audit.log   # on its own disk\n"
				   "lvm\t=\t/usr/sbin/lvm\nmax-message = 65536\nlvm-timeout = 30\n",
				   false, &s, &msgs),
		     0, "%s", msgs);
	cr_assert_str_eq(s.policy, "/etc/p.conf");
	cr_assert_str_eq(s.audit_log, "/srv/audit.log");
	cr_assert_str_eq(s.lvm, "/usr/sbin/lvm");
	cr_assert_eq(s.max_message, 65536);
	cr_assert_eq(s.lvm_timeout_s, 30);
	cr_assert_eq(s.line[SK_LVM], 5, "where each was set, for messages");
	free(msgs);
}

Test(policy, helper_conf_every_error_with_its_line)
{
	struct settings s;
	char *msgs;

	cr_assert_eq(settings_text("polcy = /etc/p.conf\nlvm = /sbin/lvm\nlvm = /sbin/lvm\n"
				   "max-message = 1\nlvm-timeout = 1h\npolicy\naudit-log = /a /b\n"
				   "audit-log =\nfoo bar = 1\nverbose = yes\npolicy = etc/p.conf\n",
				   false, &s, &msgs),
		     10, "%s", msgs);
	cr_assert_str_eq(msgs, "policy.conf:1: unknown key 'polcy'; did you mean 'policy'?\n"
			       "policy.conf:3: duplicate 'lvm' (first at line 2)\n"
			       "policy.conf:4: max-message: '1' is not a number in [4096, "
			       "67108864] (bytes)\n"
			       "policy.conf:5: lvm-timeout: '1h' is not a number in [1, 3600] "
			       "(seconds)\n"
			       "policy.conf:6: expected 'key = value'\n"
			       "policy.conf:7: audit-log: one value only, got more after '/a'\n"
			       "policy.conf:8: audit-log: missing value\n"
			       "policy.conf:9: expected 'key = value' (one word before '=')\n"
			       "policy.conf:10: unknown key 'verbose' (known: policy, audit-log, "
			       "lvm, max-message, lvm-timeout)\n"
			       "policy.conf:11: policy: 'etc/p.conf' is not an absolute path\n");
	free(msgs);
}

Test(policy, helper_conf_missing_is_the_defaults_only_when_allowed)
{
	struct settings s;
	size_t len = 0;
	char *msgs = NULL;
	FILE *err = open_memstream(&msgs, &len);

	settings_default(&s);
	cr_assert_eq(settings_load(path, true, true, err, &s), 0, "no file: the defaults stand");
	cr_assert_eq(settings_load(path, false, true, err, &s), 1);
	fclose(err);
	cutdir(msgs);
	cr_assert_str_eq(msgs, "policy.conf: No such file or directory\n");
	free(msgs);
}

Test(policy, helper_conf_is_checked_like_the_policy)
{
	struct settings s;
	char *msgs;

	if (geteuid() != 0)
		cr_skip_test("the file must be root's for the mode to be the reason");
	writefile("", 0);
	cr_assert_eq(chmod(path, 0666), 0);
	cr_assert_eq(settings_text("lvm = /bin/sh\n", true, &s, &msgs), 1);
	cr_assert_str_eq(msgs, "policy.conf: writable by group or others (mode 0666): it should "
			       "be mode 0644 (chmod 0644 policy.conf)\n");
	free(msgs);
}

Test(policy, shipped_helper_conf_loads_and_says_the_defaults)
{
	struct settings s, d;
	char *msgs = NULL;
	size_t len = 0;
	FILE *err = open_memstream(&msgs, &len);

	settings_default(&s);
	settings_default(&d);
	cr_assert_eq(settings_load("contrib/system/helper.conf", false, false, err, &s), 0);
	fclose(err);
	cr_assert_str_empty(msgs);
	for (int k = 0; k < SK_COUNT; k++)
		cr_assert_neq(s.line[k], 0, "the example sets '%s'", settings_key_name(k));
	cr_assert_str_eq(s.policy, d.policy);
	cr_assert_str_eq(s.audit_log, d.audit_log);
	cr_assert_str_eq(s.lvm, d.lvm);
	cr_assert_eq(s.max_message, d.max_message);
	cr_assert_eq(s.lvm_timeout_s, d.lvm_timeout_s);
	free(msgs);
}

/* [forward]: which entrypoints go to privsep-helper; deny by default. */
Test(policy, forward_section)
{
	struct policy *p = good("[forward]\n"
				"entrypoint nova\\.privsep\\.path\\.last_bytes\n"
				"entrypoint ^nova\\.privsep\\.qemu\\.convert_image$\n");
	static const char *const native[] = { "nova.privsep.fs.vginfo", "ephcrypt.version" };

	cr_expect_eq(policy_forward_count(p), 2);
	cr_expect_eq(policy_forward(p, "nova.privsep.path.last_bytes", &v), 0);
	cr_expect(strstr(v.rule, ":2") != NULL, "rule %s", v.rule);
	cr_expect_eq(policy_forward(p, "nova.privsep.qemu.convert_image", &v), 0);
	cr_expect_eq(policy_forward(p, "nova.privsep.path.writefile", &v), -1);
	cr_expect_str_eq(v.rule, "default deny ([forward])");
	cr_expect_str_eq(v.why, "entrypoint 'nova.privsep.path.writefile' matches no [forward] "
				"pattern");
	/* anchored: a longer name is not a match */
	cr_expect_eq(policy_forward(p, "nova.privsep.path.last_bytes2", &v), -1);
	cr_expect_eq(policy_forward_overlap(p, native, 2, stderr), 0);
	policy_free(p);
	p = good("[crypto]\n");
	cr_expect_eq(policy_forward_count(p), 0);
	cr_expect_eq(policy_forward(p, "nova.privsep.path.last_bytes", &v), -1);
	policy_free(p);
}

/* A pattern that would route around the storage checks is an error at start-up. */
Test(policy, forward_pattern_over_a_native_name)
{
	struct policy *p = good("[forward]\nentrypoint nova\\.privsep\\.fs\\..*\n"
				"entrypoint nova\\.privsep\\.fs\\.mkfs\n");
	static const char *const native[] = { "nova.privsep.fs.vginfo", "nova.privsep.fs.lvcreate",
					      "ephcrypt.version" };
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	cr_expect_eq(policy_forward_overlap(p, native, 3, f), 1);
	fclose(f);
	cutdir(out);
	cr_expect_str_eq(out, "policy.conf:2: pattern '^(nova\\.privsep\\.fs\\..*)$' matches "
			      "'nova.privsep.fs.vginfo', which is never forwarded\n");
	free(out);
	policy_free(p);
}

Test(policy, forward_grammar_errors)
{
	bad("entrypoint x\n", "policy.conf:1: 'entrypoint' before any section (it belongs in "
			      "[forward])\n");
	bad("[forward]\nentrypoint\n", "policy.conf:2: missing argument (usage: entrypoint "
				       "PATTERN)\n");
	bad("[forward]\nentrypoint a b\n", "policy.conf:2: trailing garbage 'b' (usage: "
					   "entrypoint PATTERN)\n");
	bad("[forward]\nmapping x\n", "policy.conf:2: 'mapping' is not allowed in [forward] (it "
				      "belongs in [mappings])\n");
}

/* Nova sends the hex of its key: 2 bytes of passphrase a key byte, unless the policy says less. */
Test(policy, nova_passphrase_minimum)
{
	struct policy *p = good("[crypto]\n");

	REFUSED(policy_nova_passphrase(p, 0, 512, &v), "default deny",
		"Nova passphrase is 0 bytes, [crypto] needs at least 128 (the hex of a key of "
		"key_size bits)");
	REFUSED(policy_nova_passphrase(p, 1, 256, &v), "default deny",
		"Nova passphrase is 1 bytes, [crypto] needs at least 64 (the hex of a key of "
		"key_size bits)");
	REFUSED(policy_nova_passphrase(p, 127, 512, &v), "default deny",
		"Nova passphrase is 127 bytes, [crypto] needs at least 128 (the hex of a key of "
		"key_size bits)");
	cr_assert_eq(policy_nova_passphrase(p, 128, 512, &v), 0);
	policy_free(p);
	p = good("[crypto]\nnova-passphrase-min 32\n");
	REFUSED(policy_nova_passphrase(p, 31, 512, &v), at(2),
		"Nova passphrase is 31 bytes, [crypto] needs at least 32 (nova-passphrase-min)");
	ALLOWED(policy_nova_passphrase(p, 32, 512, &v), 2);
	policy_free(p);
	bad("[crypto]\nnova-passphrase-min 0\n",
	    "policy.conf:2: passphrase length '0' is not a number in 1..256\n");
	bad("[crypto]\nnova-passphrase-min 8\nnova-passphrase-min 9\n",
	    "policy.conf:3: duplicate 'nova-passphrase-min' (first at line 2)\n");
}
