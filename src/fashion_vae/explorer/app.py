"""The explorer's page (Gradio Blocks): controls wired to `Explorer`'s methods, nothing more.

Import it through `fashion_vae.explorer.launcher`, which turns Gradio's telemetry off first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from fashion_vae.data.labels import CLASS_NAMES
from fashion_vae.errors import UnreadableImageError

from .explorer import Explorer, Picked
from .latent_space import MIXTURE, PRIOR, SLIDER_STEP, code_from_sliders

# The operating system's fonts: a theme's default web fonts would be fetched from the internet.
# (Gradio quotes any other name than a generic family, so "system-ui" would not be the keyword.)
THEME = gr.themes.Base(font=gr.themes.Font("sans-serif"), font_mono=gr.themes.Font("monospace"))
TITLE = "Fashion VAE explorer"
UPLOAD_TYPES = [".png", ".jpg", ".jpeg"]
# No "share" button: it would offer to publish an image on a public hub.
IMAGE_BUTTONS = ["download", "fullscreen"]


@dataclass(frozen=True)
class Page:
    """The page's components that events read or write."""

    sliders: list[gr.Slider]
    residual: gr.State
    reset: gr.Button
    decoded: gr.Image
    status: gr.Markdown
    latent_map: gr.Image
    original: gr.Image
    reconstruction: gr.Image
    upload: gr.UploadButton
    start: gr.State
    end: gr.State
    set_start: gr.Button
    set_end: gr.Button
    start_upload: gr.UploadButton
    end_upload: gr.UploadButton
    kind: gr.Radio
    interpolate: gr.Button
    strip: gr.Image
    seed: gr.Number
    sources: dict[str, gr.Button]
    samples: gr.Image

    @property
    def code(self) -> list[gr.components.Component]:
        """What holds the current code: the sliders and the residual."""
        return [*self.sliders, self.residual]

    @property
    def picked(self) -> list[gr.components.Component]:
        """What a picked code updates, in `_picked_outputs`' order."""
        return [*self.code, self.decoded, self.original, self.reconstruction, self.status]


def build_app(explorer: Explorer) -> gr.Blocks:
    """The page: sliders and decoded image, latent map, your image, interpolation, sampling."""
    with gr.Blocks(title=TITLE, analytics_enabled=False) as app:
        _wire(explorer, _layout(explorer))
    return app


def _layout(explorer: Explorer) -> Page:
    """Lay out the page's components, showing the mean and the map."""
    limit = explorer.params.slider_range
    gr.Markdown(
        f"# {TITLE}\nEach slider moves along a principal direction of the training images' "
        "codes (in standard deviations); the decoder draws the code."
    )
    with gr.Row():
        with gr.Column(scale=1, min_width=260):
            sliders = [
                gr.Slider(-limit, limit, value=0.0, step=SLIDER_STEP, label=f"direction {i + 1}")
                for i in range(explorer.directions.count)
            ]
            reset = gr.Button("Reset to the mean")
        with gr.Column(scale=1, min_width=240):
            decoded = gr.Image(
                explorer.reset().image, label="Decoded", elem_id="decoded", buttons=IMAGE_BUTTONS
            )
            status = gr.Markdown(elem_id="status")
        with gr.Column(scale=2):
            latent_map = gr.Image(
                explorer.map_picture,
                label="Latent map of test images: click a point, or anywhere to decode it",
                elem_id="latent-map",
                interactive=False,
                buttons=IMAGE_BUTTONS,
            )
            with gr.Row():
                original = gr.Image(label="Input", elem_id="original", buttons=IMAGE_BUTTONS)
                reconstruction = gr.Image(
                    label="Reconstruction", elem_id="reconstruction", buttons=IMAGE_BUTTONS
                )
    with gr.Tab("Your image"):
        upload = gr.UploadButton(
            "Upload a PNG or JPEG image", file_types=UPLOAD_TYPES, elem_id="upload"
        )
    with gr.Tab("Interpolation"):
        with gr.Row():
            set_start = gr.Button("Start ← the sliders' code")
            set_end = gr.Button("End ← the sliders' code")
            kind = gr.Radio(["linear", "spherical"], value="spherical", label="Path")
            interpolate = gr.Button("Interpolate", variant="primary")
        with gr.Row():
            start_upload = gr.UploadButton("Start ← an image", file_types=UPLOAD_TYPES)
            end_upload = gr.UploadButton("End ← an image", file_types=UPLOAD_TYPES)
        strip = gr.Image(label="Interpolation", elem_id="interpolation", buttons=IMAGE_BUTTONS)
    with gr.Tab("Sampling"):
        seed = gr.Number(2026, label="Seed", precision=0, minimum=0)
        with gr.Row():
            sources = {PRIOR: gr.Button("Prior"), MIXTURE: gr.Button("Mixture")}
        with gr.Row():
            sources |= {name: gr.Button(name, size="sm") for name in CLASS_NAMES}
        samples = gr.Image(label="Samples", elem_id="samples", buttons=IMAGE_BUTTONS)
    return Page(
        sliders=sliders,
        residual=gr.State(np.zeros(explorer.vae.latent_dim)),
        reset=reset,
        decoded=decoded,
        status=status,
        latent_map=latent_map,
        original=original,
        reconstruction=reconstruction,
        upload=upload,
        start=gr.State(),
        end=gr.State(),
        set_start=set_start,
        set_end=set_end,
        start_upload=start_upload,
        end_upload=end_upload,
        kind=kind,
        interpolate=interpolate,
        strip=strip,
        seed=seed,
        sources=sources,
        samples=samples,
    )


