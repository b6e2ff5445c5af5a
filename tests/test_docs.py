"""The generated-docs kinds on hand-made run folders and benchmark files: each figure and verdict
they write is checked against a computation done here by hand."""

import json

import pytest

import doc_tables as docs

pytestmark = pytest.mark.backend_independent


def _run(arm, lr, seed, vals, test):
    return {
        "arm": arm,
        "lr": lr,
        "seed": seed,
        "planned_epochs": len(vals),
        "epochs": [
            {"epoch": i + 1, "val_metric": v, "wall_time": 10.0 * (i + 1)} for i, v in enumerate(vals)
        ],
        "test_metric": test,
        "diverged_step": None,
    }


@pytest.fixture
def folder(tmp_path):
    """Constant at three rates (0.1 best on validation), cosine at one, onecycle; seeds 0 and 1."""
    runs = []
    for seed, shift in ((0, 0.0), (1, 0.01)):
        runs += [
            _run("constant", 0.01, seed, [0.50, 0.60, 0.62], 0.60 + shift),
            _run("constant", 0.1, seed, [0.70, 0.80, 0.78 + shift], 0.79 + shift),
            _run("constant", 1.0, seed, [0.40, 0.50, 0.55], 0.50 + shift),
            _run("cosine", 0.1, seed, [0.70, 0.82, 0.84], 0.83 + shift),
            _run("onecycle", 0.5, seed, [0.75, 0.85, 0.90 + shift], 0.88 + 2 * shift),
        ]
    results = {
        "dataset": {
            "name": "toy",
            "source": "hand-made",
            "metric": "accuracy",
            "train": 10,
            "val": 5,
            "test": 5,
        },
        "max_lr": 0.5,
        "baselines": [],
        "runs": runs,
    }
    path = tmp_path / "run"
    path.mkdir()
    (path / "results.json").write_text(json.dumps(results))
    (path / "config.json").write_text(json.dumps({"optimizer": "sgd", "method": "minimum"}))
    return str(path)


def test_verdicts_give_the_paired_test_differences(folder):
    lines = docs.render(f"verdicts {folder}").splitlines()
    constant = next(line for line in lines if "`constant@0.1`" in line)
    # onecycle - constant@0.1 on test: seed 0 0.88 - 0.79 = 0.09, seed 1 0.90 - 0.80 = 0.10
    # mean 9.5 points, std 0.707 points, standard error 0.5 points: beats (9.5 > 1.0)
    assert "**beats**" in constant and "+9.50 points" in constant and "std 0.71" in constant
    assert "standard error 0.50" in constant and "2 seeds" in constant
    cosine = next(line for line in lines if "`cosine`" in line)
    # 0.88 - 0.83 = 0.05 and 0.90 - 0.84 = 0.06: mean 5.5, se 0.5
    assert "**beats**" in cosine and "+5.50 points" in cosine


def test_goal_and_epochs_read_the_rows(folder):
    # onecycle's test accuracy: 0.88 and 0.90, mean 89.00, std 1.41, standard error 1.00
    assert "**met**" in docs.render(f"goal {folder} onecycle test > 0.869")
    assert "two standard errors**" in docs.render(f"goal {folder} onecycle test > 0.871")
    assert "two standard errors**" in docs.render(f"goal {folder} onecycle test > 0.885")
    assert "**missed**" in docs.render(f"goal {folder} onecycle test > 0.895")
    assert "**met**" in docs.render(f"goal {folder} onecycle test < 0.911")
    assert "**missed**" in docs.render(f"goal {folder} onecycle test < 0.885")
    with pytest.raises(docs.DocsError, match="must be < or >. Received: '>='"):
        docs.render(f"goal {folder} onecycle test >= 0.85")
    # a marker may hold ">": the block is rewritten, not left empty
    text = docs.regenerate(
        f"<!-- generated: goal {folder} onecycle test > 0.865 -->\nold\n<!-- end generated -->\n"
    )
    assert "89.00 ± 1.41 over 2 seeds; goal (> 86.50) **met**." in text and "old" not in text
    with pytest.raises(docs.DocsError, match="1 of 1 'generated' markers"):
        docs.regenerate(f"<!-- generated: goal {folder} onecycle test > 0.885 -->\nold\n")
    claim = docs.render(f"epochs {folder}")
    # the best constant (0.1) peaks at epoch 2 on seed 0 (0.80) and at 2 on seed 1 (0.80 vs 0.79):
    # mean 2.0; onecycle first reaches 0.80 at epoch 2 on both seeds: a ratio of 1.00, goal missed
    assert "epoch 2.0" in claim and "1.00 of the constant rate's epochs" in claim and "**missed**" in claim


