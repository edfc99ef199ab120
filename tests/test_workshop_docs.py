"""The instructor's guide and its files stay true: the image's Dockerfile builds, the JupyterHub values
serve that image, and every flag the guide names exists."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

import labkit.images

REPO = Path(__file__).resolve().parents[1]
GUIDE = (REPO / "docs" / "workshop.md").read_text()


def test_the_lab_image_dockerfile_parses_and_copies_only_what_exists():
    text = (REPO / "docs" / "jupyterhub" / "Dockerfile").read_text()
    sources = set()
    for line in text.splitlines():
        if line.startswith("COPY"):
            sources.update(p for p in line.split()[1:-1] if not p.startswith("--"))
    assert sources and all((REPO / s).exists() for s in sources), sources
    image = labkit.images.build(text, context={s: 1000 for s in sources})
    assert [s["instruction"].split()[0] for s in image.steps][-2:] == ["WORKDIR", "USER"]


def test_the_jupyterhub_values_serve_the_lab_image_and_chapter_00():
    values = yaml.safe_load((REPO / "docs" / "jupyterhub" / "values.yaml").read_text())
    single = values["singleuser"]
    assert single["image"]["name"].startswith("registry.cn-hangzhou.aliyuncs.com/")
    assert single["defaultUrl"] == "/lab/tree/notebooks/00_welcome_architecture.ipynb"
    assert (REPO / "notebooks" / "00_welcome_architecture.ipynb").exists()
    assert values["singleuser"]["cloudMetadata"]["blockWithIptables"] is True


def test_every_workshop_flag_the_guide_names_exists():
    import contextlib
    import io

    from labkit.__main__ import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main(["workshop", "--help"])
    flags = set(re.findall(r"--[a-z-]+", out.getvalue()))
    flag = r"--[a-z][a-z-]*"
    named = set(re.findall(rf"`[^`]*?({flag})", GUIDE)) | set(re.findall(rf"\(`({flag})`\)", GUIDE))
    assert named and named <= flags | {
        "--namespace",
        "--create-namespace",
        "--values",
        "--install",
        "--name",
    }, named - flags


def test_the_guides_chapter_times_are_the_notebooks_own():
    for nb in sorted((REPO / "notebooks" / "solutions").glob("0*.ipynb")):
        stated = re.search(r"about (\d+) minutes", nb.read_text()).group(1)
        number = nb.name[:2]
        row = next(line for line in GUIDE.splitlines() if line.startswith(f"| {number} "))
        assert f"about {stated} min" in row, (nb.name, row)
