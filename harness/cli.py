"""The ``crossedwires`` command: work with cases and baselines outside pytest.

    crossedwires cases --profile smoke            list the case ids of a profile's case set
    crossedwires export --profile smoke [--out F] all baselines of a profile, CSV and Parquet
    crossedwires report --profile smoke           an HTML page with plots, a Markdown summary
    crossedwires regen --profile full --ray [ADDR] regenerate baselines as Ray tasks
    crossedwires estimate --profile full          hours to regenerate, from measured timings
    crossedwires explain CASE-ID [--json]         which framework default carries a gap
    crossedwires localize CASE-ID|FOUND [--json]  the first layer where the frameworks part
    crossedwires fuzz [--minutes N]               random small models; findings shrunk, kept
    crossedwires knobs [--format markdown]        the knob table (harness/knobs.py)
    crossedwires diff [REV] [--format markdown]   baselines moved/flipped since REV (HEAD)

Checking runs through pytest (``pytest difftests``); ``regen`` and ``explain`` train too;
``localize`` and ``fuzz`` run single training steps.
Every command runs the same default profile (``profiles.DEFAULT_PROFILE``) and finds
``baselines/`` (and ``docs/timings-cpu.json``) in the project root, as pytest finds its rootdir
(``harness/project.py``), from any folder below it; a path given on the command line is taken
from the current folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

from . import atomic, project
from .errors import BaselineError, ConfigError, HarnessError
from .explain import DEFAULT_SEEDS as DEFAULT_EXPLAIN_SEEDS
from .profiles import DEFAULT_PROFILE, PROFILES, get_profile

PACKAGE = "crossedwires"  # the distribution name, for --version
TIMINGS = "docs/timings-cpu.json"  # the committed timings, relative to the project root
SHOWN_UNUSED = 3  # unused baselines named in export's note (then "and N more")
MAX_JOBS = max(1, os.cpu_count() or 1)  # explain --jobs: one torch+TF process per job


def load_profile_baselines(root: Path, profile: str, leave_out=()) -> list[dict]:
    """Every case baseline of a profile but the paths in ``leave_out``, validated (numerics
    checks' records left out: they hold no accuracies); a bad file stops with its name and
    field."""
    from . import baselines

    folder = Path(root) / profile
    create = shlex.join(_regen_args(root, profile))
    records = []
    leave_out = set(leave_out)
    # <profile>/<arch>/<id>.json: glob follows a linked architecture folder, as the check does
    for path in sorted(folder.glob("*/*.json")) if folder.is_dir() else []:
        if path in leave_out:
            continue
        try:
            record = baselines.read(path, at_its_path=True)
        except BaselineError as exc:
            raise BaselineError(f"{exc}; regenerate it with: {create}") from None
        if baselines.kind_of(record) == "case":
            records.append(record)
    if not records:
        which = f" that a case of the profile produces (left out {len(leave_out)} unused)"
        raise HarnessError(
            f"no baselines{which if leave_out else ''} for profile {profile!r} in {folder}; "
            f"create them with: {create}"
        )
    return records


def unused_note(unused: list[Path], profile: str) -> str:
    """One line naming the unused baselines a command left out: the count and the first few."""
    shown = ", ".join(str(p) for p in unused[:SHOWN_UNUSED])
    more = f" and {len(unused) - SHOWN_UNUSED} more" if len(unused) > SHOWN_UNUSED else ""
    return (
        f"note: left out {len(unused)} unused baseline(s) that no case of profile {profile} "
        f"produces: {shown}{more}"
    )


def from_here(path: Path) -> Path:
    """``path`` as the current folder reaches it (``baselines``, ``../baselines``): short in a
    message, and right in a command pasted in the same folder."""
    return Path(os.path.relpath(path))


def default_baselines() -> Path:
    """The project root's ``baselines/``, as the current folder reaches it."""
    return from_here(project.default_baselines_dir())


def is_default_baselines(root: Path) -> bool:
    """Whether ``root`` is the folder pytest and every command use when none is given."""
    return Path(root).resolve() == project.default_baselines_dir().resolve()


def _regen_args(root: Path, profile: str) -> list[str]:
    """``pytest difftests`` regenerating a profile into ``root`` (the option only when it is
    not the default), as a list for ``shlex.join``; ``difftests`` as the current folder reaches
    the project's (``../difftests`` from ``docs/``)."""
    difftests = project.project_root() / "difftests"
    suite = str(from_here(difftests)) if difftests.is_dir() else "difftests"
    args = ["pytest", suite, "--profile", profile, "--regen-baselines"]
    if not is_default_baselines(root):
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


def cmd_export(args) -> int:
    import shutil

    from . import export
    from .cases import get_case_set

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
    # a baseline no case of the profile produces (a renamed case, a removed architecture) is
    # not a row of the dataset
    unused = project.unused_baselines(args.baselines_dir, profile.name)
    records = load_profile_baselines(args.baselines_dir, profile.name, leave_out=unused)
    if unused:
        print(unused_note(unused, profile.name), file=sys.stderr)
    if args.with_published and args.weights:
        raise HarnessError(
            "--weights with --with-published: weights are per case and the joined table has one "
            "row per trial; export them apart"
        )
    if args.with_published:
        frame = export.joined_frame(records, get_case_set(profile.case_set))
    else:
        frame = export.export_frame(records)
    if args.weights:
        frame, copies = _weights_beside(
            frame, records, Path(args.weights), profile.name, stem, args.baselines_dir
        )
    written = []
    for fmt in formats:
        path = Path(f"{stem}.{fmt}")  # not with_suffix: "results.v2" keeps its ".v2"
        if fmt == "csv":
            atomic.write_text(path, export.to_csv(frame))
        else:
            with atomic.atomic_open(path, "wb") as fh:
                export.to_parquet(frame, fh)
        written.append(str(path))
    if args.weights:
        for source, target in copies:
            with atomic.atomic_open(target, "wb") as fh, open(source, "rb") as src:
                shutil.copyfileobj(src, fh)
        written.append(f"{len(copies)} weight files in {stem}-weights/")
    what = f"{len(frame)} published trials" if args.with_published else f"{len(records)} cases"
    print(f"wrote {what} of profile {profile.name}: {', '.join(written)}")
    return 0


def _weights_beside(frame, records, folder: Path, profile: str, stem: Path, root: Path):
    """Columns naming each case's weight files, and the (source, target) copies to make: the
    files ``pytest difftests --save-weights DIR`` wrote, beside the export, named by case id."""
    target_dir = Path(f"{stem}-weights")
    copies, missing = [], []
    columns: dict[str, dict[str, str]] = {"pytorch": {}, "tensorflow": {}}  # case id -> path
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
            columns[fw][case["id"]] = target.as_posix()
    if missing:
        raise HarnessError(
            f"--weights {folder}: {len(missing)} weight files are missing (first: {missing[0]}); "
            "write them with: "
            + shlex.join([*_regen_args(root, profile), f"--save-weights={folder}"])
        )
    frame = frame.assign(  # by case id: the frame's rows are in key order, not the records'
        pt_weights=frame["case_id"].map(columns["pytorch"]),
        tf_weights=frame["case_id"].map(columns["tensorflow"]),
    )
    return frame, copies


def cmd_regen(args) -> int:
    from .cases import get_case_set
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
        if not is_default_baselines(args.baselines_dir):
            again.append(f"--baselines-dir={args.baselines_dir}")
        if args.data_dir:
            again.append(f"--data-dir={args.data_dir}")
        print(f"retrain only what is missing with: {shlex.join(again)}", file=sys.stderr)
    return 1 if failed else 0


def cmd_report(args) -> int:
    from .htmlreport import load_explanations, load_localizations, write_report

    profile = get_profile(args.profile)
    out = Path(args.out or f"report-{profile.name}")
    explanations = load_explanations(args.explain)
    localizations = load_localizations(args.localize)
    unused = project.unused_baselines(args.baselines_dir, profile.name)
    records = load_profile_baselines(args.baselines_dir, profile.name, leave_out=unused)
    if unused:
        print(unused_note(unused, profile.name), file=sys.stderr)
    atomic.check_writable_folder(out, "--out")
    paths = write_report(
        records,
        profile.name,
        out,
        progress=not args.no_progress,
        explanations=explanations,
        localizations=localizations,
    )
    print(f"wrote {paths['html']} and {paths['markdown']} ({len(records)} cases)")
    return 0


def cmd_cases(args) -> int:
    from .cases import get_case_set

    for case in get_case_set(get_profile(args.profile).case_set):
        print(case.case_id)
    return 0


def cmd_estimate(args) -> int:
    import pandas as pd

    from .cases import get_case_set
    from .estimate import estimate, format_hours, load_timings, published_context

    profile = get_profile(args.profile)
    cases = get_case_set(profile.case_set)
    device, timings = load_timings(args.timings)
    hours = estimate(cases, timings, profile)
    frame = pd.Series(hours).rename_axis(["framework", "arch"]).unstack("framework")
    frame["both"] = frame.sum(axis=1)
    total = float(frame["both"].sum())
    print(f"hardware: {device} (the timings in {args.timings} were measured there)")
    print(
        f"{len(cases)} cases of profile {profile.name}, each trained in both frameworks, "
        "projected on that hardware:"
    )
    print(frame.to_string(float_format=format_hours))
    print(f"total: {format_hours(total)} on {device}")
    print(published_context())
    return 0


def cmd_explain(args) -> int:
    from .cases import find_case, parse_case_id
    from .explain import default_jobs, explain, format_table, zoo_note

    profile = get_profile(args.profile)
    try:
        case = find_case(args.case_id)
    except ConfigError:
        try:
            case = parse_case_id(args.case_id)  # any well-formed id is a case to explain
        except ConfigError as exc:
            raise ConfigError(f"{exc}; known cases: crossedwires cases --profile NAME") from None
    if args.jobs is not None and not 1 <= args.jobs <= MAX_JOBS:
        raise ConfigError(
            f"--jobs {args.jobs}: give 1 to {MAX_JOBS} worker processes (each holds PyTorch and "
            f"TensorFlow; this machine has {os.cpu_count()} cores)"
        )
    for option, value in (("--out", args.out), ("--save-json", args.save_json)):
        if value:
            check_output_file(Path(value), option)
    check_data_dir(args.data_dir)
    if args.seeds < 1:
        raise ConfigError(f"--seeds {args.seeds}: give 1 or more (3 or more give intervals)")
    jobs = args.jobs or default_jobs(profile)
    note = zoo_note(case, profile)
    if note:  # before any training, after every check of the command line
        print(note, file=sys.stderr, flush=True)
    report = explain(
        case,
        profile,
        args.data_dir,
        jobs=jobs,
        progress=not args.no_progress,
        seeds=args.seeds,
        which=args.plan,
    )
    as_json = json.dumps(report, indent=2, sort_keys=True)
    if args.save_json:
        atomic.write_text(Path(args.save_json), as_json + "\n")
        print(f"wrote {args.save_json}", file=sys.stderr)
    return _emit(as_json if args.json else format_table(report), args.out)


def cmd_localize(args) -> int:
    from .localize import case_of, format_table, localize_case

    profile = get_profile(args.profile)
    found = args.case_id.endswith(".json")  # a finding of crossedwires fuzz
    if found:
        from .fuzz import read_found

        read_found(Path(args.case_id))  # a bad file stops here, naming the field
    else:
        case_of(args.case_id)  # an unknown or zoo id stops here, before any framework loads
    if args.out:
        check_output_file(Path(args.out), "--out")
    check_data_dir(args.data_dir)
    if args.layers is not None and args.layers < 1:
        raise ConfigError(f"--layers {args.layers}: give 1 or more layers to show")
    if found:
        from .fuzz import localize_found
        from .runner import environment

        environment(profile)  # threads and determinism, before any op runs
        report = localize_found(Path(args.case_id))
    else:
        report = localize_case(args.case_id, profile, args.data_dir)
    if args.json:
        text = json.dumps(report, indent=2, sort_keys=True, default=float)
    else:
        text = format_table(report, args.layers)
    return _emit(text, args.out)


def _emit(text: str, out: str | None) -> int:
    """A command's result: written to ``out`` atomically (saying so on stderr), or printed."""
    if out:
        atomic.write_text(Path(out), text + "\n")
        print(f"wrote {out}", file=sys.stderr)
    else:
        print(text)
    return 0


MAX_MINUTES = 24 * 60  # fuzz --minutes: a day at most


def cmd_fuzz(args) -> int:
    from . import fuzz
    from .runner import environment

    if not 0 < args.minutes <= MAX_MINUTES:
        raise ConfigError(
            f"--minutes {args.minutes}: give more than 0 and at most {MAX_MINUTES} (a day)"
        )
    if not 1 <= args.examples <= 10_000:
        raise ConfigError(f"--examples {args.examples}: give 1 to 10000 examples per round")
    folder = Path(args.out) if args.out else from_here(fuzz.found_folder())
    atomic.check_writable_folder(folder, "--out")
    props = fuzz.PROPERTIES if args.property == "both" else (args.property,)
    environment(get_profile(DEFAULT_PROFILE))  # threads and determinism, before any op runs
    fuzz.run(args.minutes, folder, props, seed=args.seed, examples_per_round=args.examples)
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


class UsageError(HarnessError):
    """A command line argparse refused: one line, with where the help is."""


class _Parser(argparse.ArgumentParser):
    """argparse with the harness's one-line errors (``crossedwires: error: ...``, no usage
    block): the option, the value, the fix and the help page that lists the rest."""

    def error(self, message):
        raise UsageError(f"{message}; see: {self.prog} --help")


def package_version() -> str:
    from importlib import metadata

    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "(not installed: run from a source checkout)"


def _profile_name(value: str) -> str:
    """--profile's type: a profile's name, or the message naming the valid ones."""
    try:
        return get_profile(value).name
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_profile(parser, what: str) -> None:
    parser.add_argument(
        "--profile",
        type=_profile_name,
        choices=sorted(PROFILES),
        default=DEFAULT_PROFILE,
        help=f"{what}: where and how big (smoke: CPU, embedded data, minutes; full: CUDA, "
        "CIFAR-10, the paper's epochs; tiny: the smallest, for tests) (default: %(default)s)",
    )


def _add_baselines_dir(parser, what: str) -> None:
    parser.add_argument(
        "--baselines-dir",
        type=Path,
        default=default_baselines(),
        metavar="DIR",
        help=f"folder {what}, holding <profile>/<arch>/<case-id>.json (default: %(default)s, "
        "the project root's baselines/, found as pytest finds its rootdir; a path given here is "
        "taken from the current folder)",
    )


def _add_no_progress(parser) -> None:
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar on stderr (for logs and CI)"
    )


