import ArgumentParser
import Foundation
import Haul

/// `haul merge DIR`: one manifest and one ZIP from a plan's shards.
struct MergeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge a plan's shards: one manifest (CSV and HTML) and, for ZIP shards, one ZIP.",
        discussion: """
        The manifest lists every selected row of the whole plan in catalog order, duplicates and \
        exclusions included, as one machine's haul download writes it: DIR/manifest.csv and \
        manifest.html (and, for a shared tree, in the tree). For ZIP shards, the ZIP is made by copying \
        each shard's entries as they are, compressed bytes and all (no inflating, no deflating; in the \
        kernel with copy_file_range where the file system allows), with one central directory (ZIP64 \
        when needed) and the merged manifests as its last entries: it lists the same names, sizes and \
        CRC-32s as one machine's haul download --zip of the same selection.

        A file that failed, or whose shard has not finished, is named, and the status is 1: run those \
        shards again (haul status DIR says which) and merge again. Exit status: 0 every file is in; \
        1 some are missing; 2 no plan there, or a shard's files do not match the plan.

        Examples:
          haul merge plan
          haul merge plan --zip /archive/jwst.zip
        """
    )

    @Argument(help: ArgumentHelp("The plan folder haul plan wrote.", valueName: "dir"))
    var folder: String

    @Option(help: ArgumentHelp("The merged ZIP (default: DIR/ROOT.zip).", valueName: "file"))
    var zip: String?

    @Flag(name: .customLong("no-fsync"), help: "Do not flush the merged ZIP to the disk.")
    var noFsync = false

    @OptionGroup(title: "Messages") var verbosity: QuietOption

    func validate() throws {
        if let zip, zip.isEmpty || zip == "-" || zip.hasSuffix("/") { throw ValidationError("--zip must name a file") }
    }

    func run() async throws {
        verbosity.apply()
        let result = try ShardMerge.merge(folder, zip: zip, synchronize: !noFsync)
        let rows = result.manifest.rows
        let ok = rows.filter { $0.status == .ok }.count
        Terminal.note("manifest of \(Format.count(rows.count, "row")) (\(ok.grouped) OK) in \(folder)/manifest.csv and manifest.html")
        if let path = result.zip {
            let rate = result.seconds > 0 ? Double(result.bytesCopied) / result.seconds : 0
            Terminal.note("\(path): \(Format.count(result.entries, "entry", plural: "entries")), \(Format.bytes(result.bytesCopied)) of entries copied \(result.inKernel ? "in the kernel (copy_file_range)" : "by reading and writing") in \(Format.seconds(result.seconds)) (\(Format.rate(rate)))")
        }
        if !result.missing.isEmpty {
            Terminal.error("\(Format.count(result.missing.count, "file")) missing:")
            for line in result.missing.prefix(20) { Terminal.standardError("  \(line)\n") }
            if result.missing.count > 20 { Terminal.standardError("  … and \(result.missing.count - 20) more: see \(folder)/manifest.csv\n") }
            throw ExitStatus(code: 1)
        }
    }
}
