import Foundation

/// One catalog's ``Product/Details``, each combination of values made once.
final class DetailsTable {
    struct Key: Hashable {
        var description, project, proposalID, dataProductType: String?

        var isEmpty: Bool { description == nil && project == nil && proposalID == nil && dataProductType == nil }
        var details: Product.Details {
            Product.Details(description: description, project: project, proposalID: proposalID, dataProductType: dataProductType)
        }
    }

    private var table: [Key: Product.Details] = [:]
    /// The last one made or found: consecutive rows often share it.
    private var last: (Key, Product.Details)?

    func shared(_ key: Key) -> Product.Details {
        if let last, last.0 == key { return last.1 }
        let details: Product.Details
        if let found = table[key] {
            details = found
        } else {
            details = key.details
            // A catalog whose rows all differ would make the table as big as the catalog: stop sharing.
            if table.count < 65_536 { table[key] = details }
        }
        last = (key, details)
        return details
    }
}
