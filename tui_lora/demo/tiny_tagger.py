"""A tiny WD14-style tagger (model.onnx + selected_tags.csv) built in milliseconds with ``onnx``.

It has the real models' signature: input ``[N, S, S, 3]`` float32, BGR, 0-255, NHWC; output
``[N, tags]`` sigmoid probabilities. Its outputs are driven by what preprocessing gets wrong:

* the mean of each colour channel (so an RGB/BGR swap tags a red picture ``blue theme``, and
  0-1 scaling instead of 0-255 tags nothing);
* the top-left pixel's darkest channel (white padding of a wide picture tags ``white border``;
  black or no padding does not);
* fixed probabilities chosen around the default thresholds 0.35 (general) and 0.85
  (character), in every category of the CSV, so the category rules and the thresholds show.

``S`` defaults to 64, not 448, so code that hard-codes 448 instead of reading the model fails.
``mlp_layers`` adds a ViT-sized compute branch (patches → MLP blocks) whose result barely
touches the outputs; the benchmark uses it to give the model a realistic cost.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

# (name as in the CSV, category, how its logit is made): ("rgb", wB, wG, wR) from the channel
# means, ("corner",) from the top-left pixel, ("p", probability) for a constant.
K = 20.0
TAGS: tuple[tuple[str, int, tuple], ...] = (
    ("general", 9, ("p", 0.95)),
    ("sensitive", 9, ("p", 0.40)),
    ("questionable", 9, ("p", 0.05)),
    ("explicit", 9, ("p", 0.02)),
    ("red_theme", 0, ("rgb", -0.5, -0.5, 1.0)),
    ("green_theme", 0, ("rgb", -0.5, 1.0, -0.5)),
    ("blue_theme", 0, ("rgb", 1.0, -0.5, -0.5)),
    ("white_border", 0, ("corner",)),
    ("long_hair", 0, ("p", 0.50)),
    ("short_hair", 0, ("p", 0.30)),
    ("^_^", 0, ("p", 0.90)),
    ("hatsune_miku", 4, ("p", 0.70)),
    ("kagamine_rin", 4, ("p", 0.95)),
    ("some_artist", 1, ("p", 0.90)),
    ("azur_lane", 3, ("p", 0.80)),
    ("highres", 5, ("p", 0.99)),
)

# What the default thresholds (0.35 / 0.85) write for a pure red square picture.
EXPECTED_RED_SQUARE = ["kagamine rin", "some artist", "red theme", "highres", "^_^", "long hair"]


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def write_tags_csv(path: Path, tags=TAGS) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["tag_id", "name", "category", "count"])
        for i, (name, cat, _) in enumerate(tags):
            w.writerow([1000 + i, name, cat, 100000 - i])


def build_tiny_wd14(folder: str | Path, *, size: int = 64, mlp_layers: int = 0, mlp_width: int = 768,
                    patch: int = 16, seed: int = 0) -> Path:
    """Write ``model.onnx`` and ``selected_tags.csv`` into ``folder`` and return it."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    n_tags = len(TAGS)
    w = np.zeros((4, n_tags), np.float32)
    b = np.zeros(n_tags, np.float32)
    for j, (_, _, rule) in enumerate(TAGS):
        if rule[0] == "rgb":
            w[0:3, j] = [K * rule[1], K * rule[2], K * rule[3]]
            b[j] = -K * 0.25
        elif rule[0] == "corner":
            w[3, j] = K
            b[j] = -K * 0.5
        else:
            b[j] = _logit(rule[1])

    inits = [
        numpy_helper.from_array(np.array([1 / 255], np.float32), "scale"),
        numpy_helper.from_array(np.array([0, 0, 0], np.int64), "corner_starts"),
        numpy_helper.from_array(np.array([1, 1, 3], np.int64), "corner_ends"),
        numpy_helper.from_array(np.array([1, 2, 3], np.int64), "corner_axes"),
        numpy_helper.from_array(np.array([-1, 3], np.int64), "shape_n3"),
        numpy_helper.from_array(w, "W"),
        numpy_helper.from_array(b, "B"),
    ]
    nodes = [
        helper.make_node("Mul", ["input_1:0", "scale"], ["x01"]),
        helper.make_node("ReduceMean", ["x01"], ["means"], axes=[1, 2], keepdims=0),
        helper.make_node("Slice", ["x01", "corner_starts", "corner_ends", "corner_axes"], ["corner4d"]),
        helper.make_node("Reshape", ["corner4d", "shape_n3"], ["corner3"]),
        helper.make_node("ReduceMin", ["corner3"], ["corner"], axes=[1], keepdims=1),
        helper.make_node("Concat", ["means", "corner"], ["features"], axis=1),
        helper.make_node("MatMul", ["features", "W"], ["logits0"]),
        helper.make_node("Add", ["logits0", "B"], ["logits"]),
    ]
    last = "logits"
    if mlp_layers:
        last = _add_mlp_branch(nodes, inits, size=size, patch=patch, width=mlp_width, layers=mlp_layers,
                               n_tags=n_tags, seed=seed)
    nodes.append(helper.make_node("Sigmoid", [last], ["predictions_sigmoid"]))
    graph = helper.make_graph(
        nodes, "tiny_wd14",
        [helper.make_tensor_value_info("input_1:0", TensorProto.FLOAT, ["batch", size, size, 3])],
        [helper.make_tensor_value_info("predictions_sigmoid", TensorProto.FLOAT, ["batch", n_tags])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="tui-lora-tests")
    model.ir_version = 8  # what onnxruntime releases of the last years all read
    onnx.checker.check_model(model)
    onnx.save(model, str(folder / "model.onnx"))
    write_tags_csv(folder / "selected_tags.csv")
    return folder


def _add_mlp_branch(nodes, inits, *, size: int, patch: int, width: int, layers: int, n_tags: int, seed: int) -> str:
    """Patchify → linear → ``layers`` residual MLP blocks (4× wide) → mean → tags, scaled by 1e-6.

    At 448 px, patch 16, width 768 and 12 layers this costs about as much as a ViT-B/16 tagger
    (~90 GFLOPs per image), so timings are not dominated by the toy part."""
    import numpy as np
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(seed)
    g = size // patch
    inits.append(numpy_helper.from_array(np.array([-1, g, patch, g, patch, 3], np.int64), "patch_shape"))
    inits.append(numpy_helper.from_array(np.array([-1, g * g, patch * patch * 3], np.int64), "tokens_shape"))
    nodes.append(helper.make_node("Reshape", ["x01", "patch_shape"], ["patches6"]))
    nodes.append(helper.make_node("Transpose", ["patches6"], ["patchesT"], perm=[0, 1, 3, 2, 4, 5]))
    nodes.append(helper.make_node("Reshape", ["patchesT", "tokens_shape"], ["tokens"]))

    def weight(name: str, fan_in: int, fan_out: int, scale: float = 1.0) -> str:
        arr = (rng.standard_normal((fan_in, fan_out)) * scale / math.sqrt(fan_in)).astype(np.float32)
        inits.append(numpy_helper.from_array(arr, name))
        return name

    nodes.append(helper.make_node("MatMul", ["tokens", weight("embed", patch * patch * 3, width)], ["h0"]))
    h = "h0"
    for i in range(layers):
        nodes.append(helper.make_node("MatMul", [h, weight(f"up{i}", width, 4 * width)], [f"u{i}"]))
        nodes.append(helper.make_node("Relu", [f"u{i}"], [f"r{i}"]))
        nodes.append(helper.make_node("MatMul", [f"r{i}", weight(f"down{i}", 4 * width, width, 0.1)], [f"d{i}"]))
        nodes.append(helper.make_node("Add", [h, f"d{i}"], [f"h{i + 1}"]))
        h = f"h{i + 1}"
    nodes.append(helper.make_node("ReduceMean", [h], ["pooled"], axes=[1], keepdims=0))
    nodes.append(helper.make_node("MatMul", ["pooled", weight("head", width, n_tags, 1e-6)], ["mlp_logits"]))
    nodes.append(helper.make_node("Add", ["logits", "mlp_logits"], ["logits_all"]))
    return "logits_all"

