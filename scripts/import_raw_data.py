#!/usr/bin/env python3
"""Regenerate data/raw (the raw extracts the data sets are prepared from) from an external folder.

Not part of the build: data/raw is committed to git and `dvc repro prepare_data` reads it.
Run this only to re-import the extracts from a folder with the original layout
(hatexplain/test_toxic_dev.jsonl, cose/dev_informative.jsonl, mmlu/mmlu.jsonl), e.g. after
the upstream extracts changed:

    python scripts/import_raw_data.py SOURCE_DIR            # writes data/raw in this repository
    python scripts/import_raw_data.py SOURCE_DIR --out DIR  # somewhere else

HateXplain and CoS-E are copied byte for byte. MMLU is copied whole (preparation draws its
sample from every row and cites rows by line number) and gzip-compressed deterministically
(level 9, no file name, mtime 0), so the same input gives the same bytes with the same zlib.
Prints the sha256 of every file written (and of MMLU's uncompressed content), the values
data/raw/README.md lists. Standard library only.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COPIED = ("hatexplain/test_toxic_dev.jsonl", "cose/dev_informative.jsonl")
COMPRESSED = ("mmlu/mmlu.jsonl",)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def import_raw(source: Path, out: Path) -> list[tuple[str, int, str]]:
    """Copy/compress the extracts from ``source`` into ``out``; (relative path, size, sha256) per file."""
    missing = [rel for rel in (*COPIED, *COMPRESSED) if not (source / rel).is_file()]
    if missing:
        raise FileNotFoundError(f"{source} lacks {', '.join(missing)}")
    written = []
    for rel in COPIED:
        dest = out / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / rel, dest)
        data = dest.read_bytes()
        written.append((rel, len(data), _sha256(data)))
    for rel in COMPRESSED:
        plain = (source / rel).read_bytes()
        dest = out / (rel + ".gz")
        dest.parent.mkdir(parents=True, exist_ok=True)
        with dest.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
            gz.write(plain)
        packed = dest.read_bytes()
        if gzip.decompress(packed) != plain:
            raise RuntimeError(f"{dest} does not decompress to {source / rel}")
        written.append((rel + ".gz", len(packed), _sha256(packed)))
        written.append((rel + " (uncompressed)", len(plain), _sha256(plain)))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="folder with hatexplain/, cose/ and mmlu/ as described above")
    parser.add_argument("--out", type=Path, default=REPO / "data" / "raw", help="destination (default: data/raw in this repository)")
    args = parser.parse_args(argv)
    try:
        rows = import_raw(args.source, args.out)
    except (OSError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for rel, size, digest in rows:
        print(f"{digest}  {size:>9}  {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
