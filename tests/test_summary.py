"""The comparison protocol: sample statistics, paired differences, choosing on validation data,
grid edges, baselines from other folders, and the `--lrs` grid end to end on tiny budgets."""

import json
import math

import numpy as np
import pytest

from onecycle.experiments import folders, report, stats, summary
from onecycle.experiments.cli import main

TINY = ["--epochs", "2", "--seeds", "2", "--subset", "160", "--num-steps", "20", "--verbose", "0"]


def _run(arm, lr, seed, vals, test, epochs=None):
    return {
        "arm": arm,
        "lr": lr,
        "seed": seed,
        "planned_epochs": epochs or len(vals),
        "folder": None,
        "epochs": [{"val_metric": v, "wall_time": float(i)} for i, v in enumerate(vals)],
        "test_metric": test,
        "diverged_step": None,
    }


def test_mean_std_is_the_sample_std():
    mean, std = stats.mean_std([1.0, 2.0, 4.0])
    assert mean == pytest.approx(7 / 3) and std == pytest.approx(np.std([1, 2, 4], ddof=1))
    assert stats.mean_std([3.0]) == (3.0, None)
    assert stats.mean_std([None, math.nan]) == (None, None)


@pytest.mark.parametrize(
    "a,b,metric,verdict",
    [
        ({0: 0.90, 1: 0.91, 2: 0.92}, {0: 0.89, 1: 0.90, 2: 0.905}, "accuracy", "beats"),
        ({0: 0.90, 1: 0.91, 2: 0.92}, {0: 0.91, 1: 0.89, 2: 0.925}, "accuracy", "tie"),
        ({0: 4.0, 1: 4.1, 2: 4.2}, {0: 3.5, 1: 3.6, 2: 3.6}, "rmse", "loses"),
        ({0: 3.0, 1: 3.1, 2: 3.2}, {0: 3.5, 1: 3.6, 2: 3.8}, "rmse", "beats"),
        ({0: 0.9}, {0: 0.8}, "accuracy", "n/a"),
    ],
)
def test_paired_verdicts(a, b, metric, verdict):
    pair = stats.paired(a, b, metric)
    assert pair.verdict == verdict
    if verdict != "n/a":
        diffs = np.array([a[s] - b[s] for s in sorted(a)])
        assert pair.mean == pytest.approx(diffs.mean())
        assert pair.se == pytest.approx(diffs.std(ddof=1) / math.sqrt(len(diffs)))


def test_paired_uses_only_shared_finite_seeds():
    pair = stats.paired({0: 1.0, 1: 2.0, 2: None, 3: 5.0}, {0: 0.5, 1: 1.0, 2: 1.0}, "accuracy")
    assert pair.seeds == [0, 1]


def test_best_constant_is_chosen_on_validation_not_test_and_edges_are_flagged():
    runs = []
    for seed in (0, 1):
        runs += [
            _run("constant", 0.001, seed, [0.70, 0.80], test=0.99),  # best test, worst validation
            _run("constant", 0.01, seed, [0.80, 0.90], test=0.80),
            _run("constant", 0.1, seed, [0.60, 0.85], test=0.80),
            _run("cosine", 0.01, seed, [0.80, 0.88], test=0.80),
            _run("cosine", 0.1, seed, [0.80, 0.89], test=0.80),
        ]
    table = summary.summarize(runs, "accuracy")
    chosen = {c["family"]: c for c in table["chosen"]}
    assert chosen["constant"]["lr"] == 0.01 and not chosen["constant"]["at_edge"]
    assert chosen["cosine"]["lr"] == 0.1 and chosen["cosine"]["at_edge"]
    assert table["baseline"]["arm"] == "constant@0.01"


def test_epochs_to_baseline_are_per_seed():
    runs = [
        _run("constant", 0.01, 0, [0.5, 0.8, 0.7], 0.8),
        _run("constant", 0.01, 1, [0.5, 0.6, 0.9], 0.8),
        _run("onecycle", 0.1, 0, [0.85, 0.9], 0.9, epochs=2),
        _run("onecycle", 0.1, 1, [0.7, 0.95], 0.9, epochs=2),
    ]
    table = summary.summarize(runs, "accuracy")
    rows = {r["arm"]: r for r in table["rows"]}
    assert rows["onecycle"]["epochs_to_baseline_best"] == pytest.approx(1.5)  # seed 0 at epoch 1, seed 1 at 2
    assert rows["constant"]["epochs_to_baseline_best"] == pytest.approx(2.5)
    (test_pair,) = [c for c in table["comparisons"] if c["value"] == "test"]
    assert test_pair["against"] == "constant" and test_pair["mean"] == pytest.approx(0.1)


