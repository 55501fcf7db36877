"""The ``crossedwires`` command: work with cases and baselines outside pytest.

    crossedwires cases --profile smoke            list the case ids of a profile's case set
    crossedwires export --profile smoke [--out F] all baselines of a profile, CSV and Parquet
    crossedwires report --profile smoke           an HTML page with plots, a Markdown summary
    crossedwires regen --profile full --ray [ADDR] regenerate baselines as Ray tasks
    crossedwires estimate --profile full          device-hours to regenerate, from timings
    crossedwires explain CASE-ID [--json]         which framework default carries a gap
    crossedwires knobs [--format markdown]        the knob table (harness/knobs.py)
    crossedwires diff [REV] [--format markdown]   baselines moved/flipped since REV (HEAD)

Checking runs through pytest (``pytest difftests``); ``regen`` and ``explain`` train too.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

from . import atomic
from .errors import BaselineError, HarnessError

DEFAULT_BASELINES = Path("baselines")  # relative to the repository root, where commands run
MAX_JOBS = max(1, os.cpu_count() or 1)  # explain --jobs: one torch+TF process per job


def load_profile_baselines(root: Path, profile: str) -> list[dict]:
    """Every case baseline of a profile, validated (numerics checks' records left out: they
    hold no accuracies); a bad file stops with its name and field."""
    from . import baselines

    folder = Path(root) / profile
    create = shlex.join(_regen_args(root, profile))
    records = []
    # <profile>/<arch>/<id>.json: glob follows a linked architecture folder, as the check does
    for path in sorted(folder.glob("*/*.json")) if folder.is_dir() else []:
        try:
            record = baselines.read(path, at_its_path=True)
        except BaselineError as exc:
            raise BaselineError(f"{exc}; regenerate it with: {create}") from None
        if baselines.kind_of(record) == "case":
            records.append(record)
    if not records:
        raise HarnessError(
            f"no baselines for profile {profile!r} in {folder}; create them with: {create}"
        )
    return records


def _regen_args(root: Path, profile: str) -> list[str]:
    """``pytest difftests`` regenerating a profile into ``root`` (the option only when it is
    not the default), as a list for ``shlex.join``."""
    args = ["pytest", "difftests", "--profile", profile, "--regen-baselines"]
    if Path(root) != DEFAULT_BASELINES:
        args.append(f"--baselines-dir={root}")  # one word: a value starting with "-" stays one
    return args


def check_data_dir(value: str | None) -> None:
    """Before any work: a --data-dir given is an existing folder (as pytest's option checks)."""
    if value is not None and not (value and Path(value).is_dir()):
        raise HarnessError(
            f"--data-dir {value!r}: no such folder; give the folder that holds "
            "cifar-10-python.tar.gz or cifar-10-batches-py/"
        )


def check_output_file(path: Path, option: str) -> None:
    """Before any work: ``path`` can be written as a file (its folder exists or can be made and
    is writable; the path itself is not a folder). HarnessError names the option and the fix."""
    path = Path(path)
    if path.is_dir():
        raise HarnessError(f"{option} {path}: is a folder; give a file name")
    atomic.check_writable_folder(path.parent, option)


def export_frame(records: list[dict]):
    """The published dataset's columns first, then ours."""
    import pandas as pd

    rows = []
    for r in records:
        case, res, env = r["case"], r["results"], r["environment"]
        hp = case["hyperparameters"]
        cmp_ = r["comparison"] or {}
        rows.append(
            {
                "name": case["source_trial"] or case["id"],
                "accuracy_diff": cmp_.get("accuracy_diff"),
                "pt_test_acc": res["pytorch"]["test_accuracy"],
                "tf_test_acc": res["tensorflow"]["test_accuracy"],
                "learning_rate": hp["learning_rate"],
                "batch_size": hp["batch_size"],
                "epochs": hp["epochs"],
                "adam_epsilon": hp["adam_epsilon"],
                "pt_training_loss": json.dumps(res["pytorch"]["training_loss"]),
                "tf_training_loss": json.dumps(res["tensorflow"]["training_loss"]),
                "case_id": case["id"],
                "arch": case["arch"],
                "arch_source": case["arch_source"],
                "mode": case["mode"],
                "epochs_run": case["epochs_run"],
                "dataset": r["data"]["dataset"],
                "prediction_agreement": cmp_.get("prediction_agreement"),
                "verdict": r["verdict"],
                "pt_error": res["pytorch"]["error"],
                "tf_error": res["tensorflow"]["error"],
                "torch": env["pytorch"]["versions"].get("torch"),
                "torchvision": env["pytorch"]["versions"].get("torchvision"),
                "tensorflow": env["tensorflow"]["versions"].get("tensorflow"),
                "keras": env["tensorflow"]["versions"].get("keras"),
                "device": env["pytorch"]["device_name"],
            }
        )
    return pd.DataFrame(rows)


def cmd_export(args) -> int:
    import shutil

    from .profiles import get_profile

    profile = get_profile(args.profile)
    stem = Path(args.out) if args.out else Path(f"crossedwires-{profile.name}")
    if stem.suffix in (".csv", ".parquet"):
        formats, stem = [stem.suffix[1:]], stem.with_suffix("")
    elif stem.suffix:
        raise HarnessError(
            f"--out {args.out}: unknown suffix {stem.suffix!r}; use NAME.csv or NAME.parquet for "
            "one format, or NAME without a suffix for both"
        )
    else:
        formats = ["csv", "parquet"]
    if args.out == "-":
        raise HarnessError("--out -: the export is two binary-safe files, not a stream; give NAME")
    if args.out and args.out.endswith(("/", os.sep)):
        raise HarnessError(f"--out {args.out}: names a folder; give a file name (NAME, NAME.csv)")
    for fmt in formats:
        check_output_file(Path(f"{stem}.{fmt}"), "--out")
    records = load_profile_baselines(args.baselines_dir, profile.name)
    frame = export_frame(records)
    if args.weights:
        frame, copies = _weights_beside(
            frame, records, Path(args.weights), profile.name, stem, args.baselines_dir
        )
    written = []
    for fmt in formats:
        path = Path(f"{stem}.{fmt}")  # not with_suffix: "results.v2" keeps its ".v2"
        if fmt == "csv":
            atomic.write_text(path, frame.to_csv(index=False))
        else:
            with atomic.atomic_open(path, "wb") as fh:
                frame.to_parquet(fh, index=False)
        written.append(str(path))
    if args.weights:
        for source, target in copies:
            with atomic.atomic_open(target, "wb") as fh, open(source, "rb") as src:
                shutil.copyfileobj(src, fh)
        written.append(f"{len(copies)} weight files in {stem}-weights/")
    print(f"wrote {len(records)} cases of profile {profile.name}: {', '.join(written)}")
    return 0


def _weights_beside(frame, records, folder: Path, profile: str, stem: Path, root: Path):
    """Columns naming each case's weight files, and the (source, target) copies to make: the
    files ``pytest difftests --save-weights DIR`` wrote, beside the export, named by case id."""
    target_dir = Path(f"{stem}-weights")
    copies, missing = [], []
    columns = {"pytorch": [], "tensorflow": []}
    for record in records:
        case = record["case"]
        for fw in columns:
            source = folder / profile / case["arch"] / f"{case['id']}.{fw}.npz"
            if source.is_symlink() or (source.exists() and not source.is_file()):
                raise HarnessError(
                    f"--weights {folder}: {source} is a link or not a regular file; the export "
                    "copies only the files pytest --save-weights wrote: replace it with one"
                )
            if not source.exists():
                missing.append(str(source))
                continue
            target = target_dir / source.name
            copies.append((source, target))
            columns[fw].append(target.as_posix())
    if missing:
        raise HarnessError(
            f"--weights {folder}: {len(missing)} weight files are missing (first: {missing[0]}); "
            "write them with: "
            + shlex.join([*_regen_args(root, profile), f"--save-weights={folder}"])
        )
    frame = frame.assign(pt_weights=columns["pytorch"], tf_weights=columns["tensorflow"])
    return frame, copies


def cmd_regen(args) -> int:
    from .cases import get_case_set
    from .profiles import get_profile
    from .regen import regen, select

    profile = get_profile(args.profile)
    check_data_dir(args.data_dir)
    cases = select(get_case_set(profile.case_set), args.k)
    address = None if args.ray in (None, "local") else args.ray
    outcome = regen(
        cases,
        profile,
        args.baselines_dir,
        address=address,
        resume=args.resume,
        data_dir=args.data_dir,
        download=args.download,
        progress=not args.no_progress,
    )
    failed = {k: v for k, v in outcome.items() if v.startswith("failed")}
    counts = {s: sum(v == s for v in outcome.values()) for s in ("written", "kept")}
    print(
        f"profile {profile.name}: {counts['written']} written, {counts['kept']} kept, "
        f"{len(failed)} failed, in {args.baselines_dir}/{profile.name}/"
    )
    for case_id, why in sorted(failed.items()):
        print(f"  {case_id}: {why}", file=sys.stderr)
    if failed:
        again = ["crossedwires", "regen", "--profile", profile.name, "--resume"]
        again += [f"-k={text}" for text in args.k or []]
        if args.ray not in (None, "local"):
            again.append(f"--ray={args.ray}")
        if Path(args.baselines_dir) != DEFAULT_BASELINES:
            again.append(f"--baselines-dir={args.baselines_dir}")
        if args.data_dir:
            again.append(f"--data-dir={args.data_dir}")
        print(f"retrain only what is missing with: {shlex.join(again)}", file=sys.stderr)
    return 1 if failed else 0


def cmd_report(args) -> int:
    from .htmlreport import write_report
    from .profiles import get_profile

    profile = get_profile(args.profile)
    out = Path(args.out or f"report-{profile.name}")
    records = load_profile_baselines(args.baselines_dir, profile.name)
    atomic.check_writable_folder(out, "--out")
    paths = write_report(records, profile.name, out, progress=not args.no_progress)
    print(f"wrote {paths['html']} and {paths['markdown']} ({len(records)} cases)")
    return 0


def cmd_cases(args) -> int:
    from .cases import get_case_set
    from .profiles import get_profile

    for case in get_case_set(get_profile(args.profile).case_set):
        print(case.case_id)
    return 0


def cmd_estimate(args) -> int:
    import pandas as pd

    from .cases import get_case_set
    from .estimate import PUBLISHED_GPU_HOURS, estimate, load_timings
    from .profiles import get_profile

    profile = get_profile(args.profile)
    cases = get_case_set(profile.case_set)
    device, timings = load_timings(args.timings)
    hours = estimate(cases, timings, profile)
    frame = pd.Series(hours).rename_axis(["framework", "arch"]).unstack("framework")
    frame["both"] = frame.sum(axis=1)
    total = float(frame["both"].sum())
    print(
        f"{len(cases)} cases of profile {profile.name}, each trained in both frameworks, "
        f"on {device} (from {args.timings}):"
    )
    print(frame.to_string(float_format=lambda v: f"{v:,.1f} h"))
    print(
        f"total: {total:,.1f} device-hours; the published runs: {PUBLISHED_GPU_HOURS} GPU-hours "
        f"(ratio {total / PUBLISHED_GPU_HOURS:.2f})"
    )
    return 0


def cmd_explain(args) -> int:
    from .cases import find_case, parse_case_id
    from .errors import ConfigError
    from .explain import default_jobs, explain, format_table
    from .profiles import get_profile

    profile = get_profile(args.profile)
    try:
        case = find_case(args.case_id)
    except ConfigError:
        try:
            case = parse_case_id(args.case_id)  # any well-formed id is a case to explain
        except ConfigError as exc:
            raise ConfigError(f"{exc}; known cases: crossedwires cases --profile NAME") from None
    if case.arch_source != "mirror":
        print(
            f"note: {case.case_id} is a zoo case; explain trains its mirror counterpart (the "
            "same hyperparameters on structurally identical models)",
            file=sys.stderr,
        )
    if args.jobs is not None and not 1 <= args.jobs <= MAX_JOBS:
        raise ConfigError(
            f"--jobs {args.jobs}: give 1 to {MAX_JOBS} worker processes (each holds PyTorch and "
            f"TensorFlow; this machine has {os.cpu_count()} cores)"
        )
    if args.out:
        check_output_file(Path(args.out), "--out")
    check_data_dir(args.data_dir)
    jobs = args.jobs or default_jobs(profile)
    report = explain(case, profile, args.data_dir, jobs=jobs, progress=not args.no_progress)
    text = json.dumps(report, indent=2, sort_keys=True) if args.json else format_table(report)
    if args.out:
        atomic.write_text(Path(args.out), text + "\n")
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        print(text)
    return 0


def cmd_diff(args) -> int:
    from .diff import baselines_at, baselines_in, compare_trees, format_markdown, format_text

    try:
        rows = compare_trees(
            baselines_at(args.rev, args.baselines_dir), baselines_in(args.baselines_dir)
        )
    except BaselineError as exc:
        raise BaselineError(f"{exc}; fix the file or regenerate the baseline") from None
    print(
        format_markdown(rows, args.rev)
        if args.format == "markdown"
        else format_text(rows, args.rev)
    )
    return 1 if (args.exit_code and rows) else 0


def cmd_knobs(args) -> int:
    from . import knobs

    if args.format == "markdown":
        print(knobs.markdown_table())
        return 0
    for k in knobs.KNOBS:
        print(f"{k.name}: {k.what}")
        print(f"    PyTorch {k.pytorch!r}, TensorFlow {k.tensorflow!r}, aligned {k.aligned!r}")
        print(f"    source: {k.source}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crossedwires", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    export = sub.add_parser("export", help="all baselines of a profile as CSV and Parquet")
    export.add_argument("--profile", default="smoke")
    export.add_argument(
        "--out",
        help="F.csv or F.parquet for one format, F for both (default: crossedwires-<profile>)",
    )
    export.add_argument("--baselines-dir", type=Path, default=DEFAULT_BASELINES)
    export.add_argument(
        "--weights",
        metavar="DIR",
        help="copy each case's trained weights (from pytest difftests --save-weights DIR) "
        "beside the export, named by case id, with their paths as columns",
    )
    export.set_defaults(func=cmd_export)

    rg = sub.add_parser(
        "regen", help="regenerate a profile's baselines as Ray tasks (local Ray or a cluster)"
    )
    rg.add_argument("--profile", default="smoke")
    rg.add_argument(
        "--ray",
        nargs="?",
        const="local",
        default="local",
        metavar="ADDRESS",
        help="Ray to run on: omitted or bare, a local Ray on this machine's cores; 'auto' or "
        "ray://HEAD:10001 for a cluster",
    )
    rg.add_argument(
        "-k", action="append", metavar="TEXT", help="only cases whose id contains TEXT (repeatable)"
    )
    rg.add_argument("--resume", action="store_true", help="keep baselines this environment wrote")
    rg.add_argument("--baselines-dir", type=Path, default=DEFAULT_BASELINES)
    rg.add_argument("--data-dir", default=None, help="folder holding CIFAR-10 (profile full)")
    rg.add_argument("--download", action="store_true", help="download CIFAR-10 where missing")
    rg.add_argument("--no-progress", action="store_true")
    rg.set_defaults(func=cmd_regen)

    rep = sub.add_parser("report", help="an HTML page with plots and a Markdown summary")
    rep.add_argument("--profile", default="smoke")
    rep.add_argument("--out", help="folder to write into (default: report-<profile>)")
    rep.add_argument("--baselines-dir", type=Path, default=DEFAULT_BASELINES)
    rep.add_argument("--no-progress", action="store_true")
    rep.set_defaults(func=cmd_report)

    est = sub.add_parser(
        "estimate", help="device-hours to regenerate a profile's cases, from measured timings"
    )
    est.add_argument("--profile", default="full")
    est.add_argument(
        "--timings",
        type=Path,
        default=Path("docs/timings-cpu.json"),
        help="JSON from benchmarks/overhead.py --json (default: docs/timings-cpu.json)",
    )
    est.set_defaults(func=cmd_estimate)

    exp = sub.add_parser(
        "explain",
        help="train a mirror case native, aligned and with each knob moved alone: which "
        "framework default carries the accuracy gap",
    )
    exp.add_argument("case_id", metavar="CASE-ID", help="e.g. from: crossedwires cases")
    exp.add_argument("--profile", default="smoke", help="where and how big (default: smoke)")
    exp.add_argument("--json", action="store_true", help="the numbers as JSON, not a table")
    exp.add_argument("--out", help="write the table (or JSON) to this file")
    exp.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="worker processes (default: the cores over the profile's threads; 1 on CUDA)",
    )
    exp.add_argument("--data-dir", default=None, help="folder holding CIFAR-10 (profile full)")
    exp.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    exp.set_defaults(func=cmd_explain)

    df = sub.add_parser(
        "diff", help="what moved in the baselines since a git revision: results, verdict flips"
    )
    df.add_argument("rev", nargs="?", default="HEAD", help="git revision (default: HEAD)")
    df.add_argument("--format", choices=("text", "markdown"), default="text")
    df.add_argument("--baselines-dir", type=Path, default=DEFAULT_BASELINES)
    df.add_argument(
        "--exit-code", action="store_true", help="exit 1 when anything changed (for CI)"
    )
    df.set_defaults(func=cmd_diff)

    kn = sub.add_parser("knobs", help="the known default differences between the frameworks")
    kn.add_argument("--format", choices=("text", "markdown"), default="text")
    kn.set_defaults(func=cmd_knobs)

    cases = sub.add_parser("cases", help="list the case ids of a profile's case set")
    cases.add_argument("--profile", default="smoke")
    cases.set_defaults(func=cmd_cases)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except HarnessError as exc:
        print(f"crossedwires: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a write that failed after its location was checked (disk full)
        if isinstance(exc, BrokenPipeError):  # `crossedwires cases | head`: the reader left
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"crossedwires: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
