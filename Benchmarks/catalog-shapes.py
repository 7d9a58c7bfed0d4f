#!/usr/bin/env python3
"""Million-row CAOM product lists of several shapes, written without `haul sample` (docs/performance.md).

    Benchmarks/catalog-shapes.py FOLDER [--rows N] [--shape NAME]...

Writes FOLDER/NAME.json (or .csv) and FOLDER/NAME.expect.json for each shape: the rows' count, their
distinct URIs and the bytes those state, worked out here from the values written, so a benchmark can
check what haul read without trusting haul. The rows are made from a seeded generator: the same
arguments write the same bytes.

Shapes (every one N rows, 1,000,000 by default; 21 CAOM columns as MAST's service sends them):

    obs10       100,000 observations of 10 products; compact JSON, one row a line, CAOM column order
    obs100      10,000 observations of 100 products (few large observations)
    obs1        1,000,000 observations of 1 product (many small ones)
    pretty      obs10 pretty-printed (indent 2, a member a line), as json.dump(indent=2) writes it
    shuffled    obs10 with the columns in one shuffled order, the same in every row
    jumbled     obs10 with the columns in a different shuffled order in every row
    long-desc   obs10 with descriptions of 200 to 1,000 bytes, most of them different
    unicode     obs10 with non-ASCII names and strings, escaped (\\u00e9, \\", \\\\, \\/) and raw UTF-8
    nulls       obs10 with nulls in the optional columns, and numbers as ints, floats and exponents
    csv         obs10 as an astropy CSV table (`Table.write('p.csv')`), the same 21 columns

This file shares no code with `haul sample` (Swift): only the CAOM column names are common to both.
"""

import argparse
import json
import os
import random
import sys

CAOM_COLUMNS = [
    "obsID", "obs_collection", "dataproduct_type", "obs_id", "description", "type", "dataURI", "productType",
    "productGroupDescription", "productSubGroupDescription", "productDocumentationURL", "project", "prvversion",
    "proposal_id", "productFilename", "size", "parent_obsid", "dataRights", "calib_level", "filters",
    "instrument_name",
]
TYPES = {"obsID": "string", "size": "int", "calib_level": "int", "parent_obsid": "string"}

JWST_SUFFIXES = [("uncal", 1, "SCIENCE"), ("rate", 2, "SCIENCE"), ("rateints", 2, "SCIENCE"), ("cal", 2, "SCIENCE"),
                 ("calints", 2, "SCIENCE"), ("i2d", 3, "SCIENCE"), ("x1d", 2, "SCIENCE"), ("s2d", 2, "SCIENCE"),
                 ("asn", 3, "INFO"), ("pool", 3, "INFO"), ("trapsfilled", 2, "AUXILIARY"), ("gs-fg_cal", 2, "AUXILIARY")]
HST_SUFFIXES = [("raw", 1, "SCIENCE"), ("flt", 2, "SCIENCE"), ("flc", 2, "SCIENCE"), ("drz", 3, "SCIENCE"),
                ("drc", 3, "SCIENCE"), ("spt", 1, "AUXILIARY"), ("jif", 1, "AUXILIARY"), ("asn", 1, "INFO"),
                ("trl", 2, "AUXILIARY"), ("x1d", 2, "SCIENCE")]
JWST_INSTRUMENTS = [("NIRCAM/IMAGE", "F090W;CLEAR"), ("NIRSPEC/IFU", "G395H;F290LP"), ("MIRI/IMAGE", "F770W"),
                    ("NIRISS/SOSS", "CLEAR;GR700XD")]
HST_INSTRUMENTS = [("WFC3/UVIS", "F606W"), ("ACS/WFC", "F814W;CLEAR2L"), ("COS/FUV", "G130M"), ("STIS/CCD", "G430L")]
WORDS = ("exposure calibrated uncalibrated association pipeline drizzled combined spectrum image background "
         "source catalog target field guide star flat dark bias wavelength rectified extracted").split()
# Strings of the unicode shape: what the JSON holds (escaped) and what it means (decoded).
UNICODE_NAMES = ["Céline", "Ångström", "naïve", "Łódź", "東京", "Zürich", "Ñandú", "Ωmega"]


def jstr(text, escape_slash=False, ascii_only=False):
    """A JSON string literal; `escape_slash` writes / as \\/ (as PHP's encoder does)."""
    out = json.dumps(text, ensure_ascii=ascii_only)
    return out.replace("/", "\\/") if escape_slash else out


class Shape:
    def __init__(self, name, per_obs, layout="compact", order="caom", desc="short", unicode=False, nulls=False,
                 form="json"):
        self.name, self.per_obs, self.layout, self.order = name, per_obs, layout, order
        self.desc, self.unicode, self.nulls, self.form = desc, unicode, nulls, form


