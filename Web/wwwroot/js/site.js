// Shared by the site's scripts. Everything they show comes from the server: either HTML the server rendered
// (Razor encodes every value for where it is written) or text set with textContent, never markup built here.
// The header that proves a state-changing request comes from this site's own pages (the layout renders the token).
export function antiforgeryHeaders() {
    const meta = document.querySelector('meta[name="antiforgery-token"]');
    return meta ? { [meta.dataset.header]: meta.content } : {};
}

// Replaces the contents of `region` with the HTML its data-refresh address renders now, when that changed.
// Failures are ignored: the next refresh tries again.
export function refreshEvery(region, milliseconds) {
    let last = null;
    async function refresh() {
        try {
            const response = await fetch(region.dataset.refresh, { headers: { 'Accept': 'text/html' } });
            if (!response.ok) { return; }
            const html = await response.text();
            if (html !== last) {
                last = html;
                region.innerHTML = html;
            }
        } catch { /* the next refresh tries again */ }
    }
    setInterval(refresh, milliseconds);
    return refresh;
}
