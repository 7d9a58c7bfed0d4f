// Astropy tables of product rows: what astroquery's `Observations.get_product_list` returns (CAOM
// rows; `MastMissions.get_product_list` gives missions-search rows), saved with `Table.write` as CSV,
// ECSV, VOTable or FITS. Each format's reader finds the column names and, row by row, typed cells (a
// masked value is `.null`); ``TableColumns`` hands them to the very mapping a JSON row of the same kind
// takes (``Catalog/caomProduct(_:)``, ``Catalog/missionsProduct(_:)``), so a table gives the products,
// selections and totals of the JSON it was made from. Columns may come in any order; columns that are
// no field of the kind are skipped.
