import Foundation

/// A MAST CAOM product list shaped like the archive's: JWST NIRCam and HST WFC3 observations with real
/// naming patterns, levels and suffixes, association pools shared by several observations (so the same
/// URI appears more than once), guide-star files, and exclusive-access rows. Deterministic for a seed.
///
/// Sizes are scaled down (kilobytes to a few megabytes) so the demo and tests run in seconds.
public struct SampleCatalog: Sendable {
    /// One row of the list, as `Mast.Caom.Products` returns it.
    public struct Row: Sendable, Hashable {
        public var obsID: String
        public var obsCollection: String
        public var obsId: String
        public var dataURI: String
        public var productFilename: String
        public var productType: String
        public var productGroupDescription: String?
        public var productSubGroupDescription: String?
        public var calibLevel: Int?
        public var size: Int64
        public var dataRights: String
        public var description: String
        public var project: String
        public var instrument: String
        public var filters: String
    }

    public var rows: [Row]

    /// Builds the catalog.
    /// - Parameters:
    ///   - jwstObservations: NIRCam observations, each with 4 detector exposures and their products.
    ///   - hstObservations: WFC3/IR associations, each with 4 exposures.
    ///   - scale: Multiplies every size (1 gives 10 KB–3 MB files).
    public init(jwstObservations: Int = 10, hstObservations: Int = 30, scale: Double = 1, seed: UInt64 = 2736) {
        var random = SplitMix64(seed: seed)
        func size(_ low: Int64, _ high: Int64) -> Int64 {
            let span = UInt64(max(1, high - low))
            return max(1, Int64(Double(low + Int64(random.next() % span)) * scale))
        }
        var rows: [Row] = []
        let filters = ["F090W", "F150W", "F200W", "F277W", "F356W", "F444W"]
        for o in 0..<jwstObservations {
            let program = o < jwstObservations - 1 ? "02736" : "04567"
            let rights = program == "02736" ? "PUBLIC" : "EXCLUSIVE_ACCESS"
            let observation = String(format: "%03d", o + 1)
            let filter = filters[o % filters.count]
            let level3 = "jw\(program)-o\(observation)_t001_nircam_clear-\(filter.lowercased())"
            let pool = "jw\(program)-o\(observation)_20220627t1624\(10 + o)_image3_00001_asn.json"
            let parent = String(87_600_000 + o * 100)
            func row(_ obsID: String, _ obsId: String, _ file: String, _ type: String, _ sub: String?, _ level: Int?,
                     _ recommended: Bool, _ bytes: Int64, _ description: String) -> Row {
                Row(
                    obsID: obsID, obsCollection: "JWST", obsId: obsId,
                    dataURI: "mast:JWST/product/\(file)", productFilename: file, productType: type,
                    productGroupDescription: recommended ? "Minimum Recommended Products" : nil,
                    productSubGroupDescription: sub, calibLevel: level, size: bytes, dataRights: rights,
                    description: description, project: "CALJWST", instrument: "NIRCAM/IMAGE", filters: "CLEAR;\(filter)"
                )
            }
            rows.append(row(parent, level3, "\(level3)_i2d.fits", "SCIENCE", "I2D", 3, true, size(1_500_000, 3_000_000), "Rectified 2D image"))
            rows.append(row(parent, level3, "\(level3)_segm.fits", "SCIENCE", "SEGM", 3, false, size(400_000, 900_000), "Segmentation map"))
            rows.append(row(parent, level3, "\(level3)_cat.ecsv", "SCIENCE", "CAT", 3, true, size(20_000, 90_000), "Source catalog"))
            rows.append(row(parent, level3, pool, "INFO", "ASN", 3, false, size(3_000, 8_000), "Association pool"))
            for e in 0..<4 {
                let exposure = "jw\(program)\(observation)001_02101_0000\(e + 1)_nrca\(e + 1)"
                let child = String(Int(parent)! + e + 1)
                rows.append(row(child, exposure, "\(exposure)_uncal.fits", "SCIENCE", "UNCAL", 1, false, size(600_000, 1_200_000), "Uncalibrated exposure"))
                rows.append(row(child, exposure, "\(exposure)_rate.fits", "SCIENCE", "RATE", 2, false, size(400_000, 800_000), "Countrate image"))
                rows.append(row(child, exposure, "\(exposure)_cal.fits", "SCIENCE", "CAL", 2, true, size(500_000, 1_000_000), "Calibrated exposure"))
                rows.append(row(child, exposure, "\(exposure)_i2d.fits", "SCIENCE", "I2D", 2, false, size(500_000, 1_000_000), "Resampled exposure"))
                // The observation's association pool is listed with every exposure: the same URI again.
                rows.append(row(child, exposure, pool, "INFO", "ASN", 2, false, rows.last { $0.productFilename == pool }!.size, "Association pool"))
                // Guide-star data at two levels: --guidestar takes only the calibrated one.
                let gs = "jw\(program)\(observation)001_gs-fg_2022157141\(256 + e)"
                rows.append(row(child, exposure, gs + "_uncal.fits", "AUXILIARY", "GS-FG", 1, false, size(20_000, 60_000), "Guide star fine guiding, uncalibrated"))
                rows.append(row(child, exposure, gs + "_cal.fits", "AUXILIARY", "GS-FG", 2, false, size(10_000, 40_000), "Guide star fine guiding"))
            }
        }
        let hstPrefixes = ["ib2u", "icdm", "iepo", "idn1"]
        for o in 0..<hstObservations {
            let prefix = hstPrefixes[o % hstPrefixes.count]
            let visit = String(format: "%02d", o % 100 + 1)
            let association = "\(prefix)\(visit)010"
            let parent = String(24_000_000 + o * 10)
            func row(_ file: String, _ type: String, _ sub: String, _ level: Int, _ recommended: Bool, _ bytes: Int64, _ description: String) -> Row {
                Row(
                    obsID: parent, obsCollection: "HST", obsId: association,
                    dataURI: "mast:HST/product/\(file)", productFilename: file, productType: type,
                    productGroupDescription: recommended ? "Minimum Recommended Products" : nil,
                    productSubGroupDescription: sub, calibLevel: level, size: bytes, dataRights: "PUBLIC",
                    description: description, project: "CALWF3", instrument: "WFC3/IR", filters: "F160W"
                )
            }
            rows.append(row("\(association)_drz.fits", "SCIENCE", "DRZ", 3, true, size(1_000_000, 2_500_000), "Drizzled image"))
            rows.append(row("\(association)_asn.fits", "AUXILIARY", "ASN", 1, false, size(10_000, 12_000), "Association table"))
            for e in 0..<4 {
                let exposure = "\(prefix)\(visit)\(["a1q", "a2q", "a3q", "a4q"][e])"
                rows.append(row("\(exposure)_flt.fits", "SCIENCE", "FLT", 2, true, size(800_000, 1_600_000), "Calibrated exposure"))
                rows.append(row("\(exposure)_raw.fits", "SCIENCE", "RAW", 1, false, size(500_000, 1_000_000), "Raw exposure"))
                rows.append(row("\(exposure)_spt.fits", "AUXILIARY", "SPT", 1, false, size(20_000, 40_000), "Support file"))
            }
        }
        self.rows = rows
    }

