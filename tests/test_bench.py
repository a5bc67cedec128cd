"""The benchmark command keeps working (figures come from real runs, not from this test)."""

import json
import os

from keras_colorize.bench import main


def test_quick_bench_writes_reports(small_dataset, tmp_path):
    out = str(tmp_path / "bench")
    args = [
        "--data",
        small_dataset,
        "--out",
        out,
        "--quick",
        "--batch-size",
        "2",
        "--image-size",
        "32",
    ]
    assert main([*args, "--train", "regression:4", "--precisions", "float32"]) == 0
    with open(os.path.join(out, "bench.json"), encoding="utf-8") as handle:
        report = json.load(handle)
    assert report["pipeline"]["images_per_second"] > 0
    assert report["machine"]["cores"] >= 1
    (row,) = report["training"]
    assert row["family"] == "regression" and row["images_per_second"] > 0
    assert "Input pipeline" in open(os.path.join(out, "bench.md"), encoding="utf-8").read()


def test_bench_on_a_missing_folder_is_a_usage_error(tmp_path, capsys):
    assert main(["--data", str(tmp_path / "missing"), "--quick"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_bench_bad_train_item_is_a_usage_error(small_dataset, capsys):
    assert main(["--data", small_dataset, "--quick", "--train", "gan"]) == 2
    assert "FAMILY:WIDTH" in capsys.readouterr().err
