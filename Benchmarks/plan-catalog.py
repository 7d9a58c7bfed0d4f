#!/usr/bin/env python3
"""Writes a big product list for `haul plan` in the overlay's CSV export form (Dataset, Filename,
Product Level, Suffix, Instrument, Filter / Grating, URI, Size, Access), split over several files,
with many duplicate URIs (the same product listed again in another file, as association pools and
overlapping queries do). Independent of haul's own sample catalog: its own names, sizes and seed.

    Benchmarks/plan-catalog.py OUT_PREFIX ROWS FILES [DUPLICATE_FRACTION] [SEED]

writes OUT_PREFIX-1.csv … OUT_PREFIX-FILES.csv and prints the unique URI count, their bytes and the
largest size as JSON. Sizes are TESS-like: mostly 2 MB cutouts to 34 MB full-frame images, a few
large outliers up to 2 GB.
"""
import json
import random
import sys

prefix, rows, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
duplicate_fraction = float(sys.argv[4]) if len(sys.argv) > 4 else 0.3
rng = random.Random(int(sys.argv[5]) if len(sys.argv) > 5 else 2021)
unique = int(rows * (1 - duplicate_fraction))
header = "Dataset,Filename,Product Level,Suffix,Instrument,Filter / Grating,URI,Size,Access\r\n"


def size_of(i):
    r = (i * 2654435761) % 1000
    if r < 2:
        return 500_000_000 + (i * 7919) % 1_500_000_000
    if r < 600:
        return 34_560_000 + (i % 1000)
    return 2_000_000 + (i * 104729) % 8_000_000


total = 0
largest = 0
for i in range(unique):
    s = size_of(i)
    total += s
    largest = max(largest, s)
per_file = (rows + files - 1) // files
written = 0
for f in range(files):
    count = min(per_file, rows - written)
    with open(f"{prefix}-{f + 1}.csv", "w", newline="") as out:
        out.write(header)
        lines = []
        for k in range(count):
            n = written + k
            # The first `unique` rows are each product once; the rest list earlier ones again.
            i = n if n < unique else rng.randrange(unique)
            sector = i // 20000
            camera = (i // 5000) % 4 + 1
            lines.append(f"tess-s{sector:04d}-{camera},tess{sector:04d}{i:09d}-s{sector:04d}-{camera}-{i % 4 + 1}_ffic.fits,"
                         f"1,_ffic,TESS,TESS,mast:TESS/product/tess{sector:04d}{i:09d}-s{sector:04d}-{camera}-{i % 4 + 1}_ffic.fits,"
                         f"{size_of(i)},PUBLIC\r\n")
            if len(lines) >= 100_000:
                out.write("".join(lines))
                lines = []
        out.write("".join(lines))
    written += count
print(json.dumps({"rows": rows, "files": files, "unique": unique, "bytes": total, "largest": largest}))
