// The Dashboard's pages: each polls its JSON under /api and redraws in place. No framework, no CDN.
'use strict';
(function () {
  const POLL_MS = 2000;

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'className') el.className = v;
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  async function getJson(url) {
    const response = await fetch(url, { headers: { accept: 'application/json' } });
    if (response.status === 401) { location.href = '/login?returnUrl=' + encodeURIComponent(location.pathname + location.search); return null; }
    if (!response.ok) throw new Error(url + ': ' + response.status);
    return response.json();
  }

  function poll(fn) {
    let busy = false;
    const run = async () => {
      if (busy) return;
      busy = true;
      try { await fn(); } catch (e) { console.error(e); } finally { busy = false; }
    };
    run();
    setInterval(run, POLL_MS);
  }

  function replace(container, ...children) { container.replaceChildren(...children.flat()); }
  const fmtTime = iso => new Date(iso).toLocaleTimeString([], { hour12: false }) + '.' + String(new Date(iso).getMilliseconds()).padStart(3, '0');
  const fmtNum = (n, digits = 1) => n === null || n === undefined ? '–' : Number(n).toFixed(digits).replace(/\.0+$/, '');
  const fmtPct = r => r === null || r === undefined ? '–' : (r * 100).toFixed(1) + ' %';
  const qs = () => new URLSearchParams(location.search);
  const link = (href, text, cls) => h('a', { href, className: cls }, text);
  const palette = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];
  const colors = new Map();
  const color = key => { if (!colors.has(key)) colors.set(key, palette[colors.size % palette.length]); return colors.get(key); };

  function table(headers, rows, empty) {
    if (!rows.length) return h('p', { className: 'muted empty' }, empty || 'Nothing yet.');
    return h('table', {}, h('thead', {}, h('tr', {}, headers.map(x => h('th', {}, x)))), h('tbody', {}, rows));
  }

  function attributes(attrs) {
    return h('span', { className: 'attrs' }, Object.entries(attrs || {}).map(([k, v]) => h('span', { className: 'attr' }, h('b', {}, k), '=', v)));
  }

  // A line chart on <canvas>: one line per series, x = bucket index, y from 0 to the largest value.
  function drawChart(canvas, chart) {
    const ctx = canvas.getContext('2d');
    const w = canvas.width, hgt = canvas.height, left = 44, bottom = 20, top = 8, right = 110;
    ctx.clearRect(0, 0, w, hgt);
    ctx.font = '11px sans-serif';
    const series = (chart && chart.series) || [];
    const n = series.length ? series[0].values.length : 0;
    let max = 0;
    for (const s of series) for (const v of s.values) if (v !== null && v > max) max = v;
    max = max > 0 ? max * 1.1 : 1;
    ctx.strokeStyle = '#ccc'; ctx.fillStyle = '#666';
    for (let i = 0; i <= 4; i++) {
      const y = top + (hgt - top - bottom) * i / 4;
      ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(w - right, y); ctx.stroke();
      ctx.fillText(fmtNum(max * (4 - i) / 4, 2), 2, y + 4);
    }
    if (chart) ctx.fillText('-' + Math.round(n * chart.bucketSeconds / 60) + ' min', left, hgt - 4);
    ctx.fillText('now', w - right - 20, hgt - 4);
    if (!series.length) { ctx.fillText('no data yet', left + 10, top + 20); return; }
    const x = i => left + (w - left - right) * (n <= 1 ? 1 : i / (n - 1));
    const y = v => top + (hgt - top - bottom) * (1 - v / max);
    series.forEach((s, index) => {
      ctx.strokeStyle = color(s.group); ctx.lineWidth = 2; ctx.beginPath();
      let drawing = false;
      s.values.forEach((v, i) => {
        if (v === null) { drawing = false; return; }
        if (drawing) ctx.lineTo(x(i), y(v)); else { ctx.moveTo(x(i), y(v)); drawing = true; }
      });
      ctx.stroke();
      ctx.fillStyle = color(s.group);
      // Dots too, so a lone value (one bucket with data) still shows.
      s.values.forEach((v, i) => { if (v !== null) { ctx.beginPath(); ctx.arc(x(i), y(v), 2.5, 0, 2 * Math.PI); ctx.fill(); } });
      ctx.fillText(s.group, w - right + 8, top + 12 + index * 14);
    });
  }

  async function chartInto(id, url) {
    const canvas = document.getElementById(id);
    if (!canvas) return;
    const chart = await getJson(url);
    if (chart) drawChart(canvas, chart);
  }

  async function stats() {
    const s = await getJson('/api/stats');
    if (!s) return;
    const part = (label, x) => `${label} ${x.count}/${x.capacity}` + (x.dropped ? ` (${x.dropped} dropped)` : '');
    document.getElementById('stats').textContent = [part('spans', s.spans), part('logs', s.logs), part('points', s.metrics)].join(' · ');
  }

  async function services() {
    const list = document.getElementById('services');
    if (!list) return;
    const names = await getJson('/api/services');
    if (names) replace(list, names.map(n => h('option', { value: n })));
  }

  const pages = {
    async resources(root) {
      let selected = null;
      const consoleBox = document.getElementById('console');
      const act = async (name, action) => {
        const response = await fetch(`/api/resources/${encodeURIComponent(name)}/actions/${action}`, { method: 'POST' });
        if (!response.ok) alert(`${action} ${name}: ${response.status} ${await response.text()}`);
      };
      poll(async () => {
        const data = await getJson('/api/resources');
        if (!data) return;
        if (data.error) { replace(root, h('p', { className: 'muted' }, data.error)); return; }
        // Redrawing every poll must not close what the operator opened.
        const open = new Set([...root.querySelectorAll('details[open]')].map(d => d.dataset.name));
        replace(root, table(['Name', 'Type', 'State', 'Health', 'Started', 'Endpoints', 'Environment', 'Actions'],
          data.resources.map(r => h('tr', { 'data-resource': r.name },
            h('td', {}, h('b', {}, r.name)),
            h('td', {}, r.type),
            h('td', { className: 'state state-' + String(r.state).toLowerCase() }, r.state),
            h('td', {}, r.health || '–'),
            h('td', {}, r.startTime ? fmtTime(r.startTime) : '–'),
            h('td', {}, (r.endpoints || []).map(e => h('div', {}, e.url.startsWith('http') ? link(e.url, e.url) : e.url))),
            h('td', {}, h('details', { 'data-name': r.name, open: open.has(r.name) }, h('summary', {}, (r.environment || []).length + ' variables'),
              h('table', { className: 'env' }, (r.environment || []).map(e => h('tr', {}, h('td', {}, e.name), h('td', { className: e.secret ? 'secret' : '' }, e.value)))))),
            h('td', { className: 'actions' },
              h('button', { onclick: () => { selected = r.name; document.getElementById('console-name').textContent = r.name; consoleBox.hidden = false; } }, 'Console'),
              r.canBeRestarted ? ['stop', 'start', 'restart'].map(a => h('button', { onclick: () => act(r.name, a) }, a)) : []),
          )), 'No resources reported by the AppHost.'));
        if (selected) {
          const out = await getJson(`/api/resources/${encodeURIComponent(selected)}/console`);
          if (out) {
            const pre = document.getElementById('console-lines');
            const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
            pre.textContent = out.lines.join('\n');
            if (atBottom) pre.scrollTop = pre.scrollHeight;
          }
        }
      });
    },

    async tenants(root) {
      const minutes = document.getElementById('minutes');
      poll(async () => {
        const m = minutes.value;
        const data = await getJson('/api/tenants?minutes=' + m);
        if (!data) return;
        replace(root, data.length ? data.map(t => h('section', { className: 'tenant', 'data-tenant': t.tenant },
          h('h2', {}, link('/tenants/' + encodeURIComponent(t.tenant), t.tenant),
            h('span', { className: 'links' }, link('/logs?tenant=' + encodeURIComponent(t.tenant), 'logs'), ' · ',
              link('/traces?tenant=' + encodeURIComponent(t.tenant), 'traces'), ' · ',
              link('/traces?tenant=' + encodeURIComponent(t.tenant) + '&errors=true', 'failed traces'))),
          h('p', { className: 'muted' }, `${fmtNum(t.throughputPerMinute)} jobs/min · failure rate ${fmtPct(t.failureRate)} · ${fmtNum(t.waiting, 0)} waiting · ${t.errorSpanCount} failed spans`),
          queueTable(t.queues))) : h('p', { className: 'muted empty' }, 'No tenant has reported telemetry yet.'));
        await chartInto('chart-throughput', `/api/metrics/chart?name=queue.jobs.completed&groupBy=tenant.id&minutes=${m}`);
        await chartInto('chart-wait', `/api/metrics/chart?name=queue.job.wait_time&groupBy=tenant.id&minutes=${m}`);
      });
    },

    async tenant(root) {
      const tenant = root.dataset.tenant;
      const failures = document.getElementById('failures');
      poll(async () => {
        const data = await getJson('/api/tenants/' + encodeURIComponent(tenant) + '?minutes=5');
        if (!data) return;
        const t = data.figures;
        replace(root, h('p', { className: 'muted' }, `Last 5 minutes: ${fmtNum(t.throughputPerMinute)} jobs/min · failure rate ${fmtPct(t.failureRate)} · ${fmtNum(t.waiting, 0)} waiting`), queueTable(t.queues));
        replace(failures, table(['Time', 'Resource', 'Operation', 'Queue', 'Job', 'Error', ''],
          data.failures.map(f => h('tr', { className: 'failure' },
            h('td', {}, fmtTime(f.time)), h('td', {}, f.service), h('td', {}, f.name), h('td', {}, f.queue || '–'),
            h('td', {}, [f.job, f.jobId].filter(Boolean).join(' #') || '–'), h('td', { className: 'error' }, f.message || ''),
            h('td', {}, link('/traces/' + f.traceId + '?span=' + f.spanId, 'trace', 'trace-link')))), 'No failures recorded for this tenant.'));
        const enc = encodeURIComponent(tenant);
        await chartInto('chart-throughput', `/api/metrics/chart?name=queue.jobs.completed&groupBy=messaging.destination.name&minutes=5&tenant=${enc}`);
        await chartInto('chart-wait', `/api/metrics/chart?name=queue.job.wait_time&groupBy=messaging.destination.name&minutes=5&tenant=${enc}`);
      });
    },

    async logs(root) {
      services();
      const query = qs();
      poll(async () => {
        const data = await getJson('/api/logs?' + query.toString());
        if (!data) return;
        replace(root, table(['Time', 'Level', 'Resource', 'Category', 'Message', 'Attributes', 'Trace'],
          data.map(l => h('tr', { className: 'log level-' + l.level.toLowerCase() },
            h('td', {}, fmtTime(l.time)), h('td', {}, l.level), h('td', {}, l.service), h('td', { className: 'category' }, l.category),
            h('td', { className: 'message' }, l.message), h('td', {}, attributes(l.attributes)),
            h('td', {}, l.traceId ? link('/traces/' + l.traceId, l.traceId.slice(0, 8)) : ''))), 'No logs match.'));
      });
    },

    async traces(root) {
      services();
      const query = qs();
      poll(async () => {
        const data = await getJson('/api/traces?' + query.toString());
        if (!data) return;
        replace(root, table(['Start', 'Trace', 'Resources', 'Tenants', 'Spans', 'Errors', 'Duration'],
          data.map(t => h('tr', { className: t.errorCount ? 'trace has-error' : 'trace' },
            h('td', {}, fmtTime(t.start)), h('td', {}, link('/traces/' + t.traceId, `${t.rootService}: ${t.name}`, 'trace-link')),
            h('td', {}, t.services.join(', ')), h('td', {}, t.tenants.join(', ')), h('td', {}, t.spanCount),
            h('td', { className: t.errorCount ? 'error' : '' }, t.errorCount), h('td', {}, fmtNum(t.durationMs, 2) + ' ms'))), 'No traces match.'));
      });
    },

    async trace(root) {
      const details = document.getElementById('span-details');
      const wanted = qs().get('span');
      let shown = false;
      const show = s => {
        details.hidden = false;
        replace(details.querySelector('table'), [['span', s.spanId], ['resource', s.service], ['name', s.name], ['kind', s.kind], ['status', s.status + (s.statusMessage ? ': ' + s.statusMessage : '')],
          ...Object.entries(s.attributes)].map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v))));
      };
      poll(async () => {
        const t = await getJson('/api/traces/' + encodeURIComponent(root.dataset.trace));
        if (!t) return;
        const total = Math.max(t.durationMs, 0.001);
        replace(root, h('p', { className: 'muted' }, `${t.spans.length} spans across ${t.services.join(', ')} · ${fmtNum(t.durationMs, 2)} ms` + (t.tenants.length ? ' · tenant ' + t.tenants.join(', ') : '')),
          h('div', { className: 'waterfall' }, t.spans.map(s => h('div', { className: 'span-row' + (s.status === 'error' ? ' error' : '') + (s.spanId === wanted ? ' selected' : ''), 'data-span': s.spanId, onclick: () => show(s) },
            h('div', { className: 'span-label', style: `padding-left:${s.depth * 14}px` }, h('span', { className: 'svc', style: `background:${color(s.service)}` }, s.service), ' ', s.name),
            h('div', { className: 'span-track' }, h('div', { className: 'span-bar', style: `left:${s.offsetMs / total * 100}%;width:${Math.max(s.durationMs / total * 100, 0.3)}%;background:${s.status === 'error' ? '#dc2626' : color(s.service)}`, title: fmtNum(s.durationMs, 3) + ' ms' })),
            h('div', { className: 'span-ms' }, fmtNum(s.durationMs, 2) + ' ms')))));
        if (!shown && wanted) { const s = t.spans.find(x => x.spanId === wanted); if (s) { show(s); shown = true; } }
      });
    },

    async metrics(root) {
      const select = document.getElementById('metric-names');
      const names = await getJson('/api/metrics');
      const wanted = select.dataset.selected;
      replace(select, (names.includes(wanted) ? names : [wanted, ...names]).map(n => h('option', { value: n, selected: n === wanted }, n)));
      const groupBy = qs().get('groupBy') || 'tenant.id';
      poll(async () => {
        const chart = await getJson(`/api/metrics/chart?name=${encodeURIComponent(wanted)}&groupBy=${encodeURIComponent(groupBy)}&minutes=10&bucket=10`);
        if (!chart) return;
        document.getElementById('metric-caption').textContent = `${chart.name} (${chart.measure}${chart.unit ? ', ' + chart.unit : ''}) by ${groupBy}`;
        drawChart(document.getElementById('chart-metric'), chart);
      });
    },
  };

  function queueTable(queues) {
    return table(['Queue', 'Waiting', 'Active', 'Delayed', 'Failed (kept)', 'Enqueued', 'Completed', 'Failed', 'Throughput /min', 'Failure rate', 'Mean wait (s)'],
      queues.map(q => h('tr', { 'data-queue': q.queue }, h('td', {}, q.queue), h('td', {}, fmtNum(q.waiting, 0)), h('td', {}, fmtNum(q.active, 0)),
        h('td', {}, fmtNum(q.delayed, 0)), h('td', { className: q.failedKept ? 'error' : '' }, fmtNum(q.failedKept, 0)), h('td', {}, fmtNum(q.enqueued, 0)),
        h('td', {}, fmtNum(q.completed, 0)), h('td', { className: q.failed ? 'error' : '' }, fmtNum(q.failed, 0)), h('td', {}, fmtNum(q.throughputPerMinute, 2)),
        h('td', {}, fmtPct(q.failureRate)), h('td', {}, fmtNum(q.meanWaitSeconds, 3)))), 'No queue activity in this window.');
  }

  document.addEventListener('DOMContentLoaded', () => {
    poll(stats);
    const root = document.querySelector('[data-page]');
    if (root && pages[root.dataset.page]) pages[root.dataset.page](root);
  });
})();
