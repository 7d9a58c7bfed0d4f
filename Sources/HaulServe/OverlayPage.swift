import Haul

/// The overlay's page, rendered on the server: the eight numbered elements of the MAST Download
/// Overlay over the served catalog, and a small plain script that keeps the summary, the preview and
/// the links up to date through the server's own interface. Nothing is fetched from elsewhere.
enum OverlayPage {
    /// One level's box and its product types.
    struct Level {
        var mission: String
        var value: String
        var label: String
        var count = 0
        var types: [String: (display: String, count: Int)] = [:]
    }

    /// The levels with their product types, mission by mission (JWST, HST, then others).
    static func levels(_ products: [Product]) -> [Level] {
        var byKey: [String: Level] = [:]
        for p in products where !p.guideStar {
            let mission = (p.mission ?? "").uppercased()
            let value: String
            let label: String
            if mission == "HST", let category = p.category {
                value = category
                label = category == "hasp" ? "HASP" : category.prefix(1).uppercased() + category.dropFirst()
            } else if let level = p.level {
                value = level
                label = level.first?.isNumber == true ? "Level \(level)" : level.prefix(1).uppercased() + level.dropFirst()
            } else {
                continue
            }
            let key = mission + "\u{0}" + value
            var box = byKey[key] ?? Level(mission: mission.isEmpty ? "Other" : mission, value: value, label: label)
            box.count += 1
            if let suffix = p.suffix {
                let current = box.types[suffix]
                box.types[suffix] = (p.displaySuffix ?? suffix, (current?.count ?? 0) + 1)
            }
            byKey[key] = box
        }
        let hstOrder = ["uncalibrated": 0, "calibrated": 1, "aux": 2, "hasp": 3]
        func missionRank(_ m: String) -> Int { m == "JWST" ? 0 : m == "HST" ? 1 : 2 }
        return byKey.values.sorted { a, b in
            if a.mission != b.mission { return (missionRank(a.mission), a.mission) < (missionRank(b.mission), b.mission) }
            let ra = hstOrder[a.value] ?? 10, rb = hstOrder[b.value] ?? 10
            return ra != rb ? ra < rb : a.value < b.value
        }
    }

    /// HTML-escaped as the manifest escapes it, with control characters (but newline and tab) shown as
    /// U+FFFD: the page shows names and messages from catalogs.
    static func escape(_ text: String) -> String {
        var shown = String.UnicodeScalarView()
        for c in text.unicodeScalars {
            shown.append(c.value < 0x20 && c != "\n" && c != "\t" ? "\u{FFFD}" : c)
        }
        return Manifest.escape(String(shown))
    }

    static let lock = ##"<svg class="lock" viewBox="0 0 16 16" width="14" height="14" aria-label="exclusive access" role="img"><title>exclusive access</title><rect x="2.5" y="7" width="11" height="8" rx="1.5" fill="#e8b400" stroke="#7a5c00"/><path d="M5 7V5a3 3 0 0 1 6 0v2" fill="none" stroke="#7a5c00" stroke-width="1.6"/></svg>"##

    /// - Parameter back: The page's address, when the request may know it.
    static func error(_ message: String, back: String?) -> String {
        let link = back.map { "<p><a href=\"\(escape($0))\">Back to the overlay</a></p>" } ?? "<p>Open the address <code>haul serve</code> printed.</p>"
        return """
        <!doctype html><html lang="en"><head><meta charset="utf-8"><title>Haul — error</title>
        <style>body{font:15px system-ui,sans-serif;margin:2em;max-width:60em}pre{background:#fdecea;padding:1em;white-space:pre-wrap}</style></head>
        <body><h1>That did not work</h1><pre id="error">\(escape(message))</pre>\(link)</body></html>
        """
    }

