import Foundation
import Testing

/// The commands of README.md and docs/, run by `scripts/check-docs` against this build's `haul` and
/// the loopback archive (docs/testing.md, "Every command in the docs", says which and how).
@Suite("Docs")
struct DocsTests {
    @Test("Every command in README.md and docs/ runs, or is marked parse-only or not-run with a reason")
    func everyCommandRuns() async throws {
        let folder = TemporaryFolder()
        let check = try HaulProcess(
            ["--haul", haulExecutable], in: folder.path, executable: repositoryRoot + "/scripts/check-docs"
        )
        // About a minute and a half alone on two shared cores; the rest of the suite runs beside it.
        let status = await check.wait(timeout: .seconds(900))
        #expect(status == 0, "scripts/check-docs exited \(status):\n\(check.stderr)\n\(check.stdout)")
        #expect(check.stdout.contains("  failed: 0"), "\(check.stdout)")
        let ran = check.stdout.firstMatch(of: /ran: (\d+)/).flatMap { Int($0.1) } ?? 0
        #expect(ran >= 40, "fewer commands ran than the docs hold: \(check.stdout)")
    }
}
