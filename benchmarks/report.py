"""bench.md: the benchmark report (benchmarks.bench) as Markdown tables."""


def _f(value, spec=".1f", missing="-"):
    return missing if value is None else format(value, spec)


def _mark(passed):
    return "PASS" if passed else "MISS"


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines + [""]


def _header(report):
    machine, settings = report["machine"], report["settings"]
    lines = ["# keras-colorize benchmark", ""]
    if report["quick"]:
        lines += [
            '**Quick run (`--quick`)**: tiny networks (preset "tiny"), '
            f"{settings['image_size']} px crops, {settings['steps']} steps, "
            f"{settings['repeats']} repeat(s), few photos. It keeps the command working; "
            "its figures say nothing about this machine.",
            "",
        ]
    bf16 = "yes" if machine.get("cpu_bfloat16") else "no"
    lines += [
        f"Machine: {machine['cpu']}, {machine['cores']} cores (native bf16: {bf16}), "
        f"{machine['gpus']} GPUs; Python {machine['python']}, TensorFlow "
        f"{machine['tensorflow']}, Keras {machine['keras']}.",
        f"Precisions: {', '.join(settings['precisions'])}. "
        f"Each figure is the median of {settings['repeats']} timed repeat(s) after warm-up "
        "(the matmul peak at least 3, the pipeline at least 2).",
        "",
    ]
    return lines


def _targets(report):
    if not report.get("targets"):
        return []
    rows = [
        [t["name"], _f(t["value"], ".3g"), t["target"], _mark(t["passed"])]
        for t in report["targets"]
    ]
    return ["## Targets", ""] + _table(["target", "measured", "goal", "result"], rows)


def _width(row):
    if row.get("disc_width"):
        return f"G {row['width']} / D {row['disc_width']}"
    return str(row["width"])


def _training(report):
    settings = report["settings"]
    lines = [
        f"## 1. Training throughput ({settings['image_size']}x{settings['image_size']}, "
        f"batch {settings['batch_size']}, fit on cached batches)",
        "",
    ]
    peaks = [
        [
            p["dtype"],
            f"{p['size']}x{p['size']}",
            _f(p["gflops"], ".0f"),
            p["device"] + (" (cross-check)" if p.get("cross_check") else ""),
        ]
        for p in report["matmul_peak"]
    ]
    lines += ["Matmul peak (square matmul, same run; tf.matmul is the peak used below):", ""]
    lines += _table(["dtype", "matmul", "GFLOP/s", "device"], peaks)
    rows = []
    for row in report["training"]:
        rows.append(
            [
                row["family"],
                row["preset"],
                _width(row),
                row["precision"],
                _f(row["images_per_second"]),
                _f(row.get("analytic_flops_per_image", 0) / 1e9, ".3g"),
                _f(row.get("flops_per_image", 0) / 1e9, ".3g"),
                _f(row.get("achieved_gflops"), ".0f"),
                _f(row.get("peak_gflops"), ".0f"),
                _percent(row.get("fraction_of_peak")),
                _percent(row.get("fraction_of_peak_counted")),
            ]
        )
    header = [
        "family",
        "preset",
        "width",
        "precision",
        "images/s",
        "GFLOP/image (model)",
        "GFLOP/image (counted)",
        "achieved GFLOP/s (model)",
        "peak GFLOP/s (same dtype)",
        "% of peak (model)",
        "% of peak (counted)",
    ]
    lines += _table(header, rows)
    methods = report["methods"]
    lines += [
        f"GFLOP/image (model): {methods['flops']}. Achieved = model FLOPs/image x images/s.",
        f"GFLOP/image (counted): {methods['flops_cross_check']}.",
        "",
    ]
    return lines + _reference(report.get("reference"))


def _percent(fraction):
    return _f(None if fraction is None else 100 * fraction, ".0f")


