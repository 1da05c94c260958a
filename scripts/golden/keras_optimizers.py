"""
Golden values for Waypoint's parity tests, from Keras 3 on its torch backend (issue 19).

    KERAS_BACKEND=torch .venv-ref/bin/python scripts/golden/keras_optimizers.py

writes test/golden/keras-optimizers.json: for each optimizer (and schedule, clipping,
weight decay) the weights after one batch and after three epochs, and the per-epoch
losses, of one small model from fixed weights (set with set_weights: Keras's
initializers are not seeded alike on every backend) on fixed data, unshuffled; the values
of each schedule at steps 0..12; and the histories (loss, learning_rate) of runs under
ReduceLROnPlateau and LearningRateScheduler. The test (test/parity/keras-parity.test.ts) builds
the same models in Waypoint from the `waypoint` description stored beside each case.
"""
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")
import numpy as np
import keras
from keras import layers, optimizers, callbacks
from keras.optimizers import schedules

DEFAULT_OUT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "golden", "keras-optimizers.json")


def data():
    i = np.arange(24, dtype=np.float32)[:, None]
    j = np.arange(4, dtype=np.float32)[None, :]
    x = np.sin(0.7 * i + 1.3 * j) + 0.1 * j
    y = np.eye(3, dtype=np.float32)[(np.arange(24) * 7 + 1) % 3]
    return x.astype(np.float32), y


def initial_weights():
    k1 = (np.cos(np.arange(20, dtype=np.float32) * 0.9) * 0.6).reshape(4, 5)
    b1 = np.linspace(-0.1, 0.1, 5, dtype=np.float32)
    k2 = (np.sin(np.arange(15, dtype=np.float32) * 1.1) * 0.7).reshape(5, 3)
    b2 = np.array([0.05, -0.02, 0.0], dtype=np.float32)
    return [k1, b1, k2, b2]


def model_with(optimizer):
    m = keras.Sequential([keras.Input((4,)), layers.Dense(5, activation="relu"), layers.Dense(3, activation="softmax")])
    m.set_weights(initial_weights())
    m.compile(optimizer=optimizer, loss="categorical_crossentropy")
    return m


def floats(ws):
    return [np.asarray(w, dtype=np.float32).ravel().tolist() for w in ws]


# Each case: the Keras optimizer, and how the Waypoint test builds the same one.
def cases():
    s = schedules
    return {
        "sgd_momentum": (lambda: optimizers.SGD(0.1, momentum=0.9), {"class": "SGD", "config": {"learningRate": 0.1, "momentum": 0.9}}),
        "sgd_nesterov": (lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True), {"class": "SGD", "config": {"learningRate": 0.1, "momentum": 0.9, "nesterov": True}}),
        "rmsprop": (lambda: optimizers.RMSprop(0.01), {"class": "RMSprop", "config": {"learningRate": 0.01}}),
        "rmsprop_centered_momentum": (lambda: optimizers.RMSprop(0.01, momentum=0.5, centered=True),
                                      {"class": "RMSprop", "config": {"learningRate": 0.01, "momentum": 0.5, "centered": True}}),
        "adamw": (lambda: optimizers.AdamW(0.01, weight_decay=0.1), {"class": "AdamW", "config": {"learningRate": 0.01, "weightDecay": 0.1}}),
        "adamw_default_decay": (lambda: optimizers.AdamW(0.01), {"class": "AdamW", "config": {"learningRate": 0.01}}),
        "adagrad": (lambda: optimizers.Adagrad(0.1), {"class": "Adagrad", "config": {"learningRate": 0.1}}),
        "adam_clipnorm": (lambda: optimizers.Adam(0.05, clipnorm=0.1), {"class": "Adam", "config": {"learningRate": 0.05, "clipnorm": 0.1}}),
        "adam_clipvalue": (lambda: optimizers.Adam(0.05, clipvalue=0.01), {"class": "Adam", "config": {"learningRate": 0.05, "clipvalue": 0.01}}),
        "sgd_global_clipnorm": (lambda: optimizers.SGD(0.5, global_clipnorm=0.1), {"class": "SGD", "config": {"learningRate": 0.5, "globalClipnorm": 0.1}}),
        "adam_exponential_decay": (lambda: optimizers.Adam(s.ExponentialDecay(0.05, 2, 0.5)),
                                   {"class": "Adam", "schedule": {"className": "ExponentialDecay", "config": {"initialLearningRate": 0.05, "decaySteps": 2, "decayRate": 0.5}}}),
        "sgd_piecewise_constant": (lambda: optimizers.SGD(s.PiecewiseConstantDecay([2, 5], [0.3, 0.1, 0.01])),
                                   {"class": "SGD", "schedule": {"className": "PiecewiseConstantDecay", "config": {"boundaries": [2, 5], "values": [0.3, 0.1, 0.01]}}}),
        "adam_cosine_warmup": (lambda: optimizers.Adam(s.CosineDecay(0.0, 6, alpha=0.1, warmup_target=0.05, warmup_steps=3)),
                               {"class": "Adam", "schedule": {"className": "CosineDecay", "config": {"initialLearningRate": 0.0, "decaySteps": 6, "alpha": 0.1, "warmupTarget": 0.05, "warmupSteps": 3}}}),
        "adam_ema": (lambda: optimizers.Adam(0.05, use_ema=True, ema_momentum=0.9),
                     {"class": "Adam", "config": {"learningRate": 0.05, "ema": {"momentum": 0.9}}}),
        "sgd_ema_overwrite": (lambda: optimizers.SGD(0.2, momentum=0.5, use_ema=True, ema_momentum=0.8, ema_overwrite_frequency=4),
                              {"class": "SGD", "config": {"learningRate": 0.2, "momentum": 0.5, "ema": {"momentum": 0.8, "overwriteFrequency": 4}}}),
        "sgd_inverse_time_staircase": (lambda: optimizers.SGD(s.InverseTimeDecay(0.3, 2, 1.0, staircase=True)),
                                       {"class": "SGD", "schedule": {"className": "InverseTimeDecay", "config": {"initialLearningRate": 0.3, "decaySteps": 2, "decayRate": 1.0, "staircase": True}}}),
    }


