#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Every ephcrypt-helper audit record must load into pycadf's Event model
(python3-pycadf, OpenStack's own CADF library) and pass its is_valid().

  check-cadf.py [--expect success,failure,denied] FILE...
      check the records of FILE (e.g. a guest scenario's log); --expect
      names the outcomes that must each appear at least once.
  check-cadf.py --run-helper
      start the real helper (build/ephcrypt-helper, through Debian's
      oslo.privsep client, as tests/interop does) with a policy that allows
      the caller but no storage, make calls that are refused by the policy
      and calls that fail, and check the log it wrote. This host has no
      device-mapper, so allowed records come from the guest
      (tests/guest/policy.sh runs this script over its log).

The record is loaded as pycadf would hold it: the CADF attributes through the
model's validating setters (Resource for initiator, target and observer, Host
for a resource's host, Reason for reason, add_tag for tags), the helper's own
fields (prev, policy_rule, errno, message, ...) as further attributes.
Exits 0 when every record is valid, 1 otherwise, naming the line and why.
"""
import json
import os
import sys
import warnings

from pycadf import cadftaxonomy, event, host, reason, resource

HERE = os.path.dirname(os.path.abspath(__file__))
RESOURCE_ARGS = ("id", "typeURI", "name", "ref", "domain")
REASON_ARGS = ("reasonType", "reasonCode", "policyType", "policyId")
EVENT_ARGS = ("eventType", "id", "eventTime", "action", "outcome", "severity", "name")


def load_resource(d):
    # pycadf would default a missing typeURI to "unknown": the record must say it.
    if "id" not in d or "typeURI" not in d:
        raise ValueError("a resource without id or typeURI: %r" % d)
    if not isinstance(d.get("host", {}), dict):
        raise ValueError("host is not a CADF Host object: %r" % d["host"])
    r = resource.Resource(**{k: d[k] for k in RESOURCE_ARGS if k in d})
    for k, v in d.items():
        if k == "host":
            r.host = host.Host(**v)
        elif k not in RESOURCE_ARGS:
            setattr(r, k, v)
    if not r.is_valid():
        raise ValueError("resource %r is not valid" % d)
    return r


def load_event(d):
    """The record as a pycadf Event; ValueError when the model refuses it."""
    d = dict(d)
    if d.pop("typeURI", None) != event.TYPE_URI_EVENT:
        raise ValueError("typeURI is not %s" % event.TYPE_URI_EVENT)
    kw = {k: d.pop(k) for k in EVENT_ARGS if k in d}
    for k in ("initiator", "target", "observer"):
        if k in d:
            kw[k] = load_resource(d.pop(k))
    if "reason" in d:
        kw["reason"] = reason.Reason(**d.pop("reason"))
    ev = event.Event(**kw)
    for tag in d.pop("tags", []):
        ev.add_tag(tag)
    for k, v in d.items():  # the helper's own fields
        setattr(ev, k, v)
    if not ev.is_valid():
        raise ValueError("Event.is_valid() is false")
    if not cadftaxonomy.is_valid_action(ev.action):
        raise ValueError("action %r is not in the CADF taxonomy" % ev.action)
    return ev


def outcome_of(d):
    if d.get("outcome") == "failure" and d.get("reason", {}).get("reasonCode") == "denied":
        return "denied"
    return d.get("outcome")


def check_files(files, expect):
    bad, seen, n = 0, set(), 0
    for name in files:
        with open(name, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                n += 1
                try:
                    d = json.loads(line)
                    # pycadf only warns about an id that is not a UUID: here it is an error.
                    with warnings.catch_warnings():
                        warnings.simplefilter("error", UserWarning)
                        load_event(d)
                    entry = [t for t in d.get("tags", []) if t.startswith("entrypoint?value=")]
                    if len(entry) != 1:
                        raise ValueError("no entrypoint tag")
                    for k in ("prev", "duration_us"):
                        if k not in d:
                            raise ValueError("the helper's field %s is missing" % k)
                    seen.add(outcome_of(d))
                except (ValueError, TypeError, KeyError, AttributeError, UserWarning) as e:
                    print("%s:%d: not a valid CADF event: %s" % (name, lineno, e))
                    bad += 1
    missing = [o for o in expect if o not in seen]
    if missing:
        print("no %s record among the %d checked" % (" or ".join(missing), n))
    if n == 0:
        print("no records to check")
    if bad or missing or n == 0:
        return 1
    print("ok: %d records (%s) load into pycadf's Event and pass is_valid()"
          % (n, ", ".join(sorted(seen))))
    return 0


def run_helper():
    """A log from the real helper: refusals and failures, then checked."""
    sys.path.insert(0, os.path.join(HERE, "..", "interop"))
    import helpers

    ctx = helpers.new_context("cadf")
    log = helpers.default_helper_args()[3]
    calls = [
        ("ephcrypt.vg_info", ("nova",), {}),                            # denied
        ("ephcrypt.lv_create", ("nova", "x", 4 << 20), {"request_id": "req-1"}),  # denied
        ("ephcrypt.crypt_close", ("crypt-x",), {}),                     # denied
        ("ephcrypt.crypt_list", (), {}),                                # fails: no dm here
        ("ephcrypt.lv_create", ("nova", "bad/name", 1), {}),             # fails: ValueError
        ("ephcrypt.no_such_call", (), {}),                              # fails: NameError
    ]
    try:
        for name, args, kwargs in calls:
            try:
                helpers.wire_entrypoint(ctx, name)(*args, **kwargs)
            except Exception:  # every one is refused or fails; the records matter here
                pass
    finally:
        ctx.stop()
    return check_files([log], ["failure", "denied"])


def main(argv):
    if argv == ["--run-helper"]:
        return run_helper()
    expect = []
    if len(argv) >= 2 and argv[0] == "--expect":
        expect = argv[1].split(",")
        argv = argv[2:]
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    return check_files(argv, expect)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
