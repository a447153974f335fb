/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Nova 26's own storage entrypoints (nova.privsep.fs.*, nova.privsep.libvirt.*),
 * so Nova's unchanged storage code can use ephcrypt. Nova parses the text the
 * real commands print, so reports return [stdout, stderr] of the same LVM
 * report; failures are ProcessExecutionError with the exit code the real tool
 * gives. Every name and device still passes the policy first.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../policy/policy.h"
#include "guard.h"
#include "helper.h"
#include "ops/crypt.h"
#include "ops/dm.h"
#include "ops/lvm.h"

#define CLEAR_CHUNK	(1u << 20)
#define REPORT_ARGV	24 /* "lvm" and a report's arguments */
#define SHRED_PASSES	3
#define LVM_EXIT_FAILED 5 /* lvm's ECMD_FAILED */

/* [stdout, stderr], as Nova's execute() returns them. */
static int
put_out_err(struct mp_buf *b, const char *out, const char *err)
{
	return mp_put_array(b, 2) || mp_put_str(b, out ? out : "") || mp_put_str(b, err ? err : "");
}

/* lvlist's "  name\n" lines, keeping only what the policy lets the caller see. */
static int
put_visible_lvs(struct call *c, const char *vg, const char *out, const char *err)
{
	size_t len = strlen(out);
	/* + 2: a last line without its newline gets one. */
	char *shown = calloc(1, len + 2), *copy = strdup(out), *save = NULL;
	size_t n = 0;

	if (!shown || !copy) {
		free(shown);
		free(copy);
		return call_oserror(c, ENOMEM, "lvlist: out of memory");
	}
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* lvs pads names to its column width on both sides; Nova strips them itself. */
		size_t start = strspn(line, " "), end = strlen(line);
		char name[OP_NAME_CAP];

		while (end > start && line[end - 1] == ' ')
			end--;
		if (end - start >= sizeof(name))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(end - start), line + start);
		if (guard_lv_visible(c, vg, name))
			n += (size_t)sprintf(shown + n, "%s\n", line);
	}
	put_out_err(c->ret, shown, err);
	free(shown);
	free(copy);
	return 0;
}

/*
 * Visible, or LVM's own hidden virtual origin of a visible sparse LV (Nova's
 * lvcreate --virtualsize makes NAME_vorigin with NAME): that origin is part
 * of the allowed LV, and privsep-helper's lvinfo names it too.
 */
static bool
lv_seen(const struct call *c, const char *vg, const char *name)
{
	static const char suffix[] = "_vorigin";
	size_t len = strlen(name), slen = sizeof(suffix) - 1;
	char owner[OP_NAME_CAP];

	if (guard_lv_visible(c, vg, name))
		return true;
	if (len <= slen || strcmp(name + len - slen, suffix) != 0)
		return false;
	snprintf(owner, sizeof(owner), "%.*s", (int)(len - slen), name);
	return guard_lv_visible(c, vg, owner);
}

/* Is any comma-separated part of cell (brackets stripped) an LV of vg the caller may not see? */
static bool
names_unseen_lv(const struct call *c, const char *vg, const struct lvm_names *all, const char *cell,
		size_t len)
{
	for (const char *p = cell, *end = cell + len; p < end;) {
		size_t n =
			strcspn(p, ",") < (size_t)(end - p) ? strcspn(p, ",") : (size_t)(end - p);
		char tok[OP_NAME_CAP], bare[OP_NAME_CAP];

		snprintf(tok, sizeof(tok), "%.*s", (int)(n < OP_NAME_CAP - 1 ? n : OP_NAME_CAP - 1),
			 p);
		lv_bare_name(tok, bare);
		for (size_t k = 0; k < all->n; k++) {
			char name[OP_NAME_CAP];

			lv_bare_name(all->names[k], name);
			if (strcmp(name, bare) == 0 && !lv_seen(c, vg, name))
				return true;
		}
		p += n + 1;
	}
	return false;
}

/*
 * A report's '|'-separated cells with every one that names an LV outside the
 * policy emptied (a snapshot's origin, a thin volume's pool, ancestors): what
 * the caller may see of an allowed LV never names one it may not.
 */
static void
hide_unseen_lvs(const struct call *c, const char *vg, const struct lvm_names *all, char *text)
{
	char *dst = text;

	for (const char *p = text; *p;) {
		size_t len = strcspn(p, "|\n"), lead = strspn(p, " ");
		bool hide = lead < len && names_unseen_lv(c, vg, all, p + lead, len - lead);

		memmove(dst, p, hide ? lead : len);
		dst += hide ? lead : len;
		p += len;
		if (*p)
			*dst++ = *p++;
	}
	*dst = '\0';
}

