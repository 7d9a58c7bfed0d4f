import Foundation
import HaulArchive
import Testing

#if canImport(Glibc)
import Glibc
#endif

// A run killed at any moment leaves only whole files under their final names: each is written under a
// temporary name, flushed, and only then renamed (the rename is what makes it count). Killing the
// process cannot lose what the kernel holds, so this checks the order of those steps and what a re-run
// makes of the leftovers, not a power cut.

@Suite("kill -9 at any point")
struct CrashTests {
    /// Sizes from empty to several segments, some trickling so that the kill finds them in flight.
    static func products(_ archive: TestArchive, in folder: String) throws -> [String] {
        let sizes: [Int64] = [0, 1, 2_048, 65_536, 300_000, 1_500_000, 5_000_000]
        let kinds: [ArchiveContent.Kind] = [.random, .text, .zeros, .floats]
        var uris: [String] = []
        for i in 0..<28 {
            let uri = "mast:JWST/product/k\(i)_cal.fits"
            let faults: [TestArchive.Fault] = i % 5 == 4 ? [.init(.trickle(bytesPerSecond: 1_000_000))] : []
            archive.add(uri: uri, size: sizes[i % sizes.count], faults: faults, content: kinds[i % kinds.count])
            uris.append(uri)
        }
        // With sizes, so that a re-run can tell a complete file from its size alone (the killed run
        // wrote no manifest).
        let rows = uris.enumerated().map { i, uri in "\(uri),\(sizes[i % sizes.count]),obs\(i % 3),\(uri.split(separator: "/").last!)\n" }
        try ("dataURI,size,obs_id,productFilename\n" + rows.joined()).write(toFile: folder + "/list.csv", atomically: true, encoding: .utf8)
        return uris
    }

    /// The files under their final names in `root` (not the temporary ones, not the manifests), by
    /// file name.
    static func finalFiles(_ root: String) -> [String: String] {
        var files: [String: String] = [:]
        for item in listing(root) where !item.hasSuffix("/") {
            let name = String(item.split(separator: "/").last ?? "")
            if name.hasSuffix(".haul-part") || name.hasPrefix("manifest.") { continue }
            files[name] = root + "/" + item
        }
        return files
    }

    @Test("kill -9 at random points of a flushed --dir run: every file under its final name is whole; the same command then fetches only the rest", .prompt)
    func killedFolderRuns() async throws {
        for round in 0..<3 {
            let folder = TemporaryFolder()
            try await withTestArchive { archive in
                let uris = try Self.products(archive, in: folder.path)
                let byName = Dictionary(uniqueKeysWithValues: uris.map { (String($0.split(separator: "/").last!), $0) })
                // Once `whole` files have their final names, and a little later: each round kills at
                // another point, which the messages name.
                let whole = [Int.random(in: 0..<4), Int.random(in: 4..<12), Int.random(in: 12..<20)][round]
                let extra = Int.random(in: 0..<300)
                let point = "round \(round): killed after \(whole) files + \(extra) ms"
                let arguments = ["download", "list.csv", "--dir", "out", "--parallel", "8", "--archive", archive.url,
                                 "--progress", "none", "--stall-timeout", "600"]
                let haul = try HaulProcess(arguments, in: folder.path)
                try await waitUntil("\(whole) files in out", seen: { "\(Self.finalFiles(folder.path + "/out").count)" }) {
                    Self.finalFiles(folder.path + "/out").count >= whole
                }
                try await Task.sleep(for: .milliseconds(extra))
                kill(haul.pid, SIGKILL)
                _ = await haul.wait()

                // Whatever has its final name is whole.
                let left = Self.finalFiles(folder.path + "/out")
                #expect(left.count >= whole, "\(point)")
                for (name, path) in left {
                    let uri = try #require(byName[name], "\(point): \(name) is no product's")
                    #expect(Bytes(readBytes(path)) == Bytes(archive.content(of: uri)), "\(point): \(name) is not whole")
                }
                let before = Dictionary(uniqueKeysWithValues: uris.map { ($0, archive.requests(for: $0)) })

                let rerun = try await runHaul(arguments, in: folder.path)
                #expect(rerun.status == 0, "\(point): \(rerun.stderr)")
                let all = Self.finalFiles(folder.path + "/out")
                #expect(all.count == uris.count, "\(point): \(all.keys.sorted())")
                for (name, path) in all {
                    let uri = try #require(byName[name])
                    #expect(Bytes(readBytes(path)) == Bytes(archive.content(of: uri)), "\(point): \(name) after the re-run")
                    // A file whole before the re-run was not fetched again; every other one was.
                    let fetched = archive.requests(for: uri) - (before[uri] ?? 0)
                    if left[name] != nil {
                        #expect(fetched == 0, "\(point): \(name) was complete and fetched again")
                    } else {
                        #expect(fetched >= 1, "\(point): \(name) was not fetched")
                    }
                }
                #expect(!listing(folder.path + "/out").contains { $0.hasSuffix(".haul-part") }, "\(point)")
                let csv = try String(contentsOfFile: folder.path + "/out/manifest.csv", encoding: .utf8)
                #expect(csv.components(separatedBy: "already complete").count - 1 == left.count, "\(point)")
            }
        }
    }
}
