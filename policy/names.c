/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one validator per name kind (volume group, LV, device-mapper name),
 * used by both the policy loader and the policy checks. The rules follow
 * lvm2 (lib/misc/lvm-string.c _validate_name, apply_lvname_restrictions)
 * and libdevmapper (DM_NAME_LEN), narrowed where that costs nothing.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "names.h"

static const char charset[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+_.-";

/* Directories and files udev and the kernel put in /dev: /dev/<vg> would clash. */
static const char *const dev_reserved[] = {
	"block", "bus",	   "char",   "cpu", "disk", "dri", "fd",  "hugepages",
	"input", "mapper", "mqueue", "net", "pts",  "shm", "snd",
};

/* lvm2 names its sub-volumes with these; a user LV containing one confuses it. */
static const char *const lv_reserved[] = {
	"_cdata", "_cmeta",  "_corig", "_cpool",   "_cvol",   "_imeta",
	"_iorig", "_mimage", "_mlog",  "_pmspare", "_rimage", "_rmeta",
	"_tdata", "_tmeta",  "_vdata", "_vorigin", "_wcorig",
};

static const char *const lv_prefixes[] = { "pvmove", "snapshot" };

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static size_t
show1(unsigned char c, char *buf, size_t cap)
{
	if (c == '\n')
		return (size_t)snprintf(buf, cap, "\\n");
	if (c == '\t')
		return (size_t)snprintf(buf, cap, "\\t");
	if (c == '\\' || c == '\'')
		return (size_t)snprintf(buf, cap, "\\%c", c);
	if (c < 0x20 || c > 0x7e)
		return (size_t)snprintf(buf, cap, "\\x%02x", c);
	return (size_t)snprintf(buf, cap, "%c", c);
}

void
name_show(const char *s, char *dst, size_t cap)
{
	char buf[8];
	size_t i, n, o = 0;

	if (cap == 0)
		return;
	dst[0] = '\0';
	if (!s) {
		snprintf(dst, cap, "(null)");
		return;
	}
	for (i = 0; s[i] && i < NAME_SHOW_MAX; i++) {
		n = show1((unsigned char)s[i], buf, sizeof(buf));
		if (o + n >= cap)
			return;
		memcpy(dst + o, buf, n + 1);
		o += n;
	}
	if (s[i] && o + 3 < cap)
		memcpy(dst + o, "...", 4);
}

static int __attribute__((format(printf, 5, 6)))
refuse(char *why, size_t whylen, const char *kind, const char *name, const char *fmt, ...)
{
	char shown[NAME_SHOW_CAP], rule[192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rule, sizeof(rule), fmt, ap);
	va_end(ap);
	name_show(name, shown, sizeof(shown));
	if (why && whylen)
		snprintf(why, whylen, "%s '%s': %s", kind, shown, rule);
	return -1;
}

/* What every kind shares: lvm2 _validate_name, bounded as DM_NAME_LEN. */
static int
common(const char *kind, const char *s, char *why, size_t whylen)
{
	char c[8];
	size_t i;

	if (!s || !*s)
		return refuse(why, whylen, kind, s, "must not be empty");
	if (strnlen(s, NAME_MAX_LEN + 1) > NAME_MAX_LEN)
		return refuse(why, whylen, kind, s, "is longer than %d bytes", NAME_MAX_LEN);
	/* lvm2 joins VG and LV with '-' in dm names: a leading one is ambiguous. */
	if (s[0] == '-')
		return refuse(why, whylen, kind, s, "must not start with '-'");
	if (!strcmp(s, ".") || !strcmp(s, ".."))
		return refuse(why, whylen, kind, s, "must not be '.' or '..'");
	i = strspn(s, charset);
	if (s[i]) {
		show1((unsigned char)s[i], c, sizeof(c));
		return refuse(why, whylen, kind, s,
			      "byte %zu ('%s') is not one of A-Z a-z 0-9 + _ . -", i, c);
	}
	return 0;
}

int
name_check_vg(const char *vg, char *why, size_t whylen)
{
	static const char kind[] = "volume group name";
	size_t i;

	if (common(kind, vg, why, whylen) < 0)
		return -1;
	for (i = 0; i < NELEM(dev_reserved); i++)
		if (!strcmp(vg, dev_reserved[i]))
			return refuse(why, whylen, kind, vg,
				      "is reserved (/dev/%s is not a volume group)", vg);
	return 0;
}

int
name_check_lv(const char *lv, char *why, size_t whylen)
{
	static const char kind[] = "LV name";
	size_t i;

	if (common(kind, lv, why, whylen) < 0)
		return -1;
	for (i = 0; i < NELEM(lv_prefixes); i++)
		if (!strncmp(lv, lv_prefixes[i], strlen(lv_prefixes[i])))
			return refuse(why, whylen, kind, lv,
				      "names starting with '%s' are reserved by LVM",
				      lv_prefixes[i]);
	for (i = 0; i < NELEM(lv_reserved); i++)
		if (strstr(lv, lv_reserved[i]))
			return refuse(why, whylen, kind, lv,
				      "names containing '%s' are reserved by LVM", lv_reserved[i]);
	return 0;
}

int
name_check_dm(const char *name, char *why, size_t whylen)
{
	static const char kind[] = "mapping name";

	if (common(kind, name, why, whylen) < 0)
		return -1;
	if (!strcmp(name, "control"))
		return refuse(why, whylen, kind, name,
			      "is reserved (/dev/mapper/control is device-mapper's own)");
	return 0;
}
