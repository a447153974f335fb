# SPDX-License-Identifier: Apache-2.0
"""PrivContexts for bench/bench.py and bench/storage.py. bench.py puts this directory on
PYTHONPATH, so Debian's privsep-helper can import privsep_ctx by its pypath
(ephcrypt_bench_ctx.privsep_ctx) in the daemon, as it would import Nova's.
"""
from oslo_privsep import priv_context

# Served by Debian's privsep-helper. No capabilities: the daemon keeps none,
# like ephcrypt.version needs none.
privsep_ctx = priv_context.PrivContext(
    __name__, cfg_section="ephcrypt_bench_privsep",
    pypath=__name__ + ".privsep_ctx", capabilities=[])

# Served by ephcrypt-helper (helper_command is set by bench.py).
ephcrypt_ctx = priv_context.PrivContext(
    "ephcrypt", cfg_section="ephcrypt_bench_ephcrypt",
    pypath=__name__ + ".ephcrypt_ctx", capabilities=[])


@privsep_ctx.entrypoint
def noop():
    """The privsep-helper twin of ephcrypt.version: a short constant string."""
    return "0.1.0"


# Served by build/bench/floor, the do-nothing C helper (bench/floor.c).
floor_ctx = priv_context.PrivContext(
    "ephcrypt", cfg_section="ephcrypt_bench_floor",
    pypath=__name__ + ".floor_ctx", capabilities=[])
