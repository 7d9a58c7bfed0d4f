/// Which products of a catalog to download: the overlay's selectors.
///
/// The selection is the quick set plus every checked box. This release implements the quick sets;
/// levels, suffixes, guide stars, pipeline inputs and the regular expression slot in as further
/// predicates of ``includes(_:)``.
public struct Selection: Sendable, Hashable {
    /// The overlay's quick selections.
    public enum Quick: String, Sendable, Hashable, CaseIterable {
        /// Every product except JWST guide-star files.
        case all
        /// Nothing (only what checked boxes add).
        case none
        /// The minimum set the archive recommends for science.
        case recommended
    }

    public var quick: Quick

    public init(quick: Quick = .all) {
        self.quick = quick
    }

    /// Whether the selectors pick this product (access is decided later, by the plan).
    public func includes(_ product: Product) -> Bool {
        switch quick {
        case .all: return !product.guideStar
        case .none: return false
        case .recommended: return product.recommended && !product.guideStar
        }
    }

    /// The selected products, in catalog order.
    public func apply(to products: [Product]) -> [Product] {
        products.filter(includes)
    }
}
