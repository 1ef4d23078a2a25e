import keras
import pytest

from cnncourse.summary import human_bytes, layer_table


def slide_layer(dtype="float32"):
    return keras.Sequential([keras.Input((150, 100, 3)),
                             keras.layers.Conv2D(200, 5, strides=1, padding="same", activation="relu", dtype=dtype)])


def test_slide_example_figures_exactly():
    df = layer_table(slide_layer(), batch_size=100)
    conv = df.iloc[0]
    assert conv["output_shape"] == (None, 150, 100, 200)
    assert conv["trainable"] == 15_200 and conv["non_trainable"] == 0
    assert conv["macs"] == 225_000_000
    assert conv["activation_bytes"] == 12_000_000          # 12 MB per instance
    assert df.attrs["train_activation_bytes"] == 1_200_000_000  # 1.2 GB for 100 instances
    assert human_bytes(conv["activation_bytes"]) == "12 MB"
    assert human_bytes(df.attrs["train_activation_bytes"]) == "1.2 GB"


def test_memory_follows_the_precision():
    half = layer_table(slide_layer("mixed_bfloat16"))
    assert half.iloc[0]["activation_bytes"] == 6_000_000
    assert layer_table(slide_layer("mixed_bfloat16"), dtype="float32").iloc[0]["activation_bytes"] == 12_000_000


def lecture_cifar_cnn():
    inputs = keras.Input((32, 32, 3))
    x = inputs
    for filters in (32, 64, 128):
        x = keras.layers.Conv2D(filters, 3, padding="same")(x)
        x = keras.layers.Conv2D(filters, 3, padding="same")(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(128, activation="relu")(x)
    x = keras.layers.Dense(64, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))


@pytest.mark.parametrize("build", [lecture_cifar_cnn, slide_layer,
                                   lambda: keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3))])
def test_parameter_totals_match_keras(build):
    model = build()
    df = layer_table(model)
    total = df.iloc[-1]
    assert total["layer"] == "total"
    assert total["trainable"] + total["non_trainable"] == model.count_params()
    assert total["non_trainable"] == sum(int(w.numpy().size) for w in model.non_trainable_weights)


def test_macs_of_conv_and_dense_layers():
    df = layer_table(lecture_cifar_cnn()).set_index("layer")
    convs = df[df["type"] == "Conv2D"]["macs"].tolist()
    assert convs[0] == 32 * 32 * 32 * 3 * 3 * 3
    assert convs[1] == 32 * 32 * 32 * 3 * 3 * 32
    dense = df[df["type"] == "Dense"]["macs"].tolist()
    assert dense == [2048 * 128, 128 * 64, 64 * 10]
    bn = df[df["type"] == "BatchNormalization"]
    assert (bn["non_trainable"] == bn["trainable"]).all()  # moving mean + variance vs gamma + beta


def test_inference_needs_only_two_consecutive_layers():
    df = layer_table(lecture_cifar_cnn(), batch_size=32, dtype="float32")
    acts = df["activation_bytes"].tolist()[:-1]
    assert df.attrs["inference_bytes"] == max(a + b for a, b in zip(acts, acts[1:]))
    assert df.attrs["inference_bytes"] < df.attrs["activation_bytes"] < df.attrs["train_activation_bytes"]


def test_unbuilt_model_gives_a_clear_error():
    model = keras.Sequential([keras.layers.Dense(3)])
    with pytest.raises(ValueError):
        layer_table(model)
