"""Tests of the self-contained HTML report."""

import base64
import os
import re
from datetime import datetime
from html.parser import HTMLParser

os.environ.setdefault("MPLBACKEND", "Agg")  # headless: no display is needed (or available)

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from fashion_vae.reporting.figures import progress_gif
from fashion_vae.reporting.html_report import (
    GIF_KEY,
    build_report,
    flatten_metrics,
    format_value,
)

VOID_ELEMENTS = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
    "track", "wbr",
}  # fmt: skip

METRICS = {
    "test": {
        "neg_elbo": 241.53219,
        "iwae": {"k5000": 236.1, "samples": 5000},
        "kl_per_dimension": [0.5 * i for i in range(32)],
    },
    "active_units": np.int64(17),
    "latent_shape": [16, 2],
    "converged": True,
    "note": None,
}


class _TagChecker(HTMLParser):
    """Records start tags and fails on any end tag that does not close the innermost element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.started: list[tuple[str, dict]] = []
        self.errors: list[str] = []
        self.decl: str | None = None

    def handle_decl(self, decl: str) -> None:
        self.decl = decl

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.started.append((tag, dict(attrs)))
        if tag not in VOID_ELEMENTS:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        self.errors.append(f"self-closing <{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID_ELEMENTS:
            self.errors.append(f"end tag for void element </{tag}>")
        elif not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()


def _parse(page: str) -> _TagChecker:
    checker = _TagChecker()
    checker.feed(page)
    checker.close()
    return checker


@pytest.fixture
def figures():
    made = {}
    for name in ("training_curves", "samples"):
        fig = Figure(figsize=(2, 1.5))
        ax = fig.subplots()
        ax.plot([1, 2, 3])
        made[name] = fig
    yield made
    plt.close("all")


@pytest.fixture(scope="module")
def gif() -> bytes:
    return progress_gif(np.random.default_rng(0).random((3, 16, 28, 28), dtype=np.float32))


def test_flatten_metrics_uses_dotted_keys_in_order():
    flat = flatten_metrics({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": 3})
    assert flat == {"a.b": 1, "a.c.d": [1, 2], "e": 3}
    assert list(flat) == ["a.b", "a.c.d", "e"]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (241.53219, "241.5322"),
        (0.5, "0.5"),
        (2.0, "2"),
        (12345678.9, "12,345,679"),
        (0.000123, "1.230e-04"),
        (np.float32(0.25), "0.25"),
        (50000, "50,000"),
        (np.int64(17), "17"),
        (True, "true"),
        (float("nan"), "nan"),
        (None, "—"),
        ("adam", "adam"),
    ],
)
def test_format_value(value, text):
    assert format_value(value) == text


def test_report_is_valid_balanced_html5(figures, gif):
    page = build_report(METRICS, figures, {}, gif, generated_at="2024-05-01 12:00")
    assert page.startswith("<!DOCTYPE html>")
    checker = _parse(page)
    assert checker.decl is not None and checker.decl.lower() == "doctype html"
    assert checker.errors == []
    assert checker.stack == []
    tags = [tag for tag, _ in checker.started]
    for unique in ("html", "head", "body", "title"):
        assert tags.count(unique) == 1
    assert dict(checker.started)["html"]["lang"] == "en"
    assert ("meta", {"charset": "utf-8"}) in checker.started


def test_report_embeds_every_figure_and_the_gif(figures, gif):
    page = build_report(METRICS, figures, {}, gif)
    assert page.count("<img") == len(figures) + 1
    sources = re.findall(r'<img src="data:(image/\w+);base64,([^"]+)"', page)
    assert [mime for mime, _ in sources] == ["image/png", "image/png", "image/gif"]
    assert base64.b64decode(sources[0][1]).startswith(b"\x89PNG")
    assert base64.b64decode(sources[-1][1]) == gif
    assert "http" not in page.replace("http-equiv", "")  # self-contained: nothing fetched


def test_report_without_gif_and_with_png_bytes(figures):
    png = b"\x89PNG\r\n\x1a\n fake"
    page = build_report({}, {**figures, "ready": png}, {}, None)
    assert page.count("<img") == 3
    assert base64.b64encode(png).decode() in page
    assert "No metrics." in page


def test_report_lists_every_flattened_metric(figures):
    page = build_report(METRICS, figures, {}, None)
    for key in flatten_metrics(METRICS):
        assert f"<code>{key}</code>" in page
    assert "241.5322" in page
    # The 32-value list is summarised, with the full list folded away; short lists are inline.
    assert re.search(r"<details><summary>32 values: mean 7\.75, min 0, max 15\.5</summary>", page)
    assert "[16, 2]" in page


def test_report_escapes_text(figures):
    captions = {"samples": "KL < 0.1 & <b>bold</b>", GIF_KEY: 'a "quoted" <gif>'}
    page = build_report(
        {"odd<key>": "<script>"}, figures, captions, b"GIF89a", title="VAE <report>"
    )
    assert "KL &lt; 0.1 &amp; &lt;b&gt;bold&lt;/b&gt;" in page
    assert "<b>" not in page and "<script>" not in page and "<gif>" not in page
    assert "<title>VAE &lt;report&gt;</title>" in page
    assert "odd&lt;key&gt;" in page
    assert 'alt="a &quot;quoted&quot; &lt;gif&gt;"' in page
    assert _parse(page).errors == []


def test_report_captions_and_timestamp_are_deterministic(figures):
    stamp = datetime(2024, 5, 1, 12, 30, 5)
    captions = {"samples": "100 prior samples"}
    first = build_report(METRICS, figures, captions, None, generated_at=stamp)
    second = build_report(METRICS, figures, captions, None, generated_at=stamp)
    assert first == second
    assert '<time datetime="2024-05-01T12:30:05">' in first
    assert "<figcaption>100 prior samples</figcaption>" in first
    assert "<figcaption>Training curves</figcaption>" in first  # caption falls back to the name
