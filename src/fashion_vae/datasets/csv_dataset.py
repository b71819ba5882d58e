"""``CSVDataset``: kedro-datasets' ``pandas.CSVDataset``, whose versions appear only whole."""

from kedro_datasets.pandas import CSVDataset as _CSVDataset

from ._staged_versions import StagedVersionsMixin


class CSVDataset(StagedVersionsMixin, _CSVDataset):
    """``CSVDataset`` loads/saves data from/to a CSV file using an underlying filesystem
    (e.g.: local, S3, GCS), exactly as ``kedro_datasets.pandas.CSVDataset`` does, except that
    a versioned save to a local file publishes its version only once the file is complete
    (``StagedVersionsMixin``), so a failed or killed save never becomes the latest version.

    Example catalog entry:

    ```yaml
    training_history:
      type: fashion_vae.datasets.CSVDataset
      filepath: data/08_reporting/training_history.csv
      versioned: true
      save_args:
        index: false
    ```
    """
