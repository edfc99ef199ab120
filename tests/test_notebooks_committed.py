"""Committed notebooks follow the lab's conventions (see design.md, "Notebook conventions").

nbval only checks cells that have outputs to compare, and silently passes cells that never
ran, so these tests make sure every notebook was executed top to bottom, that each learner
copy is exactly its solution with the marked answers stubbed out (by the rule in
``tools/build_notebooks.py``), and that each chapter opens and closes the same way.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
SOLUTIONS = NOTEBOOKS / "solutions"
LEARNER_PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
SOLUTION_PATHS = sorted(SOLUTIONS.glob("*.ipynb"))
ALL_PATHS = LEARNER_PATHS + SOLUTION_PATHS
TIME_ESTIMATE = re.compile(r"\b\d+\s*(?:(?:-|–|to)\s*\d+\s*)?(?:min|mins|minutes|h|hours?)\b", re.IGNORECASE)


def _load_build_tool():
    spec = importlib.util.spec_from_file_location("build_notebooks", REPO / "tools" / "build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_build_tool()


def _params(paths: list[Path]) -> list:
    """One param per notebook, or a single clean skip while the repo has none."""
    if not paths:
        return [pytest.param(None, marks=pytest.mark.skip(reason="no notebooks committed yet"))]
    return [pytest.param(p, id=str(p.relative_to(NOTEBOOKS))) for p in paths]


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


@pytest.mark.parametrize("path", _params(ALL_PATHS))
def test_code_cells_were_executed_top_to_bottom(path):
    counts = [c.execution_count for c in _read(path).cells if c.cell_type == "code" and c.source.strip()]
    assert counts == list(range(1, len(counts) + 1)), (
        f"{path.name}: execution counts {counts}; rebuild with `make notebooks`"
    )


@pytest.mark.parametrize("path", _params(ALL_PATHS))
def test_first_cell_gives_title_learning_goals_and_time(path):
    first = _read(path).cells[0]
    assert first.cell_type == "markdown"
    assert re.match(r"#\s+\S", first.source.lstrip()), "first cell must start with a '# Title' heading"
    assert "learning goals" in first.source.lower()
    assert TIME_ESTIMATE.search(first.source), "first cell must say how long the chapter takes"


@pytest.mark.parametrize("path", _params(ALL_PATHS))
def test_last_cell_is_markdown(path):
    assert _read(path).cells[-1].cell_type == "markdown"


@pytest.mark.parametrize("path", _params(ALL_PATHS))
def test_notebook_metadata_is_trimmed_to_what_jupyterlab_writes_back(path):
    """Kernel spec and the kernel's own language_info only: opening it changes nothing."""
    nb = _read(path)
    assert set(nb.metadata) == {"kernelspec", "language_info"}
    assert nb.metadata.kernelspec == build.KERNELSPEC
    assert {"name", "version", "mimetype", "file_extension"} <= set(nb.metadata.language_info)
    for cell in nb.cells:
        assert set(cell.metadata) <= set(build.KEPT_CELL_METADATA), f"untrimmed cell metadata in {path.name}"


@pytest.mark.parametrize("path", _params(LEARNER_PATHS))
def test_learner_copy_is_its_solution_with_answers_stubbed(path):
    solution_path = SOLUTIONS / path.name
    assert solution_path.exists(), f"{path.name} has no solution notebook in notebooks/solutions/"
    expected = build.learner_copy(_read(solution_path))
    learner = _read(path)
    assert [c.cell_type for c in learner.cells] == [c.cell_type for c in expected.cells]
    for index, (got, want) in enumerate(zip(learner.cells, expected.cells)):
        assert got.source == want.source, f"{path.name} cell {index} differs from its derived stub"


@pytest.mark.parametrize("path", _params(SOLUTION_PATHS))
def test_solution_has_a_learner_copy(path):
    assert (NOTEBOOKS / path.name).exists(), f"run `python tools/build_notebooks.py {path}`"


@pytest.mark.parametrize("path", _params(LEARNER_PATHS))
def test_learner_code_contains_no_solution_markers(path):
    sources = "\n".join(c.source for c in _read(path).cells if c.cell_type == "code")
    assert build.BEGIN not in sources and build.END not in sources


# The stub rule itself, on small sources.


def test_assignment_keeps_its_name_and_loses_its_value():
    source = 'c.run()\n# BEGIN SOLUTION\nanswer = "node-2"\n# END SOLUTION\ncheck(answer)'
    assert build.stub_source(source) == "c.run()\nanswer = ...  # your answer here\ncheck(answer)"


