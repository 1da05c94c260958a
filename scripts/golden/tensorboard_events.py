"""
A golden event file made with TensorBoard's own protocol buffers and record writer, for
Waypoint's byte-level test of its hand-written encoder (test/unit/tensorboard.test.ts).

    .venv-ref/bin/python scripts/golden/tensorboard_events.py

writes test/golden/tensorboard-events.tfevents: the file_version event, a scalar (the
scalars plugin's rank-0 float tensor, as TensorFlow 2 writes it), a text summary, a Keras
model graph, a histogram, and a SessionLog START, each with fixed wall times and steps. The events are
described in scripts/golden/tensorboard_events.json, which the test encodes in turn.
"""
import json
import os
import sys

from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, types_pb2
from tensorboard.summary.writer.record_writer import RecordWriter

HERE = os.path.dirname(__file__)
SPEC = os.path.join(HERE, "tensorboard_events.json")
DEFAULT_OUT = os.path.join(HERE, "..", "..", "test", "golden", "tensorboard-events.tfevents")


def value(v):
    out = summary_pb2.Summary.Value(tag=v["tag"])
    if v["kind"] == "scalar":
        out.tensor.dtype = types_pb2.DT_FLOAT
        out.tensor.tensor_shape.SetInParent()
        out.tensor.float_val.append(v["value"])
        out.metadata.plugin_data.plugin_name = "scalars"
        out.metadata.data_class = summary_pb2.DATA_CLASS_SCALAR
    elif v["kind"] == "text":
        out.tensor.dtype = types_pb2.DT_STRING
        out.tensor.tensor_shape.SetInParent()
        out.tensor.string_val.append(v["text"].encode())
        out.metadata.plugin_data.plugin_name = "text"
        out.metadata.data_class = summary_pb2.DATA_CLASS_TENSOR
    elif v["kind"] == "kerasModel":  # as keras_model_summary writes it
        out.tensor.dtype = types_pb2.DT_STRING
        out.tensor.tensor_shape.SetInParent()
        out.tensor.string_val.append(v["json"].encode())
        out.metadata.plugin_data.plugin_name = "graph_keras_model"
        out.metadata.plugin_data.content = b"1"
    else:
        h = v["histogram"]
        out.histo.min, out.histo.max, out.histo.num, out.histo.sum, out.histo.sum_squares = h["min"], h["max"], h["num"], h["sum"], h["sumSquares"]
        out.histo.bucket_limit.extend(h["bucketLimit"])
        out.histo.bucket.extend(h["bucket"])
    return out


def event(e):
    out = event_pb2.Event(wall_time=e["wallTime"], step=e["step"])
    body = e["body"]
    if body["kind"] == "fileVersion":
        out.file_version = body["version"]
    elif body["kind"] == "sessionLog":
        out.session_log.status = event_pb2.SessionLog.SessionStatus.Value(body["status"])
        if body.get("msg"):
            out.session_log.msg = body["msg"]
    else:
        out.summary.value.extend(value(v) for v in body["values"])
    return out


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    with open(SPEC) as f:
        events = json.load(f)
    with open(out_path, "wb") as f:
        writer = RecordWriter(f)
        for e in events:
            writer.write(event(e).SerializeToString())
        writer.flush()
    print(f"wrote {os.path.normpath(out_path)}", file=sys.stderr)


if __name__ == "__main__":
    main()
