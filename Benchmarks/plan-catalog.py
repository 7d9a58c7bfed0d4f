#!/usr/bin/env python3
"""Writes a big product list for `haul plan` as MAST's CAOM product list JSON (compact, as the service
sends it: `{"fields": […], "data": [{…}, …]}`), or with --csv in the overlay's CSV export form (Dataset,
Filename, Product Level, Suffix, Instrument, Filter / Grating, URI, Size, Access), split over several files,
with many duplicate URIs (the same product listed again in another file, as association pools and
overlapping queries do). Independent of haul's own sample catalog: its own names, sizes and seed.

    Benchmarks/plan-catalog.py [--csv] OUT_PREFIX ROWS FILES [DUPLICATE_FRACTION] [SEED]

writes OUT_PREFIX-1.json … OUT_PREFIX-FILES.json (or .csv) and prints the unique URI count, their bytes and the
largest size as JSON. Sizes are TESS-like: mostly 2 MB cutouts to 34 MB full-frame images, a few
large outliers up to 2 GB.
"""
import json
import random
import sys

arguments = sys.argv[1:]
csv = "--csv" in arguments
arguments = [a for a in arguments if a != "--csv"]
prefix, rows, files = arguments[0], int(arguments[1]), int(arguments[2])
duplicate_fraction = float(arguments[3]) if len(arguments) > 3 else 0.3
rng = random.Random(int(arguments[4]) if len(arguments) > 4 else 2021)
unique = int(rows * (1 - duplicate_fraction))
header = "Dataset,Filename,Product Level,Suffix,Instrument,Filter / Grating,URI,Size,Access\r\n"
json_header = ('{"status":"COMPLETE","fields":[' + ",".join(
    f'{{"name":"{n}","type":"{"int" if n in ("size", "calib_level") else "string"}"}}'
    for n in ["obs_id", "obs_collection", "dataURI", "productFilename", "productType", "productSubGroupDescription",
              "calib_level", "size", "dataRights", "instrument_name", "filters"]) + '],"data":[')


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
    with open(f"{prefix}-{f + 1}.{'csv' if csv else 'json'}", "w", newline="") as out:
        out.write(header if csv else json_header)
        lines = []
        for k in range(count):
            n = written + k
            # The first `unique` rows are each product once; the rest list earlier ones again.
            i = n if n < unique else rng.randrange(unique)
            sector = i // 20000
            camera = (i // 5000) % 4 + 1
            name = f"tess{sector:04d}{i:09d}-s{sector:04d}-{camera}-{i % 4 + 1}_ffic.fits"
            if csv:
                lines.append(f"tess-s{sector:04d}-{camera},{name},1,_ffic,TESS,TESS,mast:TESS/product/{name},{size_of(i)},PUBLIC\r\n")
            else:
                lines.append(('' if k == 0 else ',') +
                             f'{{"obs_id":"tess-s{sector:04d}-{camera}","obs_collection":"TESS","dataURI":"mast:TESS/product/{name}",'
                             f'"productFilename":"{name}","productType":"SCIENCE","productSubGroupDescription":"FFIC","calib_level":1,'
                             f'"size":{size_of(i)},"dataRights":"PUBLIC","instrument_name":"Photometer","filters":"TESS"}}')
            if len(lines) >= 100_000:
                out.write("".join(lines))
                lines = []
        out.write("".join(lines))
        if not csv:
            out.write("]}\n")
    written += count
print(json.dumps({"rows": rows, "files": files, "unique": unique, "bytes": total, "largest": largest}))
