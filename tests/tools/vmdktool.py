#!/usr/bin/env python3
"""Damage and inspect VMDK files for ferry's bad-input tests.

Works from the published layout of hosted sparse (KDMV) files, independent
of ferry's own reader, so a test can point at exactly the field it breaks.

  vmdktool.py get FILE OFFSET FMT            print a struct field
  vmdktool.py set FILE OFFSET FMT VALUE      overwrite a struct field
  vmdktool.py gte FILE INDEX [rgd]           byte offset of grain table entry
                                             INDEX (through the primary or
                                             the redundant grain directory)
  vmdktool.py gd FILE [rgd]                  byte offset of the grain directory
  vmdktool.py first-marker FILE              offset of the first grain marker
                                             of a streamOptimized file
  vmdktool.py recompress FILE OFFSET NBYTES  replace the grain at marker
                                             OFFSET by zlib data inflating to
                                             NBYTES bytes
  vmdktool.py replace FILE OLD NEW           replace text of the same length
"""
import struct
import sys
import zlib


def header(f):
    f.seek(0)
    h = f.read(512)
    if h[:4] != b"KDMV":
        sys.exit("not a KDMV file")
    (version, flags, capacity, gran, desc_off, desc_size, gtes, rgd, gd,
     overhead) = struct.unpack_from("<IIQQQQIQQQ", h, 4)
    return dict(flags=flags, capacity=capacity, gran=gran, gtes=gtes,
                rgd=rgd, gd=gd, overhead=overhead)


def main(argv):
    cmd, path = argv[1], argv[2]
    with open(path, "r+b") as f:
        if cmd == "get":
            off, fmt = int(argv[3], 0), argv[4]
            f.seek(off)
            print(struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0])
        elif cmd == "set":
            off, fmt, val = int(argv[3], 0), argv[4], int(argv[5], 0)
            f.seek(off)
            f.write(struct.pack(fmt, val))
        elif cmd in ("gte", "gd"):
            h = header(f)
            use_rgd = argv[-1] == "rgd"
            gd = (h["rgd"] if use_rgd else h["gd"]) * 512
            if cmd == "gd":
                print(gd)
                return
            idx = int(argv[3], 0)
            f.seek(gd + (idx // h["gtes"]) * 4)
            gt = struct.unpack("<I", f.read(4))[0] * 512
            print(gt + (idx % h["gtes"]) * 4)
        elif cmd == "first-marker":
            h = header(f)
            pos = h["overhead"] * 512
            while True:
                f.seek(pos)
                lba, size, typ = struct.unpack("<QII", f.read(16))
                if size:
                    print(pos)
                    return
                if typ == 0:
                    sys.exit("no grain marker")
                pos += 512 + lba * 512
        elif cmd == "recompress":
            off, n = int(argv[3], 0), int(argv[4], 0)
            data = zlib.compress(b"\x5a" * n)
            f.seek(off + 8)
            f.write(struct.pack("<I", len(data)) + data)
        elif cmd == "replace":
            old, new = argv[3].encode(), argv[4].encode()
            if len(old) != len(new):
                sys.exit("replace: lengths differ")
            f.seek(0)
            blob = f.read(1 << 20)
            i = blob.find(old)
            if i < 0:
                sys.exit("replace: text not found")
            f.seek(i)
            f.write(new)
        else:
            sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
