"""``data/images.csv``: published sizes, each row with its source and date; how the lab reads them."""

from __future__ import annotations

import csv
from pathlib import Path

from labkit.images.catalogue import DATA, base_image, catalogue


def test_every_row_has_a_source_a_date_and_a_size():
    rows = list(csv.DictReader(DATA.open(encoding="utf-8")))
    assert len(rows) >= 20
    for r in rows:
        assert r["source"].strip() and r["source_date"].strip(), r["image"]
        assert r["compressed_bytes"] or r["uncompressed_bytes"], r["image"]
        for col in ("compressed_bytes", "uncompressed_bytes", "layers"):
            assert not r[col] or int(r[col]) > 0, (r["image"], col)


def test_two_rows_of_one_image_are_merged_and_layers_split_exactly():
    nginx = catalogue()["docker.io/library/nginx:1.27"]
    assert (nginx.compressed_bytes, nginx.uncompressed_bytes, nginx.layers) == (72380998, 187670000, 7)
    sizes = nginx.layer_sizes()
    assert sum(c for c, _ in sizes) == nginx.compressed_bytes
    assert sum(u for _, u in sizes) == nginx.uncompressed_bytes
    assert sizes[0][0] > sizes[1][0] > sizes[-1][0]  # the OS layer first and largest


def test_references_are_normalized_before_lookup_and_unknown_images_are_stand_ins():
    assert base_image("docker.io/library/nginx:1.27") is base_image("nginx:1.27")
    unknown = base_image("registry.cn-hangzhou.aliyuncs.com/lab/app:1.0")
    assert not unknown.known and unknown.compressed_bytes == 100 * 1024 * 1024


def test_the_file_is_where_the_lab_reads_it():
    assert Path(__file__).resolve().parents[1] / "data" / "images.csv" == DATA
