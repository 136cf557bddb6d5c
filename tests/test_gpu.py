"""tui_lora.core.gpu: nvidia-smi's answer parsed, and every way of having no GPU said in one sentence."""

from tui_lora.core.gpu import detect_gpus, parse_query
from wizard_support import fake_nvidia_smi


def test_parse_query_with_and_without_units():
    gpus = parse_query("NVIDIA H100 80GB HBM3, 81559 MiB, 1 MiB\nNVIDIA GeForce RTX 3060, 12288, [N/A]\n\nbroken line\n")
    assert [g.name for g in gpus] == ["NVIDIA H100 80GB HBM3", "NVIDIA GeForce RTX 3060"]
    assert round(gpus[0].memory_total_gb, 1) == 79.6
    assert gpus[1].memory_total_gb == 12.0 and gpus[1].memory_used_gb is None
    assert [g.index for g in gpus] == [0, 1]


def test_detect_runs_nvidia_smi(tmp_path):
    exe = fake_nvidia_smi(tmp_path, "Tesla T4, 15360, 300\nNVIDIA A100-SXM4-40GB, 40960, 0")
    report = detect_gpus(command=str(exe))
    assert report.reason == ""
    assert report.largest.name == "NVIDIA A100-SXM4-40GB"
    assert report.gpus[0].memory_used_gb == 300 / 1024


def test_no_nvidia_smi(tmp_path):
    report = detect_gpus(command=str(tmp_path / "nowhere" / "nvidia-smi"))
    assert report.gpus == () and report.largest is None
    assert "nvidia-smi is not installed" in report.reason


def test_failing_nvidia_smi(tmp_path):
    exe = fake_nvidia_smi(tmp_path, "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.", code=9)
    report = detect_gpus(command=str(exe))
    assert report.gpus == ()
    assert report.reason.startswith("nvidia-smi failed (NVIDIA-SMI has failed") and report.reason.endswith("driver.")
