"""Mutation score of the library's numerical modules: how many small wrong changes the tests catch.

    mutmut run                      # the mutants of the modules in pyproject's [tool.mutmut], on TensorFlow
    python benchmarks/mutation.py --json docs/benchmarks/mutation.json

mutmut changes one thing at a time in the modules pyproject's `[tool.mutmut]` names (`curves.py`,
`schedules.py`, `suggestions.py`, `experiments/stats.py`: the schedule and statistics math) and runs
the tests of its selection that reach the changed function (those that run no training); a mutant is
killed when one of them fails. This script reads mutmut's verdicts (`mutmut results --all true`),
writes per module the mutants killed, surviving, reached by no test, timed out and not yet checked,
and the score: killed / (checked - equivalent), where `EQUIVALENT` lists the surviving mutants that
cannot change any result, each with the reason. Every other survivor is listed with its change.

Where every mutant cannot run (modules whose tests train models), a seeded sample of each module,
in a working copy kept for it:

    python benchmarks/mutation.py --config benchmarks/mutmut_training.toml   # its [tool.mutmut]
    mutmut run onecycle.none        # generates the mutants, then stops: no mutant has that name
    mutmut run $(python benchmarks/mutation.py --sample 150 --seed 0)
    python benchmarks/mutation.py --sample 150 --seed 0 --json docs/benchmarks/mutation_training.json

`--sample N --seed S` prints (or, with `--json`, records) the N mutants of each module whose
SHA-256 of "S:name" is smallest: an edit to one function changes the sample only by that function's
mutants. With `--json`, every mutant outside the sample counts as "not checked", whatever verdict
mutmut holds for it.
"""

import argparse
import hashlib
import os
import re
import subprocess
import sys

from stored_output import StoredOutput

