"""systemd's notify protocol in a few lines: one datagram to $NOTIFY_SOCKET; nothing without it."""

from __future__ import annotations

import os
import socket


def notify(message: str) -> bool:
    """Send e.g. "READY=1"; returns False when not run by systemd (or the socket is gone)."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # Linux abstract namespace
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            # Never wait: a reader that falls behind fills its queue (ten datagrams on Linux), and a
            # blocking send would stall the main loop, shutdown included. A lost ping is harmless.
            sock.send(message.encode("utf-8"), socket.MSG_DONTWAIT)
        return True
    except OSError:
        return False  # a vanished or saturated manager must not take the service down


def watchdog_seconds() -> float | None:
    """The WatchdogSec= systemd asked for, when it is meant for this process."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 1e6
    except ValueError:
        return None
