import Foundation
import HaulServe
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("haul serve --key-file")
struct ServerKeyTests {
    @Test("A missing key file is made, mode 600, with a new key; the next load reads the same key")
    func made() throws {
        let folder = TemporaryFolder()
        let path = folder.path + "/key"
        let key = try ServerKey.load(from: path)
        #expect(key.utf8.count == 32 && key.allSatisfy(\.isHexDigit))
        var st = stat()
        #expect(stat(path, &st) == 0 && st.st_mode & 0o777 == 0o600)
        #expect(try ServerKey.load(from: path) == key)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == key + "\n")
    }

    @Test("A key file others can read, a link, a folder or one without a key is refused with the reason")
    func refused() throws {
        let folder = TemporaryFolder()
        let readable = folder.path + "/readable"
        try "0123456789abcdef0123\n".write(toFile: readable, atomically: false, encoding: .utf8)
        chmod(readable, 0o644)
        #expect(throws: (any Error).self) { try ServerKey.load(from: readable) }
        do { _ = try ServerKey.load(from: readable) } catch {
            #expect("\(error)".contains("\(readable) can be read by other users (mode 644)"), "\(error)")
        }
        chmod(readable, 0o600)
        #expect(try ServerKey.load(from: readable) == "0123456789abcdef0123")

        symlink(readable, folder.path + "/link")
        #expect(throws: (any Error).self) { try ServerKey.load(from: folder.path + "/link") }
        mkdir(folder.path + "/dir", 0o700)
        #expect(throws: (any Error).self) { try ServerKey.load(from: folder.path + "/dir") }
        for bad in ["short", "has space in it 0123456789", "quote\"0123456789abcdef", String(repeating: "a", count: 129), ""] {
            let path = folder.path + "/bad"
            unlink(path)
            try (bad + "\n").write(toFile: path, atomically: false, encoding: .utf8)
            chmod(path, 0o600)
            do {
                _ = try ServerKey.load(from: path)
                Issue.record("accepted \(bad)")
            } catch {
                #expect("\(error)".contains("holds no key"), "\(error)")
            }
        }
    }

    @Test("haul serve with a key file it cannot use exits 2 at once, naming the file")
    func command() async throws {
        let folder = TemporaryFolder()
        try "0123456789abcdef0123\n".write(toFile: folder.path + "/key", atomically: false, encoding: .utf8)
        chmod(folder.path + "/key", 0o640)
        let run = try await runHaul(["serve", "--demo", "--key-file", "key"], in: folder.path)
        #expect(run.status == 2)
        #expect(run.stderr == "haul: error: key can be read by other users (mode 640): the key is a password; chmod 600 key\n", "\(run.stderr)")
    }
}