def test_grid_then_report_with_a_baseline_folder(tmp_path, capsys):
    grid = tmp_path / "grid"
    assert (
        main(
            [
                "compare",
                "digits",
                *TINY,
                "--arms",
                "constant,cosine",
                "--lrs",
                "0.003,0.03,0.3",
                "--grid-seeds",
                "2",
                "--out",
                str(grid),
            ]
        )
        == 0
    )
    results = json.loads((grid / "results.json").read_text())
    assert results["finder"] is None  # the grid needs no range test
    assert sorted({(r["arm"], r["lr"]) for r in results["runs"]}) == [
        (a, lr) for a in ("constant", "cosine") for lr in (0.003, 0.03, 0.3)
    ]
    assert {row["arm"] for row in results["summary"]} == {
        f"{a}@{lr}" for a in ("constant", "cosine") for lr in (0.003, 0.03, 0.3)
    }
    for row in results["summary"]:
        assert {"arm", "seeds", "test_mean", "test_std", "best_val_mean"} <= set(row) and row["seeds"] == 2

    product = tmp_path / "product"
    assert (
        main(
            [
                "compare",
                "digits",
                *TINY,
                "--arms",
                "onecycle",
                "--baselines",
                str(grid),
                "--out",
                str(product),
            ]
        )
        == 0
    )
    results = json.loads((product / "results.json").read_text())
    selection = results["selection"]
    assert {c["family"] for c in selection["chosen"]} == {"constant", "cosine"}
    assert {c["against"] for c in selection["comparisons"]} == {c["arm"] for c in selection["chosen"]}
    assert all(len(c["seeds"]) == 2 for c in selection["comparisons"])
    text = (product / "report.md").read_text()
    assert "## Paired comparisons" in text and "## Baselines chosen on validation data" in text

    # the report is rebuilt from results.json alone, the baseline folder included
    (product / "report.md").unlink()
    assert main(["report", str(product)]) == 0
    assert (product / "report.md").read_text() == text
    capsys.readouterr()

    # generated blocks in markdown: written, then checked
    doc = tmp_path / "doc.md"
    doc.write_text(
        f"intro\n<!-- generated: verdicts {product} -->\nstale\n<!-- end generated -->\n"
        f"<!-- generated: headline {product} -->\n<!-- end generated -->\nend\n"
    )
    import doc_tables

    assert doc_tables.main([str(doc), "--check"]) == 1 and "stale" in doc.read_text()
    assert doc_tables.main([str(doc)]) == 0
    written = doc.read_text()
    assert "stale" not in written and written.startswith("intro\n") and written.endswith("end\n")
    assert "`onecycle`" in written and any(
        v in written for v in ("**beats**", "**ties with**", "**loses to**")
    )
    assert doc_tables.main([str(doc), "--check"]) == 0
    doc.write_text("<!-- generated: nonsense x -->\n<!-- end generated -->\n")
    assert doc_tables.main([str(doc)]) == 2
    capsys.readouterr()


def test_resume_with_more_seeds_adds_only_the_new_seeds(tmp_path, capsys):
    out = tmp_path / "t"
    args = [
        "train",
        "digits",
        "--schedule",
        "constant",
        "--max-lr",
        "0.05",
        "--epochs",
        "1",
        "--subset",
        "120",
        "--verbose",
        "0",
    ]
    assert main([*args, "--out", str(out)]) == 0
    first = json.loads((out / "results.json").read_text())["runs"]
    assert main(["train", "--resume", str(out), "--seeds", "2"]) == 0
    runs = json.loads((out / "results.json").read_text())["runs"]
    assert [r["seed"] for r in runs] == [0, 1] and runs[0] == first[0]
    capsys.readouterr()