def _reference(reference):
    if not reference:
        return []
    lines = [
        "Reference: the official pix2pix training step in PyTorch, same machine, same run "
        "(benchmarks/pytorch_pix2pix.py):",
        "",
    ]
    if "error" in reference:
        return lines + [f"Not measured: {reference['error']}", ""]
    rows = [
        [
            row["preset"],
            f"G {row['width']} / D {row['disc_width']}",
            row["precision"],
            _f(row["images_per_second"]),
            f"{row['reference']['images_per_second']:.1f} ({row['reference']['dtype']})",
            _f(row["ratio_same_dtype"], ".2f"),
            _f(row["reference_float32"]["images_per_second"]),
            _f(row["ratio_to_float32"], ".2f"),
        ]
        for row in reference["rows"]
    ]
    header = [
        "preset",
        "width",
        "ours",
        "ours images/s",
        "PyTorch images/s (same dtype)",
        "ratio",
        "PyTorch float32 images/s",
        "ours / PyTorch float32",
    ]
    if not rows:
        return lines + ["No GAN was timed.", ""]
    first = reference["rows"][0]["reference"]
    notes = [
        f"{first['framework']}, {first['threads']} threads, NCHW as the official code runs; "
        "bfloat16 = torch.autocast. Its step runs D three times (ours twice: the generated "
        "pair's forward pass serves both losses).",
        "",
    ]
    return lines + _table(header, rows) + notes


def _pipeline(report):
    pipeline = report["pipeline"]
    lines = ["## 2. Input pipeline (make_dataset alone, training split, augmentation on)", ""]
    fastest = pipeline.get("fastest_training")
    row = [
        pipeline["batch_size"],
        pipeline["image_size"],
        _f(pipeline["images_per_second"], ".0f"),
        "-"
        if not fastest
        else f"{fastest['images_per_second']:.1f} ({fastest['family']}, "
        f"{fastest['preset']}, {fastest['precision']})",
        _f(pipeline.get("ratio_to_fastest_training"), ".1f"),
        f">= {pipeline['target_ratio']:g}" if fastest else "-",
        _mark(pipeline["passed"]) if fastest else "-",
    ]
    header = [
        "batch",
        "size",
        "images/s",
        "fastest training images/s",
        "ratio",
        "target",
        "result",
    ]
    return lines + _table(header, [row])


def _latency(inference):
    artefacts = inference["artefacts"]
    lines = [
        f"Model: {inference['model_dir']} ({artefacts['family']}, working size "
        f"{artefacts['working_size']}). SavedModel: {artefacts['saved_model_source']}. "
        f"TFLite: {artefacts['tflite_source']}.",
        "",
    ]
    lines += [f"Note: {note}" for note in artefacts["notes"]]
    labels = list(inference["latency"][0]["latency_ms"]) if inference["latency"] else []
    rows = []
    for row in inference["latency"]:
        fixed = row.get("fixed_input")
        rows.append(
            [
                row["backend"],
                *(_f(row["latency_ms"][label]) for label in labels),
                "x".join(map(str, fixed["shape"])) + f" {fixed['dtype']}" if fixed else "-",
                _f(row.get("invoke_ms")),
            ]
        )
    header = ["backend", *(f"{label} (ms)" for label in labels)]
    header += ["TFLite fixed input", "TFLite invoke (ms)"]
    lines += ["Latency, batch 1 (one photo per call):", ""] + _table(header, rows)
    lines += [
        "- .keras: inference.pipeline.colorize_images (the colorize runtime): the network at "
        "the working size, the colour recombined with the full-resolution lightness in numpy.",
        "- SavedModel serving_default: uint8 RGB in and out, everything in the TF graph.",
        '- TFLite files take one fixed-size input: "invoke" is that file alone at its own '
        "size; the photo columns run colorize_images with a TFLiteBackend (resize to the "
        "fixed size, invoke, recombine at full resolution).",
        "",
    ]
    return lines


def _goals(row):
    """'wall s <= 1.5: PASS; ...' for a run with targets, else '-'."""
    if not row.get("targets"):
        return "-"
    return "; ".join(f"{t['label']} <= {t['goal']:g}: {_mark(t['passed'])}" for t in row["targets"])


def _colorize_row(label, row, photos=1, rate="-"):
    return [
        label,
        photos,
        _f(row["seconds"], ".2f"),
        _f(row["photo_seconds"], ".2f"),
        _f(row["startup_seconds"], ".2f"),
        rate,
        _f(row["peak_rss_mb"], ".0f"),
        _goals(row),
    ]


