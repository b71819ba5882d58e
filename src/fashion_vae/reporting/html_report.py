"""A self-contained HTML report: headline table, figures (as data URIs), then every metric."""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure

GIF_KEY = "progress_gif"  # the captions key for the animated GIF
# Lists up to this long are shown inline; longer ones are summarised with a <details> block.
_INLINE_LIST_MAX = 8
# What the headline table shows for a metric that is missing (or has no reference figure).
MISSING = "–"


@dataclass(frozen=True)
class Headline:
    """One row of the headline table: where its value (and standard error) sit in the metrics."""

    label: str
    path: str  # dotted path in the metrics, e.g. "elbo.negative_elbo"
    error_path: str | None = None  # its standard error, where the metrics have one
    units: str = ""
    units_path: str | None = None  # the metrics' own units string, preferred when present
    # ("K =", "log_likelihood.iwae_samples") appends "(K = 5)" to the label when present.
    qualifier: tuple[str, str] | None = None


HEADLINES = (
    Headline(
        "test −ELBO",
        "elbo.negative_elbo",
        error_path="elbo.standard_error",
        units="nats/image",
        units_path="elbo.units",
    ),
    Headline(
        "IWAE bound −log p(x)",
        "log_likelihood.negative_log_likelihood_iwae",
        error_path="log_likelihood.standard_error",
        units="nats/image",
        units_path="log_likelihood.units",
        qualifier=("K =", "log_likelihood.iwae_samples"),
    ),
    Headline(
        "data entropy floor",
        "log_likelihood.data_entropy_floor",
        units="nats/image",
        units_path="log_likelihood.units",
    ),
    Headline("FID, prior", "generation.prior.fid_fashion_classifier"),
    Headline("FID, latent mixture", "generation.gmm.fid_fashion_classifier"),
    Headline(
        "class-conditional accuracy",
        "generation.class_conditional.accuracy",
        units="fraction of samples",
    ),
    Headline(
        "linear probe accuracy",
        "feature_learning.linear_probe_accuracy",
        units="fraction of test images",
    ),
    Headline(
        "k-NN accuracy",
        "feature_learning.knn_accuracy",
        units="fraction of test images",
        qualifier=("k =", "feature_learning.knn_k"),
    ),
    Headline(
        "active units",
        "latent.active_units",
        units="latent dimensions",
        qualifier=("of", "latent.latent_dim"),
    ),
    Headline("reconstruction PSNR", "reconstruction.psnr_db", units="dB"),
    Headline("reconstruction SSIM", "reconstruction.ssim", units="1 = identical"),
)
HEADLINE_PATHS = tuple(headline.path for headline in HEADLINES)

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; padding: 0 1rem;
       color: #222; }
