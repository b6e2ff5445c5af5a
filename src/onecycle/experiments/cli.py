"""The `onecycle` command: find-lr, train, compare, report."""

import argparse
import dataclasses
import os
import sys
import typing

from onecycle.experiments.config import COMMANDS, ConfigError


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _type_of(field):
    hint = field.type if not isinstance(field.type, str) else eval(field.type, vars(typing))  # noqa: S307
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args else hint


def _add_options(parser, config_cls):
    for field in dataclasses.fields(config_cls):
        if "help" not in field.metadata:
            continue
        kind = _type_of(field)
        if field.metadata.get("positional"):
            parser.add_argument(
                field.name,
                nargs="?",
                default=argparse.SUPPRESS,
                help=f"{field.metadata['help']} (default: {field.default})",
            )
        elif kind is bool:
            parser.add_argument(
                f"--{field.name.replace('_', '-')}",
                action="store_true",
                default=argparse.SUPPRESS,
                help=field.metadata["help"],
            )
        else:
            parser.add_argument(
                f"--{field.name.replace('_', '-')}",
                type=kind,
                default=argparse.SUPPRESS,
                help=f"{field.metadata['help']} (default: {field.default})",
            )


def build_parser():
    parser = _Parser(
        prog="onecycle", description="The learning-rate range test and the 1cycle policy for Keras 3."
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, config_cls in COMMANDS.items():
        command = sub.add_parser(
            name, help=config_cls.__doc__.splitlines()[0], description=config_cls.__doc__
        )
        _add_options(command, config_cls)
        if name in ("train", "compare"):
            command.add_argument(
                "--resume",
                metavar="RUN_DIR",
                help="continue an interrupted run in RUN_DIR; finished arms and seeds are kept",
            )
            command.add_argument(
                "--rerun",
                metavar="ARMS",
                help="with --resume: train these arms (comma-separated) again; their stored trainings "
                "are removed from results.json first",
            )
    report = sub.add_parser(
        "report", help="rebuild report.md and the plots of a run folder from its results.json"
    )
    report.add_argument("run_dir")
    report.add_argument(
        "--baselines",
        help="comma-separated run folders whose runs join the comparison (stored in results.json)",
    )
    return parser


def _config(args):
    values = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(COMMANDS[args.command])
        if hasattr(args, f.name)
    }
    return COMMANDS[args.command](**values).validate()


def _rerun_names(value):
    """`--rerun ARMS`: the arm names, each one the harness knows."""
    from onecycle.experiments import arms

    names = [name.strip() for name in value.split(",")]
    unknown = [name for name in names if name not in arms.NAMES]
    if unknown:
        raise ConfigError(f"--rerun: unknown arm {unknown[0]!r}; known: {', '.join(arms.NAMES)}")
    return names


def _drop_trainings(run_dir, names):
    """results.json of `run_dir` without the trainings of the arms `names` (rewritten whole, atomically)."""
    from onecycle.experiments import arms, storage

    path = os.path.join(run_dir, "results.json")
    if os.path.isfile(path):
        results = storage.read_json(path)
        results["runs"] = [r for r in results["runs"] if arms.canonical(r["arm"]) not in names]
        storage.write_json(path, results)


RESUME_OPTIONS = (
    "seeds",
    "arms",
    "verbose",
)  # --resume may add seeds and arms, and change only the progress shown


def _check_resume_options(args, config):
    """With --resume the run continues as it was configured: an option given that differs from the
    stored one is an error naming both (--seeds may only grow, --arms only add)."""
    from onecycle.experiments.config import to_dict

    stored = to_dict(config)
    for field in dataclasses.fields(COMMANDS[args.command]):
        if field.name in RESUME_OPTIONS or not hasattr(args, field.name):
            continue
        given = getattr(args, field.name)
        if given != stored.get(field.name):
            flag = field.name if field.metadata.get("positional") else f"--{field.name.replace('_', '-')}"
            raise ConfigError(
                f"{flag}: {args.resume!r} was run with {flag} {stored.get(field.name)!r}; --resume continues it "
                f"as it was. Received: {flag} {given!r} (start a new run folder to change it)"
            )
    if getattr(args, "seeds", None) is not None and args.seeds < config.seeds:
        raise ConfigError(
            f"--seeds: {args.resume!r} was run with --seeds {config.seeds}; --resume may add seeds, not drop them. "
            f"Received: --seeds {args.seeds}"
        )