    static func render(catalog: Catalog?, names: [String], key: String) -> String {
        let products = catalog?.products ?? []
        let levels = levels(products)
        let hasGuideStars = products.contains { $0.guideStar }
        let hasJWST = products.contains { ($0.mission ?? "").uppercased() == "JWST" }
        var levelHTML = ""
        var lastMission = ""
        for (i, level) in levels.enumerated() {
            if level.mission != lastMission {
                if !lastMission.isEmpty { levelHTML += "</div>" }
                levelHTML += "<div class=\"mission\"><h3>\(escape(level.mission))</h3>"
                lastMission = level.mission
            }
            levelHTML += """
            <fieldset class="level"><legend><label><input type="checkbox" name="level" value="\(escape(level.value))" id="level-\(i)"> \(escape(level.label)) <span class="count">(\(level.count))</span></label></legend>
            """
            for (suffix, type) in level.types.sorted(by: { $0.key < $1.key }) {
                levelHTML += "<label class=\"type\"><input type=\"checkbox\" name=\"suffix\" value=\"\(escape(suffix.lowercased()))\" data-level=\"level-\(i)\"> \(escape(type.display)) <span class=\"count\">(\(type.count))</span></label>"
            }
            levelHTML += "</fieldset>"
        }
        if !lastMission.isEmpty { levelHTML += "</div>" }
        if levels.isEmpty { levelHTML = "<p class=\"muted\">No product levels in this list.</p>" }
        let title = names.isEmpty ? "no product list yet" : names.joined(separator: ", ")
        let upload = """
        <section class="box" id="upload"><h2>\(catalog == nil ? "Load a product list" : "Load another product list")</h2>
        <p>Any format Haul reads: a MAST CAOM or missions-search JSON list, the overlay's CSV export, an astropy table, or one URI a line.</p>
        <p><input type="file" id="upload-file"> <button type="button" id="upload-send">Load file</button></p>
        <p><textarea id="upload-text" rows="4" cols="80" placeholder="mast:JWST/product/jw01234001001_02101_00001_nrca1_cal.fits"></textarea><br>
        <button type="button" id="paste-send">Load pasted URIs</button></p><pre id="upload-error" class="error" hidden></pre></section>
        """
        guard catalog != nil else {
            return page(title: title, key: key, body: upload)
        }
        let body = """
        <div class="grid">
        <section class="box" id="summary-box"><h2><span class="n">1</span> Selection summary</h2>
          <p id="summary" aria-live="polite">…</p>
          <p id="exclusive" class="warning" hidden>\(lock) <span id="exclusive-text"></span></p>
          <p id="duplicates" class="muted" hidden></p>
        </section>
        <section class="box" id="quick-box"><h2><span class="n">2</span> Quick select</h2>
          <button type="button" id="quick-all" data-quick="all">All</button>
          <button type="button" id="quick-none" data-quick="none">None</button>
          <button type="button" id="quick-recommended" data-quick="recommended">Recommended</button>
          <p class="muted">All leaves out JWST guide-star files; add them below.</p>
        </section>
        <section class="box wide" id="levels-box"><h2><span class="n">3</span> Data processing levels</h2>
          \(hasJWST ? "<label class=\"pipeline\"><input type=\"checkbox\" id=\"pipeline-inputs\" name=\"pipeline-inputs\" value=\"1\"> Pipeline inputs <span class=\"muted\">(what running the calibration pipeline yourself needs)</span></label>" : "")
          \(levelHTML)
        </section>
        <section class="box" id="guidestar-box"><h2><span class="n">4</span> Guide-star files</h2>
          \(hasGuideStars ? "<label><input type=\"checkbox\" id=\"guidestar\" name=\"guidestar\" value=\"1\"> Include guide-star files <span class=\"muted\">(JWST only; highest calibration level only)</span></label>" : "<p class=\"muted\">No JWST guide-star files in this list.</p>")
        </section>
        <section class="box" id="regex-box"><h2><span class="n">5</span> Regex matching</h2>
          <label for="regex">File names matching a JavaScript regular expression (<code>pattern</code> or <code>/pattern/flags</code>):</label><br>
          <input type="text" id="regex" name="regex" spellcheck="false" autocomplete="off">
          <pre id="regex-error" class="error" hidden></pre>
        </section>
        <section class="box" id="view-box"><h2><span class="n">6</span> View and export</h2>
          <button type="button" id="view">View All Selected Files</button>
          <a id="export" class="button" href="#" download>Export Selected File List</a>
        </section>
        <section class="box" id="layout-box"><h2><span class="n">7</span> Download folder organization</h2>
          <label><input type="radio" name="layout" value="nested" id="layout-nested" checked> NESTED <span class="muted">(ROOT/DATASET/FILE)</span></label>
          <label><input type="radio" name="layout" value="flat" id="layout-flat"> FLAT <span class="muted">(ROOT/FILE)</span></label>
        </section>
        <section class="box" id="download-box"><h2><span class="n">8</span> Download</h2>
          <p id="token-row" hidden>\(lock) <label for="token">Exclusive-access files are selected. MAST token (sent to this server for this download only, checked with the archive, never stored):</label><br>
            <input type="password" id="token" autocomplete="off"></p>
          <p><label>ZIP compression <select id="compression"><option value="auto" selected>auto (deflate what compresses)</option><option value="store">store (fastest; the browser shows the time left and can resume)</option><option value="deflate">deflate</option></select></label></p>
          <button type="button" id="start" class="primary">START DOWNLOAD</button>
          <a id="api" class="button" href="#" download>API QUERY</a>
          <p class="muted">START DOWNLOAD streams one ZIP through the browser as it is written; API QUERY gives a bash script of curl commands.</p>
        </section>
        </div>
        <section class="box" id="preview" hidden><h2>Selected files</h2>
          <div class="pager"><button type="button" id="first">«</button> <button type="button" id="prev">‹</button>
            <span id="range"></span> <button type="button" id="next">›</button> <button type="button" id="last">»</button>
            <label>Rows per page <select id="page-size"><option>10</option><option>25</option><option>50</option><option selected>100</option><option>500</option></select></label></div>
          <div class="scroll"><table id="preview-table"><thead><tr><th>Filename</th><th>Product Level</th><th>Suffix</th><th>Instrument</th><th>Filter / Grating</th><th>Size</th><th>Access</th><th>Note</th></tr></thead><tbody></tbody></table></div>
        </section>
        \(upload)
        """
        return page(title: title, key: key, body: body)
    }

