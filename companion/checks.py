"""Argument checks shared by every public function of the package.

Each check takes the value and the *name of the argument* it came from, and either returns the value
in a normal form (an ``int``, a ``float``, a list) or raises an error whose message names the argument
and shows the bad value. Every public boundary calls these, once; nothing else re-implements them.

* numbers: :func:`integer` (never a bool, never a float that happens to be whole), :func:`number`
  (finite unless asked otherwise, never a string or a bool), :func:`probability`;
* choices and flags: :func:`one_of`, :func:`boolean`;
* text: :func:`text` (one string), :func:`texts` (a sequence of strings, never one bare string);
* tensors of ids: :func:`token_ids` (integer dtype, every id in ``[0, vocab_size)``),
  :func:`word_ids` (``None`` or an int in ``[0, length)``), :func:`class_labels` (ints in
  ``[0, num_labels)``, optionally ``ignore_index``) -- checked before anything is allocated from them;
* tensors and arrays: :func:`integers` (an integer tensor within bounds), :func:`binary_mask` (0/1 or
  bool flags), :func:`float_tensor`, :func:`finite_tensor`, :func:`numbers` (a sequence of real numbers,
  never strings);
* objects: :func:`instance`, :func:`function`;
* files: :func:`existing_path`.

TypeError means "wrong kind of thing" (a string where a number goes); ValueError means "right kind,
wrong value" (a negative count, NaN, an id past the vocabulary).
"""

from __future__ import annotations

import math
from numbers import Integral, Number, Real
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch

__all__ = [
    "integer", "number", "probability", "one_of", "boolean", "text", "texts", "token_ids", "word_ids",
    "class_labels", "existing_path", "finite_tensor", "same_length", "integers", "binary_mask", "float_tensor",
    "numbers", "instance", "function",
]


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def integer(value: Any, name: str, *, minimum: int | None = 1, maximum: int | None = None) -> int:
    """``value`` as an ``int`` in ``[minimum, maximum]`` (default: a positive int).

    Accepts Python and NumPy integers (and 0-d integer tensors); rejects bools, floats (even ``2.0``)
    and strings.

    Raises:
        TypeError: ``value`` is not an integer.
        ValueError: ``value`` is outside the range.
    """
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point() \
            and value.dtype != torch.bool:
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Integral):
        raise TypeError(f"{name}: expected an int, got {_show(value)} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name}: expected an int <= {maximum}, got {value}")
    return value


def number(value: Any, name: str, *, minimum: float | None = None, maximum: float | None = None,
           strict_minimum: bool = False, strict_maximum: bool = False, finite: bool = True) -> float:
    """``value`` as a ``float`` within the given bounds.

    Args:
        minimum, maximum: bounds (``None``: unbounded); inclusive unless ``strict_minimum`` /
            ``strict_maximum``.
        finite: reject NaN and +-inf (default). NaN is rejected even when ``finite=False``.

    Raises:
        TypeError: ``value`` is a bool, a string or not a real number.
        ValueError: NaN, infinite (when ``finite``), or out of bounds.
    """
    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.dtype != torch.bool:
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
        raise TypeError(f"{name}: expected a number, got {_show(value)} ({type(value).__name__})")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name}: expected a number, got NaN")
    if finite and math.isinf(value):
        raise ValueError(f"{name}: expected a finite number, got {value}")
    if minimum is not None and (value < minimum or (strict_minimum and value == minimum)):
        raise ValueError(f"{name}: expected a number {'>' if strict_minimum else '>='} {minimum}, got {value}")
    if maximum is not None and (value > maximum or (strict_maximum and value == maximum)):
        raise ValueError(f"{name}: expected a number {'<' if strict_maximum else '<='} {maximum}, got {value}")
    return value


def probability(value: Any, name: str, *, allow_zero: bool = True, allow_one: bool = True) -> float:
    """``value`` as a float in ``[0, 1]`` (or the open ends, if ``allow_zero``/``allow_one`` is False).

    Raises:
        TypeError / ValueError: as :func:`number`.
    """
    return number(value, name, minimum=0.0, maximum=1.0, strict_minimum=not allow_zero,
                  strict_maximum=not allow_one)


