"""Tests of the self-contained HTML report."""

import base64
import os
import re
from html.parser import HTMLParser

os.environ.setdefault("MPLBACKEND", "Agg")  # headless: no display is needed (or available)

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from fashion_vae.reporting.figures import progress_gif
from fashion_vae.reporting.html_report import (
    GIF_KEY,
    HEADLINE_PATHS,
    MISSING,
    build_report,
    flatten_metrics,
    format_value,
    metric_at,
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

# The layout of evaluate's metrics.json (assemble_metrics), trimmed, with distinct values.
FULL_METRICS = {
    "run": {"model_latent_dim": 200, "n_test_images": 10000, "seed": 2026},
    "elbo": {
        "negative_elbo": 235.4712,
        "reconstruction": 221.3,
        "kl": 14.2,
        "standard_error": 0.7561,
        "n_samples": 5,
        "units": "nats/image",
    },
    "log_likelihood": {
        "negative_log_likelihood_iwae": 234.3109,
        "standard_error": 0.7432,
        "iwae_samples": 5,
        "data_entropy_floor": 189.9017,
        "units": "nats/image",
    },
    "reconstruction": {
        "mse": 0.0119,
        "psnr_db": 20.3141,
        "ssim": 0.6893,
        "per_class": {"Trouser": {"mse": 0.0056}, "Sandal": {"mse": 0.0185}},
    },
    "latent": {"latent_dim": 200, "active_units": 14, "kl_per_dimension": {"total": 14.2}},
    "feature_learning": {"linear_probe_accuracy": 0.8591, "knn_accuracy": 0.8437, "knn_k": 5},
    "generation": {
        "fid_real_reference": 0.1803,
        "prior": {"fid_fashion_classifier": 19.4262},
        "gmm": {"fid_fashion_classifier": 10.1234},
        "class_conditional": {"accuracy": 0.8456},
    },
}
HEADLINE_ROWS = [  # label, value, standard error, units of FULL_METRICS' headline table
    ("test −ELBO", "235.4712", "0.7561", "nats/image"),
    ("IWAE bound −log p(x) (K = 5)", "234.3109", "0.7432", "nats/image"),
    ("data entropy floor", "189.9017", MISSING, "nats/image"),
    ("FID, prior", "19.4262", MISSING, ""),
    ("FID, latent mixture", "10.1234", MISSING, ""),
    ("class-conditional accuracy", "0.8456", MISSING, "fraction of samples"),
    ("linear probe accuracy", "0.8591", MISSING, "fraction of test images"),
    ("k-NN accuracy (k = 5)", "0.8437", MISSING, "fraction of test images"),
    ("active units (of 200)", "14", MISSING, "latent dimensions"),
    ("reconstruction PSNR", "20.3141", MISSING, "dB"),
    ("reconstruction SSIM", "0.6893", MISSING, "1 = identical"),
]


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


class _Outline(HTMLParser):
    """The page's tables (rows of cell texts), <img> and <details> in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.order: list[tuple[str, int]] = []  # ("table" | "img" | "details", its index)
        self.tables: list[list[list[str]]] = []
        self.details: list[dict] = []  # attrs, summary text, depth among <details>
        self._tables_open: list[list[list[str]]] = []
        self._cell: list[str] | None = None
        self._details_depth = 0
        self._summary: dict | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            table: list[list[str]] = []
            self.order.append(("table", len(self.tables)))
            self.tables.append(table)
            self._tables_open.append(table)
        elif tag == "tr" and self._tables_open:
            self._tables_open[-1].append([])
        elif tag in ("td", "th") and self._tables_open:
            self._cell = []
        elif tag == "img":
            self.order.append(("img", 0))
        elif tag == "details":
            self.order.append(("details", len(self.details)))
            entry = {"attrs": dict(attrs), "summary": "", "depth": self._details_depth}
            self.details.append(entry)
            self._details_depth += 1
        elif tag == "summary":
            self._summary = self.details[-1]

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._tables_open.pop()
        elif tag in ("td", "th") and self._cell is not None:
            self._tables_open[-1][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "details":
            self._details_depth -= 1
        elif tag == "summary":
            self._summary = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._summary is not None:
            self._summary["summary"] += data


def _outline(page: str) -> _Outline:
    outline = _Outline()
    outline.feed(page)
    outline.close()
    return outline


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
    page = build_report(FULL_METRICS, figures, {}, gif, reference={"elbo.negative_elbo": 294.1})
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


def test_metric_at_follows_dotted_paths():
    assert metric_at(FULL_METRICS, "elbo.negative_elbo") == 235.4712
    assert metric_at(FULL_METRICS, "reconstruction.per_class.Sandal.mse") == 0.0185
    assert metric_at(FULL_METRICS, "generation.missing") is None
    assert metric_at(FULL_METRICS, "elbo.negative_elbo.deeper") is None  # a number has no keys


def test_first_table_is_the_headline_before_any_figure(figures, gif):
    page = build_report(FULL_METRICS, figures, {}, gif)
    outline = _outline(page)
    assert outline.order[0] == ("table", 0)
    assert outline.order.index(("table", 0)) < outline.order.index(("img", 0))
    header, *rows = outline.tables[0]
    assert header == ["Metric", "Value", "± s.e.", "Units", "Textbook preset"]
    assert [tuple(row[:4]) for row in rows] == HEADLINE_ROWS
    assert [row[4] for row in rows] == [MISSING] * len(HEADLINE_ROWS)  # no reference given
    # Every full-metrics table comes after the figures.
    last_img = max(i for i, (kind, _) in enumerate(outline.order) if kind == "img")
    later = [i for i, (kind, index) in enumerate(outline.order) if kind == "table" and index > 0]
    assert later and min(later) > last_img


def test_headline_shows_a_dash_for_missing_metrics(figures):
    metrics = {
        **FULL_METRICS,
        # A metrics file from before the latent mixture: only the prior's FID, elsewhere.
        "generation": {"fid_fashion_classifier": 19.4},
        "elbo": {"negative_elbo": 235.4712, "standard_error": None},
    }
    del metrics["feature_learning"]
    rows = {row[0]: row for row in _outline(build_report(metrics, figures, {})).tables[0][1:]}
    assert rows["test −ELBO"][1:3] == ["235.4712", MISSING]
    assert rows["test −ELBO"][3] == "nats/image"  # the default units without the metrics' own
    assert rows["FID, prior"][1] == MISSING
    assert rows["FID, latent mixture"][1] == MISSING
    assert rows["class-conditional accuracy"][1] == MISSING
    assert rows["linear probe accuracy"][1] == MISSING
    assert rows["k-NN accuracy"][1] == MISSING  # and no "(k = …)" without knn_k
    assert rows["active units (of 200)"][1] == "14"
    empty = _outline(build_report({}, figures, {})).tables[0]
    assert len(empty) == 1 + len(HEADLINE_PATHS)
    assert all(row[1] == MISSING for row in empty[1:])


def test_headline_reference_column_shows_the_given_figures(figures):
    reference = {"elbo.negative_elbo": 294.1, "latent.active_units": 7}
    rows = _outline(build_report(FULL_METRICS, figures, {}, reference=reference)).tables[0][1:]
    textbook = {row[0]: row[4] for row in rows}
    assert textbook["test −ELBO"] == "294.1"
    assert textbook["active units (of 200)"] == "7"
    assert [value for label, value in textbook.items() if value != MISSING] == ["294.1", "7"]


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ({"elbo.negative_elb": 294.1}, "not a headline metric"),
        ({"elbo.negative_elbo": "294.1"}, "expected a number"),
    ],
)
def test_report_rejects_an_unusable_reference(figures, reference, message):
    with pytest.raises(ValueError, match=message):
        build_report(FULL_METRICS, figures, {}, reference=reference)


def test_every_top_level_section_is_a_closed_details(figures):
    page = build_report(FULL_METRICS, figures, {})
    outline = _outline(page)
    sections = [entry for entry in outline.details if entry["depth"] == 0]
    assert [entry["summary"].split()[0] for entry in sections] == list(FULL_METRICS)
    assert all("open" not in entry["attrs"] for entry in outline.details)
    assert sections[1]["summary"] == "elbo · 6 values"
    # Each section's own table lists its flattened keys and nothing else.
    tables = outline.tables[1:]
    assert len(tables) == len(FULL_METRICS)
    for (name, section), table in zip(FULL_METRICS.items(), tables, strict=True):
        keys = [row[0] for row in table[1:]]
        assert keys == list(flatten_metrics(section, prefix=f"{name}."))
    # The sections follow the figures.
    first_section = outline.order.index(("details", 0))
    assert first_section > max(i for i, (kind, _) in enumerate(outline.order) if kind == "img")


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
    # Top-level scalars are sections of one value.
    summaries = [d["summary"] for d in _outline(page).details if d["depth"] == 0]
    assert summaries == [
        "test · 4 values", "active_units · 1 value", "latent_shape · 1 value",
        "converged · 1 value", "note · 1 value",
    ]  # fmt: skip


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


def test_report_is_deterministic_and_has_no_timestamp(figures, gif):
    captions = {"samples": "100 prior samples"}
    reference = {"elbo.negative_elbo": 294.1}
    first = build_report(FULL_METRICS, figures, captions, gif, reference=reference)
    second = build_report(FULL_METRICS, figures, captions, gif, reference=reference)
    assert first == second
    assert "<time" not in first and "Generated" not in first
    assert not re.search(r"\b20\d\d-\d\d-\d\d", first)  # no date anywhere on the page
    assert "<figcaption>100 prior samples</figcaption>" in first
    assert "<figcaption>Training curves</figcaption>" in first  # caption falls back to the name
