"""``MatplotlibDataset``: kedro-datasets' ``matplotlib.MatplotlibDataset``, and a figure read
back as the image it saved."""

import io

from kedro.io.core import get_filepath_str
from kedro_datasets.matplotlib import MatplotlibDataset as _MatplotlibDataset
from PIL import Image


class MatplotlibDataset(_MatplotlibDataset):
    """``MatplotlibDataset`` saves one or more Matplotlib figures as image files to an
    underlying filesystem (e.g. local, S3, GCS), exactly as
    ``kedro_datasets.matplotlib.MatplotlibDataset`` does, except that a single figure loads
    back as the image it saved (a Pillow image): one dataset, without transcoding, that a
    report reads and kedro-viz previews.

    Example catalog entry:

    ```yaml
    loss_curve_figure:
      type: fashion_vae.datasets.MatplotlibDataset
      filepath: data/08_reporting/loss_curve.png
      save_args:
        dpi: 100
    ```
    """

    def load(self) -> Image.Image:
        """The saved image of a single figure, decoded (the file is closed again)."""
        load_path = get_filepath_str(self._get_load_path(), self._protocol)
        with self._fs.open(load_path, mode="rb") as file:
            image = Image.open(io.BytesIO(file.read()))
            image.load()
        return image
