// The Embedding article's example (Sources/Haul/Haul.docc/Embedding.md), compiled with the tests and
// run by EmbeddingTests against the loopback archive. The lines between the markers are the article's
// code block, byte for byte (EmbeddingTests checks it, and the README's copy).

// BEGIN EMBEDDING EXAMPLE
import Haul

/// Downloads the recommended files of a product list into a folder, printing progress and failures.
func downloadRecommended(catalog path: String, archive: String, into folder: String) async throws -> DownloadReport {
    let catalog = try Catalog.load(paths: [path])
    let plan = Plan(products: catalog.products, selection: Selection(quick: .recommended),
                    root: "data", resolver: try URLResolver(archive: archive))
    var configuration = Configuration()
    configuration.parallel = 256
    let target = DownloadTarget.directory(folder)   // or .zip("data.zip"), .zipStream(anyByteStream)
    try target.check(for: plan)     // optional: download checks too, before any request
    return try await withEngine(configuration) { engine in
        // Cancelling the task that awaits this cancels the download; it never outlives the call.
        try await engine.download(plan, to: target) { events in
            for await event in events {
                switch event {
                case .progress(let p):
                    print("\(p.filesDone)/\(p.filesTotal) files, \(p.bytesDone) bytes")
                case .file(let row):
                    if let failure = row.failure, failure.code == .notFound {
                        print("\(row.file): not on the archive")
                    } else if let failure = row.failure {
                        print("\(row.file): \(failure.message)")
                    }
                default:
                    break
                }
            }
        }
    }
}
// END EMBEDDING EXAMPLE
