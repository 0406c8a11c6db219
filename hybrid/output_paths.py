"""Checks on the files a command will write, made before the command does its work, and staged writes.

A chart, JSON file or checkpoint is written after a run that can take minutes,
so a path that cannot be written should fail first, with the flag that named it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hybrid.errors import InputError

__all__ = ["check_chart_path", "check_output_dir", "check_output_file", "staged_dir"]


def check_output_file(path: Path, flag: str) -> None:
    """Raise InputError when `path`, named by `flag`, is a directory or lies under a file."""
    if path.is_dir():
        raise InputError(f"{flag} {str(path)!r} is a directory; name a file inside it")
    _check_parents(path, flag)


def check_output_dir(path: Path, flag: str) -> None:
    """Raise InputError when the folder `path`, named by `flag`, is an existing file or lies under one."""
    if path.exists() and not path.is_dir():
        raise InputError(f"{flag} {str(path)!r} is a file; name a folder for the checkpoint")
    _check_parents(path, flag)


def _check_parents(path: Path, flag: str) -> None:
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise InputError(f"{flag} {str(path)!r} lies under {str(parent)!r}, which is a file; choose another path")


@contextmanager
def staged_dir(path: Path) -> Iterator[Path]:
    """Yield an empty sibling folder to write into, and move it to `path` only if the block succeeds.

    A failed or interrupted run leaves `path` as it was, so a broken checkpoint
    never replaces a working one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.parent / f".{path.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise

    previous = path.parent / f".{path.name}.previous-{os.getpid()}"
    if path.exists():
        path.rename(previous)
    staging.rename(path)
    shutil.rmtree(previous, ignore_errors=True)


def check_chart_path(path: Path, flag: str) -> None:
    """Raise InputError unless `path` is a writable file name whose suffix matplotlib can save."""
    check_output_file(path, flag)
    formats = _chart_formats()
    suffix = path.suffix.lower().lstrip(".")
    if suffix and suffix not in formats:
        raise InputError(
            f"{flag} {str(path)!r} has the suffix .{suffix}, which matplotlib cannot save; "
            f"use one of {', '.join('.' + name for name in formats)}"
        )


def _chart_formats() -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return sorted(Figure().canvas.get_supported_filetypes())
