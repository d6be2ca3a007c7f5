"""Store results kept beside the processed orders (<processed>/store/), so a report computes them once.

A kept file is named by a key of the orders file (path, size, modification time) and what the
result depends on; writing it is atomic, and the copies of other keys (an older orders file, other
settings) are removed. A folder that cannot be written keeps nothing: the result is recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

KEPT_DIR = "store"


def kept_path(orders_path: Path | str, kind: str, suffix: str, *depends_on: Any) -> Path | None:
    """<orders folder>/store/<kind>-<key><suffix> for this orders file and these inputs; None without the file."""
    orders = Path(orders_path)
    try:
        stat = orders.stat()
    except OSError:
        return None
    key = hashlib.sha256(json.dumps([str(orders.resolve()), stat.st_size, stat.st_mtime_ns, *depends_on],
                                    sort_keys=True, default=str).encode()).hexdigest()[:20]
    return orders.parent / KEPT_DIR / f"{kind}-{key}{suffix}"


def keep(path: Path | None, write: Callable[[Path], None]) -> None:
    """write(partial) then move it to path atomically; other keys' copies of the kind are removed."""
    if path is None:
        return
    kind = path.name.rsplit("-", 1)[0]
    try:
        path.parent.mkdir(exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        write(partial)
        os.replace(partial, path)
        for other in path.parent.glob(f"{kind}-*{path.suffix}"):
            if other != path:
                other.unlink(missing_ok=True)
    except OSError:
        return


def kept_arrays(path: Path | None, compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The numpy arrays kept at path (an .npz file, read without pickle), else compute()'s, kept
    there for the next reader (the worker's lists after the kernel's chapter); a file that cannot
    be read is computed again."""
    if path is not None and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as data:
                return {name: data[name] for name in data.files}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            pass
    arrays = compute()

    def write(partial: Path) -> None:
        with partial.open("wb") as file:  # a file object: np.savez would add '.npz' to a name
            np.savez(file, **arrays)

    keep(path, write)
    return arrays


__all__ = ["KEPT_DIR", "keep", "kept_arrays", "kept_path"]