# Surviving mutants that compute the same thing as the original (name: why), excluded from the score.
EQUIVALENT = {
    "onecycle.suggestions.x_steepest__mutmut_6": "with the lowest loss at index 1 (end == 2) the two slopes "
    "np.gradient gives are equal, so the argmin is index 0, which the early return also gives",
    "onecycle.suggestions.x_steepest__mutmut_7": "as mutmut_6: for end == 2 both paths give index 0",
    "onecycle.suggestions.x_valley__mutmut_8": "starting the best end at 1 instead of 0 changes the result only "
    "when every run has length 1, where both give index max(0, ...) = 0",
    "onecycle.suggestions.x_valley__mutmut_11": "at i = 0 there is no earlier point: the loop body does nothing",
    "onecycle.schedules.xǁPiecewiseǁ_eager_value__mutmut_24": "keras.ops instead of the scalar ops computes the "
    "same value as a tensor (the scalar path only saves time)",
    "onecycle.schedules.xǁPiecewiseǁ_eager_value__mutmut_28": "convert_to_tensor of a Python float defaults to "
    "Keras' floatx, float32",
    "onecycle.schedules.xǁPiecewiseǁ_eager_value__mutmut_30": "as mutmut_28",
    "onecycle.schedules.xǁPiecewiseǁ__init____mutmut_31": "each value is checked to be finite first, and a finite "
    "value is below infinity whether that end of the interval is open or closed",
    "onecycle.schedules.xǁPiecewiseǁ__init____mutmut_36": "as xǁPiecewiseǁ__init____mutmut_31",
    "onecycle.schedules.xǁPiecewiseǁ__init____mutmut_43": "as xǁPiecewiseǁ__init____mutmut_31",
    "onecycle.schedules.xǁPiecewiseǁ__init____mutmut_42": 'float("INF") is float("inf")',
    "onecycle.optimizers.xǁAdamWǁ__init____mutmut_14": "the weight decay is checked to be finite first, and a "
    "finite value is below infinity whether that end of the interval is open or closed",
    "onecycle.optimizers.xǁAdamWǁ__init____mutmut_20": 'float("INF") is float("inf")',
    "onecycle.optimizers.xǁAdamWǁ__init____mutmut_21": "as xǁAdamWǁ__init____mutmut_14",
    "onecycle.finder.xǁLRFinderResultǁfrom_dict__mutmut_11": "the result stores its losses with "
    "np.asarray(..., dtype=float), which turns None into NaN by itself",
    "onecycle.finder.xǁLRFinderResultǁfrom_dict__mutmut_16": "as xǁLRFinderResultǁfrom_dict__mutmut_11",
    "onecycle.finder.xǁLRFinderResultǁfrom_dict__mutmut_23": "bool(None) is False, the default it replaces",
    "onecycle.finder.x__validation_loss__mutmut_12": "this branch takes validation data that are not arrays "
    "(a dataset): Keras takes no `y`, `sample_weight` or `batch_size` beside those, so they are None here",
    "onecycle.finder.x__validation_loss__mutmut_13": "as x__validation_loss__mutmut_12",
    "onecycle.finder.x__validation_loss__mutmut_14": "as x__validation_loss__mutmut_12",
    "onecycle.fit.x__guard__mutmut_45": "the range test has built the model before the guard runs (the guard "
    "runs only without `max_lr`), so `restore.build` builds only the optimizer, which reads no rows",
    "onecycle.fit.x__guard__mutmut_46": "as x__guard__mutmut_45",
    "onecycle.fit.x__guard__mutmut_47": "as x__guard__mutmut_45",
    "onecycle.fit.x__guard__mutmut_51": "as x__guard__mutmut_45",
    "onecycle.fit.x__guard__mutmut_52": "as x__guard__mutmut_45",
    "onecycle.fit.x__guard__mutmut_9": "the guard runs on 10 samples or more, where a fifth rounds to 2 or more: "
    "max(1, ...) and max(2, ...) agree",
    "onecycle.fit.x__guard__mutmut_15": "rows None:cut are rows 0:cut",
    "onecycle.fit.x__guard__mutmut_31": "rows cut:None are rows cut:samples, samples being the length",
    "onecycle.fit.x__guard__mutmut_37": "as x__guard__mutmut_31",
    "onecycle.fit.x__guard__mutmut_104": "Keras' progress bar prints at verbose 1 or 2 only: None is as silent as 0 "
    "(the guard's silence is tested)",
    "onecycle.fit.x__guard__mutmut_113": "as x__guard__mutmut_104",
    "onecycle.fit.x__guard__mutmut_112": "the hold-out's evaluation batch size changes its speed only (and the order "
    "of a float sum, far below the tests' tolerance)",
    "onecycle.fit.x__guard__mutmut_123": "as x__guard__mutmut_112",
    "onecycle.fit.x_fit_one_cycle__mutmut_235": "Keras' fit reads `batch_size` for arrays only: datasets, "
    "PyDatasets and generators ignore it",
    "onecycle.optimizers.xǁSGDǁ__init____mutmut_23": "`self.momentum` is set right after `super().__init__`: "
    "Keras' SGD reads it only later (build, update_step)",
    "onecycle.optimizers.xǁSGDǁ__init____mutmut_28": "as xǁSGDǁ__init____mutmut_23: Keras' SGD only checks that "
    "the placeholder lies in [0, 1] before `self.momentum` replaces it with the schedule",
    "onecycle.finder.x_find_lr__mutmut_127": "a seed the user did not give is drawn from NumPy's global stream; "
    "drawn below 61 rather than below 2**31 - 1 it still follows `keras.utils.set_random_seed`: only the number of "
    "possible data orders shrinks, which no finite test can tell from chance",
    "onecycle.finder.x_find_lr__mutmut_165": "the sweep's schedule lives only inside `find_lr`, which takes no "
    "callbacks and puts the optimizer's own rate back before it returns: no user code reads its name",
    "onecycle.finder.x_find_lr__mutmut_169": "as x_find_lr__mutmut_165",
    "onecycle.finder.x_find_lr__mutmut_170": "as x_find_lr__mutmut_165",
    "onecycle.finder.x_find_lr__mutmut_197": "as x_find_lr__mutmut_165 (a sub-optimizer's sweep)",
    "onecycle.finder.x_find_lr__mutmut_198": "as x_find_lr__mutmut_197",
    "onecycle.finder.x_find_lr__mutmut_199": "as x_find_lr__mutmut_197",
    "onecycle.optimizers.xǁSGDǁupdate_step__mutmut_10": "the rate arrives as a float32 from its schedule; cast to "
    "float32 rather than to a float64 variable's dtype, its product with the float64 gradient promotes the same value",
    "onecycle.optimizers.xǁAdamǁupdate_step__mutmut_21": "a step count below 2**24 is exact in float32, and the "
    "float64 powers promote it unchanged",
    "onecycle.finder.xǁLRFinderResultǁfrom_dict__mutmut_25": "as xǁLRFinderResultǁfrom_dict__mutmut_23",
    "onecycle.finder.x__validation_loss__mutmut_9": "validation data that are not arrays are one object (a "
    "dataset, a PyDataset, a generator; Keras takes no lists): `_xy` gives (data, None), which [:3] and [:4] "
    "unpack alike",
    "onecycle.finder.x__validation_loss__mutmut_19": "as x__validation_loss__mutmut_12",
    "onecycle.finder.x__validation_loss__mutmut_30": "validation x and y are checked to hold as many rows before the "
    "test (data.check_validation_data)",
    "onecycle.finder.x__xy__mutmut_5": "a third None is the sample weight, which `test_on_batch` takes as None "
    "when none is given",
    "onecycle.fit.x__finite__mutmut_13": 'float("INF") is float("inf")',
    "onecycle.experiments.stats.x_paired__mutmut_10": "the values are Python numbers: NumPy makes float64 "
    "differences of floats without being told, and the mean and std of integer differences are the same floats",
    "onecycle.experiments.stats.x_paired__mutmut_12": "as mutmut_10",
    "onecycle.experiments.stats.x_mean_std__mutmut_3": "NumPy infers float64 from the numbers and NaNs the list "
    "holds once None is replaced",
    "onecycle.experiments.stats.x_mean_std__mutmut_5": "as mutmut_3",
    "onecycle.experiments.stats.x_mean_std__mutmut_6": "asarray(..., dtype=float) turns None into NaN by itself",
    "onecycle.suggestions.x_suggest__mutmut_29": "NumPy infers float64 from the numbers a curve holds (a rate "
    "or loss that is not a number fails later either way)",
    "onecycle.suggestions.x_suggest__mutmut_31": "as mutmut_29",
    "onecycle.suggestions.x_suggest__mutmut_33": "as mutmut_29",
    "onecycle.suggestions.x_suggest__mutmut_35": "as mutmut_29",
    "onecycle.suggestions.x_centered_median__mutmut_3": "as x_suggest__mutmut_29: NumPy infers a numeric array "
    "from the numbers a curve holds, and the medians it writes are floats either way",
    "onecycle.suggestions.x_centered_median__mutmut_5": "as x_centered_median__mutmut_3",
    "onecycle.suggestions.x_edge__mutmut_11": "as x_centered_median__mutmut_3: the median of the first losses is "
    "the same float",
    "onecycle.suggestions.x_edge__mutmut_13": "as x_edge__mutmut_11",
}

