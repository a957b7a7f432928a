"""docs/quickstart.ipynb: it runs top to bottom on the embedded model (nbclient, a real ipykernel),
and the committed copy is executed and carries no local paths or secrets in its outputs."""

from __future__ import annotations

import base64
import copy
import json
import re
from pathlib import Path

import pytest

from xai_bench.secrets import SECRET_VALUE

DOCS = Path(__file__).resolve().parents[2] / "docs"
NOTEBOOK = DOCS / "quickstart.ipynb"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# absolute local paths a kernel could leak: this checkout, a home folder, a temporary folder, a venv
LOCAL_PATH = re.compile(r"(/work/|/root/|/home/|/tmp/|/var/folders/|site-packages|[A-Za-z]:\\\\Users\\\\)")


def _code_cells(nb) -> list:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _outputs(nb) -> list[dict]:
    return [o for c in _code_cells(nb) for o in c["outputs"]]


def _data(nb, mime: str) -> list[str]:
    return ["".join(v) if isinstance(v, list) else v
            for o in _outputs(nb) if (v := o.get("data", {}).get(mime)) is not None]


def _check_ran_and_rendered(nb) -> None:
    cells = _code_cells(nb)
    assert cells and [c["execution_count"] for c in cells] == list(range(1, len(cells) + 1)), \
        "every code cell ran, once, in order"
    errors = [o for o in _outputs(nb) if o["output_type"] == "error"]
    assert not errors, [f"{o['ename']}: {o['evalue']}" for o in errors]
    html = _data(nb, "text/html")
    assert any('class="xai-bench-explanation"' in h and ">rice</td>" in h for h in html), \
        "the Explanation rendered inline"
    pngs = [base64.b64decode(p) for p in _data(nb, "image/png")]
    assert pngs and all(p.startswith(PNG_MAGIC) for p in pngs), "the heatmap figure shown as a PNG"
    assert len(pngs[0]) > 10_000
    tables = [h for h in html if 'class="dataframe' in h]
    assert len(tables) >= 2 and any("att_auroc" in t and "random" in t for t in tables), \
        "the run read back with load_run shown as DataFrames"


def test_committed_notebook_is_executed_and_clean():
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    _check_ran_and_rendered(nb)  # so it renders on GitHub as committed
    text = json.dumps(_outputs(nb))
    assert not LOCAL_PATH.search(text), LOCAL_PATH.search(text)
    assert not SECRET_VALUE.search(text)
    assert all("execution" not in c.get("metadata", {}) for c in _code_cells(nb)), "no timing metadata"


@pytest.mark.integration
@pytest.mark.timeout(1200)
def test_notebook_runs_top_to_bottom(tmp_path):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    fresh = copy.deepcopy(nb)
    for cell in _code_cells(fresh):
        cell["outputs"], cell["execution_count"] = [], None
    client = NotebookClient(fresh, timeout=900, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(DOCS)}})
    client.execute()
    nbformat.write(fresh, tmp_path / "executed.ipynb")  # kept for a look when the test fails
    _check_ran_and_rendered(fresh)
