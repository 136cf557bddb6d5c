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


def test_one_answer_to_local_path_or_repo_id(tmp_path, monkeypatch):
    assert hub.is_repo_id("SmilingWolf/wd-eva02-large-tagger-v3") and hub.is_repo_id(" owner/name.v2 ")
    for ref in ("", "nope", "not a model", "./x/y", "../x", "/abs/dir", "~/m", "a/b/c", "C:/models", "\\\\srv\\m",
                "model.safetensors", "owner/model.onnx", "owner/model.ckpt"):
        assert not hub.is_repo_id(ref), ref
    (tmp_path / "owner" / "name").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert not hub.is_repo_id("owner/name")  # a folder of that name is here: it is the one meant


def test_download_failures_are_one_sentence_ending_in_the_local_fix():
    from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError

    def http_error(cls, text):  # the hub's HTTP errors want a response object of its HTTP library's version
        exc = cls.__new__(cls)
        Exception.__init__(exc, text)
        return exc

    fix = "pass a local folder"
    cases = {
        LocalEntryNotFoundError("not in cache"): "Cannot download a/b: the Hugging Face hub cannot be reached and "
                                                 "a/b is not downloaded yet",
        http_error(GatedRepoError, "gated"): "a/b is gated; accept its terms",
        http_error(RepositoryNotFoundError, "missing"): "There is no Hugging Face repo a/b",
        OSError(28, "No space left on device"): "Cannot download a/b ([Errno 28] No space left on device)",
    }
    for exc, start in cases.items():
        msg = hub.download_failure(exc, "a/b", local_fix=fix).message
        assert msg.startswith(start) and msg.endswith(f"or {fix}.") and "\n" not in msg, msg
    assert hub.download_failure(ValueError("a bug"), "a/b", local_fix=fix) is None  # not ours to word
