import Foundation
import Haul
import HaulArchive
import Testing
#if canImport(Glibc)
import Glibc
#endif

// MARK: Test file systems

/// A small file system of a test's own: a tmpfs mounted on a fresh folder, unmounted (lazily, so a
/// busy one goes too) when the value goes, whatever the test's outcome.
final class SmallDisk: @unchecked Sendable {
    private let folder = TemporaryFolder()
    var path: String { folder.path + "/disk" }

    /// - Returns: `nil` where mounting is refused (not root, or no `CAP_SYS_ADMIN`).
    init?(megabytes: Int, readOnly: Bool = false) {
        mkdir(folder.path + "/disk", 0o755)
        let options = "size=\(megabytes)m,mode=0755" + (readOnly ? ",ro" : "")
        guard Self.tool("mount", ["-t", "tmpfs", "-o", options, "tmpfs", folder.path + "/disk"]) == 0 else { return nil }
    }

    /// Gives the file system more room (the data on it stays).
    func resize(megabytes: Int) {
        let status = Self.tool("mount", ["-o", "remount,size=\(megabytes)m", path])
        #expect(status == 0, "could not remount \(path) with \(megabytes) MB")
    }

    deinit {
        let status = Self.tool("umount", ["-l", path])
        if status != 0 { Issue.record("could not unmount \(path)") }
    }

    /// Whether this process may mount a tmpfs (asked once).
    static let canMount: Bool = SmallDisk(megabytes: 1) != nil

    private static func tool(_ name: String, _ arguments: [String]) -> Int32 {
        let executable = firstExecutable(["/usr/bin/", "/bin/", "/usr/sbin/", "/sbin/"].map { $0 + name })
        guard let executable,
              let child = try? Spawned(executable, arguments, environment: ProcessInfo.processInfo.environment)
        else { return -1 }
        return child.waitBlocking()
    }
}

/// The first of `paths` that is an executable file.
func firstExecutable(_ paths: [String]) -> String? {
    paths.first { access($0, X_OK) == 0 }
}

/// A folder no new file can be made in: mode 0555 for a user other than root, a read-only tmpfs for root.
final class UnwritableFolder: @unchecked Sendable {
    private let folder = TemporaryFolder()
    private let disk: SmallDisk?
    let path: String

    init?() {
        if geteuid() != 0 {
            disk = nil
            path = folder.path + "/locked"
            mkdir(path, 0o555)
        } else {
            guard let disk = SmallDisk(megabytes: 1, readOnly: true) else { return nil }
            self.disk = disk
            path = disk.path
        }
    }

    deinit { if disk == nil { chmod(path, 0o755) } }

    static let possible = geteuid() != 0 || SmallDisk.canMount
}

/// Every entry under `folder` with the bytes of its regular files: what "nothing changed" compares.
func snapshot(_ folder: String) -> [String: [UInt8]] {
    var result: [String: [UInt8]] = [:]
    for item in listing(folder) {
        var st = stat()
        let path = folder + "/" + item
        result[item] = lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG ? readBytes(path) ?? [] : []
    }
    return result
}

// MARK: Output paths

/// An output path a download must refuse before its first request.
struct PathCase: CustomTestStringConvertible, Sendable {
    var testDescription: String
    /// Puts what is in the way under the test's folder.
    var prepare: @Sendable (String) async throws -> Void
    var target: @Sendable (String) -> DownloadTarget
    /// The whole message, given the folder.
    var message: @Sendable (String) -> String

