"""`sansfilm dashboards --port P` where another server listens: one line naming the port and --port, before the CLI
says it serves there (Streamlit would print its own log line and exit)."""

from __future__ import annotations

import socket

import pytest

from analytics.errors import SansfilmError
from pipelines.dashboards_cli import require_free_port, serve


def test_a_port_another_server_holds_is_refused_in_one_line():
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(SansfilmError) as refused:
            serve(None, port)  # refused before the settings are read
        assert str(refused.value) == (
            f"cannot listen on 127.0.0.1:{port} (Address already in use): another server holds it, or the "
            "dashboards already run there; choose another with --port"
        )
    require_free_port("127.0.0.1", port)  # free again once the other server closed it


def test_an_address_not_of_this_machine_is_refused_naming_both_options():
    with pytest.raises(SansfilmError) as refused:
        require_free_port("192.0.2.1", 8501)  # TEST-NET-1: never one of this machine's
    assert (
        str(refused.value)
        == "cannot listen on 192.0.2.1:8501 (Cannot assign requested address): check --address and --port"
    )