    private static func page(title: String, key: String, body: String) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
        <title>Haul — Download Overlay: \(escape(title))</title>
        <style>
        body{font:14px system-ui,sans-serif;margin:0;background:#f3f5f8;color:#1c2430}
        header{background:#16324f;color:#fff;padding:.6em 1.2em}header h1{font-size:1.2em;margin:0}header p{margin:.2em 0 0;opacity:.8}
        main{padding:1em 1.2em}.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:.8em}
        .box{background:#fff;border:1px solid #d3d9e2;border-radius:6px;padding:.6em .9em;margin-bottom:.8em}.wide{grid-column:1/-1}
        h2{font-size:1em;margin:.1em 0 .5em}h3{font-size:.95em;margin:.4em 0}.n{display:inline-block;background:#16324f;color:#fff;border-radius:50%;width:1.5em;height:1.5em;text-align:center;line-height:1.5em;margin-right:.4em;font-size:.85em}
        .mission{display:flex;flex-wrap:wrap;gap:.6em;align-items:flex-start}.mission h3{flex-basis:100%}
        fieldset.level{border:1px solid #d3d9e2;border-radius:4px;min-width:12em}fieldset.level legend{font-weight:600}label.type{display:block;margin-left:1.2em}
        .pipeline{float:right}.count,.muted{color:#667}.warning{background:#fff6d5;border:1px solid #e8b400;padding:.3em .5em;border-radius:4px}
        .error{color:#a40000;background:#fdecea;padding:.4em;margin:.3em 0;font:13px ui-monospace,monospace}#regex{font:13px ui-monospace,monospace;width:100%;box-sizing:border-box}#token{width:100%;box-sizing:border-box}
        button,.button{font:inherit;padding:.3em .8em;border:1px solid #16324f;border-radius:4px;background:#fff;color:#16324f;cursor:pointer;text-decoration:none;display:inline-block}
        button.active{background:#16324f;color:#fff}button.primary{background:#0b7a3e;border-color:#0b7a3e;color:#fff;font-weight:600}button:disabled{opacity:.4;cursor:default}
        #summary{font-size:1.1em;font-weight:600}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.15em .5em;border-bottom:1px solid #e5e9ef;white-space:nowrap}
        tr.dataset td{background:#e9eef5;font-weight:600}td.size{text-align:right}.scroll{overflow-x:auto}.pager{margin-bottom:.4em}.lock{vertical-align:-2px}
        </style></head>
        <body data-key="\(escape(key))"><header><h1>Haul — Download Overlay</h1><p>\(escape(title))</p></header><main>
        \(body)
        </main><script>\(script)</script></body></html>
        """
    }

    /// The page's behaviour: plain DOM calls, no library.
    static let script = #"""
    "use strict";
    (function () {
      const key = document.body.dataset.key;
      const $ = (id) => document.getElementById(id);
      const lock = document.querySelector("svg.lock") ? document.querySelector("svg.lock").outerHTML : "";
      function send(body, done) {
        fetch("/catalog?key=" + encodeURIComponent(key), { method: "POST", body: body }).then(async (r) => {
          const text = await r.text();
          if (r.ok) { location.reload(); return; }
          let message = text; try { message = JSON.parse(text).error; } catch (e) {}
          $("upload-error").textContent = message; $("upload-error").hidden = false;
        });
      }
      if ($("upload-send")) {
        $("upload-send").onclick = () => { const f = $("upload-file").files[0]; if (f) send(f); };
        $("paste-send").onclick = () => send($("upload-text").value);
      }
      if (!$("summary")) return;
      let quick = "all";
      let page = 1;
      let pages = 1;
      const levelBoxes = () => Array.from(document.querySelectorAll("input[name=level]"));
      const typeBoxes = () => Array.from(document.querySelectorAll("input[name=suffix]"));
      function pairs() {
        const out = [["quick", quick]];
        // Under All every level box shows checked: that is All's picture, not more selectors.
        if (quick !== "all") {
          const checkedLevels = new Set();
          for (const box of levelBoxes()) if (box.checked) { out.push(["level", box.value]); checkedLevels.add(box.id); }
          const suffixes = new Set();
          for (const box of typeBoxes()) if (box.checked && !checkedLevels.has(box.dataset.level)) suffixes.add(box.value);
          for (const s of suffixes) out.push(["suffix", s]);
        }
        if ($("guidestar") && $("guidestar").checked) out.push(["guidestar", "1"]);
        if ($("pipeline-inputs") && $("pipeline-inputs").checked) out.push(["pipeline-inputs", "1"]);
        if ($("regex").value) out.push(["regex", $("regex").value]);
        out.push(["layout", $("layout-flat").checked ? "flat" : "nested"]);
        if ($("compression").value !== "auto") out.push(["compression", $("compression").value]);
        return out;
      }
      const query = (extra) => pairs().concat(extra || []).map(([k, v]) => encodeURIComponent(k) + "=" + encodeURIComponent(v)).join("&");
      const number = (n) => n.toLocaleString("en-US");
      function bytes(n) {
        if (n < 1000) return n + " B";
        const units = ["kB", "MB", "GB", "TB", "PB"]; let v = n; let u = -1;
        do { v /= 1000; u++; } while (v >= 1000 && u < units.length - 1);
        return v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0) + " " + units[u];
      }
      function showQuick() {
        for (const q of ["all", "none", "recommended"]) $("quick-" + q).classList.toggle("active", quick === q);
      }
      let generation = 0;
      async function refresh() {
        const mine = ++generation;
        $("export").href = "/export.csv?" + query();
        $("api").href = "/script.sh?" + query();
        const r = await fetch("/summary.json?" + query());
        const s = await r.json();
        if (mine !== generation) return;
        if (!r.ok) {
          $("regex-error").textContent = s.error.replace(/^--regex: /, "");
          $("regex-error").hidden = false;
          $("summary").textContent = "The regular expression does not compile.";
          $("start").disabled = true; $("view").disabled = true;
          return;
        }
        $("regex-error").hidden = true;
        $("view").disabled = false;
        let text = number(s.selected_files) + " of " + number(s.total_files) + " files";
        if (s.total_bytes > 0) text += " (" + bytes(s.selected_bytes) + " of " + bytes(s.total_bytes) + ")";
        $("summary").textContent = text + " selected";
        $("exclusive").hidden = s.excluded_exclusive === 0;
        $("exclusive-text").textContent = s.excluded_exclusive + " exclusive-access file" + (s.excluded_exclusive === 1 ? " is" : "s are") + " excluded: enter a MAST token under START DOWNLOAD to include " + (s.excluded_exclusive === 1 ? "it" : "them") + ".";
        $("token-row").hidden = s.excluded_exclusive === 0;
        $("duplicates").hidden = s.duplicates === 0;
        $("duplicates").textContent = s.duplicates + " duplicate row" + (s.duplicates === 1 ? "" : "s") + ": the same file as an earlier row, fetched once.";
        $("start").disabled = s.selected_files === 0 && !(s.excluded_exclusive > 0 && $("token").value);
        if (!$("preview").hidden) preview();
      }
      async function preview() {
        const size = $("page-size").value;
        const r = await fetch("/preview.json?" + query([["page", String(page)], ["page-size", size]]));
        const s = await r.json();
        if (!r.ok) return;
        pages = Math.max(1, s.pages);
        if (page > pages) { page = pages; return preview(); }
        const body = $("preview-table").tBodies[0];
        body.textContent = "";
        let dataset = null;
        for (const row of s.rows) {
          if (row.dataset !== dataset) {
            dataset = row.dataset;
            const tr = body.insertRow(); tr.className = "dataset";
            const td = tr.insertCell(); td.colSpan = 8; td.textContent = dataset || "(no dataset)";
          }
          const tr = body.insertRow();
          if (row.access === "EXCLUSIVE_ACCESS") tr.className = "exclusive";
          const cells = [row.filename, row.product_level || "", row.suffix || "", row.instrument || "", row.filters || "", row.size === null ? "" : bytes(row.size), "", row.note];
          cells.forEach((value, i) => {
            const td = tr.insertCell();
            if (i === 5) td.className = "size";
            if (i === 6) { td.innerHTML = row.access === "EXCLUSIVE_ACCESS" ? lock + " " : ""; td.appendChild(document.createTextNode(row.access)); }
            else td.textContent = value;
          });
        }
        $("range").textContent = s.rows_total === 0 ? "0 of 0" : number(s.first) + "\u2013" + number(s.last) + " of " + number(s.rows_total);
        $("first").disabled = $("prev").disabled = page <= 1;
        $("next").disabled = $("last").disabled = page >= pages;
      }
      for (const q of ["all", "none", "recommended"]) {
        $("quick-" + q).onclick = () => {
          quick = q;
          for (const box of levelBoxes().concat(typeBoxes())) box.checked = q === "all";
          if (q !== "all") for (const id of ["guidestar", "pipeline-inputs"]) if ($(id)) $(id).checked = false;
          page = 1; showQuick(); refresh();
        };
      }
      // All checks every box, as the overlay does; changing one then leaves the checked boxes as the selection.
      function leaveAll() { if (quick === "all") { quick = "none"; showQuick(); } }
      for (const box of levelBoxes()) box.onchange = () => {
        leaveAll();
        for (const t of typeBoxes()) if (t.dataset.level === box.id) t.checked = box.checked;
        page = 1; refresh();
      };
      for (const box of typeBoxes()) box.onchange = () => {
        leaveAll();
        if (!box.checked) $(box.dataset.level).checked = false;
        page = 1; refresh();
      };
      for (const id of ["guidestar", "pipeline-inputs", "layout-nested", "layout-flat", "compression"]) if ($(id)) $(id).onchange = () => { page = 1; refresh(); };
      let typing = null;
      $("regex").oninput = () => { clearTimeout(typing); typing = setTimeout(() => { page = 1; refresh(); }, 150); };
      $("token").oninput = () => refresh();
      $("view").onclick = () => { $("preview").hidden = false; page = 1; preview(); $("preview").scrollIntoView(); };
      $("first").onclick = () => { page = 1; preview(); };
      $("prev").onclick = () => { page = Math.max(1, page - 1); preview(); };
      $("next").onclick = () => { page = Math.min(pages, page + 1); preview(); };
      $("last").onclick = () => { page = pages; preview(); };
      $("page-size").onchange = () => { page = 1; preview(); };
      $("start").onclick = () => {
        // The browser streams the answer to a file. Without a token, a GET: a stored bundle then has
        // its length and ETag, and the browser can resume it. With one, a form POST, so the token stays
        // out of every URL (and out of the history).
        const withToken = !$("token-row").hidden && $("token").value;
        const form = document.createElement("form");
        // The key also in the POST's address: the server checks it on the request's head, before it
        // reads a body (a GET form's fields are its query).
        form.method = withToken ? "post" : "get"; form.hidden = true;
        form.action = withToken ? "/download.zip?key=" + encodeURIComponent(key) : "/download.zip";
        const fields = pairs().concat([["key", key]]);
        if (withToken) fields.push(["token", $("token").value]);
        for (const [name, value] of fields) {
          const input = document.createElement("input"); input.type = "hidden"; input.name = name; input.value = value; form.appendChild(input);
        }
        document.body.appendChild(form); form.submit(); form.remove();
      };
      for (const box of levelBoxes().concat(typeBoxes())) box.checked = true;
      showQuick(); refresh();
    })();
    """#
}
