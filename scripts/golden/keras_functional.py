"""
Golden values for Waypoint's functional-model parity tests, from Keras 3 on its torch backend.

    KERAS_BACKEND=torch .venv-ref/bin/python scripts/golden/keras_functional.py

writes test/golden/keras-functional.json. Four functional models, every layer named so that
weights travel by name: a residual MLP, a small residual CNN with BatchNormalization (its conv
before the normalization has no bias, as usual: a bias there has a zero gradient, and Adam
would only amplify rounding noise), a model
of two inputs (numbers beside an embedded category) and two outputs with loss weights, and a
model that applies one Dense layer to two inputs (shared weights) and merges the results with
every merge layer. For each: fixed inputs, targets and initial weights (by layer name); the
inference-mode predictions; the gradient of the compiled loss (Σ weight × output loss, on the
first 8 samples, training mode) for every weight; and three epochs of Adam, batch 8,
unshuffled: Keras's history (every key) and the weights after. The Waypoint test
(test/parity/functional-parity.test.ts) builds the same graphs and compares.
"""
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")
import numpy as np
import torch
import keras
from keras import layers as L

DEFAULT_OUT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "golden", "keras-functional.json")
N = 24
BATCH = 8


def filled(shape, k):
    n = int(np.prod(shape))
    return (np.cos(np.arange(n, dtype=np.float64) * 0.61 + k) * 1.5 + 0.2).astype(np.float32).reshape(shape)


def floats(a):
    return [float(v) for v in np.asarray(a, dtype=np.float32).reshape(-1)]


def residual_mlp():
    x = keras.Input((6,), name="x")
    h = L.Dense(8, activation="relu", name="hidden")(x)
    r = L.Dense(8, name="residual")(h)
    s = L.Add(name="add")([h, r])
    out = L.Dense(3, activation="softmax", name="out")(s)
    model = keras.Model(x, out, name="residual_mlp")
    xs = [filled((N, 6), 0.0)]
    ys = [np.eye(3, dtype=np.float32)[np.arange(N) % 3]]
    return model, xs, ys, dict(loss="categorical_crossentropy", metrics=["accuracy"])