VERDICTS = {
    "killed": "killed",
    "survived": "survived",
    "no tests": "no_tests",
    "timeout": "timeout",
    "suspicious": "suspicious",
    "segfault": "killed",  # the tests crashed: the change was noticed
    "not checked": "not_checked",
    "skipped": "skipped",
}


def reason(name):
    """Why the mutant `name` is equivalent (None when it is not listed), with the reason of the
    mutant that a bare "as OTHER" points to written out, since OTHER may be outside the sample."""
    text = EQUIVALENT.get(name)
    if text and text.startswith("as ") and " " not in text[3:]:
        other = f"{module_of(name)}.{text[3:]}"
        if other in EQUIVALENT:
            return f"{text}: {reason(other)}"
    return text


def module_of(name):
    """`onecycle.fit.x_fit_one_cycle__mutmut_3` -> `onecycle.fit`."""
    head = name.split("__mutmut_")[0]
    for marker in (".x_", ".xǁ"):
        if marker in head:
            return head.split(marker)[0]
    return head.rsplit(".", 1)[0]


def verdicts():
    """{mutant name: verdict} from mutmut's stored results."""
    out = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = {}
    for line in out.splitlines():
        name, _, verdict = line.strip().rpartition(": ")
        if name and verdict in VERDICTS:
            found[name] = VERDICTS[verdict]
    return found


