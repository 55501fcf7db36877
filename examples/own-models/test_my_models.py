"""Check a pair of models of your own with crossedwires: one test, one baseline per check.

    pip install crossedwires           # the pytest plugin comes with it
    pytest --regen-baselines           # first time: writes baselines/smoke/my-cnn/*.json
    pytest                             # from then on: judged against those baselines

The builders are called after each framework is seeded, once per seed: return a fresh model.
"""


def build_torch_cnn(num_classes, input_shape):
    import torch

    height, width, channels = input_shape
    return torch.nn.Sequential(
        torch.nn.Conv2d(channels, 16, kernel_size=3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(16 * (height // 2) * (width // 2), num_classes),  # logits out
    )


def build_keras_cnn(num_classes, input_shape):
    import keras

    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(num_classes, activation="softmax"),  # as keras.applications
        ]
    )


def test_my_cnn(framework_pair):
    framework_pair.check(
        "my-cnn",
        pytorch=build_torch_cnn,
        tensorflow=build_keras_cnn,
        learning_rate=1e-3,
        batch_size=32,
        epochs=1,
        epsilon=1e-7,
    )
