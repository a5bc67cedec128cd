"""The evaluate command: metrics at full resolution, the gray baseline, figures, the human kit."""

import contextlib
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys

import pytest
from PIL import Image

from keras_colorize.evaluate import main
from keras_colorize.evaluation import human_kit, report
from tests.conftest import BROWSER_ARGS, photo_paths, real_browser

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _save_model(network, folder, working_size=32):
    network.save(folder / "colorizer.keras")
    (folder / "keras_colorize.json").write_text(json.dumps({"working_size": working_size}))
    return str(folder / "colorizer.keras")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """An untrained tiny regression colorizer at 32 px, its head scaled to plausible chroma."""
    import keras

    from keras_colorize.config import make_config
    from keras_colorize.training.families import build_trainer

    keras.utils.set_random_seed(0)
    config = make_config("regression", "tiny")
    network = build_trainer(config.model, config.train).inference_model()
    head = network.layers[-1]
    head.set_weights([w * 0.2 for w in head.get_weights()])
    return _save_model(network, tmp_path_factory.mktemp("model"))


@pytest.fixture(autouse=True)
def keep_environment(monkeypatch):
    """main() quietens TensorFlow's start-up logging; that stays out of other tests."""
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))


def _run(*args):
    """main(args) -> (exit code, stdout)."""
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main([*map(str, args), "--quiet"])
    return code, stdout.getvalue()


@pytest.fixture(scope="module")
def evaluated(model, photos_dir, tmp_path_factory):
    """One full run over the 8 test photos: two models, a fake run dir for losses.png."""
    run = tmp_path_factory.mktemp("runs") / "gan-run"
    run.mkdir()
    (run / "losses.csv").write_text(
        "epoch,d_loss,g_loss,l1,val_chroma,val_l1,val_true_chroma\n"
        "0,0.7,14.0,0.14,9.0,0.13,19.0\n"
        "1,0.3,11.0,0.11,12.0,0.12,19.0\n"
        "2,0.2,10.5,0.10,15.0,0.12,19.0\n"
    )
    out = tmp_path_factory.mktemp("eval")
    old_env = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
    code, stdout = _run(
        "--images", photos_dir, "--model", f"alpha={model}", "--model", f"beta={model}",
        "--out", out, "--runs", run,
    )  # fmt: skip
    if old_env is None:
        os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return code, stdout, out


def test_metrics_per_model_category_and_photo(evaluated):
    code, stdout, out = evaluated
    assert code == 0
    report = json.loads((out / "metrics.json").read_text())
    assert list(report["models"]) == ["gray", "alpha", "beta"]
    sizes = {os.path.basename(p): Image.open(p).size for p in photo_paths()}
    for name, entry in report["models"].items():
        summary = entry["summary"]
        assert summary["images"] == 8 and entry["images_per_second"] > 0, name
        for key in ("psnr", "ssim", "auc_0_150", "auc_1_100", "delta_cf", "colorfulness_ratio"):
            assert math.isfinite(summary[key]), (name, key)
        # Per-image rows at each photo's own full resolution.
        assert {r["image"]: (r["width"], r["height"]) for r in entry["images"]} == sizes
        categories = entry["categories"]
        assert len(categories) == 6 and categories["underwater"]["images"] == 2
    gray = report["models"]["gray"]["summary"]
    assert gray["chroma"] < 1 and gray["delta_l"] < 1 and gray["colorfulness"] < 1
    alpha = report["models"]["alpha"]["summary"]
    assert alpha["chroma"] > 2 and alpha["delta_l"] < 3 and 0 < alpha["auc_0_150"] < 1
    assert alpha["auc_0_150"] == report["models"]["beta"]["summary"]["auc_0_150"]
    table = (out / "metrics.md").read_text()
    assert stdout == table
    header = next(line for line in table.splitlines() if line.startswith("| model |"))
    cells = [c.strip() for c in re.split(r"(?<!\\)\|", header)[1:-1]]  # "\|" is a literal |
    assert len(cells) == 11 and cells[-2:] == ["\\|ΔL\\|", "images/s"] and "AuC 1-100" in cells
    assert table.index("\n| gray | ") < table.index("\n| alpha | ") < table.index("\n| beta | ")
    assert "## Per category" in table and "| underwater | 2 |" in table


