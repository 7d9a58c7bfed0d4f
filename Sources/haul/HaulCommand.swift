import ArgumentParser
import Haul
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `haul`: the command-line layer over the Haul library.
struct HaulCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "haul",
        abstract: "Download an archive's data products through hundreds of concurrent transfers.",
        discussion: """
        Haul reads MAST product lists (CAOM JSON, missions-search JSON, the Download Overlay's CSV \
        export, or plain lists of mast: URIs and URLs), selects products as the overlay does, and \
        fetches every unique file with libcurl into one ZIP (a file or a stream) or a folder tree, \
        with a manifest.

        Exclusive-access files need a MAST API token: $MAST_API_TOKEN, --token-file FILE, or a \
        prompt on a terminal; never a command-line value.

        Exit status: 0 every selected file OK; 1 some failed (the manifest says which), or the disk \
        filled; 2 input, usage or output-path error (nothing downloaded, nothing overwritten); 130 \
        interrupted (the manifest says CANCELLED).

        Start with `haul demo`, which needs no network.
        """,
        version: Haul.version,
        subcommands: [SelectCommand.self, DownloadCommand.self, ScriptCommand.self, DemoCommand.self, ServeCommand.self, SampleCommand.self]
    )
}

/// Ends the process with a status, after the command has said what it had to.
struct ExitStatus: Error {
    var code: Int32
}

@main
enum Main {
    static func main() async {
        Haul.raiseOpenFileLimit()
        // A closed pipe on standard output (`haul … --progress json | head`) is an error to report, not a signal to die of.
        signal(SIGPIPE, SIG_IGN)
        // A file-size limit (ulimit -f) is a full disk to report (EFBIG), not a signal to die of.
        signal(SIGXFSZ, SIG_IGN)
        do {
            var command = try HaulCommand.parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch let status as ExitStatus {
            exit(status.code)
        } catch let error as HaulError {
            Terminal.error(error.message)
            exit(error.isInputError ? 2 : 1)
        } catch {
            let code = HaulCommand.exitCode(for: error)
            if code == .success {
                HaulCommand.exit(withError: error)
            }
            // Usage errors are status 2, like every other input error (ArgumentParser says 64).
            let message = HaulCommand.fullMessage(for: error)
            if code.rawValue == 64 || code == .validationFailure {
                Terminal.standardError(message + "\n")
                exit(2)
            }
            HaulCommand.exit(withError: error)
        }
    }
}
