import ArgumentParser
import Foundation
import Haul

/// `haul select`: the overlay's summary, preview and export, before anything is downloaded.
struct SelectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "select",
        abstract: "Show what the selectors pick: the summary, one page of the preview by dataset, or a CSV export.",
        discussion: """
        Prints "N of M files (X of Y) selected", how many exclusive-access files are left out for want \
        of a token and how many rows repeat a URI, then one page of the selected rows grouped by \
        dataset. Nothing is fetched: this reads the catalogs only.

        The selection is the quick set plus every checked box: --level and --suffix (each repeatable), \
        --guidestar, --pipeline-inputs; --regex, --where and --extension then keep what matches, as \
        astroquery's filter_products does (--mrp-only is --quick recommended). Checking a box without \
        --quick starts from none, as the overlay does. A value the catalog does not have (--level foo) \
        is an error, status 2, that lists the values it has; an empty selection is not (status 0).

        Examples:
          haul select products.json
          haul select products.json --level 2b --suffix x1dints --page 2 --page-size 50
          haul select products.json --guidestar --regex '/_gs-fg_/i' --json
          haul select products.json --where productType=SCIENCE --where calib_level=2,3 --extension fits
          haul select products.json --quick recommended --export-csv selection.csv
          haul download selection.csv --zip selection.zip
        """
    )

    @OptionGroup(title: "Selection") var selection: SelectionOptions

    @OptionGroup(title: "Exclusive access") var tokens: TokenOptions

    @OptionGroup(title: "Messages") var verbosity: QuietOption

    @Option(help: ArgumentHelp("The page of the preview to show, from 1.", valueName: "n"))
    var page: Int = 1

    @Option(name: .customLong("page-size"), help: ArgumentHelp("Rows on a page.", valueName: "k"))
    var pageSize: Int = 100

    @Flag(help: "Print the summary and the page's rows as one JSON object. With --source cloud or auto, each row also gets cloud_url: where MAST's public bucket has the file (one path lookup at --archive per 40 files of the page), or null and cloud_note saying why.")
    var json = false

    @Option(name: .customLong("export-csv"), help: ArgumentHelp(
        "Write the whole selection as the overlay's CSV export (its six columns, then URI,Size,Access); - writes it to standard output.",
        valueName: "file"))
    var exportCSV: String?

    func validate() throws {
        guard page >= 1 else { throw ValidationError("--page must be at least 1") }
        guard (1...1_000_000).contains(pageSize) else { throw ValidationError("--page-size must be between 1 and 1000000") }
        if json && exportCSV == "-" { throw ValidationError("--json and --export-csv - both write to standard output: give --export-csv a file") }
        if let exportCSV, exportCSV.isEmpty { throw ValidationError("--export-csv must name a file, or - for standard output") }
    }

    func run() async throws {
        verbosity.apply()
        // A token (when one is set) counts exclusive-access files as selected; select never sends it anywhere.
        let token = try tokens.token()
        let (_, plan) = try selection.plan(root: "selection", authorized: token != nil)
        if let exportCSV {
            let text = plan.exportCSV()
            if exportCSV == "-" {
                Terminal.standardOutput(text)
                Terminal.note(SelectView.summaryLine(plan.summary))
                return
            }
            do {
                try Data(text.utf8).write(to: URL(fileURLWithPath: exportCSV), options: .atomic)
            } catch {
                throw HaulError(.output, "cannot write \(exportCSV): \(error.localizedDescription)")
            }
            Terminal.note("exported \(Format.count(plan.entries.count, "row")) to \(exportCSV)")
        }
        let shown = try plan.page(page, size: pageSize)
        if json {
            // --source cloud|auto, said explicitly: the page's public files are looked up at the archive
            // (astroquery's get_cloud_uris); otherwise select reads the catalogs only.
            var cloud: [Int: CloudLocation]?
            if let source = selection.source, source != .archive {
                let entries = shown.groups.flatMap(\.entries).filter { plan.entries[$0].disposition == .download }
                cloud = try await withEngine(Configuration()) { engine in await engine.cloudLocations(plan, entries: entries) }
            }
            Terminal.standardOutput(plan.summaryJSON(page: shown, cloud: cloud) + "\n")
        } else {
            Terminal.standardOutput(SelectView.text(plan, page: shown, hasToken: token != nil))
        }
        // The process ends next, and the kernel takes its memory back at once: freeing a million
        // products one string at a time first was 2-4% of select's CPU (perf, a million rows).
        _ = Unmanaged.passRetained(plan as AnyObject)
    }
}

