import CZlib
import Foundation
import Haul
import Testing

/// What an installed haul shows about itself: its version with its libraries', the tool description the
/// manual pages are generated from, and the completion scripts `scripts/install` writes.
@Suite("Install")
struct InstallTests {
    @Test("--version names haul's version, then the libcurl and zlib this process runs with")
    func version() async throws {
        let folder = TemporaryFolder()
        let run = try await runHaul(["--version"], in: folder.path)
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(lines)")
        #expect(lines.first == "haul \(haulVersion)")
        #expect(lines.dropFirst().first?.hasPrefix("libcurl 7.") == true || lines.dropFirst().first?.hasPrefix("libcurl 8.") == true, "\(lines)")
        #expect(lines.dropFirst().first?.contains("(") == true, "the TLS library: \(lines)")
        #expect(lines.last == "zlib \(String(cString: zlibVersion()))")
    }

    @Test("The description the manual pages come from has every subcommand with its help")
    func manualSource() async throws {
        let folder = TemporaryFolder()
        let run = try await runHaul(["--experimental-dump-help"], in: folder.path)
        #expect(run.status == 0, "\(run.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let command = try #require(json["command"] as? [String: Any])
        let subcommands = (command["subcommands"] as? [[String: Any]] ?? []).compactMap { $0["commandName"] as? String }
        for name in ["select", "download", "script", "demo"] {
            #expect(subcommands.contains(name), "\(subcommands)")
        }
        let download = try #require((command["subcommands"] as? [[String: Any]])?.first { $0["commandName"] as? String == "download" })
        let options = (download["arguments"] as? [[String: Any]] ?? []).compactMap { ($0["names"] as? [[String: Any]])?.first?["name"] as? String }
        #expect(options.contains("zip") && options.contains("dir") && options.contains("memory-limit"), "\(options)")
    }

    @Test("Completion scripts for bash, zsh and fish name the subcommands", arguments: ["bash", "zsh", "fish"])
    func completions(shell: String) async throws {
        let folder = TemporaryFolder()
        let run = try await runHaul(["--generate-completion-script", shell], in: folder.path)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("download") && run.stdout.contains("select"), "\(shell): \(run.stdout.prefix(200))")
        if shell == "bash" {
            // The script is valid bash.
            let script = folder.path + "/haul.bash"
            try run.stdout.write(toFile: script, atomically: true, encoding: .utf8)
            let check = try await runHaul(["-n", script], in: folder.path, executable: "/bin/bash")
            #expect(check.status == 0, "\(check.stderr)")
        }
    }
}