def schedule_values():
    s = schedules
    made = {
        "ExponentialDecay": (s.ExponentialDecay(0.1, 3, 0.7, staircase=False), {"initialLearningRate": 0.1, "decaySteps": 3, "decayRate": 0.7}),
        "ExponentialDecay_staircase": (s.ExponentialDecay(0.1, 3, 0.7, staircase=True), {"initialLearningRate": 0.1, "decaySteps": 3, "decayRate": 0.7, "staircase": True}),
        "InverseTimeDecay": (s.InverseTimeDecay(0.1, 4, 0.5), {"initialLearningRate": 0.1, "decaySteps": 4, "decayRate": 0.5}),
        "PiecewiseConstantDecay": (s.PiecewiseConstantDecay([3, 7], [1.0, 0.5, 0.1]), {"boundaries": [3, 7], "values": [1.0, 0.5, 0.1]}),
        "CosineDecay": (s.CosineDecay(0.1, 10, alpha=0.2), {"initialLearningRate": 0.1, "decaySteps": 10, "alpha": 0.2}),
        "CosineDecay_warmup": (s.CosineDecay(0.01, 8, warmup_target=0.1, warmup_steps=4), {"initialLearningRate": 0.01, "decaySteps": 8, "warmupTarget": 0.1, "warmupSteps": 4}),
    }
    return {name: {"className": name.split("_")[0], "config": cfg, "values": [float(keras.ops.convert_to_numpy(sched(step))) for step in range(13)]}
            for name, (sched, cfg) in made.items()}


def main():
    x, y = data()
    out = {"keras": keras.__version__, "backend": keras.backend.backend(), "x": x.ravel().tolist(), "y": y.ravel().tolist(),
           "initialWeights": floats(initial_weights()), "batchSize": 8, "epochs": 3, "optimizers": {}}
    for name, (make, waypoint) in cases().items():
        step = model_with(make())
        step.train_on_batch(x[:8], y[:8])
        run = model_with(make())
        history = run.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
        out["optimizers"][name] = {"waypoint": waypoint, "afterOneBatch": floats(step.get_weights()),
                                   "epochLosses": [float(v) for v in history.history["loss"]], "afterThreeEpochs": floats(run.get_weights())}
    out["schedules"] = schedule_values()

    plateau = model_with(optimizers.SGD(0.5))
    h = plateau.fit(x, y, batch_size=8, epochs=8, shuffle=False, verbose=0,
                    callbacks=[callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=0.05, cooldown=1, min_lr=0.05)])
    out["reduceLROnPlateau"] = {"sgd": 0.5, "options": {"monitor": "loss", "factor": 0.5, "patience": 1, "minDelta": 0.05, "cooldown": 1, "minLr": 0.05},
                                "epochs": 8, "loss": h.history["loss"], "learning_rate": h.history["learning_rate"], "finalWeights": floats(plateau.get_weights())}

    sched = model_with(optimizers.SGD(0.2))
    h = sched.fit(x, y, batch_size=8, epochs=5, shuffle=False, verbose=0,
                  callbacks=[callbacks.LearningRateScheduler(lambda e, lr: lr * 0.7 if e % 2 == 1 else lr)])
    out["learningRateScheduler"] = {"sgd": 0.2, "rule": "lr * 0.7 at odd epochs", "epochs": 5, "loss": h.history["loss"],
                                    "learning_rate": h.history["learning_rate"], "finalWeights": floats(sched.get_weights())}

    out_path = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT  # the live test writes elsewhere and compares
    with open(out_path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.normpath(out_path)} (keras {keras.__version__}, {keras.backend.backend()} backend)", file=sys.stderr)


if __name__ == "__main__":
    main()