def _picked_outputs(picked: Picked) -> list[Any]:
    """A picked code's sliders, residual and image, its input and reconstruction, a caption."""
    setting = picked.setting
    return [
        *setting.values.tolist(),
        setting.residual,
        setting.image,
        picked.original,
        picked.reconstruction,
        picked.caption,
    ]


def _refusal(error: UnreadableImageError) -> str:
    """Say on the page, and in a pop-up, which upload was refused and why."""
    message = f"Not a readable PNG or JPEG image: {error}"
    gr.Warning(message)
    return message


def _wire(explorer: Explorer, page: Page) -> None:
    """Connect each control's event to the explorer's answer."""
    skip_all_but_status = [gr.skip()] * (len(page.picked) - 1)

    def end_from_sliders(which: str) -> Callable[..., list[Any]]:
        """A handler that takes the sliders' code as the interpolation's start or end."""

        def handler(*code: Any) -> list[Any]:
            *values, residual = code
            values = np.asarray(values, np.float64)
            return [
                code_from_sliders(explorer.directions, values, residual),
                f"Interpolation {which}: the sliders' code",
            ]

        return handler

    def on_sliders(*code: Any) -> np.ndarray:
        """The decoded image of the sliders."""
        *values, residual = code
        return explorer.on_sliders(np.asarray(values, np.float64), residual)

    def on_reset() -> list[Any]:
        """Every slider at zero, and the mean decoded."""
        setting = explorer.reset()
        return [*setting.values.tolist(), setting.residual, setting.image]

    def on_map_click(event: gr.SelectData) -> list[Any]:
        """The test image clicked, or the point of the plane, on the sliders."""
        x, y = event.index
        return _picked_outputs(explorer.on_map_click(x, y))

    def on_upload(path: str) -> list[Any]:
        """The uploaded image prepared, reconstructed and on the sliders; or why not."""
        try:
            return _picked_outputs(explorer.on_upload(path))
        except UnreadableImageError as error:
            return [*skip_all_but_status, _refusal(error)]

    def end_from_upload(which: str) -> Callable[[str], list[Any]]:
        """A handler that takes an uploaded image's code as the interpolation's start or end."""

        def handler(path: str) -> list[Any]:
            try:
                code = explorer.encode_upload(path)[1]
            except UnreadableImageError as error:
                return [None, _refusal(error)]
            return [code, f"Interpolation {which}: {Path(path).name}"]

        return handler

    def on_interpolate(start: np.ndarray | None, end: np.ndarray | None, kind: str) -> np.ndarray:
        """The decoded path between the two ends."""
        if start is None or end is None:
            raise gr.Error("Choose a start and an end first: the sliders' code, or an image")
        return explorer.on_interpolate(start, end, kind)

    for slider in page.sliders:
        # `input`, not `change`: only a user's move decodes; a picked code sets the sliders
        # and shows its image itself, instead of one decode per slider it moves. Unqueued: a
        # move took 58-78 ms in the browser instead of 91-101 ms (benchmarks/README.md).
        slider.input(
            on_sliders,
            page.code,
            page.decoded,
            trigger_mode="always_last",
            show_progress="hidden",
            queue=False,
        )
    page.reset.click(on_reset, None, [*page.code, page.decoded])
    page.latent_map.select(on_map_click, None, page.picked)
    page.upload.upload(on_upload, page.upload, page.picked)
    page.set_start.click(end_from_sliders("start"), page.code, [page.start, page.status])
    page.set_end.click(end_from_sliders("end"), page.code, [page.end, page.status])
    page.start_upload.upload(end_from_upload("start"), page.start_upload, [page.start, page.status])
    page.end_upload.upload(end_from_upload("end"), page.end_upload, [page.end, page.status])
    page.interpolate.click(on_interpolate, [page.start, page.end, page.kind], page.strip)
    for source, button in page.sources.items():
        button.click(
            lambda seed, source=source: explorer.on_sample(source, int(seed)),
            page.seed,
            page.samples,
        )


def serve(
    app: gr.Blocks,
    host: str,
    port: int,
    *,
    max_upload_mb: float,
    login: tuple[str, str] | None = None,
) -> gr.Blocks:
    """Start the app on host:port without blocking; nothing is fetched from or sent elsewhere.
    Larger uploads are refused before they are stored; with `login`, every route asks for it."""
    app.launch(
        server_name=host,
        server_port=port,
        max_file_size=int(max_upload_mb * 1024 * 1024),
        auth=login,
        prevent_thread_lock=True,
        share=False,
        inbrowser=False,
        quiet=True,
        theme=THEME,
        ssr_mode=False,
        footer_links=[],
    )
    return app
