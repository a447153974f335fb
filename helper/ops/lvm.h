/* SPDX-License-Identifier: Apache-2.0 */
/*
 * LVM through its command-line tool: fixed argv, never a shell. Each
 * operation returns 0 or -errno with e->why naming what failed and LVM's own
 * reason. Nothing here knows who asked or whether they may.
 */
#ifndef EPHCRYPT_OPS_LVM_H
#define EPHCRYPT_OPS_LVM_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ops.h"

#define LVM_OUT_CAP	   (1u << 20) /* bytes of stdout or stderr kept from one run */
#define LVM_SYSTEM_DIR_MAX 270	      /* longest LVM_SYSTEM_DIR passed on to lvm */
#define LVM_CONFIG_DIRS	   3	      /* backup_dir, archive_dir, locking_dir */
#define LVM_SHELL_PROFILE  "lvmdbusd" /* Debian's lvm2 ships it: JSON reports, the command log */
#define LVM_SHELL_LINE_MAX 2048	      /* one command line sent to the lvm shell */
#define LVM_SHELL_WORD_MAX 512
#define LVM_SHELL_ARGS_MAX 48 /* words after "lvm"; LVM's shell splits at most 64 */

struct lvm_config {
	const char *path;   /* absolute path of the lvm binary */
	unsigned timeout_s; /* a run is killed after this long */
	bool no_shell;	    /* every command a process of its own (no long-lived lvm shell) */
};

struct vg_info {
	uint64_t size, free, extent_size;
};

struct lv_info {
	char path[2 * OP_NAME_CAP + 8]; /* "/dev/" VG "/" LV */
	uint64_t size;
	bool active, open;
};

/* Output of one lvm run; out/err NUL-terminated (or NULL), capped at LVM_OUT_CAP. */
struct lvm_out {
	int status; /* exit code, or 128+signal, or -1 when it could not run */
	char *out, *err;
	size_t outlen, errlen;
	bool timed_out;
};

/* A report's names (lv_list): names[0..n), owned. */
struct lvm_names {
	char **names;
	size_t n;
};

/*
 * Run argv (argv[0] "lvm") up to attempts times while it fails (Nova's
 * daemon retried reports). 0 when it ran (o->status says how it ended), or
 * -EIO when it could not be started. lvm_out_free(o) in both cases.
 * lvcreate, lvremove and JSON reports run in the helper's long-lived lvm
 * shell when they can (o->out is then the shell's JSON document, with the
 * report and the command log); a failure there is run again as a process,
 * so o->err and o->status on failure are always a process's.
 */
int lvm_run(const struct lvm_config *cfg, const char *const argv[], int attempts,
	    struct lvm_out *o);
void lvm_out_free(struct lvm_out *o);

int lvm_vg_info(const struct lvm_config *cfg, const char *vg, struct vg_info *vi,
		struct op_error *e);
int lvm_lv_info(const struct lvm_config *cfg, const char *vg, const char *lv, struct lv_info *li,
		struct op_error *e);
int lvm_lv_create(const struct lvm_config *cfg, const char *vg, const char *lv, uint64_t size,
		  struct op_error *e);
/* lvremove's selection: only an LV nothing hangs off (evaluated under LVM's VG lock). */
#define LVM_REMOVE_ALONE "lv_full_descendants=[]"
int lvm_lv_remove(const struct lvm_config *cfg, const char *vg, const char *lv, struct op_error *e);
/*
 * After an lvremove that exited 0: 0 when vg/lv is gone, else why not (as
 * lvm_lv_removable). was_active: its /dev node existed before the removal.
 */
int lvm_lv_gone(const struct lvm_config *cfg, const char *vg, const char *lv, bool was_active,
		struct op_error *e);
/* /dev/VG/LV is there: the LV is active. */
bool lvm_lv_node_exists(const char *vg, const char *lv);
/* Every LV name in vg; the caller filters what may be shown. */
int lvm_lv_names(const struct lvm_config *cfg, const char *vg, struct lvm_names *ln,
		 struct op_error *e);
void lvm_names_free(struct lvm_names *ln);
/* Every LV name in vg, hidden ones (in brackets) too. */
int lvm_lv_names_all(const struct lvm_config *cfg, const char *vg, struct lvm_names *ln,
		     struct op_error *e);
/*
 * May exactly vg/lv go, and nothing with it? 0; -ENOENT; -EBUSY when LVs
 * depend on it (snapshots, thin volumes, a pool's parts: lvremove would take
 * them along); -EPERM when it is not a kind the helper makes (a plain LV, or
 * a sparse snapshot of a virtual origin). e->why names what is in the way.
 */
int lvm_lv_removable(const struct lvm_config *cfg, const char *vg, const char *lv,
		     struct op_error *e);
/* lvm_lv_removable, then lvm_lv_remove: the check runs right before the removal. */
int lvm_lv_remove_exact(const struct lvm_config *cfg, const char *vg, const char *lv,
			struct op_error *e);

/*
 * The folders LVM's effective configuration (lvm.conf, LVM_SYSTEM_DIR) has it
 * write to: backup_dir, archive_dir, locking_dir. -EPERM for one that is not
 * a plain absolute path below a top-level folder (never "/" or "/etc").
 */
int lvm_config_dirs(const struct lvm_config *cfg, char dirs[LVM_CONFIG_DIRS][PATH_MAX],
		    struct op_error *e);
int lvm_parse_config_dirs(const char *text, char dirs[LVM_CONFIG_DIRS][PATH_MAX],
			  struct op_error *e);

/* Parsing, apart for the unit tests: a JSON report's rows, LVM's reason on stderr. */
int lvm_parse_vg(const char *json, const char *vg, struct vg_info *vi, struct op_error *e);
int lvm_parse_lv(const char *json, const char *full, struct lv_info *li, struct op_error *e);
int lvm_parse_names(const char *json, struct lvm_names *ln, struct op_error *e);
/* "[name]" (a hidden LV, as reports show it) or "name" into name. */
void lv_bare_name(const char *in, char out[OP_NAME_CAP]);
int lvm_parse_removable(const char *json, const char *vg, const char *lv, struct op_error *e);
const char *lvm_reason(const char *err, char *buf, size_t cap);
/*
 * argv[1..] as one line for LVM's shell ("...\n"), or -EINVAL when a word is
 * empty, too long or holds anything but [A-Za-z0-9+-_.,/=:|%@] (LVM's shell
 * splits at white space, reads a leading quote and a leading '#'), or when
 * there are too many words or the line would not fit in cap.
 */
int lvm_shell_line(const char *const argv[], char *line, size_t cap);

#endif
