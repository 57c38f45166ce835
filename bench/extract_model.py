"""The reference splitter for the benchmark: onnx.utils.extract_model, as the original tool used it.

    python3 bench/extract_model.py <job.json>

job.json: {"model": path, "out_dir": path, "inputs": [model input names], "outputs": [model output names],
           "cuts": [{"index": n, "tensors": [cut tensor names]}, ...]}

For each cut, writes out_dir/split_NNN/part1.onnx (model inputs -> cut tensors) and part2.onnx
(cut tensors -> model outputs) with extract_model's defaults (check_model=True), and prints one JSON
object on stdout: {"onnx_version", "import_s", "cuts": [{"index", "part1_s", "part2_s", "seconds", "bytes"}]}.
"""
import json
import os
import sys
import time

t0 = time.perf_counter()
import onnx  # noqa: E402
import onnx.utils  # noqa: E402

import_s = time.perf_counter() - t0


def main(argv):
    if len(argv) != 1:
        print("usage: extract_model.py <job.json>", file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as f:
        job = json.load(f)
    results = []
    for cut in job["cuts"]:
        folder = os.path.join(job["out_dir"], "split_%03d" % cut["index"])
        os.makedirs(folder, exist_ok=True)
        p1 = os.path.join(folder, "part1.onnx")
        p2 = os.path.join(folder, "part2.onnx")
        s = time.perf_counter()
        onnx.utils.extract_model(job["model"], p1, job["inputs"], cut["tensors"])
        m = time.perf_counter()
        onnx.utils.extract_model(job["model"], p2, cut["tensors"], job["outputs"])
        e = time.perf_counter()
        results.append(
            {
                "index": cut["index"],
                "part1_s": m - s,
                "part2_s": e - m,
                "seconds": e - s,
                "bytes": os.path.getsize(p1) + os.path.getsize(p2),
            }
        )
    print(json.dumps({"onnx_version": onnx.__version__, "import_s": import_s, "cuts": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