def residual_cnn():
    x = keras.Input((6, 6, 2), name="image")
    c = L.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(x)
    b = L.Conv2D(4, 3, padding="same", use_bias=False, name="conv2")(c)
    b = L.BatchNormalization(name="bn")(b)
    s = L.Add(name="skip")([c, b])
    s = L.Activation("relu", name="relu")(s)
    p = L.GlobalAveragePooling2D(name="pool")(s)
    out = L.Dense(2, activation="softmax", name="out")(p)
    model = keras.Model(x, out, name="residual_cnn")
    xs = [filled((N, 6, 6, 2), 0.3)]
    ys = [(np.arange(N) % 2).astype(np.float32)]
    return model, xs, ys, dict(loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def two_inputs_two_outputs():
    num = keras.Input((4,), name="num")
    cat = keras.Input((1,), name="cat", dtype="int32")
    e = L.Flatten(name="flat")(L.Embedding(10, 3, name="embed")(cat))
    h = L.Concatenate(name="join")([num, e])
    h = L.Dense(8, activation="relu", name="hidden")(h)
    out1 = L.Dense(3, activation="softmax", name="out1")(h)
    out2 = L.Dense(1, name="out2")(h)
    model = keras.Model([num, cat], [out1, out2], name="two_by_two")
    xs = [filled((N, 4), 1.1), ((np.arange(N) * 7 + 2) % 10).astype(np.float32).reshape(N, 1)]
    ys = [(np.arange(N) % 3).astype(np.float32), filled((N, 1), 2.0)]
    return model, xs, ys, dict(
        loss=["sparse_categorical_crossentropy", "mse"], loss_weights=[1.0, 0.5], metrics=[["accuracy"], []]
    )


def shared_layer():
    a = keras.Input((5,), name="a")
    b = keras.Input((5,), name="b")
    shared = L.Dense(4, activation="tanh", name="shared")
    ha, hb = shared(a), shared(b)
    mx = L.Maximum(name="max")([ha, hb])
    mn = L.Minimum(name="min")([ha, hb])
    avg = L.Average(name="avg")([ha, hb])
    prod = L.Multiply(name="prod")([mx, avg])
    diff = L.Subtract(name="diff")([mn, avg])
    c = L.Concatenate(name="join")([prod, diff])
    out = L.Dense(1, activation="sigmoid", name="out")(c)
    model = keras.Model([a, b], out, name="shared")
    xs = [filled((N, 5), 0.5), filled((N, 5), 2.5)]
    ys = [(np.arange(N) % 2).astype(np.float32).reshape(N, 1)]
    return model, xs, ys, dict(loss="binary_crossentropy", metrics=["accuracy"])


CASES = {
    "residual_mlp": residual_mlp,
    "residual_cnn": residual_cnn,
    "two_inputs_two_outputs": two_inputs_two_outputs,
    "shared_layer": shared_layer,
}


def weights_by_layer(model):
    return {l.name: [floats(w) for w in l.get_weights()] for l in model.layers if l.get_weights()}


def gradients(model, xs, ys, spec):
    """The compiled loss on the first batch, training mode, and its gradient for every weight (by layer)."""
    model.compile(optimizer="sgd", **{k: v for k, v in spec.items() if k != "metrics"})
    inputs = [torch.tensor(x[:BATCH]) for x in xs]
    outputs = model(inputs if len(inputs) > 1 else inputs[0], training=True)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    losses = spec["loss"] if isinstance(spec["loss"], list) else [spec["loss"]] * len(outputs)
    weights = spec.get("loss_weights", [1.0] * len(outputs))
    total = 0
    for out, y, name, w in zip(outputs, ys, losses, weights):
        total = total + w * keras.losses.get(name)(torch.tensor(y[:BATCH]), out).mean()
    for v in model.trainable_weights:
        v.value.grad = None
    total.backward()
    grads = {}
    for l in model.layers:
        gs = [v.value.grad for v in l.trainable_weights]
        if gs:
            grads[l.name] = [floats(g.cpu().numpy()) for g in gs]
    return float(total.detach().cpu()), grads


def case(make):
    keras.utils.set_random_seed(7)
    model, xs, ys, spec = make()
    initial = weights_by_layer(model)
    predictions = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    predictions = predictions if isinstance(predictions, list) else [predictions]
    loss, grads = gradients(model, xs, ys, spec)
    model.set_weights([np.asarray(w) for w in model.get_weights()])  # the gradient pass left no state
    keras.utils.set_random_seed(7)
    fresh, _, _, _ = make()
    for l in fresh.layers:
        if l.name in initial:
            l.set_weights([np.asarray(w, dtype=np.float32).reshape(v.shape) for w, v in zip(initial[l.name], l.get_weights())])
    fresh.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), **spec)
    history = fresh.fit(
        xs if len(xs) > 1 else xs[0], ys if len(ys) > 1 else ys[0], epochs=3, batch_size=BATCH, shuffle=False, verbose=0
    )
    return {
        "inputs": [{"shape": list(x.shape), "data": floats(x)} for x in xs],
        "targets": [{"shape": list(y.shape), "data": floats(y)} for y in ys],
        "initialWeights": initial,
        "predictions": [floats(p) for p in predictions],
        "firstBatchLoss": loss,
        "gradients": grads,
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
        "weightsAfter": weights_by_layer(fresh),
    }


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    golden = {"keras": keras.__version__, "backend": keras.backend.backend(), "torch": torch.__version__}
    golden["cases"] = {name: case(make) for name, make in CASES.items()}
    with open(out, "w") as f:
        json.dump(golden, f)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
