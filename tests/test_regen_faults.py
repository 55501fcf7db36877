"""``crossedwires regen`` under faults (issue 13): an unreachable cluster, an unwritable output
folder, one baseline that cannot be written, stale temporary files of killed writes, oversized
input. No training: ``harness.regen._train`` is replaced by a stub returning a valid record, on
one local Ray shared by the file's tests."""

from __future__ import annotations

import errno
import json
import os
import socket
import time
from pathlib import Path

import pytest

import harness.regen as regen_mod
from harness import atomic, baselines
from harness.cases import get_case_set
from harness.errors import ConfigError, HarnessError
from harness.profiles import get_profile
from harness.regen import regen, select

from .conftest import make_record

pytestmark = pytest.mark.bad_input
ray = pytest.importorskip("ray")

PROFILE = get_profile("tiny")
CASES = list(get_case_set(PROFILE.case_set)[:3])  # two densenet121 cases, one resnet50


def path_of(root: Path, case) -> Path:
    return baselines.baseline_path(root, PROFILE.name, case.arch, case.case_id)


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the file (starting one takes seconds), one CPU: one worker process."""
    started = not ray.is_initialized()
    if started:
        ray.init(
            num_cpus=PROFILE.intra_op_threads,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    yield ray
    if started:
        ray.shutdown()


@pytest.fixture
def stub_train(monkeypatch, local_ray):
    """Tasks return a valid record at once. The stub is a closure, so Ray ships it by value."""
    text = baselines.dumps(make_record())

    def train(case, profile, data_dir, download):
        import json

        return json.loads(text)

    monkeypatch.setattr(regen_mod, "_train", train)
    return json.loads(text)


@pytest.fixture
def rescue(tmp_path, monkeypatch):
    folder = tmp_path / "rescue"
    monkeypatch.setattr(baselines, "RESCUE_DIR", folder)
    return folder


@pytest.fixture
def no_cluster(monkeypatch):
    """Ray not started (whatever the module fixture did), and ray.init must not be reached."""

    def init(*args, **kwargs):
        raise AssertionError("ray.init reached: the fault was not caught before it")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", init)


# --- an unreachable --ray address fails fast, naming the address and the fix ------------------


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_a_refused_address_fails_at_once_with_the_fix(tmp_path, no_cluster, scheme):
    address = f"{scheme}127.0.0.1:{closed_port()}"
    start = time.monotonic()
    with pytest.raises(HarnessError) as err:
        regen(CASES, PROFILE, tmp_path / "b", address=address, progress=False)
    assert time.monotonic() - start < 5
    message = str(err.value)
    assert "\n" not in message
    assert f"cannot reach the Ray cluster at {address} (Connection refused" in message
    assert "start the cluster with `ray start --head` or check the address" in message
    assert "`auto` needs a running cluster on this machine" in message


def test_an_address_that_does_not_answer_fails_within_the_timeout(
    tmp_path, no_cluster, monkeypatch
):
    monkeypatch.setattr(regen_mod, "CONNECT_TIMEOUT_S", 0.5)
    start = time.monotonic()
    with pytest.raises(HarnessError, match=r"cannot reach the Ray cluster at 192\.0\.2\.1:6379 \("):
        # TEST-NET-1: never routed; the connect times out (or the network says unreachable)
        regen(CASES, PROFILE, tmp_path / "b", address="192.0.2.1:6379", progress=False)
    assert time.monotonic() - start < 5


@pytest.mark.parametrize(
    "scheme, raised, match",
    [
        ("", ConnectionError("Failed to connect to Ray cluster"), "cannot connect to the Ray "
         r"cluster at 127\.0\.0\.1:\d+: Failed to connect to Ray cluster: start the cluster"),
        ("ray://", ValueError("Ray Client requires pip package `ray[client]`."),
         r"a ray:// address needs Ray Client, which is not installed: pip install -c "
         r"constraints\.txt 'ray\[client\]'"),
    ],
)  # fmt: skip
def test_a_port_that_answers_but_is_no_ray_fails_with_the_fix(
    tmp_path, monkeypatch, scheme, raised, match
):
    seen = {}

    def init(*args, **kwargs):  # what Ray raises there, after about 40 s for a GCS address
        seen["wait"] = os.environ.get("RAY_gcs_server_port_wait_time_s")
        raise raised

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", init)
    monkeypatch.delenv("RAY_gcs_server_port_wait_time_s", raising=False)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        address = f"{scheme}127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(HarnessError, match=match):
            regen(CASES, PROFILE, tmp_path / "b", address=address, progress=False)
    assert seen["wait"] == "1"  # one GCS connection attempt, not Ray's twenty
    assert "RAY_gcs_server_port_wait_time_s" not in os.environ  # and Ray's default again after


@pytest.mark.parametrize(
    "address, match",
    [
        ("head-without-port", "not an address: use HOST:PORT"),
        ("http://head:6379", "not an address: use HOST:PORT"),
        ("head:99999", "not an address: use HOST:PORT"),
        ("h" * 100_000 + ":1", "an address of 100002 characters is not an address"),
    ],
)
def test_a_malformed_address_is_refused(tmp_path, no_cluster, address, match):
    with pytest.raises(ConfigError, match=match):
        regen(CASES, PROFILE, tmp_path / "b", address=address, progress=False)


# --- the output folder is checked before Ray starts or any task runs --------------------------


def test_a_baselines_dir_that_is_a_file_is_refused(tmp_path, no_cluster):
    target = tmp_path / "baselines"
    target.write_text("not a folder")
    with pytest.raises(
        HarnessError,
        match=f"--baselines-dir {target}/tiny: {target} is in the way: a file, not a folder",
    ):
        regen(CASES, PROFILE, target, progress=False)


@pytest.mark.parametrize("where", ["profile", "arch"])
def test_a_profile_or_arch_folder_that_cannot_be_created_is_refused(tmp_path, no_cluster, where):
    blocked = tmp_path / "b" / PROFILE.name
    if where == "arch":
        blocked = blocked / CASES[0].arch
    blocked.parent.mkdir(parents=True)
    blocked.write_text("a file where the folder goes")
    with pytest.raises(HarnessError) as err:
        regen(CASES, PROFILE, tmp_path / "b", progress=False)
    assert str(err.value) == (
        f"--baselines-dir {blocked}: is a file, not a folder; give a folder, or move the file"
    )


def test_a_folder_that_cannot_be_written_is_refused(tmp_path, no_cluster, monkeypatch):
    def read_only(*args, **kwargs):  # root ignores permission bits: simulate a read-only mount
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(atomic.tempfile, "mkstemp", read_only)
    folder = tmp_path / "b" / PROFILE.name
    with pytest.raises(HarnessError) as err:
        regen(CASES, PROFILE, tmp_path / "b", progress=False)
    assert str(err.value) == (
        f"--baselines-dir {folder}: cannot write there (Read-only file system); make it "
        "writable, free some space, or give another folder"
    )


# --- one baseline that cannot be written: the others are, and its record is kept --------------


def test_a_write_failure_fails_that_case_only_and_keeps_its_record(
    tmp_path, stub_train, rescue, capsys
):
    root = tmp_path / "b"
    blocked = path_of(root, CASES[1])
    blocked.mkdir(parents=True)  # a folder where the baseline file goes
    stale = blocked.parent / f".{CASES[0].case_id}.json.abcd_123.tmp"
    stale.write_text("{")
    old = time.time() - 2 * atomic.STALE_AFTER_S
    os.utime(stale, (old, old))

    outcome = regen(CASES, PROFILE, root, progress=False)

    assert outcome[CASES[0].case_id] == outcome[CASES[2].case_id] == "written"
    for case in (CASES[0], CASES[2]):
        assert baselines.read(path_of(root, case)) == stub_train
    spare = rescue / PROFILE.name / CASES[1].arch / f"{CASES[1].case_id}.json"
    assert outcome[CASES[1].case_id] == (
        f"failed: {blocked}: cannot write the baseline (Is a directory); the old file is "
        f"unchanged and this run's record is saved at {spare}: free the space or fix the "
        "folder's permissions, then move it there"
    )
    assert json.loads(spare.read_text()) == stub_train
    assert not stale.exists()
    assert "removed 1 stale temporary file(s)" in capsys.readouterr().err


def test_a_full_disk_everywhere_prints_the_record(tmp_path, stub_train, monkeypatch, capsys):
    root = tmp_path / "b"
    lost = path_of(root, CASES[2])
    real_write = atomic.write_text

    def write_text(path, text):
        if Path(path) == lost:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(path, text)

    monkeypatch.setattr(atomic, "write_text", write_text)
    (tmp_path / "full").write_text("")  # the rescue folder cannot be created either
    monkeypatch.setattr(baselines, "RESCUE_DIR", tmp_path / "full" / "rescue")

    outcome = regen(CASES, PROFILE, root, progress=False)

    assert [outcome[c.case_id] for c in CASES[:2]] == ["written", "written"]
    assert outcome[CASES[2].case_id] == (
        f"failed: {lost}: cannot write the baseline (No space left on device); the old file is "
        "unchanged and this run's record is printed on stderr: free the space or fix the "
        "folder's permissions, then move it there"
    )
    err = capsys.readouterr().err
    start = err.index("\n", err.index(f"--- record for {lost}")) + 1
    assert json.loads(err[start : err.index(f"--- end of record for {lost}")]) == stub_train


def test_the_command_line_names_the_failed_case_and_a_pasteable_resume(
    tmp_path, stub_train, rescue, capsys
):
    from harness.cli import main

    root = tmp_path / "my baselines"
    path_of(root, CASES[1]).mkdir(parents=True)  # a folder where one baseline file goes
    args = ["regen", "--profile", "tiny", "-k", CASES[1].arch, "--baselines-dir", str(root)]
    assert main([*args, "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert f"  {CASES[1].case_id}: failed: {path_of(root, CASES[1])}: cannot write" in err
    assert err.endswith(
        f"retrain only what is missing with: crossedwires regen --profile tiny --resume "
        f"-k={CASES[1].arch} '--baselines-dir={root}'\n"
    )


# --- stale temporary files of killed writes ---------------------------------------------------


def test_only_old_temporary_files_of_the_atomic_pattern_are_removed(tmp_path):
    folder = tmp_path / "tiny" / "resnet50"
    folder.mkdir(parents=True)
    old = time.time() - 2 * atomic.STALE_AFTER_S
    names = {
        ".resnet50-adam-lr0.01-bs10-ep1-eps0.5.json.k2x_9qa0.tmp": False,  # removed
        ".other.json.00000000.tmp": False,  # removed
        ".resnet50-fresh.json.abcdefgh.tmp": True,  # a write in progress, perhaps
        ".notes.tmp": True,  # not the pattern
        "resnet50.json.abcdefgh.tmp": True,  # not hidden
        ".resnet50.json.abcdefgh.tmp.bak": True,
        ".resnet50.json.ABCDEFGH.tmp": True,  # mkstemp uses lowercase
        "kept.json": True,
    }
    for name in names:
        (folder / name).write_text("x")
        if name != ".resnet50-fresh.json.abcdefgh.tmp":
            os.utime(folder / name, (old, old))
    target = tmp_path / "elsewhere.json"
    target.write_text("not ours")
    os.utime(target, (old, old))
    link = folder / ".link.json.abcdefgh.tmp"
    link.symlink_to(target)
    os.utime(link, (old, old), follow_symlinks=False)
    (folder / ".dir.json.abcdefgh.tmp").mkdir()

    assert len(atomic.remove_stale_temporaries(tmp_path / "tiny")) == 2
    assert {p.name for p in folder.iterdir()} == {n for n, kept in names.items() if kept} | {
        link.name,
        ".dir.json.abcdefgh.tmp",
    }
    assert target.exists()
    assert atomic.remove_stale_temporaries(tmp_path / "tiny") == []


# --- bounded input -----------------------------------------------------------------------------


def test_too_many_or_too_long_selection_patterns_are_refused():
    with pytest.raises(ConfigError, match=r"-k: at most 32 patterns"):
        select(get_case_set("smoke"), ["a"] * 33)
    with pytest.raises(ConfigError, match=r"the longest 10000\)"):
        select(get_case_set("smoke"), ["a" * 10_000])