def _colorize(colorize, artefacts):
    if "error" in colorize:
        return [f"colorize command: FAILED: {colorize['error']}", ""]
    rows = [
        _colorize_row(f"{row['photo']} photo ({row['megapixels']:.1f} MP), {row['model']}", row)
        for row in colorize["photos"]
    ]
    folder = colorize["folder"]
    rate = (
        f"{folder['images_per_second']:.2f} "
        f"({_f(folder['images_per_second_own'], '.2f')} photos' own)"
    )
    label = f"folder: {folder['source']}, {folder['model']}"
    rows.append(_colorize_row(label, folder, folder["photos"], rate))
    big = colorize.get("twelve_mp_jpeg")
    if big:
        rows.append(_colorize_row(f"{big['photo']} photo, {big['model']}, JPEG output", big))
    header = [
        "run",
        "photos",
        "wall s",
        "photos' own s",
        "start-up s",
        "images/s",
        "peak RSS (MB)",
        "target (.tflite runs)",
    ]
    tflite = artefacts.get("colorizer_tflite")
    models = (
        f"Models: {artefacts['keras']}, and {tflite} ({artefacts['colorizer_tflite_source']}: "
        "float32, L -> ab at the working size)."
        if tflite
        else f"Model: {artefacts['keras']} (no .tflite: see the notes above)."
    )
    return [
        f"colorize command end to end: `{colorize['command']}` (PNG output unless said), "
        "each run a fresh process (peak RSS: that process's getrusage), median of "
        f"{colorize['repeats']} run(s) after {colorize['warmup_runs']} warm-up run(s) per model. "
        "\"Photos' own\" is the command's own clock from the model loaded to the last photo "
        "written (reading, colorizing and writing the files), as its summary line prints it; "
        "wall s adds the start-up (Python, the runtime, the model loading). The targets apply "
        "to the .tflite model, which ships; the .keras one is shown for comparison."
        + (" Quick run: all runs at once." if colorize.get("concurrent") else ""),
        "",
        models,
        "",
    ] + _table(header, rows)


def _inference(report):
    inference = report["inference"]
    lines = ["## 3. Inference", ""]
    if "skipped" in inference:
        return lines + [f"Skipped: {inference['skipped']}.", ""]
    if "error" in inference:
        return lines + [f"FAILED ({inference['model_dir']}): {inference['error']}", ""]
    return lines + _latency(inference) + _colorize(inference["colorize"], inference["artefacts"])


def _scaling(report):
    scaling = report["scaling"]
    lines = [
        f"## 4. Scaling ({scaling['family']}, preset {scaling['preset']}, "
        f"{scaling['precision']}, same global batch)",
        "",
    ]
    rows = []
    for row in scaling["rows"]:
        if "error" in row:
            rows.append([row["setup"], row["replicas"], row["workers"], "FAILED: " + row["error"]])
        else:
            rows.append(
                [
                    row["setup"],
                    row["replicas"],
                    row["workers"],
                    _f(row["images_per_second"]),
                    _f(row.get("speedup"), ".2f"),
                ]
            )
    lines += _table(["set-up", "replicas", "processes", "images/s", "vs 1 device"], rows)
    lines += [
        "Each set-up runs in fresh processes (devices are fixed at TensorFlow start-up); "
        "MirroredStrategy trains with fit, the workers with distribute.custom_fit (fit.py's "
        "multi-worker loop). On one machine the replicas share its cores.",
        "",
    ]
    if scaling.get("concurrent"):
        lines += [
            "Quick run: all set-ups ran at once, beside the other sections, each process "
            "with one TensorFlow thread.",
            "",
        ]
    return lines


def markdown(report):
    """The whole report as Markdown; sections that did not run are left out."""
    lines = _header(report) + _targets(report)
    if "training" in report:
        lines += _training(report)
    if "pipeline" in report:
        lines += _pipeline(report)
    if "inference" in report:
        lines += _inference(report)
    if "scaling" in report:
        lines += _scaling(report)
    timings = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in report["seconds"].items())
    lines += [f"Wall time per section: {timings}.", ""]
    return "\n".join(lines)
