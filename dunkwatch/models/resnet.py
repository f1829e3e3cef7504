"""The article's classifier, Keras 3 API only: ResNet50 backbone, dense head, sigmoid output.

Inputs are uint8 RGB; the ResNet preprocessing is a layer of the model, so training and
inference cannot drift apart and the same code runs under the TensorFlow or JAX backend.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import keras

from dunkwatch.errors import ModelError

log = logging.getLogger(__name__)

# Keras' own ResNet50 no-top ImageNet weights; fetched once, then read from the state directory.
IMAGENET_NOTOP_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
    "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
)
IMAGENET_NOTOP_MD5 = "4d473c1dd8becc155b73f8504c6f6626"
IMAGENET_NOTOP_NAME = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"


@keras.saving.register_keras_serializable(package="dunkwatch")
class ResNetPreprocess(keras.layers.Layer):
    """uint8 RGB -> the 'caffe' input ResNet50 was trained on: BGR, ImageNet mean removed."""

    def call(self, inputs: Any) -> Any:  # Keras tensors: untyped
        x = keras.ops.cast(inputs, "float32")
        x = keras.ops.flip(x, axis=-1)
        return x - keras.ops.convert_to_tensor([103.939, 116.779, 123.68], dtype="float32")

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape


def imagenet_weights(cache_dir: Path) -> Path | None:
    """The cached ImageNet weights file, downloading it once; None when it cannot be had."""
    cached = cache_dir / IMAGENET_NOTOP_NAME
    if cached.is_file():
        return cached
    try:
        got = keras.utils.get_file(
            IMAGENET_NOTOP_NAME,
            IMAGENET_NOTOP_URL,
            cache_dir=str(cache_dir),
            cache_subdir=".",
            file_hash=IMAGENET_NOTOP_MD5,
        )
        return Path(got)
    except Exception as exc:  # no network is normal here: fall back, but say so
        log.warning(
            "ImageNet weights unavailable (%s); the backbone starts from random weights",
            str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
        )
        return None


def build_model(
    input_size: int = 224,
    weights: str | Path | None = None,
    dense_units: tuple[int, int, int] = (256, 128, 64),
    dropout: float = 0.3,
    train_backbone: bool = False,
) -> keras.Model:
    """ResNet50(include_top=False) + global pooling + three dense layers + one sigmoid unit."""
    inputs = keras.Input((input_size, input_size, 3), dtype="uint8", name="frames")
    x = ResNetPreprocess(name="resnet_preprocess")(inputs)
    backbone = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(input_size, input_size, 3))
    if weights is not None:
        backbone.load_weights(str(weights))
    backbone.trainable = train_backbone
    # training=False keeps BatchNorm in inference mode when the backbone is frozen.
    x = backbone(x, training=False if not train_backbone else None)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    for i, units in enumerate(dense_units):
        x = keras.layers.Dense(units, activation="relu", name=f"dense_{i + 1}")(x)
        x = keras.layers.Dropout(dropout, name=f"dropout_{i + 1}")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", dtype="float32", name="player_in_view")(x)
    return keras.Model(inputs, outputs, name="dunkwatch_resnet50")


def load_model(path: str | Path) -> keras.Model:
    """Load a registry model in Keras' safe mode: no pickled code is ever executed."""
    try:
        return keras.saving.load_model(str(path), safe_mode=True, compile=False)
    except Exception as exc:
        raise ModelError(f"{path}: cannot load model: {exc}") from None
