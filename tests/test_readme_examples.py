"""The README's examples run as written: each fenced block that follows a ``<!-- tested: NAME -->``
comment is extracted verbatim and executed (Python with ``exec``, the study-file variant through
``load_study`` and ``study --dry-run`` on a copy of the study file). A registration an example makes
is undone afterwards, so other tests see owslib's registries as they were."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
import tempfile
from pathlib import Path

import pytest
import torch

from owslib.inference.scorers import SCORER_REGISTRY, available_scorers
from owslib.losses import TERMS
from owslib.models import EXTRA_DECODERS
from owslib.paths import STUDY_FILE

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MARK = re.compile(r"^<!--\s*tested:\s*([\w-]+)\s*-->\s*$")
EXPECTED = ("usage", "decoder", "term", "scorer", "variant", "variant-runs")


def marked_blocks(markdown: str) -> dict[str, tuple[str, str]]:
    """``{name: (language, code)}`` of the fenced blocks right after a ``tested`` comment."""
    lines, blocks, i = markdown.splitlines(), {}, 0
    while i < len(lines):
        mark = MARK.match(lines[i].strip())
        i += 1
        if not mark:
            continue
        while i < len(lines) and not lines[i].strip():
            i += 1
        if i == len(lines) or not lines[i].startswith("```"):
            raise ValueError(
                f"README: <!-- tested: {mark[1]} --> is not followed by a fenced block"
            )
        lang, body, i = lines[i][3:].strip(), [], i + 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        if mark[1] in blocks:
            raise ValueError(f"README: two blocks are tested as {mark[1]!r}")
        blocks[mark[1]] = (lang, "\n".join(body) + "\n")
        i += 1
    return blocks


BLOCKS = marked_blocks(README.read_text())


def run_block(name: str, namespace: dict) -> str:
    """Execute the README's Python block ``name`` in ``namespace``; what it printed."""
    lang, code = BLOCKS[name]
    assert lang == "python", f"block {name!r} is {lang!r}, not python"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"README.md <{name}>", "exec"), namespace)
    return out.getvalue()


