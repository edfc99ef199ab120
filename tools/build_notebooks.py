"""Derive learner notebooks from their solutions, execute both, and write them back.

Source of truth: ``notebooks/solutions/NN_topic.ipynb``. In its code cells an exercise marks
the answer between a ``# BEGIN SOLUTION`` line and a ``# END SOLUTION`` line. The learner copy
``notebooks/NN_topic.ipynb`` is the same notebook with every marked block replaced by a stub,
by one rule (see :func:`stub_block`):

* each top-level assignment in the block keeps its target and loses its value:
  ``answer = "node-2"`` becomes ``answer = ...  # your answer here``;
* each top-level ``def`` keeps its signature and docstring; its body becomes ``...``;
* every other statement in the block is dropped, and an empty result becomes one ``...`` line;
* the marker lines themselves are dropped, and the stub keeps the block's indentation.

Both notebooks are then run top to bottom in a fresh kernel of *this* Python environment
(the way ``pytest --nbval --nbval-current-env`` runs them), each with its own folder as the
working directory, as nbval and JupyterLab do. Metadata is trimmed so that re-running on
unchanged sources gives byte-identical files (no timestamps, no widget state).

Usage: ``python tools/build_notebooks.py [notebook ...]`` (default: every solution notebook);
a path may name either copy of a chapter.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import textwrap
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
SOLUTIONS = NOTEBOOKS / "solutions"

BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"
STUB_COMMENT = "  # your answer here"
#: Cell metadata worth keeping: nbval/nbclient tags and JupyterLab's per-cell UI state.
KEPT_CELL_METADATA = ("tags", "editable", "deletable", "jupyter")
#: The venv's own ipykernel, the one kernel ``make lab`` offers.
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
CELL_TIMEOUT_S = 600


class MarkerError(ValueError):
    """Solution markers that do not pair up, so no learner copy can be derived."""


def stub_block(block: str) -> str:
    """Replace one solution block (the lines between the markers) by its learner stub.

    Keeping assignment targets and function signatures tells the learner *what* to produce
    and under which name the check cell looks for it, without giving the answer away.

    Parameters
    ----------
    block:
        The source lines between ``# BEGIN SOLUTION`` and ``# END SOLUTION``, indentation
        included, joined with newlines.

    Returns
    -------
    str
        The stub lines at the block's indentation, joined with newlines.
    """
    body = textwrap.dedent(block)
    lines = [line for line in block.splitlines() if line.strip()]
    indent = re.match(r"\s*", lines[0]).group() if lines else ""
    try:
        tree = ast.parse(body)
    except SyntaxError as exc:
        raise MarkerError(f"solution block is not valid Python on its own: {exc}") from exc
    stubs: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Assign) or (isinstance(node, ast.AnnAssign) and node.value is not None):
            node.value = ast.Constant(value=Ellipsis)
            stubs.append(ast.unparse(node) + STUB_COMMENT)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            docstring = node.body[:1] if ast.get_docstring(node, clean=False) is not None else []
            node.body = [*docstring, ast.Expr(ast.Constant(value=Ellipsis))]
            stubs.extend(ast.unparse(node).splitlines())
    if not stubs:
        stubs = ["..."]
    return "\n".join(indent + line for line in stubs)


def stub_source(source: str) -> str:
    """Return a code cell's source with every marked solution block stubbed out.

    Raises
    ------
    MarkerError
        When markers are nested, unclosed or stray, so that a learner copy would be wrong.
    """
    out: list[str] = []
    block: list[str] | None = None
    for line in source.split("\n"):
        marker = line.strip()
        if marker == BEGIN:
            if block is not None:
                raise MarkerError(f"nested {BEGIN!r}")
            block = []
        elif marker == END:
            if block is None:
                raise MarkerError(f"{END!r} without {BEGIN!r}")
            out.append(stub_block("\n".join(block)))
            block = None
        elif block is not None:
            block.append(line)
        else:
            out.append(line)
    if block is not None:
        raise MarkerError(f"{BEGIN!r} without {END!r}")
    return "\n".join(out)


def learner_copy(solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Derive the learner notebook from a solution notebook (sources only, outputs cleared)."""
    learner = nbformat.from_dict(solution)
    for cell in learner.cells:
        if cell.cell_type == "code":
            cell.source = stub_source(cell.source)
            cell.outputs = []
            cell.execution_count = None
    return learner


def trim(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop metadata that changes from run to run (timings, widget state).

    ``language_info`` stays as the kernel reported it: JupyterLab writes exactly that back when
    it opens the notebook, and a trimmed copy would mark every notebook modified on opening.
    """
    language_info = nb.metadata.get("language_info") or {"name": "python"}
    nb.metadata = nbformat.from_dict({"kernelspec": KERNELSPEC, "language_info": language_info})
    nb.nbformat, nb.nbformat_minor = 4, 5
    for index, cell in enumerate(nb.cells):
        kept = {key: value for key, value in cell.metadata.items() if key in KEPT_CELL_METADATA}
        cell.metadata = nbformat.from_dict(kept)
        cell.setdefault("id", f"cell-{index}")
        if cell.cell_type != "code":
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
    return nb


def execute(nb: nbformat.NotebookNode, cwd: Path) -> None:
    """Run a notebook top to bottom in a fresh kernel of the current environment."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    class CurrentEnvSpecs(KernelSpecManager):
        """Resolve any kernel name to ipykernel on ``sys.executable`` (as nbval's current-env)."""

        def get_kernel_spec(self, kernel_name: str):
            from ipykernel.kernelspec import RESOURCES, get_kernel_dict

            return self.kernel_spec_class(resource_dir=RESOURCES, **get_kernel_dict())

    km = KernelManager(kernel_name="python3", kernel_spec_manager=CurrentEnvSpecs())
    client = NotebookClient(
        nb,
        km=km,
        timeout=CELL_TIMEOUT_S,
        record_timing=False,  # no per-cell timestamps; widget state is dropped by trim()
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute()


def chapter_pair(path: Path) -> tuple[Path, Path]:
    """Map either copy of a chapter to ``(solution, learner)`` paths."""
    path = path.resolve()
    return SOLUTIONS / path.name, NOTEBOOKS / path.name


def build(solution_path: Path, learner_path: Path) -> None:
    """Regenerate the learner copy from the solution, execute both and write them back."""
    solution = nbformat.read(solution_path, as_version=4)
    learner = learner_copy(solution)
    for nb, path in ((solution, solution_path), (learner, learner_path)):
        print(f"executing {path.relative_to(REPO)}", flush=True)
        execute(nb, cwd=path.parent)
        trim(nb)
        nbformat.validate(nb)
        nbformat.write(nb, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to rebuild (default: all)")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(SOLUTIONS.glob("*.ipynb"))
    pairs = sorted({chapter_pair(p) for p in paths})
    missing = [str(s) for s, _ in pairs if not s.exists()]
    if missing:
        parser.error(f"no solution notebook for: {', '.join(missing)}")
    for solution_path, learner_path in pairs:
        try:
            build(solution_path, learner_path)
        except (MarkerError, CellExecutionError) as exc:
            print(f"error: {solution_path.relative_to(REPO)}: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
