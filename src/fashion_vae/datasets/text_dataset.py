"""``TextDataset``: kedro-datasets' ``text.TextDataset``, whose versions appear only whole."""

from kedro_datasets.text import TextDataset as _TextDataset

from ._staged_versions import StagedVersionsMixin


class TextDataset(StagedVersionsMixin, _TextDataset):
    """``TextDataset`` loads/saves a string from/to a text file using an underlying filesystem
    (e.g.: local, S3, GCS), exactly as ``kedro_datasets.text.TextDataset`` does, except that
    a versioned save to a local file publishes its version only once the file is complete
    (``StagedVersionsMixin``), so a failed or killed save never becomes the latest version.

    Example catalog entry:

    ```yaml
    report_page:
      type: fashion_vae.datasets.TextDataset
      filepath: data/08_reporting/report.html
      versioned: true
    ```
    """
