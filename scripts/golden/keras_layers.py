"""
Golden values for Waypoint's layer parity tests, from Keras 3 on its torch backend (issue 19).

    KERAS_BACKEND=torch .venv-ref/bin/python scripts/golden/keras_layers.py

writes test/golden/keras-layers.json. For each layer: fixed input and weights (set with
set_weights), the forward output in training and in inference mode, the gradients of
sum(output * C) (C fixed) with respect to the input and to every weight, the weights after
that training-mode call (BatchNormalization's moving statistics), and the per-epoch losses
of two epochs of a small model around the layer (layer, Flatten where needed, Dense 2
softmax) trained by SGD, unshuffled, with the weights after. The Waypoint test
(test/parity/keras-parity.test.ts) builds each layer from the `waypoint` config beside it.
"""
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")
import numpy as np
import torch
import keras
from keras import layers, optimizers

DEFAULT_OUT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "golden", "keras-layers.json")
BATCH = 6


def filled(shape, k):
    n = int(np.prod(shape))
    return (np.sin(np.arange(n, dtype=np.float64) * 0.37 + k) * 0.5).astype(np.float32).reshape(shape)


def inputs(shape, kind, k=0.0):
    if kind == "int":
        return ((np.arange(int(np.prod(shape))) * 5 + 3) % 7).reshape(shape).astype(np.float32)
    return (np.cos(np.arange(int(np.prod(shape)), dtype=np.float64) * 0.61 + k) * 1.5 + 0.2).astype(np.float32).reshape(shape)


def cases():
    L = layers
    return [
        ("batchnorm_nhwc", lambda: L.BatchNormalization(momentum=0.9), {"className": "BatchNormalization", "config": {"momentum": 0.9}}, [3, 3, 2], "float", True),
        ("batchnorm_dense", lambda: L.BatchNormalization(), {"className": "BatchNormalization", "config": {}}, [5], "float", False),
        ("layernorm", lambda: L.LayerNormalization(), {"className": "LayerNormalization", "config": {}}, [4, 5], "float", True),
        ("embedding", lambda: L.Embedding(7, 3), {"className": "Embedding", "config": {"inputDim": 7, "outputDim": 3}}, [4], "int", True),
        ("global_average_pooling2d", lambda: L.GlobalAveragePooling2D(), {"className": "GlobalAveragePooling2D", "config": {}}, [5, 5, 2], "float", False),
        ("global_max_pooling2d", lambda: L.GlobalMaxPooling2D(), {"className": "GlobalMaxPooling2D", "config": {}}, [5, 5, 2], "float", False),
        ("average_pooling2d_valid", lambda: L.AveragePooling2D(2), {"className": "AveragePooling2D", "config": {"poolSize": 2}}, [5, 5, 2], "float", True),
        ("average_pooling2d_same", lambda: L.AveragePooling2D(3, strides=2, padding="same"),
         {"className": "AveragePooling2D", "config": {"poolSize": 3, "strides": 2, "padding": "same"}}, [5, 5, 2], "float", True),
        ("conv2d_strides_same", lambda: L.Conv2D(3, 3, strides=2, padding="same"),
         {"className": "Conv2D", "config": {"filters": 3, "kernelSize": 3, "strides": 2, "padding": "same"}}, [6, 5, 2], "float", True),
        ("conv2d_dilation", lambda: L.Conv2D(3, 2, dilation_rate=2),
         {"className": "Conv2D", "config": {"filters": 3, "kernelSize": 2, "dilationRate": 2}}, [6, 5, 2], "float", True),
        ("conv2d_dilation_same", lambda: L.Conv2D(2, 3, dilation_rate=(2, 1), padding="same"),
         {"className": "Conv2D", "config": {"filters": 2, "kernelSize": 3, "dilationRate": [2, 1], "padding": "same"}}, [6, 5, 2], "float", True),
        ("reshape", lambda: L.Reshape((2, -1)), {"className": "Reshape", "config": {"targetShape": [2, -1]}}, [3, 4], "float", True),
        ("dense_rank3", lambda: L.Dense(3, activation="tanh"), {"className": "Dense", "config": {"units": 3, "activation": "tanh"}}, [4, 5], "float", True),
        ("lstm_last", lambda: L.LSTM(4), {"className": "LSTM", "config": {"units": 4}}, [5, 3], "float", False),
        ("lstm_sequences", lambda: L.LSTM(4, return_sequences=True), {"className": "LSTM", "config": {"units": 4, "returnSequences": True}}, [5, 3], "float", True),
        ("gru_last", lambda: L.GRU(4), {"className": "GRU", "config": {"units": 4}}, [5, 3], "float", False),
        ("gru_sequences", lambda: L.GRU(4, return_sequences=True), {"className": "GRU", "config": {"units": 4, "returnSequences": True}}, [5, 3], "float", True),
    ]


