"""What INT8 quantization must leave in floating point, found in an exported graph.

Static INT8 quantization of a YOLO detector collapses its accuracy when the last layers are
quantized (onnxruntime issues 9598 and 14233): one shared scale cannot hold both box offsets and
logits, the sigmoid of a quantized logit moves scores across the threshold, and exp() of a quantized
log-size moves boxes by pixels. So the head's prediction convolutions (``head.cls_preds``,
``head.reg_preds``, ``head.obj_preds``) and everything computed from them (flatten, concat,
sigmoid, the decode) stay float; the backbone, neck and head towers are quantized.

The prediction convolutions are found by their weights, whose names are the PyTorch parameter
names (``head.cls_preds.0.weight``) in both ONNX and the IR converted from it, with the node
names (``/head/cls_preds.0/Conv``) as a fallback; no node index is assumed.
"""
import re
from collections import deque
from typing import Dict, Iterable, List

__all__ = ["PREDICTION_WEIGHT", "PREDICTION_NODE", "onnx_float_nodes", "openvino_float_nodes"]

PREDICTION_WEIGHT = re.compile(r"(^|\.)head\.(cls|reg|obj)_preds\.\d+\.weight$")
PREDICTION_NODE = re.compile(r"/head/(cls|reg|obj)_preds\.\d+/")


def _downstream(seeds: Iterable[str], consumers: Dict[str, List[str]]) -> List[str]:
    """``seeds`` and every node reachable from them, in breadth-first order."""
    order, seen, queue = [], set(), deque(seeds)
    while queue:
        name = queue.popleft()
        if name in seen:
            continue
        seen.add(name)
        order.append(name)
        queue.extend(consumers.get(name, ()))
    return order


def _no_prediction_layers(where: str) -> ValueError:
    return ValueError(f"{where}: found no prediction convolution of the YOLOX head (weights named "
                      "head.cls_preds.K.weight, head.reg_preds.K.weight, head.obj_preds.K.weight); "
                      "was it exported by yolox from a YOLOX model?")


def onnx_float_nodes(model) -> List[str]:
    """Names of the nodes of an ``onnx.ModelProto`` to keep float: the prediction convs and all nodes after them."""
    nodes = list(model.graph.node)
    seeds = [n.name for n in nodes if n.op_type == "Conv"
             and (PREDICTION_WEIGHT.search(n.input[1]) or PREDICTION_NODE.search(n.name))]
    if not seeds:
        raise _no_prediction_layers("ONNX graph")
    producer_of = {out: n.name for n in nodes for out in n.output}
    consumers: Dict[str, List[str]] = {}
    for node in nodes:
        for tensor in node.input:
            if tensor in producer_of:
                consumers.setdefault(producer_of[tensor], []).append(node.name)
    return _downstream(seeds, consumers)


def openvino_float_nodes(model) -> List[str]:
    """Friendly names of the operations of an ``openvino.Model`` to keep float (as ``onnx_float_nodes``;
    Result nodes left out: they compute nothing)."""
    seeds, consumers = [], {}
    for op in model.get_ordered_ops():
        name = op.get_friendly_name()
        if op.get_type_name() == "Convolution":
            weight = op.input_value(1).get_node()
            if PREDICTION_WEIGHT.search(weight.get_friendly_name()) or PREDICTION_NODE.search(name):
                seeds.append(name)
        consumers[name] = [target.get_node().get_friendly_name() for output in op.outputs()
                           for target in output.get_target_inputs()
                           if target.get_node().get_type_name() != "Result"]
    if not seeds:
        raise _no_prediction_layers("OpenVINO model")
    return _downstream(seeds, consumers)
