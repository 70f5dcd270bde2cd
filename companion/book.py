"""Notebook plumbing: one call to set a chapter up, glued numbers, provenance, progress bars.

Every chapter notebook has one papermill ``parameters`` cell (``profile = "auto"``, ``seed``), then one
cell with the chapter's sizes for the three profiles, written as code the reader can change::

    SIZES = {
        "smoke": dict(model="tiny-random-bert", train_size=64,  epochs=1),  # seconds, random weights
        "cpu":   dict(model="minilm",           train_size=512, epochs=2),  # minutes on 2 cores, offline
        "gpu":   dict(model="bert-base-uncased", train_size=None, epochs=3),  # Colab GPU, hub data
    }
    P, device = book.setup(profile, SIZES, seed=seed)

:func:`setup` resolves the profile (:func:`resolve_profile`), checks the three profiles have the same
keys, seeds Python, NumPy and PyTorch, quiets the libraries and prints one line. Profiles change sizes,
ids and precision only, never the code path:

* ``smoke`` -- tiny randomly initialised models, fixture data; seconds. CI runs every notebook so.
* ``cpu`` -- real pretrained weights and real data that exist offline; minutes on 2 CPU cores.
* ``gpu`` -- the full experiment on a Colab GPU with hub models and datasets.

Book section: the preface ("How to run this book") and every chapter's set-up cell.
"""

from __future__ import annotations

import os
import platform
import random
import sys
import time
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

import numpy as np
import torch

from . import checks

PROFILE_NAMES = ("smoke", "cpu", "gpu")
ENV_VAR = "COMPANION_PROFILE"
PROGRESS_ENV_VAR = "COMPANION_PROGRESS"

_START = [time.perf_counter()]


class Settings(Mapping):
    """A chapter's sizes for the chosen profile: read-only, by attribute (``P.batch_size``) or key.

    ``P.name`` is the profile's name.
    """

    def __init__(self, name: str, values: Mapping[str, Any]):
        object.__setattr__(self, "_values", MappingProxyType({"name": name, **values}))

    def __getattr__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(f"the {self._values['name']!r} settings have no {key!r} "
                                 f"(they have {sorted(self._values)})") from None

    def __setattr__(self, key, value):
        raise AttributeError("settings are read-only: change the SIZES cell and run setup again")

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Settings({dict(self._values)!r})"

    def summary(self) -> str:
        """``name: k=v, k=v, ...`` on one line, numbers formatted so that 3e-4 stays 3e-4."""
        return ", ".join(f"{k}={_fmt(v)}" for k, v in self._values.items() if k != "name")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def resolve_profile(requested: str = "auto") -> tuple[str, str]:
    """Resolve a profile request to ``smoke``, ``cpu`` or ``gpu``.

    ``$COMPANION_PROFILE`` overrides ``requested``; ``"auto"`` is ``gpu`` when CUDA is available,
    else ``cpu``.

    Returns:
        ``(name, reason)``: the profile and a short phrase saying why.

    Raises:
        TypeError: ``requested`` is not a string.
        ValueError: ``requested`` (or ``$COMPANION_PROFILE``) is not ``auto`` or a profile name.
    """
    if not isinstance(requested, str):
        raise TypeError(f"profile: expected a string, got {type(requested).__name__}")
    req = requested.strip().lower()
    checks.one_of(req, "profile", ("auto", *PROFILE_NAMES))
    env = os.environ.get(ENV_VAR, "").strip().lower()
    if env:
        checks.one_of(env, f"${ENV_VAR}", PROFILE_NAMES)
        name, reason = env, f"${ENV_VAR}={env}"
    elif req in PROFILE_NAMES:
        name, reason = req, "asked for by the notebook"
    elif torch.cuda.is_available():
        return "gpu", f"auto: CUDA device {torch.cuda.get_device_name(0)}"
    else:
        return "cpu", "auto: no CUDA device"
    if name == "gpu" and not torch.cuda.is_available():
        reason += "; warning: no CUDA device, the full-size run will be very slow"
    return name, reason


def check_sizes(sizes: Mapping[str, Mapping[str, Any]]) -> None:
    """Check a chapter's ``SIZES``: exactly the three profiles, each a dict with the same keys.

    Raises:
        TypeError: ``sizes`` or one of its entries is not a mapping.
        ValueError: a profile is missing or extra, or the keys differ (the message lists them).
    """
    if not isinstance(sizes, Mapping):
        raise TypeError(f"sizes: expected a dict of the three profiles, got {type(sizes).__name__}")
    if set(sizes) != set(PROFILE_NAMES):
        raise ValueError(f"sizes: expected exactly the profiles {PROFILE_NAMES}, got {tuple(sizes)}")
    for name in PROFILE_NAMES:
        if not isinstance(sizes[name], Mapping):
            raise TypeError(f"sizes[{name!r}]: expected a dict, got {type(sizes[name]).__name__}")
        if "name" in sizes[name]:
            raise ValueError(f"sizes[{name!r}]: 'name' is reserved (it is the profile's name)")
    keys = {name: set(sizes[name]) for name in PROFILE_NAMES}
    union = set().union(*keys.values())
    for name in PROFILE_NAMES:
        missing = sorted(union - keys[name])
        if missing:
            raise ValueError(f"sizes[{name!r}]: missing {missing} (every profile needs the same keys)")


