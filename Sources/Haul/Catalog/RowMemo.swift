import Foundation

/// What the mapping makes of the strings a reader's rows repeat, for the last string of each (the rows
/// of an observation share them, and ``SharedStrings`` gives the same string for the same bytes):
/// whether a mission is JWST, a subgroup's suffix and guide-star mark, whether a group names the
/// recommended set, an access right; and the rows' ``Product/Common``s. One reader's, on one thread.
final class RowMemo {
    let commons = Product.CommonTable()
    // Each string is kept with what was made of it, so that its storage is never another string's
    // while it is compared by its words.
    private var mission: (text: String?, jwst: Bool?)?
    private var subgroup: (text: String?, suffix: String?, guideStar: Bool)?
    private var group: (text: String, recommended: Bool)?
    private var access: (text: String, access: Product.Access?)?

    /// ``CAOMFields/missionIsJWST(_:)``.
    func missionIsJWST(_ text: String?) -> Bool? {
        if let mission, Self.same(mission.text, text) { return mission.jwst }
        let jwst = CAOMFields.missionIsJWST(text)
        mission = (text, jwst)
        return jwst
    }

    /// ``Product/normaliseSuffix(_:)`` and ``CAOMFields/subgroupGuideStar(_:)``.
    func subgroup(_ text: String?) -> (suffix: String?, guideStar: Bool) {
        if let subgroup, Self.same(subgroup.text, text) { return (subgroup.suffix, subgroup.guideStar) }
        let made = (Product.normaliseSuffix(text), CAOMFields.subgroupGuideStar(text))
        subgroup = (text, made.0, made.1)
        return made
    }

    /// ``Product/namesRecommendedSet(_:)``.
    func recommended(_ text: String) -> Bool {
        if let group, group.text.words == text.words { return group.recommended }
        let recommended = Product.namesRecommendedSet(text)
        group = (text, recommended)
        return recommended
    }

    /// ``Product/Access/init(parsing:)``.
    func access(_ text: String) -> Product.Access? {
        if let access, access.text.words == text.words { return access.access }
        let parsed = Product.Access(parsing: text)
        access = (text, parsed)
        return parsed
    }

    /// Whether two strings are one (both none, or held in the same words).
    private static func same(_ a: String?, _ b: String?) -> Bool {
        switch (a, b) {
        case (nil, nil): return true
        case let (a?, b?): return a.words == b.words
        default: return false
        }
    }
}
