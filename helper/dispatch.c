/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One CALL: look the wire name up in the const entrypoint tables, bind and
 * check its arguments, run its handler, reply RET or ERR. Cross-cutting
 * rules are applied here once, from the entrypoint's flags.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../audit/audit.h"
#include "../policy/policy.h"

#include "forward.h"
#include "helper.h"
#include "relay.h"

static const struct {
	const struct entrypoint *table;
	const size_t *len;
} tables[] = {
	{ native_entrypoints, &native_entrypoints_len },
	{ nova_entrypoints, &nova_entrypoints_len },
};

static const struct entrypoint *
lookup(const char *name, size_t len)
{
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (size_t k = 0; k < *tables[t].len; k++) {
			const struct entrypoint *ep = &tables[t].table[k];

			if (strlen(ep->name) == len && memcmp(ep->name, name, len) == 0)
				return ep;
		}
	return NULL;
}

static int
put_error(struct mp_buf *out, const struct mp_value *msgid, const struct call_error *e)
{
	int rc = ps_put_id(out, msgid) || mp_put_array(out, 3) || mp_put_uint(out, PS_ERR) ||
		 mp_put_str(out, e->cls ? e->cls : EXC_OS);

	if (rc)
		return rc;
	if (e->process)
		return mp_put_array(out, 5) || mp_put_str(out, e->out ? e->out : "") ||
		       mp_put_str(out, e->err ? e->err : "") || mp_put_int(out, e->exit_code) ||
		       mp_put_str(out, e->cmd) || mp_put_nil(out);
	if (e->errnum > 0 && call_is_oserror(e->cls)) /* OSError(errno, strerror) sets .errno */
		return mp_put_array(out, 2) || mp_put_uint(out, (uint64_t)e->errnum) ||
		       mp_put_str(out, e->msg);
	return mp_put_array(out, 1) || mp_put_str(out, e->msg);
}

/* Printable rendering of an untrusted name for error text. */
static void
clip_name(const struct mp_value *v, char *dst, size_t cap)
{
	size_t n = v->len < cap - 1 ? v->len : cap - 1;

	for (size_t k = 0; k < n; k++)
		dst[k] = v->v.bytes[k] >= 0x20 && v->v.bytes[k] < 0x7f ? (char)v->v.bytes[k] : '?';
	dst[n] = '\0';
}

/*
 * Neither served nor relayed: privsep-helper's own answer to a name its
 * context does not export. In front of a whole context, a refusal of the
 * policy's [forward] section (doc/relay.rst, dispatch steps 2 and 4).
 */
static int
refuse_name(struct call *c, const char *name)
{
	struct verdict v;

	if (c->opt->relay) {
		c->denied = true;
		if (forward_is_storage_name(name, strlen(name)))
			snprintf(c->rule, sizeof(c->rule), "storage name (never forwarded)");
		else if (policy_forward(c->opt->policy, name, &v) < 0)
			snprintf(c->rule, sizeof(c->rule), "%s", v.rule);
	}
	return call_fail(c, EXC_NAME, 0, "Invalid privsep function: %s not exported", name);
}

static int
run(struct call *c, const struct entrypoint *ep)
{
	char why[512];
	int rc;

	if (args_bind(c, ep) < 0)
		return -1;
	/* An operation that cannot be recorded is not performed: the log is checked
	 * (rotated? shrunk?) before acting, so a refused request changes nothing. */
	if (!(ep->flags & EP_NO_AUDIT) && audit_ready(why, sizeof(why)) < 0)
		return call_oserror(c, EIO, "%s refused: the audit log cannot be written (%s)",
				    c->name, why);
	rc = ep->fn(c);
	if (rc == 0 && c->ret->overflow)
		rc = call_oserror(c, EMSGSIZE, "%s(): reply exceeds %u bytes", c->name, REPLY_MAX);
	return rc;
}

static const char *
nonempty(const char *s)
{
	return s && s[0] ? s : NULL;
}

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* One record per request, written and synced before the reply goes out. */
static int
record(struct call *c, int rc, uint64_t t0)
{
	struct audit_event ev = {
		.action = c->name,
		.outcome = rc == 0     ? AUDIT_SUCCESS
			   : c->denied ? AUDIT_DENIED
				       : AUDIT_FAILURE,
		.uid = c->peer->uid,
		.gid = c->peer->gid,
		.pid = c->peer->pid,
		.request_id = nonempty(c->request_id),
		.vg = nonempty(c->t.vg),
		.lv = nonempty(c->t.lv),
		.mapping = nonempty(c->t.mapping),
		.device = nonempty(c->t.device),
		.policy_rule = nonempty(c->rule),
		.err_no = rc == 0 ? 0 : c->err.errnum,
		.message = rc == 0 ? NULL : c->err.msg,
		.duration_us = now_us() - t0,
		.cipher = nonempty(c->t.cipher),
		.key_size = c->t.key_size,
		.sector_size = c->t.sector_size,
		.flags = nonempty(c->t.flags),
		.key_id = nonempty(c->key_id),
		.route = "native",
		.context = c->opt->context,
	};

