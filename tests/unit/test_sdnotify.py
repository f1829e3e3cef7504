"""sd_notify: a datagram to $NOTIFY_SOCKET, abstract names included; nothing without the variable."""

import os
import socket

from dunkwatch.service import sdnotify


def test_without_notify_socket_nothing_is_sent(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sdnotify.notify("READY=1") is False


def test_messages_reach_a_path_socket_and_an_abstract_one(monkeypatch, tmp_path):
    for address, bind_to in [
        (str(tmp_path / "n.sock"), str(tmp_path / "n.sock")),
        (f"@dunkwatch-test-{os.getpid()}", f"\0dunkwatch-test-{os.getpid()}"),
    ]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(bind_to)
            monkeypatch.setenv("NOTIFY_SOCKET", address)
            assert sdnotify.notify("READY=1")
            assert sock.recv(100) == b"READY=1"


def test_watchdog_interval_is_read_only_for_this_process(monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert sdnotify.watchdog_seconds() == 30.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert sdnotify.watchdog_seconds() is None


def test_a_reader_that_falls_behind_never_blocks_the_sender(monkeypatch, tmp_path):
    import threading

    path = tmp_path / "slow.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))  # and never read: its queue fills after a few datagrams
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        sent: list[bool] = []
        sender = threading.Thread(
            target=lambda: sent.extend(sdnotify.notify("WATCHDOG=1") for _ in range(200)), daemon=True
        )
        sender.start()
        sender.join(5)
        assert not sender.is_alive(), "notify blocked on a full socket (the service's shutdown once hung there)"
        assert sent[0] is True and sent[-1] is False
