"""Process helpers: children that die with their parent, and stopping a child politely then firmly."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Ask Linux to send ``sig`` to this process when its parent dies (prctl PR_SET_PDEATHSIG).

    A worker's work horse, and every child of ``noether up``, calls this so that a SIGKILLed parent
    never leaves an orphan running a job (or a Redis server) behind. A no-op off Linux.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - exotic libc
        return


def stop_process(proc: subprocess.Popen, *, signals: tuple[int, ...] = (signal.SIGTERM,), grace: float = 5.0) -> int:
    """Send each of ``signals`` in turn, waiting ``grace`` seconds after each, then SIGKILL; return the exit code."""
    for sig in signals:
        if proc.poll() is not None:
            return proc.returncode
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            break
        try:
            return proc.wait(grace)
        except subprocess.TimeoutExpired:
            continue
    if proc.poll() is None:
        proc.kill()
    return proc.wait()


def pid_alive(pid: int) -> bool:
    """True if a process with this id exists (zombies count as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
