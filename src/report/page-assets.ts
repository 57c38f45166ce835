/**
 * The report page's own style and script, inlined into the page (it loads nothing). The script
 * sorts the split table by the clicked header (numbers as numbers; again: the other way) and
 * filters its rows by the search box.
 */

export const PAGE_STYLE = `
body { font-family: "DejaVu Sans", Verdana, sans-serif; margin: 24px auto; max-width: 1500px; padding: 0 16px; color: #222; background: #fff; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; border-bottom: 2px solid #4c78a8; padding-bottom: 4px; margin-top: 2em; }
.muted { color: #555; }
table { border-collapse: collapse; margin: 8px 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
thead th { background: #eef2f7; position: sticky; top: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.facts th { background: #f6f6f6; font-weight: normal; color: #333; }
th.sortable button { all: inherit; cursor: pointer; border: 0; padding: 0; }
th[aria-sort="ascending"] button::after { content: " \\25B2"; }
th[aria-sort="descending"] button::after { content: " \\25BC"; }
tr.best td { background: #fff4c2; font-weight: bold; }
.chart { overflow-x: auto; margin: 12px 0 24px; }
.chart svg { display: block; }
.box { border-left: 4px solid #54a24b; background: #f3f9f1; padding: 8px 12px; }
#search { font-size: 1em; padding: 4px 8px; width: 22em; }
.table-wrap { max-height: 70vh; overflow: auto; max-width: 100%; }
#splits { font-size: 0.85em; }
#splits th, #splits td { padding: 2px 5px; }
#splits td.num { white-space: nowrap; }
#splits td:not(.num) { overflow-wrap: break-word; }
`;

export const PAGE_SCRIPT = `
(function () {
  'use strict';
  var table = document.getElementById('splits');
  if (!table) return;
  var body = table.tBodies[0];
  var heads = table.tHead.rows[0].cells;
  function key(row, col) {
    var cell = row.cells[col];
    var v = cell.getAttribute('data-v');
    return v !== null ? v : cell.textContent;
  }
  function numeric(v) { return v !== '' && !isNaN(Number(v)); }
  Array.prototype.forEach.call(heads, function (th, col) {
    var button = th.querySelector('button');
    if (!button) return;
    button.addEventListener('click', function () {
      var up = th.getAttribute('aria-sort') !== 'ascending';
      Array.prototype.forEach.call(heads, function (h) { if (h.classList.contains('sortable')) h.setAttribute('aria-sort', 'none'); });
      th.setAttribute('aria-sort', up ? 'ascending' : 'descending');
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = key(a, col), y = key(b, col), d;
        if (numeric(x) && numeric(y)) d = Number(x) - Number(y);
        else if (numeric(x) !== numeric(y)) d = numeric(x) ? -1 : 1;
        else d = String(x).localeCompare(String(y));
        return up ? d : -d;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
  var search = document.getElementById('search');
  var count = document.getElementById('shown');
  function filter() {
    var q = search.value.trim().toLowerCase();
    var shown = 0;
    Array.prototype.forEach.call(body.rows, function (r) {
      var hit = q === '' || r.textContent.toLowerCase().indexOf(q) >= 0;
      r.hidden = !hit;
      if (hit) shown++;
    });
    if (count) count.textContent = shown + ' of ' + body.rows.length + ' rows shown';
  }
  if (search) { search.addEventListener('input', filter); filter(); }
})();
`;
