#!/usr/bin/env python3
"""Writes the small seed inputs of tests/fuzz/corpus/{npy,idx,cifar,png,
emoji_test,vocab,hdf5} (the safetensors, golden_case and checkpoint seeds are
cudl files: golden cases, and a tiny checkpoint from `cudl train`, see
tests/fuzz/README.md). The hdf5 seeds need h5py (Debian's python3-h5py, run
with /usr/bin/python3)."""
import gzip
import json
import os
import struct
import zlib

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


def png(width, height, colour_type, depth, rows, chunks=()):
    """A PNG of one IDAT: `rows` are the raw scanlines (filter byte included)."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    extra = b"".join(chunk(kind, body) for kind, body in chunks)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + extra + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


# RGB 2x2, grey+alpha 3x1 (composited on the background), 4-colour palette with
# tRNS at 2 bits per pixel and an up-filtered second row, grey 16-bit 1x2.
write("png", "rgb_2x2.png", png(2, 2, 2, 8, b"\0" + bytes(range(6)) + b"\1" + bytes(range(40, 46))))
write("png", "grey_alpha_3x1.png", png(3, 1, 4, 8, b"\0" + bytes([0, 255, 128, 128, 255, 0])))
write("png", "palette_2bit.png", png(4, 2, 3, 2, b"\0\x1b\2\x40",
                                     chunks=[(b"PLTE", bytes(range(12))), (b"tRNS", bytes([255, 0, 128]))]))
write("png", "grey16_1x2.png", png(1, 2, 0, 16, b"\0\x12\x34\0\xff\xff"))

write("emoji_test", "excerpt.txt", """# emoji-test.txt
# Version: 15.0

# group: Smileys & Emotion

# subgroup: face-hat
1F920                                                  ; fully-qualified     # \U0001F920 E3.0 cowboy hat face
263A FE0F                                              ; fully-qualified     # \u263a\ufe0f E0.6 smiling face
263A                                                   ; unqualified         # \u263a E0.6 smiling face
1F469 200D 1F9B0                                       ; fully-qualified     # \U0001F469\u200d\U0001F9B0 E11.0 woman: red hair

# group: Symbols

# subgroup: alphanum
1F201                                                  ; fully-qualified     # \U0001F201 E0.6 Japanese \u201chere\u201d button
#EOF
""".encode())

words = ["<NULL>", "<START>", "<END>", "<UNK>", "a", "cat", "on", "mat"]
write("vocab", "coco_layout.json", json.dumps({"idx_to_word": words, "word_to_idx": {w: i for i, w in enumerate(words)}}).encode())
write("vocab", "idx_to_word_only.json", json.dumps({"idx_to_word": words}).encode())


def hdf5(name, write_datasets):
    """An HDF5 file as h5py writes it (newest format: the smallest files)."""
    import io
    import h5py
    buffer = io.BytesIO()
    with h5py.File(buffer, "w", libver="latest") as f:
        write_datasets(f)
    write("hdf5", name, buffer.getvalue())


def coco_contiguous(f):
    f.create_dataset("train_captions", data=[[1, 4, 5, 2, 0], [1, 5, 6, 7, 2]], dtype="<i4")
    f.create_dataset("train_image_idxs", data=[0, 1], dtype="<i4")
    f.create_dataset("features", data=[[0.5, 1, 2], [3, 4, 5]], dtype="<f4")


def coco_chunked(f):
    """Other storage types, chunked and deflated (the filter pipeline)."""
    f.create_dataset("train_captions", data=[[1, 4, 2], [1, 5, 2]], dtype=">i8", chunks=(1, 3), compression="gzip")
    f.create_dataset("train_image_idxs", data=[0, 0], dtype="<u2", chunks=(2,), shuffle=True, compression="gzip")
    f.create_dataset("features", data=[[0.25, -1]], dtype="<f8", chunks=(1, 2), fletcher32=True)


hdf5("coco_contiguous.h5", coco_contiguous)
hdf5("coco_chunked.h5", coco_chunked)
