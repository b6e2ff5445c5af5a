"""The models of the experiments: one CNN sized to its input, a ResNet-9 for CIFAR-10, one MLP
for tables; and the user's own model, named by `--model PATH.py:FUNCTION` or `module:function`.

Every builder takes `(input_shape, num_outputs)` (`num_outputs`: the number of classes, or 1 for a
regression) and returns an uncompiled Keras model: a softmax head for classification, one linear
output for regression."""

import importlib
import importlib.util
import os
import sys

import keras
from keras import layers

from onecycle.experiments.errors import ModelError


def cnn(input_shape, num_classes, width=32, convs_per_block=1, dropout=0.5):
    """Conv blocks (`convs_per_block` 3x3 ReLU convs, then 2x2 max-pool), doubling the filters each
    block, until the feature map is at most 8 pixels wide (2 blocks for 28x28 and 32x32, 1 for 8x8);
    then Dense(128), dropout and a softmax layer. No batch norm: on a 2-core CPU it halves the
    throughput (measured 2,659 vs 4,968 images/s on Fashion-MNIST)."""
    inputs = keras.Input(input_shape)
    h = inputs
    size, filters = input_shape[0], width
    while True:
        for _ in range(convs_per_block):
            h = layers.Conv2D(filters, 3, padding="same", activation="relu")(h)
        h = layers.MaxPooling2D()(h)
        size, filters = size // 2, filters * 2
        if size <= 8:
            break
    h = layers.Flatten()(h)
    h = layers.Dense(128, activation="relu")(h)
    h = layers.Dropout(dropout)(h)
    outputs = layers.Dense(num_classes, activation="softmax")(h)
    return keras.Model(inputs, outputs, name="cnn")


def mlp(input_shape, hidden=(64, 64), num_classes=0):
    """Fully connected ReLU layers, then one linear output (regression) or a softmax over
    `num_classes`. `input_shape` is a number of features or a shape; inputs of more than one axis
    (images) are flattened first."""
    shape = (input_shape,) if isinstance(input_shape, int) else tuple(input_shape)
    inputs = keras.Input(shape)
    h = layers.Flatten()(inputs) if len(shape) > 1 else inputs
    for units in hidden:
        h = layers.Dense(units, activation="relu")(h)
    head = layers.Dense(num_classes, activation="softmax") if num_classes else layers.Dense(1)
    return keras.Model(inputs, head(h), name="mlp")


def _conv_bn(h, filters):
    h = layers.Conv2D(filters, 3, padding="same", use_bias=False)(h)
    h = layers.BatchNormalization(momentum=0.9)(h)
    return layers.ReLU()(h)


