#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Serve a real Barbican or Keystone (Debian's packages) on 127.0.0.1 for the tests.

    serve.py barbican DIR PORT   # DIR/.barbican/barbican.conf, DIR/barbican-api-paste.ini
    serve.py keystone DIR PORT   # DIR/keystone.conf

One waitress thread (sqlite refuses concurrent writers). Each request is also
written to DIR/access.log as "METHOD PATH TOKEN" where TOKEN is a short hash of
X-Auth-Token (or "-"), so a test can count token issues and see a token reused.
"""
import hashlib
import os
import sys

kind, state, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.argv[1:] = []  # oslo.config parses sys.argv at import time
os.environ["HOME"] = state  # barbican reads ~/.barbican/barbican.conf
if kind == "keystone":
    os.environ["OS_KEYSTONE_CONFIG_FILES"] = os.path.join(state, "keystone.conf")
    from keystone.server.wsgi import initialize_public_application

    app = initialize_public_application()
else:
    from paste.deploy import loadapp

    app = loadapp("config:" + os.path.join(state, "barbican-api-paste.ini"))

log = open(os.path.join(state, "access.log"), "a", buffering=1)


def logged(environ, start_response):
    token = environ.get("HTTP_X_AUTH_TOKEN")
    tag = hashlib.sha256(token.encode()).hexdigest()[:12] if token else "-"
    log.write("%s %s %s\n" % (environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), tag))
    return app(environ, start_response)


import waitress  # noqa: E402

waitress.serve(logged, host="127.0.0.1", port=port, threads=1, _quiet=True)