def test_margin_goal_needs_the_gain_beyond_two_standard_errors(folder):
    # onecycle - constant@0.1 on test: +9.50 points, se 0.50 (see above)
    met = docs.render(f"margin {folder} constant 0.08")  # 9.5 - 2 * 0.5 = 8.5 >= 8
    assert "+9.50 points" in met and "standard error 0.50" in met and "**met**" in met
    assert "**not shown beyond two standard errors**" in docs.render(f"margin {folder} constant 0.09")
    assert "**missed**" in docs.render(f"margin {folder} constant 0.096")
    # against cosine: +5.50, se 0.50
    assert "**met**" in docs.render(f"margin {folder} cosine 0.045")
    with pytest.raises(docs.DocsError, match="no paired test comparison of onecycle with a wsd arm"):
        docs.render(f"margin {folder} wsd 0.05")


def test_across_pairs_one_arm_of_two_folders_on_best_validation(folder, tmp_path):
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    # the other folder's onecycle: best val 0.86 (seed 0) and 0.89 (seed 1), against 0.90 and 0.91
    for run in results["runs"]:
        if run["arm"] == "onecycle":
            run["epochs"][2]["val_metric"] -= 0.04 if run["seed"] == 0 else 0.02
    other = tmp_path / "other"
    other.mkdir()
    (other / "results.json").write_text(json.dumps(results))
    (other / "config.json").write_text(json.dumps({"optimizer": "adam"}))
    line = docs.render(f"across {folder} {other} onecycle")
    # differences 0.04 and 0.02: mean +3.00 points, std 1.41, se 1.00: beats (3.0 > 2.0)
    assert "**beats**" in line and "+3.00 over 2 seeds" in line and "std 1.41" in line
    assert "standard error 1.00" in line and "90.50 ± 0.71 against 87.50 ± 2.12" in line
    # reversed, the same difference with the other sign
    assert "**loses to**" in docs.render(f"across {other} {folder} onecycle")
    with pytest.raises(docs.DocsError, match="has no arm 'wsd'"):
        docs.render(f"across {folder} {other} wsd")


def test_no_loses_goal(folder, tmp_path):
    # onecycle beats constant@0.1 (+9.50) and cosine (+5.50): met when only those are asked for
    line = docs.render(f"no_loses {folder} constant cosine")
    assert "`constant@0.1`: beats (+9.50, se 0.50)" in line and line.endswith("goal (no loses) **met**.")
    assert "wsd: not run" in docs.render(f"no_loses {folder} cosine wsd")
    assert "**not judged yet** (wsd still running)" in docs.render(f"no_loses {folder} cosine wsd")
    # a cosine that is better on test by 2 points on both seeds (and chosen on validation): loses
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    for run in results["runs"]:
        if run["arm"] == "cosine":
            run["test_metric"] += 0.07 + (0.01 if run["seed"] == 1 else 0.0)
    (tmp_path / "run" / "results.json").write_text(json.dumps(results))
    line = docs.render(f"no_loses {folder} constant cosine")
    # onecycle - cosine: 0.88 - 0.90 and 0.90 - 0.92: -2.00 points, se 0.00
    assert "`cosine`: loses (-2.00" in line and "**missed** (loses to `cosine`)" in line


def test_headline_cells(folder):
    row = docs.render(f"headline {folder}").splitlines()[-1]
    assert "89.00 ± 1.41" in row  # onecycle's test: 0.88, 0.90
    assert "79.50 ± 0.71 (constant@0.1, 3 epochs, 2 seeds)" in row
    assert "beats vs constant@0.1; beats vs cosine" in row