class RandomPadCrop(layers.Layer):
    """The standard CIFAR crop with one offset per image: in training, zero-pad `pad` pixels on every
    side and crop back to the input's size at a place drawn for each image. Identity otherwise.
    Unlike `keras.layers.RandomCrop` (one offset for the whole batch, and `supports_jit=False`, so
    a model holding it runs eagerly on JAX), it compiles on every backend."""

    def __init__(self, pad, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(pad, int) or isinstance(pad, bool) or pad < 1:
            raise ValueError(f"Argument `pad` must be a positive integer. Received: {pad!r}")
        self.pad, self.seed = pad, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training:
            return inputs
        ops, pad = keras.ops, self.pad
        batch, height, width, channels = ops.shape(inputs)[0], *inputs.shape[1:]
        padded = ops.pad(inputs, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
        top = keras.random.randint((batch, 1, 1, 1), 0, 2 * pad + 1, seed=self.seed_generator)
        left = keras.random.randint((batch, 1, 1, 1), 0, 2 * pad + 1, seed=self.seed_generator)
        rows = top + ops.reshape(ops.arange(height, dtype="int32"), (1, height, 1, 1))
        padded = ops.take_along_axis(
            padded, ops.broadcast_to(rows, (batch, height, width + 2 * pad, channels)), axis=1
        )
        cols = left + ops.reshape(ops.arange(width, dtype="int32"), (1, 1, width, 1))
        return ops.take_along_axis(padded, ops.broadcast_to(cols, (batch, height, width, channels)), axis=2)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "pad": self.pad, "seed": self.seed}


class Cutout(layers.Layer):
    """Cutout (DeVries and Taylor, 2017, as Page's ResNet-9 uses it): in training, a `size` x `size`
    square of each image, placed uniformly at random inside it, is set to zero. Identity otherwise."""

    def __init__(self, size, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ValueError(f"Argument `size` must be a positive integer. Received: {size!r}")
        self.size, self.seed = size, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training:
            return inputs
        ops = keras.ops
        batch, height, width = ops.shape(inputs)[0], inputs.shape[1], inputs.shape[2]
        if self.size > min(height, width):
            raise ValueError(f"Cutout `size` {self.size} is larger than the image ({height} x {width})")
        top = keras.random.randint((batch, 1, 1, 1), 0, height - self.size + 1, seed=self.seed_generator)
        left = keras.random.randint((batch, 1, 1, 1), 0, width - self.size + 1, seed=self.seed_generator)
        rows = ops.reshape(ops.arange(height, dtype="int32"), (1, height, 1, 1))
        cols = ops.reshape(ops.arange(width, dtype="int32"), (1, 1, width, 1))
        hole = (rows >= top) & (rows < top + self.size) & (cols >= left) & (cols < left + self.size)
        return inputs * ops.cast(ops.logical_not(hole), inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "size": self.size, "seed": self.seed}


def augment(inputs, pad=4, cutout=0, per_image_crop=False):
    """Standard CIFAR augmentation as layers, active only in training: zero-pad `pad` pixels, crop
    back at a random place, flip left-right at random, and with `cutout` > 0 a `Cutout(cutout)`.
    The crop is `keras.layers.RandomCrop`'s (one offset per batch; the harness's runs use it) or,
    with `per_image_crop`, `RandomPadCrop`'s (one offset per image; compiles on JAX). Seeded by
    `keras.utils.set_random_seed`, so every arm of one seed sees the same augmented batches."""
    if per_image_crop:
        h = RandomPadCrop(pad)(inputs)
    else:
        h = layers.ZeroPadding2D(pad)(inputs)
        h = layers.RandomCrop(inputs.shape[1], inputs.shape[2])(h)
    h = layers.RandomFlip("horizontal")(h)
    return Cutout(cutout)(h) if cutout else h


def resnet9(input_shape, num_classes, width=16, augmentation=True, cutout=0, per_image_crop=False):
    """ResNet-9 (Page, 2018; the DAWNBench CIFAR-10 network): prep conv, then three stages of conv +
    max-pool with a residual pair of convs after the first and the third, global max-pool and a
    linear head whose logits are scaled by 1/8 before the softmax (as Page's).
    Widths `width` x (1, 2, 4, 8): 64 is the full network, 16 (the default)
    a quarter of its widths for CPUs. Batch norm after every conv. With `augmentation`, the
    standard pad-crop-flip layers (`augment`, with `cutout` and `per_image_crop`) come first. The softmax runs in
    float32 under a mixed-precision policy."""
    inputs = keras.Input(input_shape)
    h = augment(inputs, cutout=cutout, per_image_crop=per_image_crop) if augmentation else inputs
    h = _conv_bn(h, width)
    for i, filters in enumerate((2 * width, 4 * width, 8 * width)):
        h = _conv_bn(h, filters)
        h = layers.MaxPooling2D()(h)
        if i != 1:
            h = layers.Add()([h, _conv_bn(_conv_bn(h, filters), filters)])
    h = layers.GlobalMaxPooling2D()(h)
    h = layers.Dense(num_classes)(h)
    h = layers.Rescaling(0.125)(h)  # Page's logit scale: max-pooled features make large logits
    outputs = layers.Activation("softmax", dtype="float32")(h)
    return keras.Model(inputs, outputs, name="resnet9")


def _named_mlp(input_shape, num_outputs):
    return mlp(input_shape, num_classes=0 if num_outputs == 1 else num_outputs)


def _named_cnn(input_shape, num_outputs):
    return cnn(input_shape, num_outputs)


def _named_resnet9(input_shape, num_outputs):
    """`--model resnet9`: on TensorFlow the batch-wide `RandomCrop` of the stored CIFAR-10 runs (the
    model compiles without XLA there either way); on JAX and PyTorch the per-image `RandomPadCrop`,
    whose every layer supports jit, so that the train step compiles (with `RandomCrop` Keras runs the
    whole model eagerly there). A run's report names the crop layer it used."""
    return resnet9(input_shape, num_outputs, per_image_crop=keras.backend.backend() != "tensorflow")


# name -> builder (input_shape, num_outputs); `--model NAME`
REGISTRY = {"mlp": _named_mlp, "cnn": _named_cnn, "resnet9": _named_resnet9}


def default_name(dataset):
    """The harness's model for a dataset: the MLP for tables, the CNN for images."""
    return "mlp" if dataset.x_train.ndim == 2 else "cnn"


def _load_function(spec):
    where, _, function = spec.rpartition(":")
    if not where or not function:
        raise ModelError(
            f"--model: must be one of {', '.join(REGISTRY)}, PATH.py:FUNCTION or module:function. Received: {spec!r}"
        )
    if where.endswith(".py"):
        if not os.path.isfile(where):
            raise ModelError(f"--model: {where!r} is not a file")
        name = f"_onecycle_user_model_{abs(hash(os.path.abspath(where)))}"
        module_spec = importlib.util.spec_from_file_location(name, where)
        module = importlib.util.module_from_spec(module_spec)
        try:
            module_spec.loader.exec_module(module)
        except Exception as error:  # the user's file: any error is theirs to see, in one line
            raise ModelError(f"--model: {where!r} fails to import: {type(error).__name__}: {error}") from None
        sys.modules[name] = module
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as error:
            raise ModelError(f"--model: module {where!r} cannot be imported: {error}") from None
    builder = getattr(module, function, None)
    if not callable(builder):
        raise ModelError(f"--model: {where!r} has no function {function!r}")
    return builder


def builder(spec):
    """The model builder named by `spec`: a name of `REGISTRY` or a `PATH.py:FUNCTION` /
    `module:function` whose function takes `(input_shape, num_outputs)`."""
    if callable(spec):
        return spec
    if spec in REGISTRY:
        return REGISTRY[spec]
    return _load_function(spec)


def build(spec, dataset):
    """The model `spec` (None: the harness's default) for a loaded `Dataset`, checked to be a Keras
    model whose output fits the task."""
    spec = spec or default_name(dataset)
    shown = getattr(spec, "__name__", spec)
    outputs = 1 if dataset.task == "regression" else dataset.num_classes
    try:
        model = builder(spec)(tuple(dataset.x_train.shape[1:]), outputs)
    except ModelError:
        raise
    except Exception as error:
        raise ModelError(f"--model: {shown!r} failed to build: {type(error).__name__}: {error}") from None
    if not isinstance(model, keras.Model):
        raise ModelError(f"--model: {shown!r} must return a keras.Model. Received: {type(model).__name__}")
    try:
        sample = keras.ops.convert_to_numpy(model(dataset.x_train[:2], training=False))
    except Exception as error:
        raise ModelError(
            f"--model: {shown!r} fails on the data's inputs of shape {tuple(dataset.x_train.shape[1:])}: "
            f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
        ) from None
    shape = tuple(sample.shape[1:])
    if shape != (outputs,):
        raise ModelError(
            f"--model: {shown!r} returns outputs of shape {shape}; the task needs ({outputs},) "
            f"({'one linear output' if outputs == 1 else f'{outputs} class probabilities or logits'})"
        )
    if dataset.target_scale is not None:
        mean, std = dataset.target_scale
        inputs = keras.Input(dataset.x_train.shape[1:])
        outputs = layers.Rescaling(std, offset=mean, name="target_units")(model(inputs))
        model = keras.Model(inputs, outputs, name=model.name)
    return model


def gives_logits(model, x):
    """True when a classifier's outputs on `x` are not probabilities (each row in [0, 1] summing to 1):
    logits, which the harness's loss then takes with `from_logits=True`."""
    sample = keras.ops.convert_to_numpy(model(x[:2], training=False)).astype("float64")
    probabilities = (sample >= 0).all() and (sample <= 1).all() and abs(sample.sum(axis=-1) - 1).max() < 1e-3
    return not probabilities


def for_dataset(dataset, spec=None):
    """The model of the experiments for a loaded `Dataset` (`spec`: see `build`)."""
    return build(spec, dataset)


def describe(model):
    """One line per layer with its output shape: for reports."""
    lines = []
    for layer in model.layers[1:]:
        shape = tuple(layer.output.shape[1:])
        lines.append(f"{layer.__class__.__name__}{shape}")
    return " -> ".join(lines) + f" ({model.count_params():,} parameters)"
