#!/usr/bin/python3
"""Compares two GGUF files key by key and tensor by tensor with llama.cpp's
own reader (gguf-py): every key with its type and value, every tensor with
its shape, type and bytes. Prints each difference; exits 1 if there is one.

Usage: compare_gguf.py GGUF_PY_DIR OURS.gguf REFERENCE.gguf [--ignore KEY ...]
"""
import sys

sys.path.insert(0, sys.argv[1])
import numpy as np  # noqa: E402
from gguf import GGUFReader  # noqa: E402


def fields(reader):
    out = {}
    for name, f in reader.fields.items():
        if name.startswith("GGUF."):
            continue
        types = tuple(int(t) for t in f.types)
        value = [bytes(f.parts[i]) for i in f.data]
        out[name] = (types, value)
    return out


def main():
    ours, ref = GGUFReader(sys.argv[2]), GGUFReader(sys.argv[3])
    ignore = set(sys.argv[sys.argv.index("--ignore") + 1:]) if "--ignore" in sys.argv else set()
    problems = []
    a, b = fields(ours), fields(ref)
    for k in sorted(set(a) | set(b)):
        if k in ignore:
            continue
        if k not in a:
            problems.append(f"key {k}: missing (reference has it)")
        elif k not in b:
            problems.append(f"key {k}: extra (the reference does not have it)")
        elif a[k][0] != b[k][0]:
            problems.append(f"key {k}: type {a[k][0]} vs {b[k][0]}")
        elif a[k][1] != b[k][1]:
            n = sum(1 for x, y in zip(a[k][1], b[k][1]) if x != y) + abs(len(a[k][1]) - len(b[k][1]))
            problems.append(f"key {k}: {n} of {len(b[k][1])} values differ (first: "
                            f"{next(((x, y) for x, y in zip(a[k][1], b[k][1]) if x != y), None)})")
    ta = {t.name: t for t in ours.tensors}
    tb = {t.name: t for t in ref.tensors}
    if [t.name for t in ours.tensors] != [t.name for t in ref.tensors] and set(ta) == set(tb):
        problems.append("tensor order differs")
    for n in sorted(set(ta) | set(tb)):
        if n not in ta or n not in tb:
            problems.append(f"tensor {n}: only in {'the reference' if n in tb else 'ours'}")
            continue
        x, y = ta[n], tb[n]
        if list(x.shape) != list(y.shape) or x.tensor_type != y.tensor_type:
            problems.append(f"tensor {n}: {x.tensor_type.name}{list(x.shape)} vs {y.tensor_type.name}{list(y.shape)}")
        elif x.data.tobytes() != y.data.tobytes():
            diff = np.count_nonzero(x.data.view(np.uint8) != y.data.view(np.uint8))
            problems.append(f"tensor {n}: {diff} bytes differ")
    for p in problems:
        print(p)
    print(f"{len(a)} keys, {len(ta)} tensors compared; {len(problems)} differences")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