    /// The list as `Mast.Caom.Products` JSON: `{"fields": […], "data": […], "status": "COMPLETE"}`.
    public func caomJSON() -> Data {
        let names = ["obsID", "obs_collection", "dataproduct_type", "obs_id", "description", "type", "dataURI",
                     "productType", "productGroupDescription", "productSubGroupDescription", "productDocumentationURL",
                     "project", "prvversion", "proposal_id", "productFilename", "size", "parent_obsid", "dataRights",
                     "calib_level", "instrument_name", "filters"]
        let fields: [[String: Any]] = names.map { ["name": $0, "type": $0 == "size" || $0 == "calib_level" ? "int" : "string"] }
        let data: [[String: Any]] = rows.map { r in
            [
                "obsID": r.obsID, "obs_collection": r.obsCollection, "dataproduct_type": "image", "obs_id": r.obsId,
                "description": r.description, "type": "S", "dataURI": r.dataURI, "productType": r.productType,
                "productGroupDescription": r.productGroupDescription ?? NSNull(),
                "productSubGroupDescription": r.productSubGroupDescription ?? NSNull(),
                "productDocumentationURL": "", "project": r.project, "prvversion": NSNull(),
                "proposal_id": String(r.dataURI.dropFirst(r.dataURI.hasPrefix("mast:JWST") ? 20 : 0).prefix(5)),
                "productFilename": r.productFilename, "size": r.size, "parent_obsid": r.obsID,
                "dataRights": r.dataRights, "calib_level": r.calibLevel.map { $0 as Any } ?? NSNull(),
                "instrument_name": r.instrument, "filters": r.filters,
            ]
        }
        let object: [String: Any] = ["fields": fields, "data": data, "status": "COMPLETE", "msg": "", "paging": ["page": 1, "pageSize": data.count, "rows": data.count]]
        return (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data()
    }

    /// Registers every product with the archive and writes the list to `path` as CAOM JSON: what the
    /// demo, the tests and the benchmarks need to point Haul at the archive.
    ///
    /// - Throws: What writing the file throws.
    public func install(in archive: TestArchive, catalogAt path: String) throws {
        register(in: archive)
        try caomJSON().write(to: URL(fileURLWithPath: path))
    }

    /// The MAST token the demo's loopback archive accepts for its exclusive-access files (a demo's,
    /// valid nowhere else), and the user it signs in as.
    public static let demoToken = "haul-demo-token-0123456789abcdef"
    public static let demoUser = "Demo Astronomer"

    /// Registers every product with the archive, exclusive-access ones as needing a token, and the
    /// demo's token (``demoToken``).
    public func register(in archive: TestArchive) {
        for r in rows {
            archive.add(uri: r.dataURI, size: r.size, access: r.dataRights == "PUBLIC" ? .public : .exclusive)
        }
        archive.addToken(Self.demoToken, user: Self.demoUser)
    }
}
