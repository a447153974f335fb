# SPDX-License-Identifier: Apache-2.0
"""ephcrypt-helper driven by the real oslo.privsep client (Debian 12,
python3-oslo.privsep 3.0.1), started the way nova-compute would start it:
Method.ROOTWRAP through [<cfg_section>] helper_command.

Run as root from the repo root:
  /usr/bin/python3 -m unittest discover -s tests/interop -p 'test_*.py' -v
"""
import logging
import os
import re
import signal
import subprocess
import threading
import time
import unittest
import warnings

from oslo_privsep import comm

import helpers
from helpers import bounded, helper_pids, wait_until

CALL_TIMEOUT = 10.0  # per call, passed to remote_call (PrivsepTimeout on expiry)
START_TIMEOUT = 15.0  # accept() in the client has no timeout: bound it here
# The client rebuilds forwarded LogRecords and hands them to the context's
# logger_name through oslo_log.getLogger, which renames "oslo_" to "oslo.":
# the default 'oslo_privsep.daemon' is the stdlib logger 'oslo.privsep.daemon'.
DEFAULT_CLIENT_LOGGER = "oslo.privsep.daemon"
# PrivContext._wrap logs RESTARTING through stdlib logging.getLogger(__name__).
PRIV_CONTEXT_LOGGER = "oslo_privsep.priv_context"


def expected_version():
    out = subprocess.run(helpers.helper_argv("--version"), capture_output=True, text=True,
                         timeout=10, check=True).stdout.split()
    assert out[0] == "ephcrypt-helper", out
    return out[1]


@unittest.skipUnless(os.geteuid() == 0, "needs root (the helper is privileged)")
@unittest.skipUnless(os.access(helpers.helper_path(), os.X_OK),
                     "helper not built: run make")
