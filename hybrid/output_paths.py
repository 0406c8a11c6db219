"""Checks on the files a command will write, made before the command does its work.

A chart or JSON file is written after a run that can take minutes, so a path
that cannot be written should fail first, with the flag that named it.
"""

from __future__ import annotations

from pathlib import Path

from hybrid.errors import InputError

__all__ = ["check_chart_path", "check_output_file"]


def check_output_file(path: Path, flag: str) -> None:
    """Raise InputError when `path`, named by `flag`, is a directory or lies under a file."""
    if path.is_dir():
        raise InputError(f"{flag} {str(path)!r} is a directory; name a file inside it")
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise InputError(f"{flag} {str(path)!r} lies under {str(parent)!r}, which is a file; choose another path")


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
