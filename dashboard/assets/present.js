/* Presentation mode and typeset maths for the live charts (assets/live-4-render.js calls NoetherStyle.apply on every
   full draw).

   - Maths: a title, axis title or legend entry written in plain text with ^, _ or |...| (|W_2|^2 - |W_3|^2,
     t^-3) becomes a TeX string ($...$) that Plotly typesets with MathJax, once MathJax is on the page (the run
     page loads it with its hidden dcc.Graph(mathjax=True)).
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
  function mathjax() { return !!(window.MathJax && (window.MathJax.typesetPromise || window.MathJax.Hub)); }

  function texToken(tok) {
    if (tok === "x") return "\\times";
    if (tok === "<=") return "\\le";
    if (tok === ">=") return "\\ge";
    if (PROSE.test(tok)) return "\\text{" + tok.replace(/[{}\\$]/g, "") + "}";  // \text shows "_" as it is
    if (WORDS.test(tok) && !MATH_WORDS.has(tok.replace(/[,.:;)]+$/, ""))) {
      return "\\text{" + tok.replace(/[{}\\]/g, "") + "}";
    }
    return tok
      .replace(/\\/g, "")
      .replace(/\^\(?(-?[0-9.]+|-?[A-Za-z])\)?/g, "^{$1}")
      .replace(/_\{?([A-Za-z0-9+\-]+)\}?/g, "_{$1}")
      .replace(/\|/g, "\\vert ")
      // Greek names as whole words (beta is not b + eta), as dashboard/mathtext.py does
      .replace(/(^|[^A-Za-z\\])(alpha|beta|gamma|delta|eta|lambda|sigma|xi|rho|mu)(?![A-Za-z])/g, "$1\\$2 ");
  }

  // "|W_2|^2 - |W_3|^2" -> "$\vert W_{2}\vert ^{2} - \vert W_{3}\vert ^{2}$"; text without formulas unchanged
  function tex(s) {
    if (typeof s !== "string" || s.charAt(0) === "$" || !/[\^_]|\|[^|\s]+\|/.test(s) || /[<>$&%#~]/.test(s)) return s;
    const words = s.split(/\s+/).filter(Boolean);
    if (!words.some((w) => !PROSE.test(w) && /[\^_]|\|[^|\s]+\|/.test(w))) return s;  // only ids: plain text
    const toks = words.map(texToken);
    return "$" + toks.join("\\ ") + "$";
  }

  function titled(obj, size) {
    if (!obj) return obj;
    const t = typeof obj === "string" ? {text: obj} : Object.assign({}, obj);
    if (mathjax()) t.text = tex(t.text);
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
    const math = mathjax();
    if (!on && !math) return {data, layout};
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
      if (math && typeof tr.name === "string") {
        const n = tex(tr.name);
        // the legend typesets the name; a hover box cannot (it would show the raw $...$): it keeps the plain name
        if (n !== tr.name) t = Object.assign({}, t, {name: n}, tr.hovertemplate ? {} : {hovertemplate: "%{x}, %{y}<extra>" + tr.name.replace(/[<>]/g, "") + "</extra>"});
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

  // when MathJax arrives (it loads asynchronously), draw the titles again, typeset
  let waited = 0;
  const poll = setInterval(() => {
    waited += 1;
    if (mathjax()) { clearInterval(poll); restyleAll(); } else if (waited > 120) { clearInterval(poll); }
  }, 500);

  window.NoetherStyle = {apply, tex, present};
})();