def seed_everything(seed: int) -> int:
    """Seed Python's ``random``, NumPy's global generator and PyTorch (CPU and CUDA).

    Raises:
        TypeError / ValueError: ``seed`` is not an int >= 0.
    """
    seed = checks.integer(seed, "seed", minimum=0)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return seed


def quiet() -> None:
    """Keep library chatter (logging, ``datasets`` progress bars, known warnings) out of notebook outputs."""
    import warnings

    import datasets
    import transformers

    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    datasets.logging.set_verbosity_error()
    datasets.disable_progress_bars()


def setup(profile: str, sizes: Mapping[str, Mapping[str, Any]], *, seed: int = 0,
          show: bool = True) -> tuple[Settings, torch.device]:
    """Resolve the profile, check ``sizes``, seed, quiet the libraries, print one line.

    Also restarts the clock that :func:`provenance` reports.

    Args:
        profile: the notebook's ``profile`` parameter (``"auto"``, ``"smoke"``, ``"cpu"``, ``"gpu"``).
        sizes: ``{"smoke": {...}, "cpu": {...}, "gpu": {...}}`` with the same keys in each.
        seed: seeds ``random``, NumPy and PyTorch.
        show: print ``profile <name> (<why>): k=v, ...``.

    Returns:
        ``(P, device)``: the chosen profile's :class:`Settings` and ``torch.device("cuda")`` if one is
        available, else ``cpu``.

    Raises:
        TypeError / ValueError: see :func:`resolve_profile`, :func:`check_sizes`, :func:`seed_everything`.
    """
    _START[0] = time.perf_counter()
    show = checks.boolean(show, "show")
    name, why = resolve_profile(profile)
    check_sizes(sizes)
    seed_everything(seed)
    quiet()
    settings = Settings(name, sizes[name])
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if show:
        print(f"profile {name} ({why}); device {device.type}; {settings.summary()}")
    return settings, device


def glue(name: str, value: Any, display: bool = False) -> None:
    """Record ``value`` under ``name`` for the book's prose (``{glue:text}`name:.3f```).

    NumPy scalars are turned into plain Python numbers first (the site cannot format ``np.float64``
    records). Outside a Jupyter Book build (e.g. on Colab, without ``myst_nb``) it does nothing.
    Returns nothing, so a glue call at the end of a cell prints nothing.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name: expected a non-empty string, got {name!r}")
    display = checks.boolean(display, "display")
    value = plain(value)
    try:
        from myst_nb import glue as _glue
    except ImportError:
        return None
    _glue(name, value, display=display)
    return None


def plain(value: Any) -> Any:
    """``value`` with NumPy scalars and one-element tensors turned into Python numbers."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    return value


def interactive() -> bool:
    """True on Colab or in a Jupyter kernel, unless ``$COMPANION_PROGRESS=0``; ``=1`` forces it on.

    The scripts that execute notebooks for the committed outputs (``scripts/run_notebooks.py``, the
    pytest/nbval configuration) set ``COMPANION_PROGRESS=0``, so no progress bar lands in a committed
    notebook.
    """
    env = os.environ.get(PROGRESS_ENV_VAR)
    if env in ("0", "1"):
        return env == "1"
    return "google.colab" in sys.modules or "ipykernel" in sys.modules


def progress(iterable: Iterable, *, total: int | None = None, desc: str | None = None) -> Iterable:
    """``tqdm.auto.tqdm(iterable)`` when :func:`interactive`, else ``iterable`` unchanged.

    Raises:
        TypeError / ValueError: ``iterable`` is not iterable; ``total`` not an int >= 0 (or ``None``);
            ``desc`` not a string (or ``None``).
    """
    if not hasattr(iterable, "__iter__"):
        raise TypeError(f"iterable: expected something to iterate over, got {type(iterable).__name__}")
    if total is not None:
        total = checks.integer(total, "total", minimum=0)
    if desc is not None:
        checks.text(desc, "desc")
    if not interactive():
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, leave=False)


def cpu_name() -> str:
    """The CPU model name from ``/proc/cpuinfo`` (Linux), else ``platform.processor()`` or the machine."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance(profile: str | None = None, extra_packages: Iterable[str] = ("datasets", "peft", "sklearn")) -> str:
    """How this notebook's outputs were produced, for its last cell.

    Returns:
        Lines with the profile, device (GPU name or CPU model), thread count, package versions and the
        wall time in seconds since :func:`setup`.

    Raises:
        TypeError: ``profile`` is not a string (or ``None``); ``extra_packages`` is not a list of names.
    """
    if profile is not None:
        checks.text(profile, "profile")
    extra_packages = checks.texts(extra_packages, "extra_packages", allow_empty=True)
    import importlib

    import transformers

    import companion

    device = f"GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else f"CPU {cpu_name()}"
    versions = [f"python {platform.python_version()}", f"torch {torch.__version__}",
                f"transformers {transformers.__version__}"]
    for name in extra_packages:
        try:
            versions.append(f"{name} {importlib.import_module(name).__version__}")
        except ImportError:
            versions.append(f"{name} (not installed)")
    versions.append(f"companion {companion.__version__}")
    head = f"profile {profile}; " if profile else ""
    return (f"{head}{device}; {torch.get_num_threads()} torch threads, {os.cpu_count()} logical CPUs\n"
            + ", ".join(versions) + f"\nnotebook wall time: {time.perf_counter() - _START[0]:.0f} s")
