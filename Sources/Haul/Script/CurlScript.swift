/// The overlay's API QUERY: a bash script that fetches a plan's files with plain curl, one line per
/// unique URI, into the layout `haul download --dir` writes (SPEC §4).
///
/// The script writes nothing but the files: no manifest. It asks for a MAST API token (without echo,
/// or reads `MAST_API_TOKEN`) only when exclusive-access products are in it, sends it only to the
/// archive, and keeps it out of every command line (curl reads the header from a pipe, so it never
/// shows in `ps`). It never contains a token.
public struct CurlScript: Sendable {
    /// The plan the script fetches. Build it with `authorized: true`, so exclusive-access products are
    /// in it (the script asks for the token when it runs).
    public var plan: Plan
    /// The archive, whose origin alone is sent the token.
    public var archive: URLResolver
    /// Retries of a transient failure, for curl's `--retry`.
    public var retries: Int
    /// Says where the script came from, in its header (`haul script catalog.json --quick recommended`).
    public var generator: String

    public init(plan: Plan, archive: URLResolver, retries: Int = 5, generator: String = "haul script") {
        self.plan = plan
        self.archive = archive
        self.retries = retries
        self.generator = generator
    }

    /// Counts for the script's header and the command's summary.
    public var fetched: Int { plan.downloads.count }
    public var exclusive: Int { plan.downloads.filter { plan.entries[$0].product.access == .exclusive }.count }

    /// The script's text.
    public func text() -> String {
        let downloads = plan.downloads
        let origin = Origin(archive.archive)
        let needsToken = downloads.contains { plan.entries[$0].product.access == .exclusive }
        let bytes = downloads.reduce(Int64(0)) { $0.addingSize(plan.entries[$1].product.size) }
        var out = """
        #!/usr/bin/env bash
        # Fetches \(downloads.count.grouped) files\(bytes > 0 ? " (\(bytes.grouped) bytes)" : "") with curl into DIR/, \(plan.layout == .nested ? "DIR/DATASET/FILE" : "DIR/FILE").
        # Written by: \(Self.comment(generator))
        # Usage: bash THIS-SCRIPT [DIR]    (DIR defaults to \(Self.comment(plan.root)))
        # Needs bash and curl 7.83 or later. Duplicate rows are fetched once\(plan.summary.duplicates > 0 ? " (\(plan.summary.duplicates) here)" : "").
        """
        out += "\n"
        if plan.summary.unsafe > 0 {
            out += "# \(plan.summary.unsafe) products are left out: their names would escape DIR (see haul select).\n"
        }
        if needsToken {
            out += "# \(exclusive) exclusive-access files need a MAST API token: set MAST_API_TOKEN, or type it when asked.\n"
        }
        out += """
        set -u
        dir="${1:-}"
        [ -n "$dir" ] || dir=\(Self.quoted(plan.root))
        command -v curl >/dev/null 2>&1 || { echo "this script needs curl" >&2; exit 2; }

        """
        if needsToken {
            out += """
            if [ -z "${MAST_API_TOKEN:-}" ]; then
              if [ -t 0 ]; then
                IFS= read -r -s -p "MAST API token (input hidden): " MAST_API_TOKEN; echo >&2
              fi
              if [ -z "${MAST_API_TOKEN:-}" ]; then
                echo "exclusive-access files need a MAST API token: set MAST_API_TOKEN" >&2; exit 2
              fi
            fi
            # The header goes to curl through a pipe, never on its command line.
            token() { printf 'Authorization: token %s\\n' "$MAST_API_TOKEN"; }

            """
        }
        out += "failed=0\n"
        let options = "--fail --location --create-dirs --retry \(retries) --silent --show-error --remove-on-error"
        for index in downloads {
            let entry = plan.entries[index]
            let auth = entry.product.access == .exclusive && origin != nil && Origin(entry.url) == origin ? " -H @<(token)" : ""
            out += "curl \(options)\(auth) -o \"$dir\"/\(Self.quoted(entry.path)) \(Self.quoted(entry.url)) || failed=$((failed + 1))\n"
        }
        out += """
        if [ "$failed" -gt 0 ]; then
          echo "$failed of \(downloads.count) files failed; run the script again to retry them" >&2
          exit 1
        fi
        echo "\(downloads.count) files in $dir" >&2

        """
        return out
    }

    /// A bash word for any text: single-quoted, or `$'…'` when it holds control characters.
    static func quoted(_ text: String) -> String {
        if !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            return "'" + text.replacingAll("'", with: "'\\''") + "'"
        }
        var out = "$'"
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "'": out += "\\'"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                out += "\\x" + (hex.count == 1 ? "0" + hex : hex)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "'"
    }

    /// Text safe inside a `#` comment: one line.
    static func comment(_ text: String) -> String {
        String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) })
    }
}
