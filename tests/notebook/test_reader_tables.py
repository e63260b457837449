"""Tables as a reader meets them: no column empty in every row, headers as words (no snake_case);
the data names stay in the CSV files."""

import numpy as np
import pandas as pd

from owslib.notebook.display import drop_empty_columns
from owslib.report.tables import header, markdown_table


def test_a_column_empty_in_every_row_is_left_out():
    t = pd.DataFrame(
        {
            "variant": ["baseline", "baseline"],
            "seed": [0, 1],
            "aupr Δ": ["—", "—"],
            "fpr95 Δ": [np.nan, np.nan],
        }
    )
    assert list(drop_empty_columns(t).columns) == ["variant", "seed"]
    assert list(drop_empty_columns(t.iloc[:, 2:]).columns) == [
        "aupr Δ",
        "fpr95 Δ",
    ]  # all empty: kept


def test_headers_read_as_words_and_counts_stay_integers():
    t = pd.DataFrame({"train_s": [1.5], "q_bh": [0.01], "images_used": [3.0], "n_pairs": [np.nan]})
    head = markdown_table(t).splitlines()[0]
    assert "_" not in head and "train s" in head and "q (BH)" in head and "pairs" in head
    assert markdown_table(t).splitlines()[2].split("|")[3].strip() == "3"
    assert header("gt_pixels") == "GT pixels" and header(3) == 3
