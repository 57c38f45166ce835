/** The kubernetes backend's command-line options, now in kube/options.ts (this path stays for the CLI's imports). */
export * from './kube/options.js';
