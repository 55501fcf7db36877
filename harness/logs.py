"""Keep the frameworks' log lines out of a command's progress output.

TensorFlow writes C++ log lines to file descriptor 2 (INFO and WARNING lines at every import and
some fits; "NodeDef mentions attribute ..." from tf.data), and its Python side logs through the
``tensorflow`` and ``absl`` loggers. Between the lines of a progress bar they bury it. A command
that trains (``explain``, ``regen``) calls ``quiet_framework_logs`` before TensorFlow is imported;
the environment variable it sets is inherited by every process the command starts (``explain
--jobs N``'s workers, a local Ray's workers). A value the user set is kept.

Two lines are written at import before TensorFlow reads ``TF_CPP_MIN_LOG_LEVEL`` (absl's
"All log messages before absl::InitializeLog() ..." and oneDNN's INFO notice);
``import_tensorflow_quietly`` captures descriptor 2 while TensorFlow is imported and passes on
every line but those INFO and WARNING lines (an error or a fatal line still shows).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile

LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"
QUIET_LEVEL = "3"  # fatal only: tf.data logs a harmless E-level "NodeDef mentions ..." per fit

# glog-style INFO/WARNING lines (I0000 00:00:17.5 123 port.cc:153] ...), absl's notice, and the
# continuation line of cpu_feature_guard's INFO message
_NOISE = re.compile(
    r"^(?:[IW]\d{4} \d\d:\d\d:[\d.]+ +\d+ [\w./-]+:\d+\] "
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|To enable the following instructions: )"
)


def quiet_framework_logs() -> None:
    """TensorFlow's C++ logs at fatal only (unless ``TF_CPP_MIN_LOG_LEVEL`` is set), and its
    Python loggers at errors only (unless a level was set on them)."""
    os.environ.setdefault(LEVEL_VARIABLE, QUIET_LEVEL)
    for name in ("tensorflow", "absl"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.ERROR)


def is_noise(line: str) -> bool:
    """Whether ``line`` is one of TensorFlow's INFO/WARNING start-up lines."""
    return bool(_NOISE.match(line))


def import_tensorflow_quietly() -> None:
    """Import TensorFlow (through its adapter) with descriptor 2 captured, then write back what
    it wrote there but the INFO/WARNING start-up lines."""
    quiet_framework_logs()
    if "tensorflow" in sys.modules:
        return
    from .adapters import pytorch as first
    from .adapters import tensorflow as adapter

    # PyTorch first, as the runner imports them: torchvision imported after TensorFlow
    # crashes the process (a segmentation fault) with the pinned versions
    first.import_framework()

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            adapter.import_framework()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", errors="replace")
            kept = [line for line in text.splitlines(keepends=True) if not is_noise(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()
