import socket

from tui_lora.core import hub


def test_offline_env_means_unreachable(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub.hub_reachable() is False and hub.local_only()


def test_reachability_is_a_real_connection(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    monkeypatch.setattr(hub, "_REACHABLE", {})
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    assert hub.hub_reachable(timeout=1)
    srv.close()
    monkeypatch.setattr(hub, "_REACHABLE", {})
    assert not hub.hub_reachable(timeout=1)  # nothing listens there any more