def test_arms_table_gives_each_familys_paired_verdict(folder, tmp_path):
    table = docs.render(f"arms {folder}", where=str(tmp_path)).splitlines()
    # only the families that ran get a column
    assert table[0] == "| run | test: onecycle | vs best constant | vs best cosine |"
    # onecycle's test accuracy 0.88 and 0.90: 89.00 ± 1.41; against constant@0.1 +9.50 (se 0.50),
    # against cosine +5.50 (se 0.50), as in the verdicts above
    assert table[2] == (
        "| [toy](run/report.md) (accuracy) | 89.00 ± 1.41 (2 seeds; sgd, minimum; peak 0.5) "
        "| beats (constant@0.1 +9.50, se 0.50) "
        "| beats (cosine +5.50, se 0.50) |"
    )


def test_a_product_row_names_its_optimizer_rule_and_the_arms_optimizer_where_it_differs(folder, tmp_path):
    """A folder whose `onecycle` ran with Adam and the `edge` rule against the baselines of an SGD
    folder (`--baselines`): the product cell says both."""
    product = tmp_path / "product"
    product.mkdir()
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    (product / "results.json").write_text(
        json.dumps(
            results
            | {"runs": [r for r in results["runs"] if r["arm"] == "onecycle"], "baselines": ["../run"]}
        )
    )
    results["runs"] = [r for r in results["runs"] if r["arm"] != "onecycle"]
    (tmp_path / "run" / "results.json").write_text(json.dumps(results))
    (product / "config.json").write_text(json.dumps({"optimizer": "adam", "method": "edge"}))
    row = docs.render(f"arms {product}", where=str(tmp_path)).splitlines()[2]
    assert row.startswith(
        "| [toy](product/report.md) (accuracy) | 89.00 ± 1.41 (2 seeds; adam, edge; arms: sgd; peak 0.5)"
    )
    assert "beats (constant@0.1 +9.50, se 0.50)" in row


def test_a_product_row_says_what_each_seed_ran(folder, tmp_path):
    """Own range tests: each seed's peak, not their mean; a guard that fell back: its constant rate."""
    results_path = tmp_path / "run" / "results.json"
    results = json.loads(results_path.read_text())
    for run in results["runs"]:
        if run["arm"] == "onecycle":
            run["lr"], run["peak_lr"] = 0.0, 0.157 if run["seed"] == 0 else 0.912
    results_path.write_text(json.dumps(results))
    table = docs.render(f"arms {folder}", where=str(tmp_path)).splitlines()
    assert "89.00 ± 1.41 (2 seeds; sgd, minimum; 1cycle to 0.157, 0.912) |" in table[2]
    for run in results["runs"]:
        if run["arm"] == "onecycle" and run["seed"] == 1:
            run["guard"] = {"chose": "constant", "constant_rate": 0.01}
    results_path.write_text(json.dumps(results))
    row = docs.render(f"headline {folder}").splitlines()[-1]
    assert "(3 epochs, 2 seeds; s0 1cycle to 0.157, s1 constant 0.01 (guard))" in row


def test_defaults_table_pairs_the_product_with_both_defaults_on_final_validation(folder, tmp_path):
    results_path = tmp_path / "run" / "results.json"
    results = json.loads(results_path.read_text())
    for seed, shift in ((0, 0.0), (1, 0.01)):
        results["runs"] += [
            _run("constant-default", 0.01, seed, [0.50, 0.60, 0.62 + 2 * shift], 0.60),
            _run("schedule-free-default", 0.0025, seed, [0.80, 0.85, 0.88 + 3 * shift], 0.90),
        ]
    results_path.write_text(json.dumps(results))
    lines = docs.render(f"defaults {folder}", where=str(tmp_path)).splitlines()
    # final validation: onecycle 0.90 / 0.91; Keras' default 0.62 / 0.64: +27.50 pts, se 0.50, beats;
    # ScheduleFreeAdamW's defaults 0.88 / 0.91: +1.00 pts, se 1.00: a tie (not beyond two se).
    # Test: onecycle 0.88 / 0.90 against 0.60 / 0.60 and 0.90 / 0.90.
    assert lines[2] == (
        "| [toy](run/report.md) (accuracy) | 90.50 ± 0.71 (2 seeds; sgd, minimum) | +27.50 pts (se 0.50): beats "
        "| +1.00 pts (se 1.00): tie | +29.00 pts (se 1.00): beats | -1.00 pts (se 1.00): tie |"
    )
    assert lines[-1] == (
        "Never loses to either default (validation): 1 of 1 runs (met). Beats Keras' default: 1 of 1 "
        "(goal: at least half, met)."
    )
    results["runs"] = [r for r in results["runs"] if r["arm"] != "schedule-free-default"]
    results_path.write_text(json.dumps(results))
    lines = docs.render(f"defaults {folder}", where=str(tmp_path)).splitlines()
    assert "| not run |" in lines[2] and lines[-1].startswith(
        "Never loses to either default (validation): 0 of 0"
    )


