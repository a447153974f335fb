"""What the relay's tests with Nova's own functions share
(tests/relay/test_relay_oslo.py, tests/guest/nova_forward.py)."""
import os
import threading
import time


def raises(fn, *args):
    """(exception class, str(exc)) if fn raises, else (None, its result)."""
    try:
        return None, fn(*args)
    except Exception as e:  # noqa: BLE001 (whatever class the helper sends)
        return '%s.%s' % (type(e).__module__, type(e).__name__), str(e)


def blocked_last_bytes(work, name):
    """nova.privsep.path.last_bytes on a new FIFO, in a thread: privsep-helper
    blocks in open() until a writer opens the FIFO, then fails to seek
    (io.UnsupportedOperation).  Returns (thread, result dict: 'r', FIFO)."""
    import nova.privsep.path as ppath
    fifo = os.path.join(work, name + '.fifo')
    os.mkfifo(fifo, 0o600)
    result = {}
    t = threading.Thread(target=lambda: result.update(r=raises(ppath.last_bytes, fifo, 10)))
    t.start()
    time.sleep(1)
    return t, result, fifo
