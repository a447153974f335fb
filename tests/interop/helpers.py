# SPDX-License-Identifier: Apache-2.0
"""Shared plumbing for the interop tests: start ephcrypt-helper from the real
oslo.privsep client (python3-oslo.privsep 3.0.1, ROOTWRAP start through
helper_command), find its process, and never wait forever.

The helper command line is built in ONE place, helper_argv():
  EPHCRYPT_HELPER       path of the helper (default <repo>/build/ephcrypt-helper)
  EPHCRYPT_HELPER_ARGS  extra arguments, shell-split, put before the test's own
                        (e.g. "--policy /etc/x --audit-log /tmp/a"). When it is
                        unset, default_helper_args() is used: a private temp dir
                        with a minimal policy ([callers] uid 0) and an audit log.
                        Set it (even to "") to replace those defaults.
The client appends --privsep_context PYPATH --privsep_sock_path PATH itself.
"""
import atexit
import itertools
import logging
import os
import shlex
import shutil
import signal
import sys
import tempfile
import threading
import time

from oslo_config import cfg
from oslo_privsep import priv_context

# oslo_privsep.comm warns on every timeout, broken pipe and EOF, which these
# tests provoke on purpose; keep them out of the test output. Helper stderr
# ("privsep log: ...") and everything else still reaches the console.
logging.getLogger("oslo_privsep.comm").addHandler(logging.NullHandler())

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def helper_path():
    return os.path.abspath(os.environ.get("EPHCRYPT_HELPER") or
                           os.path.join(REPO, "build", "ephcrypt-helper"))


# Only ephcrypt.* entrypoints are exercised here: allow the caller (root), nothing else.
TEST_POLICY = "# ephcrypt interop tests: any call from root, no storage at all\n[callers]\nuid 0\n"
_default_args = None


def default_helper_args():
    """--policy/--audit-log in a private dir, made once per process."""
    global _default_args
    if _default_args is None:
        d = tempfile.mkdtemp(prefix="ephcrypt-interop-")
        atexit.register(shutil.rmtree, d, True)
        policy = os.path.join(d, "policy.conf")
        fd = os.open(policy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(TEST_POLICY)
        _default_args = ["--policy", policy, "--audit-log", os.path.join(d, "audit.log")]
    return list(_default_args)


def helper_argv(*extra):
    """The helper's argv, before the client appends its two options."""
    env = os.environ.get("EPHCRYPT_HELPER_ARGS")
    base = default_helper_args() if env is None else shlex.split(env)
    return [helper_path()] + base + [str(a) for a in extra]


def helper_command(*extra):
    """helper_argv() as the string oslo.privsep shlex-splits again."""
    return shlex.join(helper_argv(*extra))


# --- oslo.config: cfg.CONF is process-global; parse it once. ---------------

_conf_lock = threading.Lock()
_conf_ready = False


def init_config():
    global _conf_ready
    with _conf_lock:
        if not _conf_ready:
            cfg.CONF([], project="ephcrypt-interop", default_config_files=[])
            _conf_ready = True


# --- contexts ----------------------------------------------------------------

_seq = itertools.count(1)
WIRE_PREFIX = "ephcrypt"


def new_context(tag, extra_args=(), logger_name=None, timeout=None):
    """A fresh PrivContext with its own cfg_section whose helper is ours.

    The client checks that importutils.import_class(pypath) is the context
    itself, so each context is published as an attribute of this module.
    """
    init_config()
    attr = "ctx_%s_%d_%d" % (tag, os.getpid(), next(_seq))
    section = "ephcrypt_interop_" + attr
    kw = {}
    if logger_name is not None:
        kw["logger_name"] = logger_name
    ctx = priv_context.PrivContext(WIRE_PREFIX, cfg_section=section,
                                   pypath="%s.%s" % (__name__, attr),
                                   capabilities=[], timeout=timeout, **kw)
    setattr(sys.modules[__name__], attr, ctx)
    cfg.CONF.set_override("helper_command", helper_command(*extra_args), group=section)
    return ctx


def wire_entrypoint(ctx, wire_name):
    """The client-side wrapper (ctx.entrypoint) for an arbitrary wire name.

    Calling it goes through PrivContext._wrap: lazy start, the RESTARTING
    logic and the context's timeout, exactly as Nova's entrypoints do.
    """
    module, _, name = wire_name.rpartition(".")

    def stub(*args, **kwargs):
        raise AssertionError("client_mode is on: the body must never run here")

    stub.__module__ = module
    stub.__name__ = stub.__qualname__ = name
    return ctx.entrypoint(stub)


# --- processes -----------------------------------------------------------------

def _argv_of(pid):
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def alive(pid):
    """True unless the process is gone or a zombie (nothing left to serve)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def helper_pids(ctx):
    """Live processes started for this context (argv holds its unique pypath)."""
    want = ctx.pypath.encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        argv = _argv_of(entry)
        for k in range(len(argv) - 1):
            if argv[k] == b"--privsep_context" and argv[k + 1] == want:
                if alive(int(entry)):
                    pids.append(int(entry))
                break
    return pids


def wait_until(pred, timeout=5.0, interval=0.01):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def kill_leftovers(ctx):
    for pid in helper_pids(ctx):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class ReaderErrors:
    """Catch what kills the client's privsep_reader thread (the 3.0.1 reader
    dies on ECONNRESET instead of failing the calls), so tests can assert it
    instead of dumping a traceback."""

    def __init__(self, channel):
        self.channel = channel
        self.errors = []

    def __enter__(self):
        self._old = threading.excepthook

        def hook(args):
            if args.thread is self.channel.reader_thread:
                self.errors.append(args.exc_type)
            else:
                self._old(args)

        threading.excepthook = hook
        return self

    def __exit__(self, *exc):
        threading.excepthook = self._old
        return False


# --- no test may hang ------------------------------------------------------------

class Hung(AssertionError):
    pass


def bounded(fn, *args, timeout=10.0, what=None, **kwargs):
    """Run fn in a daemon thread; re-raise what it raised; fail if it hangs."""
    box = {}

    def body():
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as e:  # noqa: B902 - handed back to the caller
            box["error"] = e

    t = threading.Thread(target=body, daemon=True, name="bounded")
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise Hung("%s did not return within %.0f s" % (what or getattr(fn, "__name__", fn), timeout))
    if "error" in box:
        raise box["error"]
    return box.get("value")
