"""A self-contained HTML report: metrics table plus figures embedded as data URIs."""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np
from matplotlib.figure import Figure

GIF_KEY = "progress_gif"  # the captions key for the animated GIF
# Lists up to this long are shown inline; longer ones are summarised with a <details> block.
_INLINE_LIST_MAX = 8

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; padding: 0 1rem;
       color: #222; }
table { border-collapse: collapse; margin-bottom: 2rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.75rem; text-align: left;
         vertical-align: top; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
details pre { white-space: pre-wrap; max-width: 60rem; font-size: 0.85em; }
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


def build_report(
    metrics: Mapping[str, Any],
    figures: Mapping[str, Figure | bytes],
    captions: Mapping[str, str],
    gif: bytes | None = None,
    *,
    title: str = "Fashion-MNIST VAE report",
    generated_at: datetime | str | None = None,
) -> str:
    """A self-contained HTML5 page with a metrics table and every figure (and GIF) embedded."""
    # `figures` values may be Figures or PNG bytes already rendered (e.g. read back from disk).
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
    ]
    # The timestamp is an argument, not datetime.now(), so that the same inputs give the same page.
    if isinstance(generated_at, datetime):
        stamp = generated_at.isoformat(timespec="seconds")
        parts.append(
            f'<p>Generated <time datetime="{html.escape(stamp, quote=True)}">'
            f"{html.escape(stamp)}</time></p>"
        )
    elif generated_at is not None:
        parts.append(f"<p>Generated {html.escape(str(generated_at))}</p>")
    parts += ["</header>", '<section id="metrics">', "<h2>Metrics</h2>"]

    flat = flatten_metrics(metrics)
    if flat:
        parts += [
            "<table>",
            '<thead><tr><th scope="col">Metric</th><th scope="col">Value</th></tr></thead>',
            "<tbody>",
        ]
        parts += [
            f'<tr><th scope="row"><code>{html.escape(key)}</code></th>{_value_cell(value)}</tr>'
            for key, value in flat.items()
        ]
        parts += ["</tbody>", "</table>"]
    else:
        parts.append("<p>No metrics.</p>")
    parts += ["</section>", '<section id="figures">', "<h2>Figures</h2>"]

    for key, figure in figures.items():
        caption = captions.get(key, _humanize(key))
        parts.append(_figure_block(key, _data_uri(figure, "image/png"), caption))
    if gif is not None:
        caption = captions.get(GIF_KEY, "The same prior samples decoded after each epoch")
        parts.append(_figure_block(GIF_KEY, _data_uri(gif, "image/gif"), caption))
    parts += ["</section>", "</body>", "</html>", ""]
    return "\n".join(parts)
