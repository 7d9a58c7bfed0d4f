import Foundation
import Haul
import HaulArchive
import Testing

/// A name from a hostile catalog and how its row must end: refused with the reason, or kept as it is.
struct HostileName: Sendable {
    var filename: String
    var dataset = "d"
    var status: String
}

/// The decisions of ``SafePath``, end to end: NUL, bidirectional controls, Windows device names and
/// trailing dots are refused, never renamed; 1,000-byte names are kept when every component fits.
let hostileNames: [HostileName] = {
    let unsafe = "FAILED: unsafe path: "
    let bidi = ", which shows the name in another order than it has"
    let long = Array(repeating: String(repeating: "w", count: 199), count: 5).joined(separator: "/")
    return [
        HostileName(filename: "nul\u{0}byte.fits", status: unsafe + "file name contains the control character U+0000"),
        HostileName(filename: "invoice\u{202E}stif.exe", status: unsafe + "file name contains the bidirectional control character U+202E" + bidi),
        HostileName(filename: "mark\u{200F}ed.fits", status: unsafe + "file name contains the bidirectional control character U+200F" + bidi),
        HostileName(filename: "ok.fits", dataset: "obs\u{2066}1", status: unsafe + "dataset contains the bidirectional control character U+2066" + bidi),
        HostileName(filename: "CON.fits", status: unsafe + "file name uses the Windows device name CON, which cannot be a file on Windows"),
        HostileName(filename: "ok.fits", dataset: "lpt1", status: unsafe + "dataset uses the Windows device name LPT1, which cannot be a file on Windows"),
        HostileName(filename: "trailing.", status: unsafe + "file name has a component ending in a dot or a space, which Windows drops"),
        HostileName(filename: String(repeating: "x", count: 995) + ".fits", status: unsafe + "file name has a component of 1000 bytes, longer than the 255 a file system allows"),
        HostileName(filename: "../../escaped.fits", status: unsafe + "file name climbs out of its folder (..)"),
        HostileName(filename: long, status: "OK"),
        HostileName(filename: "Ωmega_ñ_日本_🔭.fits", status: "OK"),
        HostileName(filename: "console.fits", status: "OK"),
        HostileName(filename: "colon:pipe|star*.fits", status: "OK"),
    ]
}()

func hostileProducts(_ archive: TestArchive) -> [Product] {
    hostileNames.enumerated().map { i, h in
        let p = Product(uri: "mast:X/hostile\(i).fits", filename: h.filename, dataset: h.dataset, size: 5_000 + Int64(i))
        archive.add(uri: p.uri, size: p.size!)
        return p
    }
}

@Suite("Hostile names")
struct HostileNameTests {
    @Test("In a folder: refused names fail alone with the reason, the others are written exactly, the manifest shows every character")
    func folder() async throws {
        let folder = TemporaryFolder()
        let root = folder.path + "/out"
        try await withTestArchive { archive in
            let products = hostileProducts(archive)
            let report = try await download(products, from: archive, into: root)
            #expect(report.exitStatus == 1)
            #expect(report.manifest.rows.map(\.status.text) == hostileNames.map(\.status))
            let kept = zip(products, hostileNames).filter { $0.1.status == "OK" }.map(\.0)
            for p in kept { #expect(Bytes(readBytes("\(root)/d/\(p.filename)")) == Bytes(archive.content(of: p.uri)), "\(p.filename.prefix(40))") }
            // Only the kept names were requested, and only they are on disk.
            #expect(archive.statistics.requests == kept.count)
            let files = listing(root).filter { !$0.hasSuffix("/") }
            #expect(files == (kept.map { "d/" + $0.filename } + ["manifest.csv", "manifest.html"]).sorted())
            try checkManifestShowsHostileNames(try String(contentsOfFile: root + "/manifest.csv", encoding: .utf8))
        }
    }

    @Test("In a ZIP, file and pipe: refused names have no entry, the others read back exactly with every reader")
    func zipBundle() async throws {
        for pipe in [false, true] {
            let folder = TemporaryFolder()
            let path = folder.path + "/out.zip"
            try await withTestArchive { archive in
                let products = hostileProducts(archive)
                let report = try await downloadZip(try zipPlan(products, archive: archive), to: path, compression: DownloadTarget.Compression(.auto), pipe: pipe)
                #expect(report.exitStatus == 1)
                #expect(report.manifest.rows.map(\.status.text) == hostileNames.map(\.status))
                let kept = zip(products, hostileNames).filter { $0.1.status == "OK" }.map(\.0)
                let names = kept.map { "bundle/d/" + $0.filename } + ["bundle/manifest.html", "bundle/manifest.csv"]
                let extracted = folder.path + "/x"
                let reading = try await readWithPython(path, extractTo: extracted)
                #expect(reading.names == names)
                for p in kept {
                    #expect(Bytes(readBytes(extracted + "/bundle/d/" + p.filename)) == Bytes(archive.content(of: p.uri)), "\(p.filename.prefix(40))")
                }
                try checkManifestShowsHostileNames(try String(contentsOfFile: extracted + "/bundle/manifest.csv", encoding: .utf8))
                try await checkWithReaders(path, names: names)
            }
        }
    }

    /// The manifest lists every product with its name made visible: no raw NUL or bidirectional
    /// control, one line a product.
    func checkManifestShowsHostileNames(_ csv: String) throws {
        #expect(!csv.unicodeScalars.contains { $0.value == 0 || SafeNames.isBidi($0) })
        #expect(csv.contains("d/nul\u{2400}byte.fits"))
        #expect(csv.contains("d/invoice<U+202E>stif.exe"))
        #expect(csv.contains("obs<U+2066>1/ok.fits"))
        #expect(csv.split(separator: "\r\n").count == 1 + hostileNames.count)
    }
}

/// The bidirectional controls, listed here independently of ``SafePath``.
enum SafeNames {
    static func isBidi(_ c: Unicode.Scalar) -> Bool {
        [0x061C, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069].contains(c.value)
    }
}
