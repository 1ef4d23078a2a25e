"""cnncourse.augment and cnncourse.ladder: augmentation, the per-epoch dataset, rungs, fast batch norm, flip TTA."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")
augment = pytest.importorskip("cnncourse.augment")
ladder = pytest.importorskip("cnncourse.ladder")
layers_mod = pytest.importorskip("cnncourse.layers")


def tiny_images(n=12, size=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(1, 256, (n, size, size, 3), dtype=np.uint8)


def test_random_crop_flip_is_a_shift_or_a_mirrored_shift():
    x = tiny_images()
    out = augment.random_crop_flip(x, np.random.default_rng(1), pad=2)
    assert out.shape == x.shape and out.dtype == x.dtype
    for img, src in zip(out, x):
        padded = np.pad(src, ((2, 2), (2, 2), (0, 0)))
        windows = [padded[dy:dy + 8, dx:dx + 8] for dy in range(5) for dx in range(5)]
        windows += [w[:, ::-1] for w in windows]
        assert any(np.array_equal(img, w) for w in windows)


def test_random_crop_flip_without_padding_or_flip_is_identity():
    x = tiny_images()
    assert np.array_equal(augment.random_crop_flip(x, np.random.default_rng(0), pad=0, flip=False), x)


def test_random_crop_flip_varies_and_is_seeded():
    x = np.repeat(tiny_images(1), 200, axis=0)
    a = augment.random_crop_flip(x, np.random.default_rng(3))
    b = augment.random_crop_flip(x, np.random.default_rng(3))
    assert np.array_equal(a, b)
    assert len({img.tobytes() for img in a}) > 50  # 81 shifts x 2 mirrors


def test_augmented_images_batches_and_reshuffles():
    x = tiny_images(10)
    y = np.arange(10, dtype=np.uint8).reshape(-1, 1)
    data = augment.AugmentedImages(x, y, batch_size=4, augment=False, seed=0)
    assert len(data) == 2  # the remainder of 2 images is dropped
    xb, yb = data[0]
    assert xb.shape == (4, 8, 8, 3) and yb.shape == (4, 1)
    for img, label in zip(xb, yb[:, 0]):  # images stay paired with their labels
        assert np.array_equal(img, x[label])
    first = np.concatenate([data[i][1] for i in range(len(data))])[:, 0].tolist()
    data.on_epoch_end()
    second = np.concatenate([data[i][1] for i in range(len(data))])[:, 0].tolist()
    assert first != second
    with pytest.raises(IndexError):
        data[2]


def test_augmented_images_rejects_bad_input():
    with pytest.raises(ValueError):
        augment.AugmentedImages(tiny_images(4), np.zeros((3, 1)), batch_size=2)
    with pytest.raises(ValueError):
        augment.AugmentedImages(tiny_images(4), np.zeros((4, 1)), batch_size=8)


def tiny_model(bn=None):
    inputs = keras.Input((8, 8, 3), dtype="uint8")
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same")(x)
    if bn is not None:
        x = bn(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_train_rung_reports_the_numbers_in_inference_mode(capsys):
    x, y = tiny_images(40), (np.arange(40) % 3).astype(np.uint8).reshape(-1, 1)
    model = tiny_model(keras.layers.Dropout(0.5))   # dropout: fit's running accuracy is not the real one
    rung = ladder.train_rung("tiny", model, (x, y), (x[:10], y[:10]), epochs=6, batch_size=8,
                            compared_with="baseline")
    assert rung.epochs == 6 and rung.seconds > 0
    assert rung.train_accuracy == pytest.approx(model.evaluate(x[:32], y[:32], verbose=0)[1])
    assert rung.val_accuracy == pytest.approx(model.evaluate(x[32:], y[32:], verbose=0)[1])
    assert rung.test_accuracy == pytest.approx(model.evaluate(x[:10], y[:10], verbose=0)[1])
    assert rung.gap == pytest.approx(rung.train_accuracy - rung.val_accuracy)
    row = rung.row()
    assert row["compared_with"] == "baseline" and row["gap"] == rung.gap and row["kept_epoch"] == 6
    assert "tiny" in repr(rung)
    log = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in log] == ["epoch 5/6", "epoch 6/6"]   # EpochLog: every 5th and the last


def test_train_rung_is_keras_validation_split():
    x, y = tiny_images(40), (np.arange(40) % 3).astype(np.uint8).reshape(-1, 1)
    keras.utils.set_random_seed(1)
    rung = ladder.train_rung("split", tiny_model(), (x, y), (x, y), epochs=2, batch_size=8)
    keras.utils.set_random_seed(1)
    model = tiny_model()
    hist = model.fit(x, y, validation_split=0.2, epochs=2, batch_size=8, verbose=0)
    assert rung.history["val_loss"] == pytest.approx(hist.history["val_loss"], rel=1e-5)
    again = ladder.Rung.from_fit("split", model, hist, 0.5, 1.0, train_accuracy=0.9, val_accuracy=0.6)
    assert again.gap == pytest.approx(0.3) and again.kept_epoch is None and again.compared_with is None


def test_train_rung_with_early_stopping_reports_the_restored_epoch():
    x, y = tiny_images(40), (np.arange(40) % 3).astype(np.uint8).reshape(-1, 1)
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    model = tiny_model()
    rung = ladder.train_rung("stop", model, (x, y), (x, y), epochs=30, batch_size=8, callbacks=[stop])
    assert 1 <= rung.kept_epoch <= rung.epochs
    # the gap of the kept (restored) weights
    assert rung.val_accuracy == pytest.approx(model.evaluate(x[32:], y[32:], verbose=0)[1])


def test_train_rung_with_a_separate_validation_set_trains_on_all_of_train():
    x, y = tiny_images(40), (np.arange(40) % 3).astype(np.uint8).reshape(-1, 1)
    x_val, y_val = tiny_images(12)[::-1], (np.arange(12) % 3).astype(np.uint8).reshape(-1, 1)
    keras.utils.set_random_seed(3)
    model = tiny_model()
    rung = ladder.train_rung("separate", model, (x, y), (x[:10], y[:10]), epochs=2, batch_size=8,
                             validation_data=(x_val, y_val))
    assert rung.train_accuracy == pytest.approx(model.evaluate(x, y, verbose=0)[1])   # all 40, none held out
    assert rung.val_accuracy == pytest.approx(model.evaluate(x_val, y_val, verbose=0)[1])
    assert rung.history["val_accuracy"][-1] == pytest.approx(rung.val_accuracy)
    keras.utils.set_random_seed(3)
    hist = tiny_model().fit(x, y, validation_data=(x_val, y_val), epochs=2, batch_size=8, verbose=0)
    assert rung.history["loss"] == pytest.approx(hist.history["loss"], rel=1e-5)


def test_train_rung_without_validation_has_no_gap():
    x, y = tiny_images(16), np.zeros((16, 1), np.uint8)
    rung = ladder.train_rung("all", tiny_model(), (x, y), (x, y), epochs=1, batch_size=8, validation_split=None)
    assert rung.gap is None and rung.peak_epoch is None and rung.val_accuracy is None


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_fast_batch_norm_matches_keras(policy, float32_after):
    keras.mixed_precision.set_global_policy(policy)
    x = np.random.default_rng(0).normal(3.0, 2.0, (16, 5, 5, 6)).astype("float32")
    fast = layers_mod.FastBatchNormalization(momentum=0.9)
    ref = keras.layers.BatchNormalization(momentum=0.9)
    tol = 1e-4 if policy == "float32" else 5e-2
    y_fast = keras.ops.convert_to_numpy(fast(x, training=True)).astype("float32")
    y_ref = keras.ops.convert_to_numpy(ref(x, training=True)).astype("float32")
    np.testing.assert_allclose(y_fast, y_ref, atol=tol)
    assert y_fast.mean(axis=(0, 1, 2)) == pytest.approx(np.zeros(6), abs=tol)
    # moving statistics: one step of momentum 0.9 towards the batch mean and variance
    np.testing.assert_allclose(fast.moving_mean.numpy(), 0.1 * x.mean(axis=(0, 1, 2)), rtol=tol / 5)
    np.testing.assert_allclose(fast.moving_variance.numpy(), ref.moving_variance.numpy(), rtol=0.02)
    # inference uses the moving statistics
    y_inf = keras.ops.convert_to_numpy(fast(x, training=False)).astype("float32")
    expect = (x - fast.moving_mean.numpy()) / np.sqrt(fast.moving_variance.numpy() + 1e-3)
    np.testing.assert_allclose(y_inf, expect, atol=10 * tol, rtol=2e-2)
    assert [w.trainable for w in fast.weights] == [True, True, False, False]
    assert all(w.dtype == "float32" for w in fast.weights)


def test_fast_batch_norm_trains_and_round_trips(tmp_path):
    x, y = tiny_images(32), (np.arange(32) % 3).astype(np.uint8).reshape(-1, 1)
    model = tiny_model(layers_mod.FastBatchNormalization())
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    again = keras.saving.load_model(path)
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


def test_flip_tta_predict_averages_image_and_mirror():
    inputs = keras.Input((4, 4, 1))
    model = keras.Model(inputs, keras.layers.Flatten()(inputs))  # "predictions" are the pixels themselves
    x = np.arange(32, dtype="float32").reshape(2, 4, 4, 1)
    expect = ((x + x[:, :, ::-1]) / 2).reshape(2, -1)
    np.testing.assert_allclose(augment.flip_tta_predict(model, x), expect)


def test_notebook_02s_crop_flip_batches_are_the_packages_augmented_images():
    """02 writes the crops and flips out (``random_crop_flip``, ``CropFlipBatches``); 05 and the ablation
    script use the package's ``AugmentedImages``. Both give the same batches, epoch after epoch."""
    from tests.test_notebooks import ROOT, cells, source

    code = [source(c) for c in cells(ROOT / "notebooks" / "02_cifar10_overfitting.ipynb")
            if c["cell_type"] == "code" and "class CropFlipBatches" in source(c)]
    assert len(code) == 1
    scope = {"np": np, "keras": keras}
    exec(code[0], scope)
    x, y = tiny_images(n=40, size=32, seed=3), np.arange(40)
    ours, package = scope["CropFlipBatches"](x, y, 16, seed=5), augment.AugmentedImages(x, y, batch_size=16, seed=5)
    assert len(ours) == len(package) == 2
    for _ in range(3):
        for i in range(len(ours)):
            for a, b in zip(ours[i], package[i]):
                assert np.array_equal(a, b)
        ours.on_epoch_end()
        package.on_epoch_end()
