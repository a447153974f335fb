#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""One privsep CALL to a fresh helper over a socketpair, then hang up in a chosen way.

faults_call.py MODE NAME ARG... -- HELPER-ARGV...
  MODE hangup     send the CALL and close the socket at once: the helper reads the
                  request, does the work, and finds its caller gone before the reply.
                  Prints the helper's exit status.
  MODE halfclose  send the CALL, shut the write side (as the C client's close does)
                  and read the reply. Prints "ok REPLY" or "error CLASS: MSG".
ARG: s:TEXT, i:NUMBER or key:FILE (the key's bytes; never printed).
"""
import json
import socket
import subprocess
import sys

import msgpack


def arg(a):
    kind, _, val = a.partition(":")
    if kind == "s":
        return val
    if kind == "i":
        return int(val)
    if kind == "key":
        with open(val, "rb") as f:
            return f.read()
    raise SystemExit("bad argument %r (s:, i:, key:)" % a)


def replies(sock):
    unpacker = msgpack.Unpacker(raw=False)
    while True:
        data = sock.recv(65536)
        if not data:
            raise SystemExit("the helper closed without a reply")
        unpacker.feed(data)
        yield from unpacker


def main():
    sep = sys.argv.index("--")
    mode, name, args = sys.argv[1], sys.argv[2], [arg(a) for a in sys.argv[3:sep]]
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    helper = subprocess.Popen(sys.argv[sep + 1:] + ["--fd", str(child.fileno())],
                              pass_fds=[child.fileno()])
    child.close()
    messages = replies(parent)
    # A PING answered: every start-up LOG is written and the helper reads requests.
    parent.sendall(msgpack.packb([0, [1]], use_bin_type=True))
    while next(messages)[0] is None:
        pass
    parent.sendall(msgpack.packb([1, [3, name, args, {}]], use_bin_type=True))
    if mode == "hangup":
        parent.close()
        print("exit %d" % helper.wait(timeout=120))
        return
    parent.shutdown(socket.SHUT_WR)
    for msg in messages:
        if msg[0] is not None:  # not an out-of-band LOG
            body = msg[1]
            if body[0] == 4:
                print("ok " + json.dumps(body[1], default=repr))
            else:
                print("error %s: %s" % (body[1], body[2]))
            parent.close()
            helper.wait(timeout=60)
            return


main()