def change(name):
    """The line a mutant changes, as `mutmut show` prints it (the removed and the added line)."""
    shown = subprocess.run(
        [sys.executable, "-m", "mutmut", "show", name], capture_output=True, text=True
    ).stdout.splitlines()
    lines = [
        line[1:].strip()
        for line in shown
        if line[:1] in "-+" and not line.startswith(("---", "+++")) and line[1:].strip()
    ]
    return " → ".join(lines[:2])


def _rank(name, seed):
    return hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()


def sample(names, per_module, seed):
    """`per_module` names of each module: those whose SHA-256 of "seed:name" is smallest (all of a
    module's names when it has fewer), in name order. A name's rank depends on nothing but itself
    and the seed, so an edit to one function changes the sample by that function's mutants only
    (and the names they let in or push out); a draw over the whole list would change it all."""
    by_module = {}
    for name in names:
        by_module.setdefault(module_of(name), []).append(name)
    chosen = []
    for found in by_module.values():
        chosen += sorted(found, key=lambda name: _rank(name, seed))[:per_module]
    return sorted(chosen)


def within(found, chosen):
    """The verdicts of the mutants in `chosen`; every other mutant counts as not checked, whatever
    mutmut holds for it (a verdict outside the sample may date from older tests, and the score is
    the sample's)."""
    chosen = set(chosen)
    return {name: verdict if name in chosen else "not_checked" for name, verdict in found.items()}


def use_config(path, pyproject="pyproject.toml"):
    """Put the `[tool.mutmut]` table of the TOML file `path` in place of `pyproject`'s."""
    header = re.compile(r"^\[tool\.mutmut\]$", re.MULTILINE)
    with open(path) as f:
        table = f.read()
    with open(pyproject) as f:
        text = f.read()
    begin = header.search(text).start()
    end = text.find("\n[", begin + 1)
    table = table[header.search(table).start() :].rstrip("\n") + "\n"
    text = text[:begin] + table + (text[end:] if end != -1 else "")
    with open(pyproject, "w") as f:
        f.write(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="store the figures in this JSON file")
    parser.add_argument("--sample", type=int, help="a seeded sample of this many mutants per module")
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed (default 0)")
    parser.add_argument(
        "--config", help="put this TOML file's [tool.mutmut] in place of pyproject.toml's, then stop"
    )
    args = parser.parse_args()
    if args.config:
        use_config(args.config)
        return
    if args.sample is not None and args.sample < 1:
        parser.error(f"--sample must be a positive integer. Received: {args.sample}")
    if not os.path.isdir("mutants"):
        parser.error("no mutants/ folder here: run `mutmut run` first, from the repository root")
    found = verdicts()
    if not found:
        parser.error("mutmut holds no results: run `mutmut run` first")
    extra = {}
    if args.sample is not None:
        chosen = sample(found, args.sample, args.seed)
        if not args.json:
            print("\n".join(chosen))
            return
        unchecked = [name for name in chosen if found[name] == "not_checked"]
        if unchecked:
            parser.error(f"{len(unchecked)} mutants of the sample are not checked yet, e.g. {unchecked[0]}")
        found = within(found, chosen)
        extra["sample"] = {"per_module": args.sample, "seed": args.seed}
    modules = {}
    for name, verdict in found.items():
        counts = modules.setdefault(module_of(name), {v: 0 for v in set(VERDICTS.values())})
        counts[verdict] += 1
    survivors = [
        {"mutant": name, "module": module_of(name), "verdict": verdict, "change": change(name)}
        for name, verdict in sorted(found.items())
        if verdict in ("survived", "no_tests", "timeout", "suspicious")
    ]
    for survivor in survivors:
        survivor["equivalent"] = reason(survivor["mutant"])
    StoredOutput(args.json).save_figures(kind="mutation", modules=modules, survivors=survivors, **extra)


if __name__ == "__main__":
    main()
