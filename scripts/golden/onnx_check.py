"""
The ONNX side of Waypoint's ONNX goldens: for each NAME.onnx in DIR (written by
scripts/golden/onnx-cases.ts), run the ONNX checker (full_check: shape inference included),
then ONNX Runtime on the NAME.json input batches (NHWC, the batch dimension dynamic; a
functional model's inputs by name, its outputs flattened and joined in order), and write the
outputs to DIR/onnxruntime.json.

    .venv-ref/bin/python scripts/golden/onnx_check.py [DIR]
"""
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort

DIR = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "test", "golden", "onnx")


def main():
    out = {"onnx": onnx.__version__, "onnxruntime": ort.__version__, "cases": {}}
    for file in sorted(os.listdir(DIR)):
        if not file.endswith(".onnx"):
            continue
        name = file[:-5]
        model = onnx.load(os.path.join(DIR, file))
        onnx.checker.check_model(model, full_check=True)
        spec = json.load(open(os.path.join(DIR, f"{name}.json")))
        inputs = spec.get("inputs", [{"name": "input", **spec}])
        feed = {i["name"]: np.array(i["x"], dtype=np.float32).reshape(i["shape"]) for i in inputs}
        session = ort.InferenceSession(os.path.join(DIR, file), providers=["CPUExecutionProvider"])
        # Every output, flattened and joined in order; then the first sample alone (the batch dimension is dynamic).
        y = np.concatenate([o.flatten() for o in session.run(None, feed)])
        y2 = np.concatenate([o.flatten() for o in session.run(None, {k: v[:1] for k, v in feed.items()})])
        out["cases"][name] = {"outputs": y.flatten().tolist(), "firstAlone": y2.flatten().tolist(), "opset": model.opset_import[0].version}
    with open(os.path.join(DIR, "onnxruntime.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.join(DIR, 'onnxruntime.json')} ({len(out['cases'])} cases, onnxruntime {ort.__version__})", file=sys.stderr)


if __name__ == "__main__":
    main()
