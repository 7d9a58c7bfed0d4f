/// The overlay's API QUERY: a bash script that fetches a plan's files with plain curl into the layout
/// `haul download --dir` writes (``Plan/Layout``), as robust as the download.
///
/// - Public files need no token. Exclusive-access files are fetched only with one (`MAST_API_TOKEN`, or
///   typed without echo when the script runs on a terminal); without it they are skipped with a
///   warning, as `haul download` excludes them. The token goes only to the archive's origin and never
///   on a command line (curl reads the header from a pipe), and the script never contains it.
/// - Transfers run in parallel: one `curl --parallel --parallel-max N` reading its URLs from a config
///   pipe where curl is 7.75 or later (it reports each transfer with `%{urlnum}` and `%{exitcode}`;
///   `--parallel-immediate` opens the connections at once),
///   else up to N curl processes at once (bash background jobs).
/// - Each file is written as `.NAME.haul-part` beside its name and renamed into place once curl says it
///   arrived (and its length is the catalog's, when the catalog states one), so a file under its final
///   name is always complete: a re-run skips those (of the catalog's size, when it states one) and
///   fetches only the rest.
/// - It writes nothing but the files: no manifest.
/// - Files with a URL in MAST's public bucket (``cloud``) are fetched from there first, anonymously;
///   each one the bucket does not give is then fetched from the archive, as `haul download --source auto` does.
package struct CurlScript: Sendable {
    /// The plan the script fetches. Build it with `authorized: true`, so exclusive-access products are
    /// in it (the script fetches them when a token is there when it runs).
    package var plan: Plan
    /// The archive, whose origin alone is sent the token.
    package var archive: URLResolver
    /// Retries of a transient failure, for curl's `--retry`.
    package var retries: Int
    /// Transfers at once, by default (`HAUL_PARALLEL` changes it when the script runs).
    package var parallel: Int
    /// Says where the script came from, in its header (`haul script catalog.json --quick recommended`).
    package var generator: String
    /// Bucket URLs of public files, by entry index (``Engine/cloudLocations(_:entries:)``): fetched
    /// there first, the archive's URL the fallback.
    package var cloud: [Int: String] = [:]

    package init(plan: Plan, archive: URLResolver, retries: Int = 5, parallel: Int = 8, generator: String = "haul script", cloud: [Int: String] = [:]) {
        self.cloud = cloud
        self.plan = plan
        self.archive = archive
        self.retries = retries
        self.parallel = parallel
        self.generator = generator
    }

    /// Counts for the script's header and the command's summary.
    package var fetched: Int { plan.downloads.count }
    package var exclusive: Int { plan.downloads.filter { plan.entries[$0].product.access == .exclusive }.count }

    /// The script's text.
    package func text() -> String {
        let downloads = plan.downloads
        let origin = Origin(archive.archive)
        let exclusive = self.exclusive
        let bytes = downloads.reduce(Int64(0)) { $0.addingSize(plan.entries[$1].product.size) }
        var out = """
        #!/usr/bin/env bash
        # Fetches \(downloads.count.grouped) files\(bytes > 0 ? " (\(bytes.grouped) bytes)" : "") with curl into DIR/, \(plan.layout == .nested ? "DIR/DATASET/FILE" : "DIR/FILE").
        # Written by: \(Self.comment(generator))
        # Usage: bash THIS-SCRIPT [DIR]    (DIR defaults to \(Self.comment(plan.root)))
        # Needs bash 4.3 and curl. Runs HAUL_PARALLEL transfers at once (default \(parallel)): one curl --parallel
        # where curl is 7.75 or later, else that many curl processes. Run it again to fetch what is missing:
        # files already complete are skipped. Duplicate rows are fetched once\(plan.summary.duplicates > 0 ? " (\(plan.summary.duplicates) here)" : "").
        """
        out += "\n"
        if plan.summary.unsafe > 0 {
            out += "# \(plan.summary.unsafe) products are left out: their names would escape DIR (see haul select).\n"
        }
        let inCloud = downloads.filter { cloud[$0] != nil && plan.entries[$0].product.access != .exclusive }
        if !inCloud.isEmpty {
            out += "# \(inCloud.count.grouped) public files come from MAST's public bucket (anonymously); each one it does not give, from the archive.\n"
        }
        if exclusive > 0 {
            out += "# \(exclusive) exclusive-access files need a MAST API token (MAST_API_TOKEN, or typed when asked); without one they are skipped.\n"
        }
        out += """
        set -u
        dir="${1:-}"
        [ -n "$dir" ] || dir=\(Self.quoted(plan.root))
        parallel="${HAUL_PARALLEL:-\(parallel)}"
        case "$parallel" in ''|*[!0-9]*|0) echo "HAUL_PARALLEL must be a whole number of transfers, at least 1" >&2; exit 2 ;; esac
        command -v curl >/dev/null 2>&1 || { echo "this script needs curl" >&2; exit 2; }
        options=(--fail --location --create-dirs --retry \(retries) --silent --show-error)

        # Each file: its path under DIR, its URL, its size ('' when the catalog states none), and who may
        # fetch it: p public; x exclusive access, at the archive (sent the token); o exclusive access elsewhere.
        files=(

        """
        for index in downloads {
            let entry = plan.entries[index]
            let access: String
            if entry.product.access == .exclusive {
                access = origin != nil && Origin(entry.url) == origin ? "x" : "o"
            } else {
                access = "p"
            }
            out += "\(Self.quoted(entry.path)) \(Self.quoted(entry.url)) \(entry.product.size.map(String.init) ?? "''") \(access)\n"
        }
        out += ")\n"
        // The bucket's URL of a file (by its index in files), tried before the archive's.
        out += "declare -A cloud=(\n"
        for (n, index) in downloads.enumerated() where cloud[index] != nil && plan.entries[index].product.access != .exclusive {
            out += "[\(n * 4)]=\(Self.quoted(cloud[index]!))\n"
        }
        out += ")\n"
        out += Self.sortPart + (exclusive > 0 ? Self.tokenPart : Self.noTokenPart) + Self.fetchPart
        return out
    }

    // The script after its list of files: plain bash, the same for every plan.

    /// Sorts the files into complete, public and exclusive.
    static let sortPart = #"""

    # The temporary name a file is written under, beside its own: DIR/F → DIR/.F.haul-part (in REPLY).
    part_of() { local p="$dir/$1"; REPLY="${p%/*}/.${p##*/}.haul-part"; }
    size_of() { local n; n=$(wc -c < "$1") || return 1; REPLY=$((n)); }

    # Sorts the files: complete ones (under their name, of the catalog's size when it states one) are
    # skipped; the rest is fetched without the token, with it, or skipped for want of one.
    plain=() exclusive=() elsewhere=()
    complete=0 total=$(( ${#files[@]} / 4 ))
    for ((i = 0; i < ${#files[@]}; i += 4)); do
      f="$dir/${files[i]}" size="${files[i+2]}"
      if [ -f "$f" ] && { [ -z "$size" ] || { size_of "$f" && [ "$REPLY" = "$size" ]; }; }; then
        complete=$((complete + 1)); continue
      fi
      case "${files[i+3]}" in
        x) exclusive+=("$i") ;;
        o) elsewhere+=("$i") ;;
        *) plain+=("$i") ;;
      esac
    done

    """#

    /// Where exclusive-access files are: the token, asked for when needed and sent to the archive only.
    static let tokenPart = #"""
    skipped=0
    if [ $(( ${#exclusive[@]} + ${#elsewhere[@]} )) -gt 0 ]; then
      if [ -z "${MAST_API_TOKEN:-}" ] && [ -t 0 ]; then
        IFS= read -r -s -p "MAST API token for $(( ${#exclusive[@]} + ${#elsewhere[@]} )) exclusive-access files (input hidden; Enter to skip them): " MAST_API_TOKEN; echo >&2
      fi
      if [ -n "${MAST_API_TOKEN:-}" ]; then
        # Exclusive files elsewhere are fetched without it: the token goes to the archive only.
        plain+=(${elsewhere[@]+"${elsewhere[@]}"})
      else
        skipped=$(( ${#exclusive[@]} + ${#elsewhere[@]} ))
        exclusive=()
        echo "warning: $skipped exclusive-access files skipped: they need a MAST API token (set MAST_API_TOKEN)" >&2
      fi
    fi
    # The header goes to curl through a pipe, never on its command line.
    token() { printf 'Authorization: token %s\n' "$MAST_API_TOKEN"; }
    # Runs a curl command ($2…) with the token's header when $1 is 1.
    with_token() {
      if [ "$1" = 1 ]; then shift; "$@" -H @<(token); else shift; "$@"; fi
    }

    """#

    /// Without exclusive-access files: no token at all.
    static let noTokenPart = #"""
    skipped=0
    with_token() { shift; "$@"; }

    """#

    /// The fetching, after the files are sorted.
    static let fetchPart = #"""
    fetched=0 failed=0
    # After curl: checks the length (when the catalog states it) and renames the file into place.
    finish_one() {
      local i=$1 size="${files[$1+2]}"
      part_of "${files[i]}"; local part=$REPLY
      [ -e "$part" ] || : > "$part"    # an empty body leaves no file behind
      if [ -n "$size" ] && size_of "$part" && [ "$REPLY" != "$size" ]; then
        echo "${files[i]}: size mismatch (expected $size bytes, received $REPLY)" >&2
        rm -f "$part"; return 1
      fi
      mv -f "$part" "$dir/${files[i]}"
    }

    # curl 7.75 or later: one process runs every transfer (--parallel); else background jobs.
    use_parallel=0
    if [ "${HAUL_CURL_PARALLEL:-1}" != 0 ]; then
      read -r _ version _ < <(curl --version 2>/dev/null)
      major=${version%%.*} rest=${version#*.}
      minor=${rest%%.*}
      if [ "$major" -gt 7 ] 2>/dev/null || { [ "$major" -eq 7 ] 2>/dev/null && [ "$minor" -ge 75 ]; }; then use_parallel=1; fi
    fi
    max=$parallel
    [ "$max" -le 300 ] || max=300    # curl's own bound on --parallel-max

    # The URL a file is fetched from now (in REPLY): the bucket's first, when it has one, then the archive's.
    from_cloud=1
    url_of() { if [ "$from_cloud" = 1 ] && [ -n "${cloud[$1]:-}" ]; then REPLY=${cloud[$1]}; else REPLY=${files[$1+1]}; fi; }
    # Files whose fetch from the bucket failed: fetched again from the archive.
    again=()

    # A quoted string of curl's config syntax (in REPLY).
    config_quoted() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; REPLY="\"$s\""; }
    config() {
      local i
      for i in "$@"; do
        url_of "$i"; config_quoted "$REPLY"; printf 'url = %s\n' "$REPLY"
        part_of "${files[i]}"; config_quoted "$REPLY"; printf 'output = %s\n' "$REPLY"
      done
    }

    # Fetches the files whose indices follow $1 (1: with the token) with one curl --parallel; each
    # transfer on a connection of its own at once (--parallel-immediate), rather than waiting to see
    # whether the first connection multiplexes (with HTTP/1.1 that wait held every other transfer).
    fetch_parallel() {
      local with_token=$1; shift
      [ "$#" -gt 0 ] || return 0
      local list=("$@") seen=0 n code
      while read -r n code; do
        case "$n" in ''|*[!0-9]*) continue ;; esac
        seen=$((seen + 1))
        if [ "$code" = 0 ] && finish_one "${list[n]}"; then
          fetched=$((fetched + 1))
        else
          part_of "${files[${list[n]}]}"; rm -f "$REPLY"
          if [ "$from_cloud" = 1 ] && [ -n "${cloud[${list[n]}]:-}" ]; then again+=("${list[n]}"); else failed=$((failed + 1)); fi
        fi
      done < <(with_token "$with_token" curl "${options[@]}" --parallel --parallel-immediate --parallel-max "$max" \
                 --write-out '%{urlnum} %{exitcode}\n' --config <(config "${list[@]}"))
      # Transfers curl never reported (it was stopped) did not arrive.
      failed=$((failed + ${#list[@]} - seen))
    }

    # One file with one curl (a background job of fetch_jobs).
    fetch_one() {
      local i=$1
      part_of "${files[i]}"; local part=$REPLY
      url_of "$i"
      with_token "$2" curl "${options[@]}" -o "$part" "$REPLY" && finish_one "$i" && return 0
      rm -f "$part"
      if [ "$from_cloud" = 1 ] && [ -n "${cloud[$i]:-}" ]; then
        # The bucket did not give it: the archive.
        with_token "$2" curl "${options[@]}" -o "$part" "${files[i+1]}" && finish_one "$i" && return 0
        rm -f "$part"
      fi
      return 1
    }

    # Fetches the files whose indices follow $1 (1: with the token), up to $max curl processes at once.
    fetch_jobs() {
      local with_token=$1 running=0 i; shift
      for i in "$@"; do
        if [ "$running" -ge "$max" ]; then
          if wait -n; then fetched=$((fetched + 1)); else failed=$((failed + 1)); fi
          running=$((running - 1))
        fi
        fetch_one "$i" "$with_token" &
        running=$((running + 1))
      done
      while [ "$running" -gt 0 ]; do
        if wait -n; then fetched=$((fetched + 1)); else failed=$((failed + 1)); fi
        running=$((running - 1))
      done
    }

    if [ "$use_parallel" = 1 ]; then
      fetch_parallel 0 ${plain[@]+"${plain[@]}"}
      if [ "${#again[@]}" -gt 0 ]; then
        echo "${#again[@]} files not given by the bucket: fetching them from the archive" >&2
        from_cloud=0
        fetch_parallel 0 "${again[@]}"
      fi
      fetch_parallel 1 ${exclusive[@]+"${exclusive[@]}"}
    else
      fetch_jobs 0 ${plain[@]+"${plain[@]}"}
      fetch_jobs 1 ${exclusive[@]+"${exclusive[@]}"}
    fi

    echo "$fetched fetched, $complete already complete, $skipped skipped (exclusive access, no token), $failed failed, of $total files in $dir" >&2
    if [ "$failed" -gt 0 ]; then
      echo "run the script again to fetch the $failed that failed" >&2
      exit 1
    fi

    """#

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