table { border-collapse: collapse; margin-bottom: 2rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.75rem; text-align: left;
         vertical-align: top; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
table.headline { font-size: 1.1em; margin-bottom: 0.5rem; }
table.headline thead th { border-bottom: 2px solid #999; }
p.note { color: #555; font-size: 0.9em; margin: 0 0 2.5rem 0; max-width: 60rem; }
details pre { white-space: pre-wrap; max-width: 60rem; font-size: 0.85em; }
details.section { margin-bottom: 0.5rem; }
details.section > summary { cursor: pointer; font-size: 1.1em; padding: 0.25rem 0; }
details.section > table { margin: 0.5rem 0 1.5rem 1rem; }
figure { margin: 0 0 2.5rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; margin-top: 0.4rem; }
"""


def flatten_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts to one level with dotted keys, keeping insertion order."""
    flat: dict[str, Any] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_metrics(value, prefix=f"{name}."))
        else:
            flat[name] = value
    return flat


def format_value(value: Any) -> str:
    """Plain-text rendering of one scalar: thousands separators, about four decimals."""
    if value is None:
        return "—"
    if isinstance(value, bool | np.bool_):  # before int: bool is an int subclass
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        return _format_float(float(value))
    return str(value)


def _format_float(value: float) -> str:
    """Fixed point in the usual range; scientific where fixed point would lose the digits."""
    magnitude = abs(value)
    if magnitude == 0:
        return "0"
    if not math.isfinite(value):
        return str(value)
    if magnitude < 1e-3 or magnitude >= 1e9:
        return f"{value:.3e}"
    if magnitude >= 1e5:
        return f"{value:,.0f}"
    return f"{value:,.4f}".rstrip("0").rstrip(".")


def _is_number(value: Any) -> bool:
    """True for real numbers (numpy included), not bools."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _value_cell(value: Any) -> str:
    """A <td> for one flattened metric; long lists become a summary with the full list folded."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, list | tuple):
        css = ' class="number"' if _is_number(value) else ""
        return f"<td{css}>{html.escape(format_value(value))}</td>"
    items = list(np.asarray(value).reshape(-1).tolist()) if _all_numbers(value) else list(value)
    text = ", ".join(format_value(item) for item in items)
    if len(items) <= _INLINE_LIST_MAX:
        return f"<td>[{html.escape(text)}]</td>"
    if _all_numbers(items):
        array = np.asarray(items, dtype=np.float64)
        summary = (
            f"{len(items):,} values: mean {format_value(float(np.mean(array)))}, "
            f"min {format_value(float(np.min(array)))}, max {format_value(float(np.max(array)))}"
        )
    else:
        summary = f"{len(items):,} items"
    return (
        f"<td><details><summary>{html.escape(summary)}</summary>"
        f"<pre>{html.escape(text)}</pre></details></td>"
    )


def _all_numbers(values: Any) -> bool:
    """True when a (possibly nested) list holds only numbers."""
    try:
        array = np.asarray(values)
    except ValueError:  # ragged
        return False
    return array.size > 0 and array.dtype.kind in "iuf"


def _data_uri(image: Figure | bytes, mime: str) -> str:
    """Base64 data URI for a figure (rendered to PNG) or already-encoded image bytes."""
    if isinstance(image, Figure):
        buffer = io.BytesIO()
        image.savefig(buffer, format="png")
        image = buffer.getvalue()
    return f"data:{mime};base64,{base64.b64encode(image).decode('ascii')}"


def _humanize(key: str) -> str:
    """'latent_map' -> 'Latent map', for figures without a caption."""
    return key.replace("_", " ").strip().capitalize()


def _figure_block(key: str, uri: str, caption: str) -> str:
    """One <figure> with its heading, embedded image and caption."""
    anchor = html.escape(f"figure-{key}", quote=True)
    return (
        f'<figure id="{anchor}">\n'
        f"<h3>{html.escape(_humanize(key))}</h3>\n"
        f'<img src="{uri}" alt="{html.escape(caption, quote=True)}">\n'
        f"<figcaption>{html.escape(caption)}</figcaption>\n"
        "</figure>"
    )


def metric_at(metrics: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path of nested metrics, or None where any step is missing."""
    value: Any = metrics
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def _headline_text(value: Any) -> str:
    """A headline cell's text: the formatted scalar, or MISSING for a missing or non-scalar one."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if value is None or isinstance(value, Mapping | list | tuple | np.ndarray):
        return MISSING
    return format_value(value)


def _headline_cell(value: Any) -> str:
    """A right-aligned <td>, so that a dash lines up with the figures above and below it."""
    return f'<td class="number">{html.escape(_headline_text(value))}</td>'


def _check_reference(reference: Mapping[str, float]) -> None:
    """Raise ValueError for a reference that names no headline or is not a number."""
    for path, value in reference.items():
        if path not in HEADLINE_PATHS:
            raise ValueError(
                f"reference names {path!r}, not a headline metric; expected some of "
                f"{', '.join(HEADLINE_PATHS)}"
            )
        if not _is_number(value):
            raise ValueError(f"reference[{path!r}] is {value!r}; expected a number")


def _headline_row(
    headline: Headline, metrics: Mapping[str, Any], reference: Mapping[str, float]
) -> str:
    """One <tr> of the headline table."""
    label = headline.label
    if headline.qualifier is not None:
        word, path = headline.qualifier
        qualifier = metric_at(metrics, path)
        if _is_number(qualifier):
            label = f"{label} ({word} {format_value(qualifier)})"
    units = metric_at(metrics, headline.units_path) if headline.units_path else None
    if not isinstance(units, str):
        units = headline.units
    error = metric_at(metrics, headline.error_path) if headline.error_path else None
    return (
        f'<tr><th scope="row" title="{html.escape(headline.path, quote=True)}">'
        f"{html.escape(label)}</th>"
        f"{_headline_cell(metric_at(metrics, headline.path))}"
        f"{_headline_cell(error)}"
        f"<td>{html.escape(units)}</td>"
        f"{_headline_cell(reference.get(headline.path))}</tr>"
    )


def _headline_table(metrics: Mapping[str, Any], reference: Mapping[str, float]) -> list[str]:
    """The headline table and the note under it."""
    return [
        '<table class="headline">',
        "<thead><tr>"
        '<th scope="col">Metric</th><th scope="col">Value</th>'
        '<th scope="col">± s.e.</th><th scope="col">Units</th>'
        '<th scope="col">Textbook preset</th>'
        "</tr></thead>",
        "<tbody>",
        *(_headline_row(headline, metrics, reference) for headline in HEADLINES),
        "</tbody>",
        "</table>",
        '<p class="note">Standard errors are over test images. "Textbook preset": the book\'s '
        "architecture as this project measured it (parameter <code>report.textbook_reference"
        f"</code>). A dash ({MISSING}) means the metric is missing or no figure is known. "
        'Every metric is under <a href="#metrics">All metrics</a>.</p>',
    ]


def _section_block(name: str, value: Any) -> str:
    """One closed <details> holding every flattened metric of a top-level section."""
    if isinstance(value, Mapping):
        flat = flatten_metrics(value, prefix=f"{name}.")
    else:  # a scalar at the top level is a section of one
        flat = {name: value}
    count = f"{len(flat):,} value{'' if len(flat) == 1 else 's'}"
    anchor = html.escape(f"metrics-{name}", quote=True)
    parts = [
        f'<details class="section" id="{anchor}">',
        f"<summary><code>{html.escape(name)}</code> · {count}</summary>",
    ]
    if flat:
        parts += [
            "<table>",
            '<thead><tr><th scope="col">Metric</th><th scope="col">Value</th></tr></thead>',
            "<tbody>",
            *(
                f'<tr><th scope="row"><code>{html.escape(key)}</code></th>{_value_cell(item)}</tr>'
                for key, item in flat.items()
            ),
            "</tbody>",
            "</table>",
        ]
    else:
        parts.append("<p>No values.</p>")
    parts.append("</details>")
    return "\n".join(parts)


def build_report(
    metrics: Mapping[str, Any],
    figures: Mapping[str, Figure | bytes],
    captions: Mapping[str, str],
    gif: bytes | None = None,
    *,
    title: str = "Fashion-MNIST VAE report",
    reference: Mapping[str, float] | None = None,
) -> str:
    """A self-contained HTML5 page: headline table, every figure (and GIF), then every metric.

    `reference` maps headline metric paths (dotted, e.g. "elbo.negative_elbo") to the textbook
    preset's figures, shown beside them. The page holds no timestamp: the same inputs give the
    same bytes.
    """
    # `figures` values may be Figures or PNG bytes already rendered (e.g. read back from disk).
    reference = dict(reference or {})
    _check_reference(reference)
    escaped_title = html.escape(title)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escaped_title}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{escaped_title}</h1>",
        "</header>",
        '<section id="headline">',
        "<h2>Headline</h2>",
        *_headline_table(metrics, reference),
        "</section>",
        '<section id="figures">',
        "<h2>Figures</h2>",
    ]
    for key, figure in figures.items():
        caption = captions.get(key, _humanize(key))
        parts.append(_figure_block(key, _data_uri(figure, "image/png"), caption))
    if gif is not None:
        caption = captions.get(GIF_KEY, "The same prior samples decoded after each epoch")
        parts.append(_figure_block(GIF_KEY, _data_uri(gif, "image/gif"), caption))
    parts += ["</section>", '<section id="metrics">', "<h2>All metrics</h2>"]
    if metrics:
        parts += [_section_block(name, value) for name, value in metrics.items()]
    else:
        parts.append("<p>No metrics.</p>")
    parts += ["</section>", "</body>", "</html>", ""]
    return "\n".join(parts)
