#!/usr/bin/env python3
"""Writes the small seed inputs of tests/fuzz/corpus/{npy,idx,cifar} (the
safetensors, golden_case and checkpoint seeds are cudl files: golden cases, and
a tiny checkpoint from `cudl train`, see tests/fuzz/README.md)."""
import gzip
import os
import struct

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(kind, name, data):
    os.makedirs(os.path.join(root, kind), exist_ok=True)
    with open(os.path.join(root, kind, name), "wb") as f:
        f.write(data)


def npy(descr, shape, data, major=1):
    """A .npy file as numpy.save writes it (header padded to 64 bytes)."""
    dims = ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "")
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, dims)
    preamble = 10 if major == 1 else 12
    header += " " * ((64 - (preamble + len(header) + 1) % 64) % 64) + "\n"
    length = struct.pack("<H" if major == 1 else "<I", len(header))
    return b"\x93NUMPY" + bytes([major, 0]) + length + header.encode() + data


write("npy", "f32_2x3.npy", npy("<f4", (2, 3), struct.pack("<6f", *range(6))))
write("npy", "i64_scalar.npy", npy("<i8", (), struct.pack("<q", -7)))
write("npy", "u8_empty.npy", npy("|u1", (0, 4), b""))
write("npy", "f32_v2.npy", npy("<f4", (2, 1, 2), struct.pack("<4f", 1, 1, 1, 1), major=2))


def idx(dims, data):
    return struct.pack(">BBBB", 0, 0, 8, len(dims)) + b"".join(struct.pack(">I", d) for d in dims) + bytes(data)


images = idx([2, 3, 3], range(18))
write("idx", "images-idx3-ubyte", images)
write("idx", "images-idx3-ubyte.gz", gzip.compress(images, mtime=0))
write("idx", "labels-idx1-ubyte", idx([4], [1, 0, 9, 3]))

record = bytes([3]) + bytes((i * 7) % 256 for i in range(3072))
write("cifar", "one_record.bin", record)
