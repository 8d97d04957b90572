from groundlm.bench.speed import bench_speed

TINY = {
    "image_size": 32,
    "patch_size": 8,
    "vision_hidden": 32,
    "vision_layers": 1,
    "lm_hidden": 32,
    "lm_layers": 1,
    "heads": 2,
    "text_tokens": 8,
}


def test_speed_benchmark_builds_equal_models_and_reports_ratios():
    result = bench_speed(batch=2, steps=1, new_tokens=2, device="cpu", sizes=TINY)
    ours, peer = result["rows"]
    assert (ours["model"], peer["model"]) == ("groundlm", "llava")
    # Same architecture: the same FLOPs per training step (our region encoder is unused without regions).
    assert ours["gflops_per_step"] == peer["gflops_per_step"]
    assert result["train_throughput_ratio"] > 0 and result["matmul_peak_gflop_s"] > 0