SHAPES = {
    "obs10": Shape("obs10", 10),
    "obs100": Shape("obs100", 100),
    "obs1": Shape("obs1", 1),
    "pretty": Shape("pretty", 10, layout="pretty"),
    "shuffled": Shape("shuffled", 10, order="shuffled"),
    "jumbled": Shape("jumbled", 10, order="jumbled"),
    "long-desc": Shape("long-desc", 10, desc="long"),
    "unicode": Shape("unicode", 10, unicode=True),
    "nulls": Shape("nulls", 10, nulls=True),
    "csv": Shape("csv", 10, form="csv"),
}


def rows(shape, count, rng):
    """(values, literals) per row: the decoded values (for the expectations and CSV) and each
    column's JSON text."""
    obs = 0
    row = 0
    while row < count:
        jwst = obs % 3 != 2
        proposal = 1000 + obs % 4000
        n = min(shape.per_obs, count - row)
        if jwst:
            instrument, filters = JWST_INSTRUMENTS[obs % len(JWST_INSTRUMENTS)]
            obs_id = f"jw{proposal:05d}-o{obs:06d}_t{obs % 97:03d}_{instrument.split('/')[0].lower()}_{filters.split(';')[0].lower()}"
        else:
            instrument, filters = HST_INSTRUMENTS[obs % len(HST_INSTRUMENTS)]
            obs_id = f"i{obs % 46656:04x}{obs // 46656:02d}{obs % 7}q"
        if shape.unicode and obs % 4 == 0:
            obs_id = f"{obs_id}_{UNICODE_NAMES[obs % len(UNICODE_NAMES)]}"
        obs_number = 90_000_000 + obs
        collection = "JWST" if jwst else "HST"
        for k in range(n):
            suffixes = JWST_SUFFIXES if jwst else HST_SUFFIXES
            suffix, level, ptype = suffixes[(k + obs) % len(suffixes)]
            if jwst:
                stem = f"jw{proposal:05d}{obs:06d}001_{k // len(suffixes) + 1:02d}101_{k:05d}_{instrument.split('/')[0].lower()}"
            else:
                stem = f"{obs_id[:9]}{k:03d}" if not shape.unicode else f"{obs_id}{k:03d}"
            filename = f"{stem}_{suffix}.fits" if suffix not in ("asn", "pool") else f"{stem}_{suffix}.json"
            if shape.unicode and k % 3 == 0:
                filename = f"{UNICODE_NAMES[(obs + k) % len(UNICODE_NAMES)]}_{stem}_{suffix}.fits"
            uri = f"mast:{collection}/product/{filename}"
            # One row in 500 repeats the URI of the row before it (MAST lists some products twice).
            if row % 500 == 499 and k > 0:
                uri, filename = last_uri, last_filename
            size = 2880 * (1 + (row * 7919) % 40000)
            description = rng.choice(WORDS) + " " + rng.choice(WORDS)
            if shape.desc == "long":
                length = rng.randrange(200, 1000)
                words = []
                while sum(len(w) + 1 for w in words) < length:
                    words.append(rng.choice(WORDS))
                description = " ".join(words) + f" (exposure {row})"
            if shape.unicode:
                description = f"{description} by {UNICODE_NAMES[row % len(UNICODE_NAMES)]}: \"quoted\" \\ back/slash"
            values = {
                "obsID": str(obs_number), "obs_collection": collection, "dataproduct_type": "image" if k % 2 else "spectrum",
                "obs_id": obs_id, "description": description, "type": "S" if k % 5 else "C", "dataURI": uri,
                "productType": ptype, "productGroupDescription": "Minimum Recommended Products" if level >= 2 else None,
                "productSubGroupDescription": suffix.upper() if k % 4 else None,
                "productDocumentationURL": "https://jwst-docs.stsci.edu/" if jwst else "",
                "project": "CALJWST" if jwst else ("HASP" if obs % 50 == 0 else "CALWF3"), "prvversion": f"1.{obs % 14}.{k % 3}",
                "proposal_id": str(proposal), "productFilename": filename, "size": size, "parent_obsid": str(obs_number),
                "dataRights": "EXCLUSIVE_ACCESS" if row % 97 == 0 else "PUBLIC", "calib_level": level,
                "filters": filters, "instrument_name": instrument,
            }
            literals = {}
            for key, value in values.items():
                if value is None:
                    literals[key] = "null"
                elif isinstance(value, int):
                    literals[key] = str(value)
                else:
                    literals[key] = jstr(value)
            if shape.unicode:
                # Escaped forms: \/ in URIs, \u00e9 for non-ASCII (every other row), raw UTF-8 otherwise.
                for key in ("dataURI", "productFilename", "obs_id", "description", "filters", "instrument_name"):
                    literals[key] = jstr(values[key], escape_slash=key == "dataURI", ascii_only=row % 2 == 0)
            if shape.nulls:
                for key in ("productGroupDescription", "productSubGroupDescription", "description", "project",
                            "proposal_id", "filters", "instrument_name", "prvversion", "productDocumentationURL",
                            "dataproduct_type", "type", "productFilename"):
                    if rng.random() < 0.2 and not (key == "productFilename" and uri.endswith("/")):
                        values[key] = None
                        literals[key] = "null"
                if rng.random() < 0.1:
                    values["size"] = None
                    literals["size"] = "null"
                else:
                    # Exact decimal forms of a whole number: 2880.0, 2880E0, 2.880e3, 2.880e+3.
                    digits = str(size)
                    literals["size"] = [digits, f"{digits}.0", f"{digits}E0", f"{digits[0]}.{digits[1:]}e+{len(digits) - 1}"][row % 4]
                literals["calib_level"] = [str(level), f"{level}.0", f"\"{level}\"", "null"][row % 4]
                values["calib_level"] = None if row % 4 == 3 else level
                literals["obsID"] = str(obs_number) if row % 2 else jstr(str(obs_number))
            yield values, literals
            last_uri, last_filename = uri, filename
            row += 1
        obs += 1


