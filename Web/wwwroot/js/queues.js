import { refreshEvery } from './site.js';

// Admin > Job Queues: the hold, the counts and the running jobs' progress, as the server renders them, every second.
refreshEvery(document.getElementById('live'), 1000);
