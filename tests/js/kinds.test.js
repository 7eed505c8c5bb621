// The meta.live kinds: declared once (dashboard/assets/live-kinds.json, which dashboard/figures.py reads;
// tests/dashboard/test_live_kinds.py checks the Python side), one drawer each in live-4-render.js.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const R = require("../../dashboard/assets/live-4-render.js");

test("every declared kind has exactly one drawer, and every drawer a declared kind", () => {
  const declared = Object.keys(JSON.parse(fs.readFileSync(path.join(__dirname, "../../dashboard/assets/live-kinds.json"))));
  const drawers = Object.keys(R.LINE).concat(Object.keys(R.FRAME));
  assert.deepEqual(drawers.slice().sort(), declared.slice().sort());
  assert.equal(new Set(drawers).size, drawers.length);
});
