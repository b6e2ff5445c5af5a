"""The `onecycle` command: find-lr, train, compare, report."""

import argparse
import os
import sys
import typing

from onecycle.experiments.config import (
    COMMANDS,
    ResumeOptions,
    flag_of,
    from_dict,
    key_of,
    relative_folders,
    resumed,
)


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _type_of(field):
    hint = field.type if not isinstance(field.type, str) else eval(field.type, vars(typing))  # noqa: S307
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args else hint


def _add_options(parser, config_cls):
    sections = {}
    for attribute, field in config_cls.options():
        group = config_cls.groups()[attribute]
        if attribute not in sections:  # one section of --help per group of options
            sections[attribute] = parser.add_argument_group(group.__doc__.splitlines()[0].rstrip("."))
        section = sections[attribute]
        kind, key = _type_of(field), key_of(field)
        default = config_cls.default_of(field)
        if field.metadata.get("positional"):
            help = field.metadata["help"] + ("" if default is None else f" (default: {default})")
            section.add_argument(key, nargs="?", default=argparse.SUPPRESS, help=help)
        elif kind is bool:
            section.add_argument(
                flag_of(field),
                dest=key,
                action="store_true",
                default=argparse.SUPPRESS,
                help=field.metadata["help"],
            )
        else:
            extra = {"metavar": field.metadata["metavar"]} if "metavar" in field.metadata else {}
            help = field.metadata["help"] + ("" if "metavar" in field.metadata else f" (default: {default})")
            section.add_argument(
                flag_of(field), dest=key, type=kind, default=argparse.SUPPRESS, help=help, **extra
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
    return parser


def _given(args):
    """The options given on the command line, by key."""
    return {key: value for key, value in vars(args).items() if key != "command"}


def _drop_trainings(run_dir, names):
    """results.json of `run_dir` without the trainings of the arms `names` (rewritten whole, atomically)."""
    from onecycle.experiments import arms, storage

    path = os.path.join(run_dir, "results.json")
    if os.path.isfile(path):
        results = storage.read_json(path)
        results["runs"] = [r for r in results["runs"] if arms.canonical(r["arm"]) not in names]
        storage.write_json(path, results)


def _run(args):
    given = _given(args)
    if given.get("resume"):
        from onecycle.experiments import runner, storage

        ResumeOptions(
            run_dir=given["resume"], rerun=given.get("rerun")
        ).validate()  # before config.json is read
        stored = from_dict(storage.read_json(os.path.join(given["resume"], "config.json")))
        config = resumed(stored, given)
        if config.resume.rerun:
            _drop_trainings(config.resume.run_dir, config.resume.rerun_list())
        _, path = runner.compare(config, resume=True)
        print(f"report: {os.path.join(path, 'report.md')}")
        return
    config = COMMANDS[args.command].from_options(**given).validate()  # before any backend is loaded
    if args.command == "report":
        from onecycle.experiments import folders, report

        options = config.report
        stored, results = folders.load_folder(options.run_dir)
        if options.baselines:
            results["baselines"] = relative_folders(options.baseline_folders(), options.run_dir)
        print(report.write(options.run_dir, stored, results))
        return
    from onecycle.experiments import runner

    if args.command == "find-lr":
        result, path = runner.find_lr(config)
        method = config.range_test.method
        print(f"suggested max learning rate ({method}): {result.suggest(method):.4g}")
        print(f"curve: {os.path.join(path, 'finder.png')}, {os.path.join(path, 'finder.json')}")
        return
    _, path = runner.compare(config)
    print(f"report: {os.path.join(path, 'report.md')}")


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
