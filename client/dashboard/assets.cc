#include "client/dashboard/assets.h"

namespace hypersweep::dashboard {

// Plain ES2017, no libraries. Fragments are server-rendered, escaped HTML (pages.cc), so they are
// inserted as HTML; event data is only parsed as JSON and never inserted as markup.
const char kDashboardJs[] = R"JS('use strict';
(function () {
  const body = document.body;
  const banner = document.getElementById('connection-banner');
  const MIN_DELAY = 1000, MAX_DELAY = 30000;
  let delay = MIN_DELAY, source = null, pending = false;

  function setBanner(text) {
    banner.textContent = text;
    banner.hidden = !text;
    banner.dataset.state = text ? 'reconnecting' : 'live';
  }

  function fragmentUrl(name) {
    const url = new URL(window.location.href);
    url.searchParams.set('fragment', name);
    return url.toString();
  }

  function applyFilter() {
    const input = document.getElementById('trial-filter');
    const table = document.getElementById('trials-table');
    if (!input || !table) return;
    const needle = input.value.trim().toLowerCase();
    for (const row of table.tBodies[0].rows) {
      row.hidden = needle !== '' && !row.textContent.toLowerCase().includes(needle);
    }
  }

  // An error page (503: coordinator unavailable) reloads itself once the page answers again.
  async function retryErrorPage() {
    try {
      const r = await fetch(window.location.href, {credentials: 'same-origin'});
      if (r.ok) window.location.reload();
    } catch (e) {
      // still down: try again at the next interval
    }
  }

  async function refresh() {
    if (document.getElementById('error-title')) return retryErrorPage();
    if (pending) return;
    pending = true;
    await new Promise((r) => setTimeout(r, 250));  // coalesce bursts of events
    pending = false;
    const filter = document.getElementById('trial-filter');
    const filterText = filter ? filter.value : '';
    let ok = true;
    for (const el of document.querySelectorAll('[data-fragment]')) {
      try {
        const r = await fetch(fragmentUrl(el.dataset.fragment), {credentials: 'same-origin'});
        if (r.ok) {
          el.innerHTML = await r.text();
        } else {
          ok = false;
        }
      } catch (e) {
        ok = false;
      }
    }
    const newFilter = document.getElementById('trial-filter');
    if (newFilter) newFilter.value = filterText;
    applyFilter();
    const stamp = String(Date.now());
    for (const img of document.querySelectorAll('img[data-plot]')) {
      const url = new URL(img.src, window.location.href);
      url.searchParams.set('v', stamp);
      img.src = url.toString();
    }
    body.dataset.refreshedAt = stamp;
    if (!ok && !source) setBanner('reconnecting');
    else if (ok && !body.dataset.eventsUrl) setBanner('');
  }

  function connect() {
    source = new EventSource(body.dataset.eventsUrl);
    source.onopen = function () {
      delay = MIN_DELAY;
      setBanner('');
      refresh();
    };
    source.addEventListener('update', refresh);
    source.addEventListener('end', function () {
      source.close();
      setBanner('');
      refresh();
    });
    source.onerror = function () {
      // EventSource would retry on its own at a fixed interval; do it here with a backoff.
      source.close();
      setBanner('reconnecting');
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, MAX_DELAY);
    };
  }

  // Clicking a trial-table header that is not a server-side sort link sorts this page's rows by
  // that column (numbers as numbers, empty cells last); clicking again reverses.
  function sortTable(th) {
    const table = th.closest('table');
    const column = Array.prototype.indexOf.call(th.parentNode.children, th);
    const descending = th.dataset.sorted === 'asc';
    for (const other of th.parentNode.children) delete other.dataset.sorted;
    th.dataset.sorted = descending ? 'desc' : 'asc';
    const body = table.tBodies[0];
    const rows = Array.from(body.rows);
    const key = (row) => row.cells[column] ? row.cells[column].textContent.trim() : '';
    rows.sort(function (a, b) {
      const x = key(a), y = key(b);
      if (x === '' || y === '') return (x === '') - (y === '');
      const nx = Number(x), ny = Number(y);
      const c = !isNaN(nx) && !isNaN(ny) ? nx - ny : x.localeCompare(y);
      return descending ? -c : c;
    });
    for (const row of rows) body.appendChild(row);
  }
  document.addEventListener('click', function (e) {
    const th = e.target && e.target.closest ? e.target.closest('#trials-table th') : null;
    if (th && !e.target.closest('a')) sortTable(th);
  });

  document.addEventListener('input', function (e) {
    if (e.target && e.target.id === 'trial-filter') applyFilter();
  });
  document.addEventListener('click', async function (e) {
    const button = e.target && e.target.closest ? e.target.closest('#cancel-button') : null;
    if (!button) return;
    if (!window.confirm('Cancel this sweep\'s unfinished trials?')) return;
    button.disabled = true;
    const r = await fetch(button.dataset.cancelUrl, {
      method: 'POST', credentials: 'same-origin', headers: {'X-Hypersweep-Action': 'cancel'}});
    button.dataset.result = r.ok ? 'cancelled' : 'failed';
    refresh();
  });

  if (body.dataset.eventsUrl) connect();
  const every = Number(body.dataset.refreshSeconds || 0);
  if (every > 0) setInterval(refresh, every * 1000);
})();
)JS";

const char kDashboardCss[] =
    R"CSS(body { font-family: system-ui, sans-serif; margin: 1em 2em; color: #222; }
nav a { margin-right: 1em; }
#connection-banner { background: #fff3cd; border: 1px solid #e0c060; padding: 0.4em 1em; margin: 0.5em 0; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border-bottom: 1px solid #ddd; padding: 0.2em 0.6em; text-align: left; font-variant-numeric: tabular-nums; }
tr[data-status="FAILED"] td, tr[data-status="DIVERGED"] td { color: #a00; }
progress { width: 12em; }
figure { display: inline-block; vertical-align: top; margin: 0.5em; width: 36em; max-width: 95%; }
figure img { width: 100%; height: auto; }
pre#trial-spec { background: #f6f6f6; padding: 0.5em; overflow-x: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
.wide { overflow-x: auto; max-width: 100%; }
)CSS";

}  // namespace hypersweep::dashboard
