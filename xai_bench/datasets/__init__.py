"""Benchmark data sets: the one row schema, loading with validation, and preparation.

Every data set is a JSON Lines file, one example a line, in the schema of
:mod:`xai_bench.datasets.records` (written down key by key in ``data/README.md``).

    records.py     Example, Dataset, the per-row checks, write_dataset
    validation.py  the Great Expectations suite every data set passes
    loading.py     load_dataset: parse, report unreadable rows by line, validate
    prepare.py     build data/prepared/*.jsonl (python -m xai_bench.datasets prepare)

Imports run one way: records <- validation <- loading <- prepare.
"""

from .loading import load_dataset
from .prepare import RAW_FILES, main, prepare_all, raw_file
from .records import DATASET_NAMES, PROVENANCE_KEYS, SCHEMA_KEYS, TASKS, Dataset, Example, row_problems, write_dataset

__all__ = [
    "Example",
    "Dataset",
    "TASKS",
    "SCHEMA_KEYS",
    "PROVENANCE_KEYS",
    "DATASET_NAMES",
    "load_dataset",
    "write_dataset",
    "row_problems",
    "prepare_all",
    "raw_file",
    "RAW_FILES",
    "main",
]