def _run(args):
    if args.command == "report":
        from onecycle.experiments import folders, report

        if not os.path.isfile(os.path.join(args.run_dir, "results.json")):
            raise ConfigError(f"run_dir: {args.run_dir!r} holds no results.json")
        config, results = folders.load_folder(args.run_dir)
        if args.baselines:
            results["baselines"] = _baseline_folders(args.baselines, args.run_dir)
        print(report.write(args.run_dir, config, results))
        return
    rerun_arg = getattr(args, "rerun", None)
    if rerun_arg and not getattr(args, "resume", None):
        raise ConfigError(f"--rerun needs --resume RUN_DIR. Received: --rerun {rerun_arg!r} alone")
    if getattr(args, "resume", None):
        from onecycle.experiments import runner, storage
        from onecycle.experiments.config import from_dict

        config_path = os.path.join(args.resume, "config.json")
        if not os.path.isfile(config_path):
            raise ConfigError(f"--resume: {args.resume!r} holds no config.json")
        rerun = _rerun_names(rerun_arg) if rerun_arg else []
        config = from_dict(storage.read_json(config_path))
        _check_resume_options(args, config)
        config.out = args.resume
        if getattr(args, "seeds", 0) > config.seeds:  # more seeds for a finished run: --resume DIR --seeds N
            config.seeds = args.seeds
        more = [*(args.arms.split(",") if getattr(args, "arms", None) else []), *rerun]
        if more:  # more arms for a run: --resume DIR --arms A,B (added to its own), and those rerun
            added = list(dict.fromkeys(a for a in more if a.strip() not in config.arm_list()))
            config.arms = ",".join([config.arms, *added]) if added else config.arms
        config.validate()
        if rerun:
            _drop_trainings(args.resume, rerun)
        _, path = runner.compare(config, resume=True)
        print(f"report: {os.path.join(path, 'report.md')}")
        return
    config = _config(args)  # argument errors before any backend is loaded
    from onecycle.experiments import runner

    if args.command == "find-lr":
        result, path = runner.find_lr(config)
        print(f"suggested max learning rate ({config.method}): {result.suggest(config.method):.4g}")
        print(f"curve: {os.path.join(path, 'finder.png')}, {os.path.join(path, 'finder.json')}")
        return
    _, path = runner.compare(config)
    print(f"report: {os.path.join(path, 'report.md')}")


def _baseline_folders(value, run_dir):
    folders = [v.strip() for v in value.split(",")]
    for folder in folders:
        if not os.path.isfile(os.path.join(folder, "results.json")):
            raise ConfigError(f"--baselines: {folder!r} holds no results.json")
    return [os.path.relpath(os.path.abspath(f), os.path.abspath(run_dir)) for f in folders]


def _quiet_backend(args):
    """TensorFlow's C++ log (oneDNN, CPU instructions, absl) stays out of the command's output unless
    the user asks for Keras' own output (`--verbose 2`) or sets `TF_CPP_MIN_LOG_LEVEL` themselves."""
    if getattr(args, "verbose", None) != 2:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None):
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit:  # --help, or a bad option already reported in one line
        return exit.code
    from onecycle.experiments.errors import USER_ERRORS

    _quiet_backend(args)
    try:
        _run(args)
    except SystemExit as exit:
        return exit.code
    except USER_ERRORS as error:
        print(f"onecycle: error: {error}", file=sys.stderr)
        return 2
    except (
        OSError
    ) as error:  # a full disk, a folder that became unwritable: no traceback, no half-written file
        where = f": {error.filename}" if error.filename else ""
        print(f"onecycle: error: {error.strerror or error}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "onecycle: interrupted; finished runs are kept in results.json (continue with --resume RUN_DIR)",
            file=sys.stderr,
        )
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