@pytest.fixture()
def sandbox(tmp_path, monkeypatch):
    """A working folder, cache and temp folder of the test's own; the registries restored after."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OWSLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("OWSLIB_SHIPPED_ENCODERS", str(tmp_path / "shipped"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    saved = [(r, dict(r)) for r in (TERMS, SCORER_REGISTRY, EXTRA_DECODERS)]
    yield tmp_path
    for registry, before in saved:
        registry.clear()
        registry.update(before)


def test_the_readme_marks_every_example():
    assert set(EXPECTED) <= set(BLOCKS), f"tested blocks: {sorted(BLOCKS)}"


def test_the_extraction_reads_marked_blocks_only():
    markdown = "\n".join(
        [
            "```python",
            "not_tested = 1",
            "```",
            "<!-- tested: a -->",
            "",
            "```python",
            "x = 1",
            "",
            "y = 2",
            "```",
            "<!-- tested: b -->",
            "```json",
            "{}",
            "```",
        ]
    )
    assert marked_blocks(markdown) == {"a": ("python", "x = 1\n\ny = 2\n"), "b": ("json", "{}\n")}
    with pytest.raises(ValueError, match="not followed"):
        marked_blocks("<!-- tested: c -->\nprose\n")


@pytest.mark.slow
def test_usage_example_trains_and_evaluates(sandbox):
    printed = run_block("usage", {"__name__": "readme_usage"})
    m = re.fullmatch(r"mIoU (\d\.\d{3})  AUROC (\d\.\d{3})  AUPR (\d\.\d{3})\n", printed)
    assert m, printed
    assert all(0.0 <= float(v) <= 1.0 for v in m.groups())
    left = [p.name for p in (sandbox / "tmp").iterdir() if p.name.startswith("tmp")]
    assert not left  # the example cleans up its temporary folder (torch keeps caches beside it)


def test_extending_examples_decoder_term_scorer(sandbox):
    ns: dict = {"__name__": "readme_extending"}
    before = {id(r): set(r) for r in (TERMS, SCORER_REGISTRY, EXTRA_DECODERS)}

    def added(registry: dict) -> set[str]:
        return set(registry) - before[id(registry)]

    printed = run_block("decoder", ns)
    assert added(EXTRA_DECODERS) == {"void_head"}
    model = ns["model"]
    assert "void_logit" in model.output_keys and "(2, 1, 64, 128)" in printed

    run_block("term", ns)
    losses, weights = ns["losses"], ns["objective"].weights
    assert added(TERMS) == {"void_bce"} and weights["void_bce"] == 0.2
    assert losses["void_bce"].item() > 0
    total = sum(w * losses[name] for name, w in weights.items())
    assert torch.allclose(losses["loss"].detach(), total.detach(), rtol=1e-5, atol=1e-6)
    grad = model.extra_head.conv.weight.grad
    assert grad is not None and grad.abs().sum() > 0  # the term reached the new decoder

    printed = run_block("scorer", ns)
    assert added(SCORER_REGISTRY) == {"void_prob"}
    assert "void_prob" in available_scorers(model.output_keys)
    maps = ns["maps"]
    assert list(maps) == ["max_logit", "void_prob"]
    assert all(tuple(m.shape) == (2, 64, 128) for m in maps.values())
    assert (
        0.0
        <= float(maps["void_prob"].detach().min())
        <= float(maps["void_prob"].detach().max())
        <= 1.0
    )
    assert "(2, 64, 128)" in printed


def test_registrations_are_undone_after_each_test():
    assert "void_head" not in EXTRA_DECODERS
    assert "void_bce" not in TERMS
    assert "void_prob" not in SCORER_REGISTRY


def test_study_file_variant_validates_and_is_listed(sandbox):
    from owslib.__main__ import main
    from owslib.study.studyfile import load_study

    lang, snippet = BLOCKS["variant"]
    assert lang == "json"
    entries = json.loads(snippet)
    (name,) = entries  # one variant
    shell, command = BLOCKS["variant-runs"]
    assert shell == "bash"
    argv = shlex.split(command, comments=True)
    assert argv[:4] == ["python", "-m", "owslib", "study"] and "--dry-run" in argv
    notebook = argv[argv.index("--only") + 1]

    study = json.loads(STUDY_FILE.read_text())
    assert name not in study["variants"], f"{name} is in the study file already: pick another name"
    study["variants"] |= entries
    (nb,) = [n for n in study["notebooks"] if n["name"] == notebook]
    nb["variants"].append(name)
    copy = sandbox / "study.json"
    copy.write_text(json.dumps(study, indent=2))

    loaded = load_study(copy)
    assert loaded.variants[name].overrides == entries[name]["overrides"]
    assert name in loaded.notebook(notebook).variants
    assert loaded.config(name, 0).to_flat()["loss__focal_gamma"] == 1.0

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main([*argv[3:], "--study", str(copy), "--results", str(ROOT / "results")])
    assert code in (0, None), out.getvalue()
    rows = [line.split("\t") for line in out.getvalue().splitlines() if f"\t{name}\t" in line]
    assert [r[2] for r in rows] == [f"seed {s}" for s in loaded.seeds]
    assert all(r[3] == "missing" for r in rows), rows

    broken = json.loads(copy.read_text())
    broken["variants"][name]["overrides"]["loss__focal_gama"] = 1.0  # a typo must not pass
    copy.write_text(json.dumps(broken))
    with pytest.raises(ValueError, match="loss__focal_gama"):
        load_study(copy)


def test_the_confirmation_is_re_derived_from_its_pairs_by_scipy(monkeypatch):
    """docs/confirmatory.md's block recomputes, with scipy alone, from the committed
    ``confirmatory_pairs.csv``, each analysed question's seeds, mean, paired-t p, TOST p and Holm p
    as the committed ``confirmatory.csv`` gives them; and the pairs are the committed runs'."""
    lang, code = marked_blocks((ROOT / "docs" / "confirmatory.md").read_text())["rederive"]
    assert lang == "python"
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, "docs/confirmatory.md <rederive>", "exec"), namespace)
    check, answers = namespace["check"], namespace["answers"]
    analysed = answers.index[answers["status"].isin(["analysed", "holm_waits"])]
    assert len(analysed) >= 1 and sorted(check.index) == sorted(analysed)
    for nb in analysed:
        assert check.loc[nb, "n"] == answers.loc[nb, "n_pairs"]
        for col in ("mean", "p", "p_tost", "p_holm"):
            assert check.loc[nb, col] == pytest.approx(answers.loc[nb, col], rel=1e-9, abs=1e-15)
    # each pair's values are its two runs' endpoint, read from their run folders
    from owslib.study.answers import runs_long
    from owslib.study.studyfile import load_study

    study = load_study(STUDY_FILE, profile="quick")
    pairs = namespace["pairs"]
    for (arm, comparator, endpoint), g in pairs.groupby(["arm", "comparator", "endpoint"]):
        metric, *rest = endpoint.split("/")
        long = runs_long(study, ROOT / "results", (arm, comparator), tuple(g["seed"]))
        long = long[long["metric"] == metric]
        if rest:
            long = long[(long["scorer"] == rest[0]) & (long["aggregation"] == rest[1])]
        value = long.set_index(["variant", "seed"])["value"]
        assert list(value[[(arm, s) for s in g["seed"]]]) == list(g["arm_value"])
        assert list(value[[(comparator, s) for s in g["seed"]]]) == list(g["comparator_value"])
