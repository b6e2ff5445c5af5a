"""The tables of the benchmarks, computed from the raw figures they store.

A benchmark prints these tables and stores its raw figures with `kind` set to one of `KINDS`;
`doc_tables.py` computes the same tables again from the stored file, so the docs' `--check`
compares figures, not text with text.
"""

from onecycle.experiments import milestones


def _pick_gap(grid, picked, higher):
    """How far the pick is from the grid's best, in words: points of accuracy, or percent of a loss."""
    best = (max if higher else min)(grid, key=lambda g: g["best_val_mean"])
    if best is picked or best["best_val_mean"] == picked["best_val_mean"]:
        return best, "level with the grid's best"
    if higher:
        return (
            best,
            f"{100 * (best['best_val_mean'] - picked['best_val_mean']):.2f} points below the grid's best",
        )
    return best, f"{100 * (picked['best_val_mean'] / best['best_val_mean'] - 1):.2f}% above the grid's best"


def wd_quality(record):
    """benchmarks/wd_quality.py: each weight decay's range-test rate and 1cycle result, find_wd's pick."""
    setup, grid = record["setup"], record["grid"]
    metric = setup["metric"]
    picked = next(g for g in grid if g["weight_decay"] == record["pick"]["weight_decay"])
    best, gap = _pick_gap(grid, picked, setup["higher"])
    lines = [
        f"{setup['dataset']}, {setup['optimizer']}, {setup['epochs']} epochs, batch {setup['batch_size']}, "
        f"{setup['seeds']} seeds per weight decay; best validation {metric} of `fit_one_cycle` "
        "(mean ± std over seeds):",
        "",
        f"| weight decay | its range test's rate | best val {metric} | |",
        "|---|---|---|---|",
    ]
    for g in grid:
        marks = [m for m, on in (("picked by find_wd", g is picked), ("grid best", g is best)) if on]
        std = f" ± {g['best_val_std']:.4f}" if g["best_val_std"] is not None else ""
        lines.append(
            f"| {g['weight_decay']:g} | {g['lr']:.3g} | {g['best_val_mean']:.4f}{std} | {', '.join(marks)} |"
        )
    seconds, run = record["finder_seconds"], record["run_seconds"]
    lines += [
        "",
        f"find_wd picks weight decay {record['pick']['weight_decay']:g} at rate {record['pick']['lr']:.3g}: "
        f"{gap}. Its {len(grid)} range tests (one per weight decay of this grid) took {seconds:.1f} s = "
        f"{seconds / run:.1%} of one training run ({run:.1f} s).",
    ]
    return "\n".join(lines)


def batch_size(record):
    """benchmarks/batch_size.py: the range test's suggestions per batch size, then 1cycle at the largest."""
    lines = [
        "| batch size | minimum (default) | steepest | valley | lowest-loss rate | stopped at divergence |",
        "|---|---|---|---|---|---|",
    ]
    for t in record["range_tests"]:
        s = t["suggestions"]
        lines.append(
            f"| {t['batch_size']} | {s['minimum']:.3g} | {s['steepest']:.3g} | {s['valley']:.3g} "
            f"| {t['lowest_loss_rate']:.3g} | {'yes' if t['diverged'] else 'no'} |"
        )
    setup = record["setup"]
    lines += [
        "",
        f"1cycle at batch size {setup['large']}, {setup['epochs']} epochs, seed 0:",
        "",
        "| peak rate | max_lr | best val accuracy | final train loss | diverged |",
        "|---|---|---|---|---|",
    ]
    for r in record["onecycle"]:
        final = "nan" if r["final_loss"] is None else f"{r['final_loss']:.4g}"
        diverged = f"yes, loss NaN in epoch {len(r['losses'])}" if r["diverged"] else "no"
        lines.append(
            f"| {r['source']} | {r['max_lr']:.3g} | {r['best_val_accuracy']:.4f} | {final} | {diverged} |"
        )
    return "\n".join(lines)


def mutation(record):
    """benchmarks/mutation.py: per module the mutants killed, surviving and unchecked, the score, and
    every surviving mutant with its change (the equivalent ones with why they change nothing)."""
    lines = [
        "| module | mutants | checked | killed | survived | reached by no test | timed out | equivalent | score |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    equivalent = {}
    for s in record["survivors"]:
        if s["equivalent"]:
            equivalent[s["module"]] = equivalent.get(s["module"], 0) + 1
    totals = {}
    for module, counts in sorted(record["modules"].items()):
        total = sum(counts.values())
        checked = total - counts["not_checked"] - counts["skipped"]
        row = {
            "total": total,
            "checked": checked,
            "killed": counts["killed"],
            "survived": counts["survived"] + counts["suspicious"],
            "no_tests": counts["no_tests"],
            "timeout": counts["timeout"],
            "equivalent": equivalent.get(module, 0),
        }
        for key, value in row.items():
            totals[key] = totals.get(key, 0) + value
        lines.append(_mutation_row(f"`{module}`", row))
    lines.append(_mutation_row("**all**", totals))
    if record.get("sample"):
        lines += [
            "",
            f"A seeded sample of {record['sample']['per_module']} mutants per module (seed "
            f"{record['sample']['seed']}: those of smallest SHA-256 of `seed:name`; all of a module's mutants when "
            "it has fewer); the others are not checked.",
        ]
    elif totals["checked"] < totals["total"]:
        lines += ["", f"{totals['total'] - totals['checked']} of {totals['total']} mutants not checked yet."]
    live = [s for s in record["survivors"] if not s["equivalent"]]
    if live:
        lines += [
            "",
            f"Surviving mutants ({len(live)}; a mutant reached by no test counts as surviving):",
            "",
        ]
        lines += [f"- `{s['mutant']}` ({s['verdict'].replace('_', ' ')}): `{s['change']}`" for s in live]
    else:
        lines += ["", "Surviving mutants: none (a mutant reached by no test would count as surviving)."]
    same = [s for s in record["survivors"] if s["equivalent"]]
    if same:
        lines += ["", f"Equivalent mutants ({len(same)}, left out of the score):", ""]
        lines += [f"- `{s['mutant']}`: `{s['change']}`: {s['equivalent']}" for s in same]
    return "\n".join(lines)


def _mutation_row(name, row):
    scored = row["checked"] - row["equivalent"]
    score = f"{row['killed'] / scored:.1%}" if scored else "-"
    return (
        f"| {name} | {row['total']} | {row['checked']} | {row['killed']} | {row['survived']} | {row['no_tests']} "
        f"| {row['timeout']} | {row['equivalent']} | {score} |"
    )


KINDS = {
    "time_to_target": lambda record: milestones.time_to_target_tables(record["runs"], record["targets"]),
    "wd_quality": wd_quality,
    "batch_size": batch_size,
    "mutation": mutation,
}


def render(record):
    """The tables of a stored benchmark record of one of `KINDS`."""
    return KINDS[record["kind"]](record)
