"""Reading the `runs` of a `recipe.py` JSON: one entry per training, keyed `ARM/SEED`, each with its
`final_val` (the final validation metric) and `test`. The one reader of those keys, for `recipe.py`
and the scripts that decide from its files (`image_decision.py`, `guard_size_rule.py`,
`guard_candidates.py`)."""


def _split(key):
    name, seed = key.rsplit("/", 1)
    return name, int(seed)


def arms(runs):
    """The arms that have at least one stored training, sorted."""
    return sorted({_split(key)[0] for key in runs})


def seeds(runs, name=None):
    """The seeds stored for arm `name` (for any arm when None), sorted."""
    return sorted({seed for arm, seed in map(_split, runs) if name is None or arm == name})


def complete(runs, name, wanted):
    """Whether arm `name` has a training stored for every seed in `wanted`."""
    return all(f"{name}/{seed}" in runs for seed in wanted)


def by_seed(runs, name, wanted=None, field="final_val"):
    """`{seed: field}` of arm `name` for the seeds `wanted` (every stored seed when None); a seed not
    stored raises KeyError."""
    wanted = seeds(runs, name) if wanted is None else wanted
    return {seed: runs[f"{name}/{seed}"][field] for seed in wanted}