/*
 * Run an LVM report as Nova would, replying [stdout, stderr]; argv[0] is the
 * tool name. A failure names shown (Nova's own command line) when it differs.
 */
static int
report_as(struct call *c, const char *const argv[], const char *const shown[], int attempts,
	  bool is_lvlist, const struct lvm_names *all)
{
	const char *full[REPORT_ARGV] = { "lvm" };
	struct lvm_out o;
	int rc = 0;

	for (size_t k = 0; argv[k] && k < REPORT_ARGV - 2; k++)
		full[k + 1] = argv[k];
	if (lvm_run(&c->opt->lvm, full, attempts, &o) < 0)
		return call_oserror(c, EIO, "cannot run %s", c->opt->lvm.path);
	if (o.status == 0 && all && o.out)
		hide_unseen_lvs(c, c->t.vg, all, o.out);
	if (o.status != 0)
		rc = call_process_error(c, o.out, o.err, o.status, shown ? shown : argv);
	else if (is_lvlist)
		rc = put_visible_lvs(c, c->t.vg, o.out ? o.out : "", o.err);
	else
		put_out_err(c->ret, o.out, o.err);
	lvm_out_free(&o);
	return rc;
}

static int
report(struct call *c, const char *const argv[], int attempts, bool is_lvlist)
{
	return report_as(c, argv, NULL, attempts, is_lvlist, NULL);
}

/* "/dev/VG/LV" into the target, checked; Nova never passes another form. */
static int
lv_path_arg(struct call *c, unsigned i, char *path, size_t cap)
{
	const char *slash;

	if (arg_cstr(c, i, path, cap) < 0)
		return -1;
	snprintf(c->t.device, sizeof(c->t.device), "%s", path); /* for the audit record */
	slash = strncmp(path, "/dev/", 5) == 0 ? strchr(path + 5, '/') : NULL;
	if (!slash || (size_t)(slash - path - 5) >= sizeof(c->t.vg) || strchr(slash + 1, '/'))
		return guard_deny(c, "built-in: Nova names an LV as /dev/VG/LV",
				  "path '%s' is not /dev/VG/LV", path);
	/* Refused, not cut: the name checked must be the name lvm gets. */
	if (strlen(slash + 1) >= sizeof(c->t.lv))
		return call_fail(c, EXC_VALUE, EINVAL, "LV name in '%.64s...' is too long", path);
	snprintf(c->t.vg, sizeof(c->t.vg), "%.*s", (int)(slash - path - 5), path + 5);
	snprintf(c->t.lv, sizeof(c->t.lv), "%s", slash + 1);
	return guard_lv(c, c->t.vg, c->t.lv);
}

/* Nova passes "/dev/<vg>" to lvlist and a bare name to vginfo. */
static int
vg_arg_nova(struct call *c, unsigned i, char *given, size_t cap)
{
	const char *vg;

	if (arg_cstr(c, i, given, cap) < 0)
		return -1;
	vg = strncmp(given, "/dev/", 5) ? given : given + 5;
	if (strlen(vg) >= sizeof(c->t.vg))
		return call_fail(c, EXC_VALUE, EINVAL, "VG name '%.64s...' is too long", vg);
	snprintf(c->t.vg, sizeof(c->t.vg), "%s", vg);
	return guard_vg(c, c->t.vg);
}

static int
nova_fs_vginfo(struct call *c)
{
	char vg[160];
	const char *argv[] = {
		"vgs", "--noheadings",	  "--nosuffix", "--separator", "|", "--units", "b",
		"-o",  "vg_size,vg_free", vg,		NULL
	};

	return vg_arg_nova(c, 0, vg, sizeof(vg)) < 0 ? -1 : report(c, argv, 3, false);
}

static int
nova_fs_lvlist(struct call *c)
{
	char vg[160];
	const char *argv[] = { "lvs", "--noheadings", "-o", "lv_name", vg, NULL };

	return vg_arg_nova(c, 0, vg, sizeof(vg)) < 0 ? -1 : report(c, argv, 3, true);
}

static int
nova_fs_lvinfo(struct call *c)
{
	char path[300];
	const char *argv[] = { "lvs", "-o", "vg_all,lv_all", "--separator", "|", path, NULL };

	struct lvm_names all;
	struct op_error e;
	int rc;

	if (lv_path_arg(c, 0, path, sizeof(path)) < 0)
		return -1;
	/* The VG's LV names first: the report may name some the caller may not see. */
	if ((rc = lvm_lv_names_all(&c->opt->lvm, c->t.vg, &all, &e)) < 0)
		return call_op_fail(c, rc, &e);
	rc = report_as(c, argv, NULL, 1, false, &all);
	lvm_names_free(&all);
	return rc;
}