	return audit_record(&ev);
}

/*
 * Gone means hung up both ways (POLLHUP): a caller that only shut its write
 * side after sending (the C client's close) still reads the reply.
 */
static bool
caller_gone(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };

	return fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR));
}

/*
 * Work the caller will never hear of is undone (a disk_create's LV and
 * mapping), and the call fails with the reason, so its record says so.
 * Returns true when the caller is gone.
 */
static bool
undo_unheard(struct call *c, int caller_fd)
{
	char failed[ERR_MSG_MAX];
	bool undone;

	if (!c->ep->undo || !caller_gone(caller_fd))
		return false;
	undone = c->ep->undo(c) == 0;
	snprintf(failed, sizeof(failed), "%s", c->err.msg);
	call_error_clear(&c->err);
	if (undone)
		call_oserror(c, ECONNABORTED,
			     "%s(): the caller hung up before the reply; rolled back", c->name);
	else
		call_oserror(c, ECONNABORTED,
			     "%s(): the caller hung up before the reply; rollback FAILED: %s",
			     c->name, failed);
	return true;
}

bool
dispatch_call(const struct ps_msg *m, struct mp_buf *out, const struct options *opt,
	      const struct ucred *peer, int caller_fd)
{
	char name[160];
	struct mp_buf ret;
	struct call c;
	const struct entrypoint *ep = lookup((const char *)m->name->v.bytes, m->name->len);
	uint64_t t0 = now_us();
	bool gone = false;
	int rc;

	memset(&c, 0, sizeof(c));
	mp_buf_init(&ret, REPLY_MAX);
	clip_name(m->name, name, sizeof(name));
	c.name = ep ? ep->name : name;
	c.ep = ep;
	c.args = m->args;
	c.kwargs = m->kwargs;
	c.ret = &ret;
	c.opt = opt;
	c.peer = peer;
	if (!ep)
		rc = refuse_name(&c, name);
	else
		rc = run(&c, ep);
	if (rc == 0 && ep && (gone = undo_unheard(&c, caller_fd)))
		rc = -1;
	if ((!ep || !(ep->flags & EP_NO_AUDIT)) && record(&c, rc, t0) < 0 && rc == 0)
		rc = call_oserror(&c, EIO,
				  "%s was performed but could not be recorded in the "
				  "audit log; further requests are refused",
				  c.name);
	if (rc == 0 && ps_ret_raw(out, m->msgid, ret.data, ret.len) != 0)
		rc = call_oserror(&c, EMSGSIZE, "%s(): reply too large", c.name);
	if (rc != 0) {
		mp_buf_reset(out);
		call_error_printable(&c.err);
		put_error(out, m->msgid, &c.err);
	}
	call_error_clear(&c.err);
	mp_buf_free(&ret);
	return gone;
}

bool
dispatch_forwards(const struct ps_msg *m, const struct options *opt)
{
	char name[RELAY_NAME_MAX];
	size_t len = m->name->len;

	if (!opt->relay || len >= sizeof(name) || memchr(m->name->v.bytes, '\0', len) ||
	    lookup((const char *)m->name->v.bytes, len))
		return false;
	memcpy(name, m->name->v.bytes, len);
	name[len] = '\0';
	return !forward_is_storage_name(name, len) && policy_forward(opt->policy, name, NULL) == 0;
}

size_t
dispatch_names(const char **names, size_t cap)
{
	size_t n = 0;

	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (size_t k = 0; k < *tables[t].len; k++)
			if (n < cap)
				names[n++] = tables[t].table[k].name;
	return n;
}

void
dispatch_forwarded_record(const struct relay_record *rec, const struct options *opt,
			  const struct ucred *peer)
{
	static const char *const replies[] = {
		[RELAY_OUT_RET] = "RET",
		[RELAY_OUT_ERR] = "ERR",
		[RELAY_OUT_LIMIT] = "LIMIT",
		[RELAY_OUT_LOST] = "LOST",
	};
	struct verdict v = { .rule = "" };
	bool ok = rec->outcome == RELAY_OUT_RET;
	struct audit_event ev = {
		.action = rec->entrypoint,
		.outcome = ok ? AUDIT_SUCCESS : AUDIT_FAILURE,
		.uid = peer->uid,
		.gid = peer->gid,
		.pid = peer->pid,
		.policy_rule = v.rule,
		.message = ok ? NULL : rec->exc_class,
		.duration_us = rec->duration_us,
		.route = "privsep-helper",
		.context = opt->context,
		.reply = replies[rec->outcome],
		.exception = ok ? NULL : rec->exc_class,
	};

	/* The rule that let it through, looked up again: the check is pure. */
	(void)policy_forward(opt->policy, rec->entrypoint, &v);
	/* A failure marks the log broken: every later call is then refused. */
	(void)audit_record(&ev);
}
