"""``TensorFlowModelDataset``: kedro-datasets' Keras model dataset, loading for this machine."""

from typing import Any

from kedro_datasets.tensorflow import TensorFlowModelDataset as _TensorFlowModelDataset


class TensorFlowModelDataset(_TensorFlowModelDataset):
    """``TensorFlowModelDataset`` loads and saves Keras models (``.keras`` or ``.h5``) through
    ``tf.keras.models.load_model`` / ``save_model``, exactly as
    ``kedro_datasets.tensorflow.TensorFlowModelDataset`` does. Models still load with
    ``safe_mode=True`` by default, which refuses to run code stored in a model file (such as
    a ``Lambda`` layer's). A loaded model computes as fast as this machine allows
    (``fashion_vae.model.on_this_machine``): bfloat16 layers in float32 where bfloat16 is not
    native here, and a VAE with this machine's batch split.

    Example catalog entry:

    ```yaml
    vae_model:
      type: fashion_vae.datasets.TensorFlowModelDataset
      filepath: data/06_models/vae.keras
    ```
    """

    def load(self) -> Any:
        """The stored model, set to compute as fast as this machine allows."""
        from fashion_vae.model.on_this_machine import adapt_to_this_machine  # noqa: PLC0415

        return adapt_to_this_machine(super().load())