/* Our refusal, as lvremove words one on stderr, under Nova's own command line. */
static int
lvremove_refused(struct call *c, const struct op_error *e, const char *const nova_argv[])
{
	char err[OP_WHY_MAX + 4];

	snprintf(err, sizeof(err), "  %s\n", e->why);
	return call_process_error(c, "", err, LVM_EXIT_FAILED, nova_argv);
}

static int
nova_fs_lvremove(struct call *c)
{
	char path[300];
	/*
	 * --yes only once nothing else would go with it (lvm_lv_removable), and
	 * LVM itself skips the LV should something hang off it by then.
	 */
	const char *argv[] = { "lvremove", "--yes", "-S", LVM_REMOVE_ALONE, path, NULL };
	const char *nova_argv[] = { "lvremove", "-f", path, NULL }; /* what Nova's log shows */
	struct op_error e;
	bool active;
	int rc;

	if (lv_path_arg(c, 0, path, sizeof(path)) < 0)
		return -1;
	/* A missing LV is lvremove's to report, in its own words, as for Nova. */
	rc = lvm_lv_removable(&c->opt->lvm, c->t.vg, c->t.lv, &e);
	if (rc < 0 && rc != -ENOENT)
		return lvremove_refused(c, &e, nova_argv);
	active = lvm_lv_node_exists(c->t.vg, c->t.lv);
	if (report_as(c, argv, nova_argv, 3, false, NULL) < 0)
		return -1;
	if (lvm_lv_gone(&c->opt->lvm, c->t.vg, c->t.lv, active, &e) < 0)
		return lvremove_refused(c, &e, nova_argv);
	mp_buf_reset(c->ret);
	return mp_put_nil(c->ret);
}

/* nova.privsep.fs.lvcreate, Nova's argument order (size, lv, vg, preallocated). */
static int
nova_fs_lvcreate(struct call *c)
{
	char sz[32], pre[32];
	uint64_t size, prealloc = 0;
	/* --yes: never prompt over an old signature (Nova bug 2129678). */
	const char *plain[] = { "lvcreate", "--yes", "-L", sz, "-n", c->t.lv, c->t.vg, NULL };
	/*
	 * Nova's sparse form (-L <prealloc> --virtualsize <size>), pinned to a
	 * snapshot of a zero device: under LVM's default sparse type (thin) it
	 * would also make a thin pool named lvolN, outside the policy, that
	 * outlives the LV.  A snapshot's hidden origin goes with it.
	 */
	const char *sparse[] = { "lvcreate",	  "--yes", "--type", "snapshot", "-L",	  pre,
				 "--virtualsize", sz,	   "-n",     c->t.lv,	 c->t.vg, NULL };

	if (arg_u64(c, 0, 1, UINT64_C(1) << 60, &size) < 0 ||
	    arg_cstr(c, 1, c->t.lv, sizeof(c->t.lv)) < 0 ||
	    arg_cstr(c, 2, c->t.vg, sizeof(c->t.vg)) < 0 || guard_lv(c, c->t.vg, c->t.lv) < 0 ||
	    guard_lv_size(c, c->t.vg, size) < 0 ||
	    (arg_get(c, 3) && arg_u64(c, 3, 0, size, &prealloc) < 0))
		return -1;
	snprintf(sz, sizeof(sz), "%llub", (unsigned long long)size);
	snprintf(pre, sizeof(pre), "%llub", (unsigned long long)prealloc);
	if (report(c, prealloc ? sparse : plain, 3, false) < 0)
		return -1;
	mp_buf_reset(c->ret);
	return mp_put_nil(c->ret);
}

