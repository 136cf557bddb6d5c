"""Aspect-ratio buckets and epoch composition (pure Python), and the bucket-aware planner."""

from collections import Counter

import pytest

from tui_lora.core.dataset.buckets import (
    BucketSpec,
    assign_buckets,
    epoch_batches,
    group_by_bucket,
    make_bucket_resolutions,
    reg_repeats,
    select_bucket,
    steps_per_epoch,
)


def test_bucket_list_matches_kohya():
    resos = make_bucket_resolutions(512, 256, 1024, 64)
    assert resos == sorted(resos)
    assert (512, 512) in resos
    assert (256, 1024) in resos and (1024, 256) in resos  # 256 × 1024 is exactly 512²
    assert (320, 768) in resos and (768, 320) in resos  # 262144 // 320 = 819 → 768
    assert (576, 448) in resos and (448, 576) in resos
    for w, h in resos:
        assert w % 64 == 0 and h % 64 == 0
        assert 256 <= w <= 1024 and 256 <= h <= 1024
        assert w * h <= 512 * 512
    # SDXL: 1024 with 512..2048
    xl = make_bucket_resolutions(1024, 512, 2048, 64)
    assert (1024, 1024) in xl and (832, 1216) in xl and (1216, 832) in xl and (512, 2048) in xl


def test_nearest_aspect_and_cover_crop():
    spec = BucketSpec(resolution=512, min_size=256, max_size=1024)
    p = select_bucket((1200, 800), spec)  # aspect 1.5
    assert p.bucket == (640, 384)  # 1.667 beats 576×448 (1.286): kohya keeps the largest height per width
    resos = make_bucket_resolutions(512, 256, 1024, 64)
    assert p.bucket == min(resos, key=lambda b: abs(b[0] / b[1] - 1.5))
    w, h = p.bucket
    assert p.resized[0] >= w and p.resized[1] >= h
    assert p.resized[0] == w or p.resized[1] == h  # resized to cover: one side fits exactly
    assert p.crop_left == (p.resized[0] - w) // 2 and p.crop_top == (p.resized[1] - h) // 2
    # an image already of a bucket size is kept as is
    assert select_bucket((448, 576), spec).resized == (448, 576)
    # a square image goes to the square bucket, upscaled when small
    sq = select_bucket((100, 100), spec)
    assert sq.bucket == (512, 512) and sq.resized == (512, 512)


def test_no_upscale_keeps_small_images_small():
    spec = BucketSpec(resolution=512, min_size=256, max_size=1024, no_upscale=True)
    p = select_bucket((300, 200), spec)
    assert p.bucket == (256, 192) and p.resized == (300, 200)  # cropped to 64-multiples, never enlarged
    big = select_bucket((2000, 1000), spec)
    assert big.bucket[0] * big.bucket[1] <= 512 * 512
    assert big.resized[0] <= 2000 and big.bucket[0] % 64 == 0 and big.bucket[1] % 64 == 0
    assert abs(big.resized[0] / big.resized[1] - 2.0) < 0.05


def test_bucketing_off_is_one_square_bucket():
    spec = BucketSpec(resolution=512, enable_bucket=False)
    for size in ((1000, 300), (300, 1000), (512, 512)):
        assert select_bucket(size, spec).bucket == (512, 512)


def test_epoch_batches_are_one_bucket_each_and_a_function_of_seed_and_epoch():
    spec = BucketSpec(resolution=128, min_size=64, max_size=256)
    sizes = [(128, 128), (192, 96), (96, 192), (128, 128), (200, 100), (128, 128), (64, 256)]
    placements = assign_buckets(sizes, spec)
    repeats = [2, 1, 3, 2, 1, 2, 1]
    groups = group_by_bucket([p.bucket for p in placements], repeats)
    batches = epoch_batches(groups, 2, seed=7, epoch=0)
    bucket_of = {i: placements[i].bucket for i in range(len(sizes))}
    for b in batches:
        assert len({bucket_of[i] for i in b}) == 1
        assert 1 <= len(b) <= 2
    assert Counter(i for b in batches for i in b) == Counter({i: r for i, r in enumerate(repeats)})
    assert len(batches) == steps_per_epoch(groups, 2)
    assert epoch_batches(groups, 2, seed=7, epoch=0) == batches
    assert epoch_batches(groups, 2, seed=7, epoch=1) != batches
    assert epoch_batches(groups, 2, seed=8, epoch=0) != batches


def test_reg_repeats_balance_like_kohya():
    assert reg_repeats(10, [1, 1, 1]) == [4, 3, 3]  # first pass 1 each, then +1 each until 10
    assert reg_repeats(4, [3, 3, 3]) == [3, 3, 0]  # the first pass stops once 4 is reached
    assert reg_repeats(0, [1, 1]) == [0, 0]
    assert sum(reg_repeats(100, [5] * 7)) == 100


@pytest.mark.parametrize("enable_bucket", [True, False])
def test_planner_counts_buckets_like_the_trainer(make_project, enable_bucket):
    from tui_lora.core.plan import plan_for_project
    from tui_lora.core.train.layout import scan_layout
    from tui_lora.demo.datasets import write_dataset

    sizes = [(512, 512), (768, 512), (512, 768), (640, 512), (1024, 256)]
    proj = make_project(images=0, settings={"dataset.enable_bucket": enable_bucket, "training.train_batch_size": 3})
    write_dataset(proj.concepts()[0].path, 11, size=sizes)
    other = proj.dataset_dir / "2_extra"
    write_dataset(other, 4, size=[(768, 512)], seed=3)
    plan = plan_for_project(proj)
    layout = scan_layout(proj.dataset_dir, proj.settings["dataset"])
    assert plan.steps_per_epoch == layout.steps_per_epoch(3) == len(layout.epoch_batches(3, 42, 0))
    if enable_bucket:
        assert len(layout.groups()) > 1
        # per-bucket rounding makes more steps than per-folder arithmetic would
        assert plan.steps_per_epoch >= -(-(11 * 10 + 4 * 2) // 3)
    else:
        assert layout.bucket_samples() == (11 * 10 + 4 * 2,)
        assert plan.steps_per_epoch == -(-(11 * 10 + 4 * 2) // 3)


def test_planner_counts_regularization_like_the_trainer(make_project):
    from tui_lora.core.plan import plan_for_project
    from tui_lora.core.train.layout import scan_layout
    from tui_lora.demo.datasets import write_dataset

    proj = make_project(images=6, settings={"training.train_batch_size": 4})
    reg = proj.root / "reg"
    write_dataset(reg / "1_person", 5, size=[(512, 512), (512, 768)], captions=False)
    proj.set("dataset.reg_data_dir", "reg")
    proj.save()
    plan = plan_for_project(proj)
    layout = scan_layout(proj.dataset_dir, proj.settings["dataset"], reg_dir=reg)
    assert layout.reg_samples == layout.train_samples == 60
    assert plan.steps_per_epoch == layout.steps_per_epoch(4)
    assert "regularization" in " ".join(plan.breakdown)
