"""Write constraints.txt without some packages: the upgrade gate pins everything else.

    python scripts/gate_constraints.py --drop torch torchvision --out /tmp/gate-constraints.txt

The tox environments ``gate-*`` install another version of a framework with the other pins of
the reference (``constraints.txt``) kept, so that only the framework under test changes.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--drop", nargs="+", required=True, help="package names to unpin")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--constraints", type=Path, default=ROOT / "constraints.txt")
    args = parser.parse_args(argv)
    drop = {d.lower().replace("_", "-") for d in args.drop}
    kept, dropped = [], set()
    for line in args.constraints.read_text().splitlines():
        name = re.split(r"[=<>!~ ;\[]", line.strip(), maxsplit=1)[0].lower().replace("_", "-")
        if name and not line.lstrip().startswith("#") and name in drop:
            dropped.add(name)
            continue
        kept.append(line)
    missing = drop - dropped
    if missing:
        sys.exit(f"{args.constraints}: no pin for {', '.join(sorted(missing))} to drop")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(kept) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
