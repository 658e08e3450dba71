"""A model's convolution and linear layers as a backtune suite (bench/suites format).

A torchvision model is run once forward (train mode, so auxiliary heads count; no weights
are downloaded) at the given batch and image size with forward hooks on every nn.Conv2d and
nn.Linear; an ONNX file goes through onnx.shape_inference with its input fixed to that size,
and its Conv, Gemm and MatMul (by a constant matrix) nodes are read. Each distinct shape
becomes one descriptor (the library's canonical text, checked to parse back to the same
problem), named after its first layer, with the layer count as '# xN' and the layers listed.
"""
import os
import sys

import backtune

# Inception v3 and GoogLeNet are defined at 299 x 299; every other torchvision classifier
# at 224 x 224.
_NATIVE_SIZE = {"inception_v3": 299}


def default_size(model):
    return _NATIVE_SIZE.get(model, 224)


class Layer:
    """One layer: its name and its problem (conv_bwd_d NCHW: the shape, op-independent)."""

    def __init__(self, name, problem):
        self.name, self.problem = name, problem


def torchvision_model(model_name, train=True):
    """A torchvision classifier by name, without weights (nothing is downloaded)."""
    import torchvision

    builder = getattr(torchvision.models, model_name, None)
    if builder is None or not callable(builder) or model_name.startswith("_"):
        names = sorted(n for n in dir(torchvision.models) if n.islower() and not
                       n.startswith("_") and callable(getattr(torchvision.models, n)))
        raise SystemExit(f"no torchvision model '{model_name}' (torchvision "
                         f"{torchvision.__version__}: {', '.join(names)})")
    kwargs = {"weights": None}
    if model_name in ("inception_v3", "googlenet"):
        kwargs["init_weights"] = False  # scipy-free, fast; shapes do not depend on weights
    return builder(**kwargs).train(train)


def torchvision_layers(model_name, batch, size, train=True):
    import torch

    model = torchvision_model(model_name, train)
    return module_layers(model, torch.zeros(batch, 3, size, size))


def module_layers(model, example):
    """The layers of a torch model called on `example`, by forward hooks, in call order."""
    import torch

    from backtune.torch.layers import model_layers, module_conv_problem, linear_problem

    layers, hooks = [], []
    for name, module in model_layers(model):
        def hook(m, inputs, output, name=name):
            x = inputs[0]
            if isinstance(m, torch.nn.Conv2d):
                p = module_conv_problem(m, x.shape, op="conv_bwd_d")
                if tuple(output.shape) != tuple(p.dy_shape):
                    raise RuntimeError(f"{name}: output {tuple(output.shape)}, the problem "
                                       f"{p.text} gives {p.dy_shape}")
            else:
                p = linear_problem("fc_bwd_d", x.shape, m.weight.shape)
            layers.append(Layer(name, p))
        hooks.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(example)
    finally:
        for h in hooks:
            h.remove()
    return layers


def _onnx_dims(value_info):
    t = value_info.type.tensor_type
    return [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]


def onnx_layers(path, batch, size):
    import onnx
    from onnx import numpy_helper, shape_inference

    model = onnx.load(path)
    graph = model.graph
    consts = {i.name: tuple(i.dims) for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in consts]
    if not inputs:
        raise SystemExit(f"import-model: {path} has no graph input")
    image = inputs[0].type.tensor_type.shape
    if len(image.dim) != 4:
        raise SystemExit(f"import-model: {path}: input '{inputs[0].name}' has {len(image.dim)} "
                         "dimensions; an image input (N, C, H, W) is needed")
    for d, v in zip(image.dim, (batch, None, size, size)):
        if v is not None:
            d.ClearField("dim_param")
            d.dim_value = v
    inferred = shape_inference.infer_shapes(model)
    shapes = dict(consts)
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + \
            list(inferred.graph.output):
        shapes[vi.name] = tuple(_onnx_dims(vi))
    for node in inferred.graph.node:
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value":
                    shapes[node.output[0]] = tuple(numpy_helper.to_array(a.t).shape)
                    consts[node.output[0]] = shapes[node.output[0]]
    layers = []
    for index, node in enumerate(inferred.graph.node):
        name = (node.name or (node.output[0] if node.output else f"node{index}")).strip("/")
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Conv":
            p = _onnx_conv(path, name, node, attrs, shapes)
        elif node.op_type in ("Gemm", "MatMul"):
            p = _onnx_fc(name, node, attrs, shapes, consts)
        else:
            continue
        if p is not None:
            layers.append(Layer(name, p))
    return layers


