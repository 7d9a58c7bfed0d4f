import Foundation

/// The row members the catalog mapping reads: CAOM's and missions search's.
enum RowField: Int, CaseIterable {
    // CAOM.
    case dataURI, productFilename, obsId, obsID, parentObsid, obsCollection, productSubGroupDescription,
         calibLevel, productType, productGroupDescription, dataRights, project, size, instrumentName, filters,
         description, proposalID, dataproductType
    // Missions search (`size`, `instrument_name` and `filters` are shared).
    case uri, filename, dataset, fileSuffix, category, access, type

    /// The member's name in the JSON.
    var key: String {
        switch self {
        case .dataURI: "dataURI"
        case .productFilename: "productFilename"
        case .obsId: "obs_id"
        case .obsID: "obsID"
        case .parentObsid: "parent_obsid"
        case .obsCollection: "obs_collection"
        case .productSubGroupDescription: "productSubGroupDescription"
        case .calibLevel: "calib_level"
        case .productType: "productType"
        case .productGroupDescription: "productGroupDescription"
        case .dataRights: "dataRights"
        case .project: "project"
        case .size: "size"
        case .instrumentName: "instrument_name"
        case .filters: "filters"
        case .description: "description"
        case .proposalID: "proposal_id"
        case .dataproductType: "dataproduct_type"
        case .uri: "uri"
        case .filename: "filename"
        case .dataset: "dataset"
        case .fileSuffix: "file_suffix"
        case .category: "category"
        case .access: "access"
        case .type: "type"
        }
    }

    /// Whether only ``Product/Details`` read it (`--where`): made into a value only when they are kept.
    var isDetail: Bool {
        switch self {
        case .description, .proposalID, .dataproductType: true
        default: false
        }
    }

    /// Whether values repeat across rows, so that sharing one string for them pays (URIs and file
    /// names are unique: looking them up would only cost).
    var repeats: Bool {
        switch self {
        case .dataURI, .productFilename, .uri, .filename: false
        default: true
        }
    }

    static let keys: [[UInt8]] = allCases.map { Array($0.key.utf8) }
}
