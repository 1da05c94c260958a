"""
Reads a TensorBoard log directory with TensorBoard's own loader (the plugin event
accumulator behind `tensorboard --logdir`, which honours SessionLog START) and prints, per
run, every tensor tag's steps and, for scalars, values (for a Keras model, the node names of
the graph TensorBoard's graphs plugin builds from it), as JSON. The live check in
test/unit/tensorboard.test.ts compares it with Waypoint's reader on logs of a killed and
resumed run.

    .venv-ref/bin/python scripts/golden/tensorboard_read.py LOGDIR
"""
import json
import os
import sys

from tensorboard.backend.event_processing import plugin_event_accumulator as pea
from tensorboard.plugins.graph import keras_util
from tensorboard.util import tensor_util


def main():
    logdir = sys.argv[1]
    out = {}
    for run in sorted(os.listdir(logdir)):
        path = os.path.join(logdir, run)
        if not os.path.isdir(path):
            continue
        acc = pea.EventAccumulator(path, size_guidance={pea.TENSORS: 0})
        acc.Reload()
        tags = {}
        for tag in acc.Tags()["tensors"]:
            events = acc.Tensors(tag)
            plugin = acc.SummaryMetadata(tag).plugin_data.plugin_name
            points = []
            for e in events:
                array = tensor_util.make_ndarray(e.tensor_proto)
                if plugin == "scalars":
                    points.append([e.step, float(array)])
                elif plugin == "graph_keras_model":  # the graph TensorBoard's graphs plugin draws from it
                    graph = keras_util.keras_model_to_graph_def(json.loads(array.item().decode()))
                    points.append([e.step, [node.name for node in graph.node]])
                else:
                    points.append([e.step, None])
            tags[tag] = {"plugin": plugin, "points": points}
        out[run] = tags
    print(json.dumps(out))


if __name__ == "__main__":
    main()