def _onnx_conv(path, name, node, attrs, shapes):
    x, w = shapes.get(node.input[0]), shapes.get(node.input[1])
    if not x or not w or None in x or None in w:
        raise SystemExit(f"import-model: {path}: Conv '{name}': shape inference left its "
                         f"input {x} or weights {w} unknown")
    if len(w) != 4:
        print(f"import-model: skipping {len(w) - 2}-D Conv '{name}' (backtune: 2-D)",
              file=sys.stderr)
        return None
    kernel = attrs.get("kernel_shape", w[2:])
    stride = attrs.get("strides", [1, 1])
    dil = attrs.get("dilations", [1, 1])
    auto = attrs.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        padding = []
        for i in range(2):
            out = -(-x[2 + i] // stride[i])
            total = max(0, (out - 1) * stride[i] + dil[i] * (kernel[i] - 1) + 1 - x[2 + i])
            small, large = total // 2, total - total // 2
            padding.append((small, large) if auto == "SAME_UPPER" else (large, small))
    elif auto == "VALID":
        padding = [(0, 0), (0, 0)]
    else:
        pads = attrs.get("pads", [0, 0, 0, 0])
        padding = [(pads[0], pads[2]), (pads[1], pads[3])]
    n, c, h, wd = x
    return backtune.Problem.conv("conv_bwd_d", n, c, h, wd, w[0], kernel[0], kernel[1],
                                 stride=tuple(stride), padding=tuple(padding),
                                 dilation=tuple(dil), groups=attrs.get("group", 1))


def _onnx_fc(name, node, attrs, shapes, consts):
    a, b = shapes.get(node.input[0]), shapes.get(node.input[1])
    if node.input[1] not in consts or not a or not b or None in a or len(b) != 2:
        return None  # a product of two activations (attention) is no layer
    if node.op_type == "Gemm":
        if attrs.get("transA", 0):
            return None
        k, c = (b[0], b[1]) if attrs.get("transB", 0) else (b[1], b[0])
        n = a[0]
    else:
        c, k = b
        n = 1
        for d in a[:-1]:
            n *= d
    return backtune.Problem.fc("fc_bwd_d", n, c, k)


def _short_list(names, limit=160):
    text = ", ".join(names)
    if len(text) <= limit:
        return text
    out = ""
    for i, n in enumerate(names):
        more = f", ... ({len(names) - i} more)"
        if len(out) + len(n) + 2 + len(more) > limit:
            return out + more
        out += (", " if out else "") + n
    return out


def suite_text(model_label, layers, header):
    """The suite: header comment lines, then one descriptor per distinct shape."""
    groups = {}
    for layer in layers:
        groups.setdefault(layer.problem.key(), []).append(layer)
    lines = []
    for members in groups.values():
        p = members[0].problem
        descriptor = f'{p.descriptor}n"{model_label}:{members[0].name}"'
        check = backtune.Problem.parse(f"{p.op}_{p.layout} {descriptor}" if not p.is_fc
                                       else f"{p.op} {descriptor}")
        if check != p:
            raise RuntimeError(f"{descriptor} parses as {check.text}, not {p.text}")
        lines.append((descriptor, f"# x{len(members)} " +
                      _short_list([m.name for m in members])))
    width = max(len(d) for d, _ in lines)
    body = "\n".join(f"{d:<{width}}  {c}" for d, c in lines)
    convs = sum(1 for m in layers if not m.problem.is_fc)
    summary = (f"{len(groups)} distinct shapes for {convs} convolution and "
               f"{len(layers) - convs} linear layers")
    return "\n".join(f"# {h}" if h else "#" for h in header + [summary]) + "\n\n" + body + "\n"


FORMAT_NOTE = ("Format: see resnet50.txt (one benchdnn descriptor per line, '# xN' the "
               "layers of that shape; FC descriptors are mb, ic, oc).")


def import_model(model, batch, size=None, output=None, label=None, train=True, argv=None):
    """Writes the suite of a torchvision model name or an ONNX file; returns its text."""
    is_onnx = model.endswith(".onnx") or os.path.sep in model
    if is_onnx:
        size = size or 224
        layers = onnx_layers(model, batch, size)
        label = label or os.path.splitext(os.path.basename(model))[0]
        origin = f"ONNX file {os.path.basename(model)}, shapes by onnx.shape_inference"
    else:
        import torchvision

        size = size or default_size(model)
        layers = torchvision_layers(model, batch, size, train)
        label = label or model
        origin = (f"torchvision {torchvision.__version__} models.{model} in "
                  f"{'train mode (auxiliary heads run)' if train else 'eval mode'}")
    if not layers:
        raise SystemExit(f"import-model: {model}: no convolution or linear layer found")
    header = [f"{label}: {origin},", f"batch {batch}, {size}x{size} input.",
              "Written by: python3 -m backtune " + " ".join(argv or []),
              FORMAT_NOTE]
    text = suite_text(label, layers, header)
    if output and output != "-":
        with open(output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return text