/* blockdev --getsize64, in-process. */
static int
nova_fs_blockdev_size(struct call *c)
{
	const char *argv[] = { "blockdev", "--getsize64", c->t.device, NULL };
	char out[32], err[OP_REASON_MAX];
	uint64_t size = 0;
	int fd;

	if (arg_cstr(c, 0, c->t.device, sizeof(c->t.device)) < 0)
		return -1;
	/* Decided from the path's text first: no probing of other paths for existence. */
	if (guard_block_device_name(c, c->t.device) < 0)
		return -1;
	if (access(c->t.device, F_OK) < 0) { /* Nova turns this into VolumeBDMPathNotFound */
		snprintf(err, sizeof(err), "blockdev: cannot open %s: %s\n", c->t.device,
			 strerror(errno));
		return call_process_error(c, "", err, 1, argv);
	}
	if (guard_block_device(c, c->t.device) < 0)
		return -1;
	fd = open(c->t.node, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, BLKGETSIZE64, &size) < 0) {
		snprintf(err, sizeof(err), "blockdev: %s: %s\n", c->t.device, strerror(errno));
		if (fd >= 0)
			close(fd);
		return call_process_error(c, "", err, 1, argv);
	}
	close(fd);
	snprintf(out, sizeof(out), "%llu\n", (unsigned long long)size);
	return put_out_err(c->ret, out, "");
}

/* One pass over the first size bytes: zeros, or random data as shred -n3 writes. */
static int
clear_pass(int fd, uint8_t *buf, uint64_t size, bool random_data)
{
	for (uint64_t off = 0; off < size;) {
		size_t n = size - off < CLEAR_CHUNK ? (size_t)(size - off) : CLEAR_CHUNK;
		ssize_t w;

		if (random_data && getrandom(buf, n, 0) != (ssize_t)n)
			return -1;
		w = pwrite(fd, buf, n, (off_t)off);
		if (w == 0)
			errno = ENOSPC; /* shred's word for a device that ends early */
		if (w <= 0)
			return -1;
		off += (uint64_t)w;
	}
	return fdatasync(fd);
}

