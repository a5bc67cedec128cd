"""evaluate's outputs: metrics.json and metrics.md, the figures, the human kit, human results.

metrics.json holds, per model, a summary, one per category (from the
source's MANIFEST.csv) and one row per photo; metrics.md is its table, and
what the command prints. Only build_report imports TensorFlow (through
evaluation.metrics), so human results are written without it.
"""

import json
import math
import os

from keras_colorize.evaluation.figures import GRAY, choose_rows, losses_figure, results_figure
from keras_colorize.evaluation.human_kit import md_name, ratings_markdown, write_human_kit
from keras_colorize.evaluation.sources import EvaluationError

NO_CATEGORY = "(none)"
KIT_DIR = "human_kit"
METRICS_JSON = "metrics.json"
METRICS_MD = "metrics.md"
RESULTS_FIGURE = "results.png"
LOSSES_FIGURE = "losses.png"
HUMAN_RESULTS_MD = "human_results.md"
HUMAN_RESULTS_JSON = "human_results.json"

# (key, table header, format) of metrics.md's main table, in column order.
COLUMNS = (
    ("psnr", "PSNR", "{:.2f}"),
    ("ssim", "SSIM", "{:.3f}"),
    ("auc_0_150", "AuC 0-150", "{:.3f}"),
    ("auc_1_100", "AuC 1-100", "{:.3f}"),
    ("colorfulness", "CF", "{:.1f}"),
    ("colorfulness_ratio", "CF ratio", "{:.2f}"),
    ("delta_cf", "ΔCF", "{:.1f}"),
    ("chroma", "chroma", "{:.1f}"),
    ("delta_l", "\\|ΔL\\|", "{:.2f}"),
    ("images_per_second", "images/s", "{:.3g}"),
)
RANK_METRICS = ("auc_0_150", "auc_1_100", "psnr", "ssim", "colorfulness", "chroma", "delta_l")


def _finite(value):
    """JSON has no inf/nan: an exact prediction's infinite PSNR is written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def build_report(photos, skipped, models, source):
    """The metrics.json document."""
    from keras_colorize.evaluation.metrics import summarize

    categories = sorted({p.category for p in photos if p.category})
    report = {"source": source, "skipped": [{"image": n, "reason": r} for n, r in skipped]}
    report["models"] = {}
    for model in models:
        rows = [p.metrics[model.name] for p in photos]
        entry = {
            "path": model.path,
            "images_per_second": model.images_per_second,
            "colorize_seconds": model.seconds,
            "summary": summarize(rows),
        }
        if categories:
            entry["categories"] = {
                c: summarize([p.metrics[model.name] for p in photos if p.category == c])
                for c in categories
            }
            if any(p.category is None for p in photos):
                entry["categories"][NO_CATEGORY] = summarize(
                    [p.metrics[model.name] for p in photos if p.category is None]
                )
        entry["images"] = [
            {"image": p.name, "category": p.category, "height": p.size[0], "width": p.size[1]}
            | p.metrics[model.name]
            for p in photos
        ]
        report["models"][model.name] = entry
    return _finite(report)


def _cell(value, fmt):
    return "–" if value is None or not math.isfinite(value) else fmt.format(value)


def metrics_markdown(report):
    """metrics.md: one row per model, then AuC / PSNR per category if there are categories."""
    models = report["models"]
    first = next(iter(models.values()))["summary"]
    source = report["source"]
    lines = [
        "# Colorization metrics",
        "",
        f"{first['images']} photos from {source['kind']} {source['path']}"
        + (f" ({source['split']} split, stored resolution)" if source.get("split") else "")
        + f"; {len(report['skipped'])} skipped. Ground truth: CF "
        f"{first['colorfulness_true']:.1f}, chroma {first['chroma_true']:.1f}.",
        "",
        "| model | " + " | ".join(header for _, header, _ in COLUMNS) + " |",
        "|---|" + "---:|" * len(COLUMNS),
    ]
    for name, entry in models.items():
        values = entry["summary"] | {"images_per_second": entry["images_per_second"]}
        cells = [_cell(values[key], fmt) for key, _, fmt in COLUMNS]
        lines.append(f"| {md_name(name)} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "PSNR (dB, exact photos counted as 100) and SSIM on RGB; AuC: area under the fraction "
        "of pixels within an ab error threshold, swept 0-150 (Zhang et al.) or 1-100 (the "
        "paper); CF: mean colourfulness (Hasler-Süsstrunk) of the predictions, CF ratio and "
        "ΔCF against the ground truth's; chroma: mean sqrt(a² + b²); |ΔL|: mean lightness "
        "change (should be about 0); images/s: colorizing only, one photo at a time.",
    ]
    categories = next(iter(models.values())).get("categories")
    if categories:
        lines += [
            "",
            "## Per category (AuC 0-150 / PSNR dB)",
            "",
            "| category | photos | " + " | ".join(map(md_name, models)) + " |",
            "|---|---:|" + "---|" * len(models),
        ]
        for category, summary in categories.items():
            cells = [
                f"{_cell(e['categories'][category]['auc_0_150'], '{:.3f}')} / "
                f"{_cell(e['categories'][category]['psnr'], '{:.2f}')}"
                for e in models.values()
            ]
            lines.append(
                f"| {md_name(category)} | {summary['images']} | " + " | ".join(cells) + " |"
            )
    return "\n".join(lines) + "\n"


def write_report(out, photos, skipped, models, source, rank_by, rows=None, runs=(), seed=None):
    """Writes every output to the folder ``out``; returns (metrics.md text, [written names]).

    Args:
        photos, skipped: what compare.evaluate_all returned.
        models: [compare.Model], the gray baseline first.
        source: {"kind", "path"[, "split"]}, recorded in metrics.json.
        rank_by: the metric choosing results.png's best, typical and worst photos.
        rows: photo names to show in results.png instead (all among ``photos``).
        runs: [(label, losses.csv path)] for losses.png.
        seed: the human kit's shuffle seed; None writes no kit.
    """
    if rows:
        by_name = {p.name: p for p in photos}
        missing = [name for name in rows if name not in by_name]
        if missing:
            raise EvaluationError(f"--rows {missing[0]} could not be read (see above)")
    os.makedirs(out, exist_ok=True)
    written = []

    def path(name):
        written.append(name)
        return os.path.join(out, name)

    report = build_report(photos, skipped, models, source)
    report["rank_by"] = rank_by
    with open(path(METRICS_JSON), "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=1, allow_nan=False)
    table = metrics_markdown(report)
    with open(path(METRICS_MD), "w", encoding="utf-8") as handle:
        handle.write(table)
    if rows:
        chosen = [("", by_name[name]) for name in rows]
    else:
        ranker = next((m.name for m in models if m.name != GRAY), GRAY)
        chosen = choose_rows(photos, ranker, rank_by)
    results_figure(path(RESULTS_FIGURE), chosen, models, rank_by)
    if runs and losses_figure(os.path.join(out, LOSSES_FIGURE), runs):
        written.append(LOSSES_FIGURE)
    if seed is not None:
        write_human_kit(os.path.join(out, KIT_DIR), photos, models, seed)
        written.append(f"{KIT_DIR}/index.html")
    return table, written


def write_human_results(result, out):
    """human_kit.aggregate_ratings' result -> its markdown table, also written to ``out`` if set."""
    table = ratings_markdown(result)
    if out:
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, HUMAN_RESULTS_MD), "w", encoding="utf-8") as handle:
            handle.write(table)
        with open(os.path.join(out, HUMAN_RESULTS_JSON), "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=1)
    return table