def test_environment_table_lists_each_distinct_record(folder, tmp_path):
    results_path = f"{folder}/results.json"
    results = json.loads(open(results_path).read())
    env = {"processor": "CPU X", "cpu_count": 2, "device": "cpu", "python": "3.11.7", "onecycle": "9.9"}
    env |= {"keras": "3.15.1", "backend": "jax", "jax": "0.10.2"}
    for run in results["runs"][:4]:
        run["environment"] = env
    open(results_path, "w").write(json.dumps(results))
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps({"environment": env | {"device": "NVIDIA H200"}, "rows": []}))
    table = docs.render(f"environment {folder} {bench}", where=str(tmp_path)).splitlines()
    # 10 runs: 4 with the record, 6 without; the benchmark file's own record
    assert (
        table[2]
        == "| [run](run/results.json) | 4 of 10 | CPU X | 2 | cpu | 3.11.7 | 9.9 | 3.15.1 | jax 0.10.2 |"
    )
    assert table[3] == "| [run](run/results.json) | 6 of 10 | not recorded | | | | | | |"
    assert "| NVIDIA H200 |" in table[4] and table[4].startswith("| [bench.json](bench.json) | 1 |")


def test_time_to_target_tables_from_raw_runs(tmp_path):
    runs = [
        {**_run("a", 0.1, s, vals, test), "planned_epochs": 3}
        for s, vals, test in ((0, [0.5, 0.9, 0.95], 0.9), (1, [0.6, 0.8, 0.92], 0.94))
    ] + [{**_run("constant 0.1", 0.1, s, [0.7, 0.85, 0.8], 0.8), "planned_epochs": 3} for s in (0, 1)]
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"kind": "time_to_target", "targets": [0.9], "runs": runs}))
    text = docs.render(f"benchmark {path}")
    assert "| a | 3 | 2 | 93.50 | 92.00 ± 2.83 (std, ddof=1) |" in text  # best vals 0.95, 0.92
    # 0.9 reached at epoch 2 (wall 20 s) on seed 0 and epoch 3 (30 s) on seed 1; mean curve
    # [0.55, 0.85, 0.935] first reaches it at epoch 3
    assert "| a | 2/2 | 2.5 | 25 | 3 |" in text
    # the best constant's mean curve peaks at 0.85, epoch 2: a's seeds reach it at epochs 2 and 3, its
    # mean curve at epoch 2
    assert "best constant (85.00%, constant 0.1, its mean curve's peak at epoch 2)" in text
    assert "| a | 2/2 | 2.5 | 25 | 2 |" in text


def test_mutation_table_scores_killed_over_checked_less_equivalent(tmp_path):
    counts = {
        "killed": 8,
        "survived": 2,
        "no_tests": 1,
        "timeout": 0,
        "suspicious": 0,
        "not_checked": 5,
        "skipped": 0,
    }
    record = {
        "kind": "mutation",
        "modules": {"onecycle.curves": counts},
        "survivors": [
            {
                "mutant": "m1",
                "module": "onecycle.curves",
                "verdict": "survived",
                "change": "a → b",
                "equivalent": None,
            },
            {
                "mutant": "m2",
                "module": "onecycle.curves",
                "verdict": "survived",
                "change": "c → d",
                "equivalent": "same",
            },
            {
                "mutant": "m3",
                "module": "onecycle.curves",
                "verdict": "no_tests",
                "change": "e → f",
                "equivalent": None,
            },
        ],
    }
    path = tmp_path / "m.json"
    path.write_text(json.dumps(record))
    text = docs.render(f"benchmark {path}")
    # 16 mutants, 11 checked, 1 equivalent: 8 / 10
    assert "| `onecycle.curves` | 16 | 11 | 8 | 2 | 1 | 0 | 1 | 80.0% |" in text
    assert "- `m1` (survived): `a → b`" in text and "- `m3` (no tests): `e → f`" in text
    assert "- `m2`: `c → d`: same" in text
    assert "5 of 16 mutants not checked yet." in text
    path.write_text(json.dumps(record | {"sample": {"per_module": 11, "seed": 3}}))
    text = docs.render(f"benchmark {path}")
    assert "A seeded sample of 11 mutants per module (seed 3" in text and "not checked yet" not in text
    record["survivors"] = record["survivors"][1:2]
    path.write_text(json.dumps(record))
    assert "Surviving mutants: none" in docs.render(f"benchmark {path}")


