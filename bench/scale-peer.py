"""The peers of bench/scale.ts: one torch or safetensors save or load of a model of BYTES bytes
in sixteen float32 tensors, in a process of its own; prints seconds and the peak RSS added
beyond the model (VmHWM after /proc/self/clear_refs), as harness/checkpoint-scale-child.ts does.
Saves are followed by an fsync of the file (Waypoint's saves are durable); loads copy
(torch.load without mmap; safetensors' load_file, whose lazily mapped tensors are
cloned into memory of their own).
  python bench/scale-peer.py OP FILE BYTES   (OP: torch-save | torch-load | st-save | st-load)"""
import gc, json, os, re, sys, time

import numpy as np
import torch
from safetensors.torch import load_file, save_file

torch.set_num_threads(2)
TENSORS = 16


def rss_kib(field):
    with open('/proc/self/status') as f:
        return int(re.search(field + r':\s+(\d+)', f.read()).group(1))


def model(nbytes):
    per = max(1, nbytes // TENSORS // 4)
    rng = np.random.default_rng(1)
    return {f'layer_{i:02d}.kernel': torch.from_numpy(rng.uniform(-0.1, 0.1, per).astype(np.float32)) for i in range(TENSORS)}


def fsync(path):
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)


def main():
    op, path, nbytes = sys.argv[1], sys.argv[2], int(sys.argv[3])
    per = max(1, nbytes // TENSORS // 4)
    tensors = model(nbytes) if op.endswith('save') else None
    gc.collect()
    before = rss_kib('VmRSS')
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')
    t0 = time.perf_counter()
    if op == 'torch-save':
        with open(path, 'wb') as f:
            torch.save(tensors, f)
            f.flush()
            os.fsync(f.fileno())
    elif op == 'torch-load':
        kept = torch.load(path, weights_only=True)
    elif op == 'st-save':
        save_file(tensors, path)
        fsync(path)
    elif op == 'st-load':
        # load_file maps the file lazily; a copying load owns its tensors' memory.
        kept = {k: v.clone() for k, v in load_file(path).items()}
    else:
        raise SystemExit(f'unknown operation {op}')
    seconds = time.perf_counter() - t0
    loaded = per * TENSORS * 4 if op.endswith('load') else 0
    extra = ((rss_kib('VmHWM') - before) * 1024 - loaded) / 2**20
    print(json.dumps({'seconds': seconds, 'extraMiB': extra}))


main()
