"""``ImageDataset``: kedro-datasets' ``pillow.ImageDataset``, whose versions appear only whole."""

from kedro_datasets.pillow import ImageDataset as _ImageDataset

from ._staged_versions import StagedVersionsMixin


class ImageDataset(StagedVersionsMixin, _ImageDataset):
    """``ImageDataset`` loads/saves a Pillow image from/to an image file using an underlying
    filesystem (e.g.: local, S3, GCS), exactly as ``kedro_datasets.pillow.ImageDataset`` does,
    except that a versioned save to a local file publishes its version only once the file is
    complete (``StagedVersionsMixin``), so a failed or killed save never becomes the latest
    version. The format still follows the file name's suffix.

    Example catalog entry:

    ```yaml
    training_progress_gif:
      type: fashion_vae.datasets.ImageDataset
      filepath: data/08_reporting/training_progress.gif
      versioned: true
      save_args:
        save_all: true
    ```
    """
