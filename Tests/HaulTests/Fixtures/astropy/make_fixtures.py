#!/usr/bin/env python3
"""Writes the astropy-table fixtures of the catalog tests from the CAOM JSON fixture.

Builds the product table the way astroquery's `Observations.get_product_list` does
(`_mashup_json_to_table` in astroquery/mast: one MaskedColumn a field of the service's
"fields", in their order; strings with "" masked, whole numbers as int64 with nulls masked)
and saves it the ways a user does:

    t.write('jwst-program.csv')                                        # ascii.csv
    t.write('jwst-program.ecsv')                                       # ECSV
    t.write('jwst-program.xml', format='votable')                      # VOTable TABLEDATA
    t.write('jwst-program-binary2.xml', format='votable', tabledata_format='binary2')
    t.write('jwst-program.fits')                                       # FITS BINTABLE

Two columns a user typically adds are appended (`size_mb`, a float, and `keep`, a boolean with
one masked value) so the readers meet the types astropy writes for them (FITS `D` and `L`), and
the FITS file carries `calib_level` as int32 (FITS `J`), as numpy's default integer on Windows
makes it. The readers ignore columns they do not map.

Needs astropy (pip install astropy); the tests do not: its outputs are committed.

    python3 Tests/HaulTests/Fixtures/astropy/make_fixtures.py
"""
import json
import os

import numpy as np
from astropy.table import MaskedColumn, Table

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, os.pardir, "jwst-program.caom.json")

# astroquery's `_parse_type`: the numpy type and the value that stands for null.
TYPES = {
    "string": (str, ""), "char": (str, ""), "date": (str, ""), "datetime": (str, ""),
    "int": (np.int64, -999), "short": (np.int64, -999), "long": (np.int64, -999),
    "double": (np.float64, np.nan), "float": (np.float64, np.nan),
    "boolean": (bool, None),
}


def product_table(document):
    table = Table(masked=True)
    for field in document["fields"]:
        name = field["name"]
        if name == "_selected_":
            continue
        kind, ignore = TYPES.get(field["type"].lower(), (str, ""))
        values = np.array([row.get(name, ignore) for row in document["data"]], dtype=object)
        if ignore is not None:
            values[np.equal(values, None)] = ignore
        mask = (values == ignore) if kind is str else np.equal(values, ignore)
        table.add_column(MaskedColumn(values.astype(kind), name=name, mask=mask))
    return table


def main():
    with open(SOURCE, encoding="utf-8") as f:
        document = json.load(f)
    table = product_table(document)
    size = table["size"]
    table["size_mb"] = MaskedColumn(np.asarray(size.filled(0), dtype=np.float64) / 1e6, mask=size.mask)
    keep = np.array([i % 3 != 0 for i in range(len(table))])
    keep_mask = np.zeros(len(table), dtype=bool)
    keep_mask[1] = True
    table["keep"] = MaskedColumn(keep, mask=keep_mask)

    out = lambda name: os.path.join(HERE, name)
    table.write(out("jwst-program.csv"), format="ascii.csv", overwrite=True)
    table.write(out("jwst-program.ecsv"), format="ascii.ecsv", overwrite=True)
    table.write(out("jwst-program.xml"), format="votable", overwrite=True)
    # Python strings (dtype object), as a table built or edited row by row holds them: VOTable writes
    # such a column as a variable-length array (`arraysize="*"`).
    binary2 = table.copy()
    for name in ("dataURI", "productFilename", "productSubGroupDescription"):
        binary2[name] = MaskedColumn(np.array(list(table[name].filled("")), dtype=object), mask=table[name].mask)
    binary2.write(out("jwst-program-binary2.xml"), format="votable", tabledata_format="binary2", overwrite=True)

    fits = table.copy()
    fits["calib_level"] = MaskedColumn(np.asarray(table["calib_level"].filled(-999), dtype=np.int32),
                                       mask=table["calib_level"].mask)
    fits.write(out("jwst-program.fits"), format="fits", overwrite=True)


if __name__ == "__main__":
    main()