    static let all: [PathCase] = [
        PathCase(
            testDescription: "--zip naming a folder",
            prepare: { f in
                mkdir(f + "/out.zip", 0o755)
                try "mine\n".write(toFile: f + "/out.zip/keep.txt", atomically: false, encoding: .utf8)
            },
            target: { .zip($0 + "/out.zip") },
            message: { "cannot write the ZIP to \($0)/out.zip: it is a folder; name a file, such as \($0)/out.zip/bundle.zip" }
        ),
        PathCase(
            testDescription: "--zip in a missing folder",
            prepare: { _ in },
            target: { .zip($0 + "/missing/out.zip") },
            message: { "cannot write the ZIP to \($0)/missing/out.zip: the folder \($0)/missing does not exist; create it first, or name a file in a folder that exists" }
        ),
        PathCase(
            testDescription: "--zip under a file",
            prepare: { f in try "mine\n".write(toFile: f + "/notes.txt", atomically: false, encoding: .utf8) },
            target: { .zip($0 + "/notes.txt/out.zip") },
            message: { "cannot write the ZIP to \($0)/notes.txt/out.zip: \($0)/notes.txt is not a folder" }
        ),
        PathCase(
            testDescription: "--zip naming a user's file",
            prepare: { f in try "my notes, not an archive\n".write(toFile: f + "/out.zip", atomically: false, encoding: .utf8) },
            target: { .zip($0 + "/out.zip") },
            message: { "\($0)/out.zip already exists and is not a ZIP archive, so this download would overwrite it; name another file, or replace it with --force" }
        ),
        PathCase(
            testDescription: "--zip naming a ZIP of other files",
            prepare: { f in
                let made = try await runTool("python3", ["-c", "import sys, zipfile; zipfile.ZipFile(sys.argv[1], 'w').writestr('notes.txt', 'hello')", f + "/out.zip"])
                #expect(made.status == 0, "\(made.output)")
            },
            target: { .zip($0 + "/out.zip") },
            message: { "\($0)/out.zip already exists and is a ZIP archive of other files (it holds notes.txt, which this download does not write), so this download would overwrite it; name another file, or replace it with --force" }
        ),
        PathCase(
            testDescription: "--zip naming a symbolic link",
            prepare: { f in
                try "mine\n".write(toFile: f + "/notes.txt", atomically: false, encoding: .utf8)
                symlink(f + "/notes.txt", f + "/out.zip")
            },
            target: { .zip($0 + "/out.zip") },
            message: { "cannot write the ZIP to \($0)/out.zip: it is a symbolic link; name a regular file (to write to a pipe or a device, stream the ZIP to standard output and redirect it)" }
        ),
        PathCase(
            testDescription: "--zip naming a FIFO",
            prepare: { f in mkfifo(f + "/out.zip", 0o644) },
            target: { .zip($0 + "/out.zip") },
            message: { "cannot write the ZIP to \($0)/out.zip: it is a FIFO; name a regular file (to write to a pipe or a device, stream the ZIP to standard output and redirect it)" }
        ),
        PathCase(
            testDescription: "--zip whose .haul-part is a folder",
            prepare: { f in mkdir(f + "/out.zip.haul-part", 0o755) },
            target: { .zip($0 + "/out.zip") },
            message: { "cannot write the ZIP to \($0)/out.zip: \($0)/out.zip.haul-part is a folder; remove it or name another file" }
        ),
        PathCase(
            testDescription: "--dir naming a file",
            prepare: { f in try "mine\n".write(toFile: f + "/data", atomically: false, encoding: .utf8) },
            target: { .directory($0 + "/data") },
            message: { "cannot write into \($0)/data: it is a file, not a folder; name a folder" }
        ),
        PathCase(
            testDescription: "--dir under a file",
            prepare: { f in try "mine\n".write(toFile: f + "/data", atomically: false, encoding: .utf8) },
            target: { .directory($0 + "/data/sub") },
            message: { "cannot create \($0)/data/sub: \($0)/data is a file, not a folder; name a folder" }
        ),
    ]
}

/// Products the output tests fetch: `count` files of `size` bytes.
func outputProducts(_ archive: TestArchive, count: Int = 3, size: Int64 = 20_000, prefix: String = "f") -> [Product] {
    (0..<count).map { i in
        let p = product("\(prefix)\(i).fits", dataset: "obs\(i % 2)", size: size)
        archive.add(uri: p.uri, size: size)
        return p
    }
}

