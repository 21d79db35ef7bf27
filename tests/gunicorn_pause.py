"""gunicorn's configuration for tests/test_hosts.py: the project's own, plus one fault to inject.

When the file named by `PAUSE_TRIGGER` appears, the first worker about to send a request on a
slot just granted takes the file (renamed to `<file>.<pid>`, so only one does) and stops itself
with SIGSTOP, between the grant and the send: the one moment a pause can break the limit. The
test sends SIGCONT once the slot's lease has ended and other workers have spent the slot again.
Use it as `gunicorn -c python:tests.gunicorn_pause`.
"""

from __future__ import annotations

import os
import signal
import threading

from catfacts.limiter import Slot
from catfacts.serve.gunicorn_config import options
from catfacts.strategies.limited.calls import Call, Item
from catfacts.strategies.limited.quota import Ticket
from catfacts.strategies.limited.sending import Sender

globals().update(options())

_send = Sender.send


def _claimed(trigger: str) -> bool:
    try:
        os.rename(trigger, f"{trigger}.{os.getpid()}")
    except FileNotFoundError:
        return False
    return True


async def _pausing_send(self: Sender, call: Call, item: Item, slot: Slot, ticket: Ticket) -> None:
    trigger = os.environ.get("PAUSE_TRIGGER")
    if trigger and _claimed(trigger):
        # To this thread: it stops before its next instruction, and the whole process with it
        # (sent to the process, the signal may stop this thread only after it ran on a while).
        signal.pthread_kill(threading.get_ident(), signal.SIGSTOP)
    await _send(self, call, item, slot, ticket)


Sender.send = _pausing_send  # type: ignore[method-assign]
