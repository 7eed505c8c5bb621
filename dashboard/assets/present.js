/* Presentation mode and formulas for the live charts (assets/live-4-render.js calls NoetherStyle.apply on every
   full draw).

   - Maths: a title, axis title or legend entry written in plain text with ^, _ or |...| (|W_2|^2 - |W_3|^2,
     t^-3) is drawn with Plotly's own rich text: italic variables, <sub>/<sup>, a true minus sign, Greek letters
     (|W<sub>2</sub>|<sup>2</sup> − ...). Plotly draws that at once, in the legend, the hover box and an exported
     figure alike; typesetting with MathJax cost about 0.3 s per chart on page load and a second full draw of
     every chart once MathJax had arrived (issue 12, item 4). Prose and ids (NAG's, angular_momentum) are left
     as they are.
   - Presentation mode (body.present): fonts, ticks and titles large enough for the back of a room, thicker
     lines, wider margins. Toggling it redraws every chart (NoetherLive.redrawAll) and resizes the plots. */
(function () {
  "use strict";
  const BIG = {font: 19, title: 24, tick: 17, legend: 17, minWidth: 3.5, factor: 1.7};
  const WORDS = /^\(?[A-Za-z][a-z]+(-[a-z]+)*[,.:;)]*$/;  // prose: "First-layer", "neurons", "(direction)"
  // prose too, never maths: a possessive ("NAG's", which TeX would read as NAG' s: "NAG′s") and an identifier
  // with an underscore between words ("angular_momentum", not angular with the subscript "momentum")
  const ID = /^\(?[A-Za-z]{2,}(_[A-Za-z]{2,})*(\/[A-Za-z0-9_-]+)?(:[A-Za-z_]+)?[,.:;)]*$/;  // balance/h2, sq_norm/W1
  const PROSE = {test: (tok) => /^\(?[A-Za-z]+'s[,.:;)]*$/.test(tok) || (ID.test(tok) && /[A-Za-z]{2}[_/:][A-Za-z]/.test(tok))};
  const MATH_WORDS = new Set(["exp", "log", "sqrt", "sin", "cos", "tanh", "int", "max", "min"]);

  function present() { return document.body.classList.contains("present"); }

  const GREEK = {alpha: "α", beta: "β", gamma: "γ", delta: "δ", eta: "η", lambda: "λ", sigma: "σ", xi: "ξ",
                 rho: "ρ", mu: "μ"};
  const OPS = {"x": "×", "<=": "≤", ">=": "≥", "*": "·", "-": "−"};
  const MATHY = /[\^_]|\|[^|\s]+\|/;

  function richToken(tok) {
    if (OPS[tok]) return OPS[tok];
    if (PROSE.test(tok)) return tok;
    if (WORDS.test(tok) && !MATH_WORDS.has(tok.replace(/[,.:;)]+$/, ""))) return tok;
    return tok
      .replace(/\\/g, "")
      // Greek names as whole words (beta is not b + eta), as dashboard/mathtext.py does
      .replace(/(^|[^A-Za-z])(alpha|beta|gamma|delta|eta|lambda|sigma|xi|rho|mu)(?![A-Za-z])/g, (m, a, g) => a + GREEK[g])
      // a lone Latin letter is a variable: italic (W, w', J, t), as TeX sets it; words (exp, log) stay upright
      .replace(/(^|[^A-Za-z])([A-Za-z])(?![A-Za-z])/g, "$1<i>$2</i>")
      .replace(/\^\(?(-?[0-9.]+|-?(?:<i>)?[A-Za-z](?:<\/i>)?)\)?/g, (m, e) => "<sup>" + e.replace("-", "−") + "</sup>")
      .replace(/_\{?((?:<i>[A-Za-z]<\/i>|[0-9+\-])+)\}?/g, (m, e) => "<sub>" + e.replace(/-/g, "−") + "</sub>")
      .replace(/'/g, "′");
  }

  // "|W_2|^2 - |W_3|^2" -> "|<i>W</i><sub>2</sub>|<sup>2</sup> − |<i>W</i><sub>3</sub>|<sup>2</sup>"; text
  // without formulas, or with characters Plotly would read as markup, unchanged
  function rich(s) {
    if (typeof s !== "string" || !MATHY.test(s) || /[<>&]/.test(s)) return s;
    const words = s.split(/\s+/).filter(Boolean);
    if (!words.some((w) => !PROSE.test(w) && MATHY.test(w))) return s;  // only ids: plain text
    return words.map(richToken).join(" ");
  }

  function titled(obj, size) {
    if (!obj) return obj;
    const t = typeof obj === "string" ? {text: obj} : Object.assign({}, obj);
    t.text = rich(t.text);
    if (size) t.font = Object.assign({}, t.font || {}, {size});
    return t;
  }

  function styleAxis(ax, on) {
    const out = Object.assign({}, ax || {});
    if (out.title) out.title = titled(out.title, on ? BIG.font : null);
    if (on) out.tickfont = Object.assign({}, out.tickfont || {}, {size: BIG.tick});
    // a log axis labels 2 and 5 between the powers of ten at 3/4 size, too small to read on a projector
    if (on && out.type === "log" && out.dtick === undefined) out.dtick = 1;
    return out;
  }

  function apply(data, layout, kind) {
    const on = present();
    const out = Object.assign({}, layout);
    if (out.title) out.title = titled(out.title, on ? BIG.title : null);
    for (const k in out) {
      if (/^[xy]axis\d*$/.test(k)) out[k] = styleAxis(out[k], on);
    }
    if (out.scene) {
      out.scene = Object.assign({}, out.scene);
      for (const a of ["xaxis", "yaxis", "zaxis"]) out.scene[a] = styleAxis(out.scene[a], on);
    }
    if (on) {
      out.font = Object.assign({}, out.font || {}, {size: BIG.font});
      out.legend = Object.assign({}, out.legend || {}, {font: Object.assign({}, (out.legend || {}).font || {}, {size: BIG.legend})});
      if (kind !== "gl") {
        const m = out.margin || {};
        out.margin = Object.assign({}, m, {l: Math.max(m.l || 0, 95), r: Math.max(m.r || 0, m.r > 40 ? 95 : 25),
                                          t: Math.max(m.t || 0, 64), b: Math.max(m.b || 0, 120)});
      }
      out.annotations = (out.annotations || []).map((a) => Object.assign({}, a, {font: Object.assign({}, a.font || {}, {size: 14})}));
    }
    const styled = data.map((tr) => {
      let t = tr;
      if (typeof tr.name === "string") {
        const n = rich(tr.name);
        if (n !== tr.name) t = Object.assign({}, t, {name: n});
      }
      if (on && t.line && (t.mode || "lines").indexOf("lines") >= 0) {
        const w = Math.max(BIG.minWidth, BIG.factor * (t.line.width || 2));
        t = Object.assign({}, t, {line: Object.assign({}, t.line, {width: w})});
      }
      return t;
    });
    return {data: styled, layout: out};
  }

  function restyleAll() {
    if (window.NoetherLive && window.NoetherLive.redrawAll) window.NoetherLive.redrawAll();
    if (window.Plotly) {
      for (const gd of document.querySelectorAll(".js-plotly-plot")) {
        try { window.Plotly.Plots.resize(gd); } catch (e) { /* a plot being replaced */ }
      }
    }
  }

  let was = null;
  new MutationObserver(() => {
    const on = present();
    if (on !== was) { was = on; setTimeout(restyleAll, 50); }
  }).observe(document.body || document.documentElement, {attributes: true, attributeFilter: ["class"]});

  window.NoetherStyle = {apply, rich, present};
})();