def floats(a):
    return np.asarray(a, dtype=np.float32).ravel().tolist()


def layer_case(make, shape, kind):
    x = inputs([BATCH, *shape], kind)
    inp = keras.Input(shape)
    layer = make()
    model = keras.Model(inp, layer(inp))
    weights = [filled(w.shape, 0.3 * i + 0.1) for i, w in enumerate(layer.get_weights())]
    if isinstance(layer, layers.BatchNormalization):  # a positive variance, a non-zero mean
        weights[3] = np.abs(weights[3]) + 0.5
    layer.set_weights(weights)
    inference = floats(model(x, training=False).detach().cpu().numpy())
    xt = torch.tensor(x, requires_grad=(kind != "int"))
    out = model(xt, training=True)
    coef = torch.tensor(np.cos(np.arange(out.numel(), dtype=np.float64) * 0.13).astype(np.float32).reshape(out.shape))
    (out * coef).sum().backward()
    grads = [floats(v.value.grad.cpu().numpy()) if v.value.grad is not None else None for v in layer.weights]
    return {"x": floats(x), "weights": [floats(w) for w in weights], "outputShape": list(out.shape), "training": floats(out.detach().cpu().numpy()),
            "inference": inference, "inputGrad": floats(xt.grad.cpu().numpy()) if kind != "int" else None, "weightGrads": grads,
            "weightsAfterCall": [floats(w) for w in layer.get_weights()]}


def training_case(make, shape, kind, flatten):
    x = inputs([8, *shape], kind, 0.4)
    y = np.eye(2, dtype=np.float32)[np.arange(8) % 2]
    stack = [keras.Input(shape), make()] + ([layers.Flatten()] if flatten else []) + [layers.Dense(2, activation="softmax")]
    model = keras.Sequential(stack)
    weights = [filled(w.shape, 0.2 * i + 0.7) for i, w in enumerate(model.get_weights())]
    if isinstance(model.layers[0], layers.BatchNormalization):
        weights[3] = np.abs(weights[3]) + 0.5
    model.set_weights(weights)
    model.compile(optimizer=optimizers.SGD(0.1), loss="categorical_crossentropy")
    history = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    return {"x": floats(x), "y": floats(y), "weights": [floats(w) for w in weights], "epochLosses": [float(v) for v in history.history["loss"]],
            "weightsAfter": [floats(w) for w in model.get_weights()]}


def main():
    out = {"keras": keras.__version__, "backend": keras.backend.backend(), "batch": BATCH, "layers": {}}
    for name, make, waypoint, shape, kind, flatten in cases():
        out["layers"][name] = {"waypoint": waypoint, "inputShape": shape, "input": kind, "flatten": flatten,
                               "call": layer_case(make, shape, kind), "fit": training_case(make, shape, kind, flatten)}
    out_path = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT  # the live test writes elsewhere and compares
    with open(out_path, "w") as f:
        json.dump(out, f)
        f.write("\n")
    print(f"wrote {os.path.normpath(out_path)} (keras {keras.__version__}, {keras.backend.backend()} backend)", file=sys.stderr)


if __name__ == "__main__":
    main()
