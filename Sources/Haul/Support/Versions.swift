import CCurl
import CZlib

/// This build of Haul's version: what `haul --version` prints first and the default `User-Agent` carries.
public let haulVersion = "0.1.0"

/// The libraries this process runs with, as loaded (a shared library upgraded under a built binary
/// shows its new version): libcurl with its TLS library, and zlib. For `haul --version` and for bug
/// reports, where the transport's version is the first thing asked.
package enum Versions {
    package static var libraries: [(name: String, version: String)] {
        var versions: [(String, String)] = []
        let info = ccurl_version_info().pointee
        var curl = info.version.map { String(cString: $0) } ?? "unknown"
        if let tls = info.ssl_version { curl += " (\(String(cString: tls)))" }
        versions.append(("libcurl", curl))
        versions.append(("zlib", String(cString: zlibVersion())))
        return versions
    }

    /// `haul 0.1.0`, then one line per library: what `haul --version` prints.
    package static var report: String {
        (["haul \(haulVersion)"] + libraries.map { "\($0.name) \($0.version)" }).joined(separator: "\n")
    }
}