/* shred -n0 -z -s<size> (or -n3), in-process: no exec of shred. */
static int
nova_fs_clear(struct call *c)
{
	char sz[32], err[OP_REASON_MAX];
	const char *zero_argv[] = { "shred", "-n0", "-z", sz, c->t.device, NULL };
	const char *shred_argv[] = { "shred", "-n3", sz, c->t.device, NULL };
	bool shred = arg_bool(c, 2, false);
	uint64_t size, devsize = 0;
	uint8_t *buf;
	int fd, rc = 0;

	if (arg_cstr(c, 0, c->t.device, sizeof(c->t.device)) < 0 ||
	    arg_u64(c, 1, 0, UINT64_C(1) << 60, &size) < 0 || guard_device(c, c->t.device) < 0)
		return -1;
	snprintf(sz, sizeof(sz), "-s%llu", (unsigned long long)size);
	fd = open(c->t.node, O_WRONLY | O_CLOEXEC);
	buf = calloc(1, CLEAR_CHUNK);
	if (fd < 0 || !buf || ioctl(fd, BLKGETSIZE64, &devsize) < 0 || size > devsize)
		rc = -1;
	for (int pass = 0; rc == 0 && pass < (shred ? SHRED_PASSES : 1); pass++)
		rc = clear_pass(fd, buf, size, shred);
	if (rc < 0) {
		snprintf(err, sizeof(err), "shred: %s: %s\n", c->t.device,
			 size > devsize && fd >= 0 ? "size exceeds the device" : strerror(errno));
		rc = call_process_error(c, "", err, 1, shred ? shred_argv : zero_argv);
	} else {
		mp_put_nil(c->ret);
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

/* cryptsetup's exit codes: 1 bad parameters, 4 wrong device, 5 exists or busy. */
static int
cryptsetup_code(int err)
{
	return err == ENOENT || err == ENODEV ? 4 : err == EEXIST || err == EBUSY ? 5 : 1;
}

/* A crypt failure, reported as the cryptsetup command Nova would have run. */
static int
cryptsetup_error(struct call *c, int errnum, const char *why, const char *const argv[])
{
	char err[OP_WHY_MAX + 2];

	snprintf(err, sizeof(err), "%s\n", why);
	return call_process_error(c, "", err, cryptsetup_code(errnum), argv);
}

/* The same key as `cryptsetup create --key-file=-` fed hexlify(key): a hashed passphrase. */
static int
nova_libvirt_dmcrypt_create_volume(struct call *c)
{
	char ks[32], cip[80];
	const char *argv[] = { "cryptsetup", "create", c->t.mapping,   c->t.device,
			       cip,	     ks,       "--key-file=-", NULL };
	const struct mp_value *key = NULL;
	struct dmcrypt_req r = { .name = c->t.mapping, .sector_size = DMCRYPT_SECTOR_DEFAULT };
	struct op_error e;
	uint64_t bits;
	int rc;

	if (arg_cstr(c, 0, c->t.mapping, sizeof(c->t.mapping)) < 0 ||
	    arg_cstr(c, 1, c->t.device, sizeof(c->t.device)) < 0 ||
	    arg_cstr(c, 2, c->t.cipher, sizeof(c->t.cipher)) < 0 ||
	    arg_u64(c, 3, 8, 4096, &bits) < 0)
		return -1;
	key = arg_get(c, 4);
	snprintf(cip, sizeof(cip), "--cipher=%s", c->t.cipher);
	snprintf(ks, sizeof(ks), "--key-size=%llu", (unsigned long long)bits);
	r.cipher = c->t.cipher;
	r.key = key->v.bytes;
	r.key_len = key->len;
	r.key_bits = c->t.key_size = (unsigned)bits;
	c->t.sector_size = r.sector_size;
	r.passphrase_hash = policy_nova_hash(c->opt->policy);
	if (guard_mapping(c, r.name) < 0 || guard_device(c, c->t.device) < 0 ||
	    guard_crypt(c, &r) < 0)
		return -1;
	r.device = c->t.node;
	if (mapper_exists(r.name)) {
		snprintf(e.why, sizeof(e.why), "Device %s already exists.", r.name);
		return cryptsetup_error(c, EEXIST, e.why, argv);
	}
	if ((rc = dmcrypt_open(&r, &e)) < 0)
		return cryptsetup_error(c, -rc, e.why, argv);
	return mp_put_nil(c->ret);
}

static int
nova_libvirt_dmcrypt_delete_volume(struct call *c)
{
	char target[200];
	const char *argv[] = { "cryptsetup", "remove", target, NULL };
	const char *name;
	struct op_error e;
	int rc;

	if (arg_cstr(c, 0, target, sizeof(target)) < 0)
		return -1;
	name = strncmp(target, "/dev/mapper/", 12) ? target : target + 12;
	if (strlen(name) >= sizeof(c->t.mapping))
		return call_fail(c, EXC_VALUE, EINVAL, "target '%.64s...' is too long", name);
	memcpy(c->t.mapping, name, strlen(name) + 1);
	if (guard_mapping(c, c->t.mapping) < 0 || guard_mapping_backing(c, c->t.mapping) < 0)
		return -1;
	if (!mapper_exists(c->t.mapping)) { /* cryptsetup names the target as given */
		snprintf(e.why, sizeof(e.why), "Device %s is not active.", target);
		return cryptsetup_error(c, ENOENT, e.why, argv);
	}
	if ((rc = dmcrypt_close(c->t.mapping, &e)) < 0)
		return cryptsetup_error(c, -rc, e.why, argv);
	return mp_put_nil(c->ret);
}

static const struct param p_vg[] = { { "vg", P_STR, false, false } };
static const struct param p_path[] = { { "path", P_STR, false, false } };
static const struct param p_lvcreate[] = {
	{ "size", P_INT, false, false },
	{ "lv", P_STR, false, false },
	{ "vg", P_STR, false, false },
	{ "preallocated", P_INT, true, true },
};
static const struct param p_clear[] = {
	{ "path", P_STR, false, false },
	{ "volume_size", P_INT, false, false },
	{ "shred", P_BOOL, true, false },
};
static const struct param p_dmcrypt_create[] = {
	{ "target", P_STR, false, false }, { "device", P_STR, false, false },
	{ "cipher", P_STR, false, false }, { "key_size", P_INT, false, false },
	{ "key", P_BIN, false, false },
};
static const struct param p_target[] = { { "target", P_STR, false, false } };

const struct entrypoint nova_entrypoints[] = {
	EP("nova.privsep.fs.vginfo", 0, p_vg, nova_fs_vginfo),
	EP("nova.privsep.fs.lvlist", 0, p_vg, nova_fs_lvlist),
	EP("nova.privsep.fs.lvinfo", 0, p_path, nova_fs_lvinfo),
	EP("nova.privsep.fs.blockdev_size", 0, p_path, nova_fs_blockdev_size),
	EP("nova.privsep.fs.lvcreate", 0, p_lvcreate, nova_fs_lvcreate),
	EP("nova.privsep.fs.lvremove", 0, p_path, nova_fs_lvremove),
	EP("nova.privsep.fs.clear", 0, p_clear, nova_fs_clear),
	EP("nova.privsep.libvirt.dmcrypt_create_volume", 0, p_dmcrypt_create,
	   nova_libvirt_dmcrypt_create_volume),
	EP("nova.privsep.libvirt.dmcrypt_delete_volume", 0, p_target,
	   nova_libvirt_dmcrypt_delete_volume),
};
const size_t nova_entrypoints_len = sizeof(nova_entrypoints) / sizeof(nova_entrypoints[0]);