def test_mutation_reason_writes_out_the_mutant_it_points_to(monkeypatch):
    import mutation

    monkeypatch.setattr(
        mutation,
        "EQUIVALENT",
        {
            "onecycle.fit.x_a__mutmut_1": "why",
            "onecycle.fit.x_a__mutmut_2": "as x_a__mutmut_1",
            "onecycle.fit.x_a__mutmut_3": "as x_a__mutmut_2",
            "onecycle.fit.x_a__mutmut_4": "as x_a__mutmut_1: more",
        },
    )
    assert mutation.reason("onecycle.fit.x_a__mutmut_3") == "as x_a__mutmut_2: as x_a__mutmut_1: why"
    assert mutation.reason("onecycle.fit.x_a__mutmut_4") == "as x_a__mutmut_1: more"
    assert mutation.reason("onecycle.fit.x_a__mutmut_5") is None


def test_mutation_sample_draws_per_module_under_a_seed():
    import mutation

    names = [f"onecycle.fit.x_fit_one_cycle__mutmut_{i}" for i in range(1, 301)]
    names += [f"onecycle.optimizers.xǁAdamǁ__init____mutmut_{i}" for i in range(1, 41)]
    chosen = mutation.sample(names, 150, seed=0)
    assert len(chosen) == 190 and chosen == sorted(chosen)
    assert sum(mutation.module_of(n) == "onecycle.fit" for n in chosen) == 150
    assert {n for n in chosen if mutation.module_of(n) == "onecycle.optimizers"} == set(names[300:])
    assert chosen == mutation.sample(list(reversed(names)), 150, seed=0)
    assert chosen != mutation.sample(names, 150, seed=1)
    # an edit to one function: its mutants change, the rest of the sample stays
    gone = {f"onecycle.fit.x_fit_one_cycle__mutmut_{i}" for i in range(1, 21)}
    edited = [n for n in names if n not in gone] + [
        f"onecycle.fit.x__guard__mutmut_{i}" for i in range(1, 11)
    ]
    again = mutation.sample(edited, 150, seed=0)
    kept = [n for n in chosen if n in edited]
    assert set(kept) <= set(again) and len(again) == 190


def test_mutation_sample_scores_only_the_sampled_mutants():
    import mutation

    found = {
        "onecycle.fit.x_a__mutmut_1": "killed",
        "onecycle.fit.x_a__mutmut_2": "survived",
        "onecycle.fit.x_a__mutmut_3": "survived",
        "onecycle.fit.x_a__mutmut_4": "not_checked",
    }
    kept = mutation.within(found, ["onecycle.fit.x_a__mutmut_1", "onecycle.fit.x_a__mutmut_2"])
    assert kept == {
        "onecycle.fit.x_a__mutmut_1": "killed",
        "onecycle.fit.x_a__mutmut_2": "survived",
        "onecycle.fit.x_a__mutmut_3": "not_checked",
        "onecycle.fit.x_a__mutmut_4": "not_checked",
    }


def test_mutation_config_replaces_only_the_mutmut_table(tmp_path):
    import mutation

    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "x"\n\n[tool.mutmut]\nonly_mutate = ["a"]\n\n[tool.other]\nk = 1\n'
    )
    mutation.use_config("benchmarks/mutmut_training.toml", str(pyproject))
    import tomllib

    read = tomllib.loads(pyproject.read_text())
    assert read["project"] == {"name": "x"} and read["tool"]["other"] == {"k": 1}
    assert "tests/test_tensorboard.py" in read["tool"]["mutmut"]["pytest_add_cli_args_test_selection"]
    assert read["tool"]["mutmut"]["only_mutate"] == [
        "src/onecycle/finder.py",
        "src/onecycle/fit.py",
        "src/onecycle/optimizers.py",
    ]
