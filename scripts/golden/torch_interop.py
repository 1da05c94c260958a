"""
The PyTorch side of Waypoint's interop goldens. For each case in DIR (written by
scripts/golden/torch-cases.ts): build the module from NAME.py (an nn.Sequential, or a
functional model's nn.Module with its forward), load NAME.safetensors with
load_state_dict(strict=True), predict on the input batches (NHWC images permuted to NCHW,
ids as int64; several outputs flattened and joined in order); then train it three SGD steps
in PyTorch, save its state_dict with safetensors (NAME.trained.safetensors) and predict
again. Writes DIR/torch.json.

    .venv-ref/bin/python scripts/golden/torch_interop.py [DIR]
"""
import json
import os
import sys

import torch
from safetensors.torch import load_file, save_file

DIR = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "test", "golden", "torch-interop")


def prepare(spec):
    """One input batch as the module takes it: ids as int64, NHWC images permuted to NCHW."""
    x = torch.tensor(spec["x"]).reshape(spec["shape"])
    if spec["ids"]:
        return x.long()
    return x.permute(0, 3, 1, 2).contiguous() if spec["nchw"] else x


def outputs(y):
    return list(y) if isinstance(y, tuple) else [y]


def flat(y):
    """Every output, flattened and joined in order."""
    return [v for t in outputs(y) for v in t.flatten().tolist()]


def main():
    torch.manual_seed(0)
    out = {"torch": torch.__version__, "cases": {}}
    for file in sorted(os.listdir(DIR)):
        if not file.endswith(".py"):
            continue
        name = file[:-3]
        scope = {}
        exec(open(os.path.join(DIR, file)).read(), scope)
        model = scope["model"]
        model.load_state_dict(load_file(os.path.join(DIR, f"{name}.safetensors")), strict=True)
        spec = json.load(open(os.path.join(DIR, f"{name}.json")))
        xs = [prepare(i) for i in spec.get("inputs", [spec])]
        model.eval()
        with torch.no_grad():
            predictions = flat(model(*xs))
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        for _ in range(3):
            opt.zero_grad()
            sum(((y - 0.5) ** 2).mean() for y in outputs(model(*xs))).backward()
            opt.step()
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, os.path.join(DIR, f"{name}.trained.safetensors"))
        model.eval()
        with torch.no_grad():
            trained = flat(model(*xs))
        out["cases"][name] = {"predictions": predictions, "trainedPredictions": trained}
    with open(os.path.join(DIR, "torch.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.join(DIR, 'torch.json')} ({len(out['cases'])} cases, torch {torch.__version__})", file=sys.stderr)


if __name__ == "__main__":
    main()
