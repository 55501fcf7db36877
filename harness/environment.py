"""The environment a result was produced in, recorded in every baseline: versions, and the
*platform* (the hardware and the kernels each framework dispatches to on it).

A float32 result depends on the kernels that computed it: the same versions give other bits on
another CPU (AVX-512 against AVX2 kernels, another vendor's) or GPU. So a record holds both, and
a check that fails says which of the two changed since its baseline (``describe_change``).
"""

from __future__ import annotations

import os
import platform as _platform
from importlib import metadata

# Environment variables that cap or switch the kernels the frameworks dispatch to.
KERNEL_VARIABLES = (
    "ONEDNN_MAX_CPU_ISA",  # oneDNN (TensorFlow's CPU kernels; PyTorch's mkldnn ops)
    "DNNL_MAX_CPU_ISA",  # its older name
    "ATEN_CPU_CAPABILITY",  # PyTorch's CPU dispatch (default, avx2, avx512, ...)
    "TF_ENABLE_ONEDNN_OPTS",  # TensorFlow's oneDNN kernels on (default on x86) or off
    "MKL_ENABLE_INSTRUCTIONS",
    "OPENBLAS_CORETYPE",
)

# oneDNN's ISA names, best first, with the /proc/cpuinfo flags each needs.
_ONEDNN_ISAS = (
    ("AVX512_CORE_AMX", ("amx_tile", "amx_bf16", "avx512_bf16", "avx512_vnni")),
    ("AVX512_CORE_BF16", ("avx512_bf16", "avx512_vnni")),
    ("AVX512_CORE_VNNI", ("avx512_vnni", "avx512bw")),
    ("AVX512_CORE", ("avx512f", "avx512bw", "avx512vl", "avx512dq")),
    ("AVX2_VNNI", ("avx2", "avx_vnni")),
    ("AVX2", ("avx2", "fma")),
    ("AVX", ("avx",)),
    ("SSE41", ("sse4_1",)),
)


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (empty where there is none)."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def cpu_name() -> str:
    return _cpuinfo().get("model name") or _platform.processor() or "cpu"


def onednn_isa(flags: set[str], cap: str | None) -> str:
    """The ISA oneDNN dispatches to: the best one the CPU's flags allow, at most ``cap``
    (``ONEDNN_MAX_CPU_ISA``). Derived from the flags as oneDNN's own detection does."""
    names = [name for name, _ in _ONEDNN_ISAS]
    best = next((n for n, need in _ONEDNN_ISAS if set(need) <= flags), "DEFAULT")
    if cap and cap.upper() in names and best in names:
        return names[max(names.index(best), names.index(cap.upper()))]
    return best


def cpu_platform() -> dict:
    """The CPU and the kernel caps in force: what a CPU result's bits depend on besides the
    versions and the thread counts."""
    info = _cpuinfo()
    flags = set(info.get("flags", "").split())
    caps = {name: os.environ.get(name) for name in KERNEL_VARIABLES}
    return {
        "machine": _platform.machine(),
        "cpu_vendor": info.get("vendor_id") or _platform.processor() or "unknown",
        "cpu_model": cpu_name(),
        "cpu_family_model": f"{info.get('cpu family', '?')}/{info.get('model', '?')}",
        "onednn_isa": onednn_isa(flags, caps["ONEDNN_MAX_CPU_ISA"] or caps["DNNL_MAX_CPU_ISA"]),
        "kernel_variables": {k: v for k, v in caps.items() if v is not None},
    }


def common_versions() -> dict:
    return {"python": _platform.python_version(), "numpy": metadata.version("numpy")}


def worker_index() -> int:
    """This pytest-xdist worker's number (gw3 -> 3); 0 outside xdist."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(name[2:]) if name.startswith("gw") and name[2:].isdigit() else 0


# --- what changed between two environment blocks --------------------------------------------

VERSION_KEYS = ("python", "numpy")
# Per framework: what belongs to the platform (the rest but "versions" is configuration).
PLATFORM_KEYS = ("device", "device_name", "kernels")


def _flat(prefix: str, value) -> dict[str, object]:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out.update(_flat(f"{prefix}.{k}" if prefix else str(k), v))
        return out
    return {prefix: value}


def _differences(then: dict, now: dict) -> list[tuple[str, object, object]]:
    a, b = _flat("", then), _flat("", now)
    return [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def differences(then: dict, now: dict, frameworks) -> dict[str, list[tuple[str, object, object]]]:
    """{"versions": [...], "platform": [...]}: each field that differs between two records'
    environment blocks, as ``(field, then, now)``; a field is dotted, its first part ``cpu``
    (the CPU), a framework, or (versions) ``python``/``numpy``. A missing field is None."""
    versions = _differences(
        {k: then.get(k) for k in VERSION_KEYS}, {k: now.get(k) for k in VERSION_KEYS}
    )
    platform = _differences({"cpu": then.get("platform") or {}}, {"cpu": now.get("platform") or {}})
    for fw in frameworks:
        a, b = then.get(fw) or {}, now.get(fw) or {}  # null: a framework a check did not run
        versions += _differences({fw: a.get("versions") or {}}, {fw: b.get("versions") or {}})
        platform += _differences(
            {fw: {k: a.get(k) for k in PLATFORM_KEYS}}, {fw: {k: b.get(k) for k in PLATFORM_KEYS}}
        )
    return {"versions": versions, "platform": platform}


def change(then: dict, now: dict, frameworks) -> dict[str, list[str]]:
    """{"versions": [...], "platform": [...]}: each field that differs between two records'
    environment blocks, as ``field then -> now``."""
    return {
        what: [f"{k} {a!r} -> {b!r}" for k, a, b in fields]
        for what, fields in differences(then, now, frameworks).items()
    }


def describe_change(delta: dict[str, list[str]]) -> str:
    """One sentence for a failure message: versions, platform, both or neither changed."""
    parts = []
    for what in ("versions", "platform"):
        if delta[what]:
            shown = "; ".join(delta[what][:4])
            more = f"; and {len(delta[what]) - 4} more" if len(delta[what]) > 4 else ""
            parts.append(f"{what} changed: {shown}{more}")
        else:
            parts.append(f"{what} unchanged")
    return "since the baseline: " + ", ".join(parts)
