import { antiforgeryHeaders, refreshEvery } from './site.js';

const form = document.getElementById('upload');
const status = document.getElementById('upload-status');
const refresh = refreshEvery(document.getElementById('import-list'), 1000);

form.addEventListener('submit', async (e) => {
    e.preventDefault();
    // The API streams the multipart body into the database; projectId must come before the file.
    const data = new FormData();
    const project = document.getElementById('upload-project').value;
    if (project) { data.append('projectId', project); }
    data.append('file', document.getElementById('upload-file').files[0]);
    status.textContent = 'Uploading…';
    const response = await fetch('/api/imports', { method: 'POST', body: data, headers: antiforgeryHeaders() });
    if (response.ok) {
        const created = await response.json();
        status.textContent = `Uploaded ${created.fileName} (${created.sizeBytes} bytes); import #${created.id} is queued.`;
        form.reset();
        refresh();
    } else {
        let problem = `Upload failed (${response.status}).`;
        try { const p = await response.json(); problem = Object.values(p.errors ?? {}).flat().join(' ') || p.detail || p.title || problem; } catch { }
        status.textContent = problem;
    }
});