def build_parser() -> argparse.ArgumentParser:
    summary, _, listing = __doc__.partition("\n\n")
    parser = _Parser(
        prog="crossedwires",
        description=summary,
        epilog=listing.strip().replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=summary, description=description)

    export = command(
        "export",
        "all baselines of a profile as CSV and Parquet",
        "Write the baselines of a profile as one table, a row per case: the published "
        "CrossedWires dataset's columns under their published names first, then ours (a unique "
        "key, every seed, the gap's interval and tests, the verdict, versions and device; "
        "docs/export.md). --with-published writes one row per published trial of the profile's "
        "case set instead, the published results beside ours. A baseline that no case of the "
        "profile produces (a renamed case, a removed architecture) is left out and named on "
        "stderr.",
    )
    _add_profile(export, "the profile to export")
    export.add_argument(
        "--out",
        metavar="NAME",
        help="NAME.csv or NAME.parquet for one format, NAME for both (default: "
        "crossedwires-<profile> in the current folder)",
    )
    _add_baselines_dir(export, "to read the baselines from")
    export.add_argument(
        "--weights",
        metavar="DIR",
        help="copy each case's trained weights (from pytest difftests --save-weights DIR) "
        "beside the export, named by case id, with their paths as columns",
    )
    export.add_argument(
        "--with-published",
        action="store_true",
        help="one row per published trial of the profile's case set (missing runs empty, not "
        "dropped): published_* beside ours_* (zoo), ours_mirror_* and ours_aligned_*",
    )
    export.set_defaults(func=cmd_export)

    rg = command(
        "regen",
        "regenerate a profile's baselines as Ray tasks (local Ray or a cluster)",
        "Train every case of a profile (or those -k selects) in both frameworks as Ray tasks and "
        "write their baselines, as pytest difftests --regen-baselines does. A case that fails "
        "keeps its old baseline; --resume retrains only what is missing.",
    )
    _add_profile(rg, "the profile to regenerate")
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
    _add_baselines_dir(rg, "to write the baselines into")
    rg.add_argument("--data-dir", default=None, help="folder holding CIFAR-10 (profile full)")
    rg.add_argument("--download", action="store_true", help="download CIFAR-10 where missing")
    _add_no_progress(rg)
    rg.set_defaults(func=cmd_regen)

    rep = command(
        "report",
        "an HTML page with plots and a Markdown summary",
        "Write a self-contained HTML page (plots embedded, nothing fetched) and a Markdown "
        "summary of a profile's baselines beside the published CrossedWires results: a "
        "Figure-2 view per architecture, our gap against the published per trial, accuracies "
        "with tolerance and chance bands, verdicts, loss curves, knob attributions, and a case "
        "table that sorts and filters.",
    )
    _add_profile(rep, "the profile to report on")
    rep.add_argument(
        "--out",
        metavar="DIR",
        help="folder to write into (default: report-<profile> in the current folder)",
    )
    _add_baselines_dir(rep, "to read the baselines from")
    rep.add_argument(
        "--explain",
        action="append",
        default=[],
        metavar="FILE",
        help="a result of crossedwires explain CASE-ID --json --out FILE, drawn as the case's "
        "knob attribution (repeatable)",
    )
    rep.add_argument(
        "--localize",
        action="append",
        default=[],
        metavar="FILE",
        help="a result of crossedwires localize CASE-ID --json --out FILE, drawn as the "
        "case's per-layer distances (repeatable)",
    )
    _add_no_progress(rep)
    rep.set_defaults(func=cmd_report)

    est = command(
        "estimate",
        "hours to regenerate a profile's cases, from measured timings",
        "Project how long training a profile's cases in both frameworks takes, from training "
        "throughput measured by benchmarks/overhead.py on one machine: the hours hold for that "
        "hardware, which the output names.",
    )
    _add_profile(est, "the profile to estimate")
    est.add_argument(
        "--timings",
        type=Path,
        default=from_here(project.project_root() / TIMINGS),
        metavar="FILE",
        help="JSON from benchmarks/overhead.py --json: the throughput and the hardware it was "
        f"measured on (default: %(default)s, the project root's {TIMINGS})",
    )
    est.set_defaults(func=cmd_estimate)

    exp = command(
        "explain",
        "which framework default carries a case's accuracy gap",
        "Train a mirror case native, aligned and with each knob moved alone, with K seeds each, "
        "and print how much of the accuracy gap each framework default carries, with "
        "intervals. A zoo case id runs its mirror counterpart at width 1.0 (said before "
        "training starts). Trains: minutes on the smoke profile.",
    )
    exp.add_argument("case_id", metavar="CASE-ID", help="e.g. from: crossedwires cases")
    _add_profile(exp, "the profile to train under")
    exp.add_argument("--json", action="store_true", help="the numbers as JSON, not a table")
    exp.add_argument("--out", metavar="FILE", help="write the table (or JSON) to this file")
    exp.add_argument(
        "--save-json",
        metavar="FILE",
        help="also write the numbers as JSON here (for crossedwires report --explain FILE)",
    )
    exp.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="worker processes (default: the cores over the profile's threads; 1 on CUDA)",
    )
    exp.add_argument(
        "--seeds",
        type=int,
        default=DEFAULT_EXPLAIN_SEEDS,
        help="seeds per configuration: every gap and effect gets an interval over them "
        "(default: %(default)s)",
    )
    exp.add_argument(
        "--plan",
        choices=("cheap", "full"),
        default=None,
        help="cheap: each knob moved from the aligned side only (about one run per knob and "
        "seed); full: from the native side too, for both residuals and the interactions "
        "(default: cheap on a CPU, full on CUDA)",
    )
    exp.add_argument("--data-dir", default=None, help="folder holding CIFAR-10 (profile full)")
    _add_no_progress(exp)
    exp.set_defaults(func=cmd_explain)

    loc = command(
        "localize",
        "the first layer where the two frameworks part, forward, backward and step",
        "Build a mirror case's model in both frameworks (each with its mode's knob settings) "
        "from the same weights, run one training step on the numerics batch, and per layer "
        "compare the forward output, the gradients and the step's update, judged against "
        "the float32 noise measured with float64 runs (as the numerics check does). Prints the "
        "first diverging layer of each pass and a rate-of-change score per layer (docs/"
        "localize.md). A zoo case id is refused, naming its mirror counterpart. Seconds.",
    )
    loc.add_argument(
        "case_id", metavar="CASE-ID", help="a mirror case, e.g. from: crossedwires cases"
    )
    _add_profile(loc, "the profile whose width, seed and batch to use")
    loc.add_argument("--json", action="store_true", help="the numbers as JSON, not a table")
    loc.add_argument("--out", metavar="FILE", help="write the table (or JSON) to this file")
    loc.add_argument(
        "--layers",
        type=int,
        default=40,
        metavar="N",
        help="layers shown in the table, the diverging ones kept (default: %(default)s; "
        "--json has all)",
    )
    loc.add_argument("--data-dir", default=None, help="folder holding CIFAR-10 (profile full)")
    loc.set_defaults(func=cmd_localize)

    fz = command(
        "fuzz",
        "draw small random mirror models until the time is spent; keep what differs",
        "Hypothesis draws small mirror models and Adam settings; each is run one training "
        "step in both frameworks from the same weights, with every knob aligned (property "
        "aligned: must agree) and with each framework's defaults (property native: every "
        "difference is named by a knob or is new). Each finding is shrunk to a minimal model "
        "and written as difftests/found/<id>.json, which pytest difftests re-checks "
        "(docs/localize.md). Progress on stderr.",
    )
    fz.add_argument(
        "--minutes", type=float, default=5.0, help="how long to run (default: %(default)s)"
    )
    fz.add_argument(
        "--property",
        choices=("both", *("aligned", "native")),
        default="both",
        help="which property to test (default: %(default)s)",
    )
    fz.add_argument(
        "--seed",
        type=int,
        default=None,
        help="first Hypothesis seed (default: fresh seeds every round)",
    )
    fz.add_argument(
        "--examples", type=int, default=25, help="examples per round (default: %(default)s)"
    )
    fz.add_argument(
        "--out",
        metavar="DIR",
        help="folder to write findings into (default: the project root's difftests/found/)",
    )
    fz.set_defaults(func=cmd_fuzz)

    df = command(
        "diff",
        "what moved in the baselines since a git revision: results, flips, environment",
        "Compare the baselines in the working tree with those at a git revision: per case, "
        "which results moved and by how much, which verdicts flipped, and what changed in the "
        "environment (versions and platform, per framework). --format markdown gives a "
        "pull-request comment.",
    )
    df.add_argument("rev", nargs="?", default="HEAD", help="git revision (default: %(default)s)")
    df.add_argument(
        "--format",
        choices=("text", "markdown"),
        default="text",
        help="plain text or a Markdown table (default: %(default)s)",
    )
    _add_baselines_dir(df, "to compare")
    df.add_argument(
        "--exit-code", action="store_true", help="exit 1 when anything changed (for CI)"
    )
    df.set_defaults(func=cmd_diff)

    kn = command(
        "knobs",
        "the known default differences between the frameworks",
        "List the knobs: each documented default difference between PyTorch and TensorFlow, "
        "with both defaults, the aligned value and the source (harness/knobs.py).",
    )
    kn.add_argument(
        "--format",
        choices=("text", "markdown"),
        default="text",
        help="plain text or a Markdown table (default: %(default)s)",
    )
    kn.set_defaults(func=cmd_knobs)

    cases = command(
        "cases",
        "list the case ids of a profile's case set",
        "Print the id of every case of a profile's case set, one a line (for -k, explain, grep).",
    )
    _add_profile(cases, "the profile whose cases to list")
    cases.set_defaults(func=cmd_cases)
    return parser


TRAINING_COMMANDS = (
    "explain",
    "regen",
    "localize",
    "fuzz",
)  # they import TensorFlow and show a progress bar


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command in TRAINING_COMMANDS:
            from .logs import quiet_framework_logs

            quiet_framework_logs()  # before TensorFlow is imported; workers inherit it
        return args.func(args)
    except SystemExit as exc:  # --help, --version: printed; argparse's status
        return exc.code if isinstance(exc.code, int) else 0
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
