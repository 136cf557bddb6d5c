from tui_lora.core.humanize import clock, file_size


def test_file_sizes_read_like_a_file_manager():
    assert [file_size(n) for n in (None, 705, 1024, 512 * 1024, int(3.44 * (1 << 20)), 1288490189)] == [
        "0 B", "705 B", "1 KB", "512 KB", "3.4 MB", "1.20 GB"]


def test_clock_pads_seconds_and_grows_an_hour_field():
    assert [clock(s) for s in (None, -1, 0, 42.4, 62, 3723)] == ["--:--", "--:--", "0:00", "0:42", "1:02", "1:02:03"]


def test_one_duration_wording_for_every_command_and_screen():
    from tui_lora.core.humanize import duration

    assert [duration(s) for s in (None, -1, float("nan"), 0, 59.4, 61, 3700)] == [
        "–", "–", "–", "0 s", "59 s", "1 min 01 s", "1 h 01 min"]
