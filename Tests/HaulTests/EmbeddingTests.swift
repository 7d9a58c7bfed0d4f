import Foundation
import Haul
import HaulArchive
import Testing

@Suite("Embedding")
struct EmbeddingTests {
    /// The example's lines, between its markers in EmbeddingExample.swift.
    static func example() throws -> String {
        let source = try String(contentsOfFile: testsFolder + "/EmbeddingExample.swift", encoding: .utf8)
        let begin = try #require(source.range(of: "// BEGIN EMBEDDING EXAMPLE\n"))
        let end = try #require(source.range(of: "// END EMBEDDING EXAMPLE\n"))
        return String(source[begin.upperBound..<end.lowerBound])
    }

    /// The first ```swift block of a Markdown text after `heading` (the whole text when `nil`).
    static func swiftBlock(in markdown: String, after heading: String? = nil) throws -> String {
        var text = Substring(markdown)
        if let heading { text = text[try #require(text.range(of: heading)).upperBound...] }
        let open = try #require(text.range(of: "```swift\n"))
        let close = try #require(text[open.upperBound...].range(of: "\n```\n"))
        return String(text[open.upperBound..<close.lowerBound]) + "\n"
    }

    @Test("The Embedding article's code, and the README's, are the example the tests compile and run")
    func articleIsTheExample() throws {
        let example = try Self.example()
        #expect(example.contains("engine.download(plan, to: target) { events in"))
        let article = try String(contentsOfFile: packageRoot + "/Sources/Haul/Haul.docc/Embedding.md", encoding: .utf8)
        #expect(try Self.swiftBlock(in: article) == example)
        let readme = try String(contentsOfFile: packageRoot + "/README.md", encoding: .utf8)
        #expect(try Self.swiftBlock(in: readme, after: "\n## Embedding\n") == example)
    }

    @Test("The embedding example runs as written against the loopback archive")
    func exampleRuns() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            let sample = SampleCatalog(jwstObservations: 2, hstObservations: 1, scale: 0.02)
            let products = folder.path + "/products.json"
            try sample.install(in: archive, catalogAt: products)
            let data = folder.path + "/data"
            let report = try await downloadRecommended(catalog: products, archive: archive.url, into: data)
            #expect(report.ok == 11)
            #expect(report.excluded == 6)
            #expect(report.failed == 0)
            #expect(fileExists(data + "/manifest.csv"))
        }
    }
}
