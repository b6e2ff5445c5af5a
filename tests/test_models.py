"""The harness's augmentation layers against NumPy: `RandomPadCrop` crops each image of the
zero-padded batch at its own offset, `Cutout` zeroes one `size` x `size` square inside each image;
both are the identity outside training, compile on JAX, and name a bad argument."""

import keras
import numpy as np
import pytest

from onecycle.experiments import models, own_data


def _images(n=16, size=8, channels=2):
    # every pixel distinct, none zero: a crop and a hole can be located exactly
    return (1.0 + np.arange(n * size * size * channels, dtype="float32")).reshape(n, size, size, channels)


def test_random_pad_crop_crops_each_image_at_its_own_offset():
    keras.utils.set_random_seed(0)
    x = _images()
    pad = 2
    out = keras.ops.convert_to_numpy(models.RandomPadCrop(pad)(x, training=True))
    padded = np.pad(x, [(0, 0), (pad, pad), (pad, pad), (0, 0)])
    offsets = []
    for image, result in zip(padded, out, strict=True):
        found = [
            (top, left)
            for top in range(2 * pad + 1)
            for left in range(2 * pad + 1)
            if np.array_equal(image[top : top + 8, left : left + 8], result)
        ]
        assert len(found) == 1
        offsets.append(found[0])
    assert len(set(offsets)) > 3  # one offset per image, not one per batch
    assert out.shape == x.shape


def test_cutout_zeroes_one_square_inside_each_image():
    keras.utils.set_random_seed(1)
    x = _images(n=32)
    size = 3
    out = keras.ops.convert_to_numpy(models.Cutout(size)(x, training=True))
    places = set()
    for image, result in zip(x, out, strict=True):
        zero = np.all(result == 0, axis=-1)
        rows, cols = np.nonzero(zero)
        assert zero.sum() == size * size
        top, left = rows.min(), cols.min()
        assert rows.max() - top == size - 1 and cols.max() - left == size - 1
        kept = ~zero
        np.testing.assert_array_equal(result[kept], image[kept])
        places.add((top, left))
    assert len(places) > 5


@pytest.mark.parametrize("layer", [models.RandomPadCrop(4), models.Cutout(8)])
def test_augmentation_is_the_identity_outside_training(layer):
    x = _images()
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x, training=False)), x)


def test_augmentation_layers_round_trip_their_config():
    crop = models.RandomPadCrop.from_config(models.RandomPadCrop(4, seed=3).get_config())
    cutout = models.Cutout.from_config(models.Cutout(8, seed=5).get_config())
    assert (crop.pad, crop.seed, cutout.size, cutout.seed) == (4, 3, 8, 5)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: models.RandomPadCrop(0), "Argument `pad` must be a positive integer. Received: 0"),
        (lambda: models.Cutout(2.5), "Argument `size` must be a positive integer. Received: 2.5"),
    ],
)
def test_bad_augmentation_arguments_are_named(make, message):
    with pytest.raises(ValueError, match=message.replace("`", ".").replace("(", ".").replace(")", ".")):
        make()


def test_cutout_larger_than_the_image_is_named():
    with pytest.raises(ValueError, match="Cutout `size` 9 is larger than the image .8 x 8."):
        models.Cutout(9)(_images(), training=True)


def test_the_gpu_networks_training_step_compiles():
    """With the per-image crop every layer supports jit: on JAX the training step runs under
    `jax.jit` (Keras' RandomCrop made the model run eagerly there)."""
    model = models.resnet9((16, 16, 3), 10, width=4, cutout=4, per_image_crop=True)
    assert all(layer.supports_jit for layer in model._flatten_layers())
    model.compile("sgd", "sparse_categorical_crossentropy")
    if keras.backend.backend() == "jax":
        assert model.jit_compile is True
    x = np.random.default_rng(0).normal(size=(8, 16, 16, 3)).astype("float32")
    history = model.fit(x, np.arange(8) % 10, epochs=1, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_the_named_resnet9_compiles_on_jax_and_keeps_the_stored_crop_on_tensorflow():
    from onecycle.experiments import runner

    rng = np.random.default_rng(0)
    dataset = own_data.from_arrays(
        "tiny", rng.normal(size=(20, 16, 16, 3)), rng.integers(0, 2, 20), task="classification"
    )
    model = runner.seeded_model(dataset, keras.optimizers.SGD(0.01), 0, "resnet9")
    names = {type(layer).__name__ for layer in model.layers}
    if keras.backend.backend() == "tensorflow":
        assert "RandomCrop" in names  # the augmentation of the stored CIFAR-10 runs
    else:
        assert "RandomPadCrop" in names and "RandomCrop" not in names
        model.fit(dataset.x_train, dataset.y_train, batch_size=10, epochs=1, verbose=0)
        if keras.backend.backend() == "jax":
            assert model.jit_compile is True


def test_the_named_mlp_flattens_images_and_leaves_tables_as_they_were():
    images = models.REGISTRY["mlp"]((6, 5, 2), 3)
    assert images.output_shape == (None, 3)
    assert [type(layer).__name__ for layer in images.layers][:2] == ["InputLayer", "Flatten"]
    assert images.layers[2].kernel.shape == (60, 64)
    x = np.random.default_rng(0).normal(size=(4, 6, 5, 2)).astype("float32")
    np.testing.assert_allclose(images.predict(x, verbose=0).sum(axis=1), 1.0, rtol=1e-5)
    table = models.REGISTRY["mlp"]((13,), 1)
    assert "Flatten" not in [type(layer).__name__ for layer in table.layers]
    assert table.output_shape == (None, 1) and table.layers[1].kernel.shape == (13, 64)
    assert models.mlp(13).input_shape == (None, 13)
