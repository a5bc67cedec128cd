"""The evaluate command's figures: which photos results.png shows, and reading losses.csv.

Drawing itself is checked end to end in test_evaluate.py.
"""

from keras_colorize.evaluation.compare import Photo
from keras_colorize.evaluation.figures import choose_rows, read_losses


def test_read_losses_pairs_columns_and_keeps_a_resumed_epoch_once(tmp_path):
    path = tmp_path / "losses.csv"
    path.write_text("epoch,loss,val_chroma,val_loss\n0,1.0,3.0,2.0\n1,0.5,3.0,1.5\n1,0.4,3.0,1.4\n")
    curves = read_losses(path)
    assert curves == {"loss": ([1, 2], [1.0, 0.4]), "val_loss": ([1, 2], [2.0, 1.4])}


def test_choose_rows_best_typical_worst():
    photos = [Photo(str(i), None, (20, 20), {"m": {"auc_0_150": i / 10}}) for i in range(7)]
    rows = choose_rows(photos, "m", "auc_0_150")
    assert [(label, p.name) for label, p in rows] == [
        ("best", "6"), ("best", "5"), ("typical", "3"), ("typical", "2"),
        ("worst", "1"), ("worst", "0"),
    ]  # fmt: skip
    lowest_first = choose_rows(
        [Photo(str(i), None, (20, 20), {"m": {"delta_l": i}}) for i in range(3)],
        "m",
        "delta_l",
    )
    assert [p.name for _, p in lowest_first] == ["0", "1", "2"]
