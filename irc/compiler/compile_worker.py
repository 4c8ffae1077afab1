"""The process that compiles eager graphs in the background (docs/eager.md).

    python -m irc.compiler.compile_worker      # started by irc.frontend.realize, one per process that needs it

It reads one request per line on stdin, `{"module": hl text, "target": target,
"out": path}`, compiles the module as eager realization does in process, writes
the result as a package (`irc.runtime.package`) at `out` and answers one line on
stdout: `{"ok": true}` or `{"error": "Type: message"}`.

Compiling in a process of its own keeps TVM (and its import) out of the user's
process, does not compete with it for the GIL, and lets the user's process exit
at any time: the worker exits as soon as its stdin closes, also mid-compile.
"""

from __future__ import annotations

import json
import os
import queue
import sys
import threading


def _read_requests(requests: queue.SimpleQueue) -> None:
    for line in sys.stdin:
        requests.put(json.loads(line))
    os._exit(0)  # the parent has gone (or closed the pipe): a compile in progress is of no use


def main() -> None:
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # whatever the compiler prints goes to stderr, not into the replies
    requests: queue.SimpleQueue = queue.SimpleQueue()
    threading.Thread(target=_read_requests, args=(requests,), daemon=True).start()
    from irc.compiler.cache import compile_cached  # as eager realization does in process
    from irc.ir import parse_module
    from irc.runtime.package import save

    while True:
        request = requests.get()
        try:
            lowering = compile_cached(parse_module(request["module"], "<eager graph>"), request["target"])
            save(lowering, request["out"])
            reply = {"ok": True}
        except Exception as e:  # noqa: BLE001 - every failure goes back to the parent, which reports it
            reply = {"error": f"{type(e).__name__}: {e}"}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


if __name__ == "__main__":
    main()