def write_json(shape, path, count, rng):
    order = list(CAOM_COLUMNS)
    if shape.order == "shuffled":
        rng.shuffle(order)
    fields = ",".join(json.dumps({"name": c, "datatype": TYPES.get(c, "string")}, separators=(",", ":")) for c in CAOM_COLUMNS)
    uris, total_bytes, n = {}, 0, 0
    with open(path, "w", encoding="utf-8", buffering=1 << 22) as f:
        if shape.layout == "pretty":
            f.write('{\n  "status": "COMPLETE",\n  "msg": "",\n  "fields": [' + fields + '],\n  "data": [')
        else:
            f.write('{"status":"COMPLETE","msg":"","fields":[' + fields + '],"data":[\n')
        first = True
        for values, literals in rows(shape, count, rng):
            if shape.order == "jumbled":
                order = list(CAOM_COLUMNS)
                rng.shuffle(order)
            if shape.layout == "pretty":
                body = ",\n".join(f'      "{k}": {literals[k]}' for k in order)
                f.write(("\n" if first else ",\n") + "    {\n" + body + "\n    }")
            else:
                f.write(("" if first else ",\n") + "{" + ",".join(f'"{k}":{literals[k]}' for k in order) + "}")
            first = False
            n += 1
            if values["dataURI"] not in uris:
                uris[values["dataURI"]] = True
                if values["size"] is not None:
                    total_bytes += values["size"]
        if shape.layout == "pretty":
            f.write('\n  ],\n  "paging": {"page": 1, "pageSize": %d, "rows": %d}\n}\n' % (n, n))
        else:
            f.write('\n],"paging":{"page":1,"pageSize":%d,"rows":%d}}\n' % (n, n))
    return n, len(uris), total_bytes


def write_csv(shape, path, count, rng):
    """An astropy ascii.csv table: a header, then one line a row; a masked value is an empty field."""
    uris, total_bytes, n = {}, 0, 0

    def cell(value):
        if value is None:
            return ""
        text = str(value)
        if any(c in text for c in ',"\n\r') or text != text.strip():
            return '"' + text.replace('"', '""') + '"'
        return text
    with open(path, "w", encoding="utf-8", newline="", buffering=1 << 22) as f:
        f.write(",".join(CAOM_COLUMNS) + "\n")
        for values, _ in rows(shape, count, rng):
            f.write(",".join(cell(values[c]) for c in CAOM_COLUMNS) + "\n")
            n += 1
            if values["dataURI"] not in uris:
                uris[values["dataURI"]] = True
                if values["size"] is not None:
                    total_bytes += values["size"]
    return n, len(uris), total_bytes


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--shape", action="append", choices=list(SHAPES))
    args = parser.parse_args()
    os.makedirs(args.folder, exist_ok=True)
    for name in args.shape or list(SHAPES):
        shape = SHAPES[name]
        rng = random.Random(f"haul-shapes-{name}")
        path = os.path.join(args.folder, name + (".csv" if shape.form == "csv" else ".json"))
        write = write_csv if shape.form == "csv" else write_json
        rows_written, unique, total = write(shape, path + ".tmp", args.rows, rng)
        os.replace(path + ".tmp", path)
        with open(os.path.join(args.folder, name + ".expect.json"), "w") as f:
            json.dump({"rows": rows_written, "total_files": unique, "total_bytes": total, "path": path}, f)
        print(f"{path}: {rows_written:,} rows, {unique:,} URIs, {os.path.getsize(path) / 1e6:,.0f} MB", file=sys.stderr)


if __name__ == "__main__":
    main()
