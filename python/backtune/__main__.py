"""python3 -m backtune COMMAND: the Python side of the backtune command.

  import-model MODEL   a torchvision model name or an ONNX file -> a suite file
  info                 the library this package loads and its variants
"""
import argparse
import sys

import backtune


def _import_model(args, argv):
    from backtune.model_import import import_model

    import_model(args.model, args.batch, args.size, args.output, args.name, not args.eval,
                 argv)
    if args.output and args.output != "-":
        print(f"import-model: wrote {args.output}", file=sys.stderr)
    return 0


def _info(args, argv):
    print(f"library: {backtune.library_path()}")
    for v in backtune.variants():
        print(f"  {v['name']:<42} {v['isa']:<7} {'runs here' if v['cpu_ok'] else 'no CPU'}")
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python3 -m backtune",
                                     description="backtune from Python")
    sub = parser.add_subparsers(dest="command", required=True)
    imp = sub.add_parser(
        "import-model", help="a model's conv and linear layers as a suite file",
        description="Writes a suite (bench/suites format) of a model's convolution and linear "
        "layers: one benchdnn descriptor per distinct shape, named after its first layer, "
        "'# xN' its layer count. `backtune tune --suite FILE` and `backtune bench --suite "
        "FILE` take it as it is.")
    imp.add_argument("model", help="a torchvision model name (resnet50, mobilenet_v2, "
                     "efficientnet_b0, densenet121, inception_v3, ...) or an ONNX file "
                     "(a path, or a name ending in .onnx)")
    imp.add_argument("-b", "--batch", type=int, default=32, help="minibatch (default 32)")
    imp.add_argument("-S", "--size", type=int, default=None,
                     help="image height and width (default 224; inception_v3 299)")
    imp.add_argument("-o", "--output", help="suite file to write (default: standard output)")
    imp.add_argument("--name", help="the model's name in descriptors (default: the model "
                     "name or the ONNX file's stem)")
    imp.add_argument("--eval", action="store_true", help="torchvision: run the model in "
                     "eval mode (default train: auxiliary heads count, as in training)")
    imp.set_defaults(run=_import_model)
    info = sub.add_parser("info", help="the library in use and its variants")
    info.set_defaults(run=_info)
    args = parser.parse_args(argv)
    if getattr(args, "batch", 1) < 1 or (getattr(args, "size", None) or 1) < 1:
        parser.error("--batch and --size must be >= 1")
    return args.run(args, argv)


if __name__ == "__main__":
    sys.exit(main())
