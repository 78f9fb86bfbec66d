#!/usr/bin/env python3
"""Independent implementation of ferry's disk checksum, for tests.

digest = SHA-256(SHA-256(block_0) || ... || SHA-256(block_n-1) || le64(size))
where the blocks are consecutive 1 MiB pieces of a raw image (the last one
may be shorter).  Reads a raw image (e.g. made by qemu-img convert -O raw).
"""
import hashlib
import os
import struct
import sys

LEAF = 1 << 20

def tree(path):
    size = os.path.getsize(path)
    root = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(LEAF)
            if not block:
                break
            root.update(hashlib.sha256(block).digest())
    root.update(struct.pack("<Q", size))
    return "sha256-tree:" + root.hexdigest()

if __name__ == "__main__":
    for p in sys.argv[1:]:
        print(f"{tree(p)}  {p}")