@pytest.mark.parametrize(
    "argv,expected",
    [
        (["--lrs", "0.1,abc"], "--lrs"),
        (["--lrs", "0.1,-1"], "--lrs"),
        (["--lrs", "0.1,0.1"], "--lrs"),
        (["--baselines", "/nonexistent/run"], "--baselines"),
    ],
)
def test_bad_grid_options(tmp_path, capsys, argv, expected):
    code = main(["compare", "digits", *argv, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and expected in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_auto_grid_is_centred_on_the_suggestion(tmp_path, capsys):
    out = tmp_path / "auto"
    assert (
        main(
            [
                "compare",
                "digits",
                "--epochs",
                "1",
                "--seeds",
                "1",
                "--subset",
                "120",
                "--num-steps",
                "20",
                "--verbose",
                "0",
                "--arms",
                "constant,onecycle",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    results = json.loads((out / "results.json").read_text())
    suggestion = results["max_lr"]
    constant = sorted(r["lr"] for r in results["runs"] if r["arm"] == "constant")
    np.testing.assert_allclose(constant, suggestion * 10 ** np.arange(-2.0, 0.75, 0.5))
    (product,) = [r for r in results["runs"] if r["arm"] == "onecycle"]
    assert product["lr"] == 0.0 and product["peak_lr"] > 0  # fit_one_cycle's own range test picks its peak
    capsys.readouterr()


def test_a_seed_run_in_two_folders_counts_once(tmp_path):

    grid = {
        "dataset": {"name": "digits", "metric": "accuracy"},
        "max_lr": None,
        "runs": [_run("constant", 0.01, 0, [0.5, 0.6], 0.6)],
    }
    chosen = {
        "dataset": {"name": "digits", "metric": "accuracy"},
        "max_lr": 0.01,
        "baselines": ["../grid"],
        "runs": [_run("constant", 0.01, s, [0.5, 0.7], 0.7) for s in (0, 1, 2)],
    }
    for name, record in (("grid", grid), ("chosen", chosen)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(record))
        (tmp_path / name / "config.json").write_text(json.dumps({"optimizer": "sgd"}))
    runs = folders.all_runs(str(tmp_path / "chosen"), {"optimizer": "sgd"}, chosen)
    assert sorted(r["seed"] for r in runs) == [0, 1, 2]


def test_a_baseline_folder_never_fills_in_the_seeds_of_a_group_the_folder_runs(tmp_path):
    """A product rerun (seed 0 of 3 so far) against a folder whose own product ran 3 seeds: the
    report shows seed 0 of the rerun only, never the older product's seeds 1 and 2."""
    older = {
        "dataset": {"name": "digits", "metric": "accuracy"},
        "max_lr": None,
        "runs": [_run("onecycle", 0.0, s, [0.5, 0.6], 0.6) for s in (0, 1, 2)]
        + [_run("constant", 0.01, s, [0.5, 0.55], 0.55) for s in (0, 1, 2)],
    }
    rerun = {
        "dataset": {"name": "digits", "metric": "accuracy"},
        "max_lr": None,
        "baselines": ["../older"],
        "runs": [_run("onecycle", 0.0, 0, [0.5, 0.7], 0.7)],
    }
    for name, record in (("older", older), ("rerun", rerun)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(record))
        (tmp_path / name / "config.json").write_text(json.dumps({"optimizer": "sgd"}))
    runs = folders.all_runs(str(tmp_path / "rerun"), {"optimizer": "sgd"}, rerun)
    product = [r for r in runs if r["arm"] == "onecycle"]
    assert [(r["seed"], r["test_metric"]) for r in product] == [(0, 0.7)]
    assert sorted(r["seed"] for r in runs if r["arm"] == "constant") == [0, 1, 2]  # the arms still join


def _recipe_record(dataset, metric, reference, effects):
    rows = [{"variant": reference, "vs_reference": None}]
    for name, (mean, se) in effects.items():
        gain = mean if metric == "accuracy" else -mean
        verdict = "beats" if gain > 2 * se else "loses" if gain < -2 * se else "tie"
        effect = {"mean": mean, "se": se, "std": se, "gain": gain, "verdict": verdict}
        rows.append({"variant": name, "vs_reference": effect})
    return {"setup": {"dataset": dataset}, "metric": metric, "reference": reference, "rows": rows}


def test_recipe_table_puts_each_choice_against_each_task(tmp_path):
    import doc_tables as docs

    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(_recipe_record("digits", "accuracy", "article", {"cosine": (0.01, 0.002)})))
    b.write_text(
        json.dumps(_recipe_record("boston", "rmse", "article", {"cosine": (0.3, 0.1), "wd": (-0.1, 0.2)}))
    )
    lines = docs.render(f"recipe {a} {b}").splitlines()
    assert lines[0] == "| choice | digits (accuracy, vs `article`) | boston (rmse, vs `article`) |"
    assert lines[2] == "| `article` | reference | reference |"
    assert lines[3] == "| `cosine` | +1.00 pts (se 0.20): beats | +0.300 (se 0.100): loses |"
    assert lines[4] == "| `wd` | not run | -0.100 (se 0.200): tie |"
    assert lines[-1] == "Beat the reference on at least one task and lose on none: none."
    b.write_text(json.dumps(_recipe_record("boston", "rmse", "article", {"cosine": (-0.3, 0.1)})))
    assert docs.render(f"recipe {a} {b}").splitlines()[-1].endswith("lose on none: `cosine`.")


def test_recipe_goals_need_a_tie_with_cosine_and_a_win_over_keras(tmp_path):
    import doc_tables as docs

    def versus(gain, se):
        verdict = "beats" if gain > 2 * se else "loses" if gain < -2 * se else "tie"
        return {"mean": gain, "se": se, "std": se, "gain": gain, "verdict": verdict}

    record = {
        "setup": {"dataset": "digits"},
        "metric": "accuracy",
        "reference": "defaults",
        "rows": [
            {
                "variant": "defaults",
                "final_val": [0.99, 0.002],
                "vs_baselines": {"cosine@0.1": versus(-0.001, 0.002), "keras-default": versus(0.01, 0.002)},
            }
        ],
    }
    path = tmp_path / "r.json"
    path.write_text(json.dumps(record))
    assert docs.render(f"recipe_goals {path}").splitlines()[-1].endswith("| met | met |")
    record["rows"][0]["vs_baselines"]["keras-default"] = versus(0.001, 0.002)
    path.write_text(json.dumps(record))
    assert docs.render(f"recipe_goals {path}").splitlines()[-1].endswith("| met | **missed** |")
    record["rows"][0]["vs_baselines"] = {}
    path.write_text(json.dumps(record))
    with pytest.raises(docs.DocsError, match="holds no baselines"):
        docs.render(f"recipe_goals {path}")


def test_paired_figures_by_hand_and_a_tie_at_exactly_two_standard_errors():
    # differences 1 and 3: mean 2, sample std sqrt(2), standard error 1 -> the gain is exactly 2 SE
    pair = stats.paired({0: 1.0, 1: 3.0}, {0: 0.0, 1: 0.0}, "accuracy")
    assert (pair.mean, pair.std, pair.se, pair.gain) == (2.0, pytest.approx(2**0.5), 1.0, 2.0)
    assert pair.verdict == "tie"
    assert stats.paired({0: 0.0, 1: 0.0}, {0: 1.0, 1: 3.0}, "accuracy").verdict == "tie"
    lower = stats.paired({0: 1.0, 1: 3.0}, {0: 0.0, 1: 0.0}, "rmse")  # lower is better: a gain of -2
    assert lower.gain == -2.0 and lower.verdict == "tie"
    assert stats.paired({0: 1.01, 1: 3.01}, {0: 0.0, 1: 0.0}, "rmse").verdict == "loses"
    assert stats.paired({0: 1.01, 1: 3.01}, {0: 0.0, 1: 0.0}, "accuracy").verdict == "beats"
    assert stats.higher_is_better("accuracy") and not stats.higher_is_better("rmse")
    single = stats.paired({0: 0.9}, {0: 0.8}, "accuracy")
    assert single.seeds == [0] and single.mean == pytest.approx(0.1) and math.isnan(single.se)
    assert single.verdict == "n/a"
    assert math.isnan(single.std) and single.gain == pytest.approx(0.1)
    empty = stats.paired({}, {0: 0.8}, "accuracy")
    assert empty.seeds == [] and math.isnan(empty.mean) and empty.verdict == "n/a"
    assert math.isnan(empty.std) and math.isnan(empty.se) and math.isnan(empty.gain)


@pytest.mark.parametrize(
    "arms, expected",
    [
        (("onecycle",), "- Only `onecycle` ran, no arm to pair it with: no paired verdicts."),
        (("constant",), "- No `onecycle` arm ran: no paired verdicts."),
    ],
)
def test_the_answer_says_why_there_is_no_verdict(arms, expected):
    runs = [_run(arm, 0.1, seed, [0.7, 0.8], 0.8) for arm in arms for seed in (0, 1)]
    table = summary.summarize(runs, "accuracy")
    assert not table["comparisons"] and report.answer(table)[-1] == expected
