"""python3 -m backtune.torch bench: the training-step benchmark (backtune/torch/bench.py)."""
import argparse
import sys


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python3 -m backtune.torch")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser(
        "bench", formatter_class=argparse.RawDescriptionHelpFormatter,
        help="time the backward of a torchvision model's conv and linear layers, backtune "
        "against PyTorch",
        description="Times the backward (dX, dW, db) of every convolution and linear layer "
        "of a torchvision model on real activations (a forward pass, then a real loss's "
        "backward), with backtune and with PyTorch's own CPU kernels, in this process, "
        "interleaved, medians of --reps rounds; checks every gradient against PyTorch's "
        "with the library's tolerance (normalised error <= 1; exit status 1 otherwise).",
        epilog="Fairness: both sides use --threads threads (torch.set_num_threads and the "
        "plans' threads=T) bound by OpenMP: the command re-executes itself with "
        "OMP_PLACES=cores OMP_PROC_BIND=close unless either is set. PyTorch allocates its "
        "outputs on every call, and fresh large buffers from glibc page-fault on first "
        "touch, so the command also preloads jemalloc (libjemalloc2) with "
        "MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1: freed memory stays mapped and is "
        "reused, and after the warm-up both sides write into warm memory (backtune's outputs "
        "are allocated once). Tuned: BACKTUNE_TABLE=results/<machine-id> (entries are per "
        "problem and thread count: tune at this batch and --threads); untuned: "
        "BACKTUNE_TABLE unset.")
    b.add_argument("--model", required=True, help="torchvision model name (resnet50, "
                   "mobilenet_v2, ...)")
    b.add_argument("--batch", type=int, required=True, help="minibatch")
    b.add_argument("--size", type=int, help="image height and width (default 224; "
                   "inception_v3 299)")
    b.add_argument("--channels-last", action="store_true",
                   help="model and activations channels_last (NHWC); default NCHW")
    b.add_argument("--threads", type=int, default=None,
                   help="threads of both sides (default: torch.get_num_threads())")
    b.add_argument("--reps", type=int, default=9, help="timed rounds (default 9)")
    b.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    b.add_argument("--system-malloc", action="store_true",
                   help="do not preload jemalloc (PyTorch's outputs may then page-fault)")
    args = parser.parse_args(argv)
    if args.batch < 1 or (args.size is not None and args.size < 1) or args.reps < 1 or \
            (args.threads is not None and args.threads < 1):
        parser.error("--batch, --size, --reps and --threads must be >= 1")
    from . import bench

    env = bench.prepare_environment(argv, args.system_malloc)
    import torch

    args.threads = args.threads or torch.get_num_threads()
    return bench.run(args, env)


if __name__ == "__main__":
    sys.exit(main())