def test_figures_are_written(evaluated):
    _, _, out = evaluated
    with Image.open(out / "results.png") as figure:
        # 4 columns (original, gray input, alpha, beta) of ~160 px thumbnails.
        assert 600 <= figure.size[0] <= 800 and figure.size[1] > 500
    with Image.open(out / "losses.png") as figure:
        assert figure.size[0] >= 800
    assert not (out / "human_kit").exists()


def test_rows_choose_the_figure_photos(model, photos_dir, tmp_path, monkeypatch):
    chosen = []
    real = report.results_figure
    monkeypatch.setattr(
        report,
        "results_figure",
        lambda path, rows, *a: chosen.append(rows) or real(path, rows, *a),
    )
    names = [os.path.basename(p) for p in photo_paths()]
    code, _ = _run(
        "--images", photos_dir, "--model", f"alpha={model}", "--out", tmp_path,
        "--max-images", 3, "--rows", names[2], names[0],
    )  # fmt: skip
    assert code == 0 and (tmp_path / "results.png").exists()
    assert [photo.name for _, photo in chosen[0]] == [names[2], names[0]]
    assert (
        json.loads((tmp_path / "metrics.json").read_text())["models"]["alpha"]["summary"]["images"]
        == 3
    )


def test_dataset_images_at_stored_resolution_and_unreadable_skipped(
    small_dataset, tmp_path, capsys
):
    code, _ = _run("--data", small_dataset, "--split", "val", "--out", tmp_path / "data")
    assert code == 0
    rows = json.loads((tmp_path / "data" / "metrics.json").read_text())["models"]["gray"]
    assert rows["summary"]["images"] == 3
    assert all((r["width"], r["height"]) == (80, 80) for r in rows["images"])
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(photo_paths()[0], photos / "good.jpg")
    (photos / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    code, _ = _run("--images", photos, "--out", tmp_path / "out")
    assert code == 0
    assert "skipped broken.jpg: not a readable image" in capsys.readouterr().err
    report = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert report["skipped"][0]["image"] == "broken.jpg"
    assert report["models"]["gray"]["summary"]["images"] == 1


@pytest.fixture(scope="module")
def shrinking_model(tmp_path_factory):
    """A model whose ab comes out at half the size of its L input: not a colorizer."""
    import keras

    network = keras.Sequential(
        [keras.Input((None, None, 1)), keras.layers.AveragePooling2D(2), keras.layers.Conv2D(2, 1)]
    )
    return _save_model(network, tmp_path_factory.mktemp("shrinking"))


@pytest.mark.parametrize(
    "case, expected",
    [
        ("empty", "no image files in"),
        ("missing-model", "does not exist"),
        ("broken-model", "does not load as a Keras model"),
        ("no-equals", "expected NAME=PATH"),
        ("duplicate", "the name 'alpha' is used twice"),
        ("gray-name", "kept for the baseline"),
        ("missing-row", "--rows nope.jpg: no such photo"),
        ("mismatched", "size mismatch"),
        ("no-source", "give --images DIR or --data DATASET"),
    ],
)
def test_usage_errors_are_one_line(
    case, expected, model, shrinking_model, photos_dir, tmp_path, capsys
):
    broken = tmp_path / "broken.keras"
    broken.write_text("not a model")
    (tmp_path / "empty").mkdir()
    images = ["--images", photos_dir, "--out", tmp_path / "out"]
    args = {
        "empty": ["--images", tmp_path / "empty", "--out", tmp_path / "out"],
        "missing-model": [*images, "--model", f"a={tmp_path / 'nothing.keras'}"],
        "broken-model": [*images, "--model", f"a={broken}"],
        "no-equals": [*images, "--model", model],
        "duplicate": [*images, "--model", f"alpha={model}", "--model", f"alpha={model}"],
        "gray-name": [*images, "--model", f"gray={model}"],
        "missing-row": [*images, "--model", f"alpha={model}", "--rows", "nope.jpg"],
        "mismatched": [*images, "--model", f"half={shrinking_model}"],
        "no-source": ["--out", tmp_path / "out"],
    }[case]
    code, stdout = _run(*args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and stdout == ""
    assert len(err) == 1 and err[0].startswith("evaluate: error: ") and expected in err[0], err
    assert not (tmp_path / "out" / "metrics.json").exists()


def _ratings_file(path, rater, pairs, kit="k1"):
    ratings = [
        {"id": f"i{n}", "model": m, "image": "x", "rating": r} for n, (m, r) in enumerate(pairs)
    ]
    doc = {"format": human_kit.RATINGS_FORMAT, "kit": kit, "rater": rater, "ratings": ratings}
    path.write_text(json.dumps(doc))
    return path


def test_human_results_mean_and_t_interval(tmp_path, capsys):
    one = _ratings_file(tmp_path / "a.json", "ann", [("m", 2), ("m", 4), ("g", 1), ("m", None)])
    two = _ratings_file(tmp_path / "b.json", "bob", [("m", 3), ("g", 1)])
    code, stdout = _run("--human-results", one, two, "--out", tmp_path / "out")
    assert code == 0
    result = json.loads((tmp_path / "out" / "human_results.json").read_text())
    m, g = result["models"]["m"], result["models"]["g"]
    assert (m["n"], m["mean"], m["sd"]) == (3, 3.0, 1.0)
    assert m["ci95"] == pytest.approx(4.3027 / math.sqrt(3))  # t(0.975, 2) = 4.3027
    assert (g["n"], g["mean"], g["sd"], g["ci95"]) == (2, 1.0, 0.0, 0.0)
    assert stdout == (tmp_path / "out" / "human_results.md").read_text()
    assert "| m | 3 | 3.00 | 1.00 | 2.48 | [0.52, 5.48] |" in stdout
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": human_kit.RATINGS_FORMAT, "ratings": [{"rating": 9}]}))
    assert _run("--human-results", bad)[0] == 2
    assert capsys.readouterr().err.strip().startswith("evaluate: error: ")


def test_human_kit_in_a_real_browser(photos_dir, tmp_path, request):
    """Rates every item of a kit in headless Chromium, saves, and aggregates the download."""
    chromium, sync_playwright = real_browser()
    model = request.getfixturevalue("model")  # built only once the browser is known to exist
    out = tmp_path / "eval"
    code, _ = _run(
        "--images", photos_dir, "--max-images", 2, "--model", f"alpha={model}",
        "--model", f"beta={model}", "--out", out, "--human-kit",
    )  # fmt: skip
    assert code == 0
    page_path = out / "human_kit" / "index.html"
    html = page_path.read_text()
    assert "http://" not in html and "https://" not in html and "<link" not in html
    kit = json.loads(html.split('type="application/json">')[1].split("</script>")[0])
    items = kit["items"]
    assert len(items) == 6 and len({item["id"] for item in items}) == 6
    assert [item["model"] for item in items] != ["gray", "alpha", "beta"] * 2  # shuffled
    # The rating each item gets: by model, varied by photo so the means are not trivial.
    photos = sorted({item["image"] for item in items})
    base = {"gray": 1, "alpha": 4, "beta": 2}
    rating = {item["id"]: base[item["model"]] + photos.index(item["image"]) for item in items}

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=BROWSER_ARGS)
        try:
            page = browser.new_page(accept_downloads=True)
            page.goto(page_path.as_uri())
            assert page.evaluate(
                "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
            )
            visible = page.inner_text("body")
            for secret in ("gray", "alpha", "beta", *photos):
                assert secret not in visible
            page.click("#save")  # no name yet: refused with a message
            assert "Type your name" in page.inner_text("#status")
            for item_id, value in rating.items():
                page.check(f'input[name="rating-{item_id}"][value="{value}"]')
            page.fill("#rater", "Test Rater")
            assert page.inner_text("#status").endswith("6 of 6 rated")
            with page.expect_download() as info:
                page.click("#save")
            saved = tmp_path / info.value.suggested_filename
            info.value.save_as(saved)
        finally:
            browser.close()

    doc = json.loads(saved.read_text())
    assert doc["rater"] == "Test Rater" and doc["kit"] == kit["kit"]
    assert {r["id"]: r["rating"] for r in doc["ratings"]} == rating
    result = subprocess.run(
        [sys.executable, "-m", "keras_colorize.evaluate", "--human-results", str(saved)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    for name, first in base.items():
        mean = first + 0.5  # ratings first and first + 1 for the two photos
        assert f"| {name} | 2 | {mean:.2f} |" in result.stdout