def test_stub_keeps_the_block_indentation():
    source = "for pod in pods:\n    # BEGIN SOLUTION\n    node = pick(pod)\n    # END SOLUTION\n"
    assert build.stub_source(source) == "for pod in pods:\n    node = ...  # your answer here\n"


def test_function_keeps_signature_and_docstring():
    body = 'def score(node) -> int:\n    """Score one node."""\n'
    source = f"# BEGIN SOLUTION\n{body}    return 1\n# END SOLUTION"
    assert build.stub_source(source) == f"{body}    ..."


def test_block_without_assignment_becomes_ellipsis():
    assert build.stub_source("# BEGIN SOLUTION\nprint(42)\n# END SOLUTION") == "..."


def test_source_without_markers_is_unchanged():
    source = "x = 1\nprint(x)\n"
    assert build.stub_source(source) == source


@pytest.mark.parametrize(
    "source",
    [
        "# BEGIN SOLUTION\nx = 1\n",
        "x = 1\n# END SOLUTION\n",
        "# BEGIN SOLUTION\n# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n# END SOLUTION\n",
    ],
    ids=["unclosed", "stray-end", "nested"],
)
def test_unbalanced_markers_are_refused(source):
    with pytest.raises(build.MarkerError):
        build.stub_source(source)


def test_learner_copy_clears_outputs_and_keeps_markdown():
    solution = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# BEGIN SOLUTION is just text here"),
            nbformat.v4.new_code_cell("# BEGIN SOLUTION\nx = 2\n# END SOLUTION", execution_count=1),
        ]
    )
    solution.cells[1].outputs = [nbformat.v4.new_output("stream", text="2\n")]
    learner = build.learner_copy(solution)
    assert learner.cells[0].source == "# BEGIN SOLUTION is just text here"
    assert learner.cells[1].source == "x = ...  # your answer here"
    assert learner.cells[1].outputs == [] and learner.cells[1].execution_count is None
    assert solution.cells[1].source.startswith("# BEGIN SOLUTION"), "the solution must not be modified"


def _main_path_words(nb: nbformat.NotebookNode) -> int:
    """Words of prose before the optional "Going further" part (whitespace-separated, as wc -w)."""
    words = 0
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        if re.match(r"#+\s+Going further", cell.source):
            break
        words += len(cell.source.split())
    return words


@pytest.mark.parametrize("path", _params(SOLUTION_PATHS))
def test_stated_reading_time_matches_the_prose_at_200_words_a_minute(path):
    """CONVENTIONS.md: the first cell states the words of the main path and the minutes to read them."""
    nb = _read(path)
    m = re.search(r"([\d,]+) words to read \((\d+) minutes at\s+200\s+words\s+a\s+minute\)",
                  nb.cells[0].source)
    assert m, "the time line must say 'N words to read (M minutes at 200 words a minute)'"
    stated_words, stated_minutes = int(m.group(1).replace(",", "")), int(m.group(2))
    words = _main_path_words(nb)
    assert abs(stated_words - words) <= 0.05 * words, f"the main path has {words} words, not {stated_words}"
    assert stated_minutes == round(words / 200), f"{words} words take {round(words / 200)} minutes"
    total = int(re.search(r"about (\d+) minutes", nb.cells[0].source).group(1))
    assert total >= stated_minutes + 5, "the total must leave time for the cells and exercises"


@pytest.mark.parametrize("path", _params(ALL_PATHS))
def test_no_output_is_a_wall_of_nan(path):
    """Decisions are shown as readable tables (explain's HTML view), not DataFrames full of NaN."""
    for index, cell in enumerate(_read(path).cells):
        for output in cell.get("outputs", []):
            text = output.get("text", "") + "".join(str(v) for v in output.get("data", {}).values())
            assert text.count("NaN") <= 2, f"cell {index} of {path.name} shows {text.count('NaN')} NaN"


@pytest.mark.parametrize("path", _params(SOLUTION_PATHS))
def test_each_chapter_has_a_prediction_exercise(path):
    """CONVENTIONS.md: at least one exercise asks for a prediction before anything is run."""
    cells = _read(path).cells
    assert any(c.cell_type == "code" and re.search(r"^prediction = ", c.source, re.M) for c in cells)


@pytest.mark.parametrize("path", _params(SOLUTION_PATHS))
def test_check_cells_echo_no_bare_true_or_false(path):
    """A check cell prints one paragraph; its Verdict adds no ``True``/``False`` output of its own."""
    for cell in _read(path).cells:
        if cell.cell_type == "code" and "labkit.exercises.check_" in cell.source:
            assert all(o["output_type"] == "stream" for o in cell.outputs), cell.source