class PrivsepClientTest(unittest.TestCase):
    version = None

    @classmethod
    def setUpClass(cls):
        cls.version = expected_version()
        # The 3.0.1 client leaks per start: stop() never closes its socket and
        # the stderr pipe of _fd_logger() is never closed. Not ours to fix.
        warnings.filterwarnings("ignore", category=ResourceWarning)

    def setUp(self):
        self.contexts = []

    def tearDown(self):
        for ctx in self.contexts:
            try:
                bounded(ctx.stop, timeout=10, what="ctx.stop()")
            except Exception:  # the test already reported what matters
                pass
            helpers.kill_leftovers(ctx)

    # --- helpers ---------------------------------------------------------

    def context(self, tag, **kw):
        ctx = helpers.new_context(tag, **kw)
        self.contexts.append(ctx)
        return ctx

    def start(self, ctx):
        bounded(ctx.start, timeout=START_TIMEOUT, what="ctx.start()")
        self.assertIsNotNone(ctx.channel)
        return ctx.channel

    def call(self, ctx, name, *args, **kwargs):
        """channel.remote_call by wire name, bounded twice over."""
        return bounded(ctx.channel.remote_call, name, args, kwargs, CALL_TIMEOUT,
                       timeout=CALL_TIMEOUT + 5, what="remote_call(%s)" % name)

    def the_pid(self, ctx):
        pids = wait_until(lambda: helper_pids(ctx), timeout=5)
        self.assertEqual(len(pids), 1, "exactly one helper process for %s" % ctx.pypath)
        return pids[0]

    # --- calls by wire name ------------------------------------------------

    def test_version_by_wire_name(self):
        ctx = self.context("version")
        self.start(ctx)
        self.assertEqual(self.call(ctx, "ephcrypt.version"), self.version)
        self.assertIsInstance(self.call(ctx, "ephcrypt.version"), str)

    def test_entrypoint_wrapper_starts_lazily(self):
        # What Nova's @sys_admin_pctxt.entrypoint functions do: no explicit start().
        ctx = self.context("lazy", timeout=CALL_TIMEOUT)
        version = helpers.wire_entrypoint(ctx, "ephcrypt.version")
        self.assertIsNone(ctx.channel)
        self.assertEqual(bounded(version, timeout=START_TIMEOUT), self.version)
        self.assertTrue(ctx.channel.running)

    def test_unexported_name_raises_name_error(self):
        ctx = self.context("noname")
        self.start(ctx)
        with self.assertRaises(NameError) as cm:
            self.call(ctx, "nova.privsep.fs.nope", "x")
        self.assertEqual(str(cm.exception),
                         "Invalid privsep function: nova.privsep.fs.nope not exported")
        self.assertEqual(cm.exception.args,
                         ("Invalid privsep function: nova.privsep.fs.nope not exported",))
        self.assertEqual(self.call(ctx, "ephcrypt.version"), self.version)

    def test_extra_positional_argument_raises_type_error(self):
        ctx = self.context("extraarg")
        self.start(ctx)
        with self.assertRaises(TypeError) as cm:
            self.call(ctx, "ephcrypt.version", "x")
        self.assertEqual(str(cm.exception),
                         "ephcrypt.version() takes 0 positional arguments but 1 were given")

    def test_unknown_keyword_raises_type_error(self):
        ctx = self.context("badkw")
        self.start(ctx)
        with self.assertRaises(TypeError) as cm:
            self.call(ctx, "ephcrypt.version", bogus=1)
        self.assertEqual(str(cm.exception),
                         "ephcrypt.version() got an unexpected keyword argument 'bogus'")

    def test_audit_keywords_accepted_on_any_call(self):
        # args.c: request_id and key_id are taken by every entrypoint for the audit record.
        ctx = self.context("meta")
        self.start(ctx)
        self.assertEqual(self.call(ctx, "ephcrypt.version", request_id="req-1", key_id="k-1"),
                         self.version)
        with self.assertRaises(TypeError) as cm:
            self.call(ctx, "ephcrypt.version", request_id=7)
        self.assertIn("ephcrypt.version()", str(cm.exception))

    def test_too_large_message_raises_value_error_and_channel_survives(self):
        ctx = self.context("big", extra_args=("--max-message", "65536"))
        self.start(ctx)
        # Just under the limit: decoded and bound (so the limit is what refuses the next one).
        with self.assertRaises(TypeError):
            self.call(ctx, "ephcrypt.version", "y" * 60000)
        with self.assertRaises(ValueError) as cm:
            self.call(ctx, "ephcrypt.version", "x" * 100000)
        self.assertTrue(str(cm.exception))  # says why; wording is the helper's
        self.assertTrue(ctx.channel.running)
        self.assertEqual(self.call(ctx, "ephcrypt.version"), self.version)
        with self.assertRaises(ValueError):  # and again, with a map this time
            self.call(ctx, "ephcrypt.version", blob={"k%d" % i: "v" * 100 for i in range(1000)})
        for _ in range(3):
            self.assertEqual(self.call(ctx, "ephcrypt.version"), self.version)
        self.assertEqual(len(helper_pids(ctx)), 1)

    def test_too_large_last_item_raises_value_error_and_channel_survives(self):
        # The over-limit value is the last item of the message (the last
        # keyword argument), so nothing follows it inside the message.
        ctx = self.context("biglast", extra_args=("--max-message", "65536"))
        self.start(ctx)
        pid = self.the_pid(ctx)
        channel = ctx.channel
        with helpers.ReaderErrors(channel) as reader:
            with self.assertRaises(ValueError):
                self.call(ctx, "ephcrypt.version", blob="x" * 100000)
            try:
                got = bounded(channel.remote_call, "ephcrypt.version", (), {}, 3.0, timeout=10)
            except (comm.PrivsepTimeout, OSError) as e:
                got = e
            channel.reader_thread.join(0.5)
        exited = bool(wait_until(lambda: not helpers.alive(pid), timeout=1))
        self.assertEqual(got, self.version,
                         "the call after a refused over-limit last item failed (%r); helper "
                         "exited: %s; client reader died of: %s"
                         % (got, exited, reader.errors or "nothing"))
        self.assertTrue(channel.running)
        self.assertEqual(helper_pids(ctx), [pid])

    def test_too_many_items_raises_value_error_and_channel_survives(self):
        ctx = self.context("items")
        self.start(ctx)
        pid = self.the_pid(ctx)
        with self.assertRaises(ValueError):  # default limit: 65536 items
            self.call(ctx, "ephcrypt.version", list(range(70000)))
        self.assertTrue(ctx.channel.running)
        self.assertEqual(self.call(ctx, "ephcrypt.version"), self.version)
        self.assertEqual(helper_pids(ctx), [pid])

    def test_too_deep_argument_raises_value_error_and_channel_survives(self):
        # Like the size and item limits: refuse that one call, keep the channel.
        # A 200-deep list is legal for the client (msgpack's packer allows 511).
        # Closing the channel here instead fails every call in flight, and if
        # other calls are still unread in the socket the client gets ECONNRESET
        # and is stranded (see test_helper_killed_with_unread_call_strands_the_client).
        ctx = self.context("deep")
        self.start(ctx)
        pid = self.the_pid(ctx)
        nested = 0
        for _ in range(200):
            nested = [nested]
        try:
            with self.assertRaises(ValueError):
                self.call(ctx, "ephcrypt.version", nested)
        except OSError as e:  # EOF: the helper dropped the channel and exited
            self.fail("a too-deep argument made the helper close the channel "
                      "(client got %s: %s) instead of refusing that call" % (type(e).__name__, e))
        self.assertTrue(ctx.channel.running, "the helper closed the channel")
        self.assertEqual(self.call(ctx, "ephcrypt.version"), self.version)
        self.assertEqual(helper_pids(ctx), [pid])

    # --- logging -----------------------------------------------------------

    def _starting_record(self, records, ctx):
        # main.c hello(): "ephcrypt-helper V starting|serving (pid N, context C[, ...])"
        pat = re.compile(r"^ephcrypt-helper (\S+) (?:starting|serving) "
                         r"\(pid (\d+), context ([^,)\s]+)[,)]")
        for rec in records:
            m = pat.match(rec.getMessage())
            if m and rec.name == "ephcrypt":
                self.assertEqual(m.group(1), self.version)
                self.assertEqual(m.group(3), ctx.pypath)
                self.assertEqual(rec.levelno, logging.INFO)
                self.assertEqual(rec.levelname, "INFO")
                return int(m.group(2))
        self.fail("no 'ephcrypt-helper ... starting/serving' record from logger 'ephcrypt' in %r"
                  % [(r.name, r.getMessage()) for r in records])

    def test_log_record_reaches_default_client_logger(self):
        ctx = self.context("log")  # default logger_name, as in Nova's contexts
        with self.assertLogs(DEFAULT_CLIENT_LOGGER, logging.INFO) as cm:
            self.start(ctx)
            self.call(ctx, "ephcrypt.version")  # LOG precedes PONG; this is just a barrier
        pid = self._starting_record(cm.records, ctx)
        # The pid the helper reports is the serving process (after its fork).
        self.assertEqual(pid, self.the_pid(ctx))

    def test_log_record_reaches_configured_logger_name(self):
        ctx = self.context("logname", logger_name="ephcrypt_interop.custom")
        with self.assertLogs("ephcrypt_interop.custom", logging.INFO) as cm:
            self.start(ctx)
            self.call(ctx, "ephcrypt.version")
        self._starting_record(cm.records, ctx)

    # --- concurrency ---------------------------------------------------------

    def test_many_calls_in_flight_from_many_threads(self):
        ctx = self.context("threads")
        self.start(ctx)
        nthreads, ncalls = 16, 200
        failures, done = [], []
        lock = threading.Lock()

        def worker(t):
            try:
                for i in range(ncalls):
                    if i % 10 == 7:  # an error reply must reach its own caller
                        name = "ephcrypt.nope_%d_%d" % (t, i)
                        try:
                            ctx.channel.remote_call(name, (), {}, 30)
                            raise AssertionError("%s returned" % name)
                        except NameError as e:
                            if name + " not exported" not in str(e):
                                raise AssertionError("reply for another call: %s" % e)
                    else:
                        v = ctx.channel.remote_call("ephcrypt.version", (), {}, 30)
                        if v != self.version:
                            raise AssertionError("got %r" % (v,))
                with lock:
                    done.append(t)
            except BaseException as e:  # noqa: B902
                with lock:
                    failures.append((t, repr(e)))

        threads = [threading.Thread(target=worker, args=(t,), daemon=True)
                   for t in range(nthreads)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 120
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self.assertFalse([t for t in threads if t.is_alive()], "calls still in flight after 120 s")
        self.assertEqual(failures, [])
        self.assertEqual(sorted(done), list(range(nthreads)))
        self.assertEqual(ctx.channel.outstanding_msgs, {})

    # --- shutdown and restart ----------------------------------------------------

    def test_stop_returns_promptly_and_helper_exits(self):
        ctx = self.context("stop")
        self.start(ctx)
        self.assertEqual(self.call(ctx, "ephcrypt.version"), self.version)
        pid = self.the_pid(ctx)
        t0 = time.monotonic()
        bounded(ctx.stop, timeout=10, what="ctx.stop()")  # SHUT_WR, then joins the reader
        self.assertLess(time.monotonic() - t0, 5.0)
        self.assertIsNone(ctx.channel)
        self.assertTrue(wait_until(lambda: not helpers.alive(pid), timeout=5),
                        "helper pid %d still alive after stop()" % pid)
        self.assertEqual(helper_pids(ctx), [], "leftover helper process")

    def test_start_again_after_stop(self):
        ctx = self.context("again")
        self.start(ctx)
        first = self.the_pid(ctx)
        bounded(ctx.stop, timeout=10)
        self.start(ctx)
        self.assertEqual(self.call(ctx, "ephcrypt.version"), self.version)
        second = self.the_pid(ctx)
        self.assertNotEqual(first, second)
        self.assertFalse(helpers.alive(first))

    def test_restart_after_idle_helper_killed(self):
        # oslo.privsep 3.0.1: the reader thread sees EOF and sets running=False.
        # A direct remote_call on that dead channel raises BrokenPipeError (it
        # never restarts); the entrypoint wrapper logs RESTARTING and respawns.
        ctx = self.context("idlekill", timeout=CALL_TIMEOUT)
        version = helpers.wire_entrypoint(ctx, "ephcrypt.version")
        self.assertEqual(bounded(version, timeout=START_TIMEOUT), self.version)
        old_channel, pid = ctx.channel, self.the_pid(ctx)
        os.kill(pid, signal.SIGKILL)
        self.assertTrue(wait_until(lambda: not old_channel.running, timeout=5))
        with self.assertRaises(OSError):
            self.call(ctx, "ephcrypt.version")
        with self.assertLogs(PRIV_CONTEXT_LOGGER, logging.WARNING) as cm:
            self.assertEqual(bounded(version, timeout=START_TIMEOUT), self.version)
        self.assertIn("RESTARTING PrivContext for ephcrypt.version",
                      [r.getMessage() for r in cm.records])
        self.assertIsNot(ctx.channel, old_channel)
        self.assertNotEqual(self.the_pid(ctx), pid)

    def _in_flight(self, channel, timeout):
        """Start one remote_call in a thread; return (thread, box) once it is sent."""
        box = {}

        def body():
            try:
                box["value"] = channel.remote_call("ephcrypt.version", (), {}, timeout)
            except BaseException as e:  # noqa: B902
                box["error"] = e

        t = threading.Thread(target=body, daemon=True)
        t.start()
        # outstanding_msgs is filled and the CALL written under channel.lock,
        # so once we can take the lock and see it, the CALL is on the socket.
        def sent():
            with channel.lock:
                return bool(channel.outstanding_msgs)
        self.assertTrue(wait_until(sent, timeout=5), "the call never went out")
        return t, box

    def test_call_in_flight_when_helper_closes_then_restart(self):
        # The helper has read the CALL but closes the channel without replying
        # (here: it drops the channel on a malformed out-of-band frame queued
        # just before the CALL). The caller gets the client's EOF error; the
        # next call through the entrypoint wrapper restarts the helper.
        ctx = self.context("flightclose", timeout=CALL_TIMEOUT)
        version = helpers.wire_entrypoint(ctx, "ephcrypt.version")
        self.assertEqual(bounded(version, timeout=START_TIMEOUT), self.version)
        channel, pid = ctx.channel, self.the_pid(ctx)
        os.kill(pid, signal.SIGSTOP)  # queue both frames, so one recv() takes both
        try:
            with channel.lock:
                channel.writer.send((None, (comm.Message.CALL.value,)))  # OOB, not LOG
            t, box = self._in_flight(channel, 30)
        finally:
            os.kill(pid, signal.SIGCONT)
        t.join(10)
        self.assertFalse(t.is_alive(), "the caller was not woken by EOF")
        self.assertNotIn("value", box)
        err = box["error"]
        self.assertIsInstance(err, OSError)
        self.assertEqual(str(err), "Premature eof waiting for privileged process")
        self.assertFalse(channel.running)
        self.assertTrue(wait_until(lambda: not helpers.alive(pid), timeout=5),
                        "helper did not exit after closing the channel")
        with self.assertLogs(PRIV_CONTEXT_LOGGER, logging.WARNING) as cm:
            self.assertEqual(bounded(version, timeout=START_TIMEOUT), self.version)
        self.assertIn("RESTARTING PrivContext for ephcrypt.version",
                      [r.getMessage() for r in cm.records])
        self.assertNotEqual(self.the_pid(ctx), pid)

    def test_helper_killed_with_unread_call_strands_the_client(self):
        # oslo.privsep 3.0.1 client behaviour the helper must be designed around
        # (it is not an ephcrypt bug): if the helper dies with a CALL still
        # unread in its socket, Linux reports ECONNRESET instead of EOF; the
        # client's reader thread dies on it, `running` stays True, the caller
        # waits for its timeout (forever with none, as in Nova), later calls
        # fail with BrokenPipeError and the wrapper never restarts. Only
        # ctx.stop() + a new start recover.
        ctx = self.context("flightkill", timeout=CALL_TIMEOUT)
        version = helpers.wire_entrypoint(ctx, "ephcrypt.version")
        self.assertEqual(bounded(version, timeout=START_TIMEOUT), self.version)
        channel, pid = ctx.channel, self.the_pid(ctx)
        os.kill(pid, signal.SIGSTOP)
        with helpers.ReaderErrors(channel) as reader:
            try:
                t, box = self._in_flight(channel, 1.0)
            finally:
                os.kill(pid, signal.SIGKILL)
            t.join(10)
            channel.reader_thread.join(5)
        self.assertFalse(t.is_alive())
        self.assertIsInstance(box.get("error"), comm.PrivsepTimeout)
        self.assertEqual(reader.errors, [ConnectionResetError])
        self.assertTrue(channel.running, "client still believes the channel is up")
        with self.assertRaises(BrokenPipeError):
            bounded(version, timeout=10)
        bounded(ctx.stop, timeout=10, what="ctx.stop()")
        self.assertEqual(bounded(version, timeout=START_TIMEOUT), self.version)

    def test_timeout_is_client_side_and_channel_survives(self):
        # A stopped helper cannot answer: the client gives up with PrivsepTimeout;
        # once resumed, the late reply is dropped and the channel goes on.
        ctx = self.context("timeout")
        self.start(ctx)
        pid = self.the_pid(ctx)
        os.kill(pid, signal.SIGSTOP)
        try:
            with self.assertRaises(comm.PrivsepTimeout):
                bounded(ctx.channel.remote_call, "ephcrypt.version", (), {}, 0.3, timeout=10)
        finally:
            os.kill(pid, signal.SIGCONT)
        self.assertEqual(self.call(ctx, "ephcrypt.version"), self.version)


if __name__ == "__main__":
    unittest.main()