@Suite("Output paths, full disks and durability")
struct OutputTests {
    @Test("A bad output path fails before any request, with the path and the fix, and nothing changes", arguments: PathCase.all)
    func refusedByTheLibrary(_ c: PathCase) async throws {
        let folder = TemporaryFolder()
        try await c.prepare(folder.path)
        let before = snapshot(folder.path)
        try await withTestArchive { archive in
            let plan = try zipPlan(outputProducts(archive), archive: archive)
            let target = c.target(folder.path)
            let checked = #expect(throws: HaulError.self) { try target.check(for: plan) }
            #expect(checked?.code == .outputPath)
            #expect(checked?.message == c.message(folder.path))
            #expect(checked?.isInputError == true)

            let downloaded = await #expect(throws: HaulError.self) {
                try await withEngine(testConfiguration()) { engine in try await engine.download(plan, to: target) }
            }
            #expect(downloaded?.code == .outputPath)
            #expect(downloaded?.message == c.message(folder.path))
            #expect(archive.statistics.requests == 0)
        }
        #expect(snapshot(folder.path) == before)
    }

    @Test("A folder no file can be made in fails before any request", .enabled(if: UnwritableFolder.possible))
    func unwritableFolder() async throws {
        let locked = try #require(UnwritableFolder())
        let reason = geteuid() == 0 ? "Read-only file system" : "Permission denied"
        try await withTestArchive { archive in
            let plan = try zipPlan(outputProducts(archive), archive: archive)
            let cases: [(DownloadTarget, String)] = [
                (.zip(locked.path + "/out.zip"), "cannot write the ZIP to \(locked.path)/out.zip: the folder \(locked.path) is not writable (\(reason)); name a file in a folder you can write to"),
                (.directory(locked.path), "cannot write into \(locked.path): the folder is not writable (\(reason)); name a folder you can write to"),
                (.directory(locked.path + "/data/sub"), "cannot create \(locked.path)/data/sub: the folder \(locked.path) is not writable (\(reason)); name a folder you can write to"),
            ]
            for (target, message) in cases {
                let error = await #expect(throws: HaulError.self) {
                    try await withEngine(testConfiguration()) { engine in try await engine.download(plan, to: target) }
                }
                #expect(error?.code == .outputPath)
                #expect(error?.message == message)
            }
            #expect(archive.statistics.requests == 0)
        }
        #expect(listing(locked.path).isEmpty)
    }

    @Test("overwrite (--force) replaces a user's file with the archive, only at the end")
    func overwriteReplaces() async throws {
        let folder = TemporaryFolder()
        let path = folder.path + "/out.zip"
        try "my notes, not an archive\n".write(toFile: path, atomically: false, encoding: .utf8)
        try await withTestArchive { archive in
            let products = outputProducts(archive)
            let plan = try zipPlan(products, archive: archive)
            let report = try await withEngine(testConfiguration()) { engine in
                try await engine.download(plan, to: .zip(path), overwrite: true)
            }
            #expect(report.exitStatus == 0)
            #expect(!fileExists(path + ".haul-part"))
            let reading = try await readWithPython(path, extractTo: folder.path + "/x")
            #expect(reading.names == products.map { "bundle/\($0.dataset)/\($0.filename)" } + ["bundle/manifest.html", "bundle/manifest.csv"])
            for p in products { #expect(Bytes(readBytes(folder.path + "/x/bundle/\(p.dataset)/\(p.filename)")) == Bytes(archive.content(of: p.uri))) }
        }
    }

    @Test("What a run can resume stays resumable: any .haul-part, and a finished ZIP of fewer of the plan's files")
    func resumableStays() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            let products = outputProducts(archive, count: 5)
            // A part file is Haul's by its name, whatever it holds: it is truncated and refilled.
            try "not an archive yet".write(toFile: folder.path + "/a.zip.haul-part", atomically: false, encoding: .utf8)
            let plan = try zipPlan(products, archive: archive)
            let first = try await downloadZip(plan, to: folder.path + "/a.zip", compression: DownloadTarget.Compression(.store))
            #expect(first.exitStatus == 0 && first.ok == 5 && first.skipped == 0)
            #expect(try await readWithPython(folder.path + "/a.zip").names.count == 7)

            // An archive of three of the files, then the same root with all five: two are fetched.
            let narrow = try zipPlan(Array(products.prefix(3)), archive: archive)
            _ = try await downloadZip(narrow, to: folder.path + "/b.zip", compression: DownloadTarget.Compression(.store))
            let before = products.map { archive.requests(for: $0.uri) }
            let wide = try await downloadZip(plan, to: folder.path + "/b.zip", compression: DownloadTarget.Compression(.store))
            #expect(wide.exitStatus == 0 && wide.ok == 5 && wide.skipped == 3)
            #expect(products.map { archive.requests(for: $0.uri) } == zip(before, [0, 0, 0, 1, 1]).map { $0 + $1 })
            let reading = try await readWithPython(folder.path + "/b.zip", extractTo: folder.path + "/x")
            #expect(Set(reading.names) == Set(products.map { "bundle/\($0.dataset)/\($0.filename)" } + ["bundle/manifest.html", "bundle/manifest.csv"]))
            for p in products { #expect(Bytes(readBytes(folder.path + "/x/bundle/\(p.dataset)/\(p.filename)")) == Bytes(archive.content(of: p.uri))) }
        }
    }

    // MARK: The command line

    @Test("haul download: a bad output path exits 2 at once with one line, no request, nothing written", arguments: [
        (["--zip", "out.zip"], "mkdir", "haul: error: cannot write the ZIP to out.zip: it is a folder; name a file, such as out.zip/out.zip\n"),
        (["--zip", "missing/out.zip"], "", "haul: error: cannot write the ZIP to missing/out.zip: the folder missing does not exist; create it first, or name a file in a folder that exists\n"),
        (["--zip", "out.zip"], "file", "haul: error: out.zip already exists and is not a ZIP archive, so this download would overwrite it; name another file, or replace it with --force\n"),
        (["--dir", "out.zip"], "file", "haul: error: cannot write into out.zip: it is a file, not a folder; name a folder\n"),
        (["--dir", "out.zip/data"], "file", "haul: error: cannot create out.zip/data: out.zip is a file, not a folder; name a folder\n"),
    ])
    func refusedByTheCommand(output: [String], inTheWay: String, expected: String) async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            try writeURIList([("mast:JWST/product/a.fits", 1000, [])], to: archive, at: folder.path + "/list.txt")
            switch inTheWay {
            case "mkdir": mkdir(folder.path + "/out.zip", 0o755)
            case "file": try "my notes\n".write(toFile: folder.path + "/out.zip", atomically: false, encoding: .utf8)
            default: break
            }
            let before = snapshot(folder.path)
            // A token would have Haul ask the archive who it is: the check comes before that request too.
            let run = try await runHaul(
                ["download", "list.txt"] + output + ["--archive", archive.url],
                in: folder.path, environment: ["MAST_API_TOKEN": "token-1234567890"]
            )
            #expect(run.status == 2)
            #expect(run.stderr == expected)
            #expect(archive.statistics.requests == 0)
            #expect(snapshot(folder.path).filter { !$0.key.hasPrefix("std") } == before)
        }
    }

    @Test("haul download --force replaces a user's file; --force without --zip FILE is a usage error")
    func forceOnTheCommandLine() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            let uris = try writeURIList([("mast:JWST/product/a.fits", 1000, []), ("mast:JWST/product/b.fits", 2000, [])], to: archive, at: folder.path + "/list.txt")
            try "my notes\n".write(toFile: folder.path + "/out.zip", atomically: false, encoding: .utf8)
            let run = try await runHaul(["download", "list.txt", "--zip", "out.zip", "--force", "--archive", archive.url, "--progress", "none"], in: folder.path)
            #expect(run.status == 0, "\(run.stderr)")
            let reading = try await readWithPython(folder.path + "/out.zip", extractTo: folder.path + "/x")
            #expect(reading.names == ["out/JWST/product/a.fits", "out/JWST/product/b.fits", "out/manifest.html", "out/manifest.csv"])
            for uri in uris { #expect(Bytes(readBytes(folder.path + "/x/out/" + uri.dropFirst("mast:".count))) == Bytes(archive.content(of: uri))) }

            let misuse = try await runHaul(["download", "list.txt", "--dir", "data", "--force", "--archive", archive.url], in: folder.path)
            #expect(misuse.status == 2)
            #expect(misuse.stderr.contains("--force replaces a file at the --zip FILE path"))
            #expect(!fileExists(folder.path + "/data"))
        }
    }

    // MARK: A full disk

    /// How a test fills the disk: a small tmpfs of its own, or a file-size limit on the process.
    enum Filling: String, CustomTestStringConvertible, Sendable, CaseIterable {
        case tmpfs
        case fileSizeLimit
        var testDescription: String { self == .tmpfs ? "8 MB tmpfs" : "RLIMIT_FSIZE" }
    }

    struct FullDiskCase: CustomTestStringConvertible, Sendable {
        var zip: Bool
        var filling: Filling
        var testDescription: String { "\(zip ? "--zip FILE" : "--dir"), \(filling.testDescription)" }
        static let all = [true, false].flatMap { zip in Filling.allCases.map { FullDiskCase(zip: zip, filling: $0) } }
    }

    @Test("A full disk: exit 1 at once with the path, what completed kept whole, nothing partial; the same command then completes", arguments: FullDiskCase.all)
    func fullDisk(_ c: FullDiskCase) async throws {
        let prlimit = firstExecutable(["/usr/bin/prlimit", "/bin/prlimit"])
        var disk: SmallDisk?
        if c.filling == .tmpfs {
            disk = SmallDisk(megabytes: 8)
            try #require(disk != nil || !SmallDisk.canMount, "mounting worked once and not now")
            guard disk != nil else {
                // Mounting is refused here: the file-size-limit case covers this machine.
                try #require(prlimit != nil, "neither a tmpfs nor prlimit(1) is available to fill a disk")
                return
            }
        } else {
            try #require(prlimit != nil, "prlimit(1) (util-linux) is needed for a file-size limit")
        }
        let folder = TemporaryFolder()
        let out = (disk?.path ?? folder.path + "/small") + (c.zip ? "" : "/data")
        mkdir(disk?.path ?? folder.path + "/small", 0o755)
        try await withTestArchive { archive in
            // 15 MiB in all: six of 1 MiB first, then three of 3 MiB (random, so a ZIP stores them whole).
            let sizes: [Int64] = Array(repeating: 1 << 20, count: 6) + Array(repeating: 3 << 20, count: 3)
            var uris: [String] = []
            for (i, size) in sizes.enumerated() {
                let uri = "mast:JWST/product/f\(i).fits"
                archive.add(uri: uri, size: size, content: .random)
                uris.append(uri)
            }
            try uris.map { $0 + "\n" }.joined().write(toFile: folder.path + "/list.txt", atomically: true, encoding: .utf8)
            let output = c.zip ? ["--zip", out + "/out.zip"] : ["--dir", out]
            let arguments = ["download", "list.txt"] + output + [
                "--archive", archive.url, "--progress", "none", "--parallel", "2", "--memory-limit", "8", "--retries", "0",
            ]
            // The file-size limit: 2 MiB a file under --dir (the 3 MiB files cannot be written), 6 MiB for the archive.
            let limit = c.zip ? 6 << 20 : 2 << 20
            let limited = c.filling == .fileSizeLimit
            let haul = try HaulProcess(
                limited ? ["--fsize=\(limit)", haulExecutable] + arguments : arguments, in: folder.path,
                executable: limited ? prlimit! : haulExecutable
            )
            let status = await haul.wait(timeout: .seconds(120))
            #expect(status == 1, "\(haul.stderr)")
            let stderr = haul.stderr
            let full = limited
                ? "haul: error: the disk is full for this file (it reached the largest size allowed here): cannot write \(out)"
                : "haul: error: the disk is full: cannot write \(out)"
            #expect(stderr.contains(full) || stderr.contains(full.replacingOccurrences(of: "cannot write \(out)", with: "cannot write a spool file in \(out)")), "\(stderr)")
            #expect(stderr.hasSuffix("free some space and run the same command again to \(c.zip ? (fileExists(out + "/out.zip") ? "add them" : "finish it") : "fetch the rest")\n"), "\(stderr)")
            let match = try #require(stderr.firstMatch(of: /(\d+) complete files?/), "\(stderr)")
            let kept = Int(match.1)!
            #expect(kept >= 1 && kept < uris.count, "\(stderr)")
            let afterFirst = uris.map { archive.requests(for: $0) }

            // What is left: whole files only.
            if c.zip {
                if fileExists(out + "/out.zip") {
                    #expect(listing(out) == ["out.zip"])
                    #expect(stderr.contains("\(out)/out.zip is a valid ZIP of the \(kept) complete file"))
                    let reading = try await readWithPython(out + "/out.zip", extractTo: folder.path + "/x")
                    #expect(reading.names.count == kept + 2)
                    for name in reading.names.dropLast(2) {
                        #expect(Bytes(readBytes(folder.path + "/x/" + name)) == Bytes(archive.content(of: "mast:" + name.dropFirst("out/".count))))
                    }
                } else {
                    #expect(listing(out) == ["out.zip.haul-part"])
                    #expect(stderr.contains("\(out)/out.zip.haul-part keeps the \(kept) complete file"))
                }
            } else {
                let files = listing(out).filter { !$0.hasSuffix("/") && !$0.hasPrefix("manifest.") }
                #expect(files.count == kept, "\(files)")
                #expect(!listing(out).contains { $0.contains("haul-part") }, "\(listing(out))")
                for file in files { #expect(Bytes(readBytes(out + "/" + file)) == Bytes(archive.content(of: "mast:" + file)), "\(file)") }
                #expect(stderr.contains("\(kept) complete file\(kept == 1 ? " is" : "s are") in \(out), no partial one"))
                // The re-run knows the files of a list without sizes as complete from this manifest only.
                let csv = (try? String(contentsOfFile: out + "/manifest.csv", encoding: .utf8)) ?? ""
                #expect(csv.components(separatedBy: ",OK,").count - 1 == kept, "the manifest after the full disk: \(csv.isEmpty ? "missing" : csv)")
            }

            // Room again: the same command completes, without fetching what was complete.
            disk?.resize(megabytes: 64)
            let rerun = try await runHaul(arguments, in: folder.path)
            #expect(rerun.status == 0, "\(rerun.stderr)")
            #expect(rerun.stderr.contains("9 files OK (\(kept) already complete)"), "\(rerun.stderr)")
            let fetchedAgain = zip(afterFirst, uris.map { archive.requests(for: $0) }).filter { $0 != $1 }.count
            #expect(fetchedAgain == uris.count - kept)
            if c.zip {
                #expect(listing(out) == ["out.zip"])
                let reading = try await readWithPython(out + "/out.zip", extractTo: folder.path + "/y")
                #expect(Set(reading.names) == Set(uris.map { "out/" + $0.dropFirst("mast:".count) } + ["out/manifest.html", "out/manifest.csv"]))
                for uri in uris { #expect(Bytes(readBytes(folder.path + "/y/out/" + uri.dropFirst("mast:".count))) == Bytes(archive.content(of: uri))) }
                try await checkWithReaders(out + "/out.zip", names: reading.names)
            } else {
                for uri in uris { #expect(Bytes(readBytes(out + "/" + uri.dropFirst("mast:".count))) == Bytes(archive.content(of: uri))) }
                #expect(!listing(out).contains { $0.contains("haul-part") })
            }
        }
    }
    // MARK: Replacing a file

    /// The shards of a plan that share one tree write its manifests whenever each ends; before each
    /// write had a temporary file of its own, two at the same moment truncated and renamed each other's.
    @Test("Writers replacing one file at the same moment all succeed, and readers only ever see one writer's whole bytes")
    func concurrentReplacement() async throws {
        let folder = TemporaryFolder()
        let path = folder.path + "/manifest.csv"
        let (writers, rounds) = (6, 40)
        // Each write's bytes say whose they are, and are long enough (96 KiB) to take several writes.
        @Sendable func payload(_ writer: Int, _ round: Int) -> [UInt8] {
            let head = Array("writer \(writer) round \(round)\n".utf8)
            return head + [UInt8](repeating: UInt8(33 + (writer * rounds + round) % 90), count: 96 * 1024 - head.count)
        }
        let all = Set((0..<writers).flatMap { w in (0..<rounds).map { payload(w, $0) } })
        let failures = Locked<[String]>([])
        let seen = Locked<Int>(0)
        let done = Locked<Int>(0)
        var threads: [Thread] = []
        for w in 0..<writers {
            threads.append(Thread {
                for r in 0..<rounds {
                    do { try FileReplacement.write(path, payload(w, r), synchronize: false) } catch {
                        failures.withLock { $0.append("writer \(w) round \(r): \(error)") }
                    }
                }
                done.withLock { $0 += 1 }
            })
        }
        // A reader beside them: the file is missing (before the first rename) or one write, whole.
        // It reads once more after the last writer, so it reads at least once however it is scheduled.
        threads.append(Thread {
            while true {
                let last = done.withLock { $0 } == writers
                if let bytes = FileManager.default.contents(atPath: path) {
                    if !all.contains(Array(bytes)) {
                        failures.withLock { $0.append("a reader saw \(bytes.count) bytes that are no one write's") }
                    }
                    seen.withLock { $0 += 1 }
                }
                if last { break }
            }
            done.withLock { $0 += 1 }
        })
        for thread in threads { thread.start() }
        try await waitUntil("every writer and the reader done", seen: { "\(done.withLock { $0 }) of \(writers + 1)" }) {
            done.withLock { $0 } == writers + 1
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 }.prefix(5))")
        let last = try #require(FileManager.default.contents(atPath: path))
        #expect(all.contains(Array(last)))
        #expect(seen.withLock { $0 } > 0)
        // Nothing left behind under a temporary name.
        #expect(listing(folder.path) == ["manifest.csv"], "\(listing(folder.path))")
    }

    // MARK: Durability

    /// Whether strace(1) can trace a child here (installed by scripts/setup; ptrace may be refused).
    static let straceWorks: Bool = (try? runToolBlocking("strace", ["-o", "/dev/null", "true"]).status) == 0

    @Test("Durability: each file flushed before it is named (its link or rename) and its folder after; the archive before its rename and its folder after; --no-fsync flushes nothing",
          .enabled(if: straceWorks), arguments: [(true, true), (true, false), (false, true), (false, false)])
    func flushes(zip: Bool, synchronize: Bool) async throws {
        let temporary = TemporaryFolder()
        let folder = try #require(realpath(temporary.path, nil).map { p in defer { free(p) }; return String(cString: p) })
        let (uris, status, stderr) = try await withTestArchive { archive in
            let uris = try writeURIList(
                (0..<6).map { ("mast:JWST/product/obs\($0 % 2)/f\($0).fits", 50_000, []) }, to: archive, at: folder + "/list.txt"
            )
            let output = zip ? ["--zip", folder + "/out.zip"] : ["--dir", folder + "/out"]
            let run = try await runHaul(
                ["-f", "-qq", "-y", "-e", "trace=fsync,fdatasync,rename,renameat,renameat2,linkat", "-o", folder + "/trace.txt", haulExecutable,
                 "download", "list.txt"] + output + ["--archive", archive.url, "--progress", "none"] + (synchronize ? [] : ["--no-fsync"]),
                in: folder, executable: try #require(firstExecutable(["/usr/bin/strace", "/bin/strace"]))
            )
            return (uris, run.status, run.stderr)
        }
        #expect(status == 0, "\(stderr)")
        try Self.checkFlushes(StraceLog(folder + "/trace.txt"), folder: folder, uris: uris, zip: zip, synchronize: synchronize)
    }

    @Test("Durability costs little: a big file's writeback starts while it is written, so its flush finds little left; --no-fsync starts none",
          .enabled(if: straceWorks), arguments: [(true, true), (true, false), (false, true), (false, false)])
    func earlyWriteback(zip: Bool, synchronize: Bool) async throws {
        let temporary = TemporaryFolder()
        let folder = try #require(realpath(temporary.path, nil).map { p in defer { free(p) }; return String(cString: p) })
        // 40 MB: several times the 8 MiB between two requests, in a stored entry or a file of its own.
        let (status, stderr) = try await withTestArchive { archive in
            _ = try writeURIList([("mast:JWST/product/obs0/big.fits", 40_000_000, [])], to: archive, at: folder + "/list.txt")
            let output = zip ? ["--zip", folder + "/out.zip", "--compression", "store"] : ["--dir", folder + "/out"]
            let run = try await runHaul(
                ["-f", "-qq", "-y", "-e", "trace=fsync,sync_file_range,rename,linkat", "-o", folder + "/trace.txt", haulExecutable,
                 "download", "list.txt"] + output + ["--archive", archive.url, "--progress", "none"] + (synchronize ? [] : ["--no-fsync"]),
                in: folder, executable: try #require(firstExecutable(["/usr/bin/strace", "/bin/strace"]))
            )
            return (run.status, run.stderr)
        }
        #expect(status == 0, "\(stderr)")
        let trace = try StraceLog(folder + "/trace.txt")
        // The file while written: the archive's temporary name, or the file's (unnamed until linked in,
        // which strace shows by inode, or a temporary name where the system has no unnamed files).
        let final = folder + "/out/JWST/product/obs0/big.fits"
        let part = zip ? folder + "/out.zip.haul-part"
            : trace.link(final).map { folder + "/out/JWST/product/obs0/#\($0.inode)" } ?? folder + "/out/JWST/product/obs0/.big.fits.haul-part"
        let started = trace.lines.indices.filter { trace.lines[$0].contains("sync_file_range(") && trace.lines[$0].contains("<\(part)>") }
        guard synchronize else {
            #expect(!trace.lines.contains { $0.contains("sync_file_range(") }, "\(trace.lines)")
            return
        }
        #expect(started.count >= 2, "\(trace.lines)")
        // Started early, flushed after: the requests only ever come before the file's flush.
        let flushed = try #require(trace.flush(part), "\(trace.lines)")
        #expect(started.allSatisfy { $0 < flushed }, "\(trace.lines)")
        #expect(trace.lines.allSatisfy { !$0.contains("sync_file_range(") || $0.contains("SYNC_FILE_RANGE_WRITE") && !$0.contains("= -1") }, "\(trace.lines)")
    }

    /// ext4 writes a file out when it is closed if it was ever truncated to 0 bytes ("auto_da_alloc"),
    /// even an empty one: the archive's last close then started the writeback of every byte itself.
    @Test("A new archive is never truncated to 0 bytes (ext4 would write it all out on close, --no-fsync or not)",
          .enabled(if: straceWorks))
    func newArchiveNotTruncated() async throws {
        let temporary = TemporaryFolder()
        let folder = try #require(realpath(temporary.path, nil).map { p in defer { free(p) }; return String(cString: p) })
        let (status, stderr) = try await withTestArchive { archive in
            _ = try writeURIList(
                (0..<3).map { ("mast:JWST/product/obs0/f\($0).fits", 50_000, []) }, to: archive, at: folder + "/list.txt"
            )
            let run = try await runHaul(
                ["-f", "-qq", "-y", "-e", "trace=ftruncate,openat", "-o", folder + "/trace.txt", haulExecutable,
                 "download", "list.txt", "--zip", folder + "/out.zip", "--compression", "store",
                 "--archive", archive.url, "--progress", "none", "--no-fsync"],
                in: folder, executable: try #require(firstExecutable(["/usr/bin/strace", "/bin/strace"]))
            )
            return (run.status, run.stderr)
        }
        #expect(status == 0, "\(stderr)")
        let lines = try StraceLog(folder + "/trace.txt").lines
        let part = folder + "/out.zip.haul-part"
        #expect(lines.contains { $0.contains("openat(") && $0.contains("\"\(part)\"") && !$0.contains("= -1") }, "\(lines)")
        // Cut to its final length at the end (never 0 bytes), as before; never truncated to 0 at the start.
        #expect(!lines.contains { $0.contains("ftruncate(") && $0.contains("<\(part)>, 0)") }, "\(lines.filter { $0.contains("ftruncate(") })")
        let unzip = try await runTool("unzip", ["-t", folder + "/out.zip"])
        #expect(unzip.status == 0 && unzip.output.contains("No errors detected"), "\(unzip.output)")
    }

    private static func checkFlushes(_ trace: StraceLog, folder: String, uris: [String], zip: Bool, synchronize: Bool) throws {
        let lines = trace.lines
        func flush(_ path: String) -> Int? { trace.flush(path) }
        func rename(_ from: String, _ to: String) -> Int? { trace.rename(from, to) }
        guard synchronize else {
            #expect(!lines.contains { $0.contains("fsync(") }, "\(lines.filter { $0.contains("fsync(") })")
            return
        }
        if zip {
            let part = folder + "/out.zip.haul-part"
            let renamed = try #require(rename(part, folder + "/out.zip"), "\(lines)")
            let flushed = try #require(flush(part), "the archive was not flushed")
            #expect(flushed < renamed)
            let folderFlushed = try #require(lines.lastIndex { $0.contains("fsync(") && $0.contains("<\(folder)>") }, "the folder was not flushed")
            #expect(folderFlushed > renamed)
            return
        }
        var lastRename: [String: Int] = [:]
        for uri in uris {
            let relative = String(uri.dropFirst("mast:".count))
            let final = folder + "/out/" + relative
            let slash = final.lastIndex(of: "/")!
            let renamed: Int
            if let (linked, inode) = trace.link(final) {
                // Made unnamed (O_TMPFILE), linked in when complete: strace shows the open file as
                // `FOLDER/#INODE (deleted)` until then, and the final name has that inode.
                renamed = linked
                let flushed = try #require(flush(String(final[...slash]) + "#\(inode)"), "\(relative) was not flushed")
                #expect(flushed < linked, "\(relative): flushed after its link")
            } else {
                let part = String(final[...slash] + "." + final[final.index(after: slash)...] + ".haul-part")
                renamed = try #require(rename(part, final), "\(relative) was named neither by a link nor by a rename")
                let flushed = try #require(flush(part), "\(relative) was not flushed")
                #expect(flushed < renamed, "\(relative): flushed after its rename")
            }
            let parent = String(final[..<slash])
            lastRename[parent] = max(lastRename[parent] ?? 0, renamed)
        }
        for name in ["manifest.csv", "manifest.html"] {
            let path = folder + "/out/" + name
            let (renamed, temporary) = try #require(trace.renameInto(path), "\(name) was not renamed")
            // A temporary file of the write's own: `.NAME.` sixteen hex digits `.haul-part`.
            #expect(temporary.wholeMatch(of: /.*\/\.manifest\.(csv|html)\.[0-9a-f]{16}\.haul-part/) != nil, "\(temporary)")
            let flushed = try #require(flush(temporary), "\(name) was not flushed")
            #expect(flushed < renamed)
            lastRename[folder + "/out"] = max(lastRename[folder + "/out"] ?? 0, renamed)
        }
        // Folders that gained a folder: the root's parent (the root), the root (JWST), JWST (product).
        for made in [folder, folder + "/out/JWST", folder + "/out/JWST/product"] { lastRename[made] = lastRename[made] ?? 0 }
        for (path, renamed) in lastRename {
            let flushed = lines.lastIndex { $0.contains("fsync(") && $0.contains("<\(path)>") }
            #expect(flushed.map { $0 > renamed } == true, "\(path) not flushed after its last rename")
        }
    }
}

/// An strace(1) log of flushes and renames (`-y`: descriptors shown with their paths).
struct StraceLog: Sendable {
    let lines: [String]

    init(_ path: String) throws {
        lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    /// The first line that flushes `path`.
    func flush(_ path: String) -> Int? { lines.firstIndex { $0.contains("fsync(") && $0.contains("<\(path)>") } }

    /// The line that renames `from` to `to`.
    func rename(_ from: String, _ to: String) -> Int? {
        lines.firstIndex { $0.contains("rename") && $0.contains("\"\(from)\"") && $0.contains("\"\(to)\"") }
    }

    /// The line that links an unnamed file in as `to` (through `/proc/self/fd`), and the inode of the
    /// file now at `to`.
    func link(_ to: String) -> (line: Int, inode: UInt64)? {
        var st = stat()
        guard lstat(to, &st) == 0,
              let line = lines.firstIndex(where: { $0.contains("linkat(") && $0.contains("\"/proc/self/fd/") && $0.contains("\"\(to)\"") })
        else { return nil }
        return (line, UInt64(st.st_ino))
    }

    /// The line that renames a file to `to`, and the name it had.
    func renameInto(_ to: String) -> (line: Int, from: String)? {
        for (i, line) in lines.enumerated() where line.contains("rename") && line.contains(", \"\(to)\"") {
            if let from = line.firstMatch(of: /rename(?:at2?)?\((?:[^,"]*, )?"([^"]+)"/) { return (i, String(from.1)) }
        }
        return nil
    }
}
