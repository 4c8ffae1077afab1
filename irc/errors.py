"""The errors irc reports to users.

The CLI prints an `IRCError` as one line (no traceback unless `--traceback`)
and exits non-zero; everything else is a bug in irc.
"""

from __future__ import annotations


class IRCError(Exception):
    """Base of every error irc reports to a user."""

    exit_code = 1


class InputError(IRCError):
    """Bad command-line input: missing file, bad --input shape or dtype (exit code 2)."""

    exit_code = 2


class FrontendError(IRCError):
    """An error in the user's program (a shape or dtype mismatch), with the user's file:line."""

    def __init__(self, message: str, location: tuple[str, int] | None = None):
        self.location = location
        prefix = f"{location[0]}:{location[1]}: " if location else ""
        super().__init__(prefix + message)


class PassError(IRCError):
    """A pass failed or left IR that does not verify; names the pass and the op."""


class CompileError(IRCError):
    """Code generation failed for a target."""


class ExecutionError(IRCError):
    """Running compiled code failed: out of memory, a device error."""


class CompileWarning(RuntimeWarning):
    """A background compile of an eager graph failed; the graph keeps running on the interpreter."""
