"""The process that compiles eager graphs in the background (docs/eager.md).

    python -m irc.compiler.compile_worker [TARGET]   # started by irc.frontend.realize, one per process that needs it

It reads one request per line on stdin, `{"module": hl text, "target": target,
"out": path}`, compiles the module as eager realization does in process (through
the compile cache) and answers one line on stdout: `{"ok": true, "package": path}`,
the package (`irc.runtime.package`) of the compiled code (its cache entry, else
one written at `out`), or `{"error": "Type: message"}`. Before its first request it imports
what compiling for TARGET (JSON, e.g. `"llvm"`) takes, while its parent still interprets.

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
    from irc.compiler.cache import compile_to_package, preload
    from irc.ir import parse_module

    if len(sys.argv) > 1:
        try:
            preload(json.loads(sys.argv[1]))
        except Exception:  # noqa: BLE001 - a compile imports the same and reports what fails
            pass

    while True:
        request = requests.get()
        try:
            module = parse_module(request["module"], "<eager graph>")
            reply = {"ok": True, "package": str(compile_to_package(module, request["target"], request["out"]))}
        except Exception as e:  # noqa: BLE001 - every failure goes back to the parent, which reports it
            reply = {"error": f"{type(e).__name__}: {e}"}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


if __name__ == "__main__":
    main()
