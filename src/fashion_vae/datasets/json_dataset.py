"""``JSONDataset``: kedro-datasets' ``json.JSONDataset``, whose versions appear only whole."""

from kedro_datasets.json import JSONDataset as _JSONDataset

from ._staged_versions import StagedVersionsMixin


class JSONDataset(StagedVersionsMixin, _JSONDataset):
    """``JSONDataset`` loads/saves data from/to a JSON file using an underlying filesystem
    (e.g.: local, S3, GCS), exactly as ``kedro_datasets.json.JSONDataset`` does, except that
    a versioned save to a local file publishes its version only once the file is complete
    (``StagedVersionsMixin``), so a failed or killed save never becomes the latest version.

    Example catalog entry:

    ```yaml
    metrics:
      type: fashion_vae.datasets.JSONDataset
      filepath: data/08_reporting/metrics.json
      versioned: true
      save_args:
        indent: 2
    ```
    """
