"""``MatplotlibDataset``: kedro-datasets' ``matplotlib.MatplotlibDataset``, versions whole."""

from kedro_datasets.matplotlib import MatplotlibDataset as _MatplotlibDataset

from ._staged_versions import StagedVersionsMixin


class MatplotlibDataset(StagedVersionsMixin, _MatplotlibDataset):
    """``MatplotlibDataset`` saves one or more Matplotlib figures as image files to an
    underlying filesystem (e.g. local, S3, GCS), exactly as
    ``kedro_datasets.matplotlib.MatplotlibDataset`` does, except that a versioned save to
    local files publishes its version only once every image is complete
    (``StagedVersionsMixin``), so a failed or killed save never becomes the latest version.

    Example catalog entry:

    ```yaml
    loss_curve@figure:
      type: fashion_vae.datasets.MatplotlibDataset
      filepath: data/08_reporting/loss_curve.png
      versioned: true
      save_args:
        dpi: 100
    ```
    """