/// How `select` shows a plan.
enum SelectView {
    /// "120 of 345 files (1.23 GB of 4.56 GB) selected".
    static func summaryLine(_ s: Plan.Summary) -> String {
        var line = "\(s.selectedFiles.grouped) of \(Format.count(s.totalFiles, "file"))"
        if s.totalBytes > 0 { line += " (\(Format.bytes(s.selectedBytes)) of \(Format.bytes(s.totalBytes)))" }
        return line + " selected"
    }

    static func text(_ plan: Plan, page: Plan.Page, hasToken: Bool) -> String {
        let s = plan.summary
        var out = summaryLine(s) + "\n"
        if s.excludedExclusive > 0 {
            out += "\(s.excludedExclusive.grouped) exclusive-access file\(s.excludedExclusive == 1 ? "" : "s") excluded: \(s.excludedExclusive == 1 ? "it needs" : "they need") a MAST API token ($MAST_API_TOKEN or --token-file)\n"
        }
        if s.duplicates > 0 {
            out += "\(s.duplicates.grouped) duplicate row\(s.duplicates == 1 ? "" : "s"): the same URI as an earlier row, fetched once\n"
        }
        if s.unsafe > 0 {
            out += "\(s.unsafe.grouped) row\(s.unsafe == 1 ? "" : "s") with unsafe names, never written\n"
        }
        guard page.rows > 0 else { return out + "\nNothing is selected.\n" }
        let header = ["Filename", "Product Level", "Suffix", "Instrument", "Filter / Grating", "Size", "Access", "Note"]
        var lines: [[String]] = []
        var groupOf: [Int] = []
        for (g, group) in page.groups.enumerated() {
            for index in group.entries {
                let entry = plan.entries[index]
                let p = entry.product
                lines.append([
                    p.filename, p.level ?? "", p.displaySuffix ?? "", p.instrument ?? "", p.filters ?? "",
                    p.size.map(Format.bytes) ?? "", p.access.rawValue, note(entry, plan: plan),
                ].map(visible))
                groupOf.append(g)
            }
        }
        var widths = header.map(\.count)
        for line in lines { for (i, field) in line.enumerated() { widths[i] = max(widths[i], field.count) } }
        func row(_ fields: [String]) -> String {
            let cells = fields.enumerated().map { i, field in
                let pad = String(repeating: " ", count: widths[i] - field.count)
                return i == 5 ? pad + field : field + pad
            }
            var text = "  " + cells.joined(separator: "  ")
            while text.last == " " { text.removeLast() }
            return text
        }
        var k = 0
        for (g, group) in page.groups.enumerated() {
            let count = "\(group.totalRows.grouped) file\(group.totalRows == 1 ? "" : "s")"
            let bytes = group.totalBytes > 0 ? ", " + Format.bytes(group.totalBytes) : ""
            out += "\n\(visible(group.dataset.isEmpty ? "(no dataset)" : group.dataset))  (\(count)\(bytes))\(group.continued ? " continued" : "")\n"
            out += row(header) + "\n"
            while k < lines.count, groupOf[k] == g { out += row(lines[k]) + "\n"; k += 1 }
        }
        out += "\n\(page.rangeText)"
        if page.count > 1 { out += " (page \(page.number.grouped) of \(page.count.grouped); --page N for another)" }
        return out + "\n"
    }

    static func note(_ entry: Plan.Entry, plan: Plan) -> String { plan.note(entry) }

    static func visible(_ text: String) -> String {
        String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "\u{FFFD}" : Character($0) })
    }

    static func json(_ plan: Plan, page: Plan.Page) -> String { plan.summaryJSON(page: page) }
}
