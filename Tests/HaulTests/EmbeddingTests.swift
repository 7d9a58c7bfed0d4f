import Foundation
import Haul
import HaulArchive
import Testing

@Suite("Embedding")
struct EmbeddingTests {
    @Test("The README's embedding example runs as written, against the loopback archive")
    func readmeExample() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            let sample = SampleCatalog(jwstObservations: 2, hstObservations: 1, scale: 0.02)
            let products = folder.path + "/products.json"
            try sample.install(in: archive, catalogAt: products)
            let data = folder.path + "/data"

            // The README's lines, with the archive and paths of this test.
            let catalog = try Catalog.load(paths: [products])
            let plan = Plan(products: catalog.products, selection: Selection(quick: .recommended),
                            root: "data", resolver: try URLResolver(archive: archive.url))
            var configuration = Configuration()
            configuration.parallel = 256
            var snapshots = 0
            let report = try await withEngine(configuration) { engine in
                let download = engine.download(plan, to: .directory(data))
                var seen = 0
                for await case .progress(let p) in download.events {
                    #expect(p.filesDone <= p.filesTotal)
                    seen += 1
                }
                snapshots = seen
                return try await download.report
            }
            #expect(report.ok == 11)
            #expect(report.excluded == 6)
            #expect(report.failed == 0)
            #expect(snapshots >= 1)
            #expect(fileExists(data + "/manifest.csv"))
        }
    }
}