def one_of(value: Any, name: str, choices: Iterable[Any]) -> Any:
    """``value`` if it is one of ``choices`` (equal and of the same kind: ``1.0`` and ``True`` are not ``1``;
    NumPy ints match ints).

    Raises:
        ValueError: otherwise; the message lists the choices.
    """
    choices = tuple(choices)

    def same(choice) -> bool:  # equal and of the same kind: never True for 1, nor 1.0 for 1
        if isinstance(choice, (bool, np.bool_)) or isinstance(value, (bool, np.bool_)):
            return choice is value
        kinds_match = type(choice) is type(value) or (isinstance(choice, Integral) and isinstance(value, Integral))
        try:
            return kinds_match and bool(choice == value)
        except (TypeError, ValueError, RuntimeError):  # e.g. an array-like value
            return False

    if not any(same(c) for c in choices):
        raise ValueError(f"{name}: expected one of {choices}, got {_show(value)}")
    return value


def boolean(value: Any, name: str) -> bool:
    """``value`` if it is ``True`` or ``False`` (NumPy bools allowed).

    Raises:
        TypeError: for anything else, e.g. ``1`` or ``"yes"``.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {_show(value)}")
    return bool(value)


def text(value: Any, name: str) -> str:
    """``value`` if it is one string.

    Raises:
        TypeError: anything else (bytes, a list of strings, ``None`` ...).
    """
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a str, got {_show(value)} ({type(value).__name__})")
    return value


def texts(value: Any, name: str, *, allow_empty: bool = False) -> list[str]:
    """``value`` as a list of strings.

    A single string is refused (iterating it would give characters), as is a sequence holding
    anything but strings.

    Raises:
        TypeError: a bare string, a non-iterable, or a non-string element (its index is named).
        ValueError: an empty sequence, unless ``allow_empty``.
    """
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name}: expected a sequence of strings, got one string {_show(value)}; wrap it in a list")
    try:
        out = list(value)
    except TypeError:
        raise TypeError(f"{name}: expected a sequence of strings, got {type(value).__name__}") from None
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise TypeError(f"{name}[{i}]: expected a string, got {_show(t)} ({type(t).__name__})")
    if not out and not allow_empty:
        raise ValueError(f"{name}: expected at least one text, got an empty sequence")
    return out


def _as_tensor(value: Any, name: str, what: str) -> torch.Tensor:
    """``value`` itself if a tensor, else ``torch.as_tensor(np.asarray(value))``; TypeError names ``what``."""
    if isinstance(value, torch.Tensor):
        return value
    try:
        return torch.as_tensor(np.asarray(value))
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{name}: expected {what}, got {type(value).__name__}") from None


def _has_bool(value: Any) -> bool:
    """Whether a (nested) list or tuple holds a bool anywhere: a Python or NumPy bool, or a bool array or
    tensor (of any shape, 0-d included), which NumPy would read as the ints 1 and 0."""
    if isinstance(value, (bool, np.bool_)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype == np.bool_
    if isinstance(value, torch.Tensor):
        return value.dtype == torch.bool
    return isinstance(value, (list, tuple)) and any(_has_bool(v) for v in value)


_INT64_MAX = np.iinfo(np.int64).max


def _integer_array(value: Any, name: str) -> np.ndarray | None:
    """``value`` (not a tensor) as a NumPy integer array that torch can reduce: unsigned dtypes wider than
    uint8 become int64 (torch has no ``min``/``max`` for uint16/32/64) after a range check in NumPy, and
    a list that NumPy promotes to float only because it mixes ``np.uint64`` with ints is read as ints.
    ``None`` when ``value`` is not integers (the caller refuses it)."""
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        return None
    if arr.dtype.kind == "f" and isinstance(value, (list, tuple)) and arr.size:  # e.g. [np.uint64(3), 2]
        flat = np.asarray(value, dtype=object).ravel()
        if all(isinstance(x, Integral) and not isinstance(x, (bool, np.bool_)) for x in flat):
            arr = np.array([int(x) for x in flat], dtype=object).reshape(arr.shape)
    if arr.dtype == object and arr.size and all(isinstance(x, Integral) and not isinstance(x, (bool, np.bool_))
                                                for x in arr.ravel()):
        low, high = min(arr.ravel()), max(arr.ravel())  # Python ints past int64 (2**64, -2**63 - 1)
        if high > _INT64_MAX or low < -_INT64_MAX - 1:
            raise ValueError(f"{name}: values must fit in int64, found {high if high > _INT64_MAX else low}")
        arr = arr.astype(np.int64)
    if arr.dtype.kind == "u" and arr.dtype.itemsize > 1:
        if arr.size and int(arr.max()) > _INT64_MAX:
            raise ValueError(f"{name}: values must fit in int64 (<= {_INT64_MAX}), found {int(arr.max())} "
                             f"({arr.dtype})")
        arr = arr.astype(np.int64)
    return arr


def _int_tensor(value: Any, name: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        t = value
        if t.dtype in (torch.uint16, torch.uint32, torch.uint64):  # no min/max in torch: check in NumPy
            t = torch.from_numpy(_integer_array(t.cpu().numpy(), name)).to(t.device)
    else:
        arr = _integer_array(value, name)
        if arr is None:
            raise TypeError(f"{name}: expected a tensor of integer ids, got {type(value).__name__}")
        try:
            t = torch.as_tensor(arr)
        except (TypeError, ValueError, RuntimeError):
            t = None
        if t is None:
            raise TypeError(f"{name}: expected a tensor of integer ids, got {type(value).__name__}")
        if t.numel() == 0:
            return t.long()  # an empty list becomes float64 in NumPy; it holds no id to truncate
    if t.dtype == torch.bool or t.is_floating_point() or t.is_complex():
        raise TypeError(f"{name}: expected integer ids, got a tensor of dtype {t.dtype}")
    if isinstance(value, (list, tuple)) and _has_bool(value):  # NumPy reads [2, True] as the ints [2, 1]
        raise TypeError(f"{name}: expected integers, found a bool among them (True/False would be read as 1/0)")
    return t


def _dims(t: torch.Tensor, name: str, ndim: int | tuple[int, ...] | None) -> None:
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if t.dim() not in allowed:
            raise ValueError(f"{name}: expected {' or '.join(map(str, allowed))} dimensions, got shape {tuple(t.shape)}")


def token_ids(value: Any, name: str, *, vocab_size: int | None = None, ndim: int | tuple[int, ...] | None = None
              ) -> torch.Tensor:
    """``value`` as an integer tensor whose entries are all in ``[0, vocab_size)``.

    Lists and NumPy arrays are converted; floats and bools are refused (a float id would be truncated), also a
    bool array or tensor inside a list.

    Raises:
        TypeError: not integer ids.
        ValueError: wrong number of dimensions, an id outside ``[0, vocab_size)`` (the first one is shown), or
            an unsigned value past int64.
    """
    t = _int_tensor(value, name)
    _dims(t, name, ndim)
    if t.numel():
        low, high = int(t.min()), int(t.max())
        if low < 0:
            raise ValueError(f"{name}: ids must be >= 0, found {low}")
        if vocab_size is not None and high >= vocab_size:
            raise ValueError(f"{name}: ids must be < vocab_size={vocab_size}, found {high}")
    return t


def word_ids(value: Any, name: str, *, length: int | None = None) -> list[int | None]:
    """A sequence of word ids (``None`` for special tokens, else an int in ``[0, length)``).

    ``length`` is the sequence length: a word id can never exceed the number of tokens, and the check
    runs before anything is allocated from the ids.

    Raises:
        TypeError: an element that is neither ``None`` nor an int (bools and floats included).
        ValueError: a negative id, or one ``>= length``.
    """
    if isinstance(value, torch.Tensor):
        raise TypeError(f"{name}: expected a list of ints and None (as tokenizers' word_ids() gives), got a tensor")
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{name}: expected a list of ints and None, got {_show(value)}")
    out: list[int | None] = []
    for i, w in enumerate(value):
        if w is None:
            out.append(None)
            continue
        if isinstance(w, (bool, np.bool_)) or not isinstance(w, Integral):
            raise TypeError(f"{name}[{i}]: expected an int or None, got {_show(w)} ({type(w).__name__})")
        w = int(w)
        if w < 0:
            raise ValueError(f"{name}[{i}]: word ids must be >= 0 (None marks special tokens), got {w}")
        if length is not None and w >= length:
            raise ValueError(f"{name}[{i}]: word id {w} is not < the sequence length {length}")
        out.append(w)
    return out


def class_labels(value: Any, name: str, *, num_labels: int | None = None, ignore_index: int | None = None
                 ) -> torch.Tensor:
    """``value`` as an int64 tensor of class ids in ``[0, num_labels)``; ``ignore_index`` entries allowed.

    Raises:
        TypeError: float, bool or non-numeric labels (a float label would be truncated).
        ValueError: a label outside ``[0, num_labels)`` that is not ``ignore_index``.
    """
    t = _int_tensor(value, name).long()
    real = t[t != ignore_index] if ignore_index is not None else t
    if real.numel():
        low, high = int(real.min()), int(real.max())
        if low < 0:
            raise ValueError(f"{name}: class labels must be >= 0{'' if ignore_index is None else f' (or {ignore_index})'}"
                             f", found {low}")
        if num_labels is not None and high >= num_labels:
            raise ValueError(f"{name}: class labels must be < num_labels={num_labels}, found {high}")
    return t


def finite_tensor(value: Any, name: str) -> torch.Tensor:
    """``value`` if it is a floating-point tensor with no NaN or infinity.

    Raises:
        TypeError: not a floating-point tensor.
        ValueError: a NaN or infinite entry.
    """
    if not isinstance(value, torch.Tensor) or not value.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor, got {type(value).__name__}"
                        + (f" of dtype {value.dtype}" if isinstance(value, torch.Tensor) else ""))
    if not torch.isfinite(value).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return value


def existing_path(value: Any, name: str, *, kind: str = "any") -> Path:
    """``value`` as a ``Path`` that exists (``kind``: ``"file"``, ``"dir"`` or ``"any"``).

    Raises:
        TypeError: not a string or ``os.PathLike``.
        FileNotFoundError / NotADirectoryError / IsADirectoryError: naming the argument and the path.
    """
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name}: expected a path, got {type(value).__name__}")
    path = Path(value)
    if not path.exists():
        raise FileNotFoundError(f"{name}: {path} does not exist")
    if kind == "file" and path.is_dir():
        raise IsADirectoryError(f"{name}: {path} is a directory, expected a file")
    if kind == "dir" and not path.is_dir():
        raise NotADirectoryError(f"{name}: {path} is not a directory")
    return path


def same_length(name_a: str, a: Sequence, name_b: str, b: Sequence) -> None:
    """Raise ``ValueError`` unless ``len(a) == len(b)`` (names both arguments)."""
    if len(a) != len(b):
        raise ValueError(f"{name_b}: expected one entry per element of {name_a} ({len(a)}), got {len(b)}")


def integers(value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None,
             ndim: int | tuple[int, ...] | None = None) -> torch.Tensor:
    """``value`` as an integer tensor (dtype kept; unsigned NumPy/torch dtypes wider than uint8 become int64)
    whose entries lie in ``[minimum, maximum]``.

    For integer data that are not token ids: group ids, class predictions, lengths. Lists and
    NumPy arrays are converted; float and bool tensors are refused. The range is checked with one
    ``min``/``max`` reduction, before anything is allocated from the values.

    Raises:
        TypeError: not integers.
        ValueError: wrong number of dimensions, or an entry out of range (the extreme one is shown; also an
            unsigned value past int64).
    """
    t = _int_tensor(value, name)
    _dims(t, name, ndim)
    if t.numel():
        low, high = int(t.min()), int(t.max())
        if minimum is not None and low < minimum:
            raise ValueError(f"{name}: values must be >= {minimum}, found {low}")
        if maximum is not None and high > maximum:
            raise ValueError(f"{name}: values must be <= {maximum}, found {high}")
    return t


def binary_mask(value: Any, name: str, *, shape: Sequence[int] | None = None, like: str | None = None
                ) -> torch.Tensor:
    """``value`` (bool, or numbers that are all 0 or 1) as a bool tensor, e.g. an attention mask.

    Args:
        shape: the required shape (``None``: any); ``like`` names the argument it must match.

    Raises:
        TypeError: not a tensor/array of numbers or bools.
        ValueError: an entry other than 0 and 1, or the wrong shape.
    """
    t = _as_tensor(value, name, "a tensor of 0/1 flags")
    if t.is_complex() or t.dtype in (torch.quint8, torch.qint8, torch.qint32):
        raise TypeError(f"{name}: expected 0/1 flags, got a tensor of dtype {t.dtype}")
    if shape is not None and tuple(t.shape) != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}" + (f" (that of {like})" if like else "")
                         + f", got {tuple(t.shape)}")
    if t.dtype != torch.bool:
        other = (t != 0) & (t != 1)  # NaN is neither
        if bool(other.any()):
            raise ValueError(f"{name}: expected only 0 and 1 (or bools), found {t[other][0].item()}")
        t = t != 0
    return t


def float_tensor(value: Any, name: str, *, ndim: int | tuple[int, ...] | None = None, finite: bool = False
                 ) -> torch.Tensor:
    """``value`` if it is a floating-point tensor with ``ndim`` dimensions (and, with ``finite``, no
    NaN or infinity).

    Raises:
        TypeError: not a floating-point tensor.
        ValueError: wrong number of dimensions, or a non-finite entry when ``finite``.
    """
    if not isinstance(value, torch.Tensor) or not value.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor, got {type(value).__name__}"
                        + (f" of dtype {value.dtype}" if isinstance(value, torch.Tensor) else ""))
    _dims(value, name, ndim)
    if finite:
        finite_tensor(value, name)
    return value


def numbers(value: Any, name: str, *, minimum: float | None = None, maximum: float | None = None,
            strict_minimum: bool = False, finite: bool = True, nan: bool = False, ndim: int | None = 1,
            allow_empty: bool = False) -> np.ndarray:
    """``value`` (a list, tuple, NumPy array or tensor of real numbers) as a float64 NumPy array.

    Strings (even ``"1.0"``), bools and ``None`` are refused, unlike ``np.asarray(..., dtype=float)``,
    which converts numeric strings silently.

    Args:
        minimum, maximum, strict_minimum: bounds on every entry (``None``: unbounded).
        finite: refuse +-inf. nan: allow NaN (measurements such as a diverged loss); default refused.
        ndim: required number of dimensions (``None``: any).
        allow_empty: accept an empty sequence.

    Raises:
        TypeError: not numbers (the first bad entry is named by its index).
        ValueError: wrong dimensions, empty, NaN or infinite, or out of bounds.
    """
    if isinstance(value, torch.Tensor):
        if value.dtype == torch.bool or value.is_complex():
            raise TypeError(f"{name}: expected real numbers, got a tensor of dtype {value.dtype}")
        arr = value.detach().cpu().double().numpy()
    elif isinstance(value, (str, bytes)) or value is None or isinstance(value, (Number, np.generic)) \
            and not isinstance(value, np.ndarray):
        raise TypeError(f"{name}: expected a sequence of numbers, got {_show(value)} ({type(value).__name__})")
    else:
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError):
            raise TypeError(f"{name}: expected a (rectangular) sequence of numbers, got {type(value).__name__}") from None
        if arr.dtype.kind not in "iuf" or isinstance(value, (list, tuple)):  # a list may mix in bools
            flat = np.asarray(value, dtype=object).ravel() if isinstance(value, (list, tuple)) \
                else arr.ravel().astype(object)
            kinds = set(map(type, flat))  # fast path: look at each type once
            bad_kinds = {k for k in kinds if issubclass(k, (bool, np.bool_)) or not issubclass(k, Real)}
            for i, x in enumerate(flat if bad_kinds else ()):
                if type(x) in bad_kinds:
                    where = ", ".join(map(str, np.unravel_index(i, arr.shape))) if arr.ndim else ""
                    raise TypeError(f"{name}[{where}]: expected a number, got {_show(x)} ({type(x).__name__})")
        arr = arr.astype(np.float64)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dimension(s), got shape {arr.shape}")
    if arr.size == 0:
        if not allow_empty:
            raise ValueError(f"{name}: expected at least one number, got an empty sequence")
        return arr
    if not nan and np.isnan(arr).any():
        raise ValueError(f"{name}: contains NaN (at index {int(np.flatnonzero(np.isnan(arr))[0])})")
    if finite and np.isinf(arr).any():
        raise ValueError(f"{name}: contains an infinite value (at index {int(np.flatnonzero(np.isinf(arr))[0])})")
    real = arr[~np.isnan(arr)]
    if real.size and minimum is not None:
        low = real.min()
        if low < minimum or (strict_minimum and low == minimum):
            raise ValueError(f"{name}: values must be {'>' if strict_minimum else '>='} {minimum}, found {low}")
    if real.size and maximum is not None and real.max() > maximum:
        raise ValueError(f"{name}: values must be <= {maximum}, found {real.max()}")
    return arr


def instance(value: Any, name: str, types: type | tuple[type, ...], *, what: str | None = None) -> Any:
    """``value`` if ``isinstance(value, types)``; ``what`` describes the expected kind in the message.

    Raises:
        TypeError: otherwise.
    """
    if not isinstance(value, types):
        if what is None:
            names = [t.__name__ for t in (types if isinstance(types, tuple) else (types,))]
            what = " or ".join(names)
        raise TypeError(f"{name}: expected {what}, got {type(value).__name__}")
    return value


def function(value: Any, name: str) -> Callable:
    """``value`` if it is callable.

    Raises:
        TypeError: otherwise.
    """
    if not callable(value):
        raise TypeError(f"{name}: expected a function, got {_show(value)} ({type(value).__name__})")
    return value
