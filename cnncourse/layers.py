"""Custom Keras layers the notebooks build models with.

- ``FastBatchNormalization``  batch normalisation through TensorFlow's fused kernel (02, 03, 05, 08)

Registered as serializable (``cnncourse>FastBatchNormalization``), so saved models that use it load
again after ``import cnncourse.layers`` (``cnncourse.models.load`` does that import).
"""
from __future__ import annotations

from .runtime import import_tensorflow

import_tensorflow()
import keras  # noqa: E402


@keras.saving.register_keras_serializable(package="cnncourse")
class FastBatchNormalization(keras.layers.Layer):
    """``BatchNormalization`` over the last axis, computed by TensorFlow's fused kernel.

    Same maths and weights as ``keras.layers.BatchNormalization`` (gamma, beta, moving mean and
    variance; the last two non-trainable), but one ``FusedBatchNormV3`` op instead of Keras 3's
    separate mean, variance and normalise ops: on a 2-core CPU, a small VGG with it after every
    convolution trained almost as fast as without. The statistics and weights stay float32 under
    mixed precision (``autocast=False``); inputs of rank 4 (images, channels last) only. The
    default momentum is 0.9 rather than Keras' 0.99, so the moving averages settle within the
    few hundred steps of a short run.
    """

    def __init__(self, momentum: float = 0.9, epsilon: float = 1e-3, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.momentum, self.epsilon = float(momentum), float(epsilon)

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"FastBatchNormalization expects (batch, height, width, channels), got {input_shape}")
        c = (int(input_shape[-1]),)
        self.gamma = self.add_weight(shape=c, initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=c, initializer="zeros", name="beta")
        self.moving_mean = self.add_weight(shape=c, initializer="zeros", name="moving_mean", trainable=False)
        self.moving_variance = self.add_weight(shape=c, initializer="ones", name="moving_variance",
                                               trainable=False)

    def call(self, x, training=False):
        tf = import_tensorflow()
        f32 = tf.float32
        x = tf.cast(x, self.compute_dtype)  # the fused kernel takes float32, bfloat16 or float16 inputs
        gamma, beta = tf.cast(self.gamma.value, f32), tf.cast(self.beta.value, f32)
        if training:
            empty = tf.constant([], tf.float32)
            y, mean, variance = tf.raw_ops.FusedBatchNormV3(
                x=x, scale=gamma, offset=beta, mean=empty, variance=empty, epsilon=self.epsilon,
                is_training=True)[:3]
            m = self.momentum
            self.moving_mean.assign(m * tf.cast(self.moving_mean.value, f32) + (1 - m) * mean)
            self.moving_variance.assign(m * tf.cast(self.moving_variance.value, f32) + (1 - m) * variance)
            return y
        return tf.raw_ops.FusedBatchNormV3(
            x=x, scale=gamma, offset=beta, mean=tf.cast(self.moving_mean.value, f32),
            variance=tf.cast(self.moving_variance.value, f32), epsilon=self.epsilon,
            is_training=False)[0]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "epsilon": self.epsilon}


__all__ = ["FastBatchNormalization"]
