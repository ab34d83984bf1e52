/* tinytorch explorer: draws one snapshot (the JSON in .ttx-data) inside its own <div>.
   Defined once per page however many explorers it holds; each explorer calls it with its root.
   Positions come from the snapshot (laid out by networkx in Python); this file only draws
   the boxes and edges, fills the panel for the clicked tensor, and runs the backward slider. */
var tinytorchExplore = window.tinytorchExplore || function (root) {
  "use strict";
  var data = JSON.parse(root.querySelector(".ttx-data").textContent);
  var nodes = data.nodes, SVGNS = "http://www.w3.org/2000/svg";
  var W = 150, H = 50, GX = 180, GY = 82, PAD = 16;
  var state = { selected: null, step: 0 };

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function num(v) {  // the snapshot writes NaN and inf as strings
    if (typeof v === "string") return v === "nan" ? NaN : (v === "inf" ? Infinity : -Infinity);
    return v;
  }
  function fmt(v) {
    v = num(v);
    if (typeof v === "boolean") return v ? "True" : "False";
    if (Number.isNaN(v)) return "nan";
    if (!isFinite(v)) return v > 0 ? "inf" : "-inf";
    if (Number.isInteger(v) && Math.abs(v) < 1e6) return String(v);
    return Number(v).toPrecision(3).replace(/\.?0+(e|$)/, "$1");
  }
  function shape(s) { return "(" + s.join(", ") + (s.length === 1 ? ",)" : ")"); }
  function bad(n) { return n.stats.nan + n.stats.inf > 0; }

  // --- layout: the snapshot's units to pixels --------------------------------------------------
  var minX = Math.min.apply(null, nodes.map(function (n) { return n.x; }));
  var maxX = Math.max.apply(null, nodes.map(function (n) { return n.x; }));
  var maxY = Math.max.apply(null, nodes.map(function (n) { return n.y; }));
  function px(n) { return PAD + (n.x - minX) * GX; }
  function py(n) { return PAD + n.y * GY; }

  // --- the page -----------------------------------------------------------------------------------
  var steps = data.backward_order.length;
  var controls = el("div", { "class": "ttx-controls" });
  controls.appendChild(el("span", {}, "backward:"));
  var slider = el("input", { type: "range", min: "0", max: String(steps), value: "0", step: "1",
                             "class": "ttx-slider", "aria-label": "backward step" });
  controls.appendChild(slider);
  var stepLabel = el("span", { "class": "ttx-step" });
  controls.appendChild(stepLabel);
  var main = el("div", { "class": "ttx-main" });
  var graphBox = el("div", { "class": "ttx-graph" });
  var panel = el("div", { "class": "ttx-panel" });
  main.appendChild(graphBox);
  main.appendChild(panel);
  root.appendChild(controls);
  if (data.nonfinite_origin !== null) {
    var o = nodes[data.nonfinite_origin];
    root.appendChild(el("div", { "class": "ttx-warn ttx-origin-note" },
      "NaN/inf: first produced by " + o.label + " " + shape(o.shape) + " (red); tensors holding them are orange."));
  }
  root.appendChild(main);

  var width = PAD * 2 + (maxX - minX) * GX + W, height = PAD * 2 + maxY * GY + H;
  var canvas = svg("svg", { width: width, height: height, viewBox: "0 0 " + width + " " + height,
                            role: "img", "aria-label": "computation graph" });
  var defs = svg("defs");
  var marker = svg("marker", { id: root.id + "-arrow", viewBox: "0 0 10 10", refX: "10", refY: "5",
                               markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" });
  marker.appendChild(svg("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#777" }));
  defs.appendChild(marker);
  canvas.appendChild(defs);
  data.edges.forEach(function (e) {
    var a = nodes[e[0]], b = nodes[e[1]];
    var x1 = px(a) + W / 2, y1 = py(a) + H, x2 = px(b) + W / 2, y2 = py(b);
    var my = (y1 + y2) / 2;
    canvas.appendChild(svg("path", { "class": "ttx-edge", "marker-end": "url(#" + root.id + "-arrow)",
      d: "M" + x1 + "," + y1 + " C" + x1 + "," + my + " " + x2 + "," + my + " " + x2 + "," + y2 }));
  });
  var boxes = nodes.map(function (n, i) {
    var cls = "ttx-node" + (n.is_leaf ? (n.requires_grad ? " ttx-param" : " ttx-const") : "");
    if (bad(n)) cls += i === data.nonfinite_origin ? " ttx-origin" : " ttx-bad";
    var g = svg("g", { "class": cls, "data-index": String(i), transform: "translate(" + px(n) + "," + py(n) + ")",
                       tabindex: "0" });
    g.appendChild(svg("rect", { width: W, height: H, rx: 6 }));
    var title = n.name && !n.is_leaf ? n.name + " = " + n.label : n.label;
    g.appendChild(svg("text", { x: 8, y: 16, "class": "ttx-op" }, title.length > 22 ? title.slice(0, 21) + "…" : title));
    g.appendChild(svg("text", { x: 8, y: 31 }, shape(n.shape) + " " + n.dtype));
    g.appendChild(svg("text", { x: 8, y: 44 }, n.device + (n.requires_grad ? " · grad" : "")));
    var mark = svg("text", { x: W - 16, y: 16, "class": "ttx-gradmark" }, "");
    g.appendChild(mark);
    g.appendChild(svg("title", {}, title + " " + shape(n.shape)));
    g.addEventListener("click", function () { select(i); });
    g.addEventListener("keydown", function (ev) { if (ev.key === "Enter") select(i); });
    canvas.appendChild(g);
    return { g: g, mark: mark };
  });
  graphBox.appendChild(canvas);

  // --- the panel --------------------------------------------------------------------------------
  function row(table, key, value, cls) {
    var tr = el("tr");
    tr.appendChild(el("td", {}, key));
    tr.appendChild(el("td", { "class": "ttx-mono " + (cls || "") }, value));
    table.appendChild(tr);
  }
  function statsTable(st) {
    var t = el("table", { "class": "ttx-stats" });
    if (st.min !== undefined) {
      row(t, "min / max", fmt(st.min) + " / " + fmt(st.max));
      row(t, "mean / std", fmt(st.mean) + " / " + fmt(st.std));
    }
    if (st.nan || st.inf) row(t, "non-finite", st.nan + " NaN, " + st.inf + " inf", "ttx-warn");
    return t;
  }
  function valuesLine(values, total) {
    return "[" + values.map(fmt).join(", ") + (total > values.length ? ", … (" + total + " in all)" : "") + "]";
  }
  function bufferPicture(n) {
    var b = n.buffer, box = el("div", { "class": "ttx-buffer" });
    var used = {};
    b.used.forEach(function (run) { for (var p = run[0]; p <= run[1]; p++) used[p] = true; });
    b.cells.forEach(function (v, k) {
      var p = b.start + k;
      var c = el("div", { "class": "ttx-cell" + (used[p] ? " ttx-used" : ""), "data-pos": String(p) }, fmt(v));
      c.appendChild(el("small", {}, "@" + p));
      box.appendChild(c);
    });
    return box;
  }
  function render() {
    var i = state.selected;
    panel.textContent = "";
    if (i === null) {
      panel.appendChild(el("p", { "class": "ttx-note" },
        "Click a tensor to see its strides, its buffer and its gradient. Blue: parameters, grey: constants."));
      return;
    }
    var n = nodes[i];
    panel.appendChild(el("h4", {}, (n.name ? n.name + ": " : "") + (n.op || (n.requires_grad ? "leaf (requires grad)" : "leaf"))));
    var t = el("table", { "class": "ttx-props" });
    row(t, "shape", shape(n.shape), "ttx-shape");
    row(t, "strides", shape(n.strides), "ttx-strides");
    row(t, "offset", String(n.offset), "ttx-offset");
    row(t, "dtype / device", n.dtype + " / " + n.device);
    row(t, "contiguous", n.contiguous ? "yes" : "no", "ttx-contiguous");
    row(t, "compact", n.compact ? "yes: row-major over its whole buffer" : "no: compact() would copy it");
    row(t, "elements", n.numel + " of a buffer of " + n.buffer.size);
    panel.appendChild(t);
    panel.appendChild(el("div", { "class": "ttx-note" }, "buffer" + (n.buffer.cells.length < n.buffer.size ?
      " (positions " + n.buffer.start + "–" + (n.buffer.start + n.buffer.cells.length - 1) + " of " + n.buffer.size + ")" : "") +
      ": green cells are the elements this view reads"));
    panel.appendChild(bufferPicture(n));
    if (n.buffer.view_pos.length) {
      panel.appendChild(el("div", { "class": "ttx-note" }, "view element → buffer position"));
      panel.appendChild(el("div", { "class": "ttx-mono ttx-viewpos" }, n.buffer.view_pos.map(function (p) { return "@" + p; }).join(" ") +
        (n.numel > n.buffer.view_pos.length ? " …" : "")));
    }
    panel.appendChild(el("div", { "class": "ttx-note" }, "values"));
    panel.appendChild(el("div", { "class": "ttx-mono ttx-values" }, valuesLine(n.values, n.numel)));
    panel.appendChild(statsTable(n.stats));
    var gBox = el("div", { "class": "ttx-grad" });
    gBox.appendChild(el("h4", {}, "gradient"));
    if (!n.grad) {
      gBox.appendChild(el("div", { "class": "ttx-note" }, n.requires_grad ? "none reaches it" : "does not require grad"));
    } else if (n.grad_step === null || n.grad_step > state.step) {
      gBox.appendChild(el("div", { "class": "ttx-note ttx-grad-pending" },
        "not yet: complete after backward step " + n.grad_step + " (move the slider)"));
    } else {
      gBox.appendChild(el("div", { "class": "ttx-mono ttx-grad-values" }, valuesLine(n.grad.values, n.numel)));
      gBox.appendChild(statsTable(n.grad.stats));
    }
    panel.appendChild(gBox);
  }
  function select(i) {
    if (state.selected !== null) boxes[state.selected].g.classList.remove("ttx-selected");
    state.selected = i;
    boxes[i].g.classList.add("ttx-selected");
    render();
  }
  function setStep(s) {
    state.step = s;
    var running = s > 0 ? data.backward_order[s - 1] : null;
    boxes.forEach(function (b, i) {
      b.g.classList.toggle("ttx-running", i === running);
      var done = nodes[i].grad && nodes[i].grad_step !== null && nodes[i].grad_step <= s;
      b.mark.textContent = done ? "∇" : "";
    });
    stepLabel.textContent = s === 0 ? "step 0 / " + steps + ": forward done, the output's gradient seeded" :
      "step " + s + " / " + steps + ": " + nodes[running].label + " ran backward";
    render();
  }
  slider.addEventListener("input", function () { setStep(Number(slider.value)); });
  setStep(0);
};
window.tinytorchExplore = tinytorchExplore;
