"""A notebook's comparison with its baseline, paired by seed (tables, sentences, the verdict),
and the answers 06_summary opens with (:func:`answers`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from owslib import comparison
from owslib.io import atomic_write_text
from owslib.paths import resolve
from owslib.plots import save_figure
from owslib.study.answers import (
    PAIR_COLUMNS,
    answer_sentences,
    confirmatory_answers,
    notebook_verdict,
    power_now,
    screening_exploratory,
)
from owslib.study.documents import answers_markdown
from owslib.study.figures import forest_figure
from owslib.study.results import (
    HEADLINE,
    contrast_findings,
    error_bounds,
    findings,
    present_labels,
    reader_table,
    short_label,
)
from owslib.study.studyfile import STUDY_FILE, load_study


class RunComparison:
    """The comparison of :class:`~owslib.notebook.run.NotebookRun` with its baseline."""

    def table(self, scorer: str = "fused", metrics: tuple[str, ...] = ()) -> pd.DataFrame:
        """Mean ± std and paired Δ [lo, hi] per variant under the full metric labels
        (``comparison.csv``); :meth:`headline_table` is the form a reader meets."""
        return self._comparison(scorer, metrics)[0]

    def headline_table(
        self, scorer: str = "fused", metrics: tuple[str, ...] = ()
    ) -> tuple[pd.DataFrame, str]:
        """The reader's comparison and its footnote (``comparison.md``): short headers ("aupr",
        "aupr Δ"), ✱ where the interval excludes 0, the conventions (seeds, interval, scorer,
        aggregation) and any streamed error bound above 1e-3 said once in the footnote."""
        return self._comparison(scorer, metrics)[1:]

    def _comparison(
        self, scorer: str, metrics: tuple[str, ...]
    ) -> tuple[pd.DataFrame, pd.DataFrame, str]:
        long = self.long_table()
        summary = self.summary(long=long)
        labels = metrics or tuple(self.headline(scorer))
        if not len(summary):
            self._write_md("comparison", pd.DataFrame(), "no runs paired with the baseline yet")
            return pd.DataFrame(), pd.DataFrame(), "no runs paired with the baseline yet"
        present = present_labels(summary, labels)
        full = comparison.format_table(summary, present)
        short, note = reader_table(
            summary, present, baseline=self.baseline, n_seeds=len(self.study.seeds)
        )
        bounds = error_bounds(long)
        bounds = bounds[
            [
                comparison.metric_label(m, sc, a) in labels
                for m, sc, a in bounds[["metric", "scorer", "aggregation"]].itertuples(index=False)
            ]
        ]
        if len(bounds):  # said under the table wherever it is displayed (table.attrs["note"])
            full.attrs["note"] = "Streamed error bounds above 1e-3 (largest over the seeds): " + (
                "; ".join(
                    f"{r.variant} {short_label(comparison.metric_label(r.metric, r.scorer, r.aggregation))}"
                    f" ±{r.bound:.4f}"
                    for r in bounds.itertuples()
                )
                + "."
            )
            note += " " + full.attrs["note"]
        self._write_md("comparison", short, note, csv=full)
        return full, short, note

    def headline(self, scorer: str = "fused") -> list[str]:
        return [h.format(s=scorer) for h in HEADLINE]

    def verdict(self) -> str:
        """The closing sentence: the pre-registered question's verdict on the fresh seeds (or
        why it waits), generated from the runs (:func:`owslib.study.answers.notebook_verdict`)."""
        return notebook_verdict(self.study, self.results_dir, self.name)

    def findings(self, scorer: str = "fused") -> str:
        """The comparison in sentences, from the numbers (see :func:`findings`)."""
        long = self.long_table()
        if self.baseline not in set(long["variant"]):
            return "no baseline runs yet"
        summary = comparison.summarise(long, baseline=self.baseline)
        return findings(summary, self.baseline, self.headline(scorer))

    def head_to_head(self, scorer: str = "fused") -> tuple[pd.DataFrame, str, str]:
        """The notebook's ``contrast`` (a, b) compared directly, paired by seed (Δ = a − b):
        ``(table, its footnote, the findings in sentences)``, each Δ with the SD of its paired
        differences; the table is also written as ``contrast.md``."""
        if not self.spec.contrast:
            return pd.DataFrame(), "", "no contrast declared for this notebook in the study file"
        a, b = self.spec.contrast
        long = self.long_table()
        if not {a, b} <= set(long["variant"]):
            return pd.DataFrame(), "", f"no runs of both {a} and {b} yet"
        labels = self.headline(scorer)
        summary, text = contrast_findings(long, a, b, labels)
        table, note = reader_table(
            summary, present_labels(summary, labels), baseline=b, n_seeds=len(self.study.seeds)
        )
        self._write_md("contrast", table, note)
        return table, note, text


def answers(
    results_dir: str | Path = "results",
    profile: str | None = None,
    study_file: str | Path = STUDY_FILE,
) -> dict[str, Any]:
    """What 06_summary opens with: the table of answers with short cells (``first_screen``, as
    the README's), the confirmatory table and one sentence per question, the forest plot (None
    until a question is analysed; saved as ``forest.png``/``.svg`` beside the tables), the power table from the screening in
    ``results_dir``, and the screening's comparisons with BH q-values (exploratory). The tables
    are written to ``<results>/summary/<profile>/`` as ``confirmatory.csv``,
    ``confirmatory_pairs.csv`` (the tests' data: each question's pairs seed by seed),
    ``power.csv`` and ``exploratory.csv`` (their paths: ``files``)."""
    study, results = load_study(resolve(study_file), profile=profile), resolve(results_dir)
    table = confirmatory_answers(study, results)
    pairs = pd.DataFrame(table.attrs.get("pairs", []), columns=PAIR_COLUMNS)
    forest = forest_figure(table, {nb: g["diff"].tolist() for nb, g in pairs.groupby("notebook")})
    folder = results / "summary" / study.profile
    folder.mkdir(parents=True, exist_ok=True)
    if forest is not None:  # shown where the notebook says (show_figure), not also by the backend
        save_figure(forest, folder / "forest", formats=("png", "svg"))
        plt.close(forest)
    page = results / "06_summary" / study.profile  # the rendered summary's folder: its links
    out = {
        "table": table,
        "sentences": answer_sentences(table),
        "forest": forest,
        "first_screen": answers_markdown(study, results, link_from=page)
        if study.confirmatory is not None
        else "The study file declares no confirmatory question: no answers to give.",
        "pairs": pairs,
        "power": power_now(study, results),
        "exploratory": screening_exploratory(study, results),
    }
    out["files"] = {
        k: folder / f"{n}.csv"
        for k, n in (
            ("table", "confirmatory"),
            ("pairs", "confirmatory_pairs"),
            ("power", "power"),
            ("exploratory", "exploratory"),
        )
    }
    for key, path in out["files"].items():
        atomic_write_text(path, out[key].to_csv(index=False))
    return out
